/** What the fuzz runner and its workers share: the worker's data and the shared-memory layout. */
export interface WorkerData {
  entry: string;
  target: string;
  /** Index of the first input (inputs before it were tried by an earlier worker). */
  start: number;
  count: number;
  seed: number;
  limitMs: number;
  deadline: number;
  shared: SharedArrayBuffer;
}

/** Layout of the shared Int32Array. */
export const SLOT = { tried: 0, parsed: 1, refused: 2, findings: 3, inputLen: 4, busy: 5, slow: 6 } as const;
export const HEADER_BYTES = 64;
export const BATCH = 100;
