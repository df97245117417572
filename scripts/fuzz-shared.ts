/** What the fuzz runner and its child processes share: the job description and the messages. */
import type { FuzzTarget } from '../test/fuzz/targets.ts';

/** The targets module's shape (test/fuzz/targets.ts). */
export interface TargetsModule {
  TARGETS: FuzzTarget[];
  target(name: string): FuzzTarget;
  dataDir(): string;
  scratchDir(name: string): Promise<string>;
}

/**
 * The module holding the targets: test/fuzz/targets.ts, or NETANOMALY_FUZZ_TARGETS (the
 * harness's own test swaps in a trivial target to exercise hangs and deaths cheaply).
 */
export function targetsModule(): string {
  return process.env.NETANOMALY_FUZZ_TARGETS ?? new URL('../test/fuzz/targets.ts', import.meta.url).href;
}
export interface ChildJob {
  target: string;
  /** Index of the first input (inputs before it were tried by an earlier child). */
  start: number;
  /** Index past the last input of this child (the run's count, or the end of a careful re-run). */
  end: number;
  seed: number;
  /** Past this an input is counted as slow; past hardLimitMs it is a finding (time-out). */
  limitMs: number;
  hardLimitMs: number;
  deadline: number;
  /**
   * Careful mode (the re-run of a batch in which a child hung or died): each input is written to
   * `currentPath` before it runs and reported after it, so the parent can name the culprit.
   * Fast mode: only the start of each batch is marked there and counts go out once per batch.
   */
  careful: boolean;
  currentPath: string;
  /** Where findings are saved (test/fuzz/regressions by default). */
  findingsDir: string;
}

export interface Counts {
  /** Index of the next input: every input before it was tried and is counted below. */
  tried: number;
  parsed: number;
  refused: number;
  findings: number;
  slow: number;
}

export type ChildMessage =
  | { type: 'progress'; counts: Counts }
  | { type: 'finding'; error: string; path: string | null }
  | { type: 'heap'; heap: number }
  | { type: 'fatal'; error: string }
  /** An asynchronous input still pending past the hard limit (the event loop free): saved, then exit. */
  | { type: 'stall'; counts: Counts; path: string }
  | { type: 'done'; counts: Counts };

/** Inputs per fast-check sample (one fast-check seed, see batchSeed): the unit of generation and of re-runs. */
export const BATCH = 100;

/** Batches a run seed owns: runs with different --seed draw disjoint inputs up to 2^20 batches (104 M inputs). */
export const BATCHES_PER_SEED = 2 ** 20;
/** Run seeds: their fast-check seeds stay below 2^31. */
export const MAX_RUN_SEED = 2047;

/**
 * The fast-check seed of batch `batch` of a run with seed `runSeed`. Before, it was runSeed + batch:
 * runs with seeds 46 and 47 drew the same inputs shifted by one batch, and their counts could not
 * be added. Those earlier runs used fast-check seeds below 2^20, which no run seed >= 1 meets now.
 */
export function batchSeed(runSeed: number, batch: number): number {
  return runSeed * BATCHES_PER_SEED + batch;
}

/** The value after `--name` on the command line, or `dflt`. */
export function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
}

/** What is wrong with a run's --seed and --count, in one line, or null. */
export function runArgsError(seed: number, count: number): string | null {
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_RUN_SEED)
    return `--seed must be an integer from 0 to ${MAX_RUN_SEED}, not ${seed}`;
  if (!Number.isInteger(count) || count < 1 || count > BATCH * BATCHES_PER_SEED)
    return `--count must be an integer from 1 to ${BATCH * BATCHES_PER_SEED} (the inputs one seed owns), not ${count}`;
  return null;
}

/**
 * The watchdog file: [index f64][length u32][input]. Careful mode writes each input with its
 * index; fast mode writes only [first index of the batch][BATCH_MARK].
 */
export const BATCH_MARK = 0xffffffff;
