/**
 * ONNX Runtime engine: the nearest-centroid graph of onnx-graph.ts on onnxruntime-node's bundled
 * CPU library (multi-threaded GEMM). Rows go through in blocks so memory stays bounded.
 */
import { BackendUnavailableError } from '../errors.ts';
import type { Matrix } from '../ingest/table.ts';
import { type DistanceEngine, type Nearest, rowSlice } from './engine.ts';
import { nearestCentroidGraph } from './onnx-graph.ts';

type Ort = typeof import('onnxruntime-node');
type Session = import('onnxruntime-node').InferenceSession;

const BLOCK_CELLS = 1 << 23; // rows × centres per block: 32 MB of float32 distances

export async function createOnnxEngine(): Promise<DistanceEngine> {
  let ort: Ort;
  try {
    ort = await import('onnxruntime-node');
  } catch (err) {
    throw new BackendUnavailableError(`onnxruntime-node cannot be loaded: ${(err as Error).message}`);
  }
  const sessions = new Map<string, Promise<Session>>();
  const session = (d: number, full: boolean): Promise<Session> => {
    const key = `${d}:${full}`;
    let s = sessions.get(key);
    if (!s) {
      s = ort.InferenceSession.create(nearestCentroidGraph(d, full), { graphOptimizationLevel: 'all' });
      sessions.set(key, s);
    }
    return s;
  };

  async function run(
    X: Matrix,
    C: Matrix,
    full: boolean,
    each: (start: number, out: Record<string, unknown>) => void,
  ) {
    const s = await session(X.cols, full);
    const centers = new ort.Tensor('float32', C.data, [C.rows, C.cols]);
    const block = Math.max(1, Math.floor(BLOCK_CELLS / Math.max(1, C.rows)));
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
      await run(X, C, false, (start, out) => {
        const l = (out.labels as { data: BigInt64Array }).data;
        const m = (out.min_d2 as { data: Float32Array }).data;
        for (let i = 0; i < l.length; i++) labels[start + i] = Number(l[i]!);
        minDist2.set(m, start);
      });
      return { labels, minDist2 };
    },
    async distances(X: Matrix, C: Matrix): Promise<Float32Array> {
      const all = new Float32Array(X.rows * C.rows);
      await run(X, C, true, (start, out) => {
        all.set((out.d2 as { data: Float32Array }).data, start * C.rows);
      });
      return all;
    },
  };
}
