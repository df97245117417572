/**
 * ONNX Runtime engine: the nearest-centroid graph of onnx-graph.ts (one Gemm per block of rows)
 * on onnxruntime-node's bundled CPU library, with every core. ‖x‖² is added back in float64.
 * Rows go through in blocks so memory stays bounded. Encoded rows (features/encoded.ts) take
 * the encoded graph: a Gemm over the numeric columns plus a lookup of the categorical part, for
 * every centre set (ensemble run) in one session.run per block; the float64 distance to the chosen
 * centre is then summed in JavaScript (encodedDist2).
 */
import { availableParallelism } from 'node:os';
import { BackendUnavailableError } from '../errors.ts';
import type { EncodedLayout, EncodedMatrix } from '../features/encoded.ts';
import type { Matrix } from '../ingest/table.ts';
import {
  type DistanceEngine,
  type Nearest,
  type NearestEncoded,
  rowSlice,
  rowSquaredNorms,
} from './engine.ts';
import {
  comboCount,
  comboIndex,
  comboTable,
  encodedCenters,
  encodedDist2Runs,
  nearestEncodedJs,
} from './engine-encoded.ts';
import { type CategoricalBias, nearestCentroidGraph, nearestEncodedGraph } from './onnx-graph.ts';

type Ort = typeof import('onnxruntime-node');
type Session = import('onnxruntime-node').InferenceSession;

const BLOCK_ROWS = 1 << 16;
const BLOCK_CELLS = 1 << 23; // rows × centres per block: at most 32 MB of float32 distances

const centerCache = new WeakMap<Float32Array, Record<string, import('onnxruntime-node').Tensor>>();

/** Encoded rows: rows × largest k per block (4096 rows for k = 256: the distance blocks stay in cache). */
const ENCODED_BLOCK_CELLS = 1 << 20;
/** Largest per-combination table (combinations × Σk floats, 16 MB) before per-field lookups are used. */
const COMBO_TABLE_MAX = 1 << 22;

type Tensor = import('onnxruntime-node').Tensor;

/** Centre tensors of the encoded graph, for one list of centre matrices and one layout. */
interface EncodedFeeds {
  centers: Float32Array[];
  layout: EncodedLayout;
  bias: CategoricalBias;
  feeds: Record<string, Tensor>;
}
const encodedCache = new WeakMap<Float32Array, EncodedFeeds[]>();

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

  /** −2·C_num and the categorical tables of every centre matrix, built once per list of centres. */
  function encodedFeeds(layout: EncodedLayout, centers: readonly Matrix[]): EncodedFeeds {
    const list = encodedCache.get(centers[0]!.data) ?? [];
    const hit = list.find(
      (e) =>
        e.layout === layout &&
        e.centers.length === centers.length &&
        e.centers.every((c, r) => c === centers[r]!.data),
    );
    if (hit) return hit;
    const dn = layout.numericColumns.length;
    const totalK = centers.reduce((a, C) => a + C.rows, 0);
    const combos = comboCount(layout);
    const bias: CategoricalBias =
      combos * totalK <= COMBO_TABLE_MAX
        ? { mode: 'combo' }
        : { mode: 'fields', fields: layout.categorical.length };
    const feeds: Record<string, Tensor> = {};
    centers.forEach((C, r) => {
      const P = encodedCenters(C, layout);
      const k = P.k;
      feeds[`C_m2_${r}`] = new ort.Tensor(
        'float32',
        P.numeric.map((v) => -2 * v),
        [k, dn],
      );
      if (bias.mode === 'combo') {
        feeds[`B_${r}`] = new ort.Tensor('float32', comboTable(P), [combos, k]);
      } else {
        const c2 = new Float32Array(k);
        for (let c = 0; c < k; c++) c2[c] = P.numericNorm[c]! + P.catBase[c]!;
        feeds[`c2_${r}`] = new ort.Tensor('float32', c2, [k]);
        layout.categorical.forEach((b, f) => {
          feeds[`B_${r}_${f}`] = new ort.Tensor('float32', Float32Array.from(P.catTerms[f]!), [b.width, k]);
        });
      }
    });
    const entry: EncodedFeeds = { centers: centers.map((C) => C.data), layout, bias, feeds };
    list.push(entry);
    encodedCache.set(centers[0]!.data, list);
    return entry;
  }

  return {
    name: 'onnx',
    async nearestEncoded(E: EncodedMatrix, centers: readonly Matrix[]): Promise<NearestEncoded[]> {
      const dn = E.layout.numericColumns.length;
      // Without numeric columns the distances are table lookups: no product to run.
      if (centers.length === 0 || dn === 0 || E.rows === 0) return nearestEncodedJs(E, centers);
      const { bias, feeds } = encodedFeeds(E.layout, centers);
      const ks = centers.map((C) => C.rows);
      const key = `encoded:${dn}:${ks.join(',')}:${bias.mode === 'combo' ? 'combo' : `fields${bias.fields}`}`;
      let s = sessions.get(key);
      if (!s) {
        s = ort.InferenceSession.create(nearestEncodedGraph(dn, ks, bias), {
          graphOptimizationLevel: 'all',
          // Worker threads sleep between kernels instead of spinning: on a shared machine spinning
          // took CPU from the other thread (measured: half the CPU and wall time of scoring 77 k
          // distinct KDD rows, docs/benchmarks.md).
          extra: { session: { intra_op: { allow_spinning: '0' } } },
          intraOpNumThreads: availableParallelism(),
          logSeverityLevel: 3,
        });
        sessions.set(key, s);
      }
      const session = await s;
      const nc = E.layout.categorical.length;
      let index: Int32Array[];
      if (bias.mode === 'combo') index = [comboIndex(E).index];
      else {
        index = E.layout.categorical.map((_, f) => {
          const col = new Int32Array(E.rows);
          for (let i = 0; i < E.rows; i++) col[i] = E.codes[i * nc + f]!;
          return col;
        });
      }
      const labels = centers.map(() => new Int32Array(E.rows));
      const block = Math.max(1, Math.min(BLOCK_ROWS, Math.floor(ENCODED_BLOCK_CELLS / Math.max(...ks))));
      for (let start = 0; start < E.rows; start += block) {
        const end = Math.min(E.rows, start + block);
        const n = end - start;
        const rowFeeds: Record<string, Tensor> = {
          ...feeds,
          X: new ort.Tensor('float32', E.numeric.subarray(start * dn, end * dn), [n, dn]),
        };
        const names = bias.mode === 'combo' ? ['combo'] : index.map((_, f) => `code_${f}`);
        index.forEach((col, f) => {
          rowFeeds[names[f]!] = new ort.Tensor('int32', col.subarray(start, end), [n]);
        });
        const res = await session.run(rowFeeds);
        for (let r = 0; r < centers.length; r++)
          labels[r]!.set((res[`labels_${r}`] as { data: Int32Array }).data, start);
      }
      const tables = centers.map((C) => encodedCenters(C, E.layout));
      return encodedDist2Runs(E, tables, labels).map((dist2, r) => ({
        labels: labels[r]!,
        dist2,
        minDist2: Float32Array.from(dist2),
      }));
    },
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
