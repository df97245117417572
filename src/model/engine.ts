/**
 * Distance engines: the batched step of K-Means (every row against every centre) behind one
 * interface, so the same algorithm runs on ONNX Runtime (fastest here), tfjs (the user's tensor
 * stack: tfjs-node when installed, else the wasm backend) or plain JavaScript (reference).
 */
import { BackendUnavailableError, optionError } from '../errors.ts';
import type { EncodedMatrix } from '../features/encoded.ts';
import type { Matrix } from '../ingest/table.ts';

export interface Nearest {
  /** Index of the nearest centre of each row. */
  labels: Int32Array;
  /** Squared Euclidean distance from each row to that centre (float32 arithmetic, clamped ≥ 0). */
  minDist2: Float32Array;
}

/** Nearest centres of encoded rows, with the exact distance. */
export interface NearestEncoded extends Nearest {
  /** Squared distance to the nearest centre in float64 (exact, as KMeans.nearest's dist2); minDist2 is it rounded. */
  dist2: Float64Array;
}

export interface DistanceEngine {
  readonly name: EngineName;
  /** For every row of X, its nearest centre and the squared distance to it. */
  nearest(X: Matrix, centers: Matrix): Promise<Nearest>;
  /** All squared distances, rows × centres, row-major: meant for few centres (seeding, transform). */
  distances(X: Matrix, centers: Matrix): Promise<Float32Array>;
  /**
   * For encoded rows (features/encoded.ts) and each centre matrix (dense, in the layout's
   * columns; e.g. the runs of an ensemble): the nearest centre of every row and the squared
   * distance to it (float64). Engines without it get the dense path (expandEncoded).
   */
  nearestEncoded?(E: EncodedMatrix, centers: readonly Matrix[]): Promise<NearestEncoded[]>;
}

const rowNormCache = new WeakMap<Float32Array, Float64Array>();

/** ‖x‖² of every row (float64), computed once per matrix and cached. */
export function rowSquaredNorms(X: Matrix): Float64Array {
  let norms = rowNormCache.get(X.data);
  if (!norms) {
    norms = new Float64Array(X.rows);
    const d = X.cols;
    for (let i = 0; i < X.rows; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) {
        const v = X.data[i * d + j]!;
        s += v * v;
      }
      norms[i] = s;
    }
    rowNormCache.set(X.data, norms);
  }
  return norms;
}

/** Per-centre sums and counts of rows by label, in float64 (the portable Lloyd update). */
export function sumByLabel(
  X: Matrix,
  labels: Int32Array,
  k: number,
): { sums: Float64Array; counts: Float64Array } {
  const d = X.cols;
  const sums = new Float64Array(k * d);
  const counts = new Float64Array(k);
  for (let i = 0; i < X.rows; i++) {
    const c = labels[i]!;
    counts[c]! += 1;
    const o = c * d;
    const xo = i * d;
    for (let j = 0; j < d; j++) sums[o + j]! += X.data[xo + j]!;
  }
  return { sums, counts };
}

export type EngineName = 'onnx' | 'tfjs' | 'js';
export const ENGINE_NAMES: readonly EngineName[] = ['onnx', 'tfjs', 'js'];

const cache = new Map<EngineName, Promise<DistanceEngine>>();

/**
 * The named engine, or with 'auto' the fastest that loads here: onnx, then tfjs, then js.
 * Engines are created once per process and shared.
 */
export async function getEngine(name: EngineName | 'auto' = 'auto'): Promise<DistanceEngine> {
  if (name === 'auto') {
    for (const candidate of ENGINE_NAMES) {
      try {
        return await getEngine(candidate);
      } catch (err) {
        if (!(err instanceof BackendUnavailableError)) throw err;
      }
    }
    throw new BackendUnavailableError('no distance engine could be loaded');
  }
  if (!ENGINE_NAMES.includes(name))
    throw optionError('getEngine', 'engine', `one of ${ENGINE_NAMES.join(', ')}, or auto`, name);
  let engine = cache.get(name);
  if (!engine) {
    engine = load(name);
    cache.set(name, engine);
    engine.catch(() => cache.delete(name));
  }
  return engine;
}

async function load(name: EngineName): Promise<DistanceEngine> {
  switch (name) {
    case 'onnx':
      return (await import('./engine-onnx.ts')).createOnnxEngine();
    case 'tfjs':
      return (await import('./engine-tfjs.ts')).createTfjsEngine();
    case 'js':
      return (await import('./engine-js.ts')).createJsEngine();
  }
}

/** Rows [start, end) of a matrix, as a view (no copy). */
export function rowSlice(X: Matrix, start: number, end: number): Matrix {
  return { data: X.data.subarray(start * X.cols, end * X.cols), rows: end - start, cols: X.cols };
}
