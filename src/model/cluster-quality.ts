/**
 * Internal cluster-validity indices with scikit-learn's definitions: silhouette (on a seeded sample),
 * Calinski-Harabasz and Davies-Bouldin. Inputs are a row-major float32 Matrix and one integer label
 * per row (any int32 values; they are only compared for equality). All sums are accumulated in float64.
 *
 * Cost: calinskiHarabasz and daviesBouldin are two passes over the data, O(n·d) time and O(k·d)
 * memory; silhouetteScore is O(s²·d) on a sample of s rows (default s = min(n, 5000)).
 *
 * As in scikit-learn, each index needs 2 <= number of distinct labels <= number of rows − 1 (for the
 * silhouette: among the sampled rows); otherwise it throws InputError.
 */

import { InputError, optionError } from '../errors.ts';
import type { EncodedMatrix } from '../features/encoded.ts';
import type { Matrix } from '../ingest/table.ts';
import { Rng } from './random.ts';

/** Labels re-coded to 0..k−1 in order of first appearance, with cluster sizes. */
interface Encoded {
  readonly codes: Int32Array;
  readonly k: number;
  readonly counts: Float64Array;
}

function encode(labels: ArrayLike<number>): Encoded {
  const codes = new Int32Array(labels.length);
  const map = new Map<number, number>();
  const sizes: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    let c = map.get(l);
    if (c === undefined) {
      c = sizes.length;
      map.set(l, c);
      sizes.push(0);
    }
    sizes[c]!++;
    codes[i] = c;
  }
  return { codes, k: sizes.length, counts: Float64Array.from(sizes) };
}

function checkInput(fn: string, X: Matrix, labels: Int32Array): void {
  if (X.data.length !== X.rows * X.cols) {
    throw new InputError(
      `${fn}: matrix data has ${X.data.length} values, expected rows × cols = ${X.rows * X.cols}`,
    );
  }
  if (labels.length !== X.rows) throw new InputError(`${fn}: ${labels.length} labels for ${X.rows} rows`);
}

function checkLabelCount(fn: string, k: number, n: number): void {
  if (k < 2 || k > n - 1) {
    throw new InputError(
      `${fn}: number of labels is ${k}; valid values are 2 to n_samples - 1 (inclusive) with n_samples = ${n}`,
    );
  }
}

/** Per-cluster means (k × d, float64) from one pass over the rows. */
function clusterMeans(X: Matrix, enc: Encoded): Float64Array {
  const d = X.cols;
  const data = X.data;
  const means = new Float64Array(enc.k * d);
  for (let i = 0; i < X.rows; i++) {
    const o = enc.codes[i]! * d;
    const r = i * d;
    for (let j = 0; j < d; j++) means[o + j]! += data[r + j]!;
  }
  for (let c = 0; c < enc.k; c++) {
    const inv = 1 / enc.counts[c]!;
    for (let j = 0; j < d; j++) means[c * d + j]! *= inv;
  }
  return means;
}

/** Squared distance of every row to the mean of its own cluster. */
function ownMeanSquaredDistances(X: Matrix, enc: Encoded, means: Float64Array): Float64Array {
  const d = X.cols;
  const data = X.data;
  const out = new Float64Array(X.rows);
  for (let i = 0; i < X.rows; i++) {
    const o = enc.codes[i]! * d;
    const r = i * d;
    let s = 0;
    for (let j = 0; j < d; j++) {
      const t = data[r + j]! - means[o + j]!;
      s += t * t;
    }
    out[i] = s;
  }
  return out;
}

/**
 * Calinski-Harabasz index (variance ratio criterion), scikit-learn's calinski_harabasz_score:
 * [B / (k − 1)] / [W / (n − k)] with B the between-cluster and W the within-cluster dispersion;
 * 1 when W = 0. Higher is better.
 */
export function calinskiHarabasz(X: Matrix, labels: Int32Array): number {
  checkInput('calinskiHarabasz', X, labels);
  const enc = encode(labels);
  const n = X.rows;
  checkLabelCount('calinskiHarabasz', enc.k, n);
  const d = X.cols;
  const means = clusterMeans(X, enc);
  // Overall mean as the size-weighted mean of the cluster means (same value as the plain mean).
  const mean = new Float64Array(d);
  for (let c = 0; c < enc.k; c++) {
    const w = enc.counts[c]! / n;
    for (let j = 0; j < d; j++) mean[j]! += w * means[c * d + j]!;
  }
  let extra = 0;
  for (let c = 0; c < enc.k; c++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const t = means[c * d + j]! - mean[j]!;
      s += t * t;
    }
    extra += enc.counts[c]! * s;
  }
  let intra = 0;
  for (const s of ownMeanSquaredDistances(X, enc, means)) intra += s;
  return intra === 0 ? 1 : (extra * (n - enc.k)) / (intra * (enc.k - 1));
}

/**
 * Davies-Bouldin index, scikit-learn's davies_bouldin_score: the mean over clusters of
 * max_{j≠i} (s_i + s_j) / ‖c_i − c_j‖, with s_i the mean distance of cluster i's rows to its
 * centroid; coincident centroids are skipped (distance treated as infinite). Returns 0 when all s_i or
 * all centroid distances are within 1e-8 of 0 (numpy allclose). Lower is better.
 */
export function daviesBouldin(X: Matrix, labels: Int32Array): number {
  checkInput('daviesBouldin', X, labels);
  const enc = encode(labels);
  const n = X.rows;
  const k = enc.k;
  checkLabelCount('daviesBouldin', k, n);
  const d = X.cols;
  const means = clusterMeans(X, enc);
  const intra = new Float64Array(k);
  const own = ownMeanSquaredDistances(X, enc, means);
  for (let i = 0; i < n; i++) intra[enc.codes[i]!]! += Math.sqrt(own[i]!);
  for (let c = 0; c < k; c++) intra[c]! /= enc.counts[c]!;
  const dist = new Float64Array(k * k);
  let allCentroidsClose = true;
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++) {
      let s = 0;
      for (let j = 0; j < d; j++) {
        const t = means[a * d + j]! - means[b * d + j]!;
        s += t * t;
      }
      const v = Math.sqrt(s);
      dist[a * k + b] = v;
      dist[b * k + a] = v;
      if (v > 1e-8) allCentroidsClose = false;
    }
  }
  let allIntraClose = true;
  for (let c = 0; c < k; c++) if (Math.abs(intra[c]!) > 1e-8) allIntraClose = false;
  if (allIntraClose || allCentroidsClose) return 0;
  let total = 0;
  for (let a = 0; a < k; a++) {
    let worst = Number.NEGATIVE_INFINITY;
    for (let b = 0; b < k; b++) {
      // sklearn: zero distances (including the diagonal) become +inf, so their ratio is 0.
      const v = dist[a * k + b]!;
      const r = v === 0 ? 0 : (intra[a]! + intra[b]!) / v;
      if (r > worst) worst = r;
    }
    total += worst;
  }
  return total / k;
}

export interface SilhouetteOptions {
  /** Rows to sample (without replacement); default min(n, 5000). At least n rows means all rows. */
  sampleSize?: number;
  /** Seed of the row sample (default 0). */
  seed?: number;
}

const DEFAULT_SILHOUETTE_SAMPLE = 5000;
/** Rows per tile in the pairwise silhouette loop (64 rows x 122 float64 columns = 62 KB). */
const TILE = 64;

/**
 * Mean silhouette coefficient, scikit-learn's silhouette_score with Euclidean distance, computed
 * exactly on a seeded random sample of rows (distances only among sampled rows, as scikit-learn does
 * with sample_size). Per row: a = mean distance to the other rows of its cluster, b = smallest mean
 * distance to the rows of another cluster, s = (b − a) / max(a, b); s = 0 for a row alone in its
 * cluster (and when a = b = 0). Ranges in [−1, 1]; higher is better. O(s²·d) time, O(s·k) memory.
 */
export function silhouetteScore(X: Matrix, labels: Int32Array, opts: SilhouetteOptions = {}): number {
  checkInput('silhouetteScore', X, labels);
  const { rows, P, s, d } = silhouetteSample(X, opts);
  const enc = sampleCodes(labels, rows);
  const k = enc.k;
  const codes = enc.codes;
  // sums[a * k + c] = sum of distances from sample row a to the rows of cluster c.
  const sums = new Float64Array(s * k);
  // Pairs are visited in square tiles of TILE rows so both tiles stay in cache.
  for (let a0 = 0; a0 < s; a0 += TILE) {
    const a1 = Math.min(s, a0 + TILE);
    for (let b0 = a0; b0 < s; b0 += TILE) {
      const b1 = Math.min(s, b0 + TILE);
      for (let a = a0; a < a1; a++) {
        const ca = codes[a]!;
        const ra = a * k;
        for (let b = b0 === a0 ? a + 1 : b0; b < b1; b++) {
          const dist = pairDistance(P, a * d, b * d, d);
          sums[ra + codes[b]!]! += dist;
          sums[b * k + ca]! += dist;
        }
      }
    }
  }
  return meanSilhouette(sums, codes, enc.counts, k, s);
}

/** The sampled rows (ascending) of a silhouette of X and their values gathered into one block. */
function silhouetteSample(
  X: Matrix,
  opts: SilhouetteOptions,
): { rows: Int32Array; P: Float64Array; s: number; d: number } {
  const n = X.rows;
  const d = X.cols;
  const requested = opts.sampleSize ?? Math.min(n, DEFAULT_SILHOUETTE_SAMPLE);
  if (!Number.isInteger(requested) || requested < 1) {
    throw optionError('silhouetteScore', 'sampleSize', 'an integer >= 1', opts.sampleSize);
  }
  const s = Math.min(requested, n);
  let rows: Int32Array;
  if (s === n) {
    rows = new Int32Array(n);
    for (let i = 0; i < n; i++) rows[i] = i;
  } else {
    rows = new Rng(opts.seed ?? 0).sample(n, s).sort(); // sorted: same mean, friendlier memory access
  }
  // Gather the sample into a contiguous float64 block.
  const P = new Float64Array(s * d);
  for (let a = 0; a < s; a++) {
    const src = rows[a]! * d;
    const dst = a * d;
    for (let j = 0; j < d; j++) P[dst + j] = X.data[src + j]!;
  }
  return { rows, P, s, d };
}

/** The labels of the sampled rows as cluster codes (2 to s − 1 clusters, else an InputError). */
function sampleCodes(labels: Int32Array, rows: Int32Array): Encoded {
  const s = rows.length;
  const sampleLabels = new Int32Array(s);
  for (let a = 0; a < s; a++) sampleLabels[a] = labels[rows[a]!]!;
  const enc = encode(sampleLabels);
  checkLabelCount('silhouetteScore', enc.k, s);
  return enc;
}

/** Euclidean distance of the rows starting at `oa` and `ob` of P (d values each; 4 partial sums). */
function pairDistance(P: Float64Array, oa: number, ob: number, d: number): number {
  const d4 = d - (d % 4);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j < d4; j += 4) {
    const t0 = P[oa + j]! - P[ob + j]!;
    const t1 = P[oa + j + 1]! - P[ob + j + 1]!;
    const t2 = P[oa + j + 2]! - P[ob + j + 2]!;
    const t3 = P[oa + j + 3]! - P[ob + j + 3]!;
    s0 += t0 * t0;
    s1 += t1 * t1;
    s2 += t2 * t2;
    s3 += t3 * t3;
  }
  for (; j < d; j++) {
    const t = P[oa + j]! - P[ob + j]!;
    s0 += t * t;
  }
  return Math.sqrt(s0 + s1 + s2 + s3);
}

/** Mean silhouette over the sample from its per-cluster distance sums (singletons count 0). */
function meanSilhouette(
  sums: Float64Array,
  codes: Int32Array,
  counts: ArrayLike<number>,
  k: number,
  s: number,
): number {
  let total = 0;
  for (let a = 0; a < s; a++) {
    const ca = codes[a]!;
    const size = counts[ca]!;
    if (size <= 1) continue; // singleton: s = 0
    const intra = sums[a * k + ca]! / (size - 1);
    let inter = Number.POSITIVE_INFINITY;
    for (let c = 0; c < k; c++) {
      if (c === ca) continue;
      const v = sums[a * k + c]! / counts[c]!;
      if (v < inter) inter = v;
    }
    const denom = Math.max(intra, inter);
    if (denom > 0) total += (inter - intra) / denom;
  }
  return total / s;
}

/**
 * The sampled rows of a silhouette and the distances between every pair of them, in the order
 * silhouetteFromPairs visits them. The sample depends only on the row count and the seed, so a
 * sweep over k computes these once and each k's silhouette costs O(s²) additions instead of
 * O(s²·d) (the result is bit-identical to silhouetteScore).
 */
export interface SilhouettePairs {
  /** Row count of the matrix the sample was drawn from. */
  readonly n: number;
  /** The sampled rows, ascending. */
  readonly rows: Int32Array;
  /** Euclidean distance of each pair (a < b) of sampled rows, tile by tile. */
  readonly dist: Float64Array;
}

/** The silhouette sample of X (see silhouetteScore for the options) and its pairwise distances. */
export function silhouettePairs(X: Matrix, opts: SilhouetteOptions = {}): SilhouettePairs {
  if (X.data.length !== X.rows * X.cols) {
    throw new InputError(
      `silhouetteScore: matrix data has ${X.data.length} values, expected rows × cols = ${X.rows * X.cols}`,
    );
  }
  const { rows, P, s, d } = silhouetteSample(X, opts);
  const dist = new Float64Array((s * (s - 1)) / 2);
  let at = 0;
  // The same tile order as silhouetteScore, so silhouetteFromPairs adds in the same order.
  for (let a0 = 0; a0 < s; a0 += TILE) {
    const a1 = Math.min(s, a0 + TILE);
    for (let b0 = a0; b0 < s; b0 += TILE) {
      const b1 = Math.min(s, b0 + TILE);
      for (let a = a0; a < a1; a++) {
        for (let b = b0 === a0 ? a + 1 : b0; b < b1; b++) dist[at++] = pairDistance(P, a * d, b * d, d);
      }
    }
  }
  return { n: X.rows, rows, dist };
}

/** The mean silhouette of `labels` (one per row of the sampled matrix) from precomputed pairs. */
export function silhouetteFromPairs(pairs: SilhouettePairs, labels: Int32Array): number {
  if (labels.length !== pairs.n) {
    throw new InputError(`silhouetteScore: ${labels.length} labels for ${pairs.n} rows`);
  }
  const { rows, dist } = pairs;
  const s = rows.length;
  const enc = sampleCodes(labels, rows);
  const k = enc.k;
  const codes = enc.codes;
  // sums[a * k + c] = sum of distances from sample row a to the rows of cluster c.
  const sums = new Float64Array(s * k);
  let at = 0;
  for (let a0 = 0; a0 < s; a0 += TILE) {
    const a1 = Math.min(s, a0 + TILE);
    for (let b0 = a0; b0 < s; b0 += TILE) {
      const b1 = Math.min(s, b0 + TILE);
      for (let a = a0; a < a1; a++) {
        const ca = codes[a]!;
        const ra = a * k;
        for (let b = b0 === a0 ? a + 1 : b0; b < b1; b++) {
          const v = dist[at++]!;
          sums[ra + codes[b]!]! += v;
          sums[b * k + ca]! += v;
        }
      }
    }
  }
  return meanSilhouette(sums, codes, enc.counts, k, s);
}

/**
 * The silhouette sample of X with its identical rows merged: the same sampled rows as
 * silhouettePairs, the distinct ones among them and the distance of every pair of distinct rows.
 * Data with many repeated rows (KDD Cup 99: a 3,000-row sample holds about a third as many distinct
 * rows) needs a fraction of the pairs; the silhouette is the same sum regrouped, equal to
 * silhouetteScore up to float64 rounding (not bit for bit: the additions run in another order).
 */
export interface SilhouetteDistinctPairs {
  /** Row count of the matrix the sample was drawn from. */
  readonly n: number;
  /** The sampled rows, ascending. */
  readonly rows: Int32Array;
  /** Distinct row (0 ≤ g < distinct) of each sampled row. */
  readonly group: Int32Array;
  readonly distinct: number;
  /** Euclidean distance of each pair (g < h) of distinct rows, row-major upper triangle. */
  readonly dist: Float64Array;
}

/** The silhouette sample of X (see silhouetteScore for the options), its distinct rows and their distances. */
export function silhouetteDistinctPairs(X: Matrix, opts: SilhouetteOptions = {}): SilhouetteDistinctPairs {
  if (X.data.length !== X.rows * X.cols) {
    throw new InputError(
      `silhouetteScore: matrix data has ${X.data.length} values, expected rows × cols = ${X.rows * X.cols}`,
    );
  }
  const { rows, P, s, d } = silhouetteSample(X, opts);
  const bytes = new Uint8Array(P.buffer, P.byteOffset, P.byteLength);
  const seen = new Map<string, number>();
  const group = new Int32Array(s);
  const first: number[] = [];
  for (let a = 0; a < s; a++) {
    const key = Buffer.from(bytes.subarray(a * d * 8, (a + 1) * d * 8)).toString('latin1');
    let g = seen.get(key);
    if (g === undefined) {
      g = first.length;
      seen.set(key, g);
      first.push(a);
    }
    group[a] = g;
  }
  const m = first.length;
  const dist = new Float64Array((m * (m - 1)) / 2);
  let at = 0;
  for (let g = 0; g < m; g++) {
    const oa = first[g]! * d;
    for (let h = g + 1; h < m; h++) dist[at++] = pairDistance(P, oa, first[h]! * d, d);
  }
  return { n: X.rows, rows, group, distinct: m, dist };
}

/** The mean silhouette of `labels` (one per row of the sampled matrix) from distinct-row pairs. */
export function silhouetteFromDistinctPairs(pairs: SilhouetteDistinctPairs, labels: Int32Array): number {
  if (labels.length !== pairs.n) {
    throw new InputError(`silhouetteScore: ${labels.length} labels for ${pairs.n} rows`);
  }
  const { rows, group, distinct: m, dist } = pairs;
  const s = rows.length;
  const enc = sampleCodes(labels, rows);
  const k = enc.k;
  // A unit: the sampled rows of one distinct row with one label (identical rows usually share it).
  const unitOf = new Map<number, number>();
  const unitGroup: number[] = [];
  const unitCode: number[] = [];
  const unitWeight: number[] = [];
  for (let a = 0; a < s; a++) {
    const key = group[a]! * k + enc.codes[a]!;
    let u = unitOf.get(key);
    if (u === undefined) {
      u = unitGroup.length;
      unitOf.set(key, u);
      unitGroup.push(group[a]!);
      unitCode.push(enc.codes[a]!);
      unitWeight.push(0);
    }
    unitWeight[u]!++;
  }
  const nu = unitGroup.length;
  // sums[u * k + c] = sum of distances from a row of unit u to the sampled rows of cluster c.
  const sums = new Float64Array(nu * k);
  for (let u = 0; u < nu; u++) {
    const g = unitGroup[u]!;
    const cu = unitCode[u]!;
    const wu = unitWeight[u]!;
    for (let v = u + 1; v < nu; v++) {
      const h = unitGroup[v]!;
      if (h === g) continue; // identical rows: distance 0
      const lo = Math.min(g, h);
      const hi = Math.max(g, h);
      const dd = dist[lo * m - (lo * (lo + 1)) / 2 + hi - lo - 1]!;
      sums[u * k + unitCode[v]!]! += unitWeight[v]! * dd;
      sums[v * k + cu]! += wu * dd;
    }
  }
  let total = 0;
  for (let u = 0; u < nu; u++) {
    const cu = unitCode[u]!;
    const size = enc.counts[cu]!;
    if (size <= 1) continue; // singleton: s = 0
    const intra = sums[u * k + cu]! / (size - 1);
    let inter = Number.POSITIVE_INFINITY;
    for (let c = 0; c < k; c++) {
      if (c === cu) continue;
      const v = sums[u * k + c]! / enc.counts[c]!;
      if (v < inter) inter = v;
    }
    const denom = Math.max(intra, inter);
    if (denom > 0) total += (unitWeight[u]! * (inter - intra)) / denom;
  }
  return total / s;
}

/**
 * calinskiHarabasz and daviesBouldin of the dense matrix that encoded, weighted distinct rows
 * stand for (features/encoded.ts, kmeans-encoded.ts weightedRows: `U` with `weight[u]` copies of
 * row u, labelled `labels[u]`), in one pass over the distinct rows and their numeric columns: a
 * cluster's mean in a one-hot block is the weight times the share of its rows with each code.
 * Equal to the dense functions up to float64 rounding.
 */
export function clusterIndicesEncoded(
  U: EncodedMatrix,
  weight: Float64Array,
  labels: Int32Array,
): { calinskiHarabasz: number; daviesBouldin: number } {
  if (labels.length !== U.rows || weight.length !== U.rows) {
    throw new InputError(
      `clusterIndicesEncoded: ${labels.length} labels, ${weight.length} weights for ${U.rows} rows`,
    );
  }
  const layout = U.layout;
  const dn = layout.numericColumns.length;
  const nc = layout.categorical.length;
  const blocks = layout.categorical;
  const slotOffset = new Int32Array(nc);
  let width = 0;
  blocks.forEach((b, f) => {
    slotOffset[f] = width;
    width += b.width;
  });
  const w = blocks.map((b) => Math.fround(b.weight));
  // cluster codes by first appearance, weighted sizes
  const map = new Map<number, number>();
  const codes = new Int32Array(U.rows);
  const sizes: number[] = [];
  let n = 0;
  for (let u = 0; u < U.rows; u++) {
    let c = map.get(labels[u]!);
    if (c === undefined) {
      c = sizes.length;
      map.set(labels[u]!, c);
      sizes.push(0);
    }
    sizes[c]! += weight[u]!;
    n += weight[u]!;
    codes[u] = c;
  }
  const k = sizes.length;
  checkLabelCount('calinskiHarabasz', k, n);
  const counts = Float64Array.from(sizes);
  // means: numeric (k × dn) and one-hot values (k × width, already times the block weight)
  const num = new Float64Array(k * dn);
  const hot = new Float64Array(k * width);
  for (let u = 0; u < U.rows; u++) {
    const c = codes[u]!;
    const wu = weight[u]!;
    for (let t = 0; t < dn; t++) num[c * dn + t]! += wu * U.numeric[u * dn + t]!;
    for (let f = 0; f < nc; f++) hot[c * width + slotOffset[f]! + U.codes[u * nc + f]!]! += wu;
  }
  // Σ_j mean² of each cluster's one-hot blocks, per field
  const sq = new Float64Array(k * nc);
  for (let c = 0; c < k; c++) {
    const inv = 1 / counts[c]!;
    for (let t = 0; t < dn; t++) num[c * dn + t]! *= inv;
    for (let f = 0; f < nc; f++) {
      const o = c * width + slotOffset[f]!;
      let q = 0;
      for (let j = 0; j < blocks[f]!.width; j++) {
        const v = hot[o + j]! * w[f]! * inv;
        hot[o + j] = v;
        q += v * v;
      }
      sq[c * nc + f] = q;
    }
  }
  // squared distance of every distinct row to its cluster's mean
  let intraSq = 0;
  const spread = new Float64Array(k);
  for (let u = 0; u < U.rows; u++) {
    const c = codes[u]!;
    let s = 0;
    for (let t = 0; t < dn; t++) {
      const v = U.numeric[u * dn + t]! - num[c * dn + t]!;
      s += v * v;
    }
    for (let f = 0; f < nc; f++) {
      const m = hot[c * width + slotOffset[f]! + U.codes[u * nc + f]!]!;
      s += Math.max(0, sq[c * nc + f]! - 2 * w[f]! * m + w[f]! * w[f]!);
    }
    intraSq += weight[u]! * s;
    spread[c]! += weight[u]! * Math.sqrt(s);
  }
  const meanDist = (a: number, b: number) => {
    let s = 0;
    for (let t = 0; t < dn; t++) {
      const v = num[a * dn + t]! - num[b * dn + t]!;
      s += v * v;
    }
    for (let j = 0; j < width; j++) {
      const v = hot[a * width + j]! - hot[b * width + j]!;
      s += v * v;
    }
    return s;
  };
  // Calinski-Harabasz: between-cluster dispersion against the overall mean
  const allNum = new Float64Array(dn);
  const allHot = new Float64Array(width);
  for (let c = 0; c < k; c++) {
    const share = counts[c]! / n;
    for (let t = 0; t < dn; t++) allNum[t]! += share * num[c * dn + t]!;
    for (let j = 0; j < width; j++) allHot[j]! += share * hot[c * width + j]!;
  }
  let extra = 0;
  for (let c = 0; c < k; c++) {
    let s = 0;
    for (let t = 0; t < dn; t++) {
      const v = num[c * dn + t]! - allNum[t]!;
      s += v * v;
    }
    for (let j = 0; j < width; j++) {
      const v = hot[c * width + j]! - allHot[j]!;
      s += v * v;
    }
    extra += counts[c]! * s;
  }
  const calinski = intraSq === 0 ? 1 : (extra * (n - k)) / (intraSq * (k - 1));
  // Davies-Bouldin, as daviesBouldin
  for (let c = 0; c < k; c++) spread[c]! /= counts[c]!;
  const dist = new Float64Array(k * k);
  let allCentroidsClose = true;
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++) {
      const v = Math.sqrt(meanDist(a, b));
      dist[a * k + b] = v;
      dist[b * k + a] = v;
      if (v > 1e-8) allCentroidsClose = false;
    }
  }
  let allIntraClose = true;
  for (let c = 0; c < k; c++) if (Math.abs(spread[c]!) > 1e-8) allIntraClose = false;
  let davies = 0;
  if (!(allIntraClose || allCentroidsClose)) {
    for (let a = 0; a < k; a++) {
      let worst = Number.NEGATIVE_INFINITY;
      for (let b = 0; b < k; b++) {
        const v = dist[a * k + b]!;
        const r = v === 0 ? 0 : (spread[a]! + spread[b]!) / v;
        if (r > worst) worst = r;
      }
      davies += worst;
    }
    davies /= k;
  }
  return { calinskiHarabasz: calinski, daviesBouldin: davies };
}
