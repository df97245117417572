/**
 * One fuzz input through one target, classified: `parsed` (returned), `refused` (one of the
 * project's errors, with a message) or a finding (any other exception, a ServerFault, a project
 * error without a message, a time-out). Findings are saved under test/fuzz/regressions/<target>/.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { NetanomalyError } from '../../src/errors.ts';
import type { FuzzContext, FuzzTarget } from './targets.ts';

export const REGRESSIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'regressions');

export type Outcome =
  | { kind: 'parsed' }
  | { kind: 'refused'; error: string }
  | { kind: 'finding'; error: string };

/**
 * Runs one input with a time limit. Past `limitMs` the input gets a second, longer chance
 * (`hardLimitMs`): on a shared machine a niced run can wait seconds for the CPU, and an input
 * that then ends normally was slow to be scheduled, not a hang (it is counted as `slow`).
 * Synchronous hangs never return here: the runner's watchdog stops them.
 */
export async function runOne(
  t: FuzzTarget,
  ctx: FuzzContext,
  input: Uint8Array,
  limitMs: number,
  hardLimitMs = Math.max(60_000, limitMs * 12),
): Promise<Outcome & { slow?: boolean }> {
  const run = t.run(input, ctx).then(
    () => ({ kind: 'parsed' }) as Outcome,
    (err: unknown) => classify(err),
  );
  const within = (ms: number) => {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      run.finally(() => clearTimeout(timer)),
      new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), ms);
      }),
    ]);
  };
  const first = await within(limitMs);
  if (first) return first;
  const second = await within(hardLimitMs - limitMs);
  if (second) return { ...second, slow: true };
  return { kind: 'finding', error: `TimeOut: no answer within ${hardLimitMs} ms` };
}

export function classify(err: unknown): Outcome {
  if (err instanceof NetanomalyError && err.message.trim() !== '' && !err.message.includes('\n    at ')) {
    return { kind: 'refused', error: `${err.name}: ${err.message.split('\n')[0]}` };
  }
  const e = err as Error;
  const first = (e?.stack ?? String(err)).split('\n').slice(0, 4).join(' | ');
  return { kind: 'finding', error: `${e?.name ?? typeof err}: ${first}` };
}

/**
 * Saves a finding's input as test/fuzz/regressions/<target>/<sha-12>.bin (gzip'd as .bin.gz past
 * 16 KiB) beside <sha-12>.txt with the error (under `root`: another directory for the harness's own tests).
 */
export async function saveFinding(
  target: string,
  input: Uint8Array,
  error: string,
  root = REGRESSIONS_DIR,
): Promise<string> {
  const id = createHash('sha256').update(input).digest('hex').slice(0, 12);
  const dir = join(root, target);
  await mkdir(dir, { recursive: true });
  const big = input.length > 16 * 1024;
  const path = join(dir, big ? `${id}.bin.gz` : `${id}.bin`);
  await writeFile(path, big ? gzipSync(input, { level: 9 }) : input);
  await writeFile(join(dir, `${id}.txt`), `${error}\n`);
  return path;
}

/** The saved findings: target name, file, input bytes, and the reason it is still open (a .todo file). */
export interface SavedFinding {
  target: string;
  /** <target>/<name> inside REGRESSIONS_DIR. */
  file: string;
  input: Uint8Array;
  /** Why it is still open (the .todo beside it), or null. */
  todo: string | null;
  /** It aborts the whole process (an <id>.isolate beside it): replay it in a child process. */
  isolate: boolean;
}

/** The saved findings of every target. */
export async function savedFindings(): Promise<SavedFinding[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const out: SavedFinding[] = [];
  let targets: string[] = [];
  try {
    targets = (await readdir(REGRESSIONS_DIR)).sort();
  } catch {
    return out;
  }
  for (const t of targets) {
    const names = (await readdir(join(REGRESSIONS_DIR, t))).sort();
    for (const name of names.filter((n) => n.endsWith('.bin') || n.endsWith('.bin.gz'))) {
      const raw = await readFile(join(REGRESSIONS_DIR, t, name));
      const id = name.replace(/\.bin(\.gz)?$/, '');
      const todo = names.includes(`${id}.todo`)
        ? (await readFile(join(REGRESSIONS_DIR, t, `${id}.todo`), 'utf8')).trim()
        : null;
      out.push({
        target: t,
        file: `${t}/${name}`,
        input: name.endsWith('.gz') ? gunzipSync(raw) : raw,
        todo,
        isolate: names.includes(`${id}.isolate`),
      });
    }
  }
  return out;
}
