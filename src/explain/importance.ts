/**
 * Feature importance per ORIGINAL field, two views:
 *
 * - `separation`: what separates the clusters of the primary run. For the field's scaled model
 *   columns (one for a numeric field, one per category for a one-hot field), the between-cluster
 *   variance Σ_c n_c (μ_c − μ)² / n and the within-cluster variance Σ_i (x_i − μ_c(i))² / n are
 *   each summed over the field's columns; separation = between / within (an F-like ratio, 0 when
 *   the field is the same in every cluster, large when clusters differ mostly by it).
 * - `scoreImportance`: what drives the anomaly score. Permutation importance on a seeded sample:
 *   shuffle the field's column(s) across the sampled rows (one permutation for all of a one-hot
 *   field's columns, so rows stay valid one-hot vectors), rescore, and take the mean absolute
 *   change of anomalyScore (averaged over `repeats` shuffles).
 */
import type { Matrix, Table } from '../ingest/table.ts';
import type { AnomalyDetector } from '../model/detector.ts';
import { Rng } from '../model/random.ts';

export interface FieldImportance {
  field: string;
  kind: 'numeric' | 'categorical';
  /**
   * Between-cluster / within-cluster variance of the field's scaled columns. Within is floored
   * at 1e-6 × the field's total variance, so a rare field captured whole by one tiny cluster
   * (e.g. KDD `land`) reads ~1e6 rather than infinity: compare with `eta2` and the cluster sizes.
   */
  separation: number;
  /** between / (between + within): share of the field's variance explained by the clusters (0..1). */
  eta2: number;
  between: number;
  within: number;
  /** Mean |Δ anomalyScore| when the field is shuffled across the sampled rows. */
  scoreImportance: number;
  /** scoreImportance / sum over fields (0..1). */
  scoreShare: number;
}

export interface ImportanceOptions {
  /** Rows sampled for the permutation importance (default 2000). */
  sampleSize?: number;
  /** Shuffles per field (default 1). */
  repeats?: number;
  seed?: number;
  /** Precomputed primary-run cluster of each row of `table`. */
  assignment?: Int32Array;
}

/** Importance of every field of the model, in field order (sort as you need). */
export async function fieldImportance(
  detector: AnomalyDetector,
  table: Table,
  opts: ImportanceOptions = {},
): Promise<FieldImportance[]> {
  const pre = detector.preprocessor;
  const fields = pre.fieldSpecs();
  const outField = pre.outputField();
  const { X } = pre.transform(table);
  const assignment = opts.assignment ?? (await detector.scoreMatrix(X)).cluster;
  const { between, within } = varianceByColumn(X, assignment, detector.k);
  const nf = fields.length;
  const fb = new Float64Array(nf);
  const fw = new Float64Array(nf);
  for (let j = 0; j < X.cols; j++) {
    fb[outField[j]!]! += between[j]!;
    fw[outField[j]!]! += within[j]!;
  }

  // Permutation importance of the score.
  const rng = new Rng(opts.seed ?? 0);
  const m = Math.min(X.rows, opts.sampleSize ?? 2000);
  const sample = rng.sample(X.rows, m);
  const d = X.cols;
  const base = new Float32Array(m * d);
  for (let i = 0; i < m; i++) base.set(X.data.subarray(sample[i]! * d, (sample[i]! + 1) * d), i * d);
  const Xs: Matrix = { data: base, rows: m, cols: d };
  const baseScore = (await detector.scoreMatrix(Xs)).anomalyScore;
  const repeats = Math.max(1, opts.repeats ?? 1);
  const colsOf: number[][] = Array.from({ length: nf }, () => []);
  for (let j = 0; j < d; j++) colsOf[outField[j]!]!.push(j);
  const imp = new Float64Array(nf);
  const work = new Float32Array(m * d);
  for (let f = 0; f < nf; f++) {
    let total = 0;
    for (let r = 0; r < repeats; r++) {
      const perm = rng.sample(m, m);
      work.set(base);
      for (let i = 0; i < m; i++) {
        const src = perm[i]! * d;
        for (const j of colsOf[f]!) work[i * d + j] = base[src + j]!;
      }
      const s = (await detector.scoreMatrix({ data: work, rows: m, cols: d })).anomalyScore;
      let t = 0;
      for (let i = 0; i < m; i++) t += Math.abs(s[i]! - baseScore[i]!);
      total += t / Math.max(1, m);
    }
    imp[f] = total / repeats;
  }
  const impSum = imp.reduce((a, b) => a + b, 0);
  return fields.map((f, i) => ({
    field: f.name,
    kind: f.kind,
    separation: fb[i]! + fw[i]! > 0 ? fb[i]! / Math.max(fw[i]!, 1e-6 * (fb[i]! + fw[i]!)) : 0,
    eta2: fb[i]! + fw[i]! > 0 ? fb[i]! / (fb[i]! + fw[i]!) : 0,
    between: fb[i]!,
    within: fw[i]!,
    scoreImportance: imp[i]!,
    scoreShare: impSum > 0 ? imp[i]! / impSum : 0,
  }));
}

/** Per column: between-cluster and within-cluster variance (population, divided by n). */
export function varianceByColumn(
  X: Matrix,
  assignment: Int32Array,
  k: number,
): { between: Float64Array; within: Float64Array } {
  const { rows: n, cols: d, data } = X;
  const mean = new Float64Array(d);
  const cMean = new Float64Array(k * d);
  const size = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const c = assignment[i]!;
    size[c]!++;
    for (let j = 0; j < d; j++) {
      const v = data[i * d + j]!;
      mean[j]! += v;
      cMean[c * d + j]! += v;
    }
  }
  for (let j = 0; j < d; j++) mean[j]! /= Math.max(1, n);
  for (let c = 0; c < k; c++) for (let j = 0; j < d; j++) cMean[c * d + j]! /= Math.max(1, size[c]!);
  const between = new Float64Array(d);
  const within = new Float64Array(d);
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < d; j++) between[j]! += size[c]! * (cMean[c * d + j]! - mean[j]!) ** 2;
  }
  for (let i = 0; i < n; i++) {
    const c = assignment[i]!;
    for (let j = 0; j < d; j++) within[j]! += (data[i * d + j]! - cMean[c * d + j]!) ** 2;
  }
  for (let j = 0; j < d; j++) {
    between[j]! /= Math.max(1, n);
    within[j]! /= Math.max(1, n);
  }
  return { between, within };
}
