/**
 * ONNX Runtime engine: the nearest-centroid graph of onnx-graph.ts (one Gemm per block of rows)
 * on onnxruntime-node's bundled CPU library, with every core. ‖x‖² is added back in float64.
 * Rows go through in blocks so memory stays bounded.
 */
import { availableParallelism } from 'node:os';
import { BackendUnavailableError } from '../errors.ts';
import type { Matrix } from '../ingest/table.ts';
import { type DistanceEngine, type Nearest, rowSlice, rowSquaredNorms } from './engine.ts';
import { nearestCentroidGraph } from './onnx-graph.ts';

type Ort = typeof import('onnxruntime-node');
type Session = import('onnxruntime-node').InferenceSession;

const BLOCK_ROWS = 1 << 16;
const BLOCK_CELLS = 1 << 23; // rows × centres per block: at most 32 MB of float32 distances

const centerCache = new WeakMap<Float32Array, Record<string, import('onnxruntime-node').Tensor>>();

export async function createOnnxEngine(): Promise<DistanceEngine> {
  let ort: Ort;
  try {
    ort = await import('onnxruntime-node');
  } catch (err) {
    throw new BackendUnavailableError(`onnxruntime-node cannot be loaded: ${(err as Error).message}`);
  }
  const sessions = new Map<string, Promise<Session>>();
  type Mode = 'nearest' | 'full';
  const session = (d: number, mode: Mode): Promise<Session> => {
    const key = `${d}:${mode}`;
    let s = sessions.get(key);
    if (!s) {
      s = ort.InferenceSession.create(nearestCentroidGraph(d, mode), {
        graphOptimizationLevel: 'all',
        intraOpNumThreads: availableParallelism(),
        logSeverityLevel: 3,
      });
      sessions.set(key, s);
    }
    return s;
  };

  /** −2·C and ‖c‖² as tensors, built once per centre matrix (fitted models reuse theirs). */
  function centerFeeds(C: Matrix): Record<string, import('onnxruntime-node').Tensor> {
    let feeds = centerCache.get(C.data);
    if (feeds) return feeds;
    const d = C.cols;
    const cm2 = new Float32Array(C.data.length);
    const c2 = new Float32Array(C.rows);
    for (let c = 0; c < C.rows; c++) {
      let n = 0;
      for (let j = 0; j < d; j++) {
        const v = C.data[c * d + j]!;
        cm2[c * d + j] = -2 * v;
        n += v * v;
      }
      c2[c] = n;
    }
    feeds = {
      C_m2: new ort.Tensor('float32', cm2, [C.rows, d]),
      c2: new ort.Tensor('float32', c2, [C.rows]),
    };
    centerCache.set(C.data, feeds);
    return feeds;
  }

  async function run(
    X: Matrix,
    C: Matrix,
    mode: Mode,
    each: (start: number, out: Record<string, unknown>) => void,
  ) {
    const s = await session(X.cols, mode);
    const feeds = centerFeeds(C);
    const block = Math.max(1, Math.min(BLOCK_ROWS, Math.floor(BLOCK_CELLS / Math.max(1, C.rows))));
    for (let start = 0; start < X.rows; start += block) {
      const part = rowSlice(X, start, Math.min(X.rows, start + block));
      const out = await s.run({ X: new ort.Tensor('float32', part.data, [part.rows, part.cols]), ...feeds });
      each(start, out);
    }
  }

  return {
    name: 'onnx',
    async nearest(X: Matrix, C: Matrix): Promise<Nearest> {
      const labels = new Int32Array(X.rows);
      const minDist2 = new Float32Array(X.rows);
      const x2 = rowSquaredNorms(X);
      await run(X, C, 'nearest', (start, out) => {
        labels.set((out.labels as { data: Int32Array }).data, start);
        const m = (out.s_min as { data: Float32Array }).data;
        for (let i = 0; i < m.length; i++) minDist2[start + i] = Math.max(0, x2[start + i]! + m[i]!);
      });
      return { labels, minDist2 };
    },
    async distances(X: Matrix, C: Matrix): Promise<Float32Array> {
      const k = C.rows;
      const all = new Float32Array(X.rows * k);
      const x2 = rowSquaredNorms(X);
      await run(X, C, 'full', (start, out) => {
        const s = (out.s as { data: Float32Array }).data;
        for (let i = 0; i < s.length; i++)
          all[start * k + i] = Math.max(0, x2[start + Math.floor(i / k)]! + s[i]!);
      });
      return all;
    },
  };
}
