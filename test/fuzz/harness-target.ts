/**
 * A trivial fuzz target for the harness's own test (harness.test.ts): the runner and its worker
 * are exercised (batches, watchdog, careful re-runs, exact counts) without loading the parsers.
 * Loaded through NETANOMALY_FUZZ_TARGETS; never part of a real run.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../src/errors.ts';
import type { FuzzTarget } from './targets.ts';

export const scratchDir = (name: string): Promise<string> =>
  mkdtemp(join(process.env.NETANOMALY_FUZZ_SCRATCH ?? tmpdir(), `netanomaly-fuzz-${name}-`));

export const TARGETS: FuzzTarget[] = [
  {
    name: 'echo',
    calls: 'the input length (odd lengths refused with an InputError)',
    async seeds() {
      return [new Uint8Array([1, 2, 3, 4]), new TextEncoder().encode('a,b\n1,2\n')];
    },
    input: { text: true },
    async run(input) {
      if (input.length % 2 === 1) throw new InputError(`odd length ${input.length}`);
      return input.length;
    },
  },
];

export function target(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target '${name}'`);
  return t;
}

export const dataDir = (): string => '';
