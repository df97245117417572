/** What the fuzz runner and its child processes share: the job description and the progress message. */
export interface ChildJob {
  target: string;
  /** Index of the first input (inputs before it were tried by an earlier child). */
  start: number;
  count: number;
  seed: number;
  limitMs: number;
  deadline: number;
  /** The child writes each input here before running it: what a crash or hang leaves behind. */
  currentPath: string;
}

export interface Counts {
  tried: number;
  parsed: number;
  refused: number;
  findings: number;
  slow: number;
}

export type ChildMessage =
  | { type: 'progress'; counts: Counts; busySince: number | null }
  | { type: 'finding'; error: string; path: string | null }
  | { type: 'heap'; heap: number }
  | { type: 'fatal'; error: string }
  | { type: 'done'; counts: Counts };

export const BATCH = 100;
