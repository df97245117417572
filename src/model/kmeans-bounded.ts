/**
 * Lloyd's iterations on weighted encoded rows (kmeans-encoded.ts) in plain JavaScript, float64,
 * with Elkan's bounds (C. Elkan, "Using the triangle inequality to accelerate k-means", ICML
 * 2003): every row keeps an upper bound on the distance to its centre and a lower bound on its
 * distance to each centre. When the centres move, the bounds move by the centres' shifts, and a
 * distance is computed only where the bounds (or half the distance between two centres) no
 * longer prove the row's assignment. The assignments are those of a full float64 search
 * (engine-encoded.ts nearestEncodedJs) up to exact ties; bounds are widened by a relative 1e-12
 * against rounding.
 *
 * Meant for small distinct sets (an elbow sweep's sample: ~19,000 distinct rows, k ≤ 40, a
 * k-wide bound per row), where one engine call costs more than its arithmetic and, after the
 * first iterations, most rows need no distance at all.
 */
import type { EncodedMatrix } from '../features/encoded.ts';
import type { Matrix } from '../ingest/table.ts';
import { type EncodedCenters, encodedCenters, encodedDist2 } from './engine-encoded.ts';
import { ClusterSums, centerShift, type EncodedFit, type WeightedRows } from './kmeans-encoded.ts';

/** Bounds are widened by this relative margin against float64 rounding in the distances. */
const SLACK = 1e-12;

/**
 * Lloyd from `start` exactly as lloydEncoded (same update, convergence test and recounts), with
 * the bounded search for the assignment step.
 */
export function lloydBounded(W: WeightedRows, start: Matrix, maxIter: number, tolAbs: number): EncodedFit {
  const k = start.rows;
  const search = new BoundedSearch(W.U, k);
  const sums = new ClusterSums(W, k);
  let centers = start;
  let previous: Int32Array | null = null;
  let nIter = 0;
  let assigned = false;
  for (let it = 0; it < maxIter; it++) {
    nIter = it + 1;
    const labels = search.assign(centers);
    if (!previous || it % 25 === 0) sums.recount(labels);
    else if (sums.move(previous, labels) === 0) {
      assigned = true; // labels stable: converged, and already the assignment to these centres
      break;
    }
    const next = sums.centers(hasEmpty(sums.counts) ? search.minDist2(centers) : NO_DISTANCES);
    const shift = centerShift(centers, next);
    centers = next;
    previous = labels;
    if (shift <= tolAbs) break;
  }
  const labels = assigned ? search.labels : search.assign(centers);
  const dist2 = encodedDist2(W.U, encodedCenters(centers, W.U.layout), labels);
  let inertia = 0;
  for (let u = 0; u < W.U.rows; u++) inertia += W.weight[u]! * dist2[u]!;
  return { centers, labels: labels.slice(), dist2, inertia, nIter };
}

const NO_DISTANCES = new Float32Array(0);

function hasEmpty(counts: Float64Array): boolean {
  for (let c = 0; c < counts.length; c++) if (counts[c]! < 0.5) return true;
  return false;
}

/**
 * The nearest-centre search with Elkan's bounds (C. Elkan, "Using the triangle inequality to
 * accelerate k-means", ICML 2003), across the iterations of one Lloyd run: per row an upper
 * bound on the distance to its centre and a lower bound on the distance to each centre. Bounds
 * are stored against each centre's cumulative shift (`drift`), so moving the centres costs O(k),
 * not O(rows × k): a stored lower bound L means L − drift[c], a stored upper bound V means
 * V + drift[label].
 */
class BoundedSearch {
  /** Current centre of each row. */
  readonly labels: Int32Array;
  private readonly upper: Float64Array;
  /** Lower bounds, rows × k. */
  private readonly lower: Float64Array;
  /** Sum of each centre's shifts so far. */
  private readonly drift: Float64Array;
  private previous: Matrix | null = null;
  private readonly dn: number;
  private readonly nc: number;

  constructor(
    private readonly U: EncodedMatrix,
    private readonly k: number,
  ) {
    this.labels = new Int32Array(U.rows);
    this.upper = new Float64Array(U.rows);
    this.lower = new Float64Array(U.rows * k);
    this.drift = new Float64Array(k);
    this.dn = U.layout.numericColumns.length;
    this.nc = U.layout.categorical.length;
  }

  /** Assigns every row to its nearest centre of C; returns a copy of the labels. */
  assign(C: Matrix): Int32Array {
    const P = encodedCenters(C, this.U.layout);
    const m = this.U.rows;
    const k = this.k;
    const gap = centreGaps(C);
    const { labels, upper, lower, drift } = this;
    if (!this.previous) {
      for (let i = 0; i < m; i++) {
        const lo = i * k;
        let a = 0;
        let u2 = this.dist2Within(P, i, 0, Number.POSITIVE_INFINITY);
        let u = Math.sqrt(u2);
        lower[lo] = u;
        for (let c = 1; c < k; c++) {
          // d(i, c) ≥ d(a, c) − d(i, a): no need to compute it when that is ≥ d(i, a)
          const g = gap.between[a * k + c]!;
          if (g >= 2 * u * (1 + SLACK)) {
            lower[lo + c] = g - u;
            continue;
          }
          const v2 = this.dist2Within(P, i, c, u2);
          lower[lo + c] = Math.sqrt(v2);
          if (v2 < u2) {
            u2 = v2;
            u = Math.sqrt(v2);
            a = c;
          }
        }
        labels[i] = a;
        upper[i] = u;
      }
    } else {
      const delta = shifts(this.previous, C);
      let most = 0;
      for (let c = 0; c < k; c++) {
        drift[c]! += delta[c]!;
        most = Math.max(most, drift[c]!);
      }
      // rounding of the stored bounds is relative to the drift they were stored against
      const eps = 2 * SLACK * most;
      for (let i = 0; i < m; i++) {
        let a = labels[i]!;
        let u = upper[i]! + drift[a]!;
        if (u * (1 + SLACK) + eps <= gap.half[a]!) continue;
        // tighten the upper bound once (one distance), then test again before the k bounds
        const lo = i * k;
        let u2 = this.dist2Within(P, i, a, Number.POSITIVE_INFINITY);
        u = Math.sqrt(u2);
        lower[lo + a] = u + drift[a]!;
        if (u * (1 + SLACK) + eps <= gap.half[a]!) {
          upper[i] = u - drift[a]!;
          continue;
        }
        for (let c = 0; c < k; c++) {
          if (c === a) continue;
          const bound = Math.max(lower[lo + c]! - drift[c]!, gap.between[a * k + c]! / 2);
          if (u * (1 + SLACK) + eps <= bound) continue;
          const v2 = this.dist2Within(P, i, c, u2);
          lower[lo + c] = Math.sqrt(v2) + drift[c]!;
          if (v2 < u2) {
            u2 = v2;
            u = Math.sqrt(v2);
            a = c;
          }
        }
        labels[i] = a;
        upper[i] = u - drift[a]!;
      }
    }
    this.previous = C;
    return labels.slice();
  }

  /** Squared distance of each row to its current centre of C (for re-seeding empty clusters). */
  minDist2(C: Matrix): Float32Array {
    return Float32Array.from(encodedDist2(this.U, encodedCenters(C, this.U.layout), this.labels));
  }

  /**
   * Squared distance of row i to centre c, the categorical part first, then the numeric columns
   * eight at a time, stopping once the sum passes `limit`: the result is exact when ≤ limit and
   * otherwise a lower bound of the distance (a partial sum of squares), which is all Elkan needs.
   */
  private dist2Within(P: EncodedCenters, i: number, c: number, limit: number): number {
    const { dn, nc, k } = this;
    const codes = this.U.codes;
    let cat = P.catBase[c]!;
    for (let f = 0; f < nc; f++) cat += P.catTerms[f]![codes[i * nc + f]! * k + c]!;
    let s = Math.max(cat, 0);
    if (s > limit) return s;
    const x = this.U.numeric;
    const cn = P.numeric;
    const xo = i * dn;
    const co = c * dn;
    let t = 0;
    for (; t + 8 <= dn; t += 8) {
      for (let j = t; j < t + 8; j++) {
        const u = x[xo + j]! - cn[co + j]!;
        s += u * u;
      }
      if (s > limit) return s;
    }
    for (; t < dn; t++) {
      const u = x[xo + t]! - cn[co + t]!;
      s += u * u;
    }
    return s;
  }
}

/** How far each centre moved (Euclidean, widened by SLACK). */
function shifts(before: Matrix, after: Matrix): Float64Array {
  const k = after.rows;
  const d = after.cols;
  const delta = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const t = after.data[c * d + j]! - before.data[c * d + j]!;
      s += t * t;
    }
    delta[c] = Math.sqrt(s) * (1 + SLACK);
  }
  return delta;
}

/** Distances between the centres (k × k) and half of each centre's distance to its nearest other. */
function centreGaps(C: Matrix): { between: Float64Array; half: Float64Array } {
  const k = C.rows;
  const d = C.cols;
  const between = new Float64Array(k * k);
  const half = new Float64Array(k).fill(Number.POSITIVE_INFINITY);
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++) {
      let s = 0;
      for (let j = 0; j < d; j++) {
        const t = C.data[a * d + j]! - C.data[b * d + j]!;
        s += t * t;
      }
      const v = Math.sqrt(s) * (1 - SLACK);
      between[a * k + b] = v;
      between[b * k + a] = v;
      if (v / 2 < half[a]!) half[a] = v / 2;
      if (v / 2 < half[b]!) half[b] = v / 2;
    }
  }
  return { between, half };
}
