/**
 * Detection-quality metrics for an anomaly detector: ranking metrics on continuous scores (ROC AUC,
 * average precision, curves, detection rate at a fixed false-positive rate) and counting metrics on
 * hard decisions (binary report, per-group recall, confusion tables).
 *
 * Conventions: `y[i]` is 1 (or true) for an attack / positive and 0 (or false) for normal traffic;
 * a higher score means more anomalous. Scores must be finite.
 *
 * Undefined cases: the ranking metrics (rocAuc, averagePrecision, rocCurve, prCurve,
 * detectionRateAtFpr) throw InputError when a class they need is absent (scikit-learn raises for
 * ROC AUC; we do the same for the others rather than return a misleading 0 or NaN). The counting
 * metrics never throw on a missing class: a ratio whose denominator is 0 is reported as 0, as
 * scikit-learn's default `zero_division` does (without the warning).
 */
import { InputError, optionError } from '../errors.ts';

/** Ground truth: 1/true = positive (attack), 0/false = negative (normal). */
export type BinaryLabels = ArrayLike<number | boolean>;

/** Scores and counts at each distinct threshold, highest threshold first (scikit-learn's _binary_clf_curve). */
interface ThresholdCounts {
  /** Distinct score values, strictly decreasing. */
  readonly thresholds: Float64Array;
  /** tps[i] = positives with score >= thresholds[i]. */
  readonly tps: Float64Array;
  /** fps[i] = negatives with score >= thresholds[i]. */
  readonly fps: Float64Array;
  readonly nPos: number;
  readonly nNeg: number;
}

function isPositive(v: number | boolean, i: number, fn: string): boolean {
  if (v === 1 || v === true) return true;
  if (v === 0 || v === false) return false;
  throw new InputError(`${fn}: y[${i}] must be 0 or 1 (or a boolean), got ${String(v)}`);
}

function checkLengths(
  fn: string,
  a: ArrayLike<unknown>,
  b: ArrayLike<unknown>,
  an: string,
  bn: string,
): void {
  if (a.length !== b.length) {
    throw new InputError(`${fn}: ${an} has ${a.length} entries but ${bn} has ${b.length}`);
  }
}

/** Splits scores by class into two ascending-sorted Float64Arrays (native numeric typed-array sort). */
function splitSorted(
  fn: string,
  y: BinaryLabels,
  score: ArrayLike<number>,
): { pos: Float64Array; neg: Float64Array } {
  checkLengths(fn, y, score, 'y', 'score');
  const n = y.length;
  let nPos = 0;
  for (let i = 0; i < n; i++) {
    if (isPositive(y[i]!, i, fn)) nPos++;
    const s = score[i]!;
    if (!Number.isFinite(s)) throw new InputError(`${fn}: score[${i}] is not a finite number (${s})`);
  }
  const pos = new Float64Array(nPos);
  const neg = new Float64Array(n - nPos);
  let p = 0;
  let q = 0;
  for (let i = 0; i < n; i++) {
    const v = y[i]!;
    if (v === 1 || v === true) pos[p++] = score[i]!;
    else neg[q++] = score[i]!;
  }
  pos.sort();
  neg.sort();
  return { pos, neg };
}

function requireBothClasses(fn: string, nPos: number, nNeg: number): void {
  if (nPos === 0 || nNeg === 0) {
    throw new InputError(
      `${fn}: needs both classes in y, got ${nPos} positive and ${nNeg} negative samples (the metric is undefined)`,
    );
  }
}

/**
 * Cumulative true/false positives at each distinct score, walking both sorted arrays from the top.
 * Tied scores form one threshold, so every result here is tie-aware. O(n) after the sorts.
 */
function thresholdCounts(fn: string, y: BinaryLabels, score: ArrayLike<number>): ThresholdCounts {
  const { pos, neg } = splitSorted(fn, y, score);
  const nPos = pos.length;
  const nNeg = neg.length;
  const cap = nPos + nNeg;
  const thresholds = new Float64Array(cap);
  const tps = new Float64Array(cap);
  const fps = new Float64Array(cap);
  let i = nPos - 1;
  let j = nNeg - 1;
  let tp = 0;
  let fp = 0;
  let m = 0;
  while (i >= 0 || j >= 0) {
    const a = i >= 0 ? pos[i]! : Number.NEGATIVE_INFINITY;
    const b = j >= 0 ? neg[j]! : Number.NEGATIVE_INFINITY;
    const t = Math.max(a, b);
    while (i >= 0 && pos[i] === t) {
      tp++;
      i--;
    }
    while (j >= 0 && neg[j] === t) {
      fp++;
      j--;
    }
    thresholds[m] = t;
    tps[m] = tp;
    fps[m] = fp;
    m++;
  }
  return {
    thresholds: thresholds.subarray(0, m),
    tps: tps.subarray(0, m),
    fps: fps.subarray(0, m),
    nPos,
    nNeg,
  };
}

/**
 * Area under the ROC curve, exact and tie-aware (a tied positive/negative pair counts 1/2), equal to
 * scikit-learn's `roc_auc_score`. O(n log n). Throws InputError unless both classes are present.
 */
export function rocAuc(y: BinaryLabels, score: ArrayLike<number>): number {
  const c = thresholdCounts('rocAuc', y, score);
  requireBothClasses('rocAuc', c.nPos, c.nNeg);
  // Trapezoids between consecutive thresholds, in integer counts (exact up to 2^53), scaled once.
  let area = 0;
  let prevTp = 0;
  let prevFp = 0;
  for (let k = 0; k < c.tps.length; k++) {
    const tp = c.tps[k]!;
    const fp = c.fps[k]!;
    area += (fp - prevFp) * (tp + prevTp);
    prevTp = tp;
    prevFp = fp;
  }
  return area / (2 * c.nPos * c.nNeg);
}

/**
 * Average precision (report it as pr_auc), scikit-learn's `average_precision_score`:
 * AP = Σ_k (R_k − R_{k−1}) · P_k over distinct thresholds from the highest, with no interpolation.
 * Throws InputError when y has no positive (AP is undefined without one).
 */
export function averagePrecision(y: BinaryLabels, score: ArrayLike<number>): number {
  const c = thresholdCounts('averagePrecision', y, score);
  if (c.nPos === 0)
    throw new InputError('averagePrecision: y has no positive sample (the metric is undefined)');
  let ap = 0;
  let prevTp = 0;
  for (let k = 0; k < c.tps.length; k++) {
    const tp = c.tps[k]!;
    if (tp !== prevTp) {
      ap += ((tp - prevTp) / c.nPos) * (tp / (tp + c.fps[k]!));
      prevTp = tp;
    }
  }
  return ap;
}

/** A ROC curve for plotting: parallel arrays, from (0, 0) at threshold +Infinity to (1, 1). */
export interface RocCurve {
  fpr: number[];
  tpr: number[];
  /** A sample counts as positive when score >= threshold; the first threshold is +Infinity. */
  thresholds: number[];
}

/** A precision-recall curve for plotting: parallel arrays ordered by decreasing threshold. */
export interface PrCurve {
  /** Non-decreasing, from 0 to 1. */
  recall: number[];
  precision: number[];
  /** A sample counts as positive when score >= threshold; the first point (recall 0, precision 1) is +Infinity. */
  thresholds: number[];
}

const DEFAULT_CURVE_POINTS = 256;

function checkMaxPoints(fn: string, maxPoints: number): void {
  if (!Number.isInteger(maxPoints) || maxPoints < 2)
    throw optionError(fn, 'maxPoints', 'an integer >= 2', maxPoints);
}

/**
 * Indices of at most `maxPoints` points spread evenly along the polyline's length (so a plot looks
 * uniformly detailed, not dense where the data are dense); always keeps the first and last point.
 */
function downsampleByLength(xs: Float64Array, ys: Float64Array, maxPoints: number): number[] {
  const m = xs.length;
  if (m <= maxPoints) return Array.from({ length: m }, (_, i) => i);
  const cum = new Float64Array(m);
  for (let i = 1; i < m; i++) cum[i] = cum[i - 1]! + Math.hypot(xs[i]! - xs[i - 1]!, ys[i]! - ys[i - 1]!);
  const total = cum[m - 1]!;
  const keep: number[] = [0];
  let i = 1;
  for (let s = 1; s < maxPoints - 1; s++) {
    const target = (total * s) / (maxPoints - 1);
    while (i < m - 1 && cum[i]! < target) i++;
    if (i >= m - 1) break;
    if (i > keep[keep.length - 1]!) keep.push(i);
  }
  keep.push(m - 1);
  return keep;
}

/**
 * ROC curve (one point per distinct score, minus points collinear with their neighbours, a stricter
 * form of scikit-learn's drop_intermediate), downsampled to at most `maxPoints` (default 256) for plotting. The downsampled
 * curve is for display; compute the area with rocAuc. Throws InputError unless both classes are present.
 */
export function rocCurve(
  y: BinaryLabels,
  score: ArrayLike<number>,
  maxPoints = DEFAULT_CURVE_POINTS,
): RocCurve {
  checkMaxPoints('rocCurve', maxPoints);
  const c = thresholdCounts('rocCurve', y, score);
  requireBothClasses('rocCurve', c.nPos, c.nNeg);
  const m = c.tps.length;
  // Prepend (0, 0) at +Infinity, then drop every point collinear with its kept predecessor and its
  // successor (exact cross product on integer counts): the polyline, hence its area, is unchanged.
  const fps = new Float64Array(m + 1);
  const tps = new Float64Array(m + 1);
  const th = new Float64Array(m + 1);
  th[0] = Number.POSITIVE_INFINITY;
  fps.set(c.fps, 1);
  tps.set(c.tps, 1);
  th.set(c.thresholds, 1);
  let w = 0;
  for (let k = 0; k <= m; k++) {
    if (k > 0 && k < m) {
      const cross =
        (fps[k]! - fps[w - 1]!) * (tps[k + 1]! - tps[k]!) - (tps[k]! - tps[w - 1]!) * (fps[k + 1]! - fps[k]!);
      if (cross === 0) continue;
    }
    fps[w] = fps[k]!;
    tps[w] = tps[k]!;
    th[w] = th[k]!;
    w++;
  }
  const fpr = new Float64Array(w);
  const tpr = new Float64Array(w);
  for (let k = 0; k < w; k++) {
    fpr[k] = fps[k]! / c.nNeg;
    tpr[k] = tps[k]! / c.nPos;
  }
  const keep = downsampleByLength(fpr, tpr, maxPoints);
  return {
    fpr: keep.map((k) => fpr[k]!),
    tpr: keep.map((k) => tpr[k]!),
    thresholds: keep.map((k) => th[k]!),
  };
}

/**
 * Precision-recall curve (one point per distinct score plus the (recall 0, precision 1) start, as in
 * scikit-learn's precision_recall_curve but ordered by increasing recall), downsampled to at most
 * `maxPoints` (default 256) for plotting. Throws InputError when y has no positive.
 */
export function prCurve(
  y: BinaryLabels,
  score: ArrayLike<number>,
  maxPoints = DEFAULT_CURVE_POINTS,
): PrCurve {
  checkMaxPoints('prCurve', maxPoints);
  const c = thresholdCounts('prCurve', y, score);
  if (c.nPos === 0) throw new InputError('prCurve: y has no positive sample (the curve is undefined)');
  const m = c.tps.length;
  const recall = new Float64Array(m + 1);
  const precision = new Float64Array(m + 1);
  const th = new Float64Array(m + 1);
  precision[0] = 1;
  th[0] = Number.POSITIVE_INFINITY;
  for (let k = 0; k < m; k++) {
    const tp = c.tps[k]!;
    recall[k + 1] = tp / c.nPos;
    precision[k + 1] = tp / (tp + c.fps[k]!);
    th[k + 1] = c.thresholds[k]!;
  }
  const keep = downsampleByLength(recall, precision, maxPoints);
  return {
    recall: keep.map((k) => recall[k]!),
    precision: keep.map((k) => precision[k]!),
    thresholds: keep.map((k) => th[k]!),
  };
}

/** Where the operating point for a target false-positive rate lies. */
export interface FprOperatingPoint {
  /** Flag a sample when score > threshold (strictly). −Infinity when fpr >= 1. */
  threshold: number;
  /** Share of positives with score > threshold. */
  detectionRate: number;
  /** Share of negatives with score > threshold: at most the target, lower when ties straddle it. */
  realizedFpr: number;
}

/**
 * The operating point at a target false-positive rate. The threshold is the smallest value such
 * that at most floor(fpr · nNeg) negatives score strictly above it: the (1 − fpr) order statistic
 * of the negatives' scores. Tie rule: a sample whose score equals the threshold is NOT flagged, for
 * negatives and positives alike, so ties at the threshold never push the realized FPR over the
 * target (it can be lower). Throws InputError unless both classes are present.
 */
export function operatingPointAtFpr(
  y: BinaryLabels,
  score: ArrayLike<number>,
  fpr: number,
): FprOperatingPoint {
  if (!(fpr >= 0 && fpr <= 1)) throw optionError('detectionRateAtFpr', 'fpr', 'a number in [0, 1]', fpr);
  const { pos, neg } = splitSorted('detectionRateAtFpr', y, score);
  requireBothClasses('detectionRateAtFpr', pos.length, neg.length);
  const nNeg = neg.length;
  // Allowed false positives; the tiny slack absorbs products like 0.29 * 100 = 28.999999999999996.
  const allowed = Math.min(nNeg, Math.floor(fpr * nNeg * (1 + 1e-12) + 1e-9));
  const threshold = allowed >= nNeg ? Number.NEGATIVE_INFINITY : neg[nNeg - 1 - allowed]!;
  return {
    threshold,
    detectionRate: countAbove(pos, threshold) / pos.length,
    realizedFpr: countAbove(neg, threshold) / nNeg,
  };
}

/**
 * Detection rate (recall on positives) at a target false-positive rate: the share of positives
 * scoring strictly above the threshold described in operatingPointAtFpr (ties at the threshold are
 * not detected).
 */
export function detectionRateAtFpr(y: BinaryLabels, score: ArrayLike<number>, fpr: number): number {
  return operatingPointAtFpr(y, score, fpr).detectionRate;
}

/** Count of values strictly greater than t in an ascending array (binary search). */
function countAbove(sorted: Float64Array, t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! > t) hi = mid;
    else lo = mid + 1;
  }
  return sorted.length - lo;
}

/** Counting metrics of hard decisions against the truth. */
export interface BinaryReport {
  accuracy: number;
  precision: number;
  /** The detection rate: tp / (tp + fn). */
  recall: number;
  f1: number;
  /** fp / (fp + tn). */
  fpr: number;
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

/**
 * Confusion counts and rates of decisions `isAnomaly` (truthy / 1 = flagged) against truth `y`.
 * Ratios with a zero denominator are 0 (scikit-learn's zero_division default); f1 is
 * 2tp / (2tp + fp + fn). Throws InputError on length mismatch or labels other than 0/1.
 */
export function binaryReport(y: BinaryLabels, isAnomaly: ArrayLike<boolean | number>): BinaryReport {
  checkLengths('binaryReport', y, isAnomaly, 'y', 'isAnomaly');
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < y.length; i++) {
    const truth = isPositive(y[i]!, i, 'binaryReport');
    const flagged = Boolean(isAnomaly[i]);
    if (truth) {
      if (flagged) tp++;
      else fn++;
    } else if (flagged) fp++;
    else tn++;
  }
  return {
    accuracy: ratio(tp + tn, y.length),
    precision: ratio(tp, tp + fp),
    recall: ratio(tp, tp + fn),
    f1: ratio(2 * tp, 2 * tp + fp + fn),
    fpr: ratio(fp, fp + tn),
    tp,
    fp,
    tn,
    fn,
  };
}

/** Per-group detection counts. */
export interface GroupRecall {
  n: number;
  detected: number;
  /** detected / n. */
  recall: number;
}

/**
 * Share of flagged samples within each group (e.g. attack family: "dos", "probe", ... — pass only
 * attack rows for per-family recall; for a "normal" group the value is its false-positive rate).
 * Keys are sorted by code unit order.
 */
export function recallByGroup(
  groups: readonly string[],
  isAnomaly: ArrayLike<boolean | number>,
): Record<string, GroupRecall> {
  checkLengths('recallByGroup', groups, isAnomaly, 'groups', 'isAnomaly');
  const acc = new Map<string, { n: number; detected: number }>();
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    let e = acc.get(g);
    if (e === undefined) {
      e = { n: 0, detected: 0 };
      acc.set(g, e);
    }
    e.n++;
    if (isAnomaly[i]) e.detected++;
  }
  const keys = [...acc.keys()].sort();
  return Object.fromEntries(
    keys.map((k) => {
      const e = acc.get(k)!;
      return [k, { n: e.n, detected: e.detected, recall: e.detected / e.n }];
    }),
  );
}

/** Counts of (row label, column label) pairs; rows and cols are the sorted distinct labels. */
export interface ConfusionTable {
  rows: string[];
  cols: string[];
  /** counts[r][c] = number of samples with rowsLabels = rows[r] and colsLabels = cols[c]. */
  counts: number[][];
}

/**
 * Cross-tabulation of two labelings of the same samples, e.g. attack family × cluster id or
 * truth × decision. Distinct labels are sorted by code unit order.
 */
export function confusionTable(rowsLabels: readonly string[], colsLabels: readonly string[]): ConfusionTable {
  checkLengths('confusionTable', rowsLabels, colsLabels, 'rowsLabels', 'colsLabels');
  const rows = [...new Set(rowsLabels)].sort();
  const cols = [...new Set(colsLabels)].sort();
  const rowIndex = new Map(rows.map((r, i) => [r, i]));
  const colIndex = new Map(cols.map((c, i) => [c, i]));
  const flat = new Float64Array(rows.length * cols.length);
  for (let i = 0; i < rowsLabels.length; i++) {
    flat[rowIndex.get(rowsLabels[i]!)! * cols.length + colIndex.get(colsLabels[i]!)!]!++;
  }
  const counts = rows.map((_, r) => Array.from(flat.subarray(r * cols.length, (r + 1) * cols.length)));
  return { rows, cols, counts };
}
