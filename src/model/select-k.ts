/**
 * Choosing k: an elbow sweep of K-Means over a range of k with the knee found automatically
 * (Kneedle), plus silhouette (sampled), Calinski-Harabasz and Davies-Bouldin per k, and a
 * recommendation with its reasons. The fast mode fits on a seeded subsample (inertia rescaled to
 * the full row count); the exhaustive mode fits every k on all rows.
 *
 * The silhouette sample is the same rows for every k (same seed), so its pairwise distances are
 * computed once per sweep and each k only regroups them (cluster-quality.ts silhouettePairs).
 */
import { z } from 'zod';
import { InputError, optionError } from '../errors.ts';
import { type EncodedLayout, type EncodedMatrix, encodeDense } from '../features/encoded.ts';
import type { Matrix } from '../ingest/table.ts';
import { parseOptions } from '../validation.ts';
import {
  calinskiHarabasz,
  clusterIndicesEncoded,
  daviesBouldin,
  silhouetteDistinctPairs,
  silhouetteFromDistinctPairs,
  silhouetteFromPairs,
  silhouettePairs,
} from './cluster-quality.ts';
import { type DistanceEngine, type EngineName, getEngine } from './engine.ts';
import { KMeans, KMeansOptionsSchema, takeRows } from './kmeans.ts';
import { lloydBounded } from './kmeans-bounded.ts';
import {
  type EncodedEngine,
  type EncodedFit,
  expandLabels,
  initialCentersEncoded,
  kmeansPlusPlusTrials,
  lloydEncoded,
  meanVarianceEncoded,
  type WeightedRows,
  weightedRows,
} from './kmeans-encoded.ts';
import { findKnee, kneeRegion } from './knee.ts';
import { BoundedFitPool, defaultFitThreads } from './lloyd-pool.ts';
import { Rng } from './random.ts';

export const ElbowOptionsSchema = z.object({
  kMin: z.number().int().min(1).default(2),
  kMax: z.number().int().min(2).default(40),
  mode: z.enum(['fast', 'exhaustive']).default('fast'),
  /** Fast mode: rows fitted per k. */
  sampleSize: z.number().int().min(100).default(50000),
  silhouetteSample: z.number().int().min(10).default(3000),
  seed: z.number().int().default(0),
  nInit: z.number().int().min(1).default(1),
  engine: z.enum(['auto', 'onnx', 'tfjs', 'js']).default('auto'),
  /**
   * The preprocessing layout of X (`Preprocessor.encodedLayout()`): K-Means then fits the
   * encoded rows (numeric columns + category codes, distinct rows weighted: kmeans-encoded.ts),
   * the same fits for less work. Rows that are not one-hot as the layout says fit dense.
   */
  layout: z
    .custom<EncodedLayout>((v) => typeof v === 'object' && v !== null && 'numericColumns' in v)
    .optional(),
  /**
   * Fast mode with a layout: threads for the K-Means fits (lloyd-pool.ts), the same fits as on
   * one thread. Default: one per core, at most one per fit.
   */
  threads: z.number().int().min(1).max(256).optional(),
});
export type ElbowOptions = z.input<typeof ElbowOptionsSchema>;

export interface ElbowRow {
  k: number;
  /** Sum of squared distances to the nearest centre, for all rows (rescaled in fast mode). */
  inertia: number;
  silhouette: number;
  calinskiHarabasz: number;
  daviesBouldin: number;
  seconds: number;
}

export interface ElbowResult {
  mode: 'fast' | 'exhaustive';
  rows: ElbowRow[];
  /** k at the knee of inertia(k), or null when the curve has none. */
  knee: number | null;
  recommended: number;
  rationale: string;
  rowsUsed: number;
}

export async function elbowSweep(
  X: Matrix,
  options: ElbowOptions = {},
  onProgress?: (done: number, total: number, k: number) => void,
): Promise<ElbowResult> {
  const o = parseOptions(ElbowOptionsSchema, 'elbowSweep', options);
  if (o.kMax <= o.kMin) throw optionError('elbowSweep', 'kMax', `greater than kMin=${o.kMin}`, o.kMax);
  if (X.rows < o.kMax)
    throw new InputError(`elbow sweep up to k=${o.kMax} needs at least ${o.kMax} rows, got ${X.rows}`);
  const rng = new Rng(o.seed);
  const data = o.mode === 'fast' && X.rows > o.sampleSize ? takeRows(X, rng.sample(X.rows, o.sampleSize)) : X;
  const scaleUp = X.rows / data.rows;
  const ks = Array.from({ length: o.kMax - o.kMin + 1 }, (_, i) => o.kMin + i);
  const encoded = o.layout ? encodeDense(data, o.layout) : null;
  const engine = await getEngine(o.engine as EngineName | 'auto');
  const sweep: Sweep =
    encoded && engine.nearestEncoded
      ? encodedSweep(encoded, ks, o, engine as EncodedEngine)
      : {
          fit: async (k: number) => {
            const km = await new KMeans({ k, seed: o.seed, nInit: o.nInit, engine: o.engine }).fit(data);
            return { labels: km.labels, inertia: km.inertia };
          },
          close: async () => {},
        };
  try {
    return await sweepRows(data, ks, sweep, o, scaleUp, onProgress);
  } finally {
    await sweep.close();
  }
}

/** The rows of a sweep: each k's fit and its quality indices. */
async function sweepRows(
  data: Matrix,
  ks: readonly number[],
  sweep: Sweep,
  o: z.output<typeof ElbowOptionsSchema>,
  scaleUp: number,
  onProgress?: (done: number, total: number, k: number) => void,
): Promise<ElbowResult> {
  const rows: ElbowRow[] = [];
  // The fast mode's metrics on the distinct rows (equal to the dense ones up to rounding); the
  // exhaustive mode keeps the dense functions, so its results are unchanged.
  const distinctMetrics = o.mode === 'fast';
  let pairs: ReturnType<typeof silhouettePairs> | null = null;
  let distinctPairs: ReturnType<typeof silhouetteDistinctPairs> | null = null;
  const silhouetteSampleOptions = { sampleSize: Math.min(o.silhouetteSample, data.rows), seed: o.seed };
  for (const [i, k] of ks.entries()) {
    const t0 = performance.now();
    const km = await sweep.fit(k);
    const labels = km.labels;
    const row: ElbowRow = {
      k,
      inertia: km.inertia * scaleUp,
      silhouette: Number.NaN,
      calinskiHarabasz: Number.NaN,
      daviesBouldin: Number.NaN,
      seconds: 0,
    };
    if (k > 1) {
      if (distinctMetrics) {
        distinctPairs ??= silhouetteDistinctPairs(data, silhouetteSampleOptions);
        row.silhouette = silhouetteFromDistinctPairs(distinctPairs, labels);
      } else {
        pairs ??= silhouettePairs(data, silhouetteSampleOptions);
        row.silhouette = silhouetteFromPairs(pairs, labels);
      }
      if (distinctMetrics && km.distinct) {
        const q = clusterIndicesEncoded(km.distinct.W.U, km.distinct.W.weight, km.distinct.labels);
        row.calinskiHarabasz = q.calinskiHarabasz;
        row.daviesBouldin = q.daviesBouldin;
      } else {
        row.calinskiHarabasz = calinskiHarabasz(data, labels);
        row.daviesBouldin = daviesBouldin(data, labels);
      }
    }
    row.seconds = (performance.now() - t0) / 1000;
    rows.push(row);
    onProgress?.(i + 1, ks.length, k);
  }
  const { knee, recommended, rationale } = recommend(rows);
  return { mode: o.mode, rows, knee, recommended, rationale, rowsUsed: data.rows };
}

/**
 * The K-Means fits of a sweep on encoded rows, the same fits as `new KMeans({ k, seed, nInit,
 * engine }).fit(E)` for every k, for less work:
 *   - the distinct rows, their weights and the tolerance are computed once, not once per k;
 *   - k-means++ with a given rng and trial count picks its first j centres whatever k is, and
 *     every k draws its runs' rngs from the same seed: each trial count's largest k is seeded
 *     once per run and the other k take the first k of those centres (bit-identical starts);
 *   - the fast mode runs Lloyd with Elkan's bounds in float64 JavaScript (kmeans-bounded.ts):
 *     its sample is small enough that per-call engine costs dominate; the exhaustive mode keeps
 *     the engine's Lloyd (lloydEncoded), so its results are unchanged.
 */
function encodedSweep(
  E: EncodedMatrix,
  ks: readonly number[],
  o: z.output<typeof ElbowOptionsSchema>,
  engine: EncodedEngine,
): Sweep {
  const defaults = KMeansOptionsSchema.parse({ k: 1 });
  const W = weightedRows(E);
  const tolAbs = defaults.tol * meanVarianceEncoded(W);
  const seeds = new Rng(o.seed);
  const runSeeds = Array.from({ length: o.nInit }, () => seeds.int(2 ** 31));
  const largest = new Map<number, number>();
  for (const k of ks) {
    const t = kmeansPlusPlusTrials(k);
    largest.set(t, Math.max(k, largest.get(t) ?? 0));
  }
  const seeded = new Map<string, Promise<Matrix>>();
  const start = (k: number, run: number): Promise<Matrix> => {
    const t = kmeansPlusPlusTrials(k);
    const key = `${t}:${run}`;
    let s = seeded.get(key);
    if (!s) {
      s = initialCentersEncoded(
        W,
        largest.get(t)!,
        'k-means++',
        engine as DistanceEngine,
        new Rng(runSeeds[run]!),
        t,
      );
      seeded.set(key, s);
    }
    return s;
  };
  const initOf = async (k: number, run: number): Promise<Matrix> => {
    const all = await start(k, run);
    return { data: all.data.slice(0, k * all.cols), rows: k, cols: all.cols };
  };
  const tooFew = ks.find((k) => W.U.rows < k);
  const threads = o.mode === 'fast' ? (o.threads ?? defaultFitThreads(ks.length * o.nInit)) : 1;
  // Fast mode on several threads: every (k, run) fit is queued at once, in sweep order, and each
  // k waits for its own runs (the best run is chosen in run order, as on one thread).
  const pool = threads > 1 && tooFew === undefined ? new BoundedFitPool(W, threads) : null;
  const pooled = new Map<number, Promise<EncodedFit>[]>();
  if (pool) {
    for (const k of ks) {
      const runs = Array.from({ length: o.nInit }, (_, run) =>
        initOf(k, run).then((init) => pool.fit(init, defaults.maxIter, tolAbs)),
      );
      for (const r of runs) r.catch(() => {}); // awaited by fit(k); a sweep that stops early drops them
      pooled.set(k, runs);
    }
  }
  const fit = async (k: number): Promise<SweepFit> => {
    if (W.U.rows < k) throw new InputError(`need at least k=${k} distinct rows to fit, found ${W.U.rows}`);
    let best: EncodedFit | null = null;
    for (let run = 0; run < o.nInit; run++) {
      const fitted = pool
        ? await pooled.get(k)![run]!
        : o.mode === 'fast'
          ? lloydBounded(W, await initOf(k, run), defaults.maxIter, tolAbs)
          : await lloydEncoded(W, await initOf(k, run), engine, defaults.maxIter, tolAbs);
      if (!best || fitted.inertia < best.inertia) best = fitted;
    }
    return {
      labels: expandLabels(W, best!.labels),
      inertia: best!.inertia,
      distinct: { W, labels: best!.labels },
    };
  };
  return { fit, close: async () => pool?.close() };
}

/** A sweep's fits, one k at a time, and the threads to stop when it ends. */
interface Sweep {
  fit(k: number): Promise<SweepFit>;
  close(): Promise<void>;
}

/** One k's fit: labels of the swept rows, inertia, and for encoded fits the distinct rows' labels. */
interface SweepFit {
  labels: Int32Array;
  inertia: number;
  distinct?: { W: WeightedRows; labels: Int32Array };
}

/**
 * The k to recommend from inertia(k): the middle of the knee region (knee.ts kneeRegion: every k
 * whose Kneedle difference is within one x-step of the largest), or without a knee the k of the
 * best silhouette. `knee` stays Kneedle's own (kneed's) knee.
 *
 * Why the middle and not Kneedle's knee: KDD Cup 99's inertia curve bends gently, and its
 * Kneedle differences over k = 5…17 agree within about one x-step (1/28), so Kneedle's first local
 * maximum followed by a drop of one step moves with a few per cent of inertia noise (one init's
 * local optimum, or the fast mode's sample): exhaustive knees 9 / 11 / 12 at seeds 0 / 1 / 2, and
 * 9 against 12 for fast and exhaustive at seed 2. The region's middle gave 10 / 11, 9 / 10, 9 / 10
 * (fast / exhaustive) at those seeds (docs/benchmarks.md).
 */
export function recommend(rows: ElbowRow[]): { knee: number | null; recommended: number; rationale: string } {
  const ks = rows.map((r) => r.k);
  const inertia = rows.map((r) => r.inertia);
  const shape = { curve: 'convex', direction: 'decreasing' } as const;
  const knee = findKnee(ks, inertia, shape).knee;
  const region = kneeRegion(ks, inertia, shape);
  const valid = rows.filter((r) => Number.isFinite(r.silhouette));
  const bestSil = valid.reduce((a, b) => (b.silhouette > a.silhouette ? b : a), valid[0] ?? rows[0]!);
  const bestCh = valid.reduce(
    (a, b) => (b.calinskiHarabasz > a.calinskiHarabasz ? b : a),
    valid[0] ?? rows[0]!,
  );
  const bestDb = valid.reduce((a, b) => (b.daviesBouldin < a.daviesBouldin ? b : a), valid[0] ?? rows[0]!);
  const others = `best silhouette at k=${bestSil.k} (${bestSil.silhouette.toFixed(3)}), best Calinski-Harabasz at k=${bestCh.k}, best Davies-Bouldin at k=${bestDb.k}`;
  if (knee === null || region === null) {
    return {
      knee,
      recommended: bestSil.k,
      rationale: `inertia(k) has no knee in k=${ks[0]}..${ks[ks.length - 1]}; falling back to the best silhouette: ${others}`,
    };
  }
  const middle = (region.first + region.last) / 2;
  const recommended = ks.reduce((a, b) => (Math.abs(b - middle) < Math.abs(a - middle) ? b : a));
  const at = rows.find((r) => r.k === recommended)!;
  return {
    knee,
    recommended,
    rationale: `middle of the knee region of inertia(k), k=${region.first}..${region.last} (Kneedle, convex/decreasing: its knee is k=${knee}, and every k in the region is as good within one step): adding clusters past it buys little; silhouette there ${at.silhouette.toFixed(3)}, Davies-Bouldin ${at.daviesBouldin.toFixed(3)}; ${others}`,
  };
}
