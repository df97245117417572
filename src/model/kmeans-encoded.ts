/**
 * Lloyd's K-Means and k-means++ seeding on encoded rows (features/encoded.ts: numeric columns +
 * one category code per field), fitted on the distinct rows with their counts as weights.
 *
 * Both are the dense algorithm of kmeans.ts, step for step, on less data:
 *   - a one-hot block has one non-zero, so the distance step is a product over the numeric
 *     columns plus a per-centre lookup (engine.nearestEncoded), and a centre's categorical
 *     columns are weight × (share of its rows with that code): counts, not sums of floats;
 *   - identical rows always share a cluster, so each distinct row counts once with its
 *     multiplicity (KDD Cup 99 10 %: 494,021 rows, 145,586 distinct), which leaves every sum,
 *     every centre and the inertia unchanged up to float64 rounding;
 *   - k-means++ draws its candidates over the original rows in their order (the cumulative
 *     potential runs over every row), so a seed picks the same rows as the dense seeding.
 * Centres come back dense (k × layout.cols, float32), as the dense path's.
 */
import type { EncodedMatrix } from '../features/encoded.ts';
import { dedupeEncoded } from '../features/encoded.ts';
import type { Matrix } from '../ingest/table.ts';
import type { DistanceEngine, NearestEncoded } from './engine.ts';
import type { Rng } from './random.ts';

/** Distinct encoded rows with their multiplicities. */
export interface WeightedRows {
  /** The distinct rows, in order of first appearance. */
  readonly U: EncodedMatrix;
  /** How many original rows each distinct row stands for. */
  readonly weight: Float64Array;
  /** Distinct row of every original row, or null when every row is distinct. */
  readonly inverse: Int32Array | null;
  /** Original row count. */
  readonly n: number;
}

/** The distinct rows of E with their weights. */
export function weightedRows(E: EncodedMatrix): WeightedRows {
  const { unique, inverse } = dedupeEncoded(E);
  const weight = new Float64Array(unique.rows);
  if (inverse) for (let i = 0; i < inverse.length; i++) weight[inverse[i]!]! += 1;
  else weight.fill(1);
  return { U: unique, weight, inverse, n: E.rows };
}

/** Engines with the encoded search (the others fit on the dense expansion). */
export type EncodedEngine = DistanceEngine & Required<Pick<DistanceEngine, 'nearestEncoded'>>;

/** Dense float32 copies of distinct rows (as expandEncoded writes them). */
function denseRows(U: EncodedMatrix, index: ArrayLike<number>): Matrix {
  const { cols, numericColumns, categorical } = U.layout;
  const dn = numericColumns.length;
  const nc = categorical.length;
  const data = new Float32Array(index.length * cols);
  for (let r = 0; r < index.length; r++) {
    const u = index[r]!;
    const o = r * cols;
    for (let t = 0; t < dn; t++) data[o + numericColumns[t]!] = U.numeric[u * dn + t]!;
    for (let f = 0; f < nc; f++) {
      const b = categorical[f]!;
      data[o + b.offset + U.codes[u * nc + f]!] = b.weight;
    }
  }
  return { data, rows: index.length, cols };
}

const distinctOf = (W: WeightedRows, row: number) => (W.inverse ? W.inverse[row]! : row);

/**
 * k-means++ (greedy, 2 + ln k trials per centre) or k random rows, as kmeans.ts's initialCenters
 * (the numeric part of the distances on the engine, float32, as there). With the same rng and
 * the same `trials`, the first j centres do not depend on k: an elbow sweep seeds the largest k
 * of each trial count once and takes prefixes (select-k.ts).
 */
export async function initialCentersEncoded(
  W: WeightedRows,
  k: number,
  init: 'k-means++' | 'random',
  engine: DistanceEngine,
  rng: Rng,
  trials = kmeansPlusPlusTrials(k),
): Promise<Matrix> {
  const { U, weight, inverse, n } = W;
  if (init === 'random')
    return denseRows(
      U,
      Array.from(rng.sample(n, k), (i) => distinctOf(W, i)),
    );
  const m = U.rows;
  const d = U.layout.cols;
  const centers = new Float32Array(k * d);
  const firstRow = distinctOf(W, rng.int(n));
  centers.set(denseRows(U, [firstRow]).data, 0);
  const closest = new Float64Array(m);
  await rowDistances(U, [firstRow], [closest], engine);
  let pot = 0;
  for (let u = 0; u < m; u++) pot += weight[u]! * closest[u]!;
  const cumulative = new Float64Array(n);
  const dist = Array.from({ length: trials }, () => new Float64Array(m));
  const candidates = new Int32Array(trials);
  for (let c = 1; c < k; c++) {
    let acc = 0;
    if (inverse) {
      for (let i = 0; i < n; i++) {
        acc += closest[inverse[i]!]!;
        cumulative[i] = acc;
      }
    } else {
      for (let i = 0; i < n; i++) {
        acc += closest[i]!;
        cumulative[i] = acc;
      }
    }
    for (let t = 0; t < trials; t++) {
      candidates[t] = distinctOf(W, Math.min(n - 1, searchSorted(cumulative, rng.next() * pot)));
    }
    await rowDistances(U, candidates, dist, engine);
    let bestT = 0;
    let bestPot = Number.POSITIVE_INFINITY;
    for (let t = 0; t < trials; t++) {
      const dt = dist[t]!;
      let p = 0;
      for (let u = 0; u < m; u++) p += weight[u]! * Math.min(closest[u]!, dt[u]!);
      if (p < bestPot) {
        bestPot = p;
        bestT = t;
      }
    }
    const db = dist[bestT]!;
    for (let u = 0; u < m; u++) closest[u] = Math.min(closest[u]!, db[u]!);
    pot = bestPot;
    centers.set(denseRows(U, [candidates[bestT]!]).data, c * d);
  }
  return { data: centers, rows: k, cols: d };
}

/** Candidates per centre of greedy k-means++ (scikit-learn's 2 + ⌊ln k⌋). */
export function kmeansPlusPlusTrials(k: number): number {
  return 2 + Math.floor(Math.log(k));
}

/**
 * Squared distances from every distinct row to each of the distinct rows `targets` (out[t][u]):
 * the numeric part on the engine (float32, as the dense seeding's), plus 2·w² per categorical
 * field whose codes differ (two one-hot blocks).
 */
async function rowDistances(
  U: EncodedMatrix,
  targets: ArrayLike<number>,
  out: Float64Array[],
  engine: DistanceEngine,
): Promise<void> {
  const dn = U.layout.numericColumns.length;
  const nc = U.layout.categorical.length;
  const codes = U.codes;
  const differ = U.layout.categorical.map((b) => 2 * Math.fround(b.weight) * Math.fround(b.weight));
  const T = targets.length;
  const tx = new Float32Array(T * dn);
  const tc = new Int32Array(T * nc);
  for (let t = 0; t < T; t++) {
    const v = targets[t]!;
    tx.set(U.numeric.subarray(v * dn, (v + 1) * dn), t * dn);
    for (let f = 0; f < nc; f++) tc[t * nc + f] = codes[v * nc + f]!;
  }
  const num =
    dn > 0
      ? await engine.distances({ data: U.numeric, rows: U.rows, cols: dn }, { data: tx, rows: T, cols: dn })
      : new Float32Array(U.rows * T);
  for (let u = 0; u < U.rows; u++) {
    for (let t = 0; t < T; t++) {
      let s = num[u * T + t]!;
      for (let f = 0; f < nc; f++) if (codes[u * nc + f] !== tc[t * nc + f]) s += differ[f]!;
      out[t]![u] = s;
    }
  }
}

/** First index whose cumulative weight reaches `value` (k-means++ draws; dense and encoded). */
export function searchSorted(cumulative: Float64Array, value: number): number {
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Per-centre weighted sums: the numeric columns (k × numeric columns) and, per centre, the
 * weighted count of each categorical slot (k × Σ widths, in the layout's order).
 */
export class ClusterSums {
  readonly numeric: Float64Array;
  readonly slots: Float64Array;
  readonly counts: Float64Array;
  private readonly dn: number;
  private readonly nc: number;
  /** First slot of each categorical field within a centre's slots. */
  private readonly slotOffset: Int32Array;
  private readonly slotWidth: number;

  constructor(
    private readonly W: WeightedRows,
    k: number,
  ) {
    const layout = W.U.layout;
    this.dn = layout.numericColumns.length;
    this.nc = layout.categorical.length;
    this.slotOffset = new Int32Array(this.nc);
    let width = 0;
    layout.categorical.forEach((b, f) => {
      this.slotOffset[f] = width;
      width += b.width;
    });
    this.slotWidth = width;
    this.numeric = new Float64Array(k * this.dn);
    this.slots = new Float64Array(k * width);
    this.counts = new Float64Array(k);
  }

  recount(labels: Int32Array): void {
    this.numeric.fill(0);
    this.slots.fill(0);
    this.counts.fill(0);
    for (let u = 0; u < labels.length; u++) this.add(u, labels[u]!, this.W.weight[u]!);
  }

  /** Moves the distinct rows whose label changed; returns how many moved. */
  move(before: Int32Array, after: Int32Array): number {
    let moved = 0;
    for (let u = 0; u < after.length; u++) {
      const a = before[u]!;
      const b = after[u]!;
      if (a === b) continue;
      moved++;
      const w = this.W.weight[u]!;
      this.add(u, a, -w);
      this.add(u, b, w);
    }
    return moved;
  }

  private add(u: number, c: number, w: number): void {
    const { dn, nc } = this;
    const x = this.W.U.numeric;
    const codes = this.W.U.codes;
    this.counts[c]! += w;
    const o = c * dn;
    const xo = u * dn;
    for (let t = 0; t < dn; t++) this.numeric[o + t]! += w * x[xo + t]!;
    const so = c * this.slotWidth;
    for (let f = 0; f < nc; f++) this.slots[so + this.slotOffset[f]! + codes[u * nc + f]!]! += w;
  }

  /** Mean of each cluster as a dense float32 centre; empty clusters take the farthest rows. */
  centers(minDist2: Float32Array): Matrix {
    const layout = this.W.U.layout;
    const d = layout.cols;
    const k = this.counts.length;
    const { dn, slotWidth } = this;
    const out = new Float32Array(k * d);
    const empty: number[] = [];
    for (let c = 0; c < k; c++) {
      const n = this.counts[c]!;
      if (n < 0.5) {
        empty.push(c);
        continue;
      }
      for (let t = 0; t < dn; t++) out[c * d + layout.numericColumns[t]!] = this.numeric[c * dn + t]! / n;
      layout.categorical.forEach((b, f) => {
        // The dense sum of a hot column is (rows with that code) × the float32 weight, exactly.
        const w = Math.fround(b.weight);
        const so = c * slotWidth + this.slotOffset[f]!;
        for (let j = 0; j < b.width; j++) out[c * d + b.offset + j] = (this.slots[so + j]! * w) / n;
      });
    }
    if (empty.length > 0) {
      const far = topIndices(minDist2, empty.length);
      const rows = denseRows(this.W.U, far);
      empty.forEach((c, e) => {
        out.set(rows.data.subarray(e * d, (e + 1) * d), c * d);
      });
    }
    return { data: out, rows: k, cols: d };
  }
}

/** Indices of the m largest values (for re-seeding empty clusters; dense and encoded Lloyd). */
export function topIndices(values: Float32Array, m: number): number[] {
  const idx = Array.from(values.keys());
  idx.sort((a, b) => values[b]! - values[a]!);
  return idx.slice(0, m);
}

/** Squared Frobenius distance between two centre matrices (the convergence test). */
export function centerShift(a: Matrix, b: Matrix): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) {
    const t = a.data[i]! - b.data[i]!;
    s += t * t;
  }
  return s;
}

export interface EncodedFit {
  centers: Matrix;
  /** Label of every distinct row. */
  labels: Int32Array;
  /** Exact squared distance of every distinct row to its centre. */
  dist2: Float64Array;
  /** Σ weight × dist2: the inertia over the original rows. */
  inertia: number;
  nIter: number;
}

/**
 * Lloyd iterations from `start`, as kmeans.ts's dense loop: per-centre sums kept across
 * iterations and updated for the rows that changed cluster (a full recount every 25), stop when
 * no row moves or the centres move by at most tolAbs (squared), then a final assignment.
 */
export async function lloydEncoded(
  W: WeightedRows,
  start: Matrix,
  engine: EncodedEngine,
  maxIter: number,
  tolAbs: number,
): Promise<EncodedFit> {
  const sums = new ClusterSums(W, start.rows);
  let centers = start;
  let previous: Int32Array | null = null;
  let last: NearestEncoded | null = null;
  let nIter = 0;
  for (let it = 0; it < maxIter; it++) {
    nIter = it + 1;
    const r = (await engine.nearestEncoded(W.U, [centers]))[0]!;
    if (!previous || it % 25 === 0) sums.recount(r.labels);
    else if (sums.move(previous, r.labels) === 0) {
      last = r; // labels stable: converged, and r is already the assignment to these centres
      break;
    }
    const next = sums.centers(r.minDist2);
    const shift = centerShift(centers, next);
    centers = next;
    previous = r.labels;
    if (shift <= tolAbs) break;
  }
  const final = last ?? (await engine.nearestEncoded(W.U, [centers]))[0]!;
  let inertia = 0;
  for (let u = 0; u < W.U.rows; u++) inertia += W.weight[u]! * final.dist2[u]!;
  return { centers, labels: final.labels, dist2: final.dist2, inertia, nIter };
}

/** Mean over the dense columns of their variance (kmeans.ts's tolerance scale), from the weighted rows. */
export function meanVarianceEncoded(W: WeightedRows): number {
  const { U, weight, n } = W;
  const layout = U.layout;
  const dn = layout.numericColumns.length;
  const nc = layout.categorical.length;
  const variance = new Float64Array(layout.cols);
  const mean = new Float64Array(dn);
  const sq = new Float64Array(dn);
  const slots = layout.categorical.map((b) => new Float64Array(b.width));
  for (let u = 0; u < U.rows; u++) {
    const w = weight[u]!;
    for (let t = 0; t < dn; t++) {
      const v = U.numeric[u * dn + t]!;
      mean[t]! += w * v;
      sq[t]! += w * v * v;
    }
    for (let f = 0; f < nc; f++) slots[f]![U.codes[u * nc + f]!]! += w;
  }
  for (let t = 0; t < dn; t++) {
    const m = mean[t]! / n;
    variance[layout.numericColumns[t]!] = Math.max(0, sq[t]! / n - m * m);
  }
  layout.categorical.forEach((b, f) => {
    const w = Math.fround(b.weight);
    for (let j = 0; j < b.width; j++) {
      const m = (slots[f]![j]! * w) / n;
      variance[b.offset + j] = Math.max(0, (slots[f]![j]! * w * w) / n - m * m);
    }
  });
  let total = 0;
  for (let j = 0; j < layout.cols; j++) total += variance[j]!;
  return total / layout.cols;
}

/** Labels of the original rows from the labels of the distinct rows. */
export function expandLabels(W: WeightedRows, labels: Int32Array): Int32Array {
  if (!W.inverse) return labels;
  const out = new Int32Array(W.n);
  for (let i = 0; i < W.n; i++) out[i] = labels[W.inverse[i]!]!;
  return out;
}
