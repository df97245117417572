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
import { type EncodedLayout, encodeDense } from '../features/encoded.ts';
import type { Matrix } from '../ingest/table.ts';
import { parseOptions } from '../validation.ts';
import { calinskiHarabasz, daviesBouldin, silhouetteFromPairs, silhouettePairs } from './cluster-quality.ts';
import { KMeans, takeRows } from './kmeans.ts';
import { findKnee } from './knee.ts';
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
  const rows: ElbowRow[] = [];
  const ks = Array.from({ length: o.kMax - o.kMin + 1 }, (_, i) => o.kMin + i);
  const fitOn = (o.layout && encodeDense(data, o.layout)) || data;
  let pairs: ReturnType<typeof silhouettePairs> | null = null;
  for (const [i, k] of ks.entries()) {
    const t0 = performance.now();
    const km = await new KMeans({ k, seed: o.seed, nInit: o.nInit, engine: o.engine }).fit(fitOn);
    const labels = km.labels;
    const single = k === 1;
    if (!single && !pairs) {
      pairs = silhouettePairs(data, { sampleSize: Math.min(o.silhouetteSample, data.rows), seed: o.seed });
    }
    rows.push({
      k,
      inertia: km.inertia * scaleUp,
      silhouette: single ? Number.NaN : silhouetteFromPairs(pairs!, labels),
      calinskiHarabasz: single ? Number.NaN : calinskiHarabasz(data, labels),
      daviesBouldin: single ? Number.NaN : daviesBouldin(data, labels),
      seconds: (performance.now() - t0) / 1000,
    });
    onProgress?.(i + 1, ks.length, k);
  }
  const { knee, recommended, rationale } = recommend(rows);
  return { mode: o.mode, rows, knee, recommended, rationale, rowsUsed: data.rows };
}

/** The knee of inertia(k); without one, the k of the best silhouette. */
export function recommend(rows: ElbowRow[]): { knee: number | null; recommended: number; rationale: string } {
  const ks = rows.map((r) => r.k);
  const knee = findKnee(
    ks,
    rows.map((r) => r.inertia),
    { curve: 'convex', direction: 'decreasing' },
  ).knee;
  const valid = rows.filter((r) => Number.isFinite(r.silhouette));
  const bestSil = valid.reduce((a, b) => (b.silhouette > a.silhouette ? b : a), valid[0] ?? rows[0]!);
  const bestCh = valid.reduce(
    (a, b) => (b.calinskiHarabasz > a.calinskiHarabasz ? b : a),
    valid[0] ?? rows[0]!,
  );
  const bestDb = valid.reduce((a, b) => (b.daviesBouldin < a.daviesBouldin ? b : a), valid[0] ?? rows[0]!);
  const others = `best silhouette at k=${bestSil.k} (${bestSil.silhouette.toFixed(3)}), best Calinski-Harabasz at k=${bestCh.k}, best Davies-Bouldin at k=${bestDb.k}`;
  if (knee === null) {
    return {
      knee,
      recommended: bestSil.k,
      rationale: `inertia(k) has no knee in k=${ks[0]}..${ks[ks.length - 1]}; falling back to the best silhouette: ${others}`,
    };
  }
  const at = rows.find((r) => r.k === knee)!;
  return {
    knee,
    recommended: knee,
    rationale: `knee of inertia(k) at k=${knee} (Kneedle, convex/decreasing): adding clusters past it buys little; silhouette there ${at.silhouette.toFixed(3)}, Davies-Bouldin ${at.daviesBouldin.toFixed(3)}; ${others}`,
  };
}
