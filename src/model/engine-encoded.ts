/**
 * Distances for encoded rows (features/encoded.ts): numeric columns dense, one code per
 * categorical field. A categorical block of a row is one-hot with value w (the field weight), so
 *
 *   ‖x − c‖² = ‖x_num − c_num‖² + Σ_f (w_f² − 2·w_f·c[off_f + code_f]) + ‖c_cat‖²
 *
 * and only the numeric columns need a product with the centres; the categorical part is a
 * lookup per centre. This module holds what every engine shares: the per-centre tables (built
 * once per centre matrix), the exact float64 distance to a given centre, and the reference
 * (plain JS, float64) nearest-centre search.
 */

import { InputError } from '../errors.ts';
import { type EncodedLayout, type EncodedMatrix, sameLayout } from '../features/encoded.ts';
import type { Matrix } from '../ingest/table.ts';
import type { NearestEncoded } from './engine.ts';

/** A centre matrix split the way encoded rows are, float64 where it is summed. */
export interface EncodedCenters {
  readonly k: number;
  readonly layout: EncodedLayout;
  /** The numeric columns of the centres, k × numeric columns (float32, as in C). */
  readonly numeric: Float32Array;
  /** ‖c_num‖² per centre. */
  readonly numericNorm: Float64Array;
  /** ‖c_cat‖² + Σ_f w_f² per centre: the categorical part before the row's codes. */
  readonly catBase: Float64Array;
  /** Per categorical field: −2·w_f·c[off_f + j] at [j·k + c] (code-major: a code selects k values). */
  readonly catTerms: readonly Float64Array[];
}

const centersCache = new WeakMap<Float32Array, Map<EncodedLayout, EncodedCenters>>();

/** The encoded split of a centre matrix (cached per centre matrix and layout). */
export function encodedCenters(C: Matrix, layout: EncodedLayout): EncodedCenters {
  let byLayout = centersCache.get(C.data);
  const cached = byLayout?.get(layout);
  if (cached) return cached;
  if (C.cols !== layout.cols) {
    throw new InputError(`encoded rows have ${layout.cols} features, but the centres have ${C.cols}`);
  }
  const k = C.rows;
  const d = C.cols;
  const cols = layout.numericColumns;
  const dn = cols.length;
  const numeric = new Float32Array(k * dn);
  const numericNorm = new Float64Array(k);
  const catBase = new Float64Array(k);
  const catTerms = layout.categorical.map((b) => new Float64Array(b.width * k));
  for (let c = 0; c < k; c++) {
    let n = 0;
    for (let t = 0; t < dn; t++) {
      const v = C.data[c * d + cols[t]!]!;
      numeric[c * dn + t] = v;
      n += v * v;
    }
    numericNorm[c] = n;
    let base = 0;
    layout.categorical.forEach((b, f) => {
      const w = Math.fround(b.weight);
      base += w * w;
      const terms = catTerms[f]!;
      for (let j = 0; j < b.width; j++) {
        const v = C.data[c * d + b.offset + j]!;
        base += v * v;
        terms[j * k + c] = -2 * w * v;
      }
    });
    catBase[c] = base;
  }
  const out: EncodedCenters = { k, layout, numeric, numericNorm, catBase, catTerms };
  if (!byLayout) {
    byLayout = new Map();
    centersCache.set(C.data, byLayout);
  }
  byLayout.set(layout, out);
  return out;
}

/**
 * Exact (float64) squared distance from each encoded row to its given centre: Σ(x − c)² over
 * the numeric columns plus the categorical part (from the tables).
 */
export function encodedDist2(E: EncodedMatrix, P: EncodedCenters, labels: Int32Array): Float64Array {
  return encodedDist2Runs(E, [P], [labels])[0]!;
}

/**
 * encodedDist2 for several centre sets at once (the runs of an ensemble), row by row so each
 * row's numeric values are read once for every run. The numeric sum runs on four accumulators
 * (columns t ≡ 0, 1, 2, 3 mod 4, added pairwise at the end): one running sum waits on each
 * addition, four keep the core busy (the order of the float64 sums changes, not their exactness).
 */
export function encodedDist2Runs(
  E: EncodedMatrix,
  tables: readonly EncodedCenters[],
  labels: readonly Int32Array[],
): Float64Array[] {
  for (const P of tables) checkLayout(E, P);
  const dn = E.layout.numericColumns.length;
  const nc = E.layout.categorical.length;
  const out = tables.map(() => new Float64Array(E.rows));
  const x = E.numeric;
  const codes = E.codes;
  const d4 = dn - (dn % 4);
  for (let i = 0; i < E.rows; i++) {
    const xo = i * dn;
    for (let r = 0; r < tables.length; r++) {
      const P = tables[r]!;
      const cn = P.numeric;
      const c = labels[r]![i]!;
      const co = c * dn;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let t = 0;
      for (; t < d4; t += 4) {
        const u0 = x[xo + t]! - cn[co + t]!;
        const u1 = x[xo + t + 1]! - cn[co + t + 1]!;
        const u2 = x[xo + t + 2]! - cn[co + t + 2]!;
        const u3 = x[xo + t + 3]! - cn[co + t + 3]!;
        s0 += u0 * u0;
        s1 += u1 * u1;
        s2 += u2 * u2;
        s3 += u3 * u3;
      }
      for (; t < dn; t++) {
        const u = x[xo + t]! - cn[co + t]!;
        s0 += u * u;
      }
      let cat = P.catBase[c]!;
      for (let f = 0; f < nc; f++) cat += P.catTerms[f]![codes[i * nc + f]! * P.k + c]!;
      out[r]![i] = s0 + s1 + (s2 + s3) + Math.max(cat, 0);
    }
  }
  return out;
}

/**
 * The reference nearest-centre search for encoded rows: for each centre set, every row against
 * every centre in float64 (the numeric part as Σ(x − c)², the categorical part from the tables).
 * Same labels as the dense search except for exact ties; dist2 as encodedDist2.
 */
export function nearestEncodedJs(E: EncodedMatrix, centers: readonly Matrix[]): NearestEncoded[] {
  const dn = E.layout.numericColumns.length;
  const nc = E.layout.categorical.length;
  const x = E.numeric;
  return centers.map((C) => {
    const P = encodedCenters(C, E.layout);
    checkLayout(E, P);
    const k = P.k;
    const labels = new Int32Array(E.rows);
    const dist2 = new Float64Array(E.rows);
    const cat = new Float64Array(k);
    const cn = P.numeric;
    for (let i = 0; i < E.rows; i++) {
      cat.set(P.catBase);
      for (let f = 0; f < nc; f++) {
        const terms = P.catTerms[f]!;
        const o = E.codes[i * nc + f]! * k;
        for (let c = 0; c < k; c++) cat[c]! += terms[o + c]!;
      }
      const xo = i * dn;
      let best = Number.POSITIVE_INFINITY;
      let arg = 0;
      for (let c = 0; c < k; c++) {
        let s = 0;
        const co = c * dn;
        for (let t = 0; t < dn; t++) {
          const u = x[xo + t]! - cn[co + t]!;
          s += u * u;
        }
        s += Math.max(cat[c]!, 0);
        if (s < best) {
          best = s;
          arg = c;
        }
      }
      labels[i] = arg;
      dist2[i] = best;
    }
    return { labels, dist2, minDist2: Float32Array.from(dist2) };
  });
}

/**
 * Combined index of each row's category codes (field 0 most significant), for engines that
 * look the categorical part up per combination; `combos` is the number of combinations.
 */
export function comboIndex(E: EncodedMatrix): { index: Int32Array; combos: number } {
  const blocks = E.layout.categorical;
  const nc = blocks.length;
  const index = new Int32Array(E.rows);
  for (let i = 0; i < E.rows; i++) {
    let q = 0;
    for (let f = 0; f < nc; f++) q = q * blocks[f]!.width + E.codes[i * nc + f]!;
    index[i] = q;
  }
  return { index, combos: comboCount(E.layout) };
}

/** Number of category-code combinations of a layout (the product of the block widths). */
export function comboCount(layout: EncodedLayout): number {
  let n = 1;
  for (const b of layout.categorical) n *= b.width;
  return n;
}

/**
 * Per combination of codes q and centre c: ‖c_num‖² + the categorical part of the distance
 * (float64 sums, rounded once to float32), [q·k + c]. Combinations enumerate as comboIndex.
 */
export function comboTable(P: EncodedCenters): Float32Array {
  const k = P.k;
  let table = new Float64Array(k);
  for (let c = 0; c < k; c++) table[c] = P.numericNorm[c]! + P.catBase[c]!;
  let combos = 1;
  P.layout.categorical.forEach((b, f) => {
    const terms = P.catTerms[f]!;
    const next = new Float64Array(combos * b.width * k);
    for (let q = 0; q < combos; q++) {
      for (let j = 0; j < b.width; j++) {
        const o = (q * b.width + j) * k;
        for (let c = 0; c < k; c++) next[o + c] = table[q * k + c]! + terms[j * k + c]!;
      }
    }
    table = next;
    combos *= b.width;
  });
  return Float32Array.from(table);
}

function checkLayout(E: EncodedMatrix, P: EncodedCenters): void {
  if (!sameLayout(E.layout, P.layout)) {
    throw new InputError('encoded rows and centre tables were built for different preprocessing layouts');
  }
}
