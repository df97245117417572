/**
 * Thresholds that hold on traffic the model has not seen, and how sure we are of them.
 *
 * Rows come in groups (a capture file, a log file): rows of one group share a network, an
 * application and a clock, so they are not exchangeable with rows of another. A threshold set on
 * scores of rows the model was fitted on (or on random held-out rows of the same captures) is
 * optimistic for a new capture. Grouped calibration instead scores every row with a model that
 * never saw its group (cross-fitting over folds of groups) and takes the split-conformal quantile
 * of those out-of-group scores: under exchangeability of groups, a new group's rows exceed it at
 * the target rate. The uncertainty of that rate is reported two ways: a Clopper-Pearson interval
 * over rows (too narrow when rows within a group are correlated) and a bootstrap over groups
 * (resampling whole groups, the honest one for clustered data), plus the spread across folds.
 */
import { InputError } from '../errors.ts';
import { Rng } from './random.ts';

/** Group index (0..nGroups−1) of every row, from any per-row group key. */
export function groupIndex(keys: ArrayLike<string | number>): { index: Int32Array; names: string[] } {
  const ids = new Map<string, number>();
  const index = new Int32Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const k = String(keys[i]);
    let id = ids.get(k);
    if (id === undefined) {
      id = ids.size;
      ids.set(k, id);
    }
    index[i] = id;
  }
  return { index, names: [...ids.keys()] };
}

/**
 * Fold of every group (0..nFolds−1), deterministic by seed: groups in a seeded random order, each
 * to the fold holding the fewest rows so far (ties: the lowest fold), so folds are balanced in rows
 * even when one group is far larger than the rest.
 */
export function groupFolds(groups: Int32Array, nFolds: number, seed: number): Int32Array {
  let nGroups = 0;
  for (const g of groups) if (g + 1 > nGroups) nGroups = g + 1;
  if (!Number.isInteger(nFolds) || nFolds < 2) throw new InputError(`need at least 2 folds, got ${nFolds}`);
  if (nGroups < nFolds)
    throw new InputError(`${nFolds} folds need at least ${nFolds} groups, got ${nGroups}`);
  const size = new Float64Array(nGroups);
  for (const g of groups) size[g]!++;
  const order = Array.from(new Rng(seed).sample(nGroups, nGroups));
  const foldRows = new Float64Array(nFolds);
  const foldGroups = new Float64Array(nFolds);
  const fold = new Int32Array(nGroups);
  for (const g of order) {
    let best = 0;
    for (let f = 1; f < nFolds; f++) {
      if (
        foldRows[f]! < foldRows[best]! ||
        (foldRows[f] === foldRows[best] && foldGroups[f]! < foldGroups[best]!)
      )
        best = f;
    }
    fold[g] = best;
    foldRows[best]! += size[g]!;
    foldGroups[best]!++;
  }
  return fold;
}

/** Row indices of each fold (rows keep their order). */
export function foldRows(groups: Int32Array, foldOfGroup: Int32Array, nFolds: number): Int32Array[] {
  const lists: number[][] = Array.from({ length: nFolds }, () => []);
  for (let i = 0; i < groups.length; i++) lists[foldOfGroup[groups[i]!]!]!.push(i);
  return lists.map((l) => Int32Array.from(l));
}

/** The rows not in `rows` (both ascending), out of n. */
export function complementRows(n: number, rows: Int32Array): Int32Array {
  const out = new Int32Array(n - rows.length);
  let j = 0;
  let o = 0;
  for (let i = 0; i < n; i++) {
    if (j < rows.length && rows[j] === i) j++;
    else out[o++] = i;
  }
  return out;
}

/**
 * Out-of-group scores: every row scored by a model fitted on the other folds' rows.
 * `fitScore(trainRows, testRows)` fits on the first and returns scores of the second.
 */
export async function outOfGroupScores(
  groups: Int32Array,
  nFolds: number,
  seed: number,
  fitScore: (trainRows: Int32Array, testRows: Int32Array, fold: number) => Promise<Float64Array>,
): Promise<{ scores: Float64Array; fold: Int32Array }> {
  const foldOfGroup = groupFolds(groups, nFolds, seed);
  const folds = foldRows(groups, foldOfGroup, nFolds);
  const scores = new Float64Array(groups.length);
  const fold = new Int32Array(groups.length);
  for (const [f, test] of folds.entries()) {
    if (test.length === 0) continue;
    const s = await fitScore(complementRows(groups.length, test), test, f);
    for (let i = 0; i < test.length; i++) {
      scores[test[i]!] = s[i]!;
      fold[test[i]!] = f;
    }
  }
  return { scores, fold };
}

/**
 * Split-conformal threshold: the ⌈(n + 1)(1 − alpha)⌉-th smallest score (the largest when that
 * rank exceeds n). A new exchangeable score is above it with probability at most alpha.
 */
export function conformalThreshold(scores: ArrayLike<number>, alpha: number): number {
  const sorted = Float64Array.from(scores).sort();
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.min(n, Math.ceil((n + 1) * (1 - alpha) - 1e-9));
  return sorted[Math.max(0, rank - 1)]!;
}

/**
 * Group-weighted threshold: every group's rows share one unit of weight, so the threshold is the
 * (1 − alpha) quantile of the mixture of the groups' score distributions (one large group cannot
 * set it alone), and a new group's expected flagged share is about alpha. The conformal rank
 * correction (one more group at +∞) is left out: with a few dozen groups it would make the
 * threshold the largest calibration score.
 */
export function groupConformalThreshold(
  scores: ArrayLike<number>,
  groups: Int32Array,
  alpha: number,
): number {
  const n = scores.length;
  if (n === 0) return Number.NaN;
  let nGroups = 0;
  for (const g of groups) if (g >= nGroups) nGroups = g + 1;
  const size = new Float64Array(nGroups);
  for (const g of groups) size[g]!++;
  let present = 0;
  for (const s of size) if (s > 0) present++;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  const need = (1 - alpha) * present - 1e-9;
  let acc = 0;
  for (const i of order) {
    acc += 1 / size[groups[i]!]!;
    if (acc >= need) return scores[i]!;
  }
  return scores[order[n - 1]!]!;
}

/** P(X ≤ k) for X ~ Binomial(n, p), each term computed in log space. */
function binomCdf(k: number, n: number, p: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  if (p <= 0) return 1;
  if (p >= 1) return 0;
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  let logC = 0; // log C(n, 0)
  let total = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logC += Math.log((n - i + 1) / i);
    total += Math.exp(logC + i * lp + (n - i) * lq);
  }
  return Math.min(1, total);
}

function bisect(f: (p: number) => number, lo: number, hi: number): number {
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (f(mid) > 0) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Exact (Clopper-Pearson) interval for a rate of k successes in n trials. */
export function clopperPearson(k: number, n: number, confidence = 0.95): { low: number; high: number } {
  if (n <= 0) return { low: 0, high: 1 };
  const a = (1 - confidence) / 2;
  // low: P(X >= k | p) = a; high: P(X <= k | p) = a
  const low = k === 0 ? 0 : bisect((p) => a - (1 - binomCdf(k - 1, n, p)), 0, 1);
  const high = k === n ? 1 : bisect((p) => binomCdf(k, n, p) - a, 0, 1);
  return { low, high };
}

/**
 * Percentile interval of the pooled rate sum(flags)/rows when whole groups are resampled with
 * replacement (seeded).
 */
export function groupBootstrapRate(
  flags: ArrayLike<number>,
  groups: Int32Array,
  opts: { resamples?: number; confidence?: number; seed?: number } = {},
): { low: number; high: number } {
  let nGroups = 0;
  for (const g of groups) if (g + 1 > nGroups) nGroups = g + 1;
  if (nGroups === 0) return { low: 0, high: 1 };
  const hits = new Float64Array(nGroups);
  const rows = new Float64Array(nGroups);
  for (let i = 0; i < groups.length; i++) {
    rows[groups[i]!]!++;
    hits[groups[i]!]! += flags[i]! ? 1 : 0;
  }
  const B = opts.resamples ?? 1000;
  const rng = new Rng(opts.seed ?? 0);
  const rates = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    let h = 0;
    let r = 0;
    for (let j = 0; j < nGroups; j++) {
      const g = rng.int(nGroups);
      h += hits[g]!;
      r += rows[g]!;
    }
    rates[b] = r > 0 ? h / r : 0;
  }
  rates.sort();
  const a = (1 - (opts.confidence ?? 0.95)) / 2;
  const at = (q: number) => rates[Math.min(B - 1, Math.max(0, Math.round(q * (B - 1))))]!;
  return { low: at(a), high: at(1 - a) };
}

/** Mean and sample standard deviation. */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return { mean: Number.NaN, std: Number.NaN };
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  const ss = v.reduce((s, x) => s + (x - mean) ** 2, 0);
  return { mean, std: v.length > 1 ? Math.sqrt(ss / (v.length - 1)) : 0 };
}

/** What a grouped calibration says about the false-positive rate on new groups. */
export interface FprEstimate {
  /** Share of out-of-group calibration rows above the threshold (pooled over rows). */
  fpr: number;
  /** Mean over groups of each group's share above the threshold. */
  groupMeanFpr: number;
  rows: number;
  flagged: number;
  groups: number;
  /** 95 % Clopper-Pearson interval over rows (treats rows as independent: too narrow). */
  clopperPearson: { low: number; high: number };
  /** 95 % interval from resampling whole groups. */
  groupBootstrap: { low: number; high: number };
  /** The rate in each calibration fold. */
  perFold: number[];
}

export function estimateFpr(
  scores: Float64Array,
  threshold: number,
  groups: Int32Array,
  fold: Int32Array | null,
  seed = 0,
): FprEstimate {
  const flags = new Uint8Array(scores.length);
  let flagged = 0;
  for (let i = 0; i < scores.length; i++) {
    if (scores[i]! > threshold) {
      flags[i] = 1;
      flagged++;
    }
  }
  let nGroups = 0;
  for (const g of groups) if (g + 1 > nGroups) nGroups = g + 1;
  const perFold: number[] = [];
  if (fold) {
    let nFolds = 0;
    for (const f of fold) if (f + 1 > nFolds) nFolds = f + 1;
    const hit = new Float64Array(nFolds);
    const n = new Float64Array(nFolds);
    for (let i = 0; i < fold.length; i++) {
      n[fold[i]!]!++;
      hit[fold[i]!]! += flags[i]!;
    }
    for (let f = 0; f < nFolds; f++) perFold.push(n[f]! > 0 ? hit[f]! / n[f]! : Number.NaN);
  }
  const gHit = new Float64Array(nGroups);
  const gRows = new Float64Array(nGroups);
  for (let i = 0; i < groups.length; i++) {
    gRows[groups[i]!]!++;
    gHit[groups[i]!]! += flags[i]!;
  }
  let sum = 0;
  let present = 0;
  for (let g = 0; g < nGroups; g++) {
    if (gRows[g]! === 0) continue;
    sum += gHit[g]! / gRows[g]!;
    present++;
  }
  return {
    fpr: scores.length ? flagged / scores.length : 0,
    groupMeanFpr: present ? sum / present : 0,
    rows: scores.length,
    flagged,
    groups: nGroups,
    clopperPearson: clopperPearson(flagged, scores.length),
    groupBootstrap: groupBootstrapRate(flags, groups, { seed }),
    perFold,
  };
}
