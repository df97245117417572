/**
 * ONNX Runtime engine: the nearest-centroid graph of onnx-graph.ts on onnxruntime-node's bundled
 * CPU library (multi-threaded GEMM). Rows go through in blocks so memory stays bounded.
 */
import { BackendUnavailableError } from '../errors.ts';
import type { Matrix } from '../ingest/table.ts';
import { type DistanceEngine, type LloydStep, type Nearest, rowSlice } from './engine.ts';
import { nearestCentroidGraph } from './onnx-graph.ts';

type Ort = typeof import('onnxruntime-node');
type Session = import('onnxruntime-node').InferenceSession;

const BLOCK_CELLS = 1 << 23; // rows × centres per block: 32 MB of float32 distances
const MAX_BLOCK_ROWS = 1 << 16; // float32 sums over at most 65,536 rows per block, added up in float64

export async function createOnnxEngine(): Promise<DistanceEngine> {
  let ort: Ort;
  try {
    ort = await import('onnxruntime-node');
  } catch (err) {
    throw new BackendUnavailableError(`onnxruntime-node cannot be loaded: ${(err as Error).message}`);
  }
  const sessions = new Map<string, Promise<Session>>();
  type Mode = 'nearest' | 'full' | 'lloyd';
  const session = (d: number, mode: Mode): Promise<Session> => {
    const key = `${d}:${mode}`;
    let s = sessions.get(key);
    if (!s) {
      s = ort.InferenceSession.create(nearestCentroidGraph(d, mode), { graphOptimizationLevel: 'all', logSeverityLevel: 3 });
      sessions.set(key, s);
    }
    return s;
  };

  async function run(
    X: Matrix,
    C: Matrix,
    mode: Mode,
    each: (start: number, out: Record<string, unknown>) => void,
  ) {
    const s = await session(X.cols, mode);
    const centers = new ort.Tensor('float32', C.data, [C.rows, C.cols]);
    const cap = mode === 'lloyd' ? MAX_BLOCK_ROWS : Number.POSITIVE_INFINITY;
    const block = Math.max(1, Math.min(cap, Math.floor(BLOCK_CELLS / Math.max(1, C.rows))));
    for (let start = 0; start < X.rows; start += block) {
      const part = rowSlice(X, start, Math.min(X.rows, start + block));
      const out = await s.run({
        X: new ort.Tensor('float32', part.data, [part.rows, part.cols]),
        C: centers,
      });
      each(start, out);
    }
  }

  return {
    name: 'onnx',
    async nearest(X: Matrix, C: Matrix): Promise<Nearest> {
      const labels = new Int32Array(X.rows);
      const minDist2 = new Float32Array(X.rows);
      await run(X, C, 'nearest', (start, out) => {
        labels.set((out.labels as { data: Int32Array }).data, start);
        minDist2.set((out.min_d2 as { data: Float32Array }).data, start);
      });
      return { labels, minDist2 };
    },
    async lloydStep(X: Matrix, C: Matrix): Promise<LloydStep> {
      const labels = new Int32Array(X.rows);
      const minDist2 = new Float32Array(X.rows);
      const sums = new Float64Array(C.rows * C.cols);
      const counts = new Float64Array(C.rows);
      await run(X, C, 'lloyd', (start, out) => {
        labels.set((out.labels as { data: Int32Array }).data, start);
        minDist2.set((out.min_d2 as { data: Float32Array }).data, start);
        const s = (out.sums as { data: Float32Array }).data;
        for (let i = 0; i < s.length; i++) sums[i]! += s[i]!;
        const c = (out.counts as { data: Float32Array }).data;
        for (let i = 0; i < c.length; i++) counts[i]! += c[i]!;
      });
      return { labels, minDist2, sums, counts };
    },
    async distances(X: Matrix, C: Matrix): Promise<Float32Array> {
      const all = new Float32Array(X.rows * C.rows);
      await run(X, C, 'full', (start, out) => {
        all.set((out.d2 as { data: Float32Array }).data, start * C.rows);
      });
      return all;
    },
  };
}
