/** Validation at the public edges: zod schemas, errors in scikit-learn's words. */
import type { z } from 'zod';
import { optionError } from './errors.ts';

type Issue = z.core.$ZodIssue;

/** The constraint an issue broke, as a phrase: "a number >= 1", "one of 'auto', 'onnx'". */
function constraint(issue: Issue): string {
  switch (issue.code) {
    case 'too_small':
      return `a ${issue.origin} ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}`;
    case 'too_big':
      return `a ${issue.origin} ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}`;
    case 'invalid_type':
      return `of type ${issue.expected}`;
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `free of unknown keys (${issue.keys.join(', ')})`;
    default:
      return issue.message.toLowerCase();
  }
}

/**
 * Parses an options object with its schema; the first problem becomes an OptionError:
 * "The 'k' option of KMeans must be a number >= 1. Got 0 instead."
 */
export function parseOptions<S extends z.ZodType>(schema: S, owner: string, options: unknown): z.output<S> {
  const parsed = schema.safeParse(options);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const key = issue.path.length > 0 ? issue.path.join('.') : 'options';
  let got: unknown = options;
  for (const p of issue.path) got = (got as Record<PropertyKey, unknown> | undefined)?.[p as PropertyKey];
  throw optionError(owner, key, constraint(issue), got);
}
