/**
 * Per-field rarity (a field-tail score in the spirit of HBOS and per-feature tail p-values), the
 * part of the detector that sees ONE field far outside its benign range when the K-Means distance
 * over ~100 scaled columns does not (a field constant in training has std 0 → scale 1, so an
 * attack's extreme value in it adds little to a long distance vector).
 *
 * Fitted on the benign fitting rows only, in the preprocessed (encoded) space, where every
 * numeric value is a monotone (log1p, then affine) image of the raw one, so tail probabilities
 * are those of the raw values:
 * - numeric field: upper-tail probability p⁺(x) = (#{v ≥ x} + 1)/(n + 1) over the n training
 *   values (the conformal p-value of a new value); beyond the training maximum it keeps falling,
 *   p⁺ = exp(−(x − max)/s)/(n + 1) with s the field's spread (its std in the encoded space, 1 when
 *   the field was constant: one log unit). With `tails: 'both'` the lower tail likewise, and the
 *   field's p = min(1, 2·min(p⁺, p⁻)). The distribution is kept as its distinct values with tail
 *   counts (all near either end, a grid in between), so the state stays small.
 * - categorical field: p(c) = (share of training rows whose category is at most as frequent as
 *   c's) with +1 smoothing; an unseen category gets the Good-Turing mass of novelty, (rows in
 *   singleton categories + 1)/(n + 1).
 * - combination over the m fields: Bonferroni min-p, P = min(1, m · min_j p_j) — a tail
 *   probability again (conservative under correlated fields), with the field that gave it.
 * - both parts onto one tail-probability scale (`calibrate`, on the detector's benign
 *   calibration rows: out-of-group scores when grouped, leave-one-out otherwise — never the
 *   fitting rows' own, optimistic, values): the rarity's tail probability p_r = S(P), the
 *   (weighted) share of calibration rows whose P is at most as large, and the K-Means score with
 *   that same tail probability among the calibration K-Means scores, t = Q_km(1 − p_r) (an
 *   exponential tail beyond the highest). The detector scores max(K-Means score, t), i.e. the
 *   smaller of the two tail probabilities read in K-Means units: a row with no rare field keeps
 *   its K-Means score exactly. The threshold and host scores are then calibrated on the same
 *   calibration rows' combined scores, so the FPR meaning is kept.
 */
import { z } from 'zod';
import { InputError } from '../errors.ts';
import type { EncodedLayout, EncodedMatrix } from '../features/encoded.ts';
import type { Matrix } from '../ingest/table.ts';

export const FIELD_TAIL_VERSION = 1;

/** Distinct values kept at each end of a numeric field (exact tail counts there). */
const TAIL_KNOTS = 64;
/** Grid points kept between the two ends. */
const MID_KNOTS = 192;
/** Levels of the K-Means score quantile function kept (geometric in the tail probability). */
const SCORE_LEVELS = 160;

export interface FieldTailOptions {
  /** 'upper': only high values are rare; 'both': high and low values. */
  tails: 'upper' | 'both';
}

export interface NumericTail {
  field: string;
  /** Distinct training values (ascending, a subset: every value near either end, a grid between). */
  values: number[];
  /** #{training values ≥ values[i]}. */
  atLeast: number[];
  /** #{training values ≤ values[i]}. */
  atMost: number[];
  /** Spread of the extrapolated tail beyond the training range (encoded units). */
  spread: number;
}

export interface CategoricalTail {
  field: string;
  /** Tail probability of each code of the field's one-hot block (last = unknown category). */
  p: number[];
}

export interface FieldTailState {
  version: typeof FIELD_TAIL_VERSION;
  options: FieldTailOptions;
  rows: number;
  numeric: NumericTail[];
  categorical: CategoricalTail[];
  /** Set by `calibrate`: S(P) (ascending P and its tail share) and Q_km (descending p, scores). */
  calibration?: {
    rarity: { P: number[]; share: number[] };
    kmeans: { p: number[]; score: number[]; tailScale: number };
  };
}

/** Per-row rarity: the Bonferroni min-p P over fields and the field that gave it. */
export interface FieldTailScores {
  /** Bonferroni min-p over fields (1 = nothing rare). */
  p: Float64Array;
  /** Field (index into `fieldNames`) with the smallest p (−1: none below 1). */
  field: Int32Array;
}

const finite = z.number().finite();
const count = z.number().int().min(0);
/** What a model file may hold as a field tail (validated on load: files come from strangers). */
export const FieldTailStateSchema = z.object({
  version: z.literal(FIELD_TAIL_VERSION),
  options: z.object({ tails: z.enum(['upper', 'both']) }),
  rows: z.number().int().min(2),
  numeric: z.array(
    z
      .object({
        field: z.string(),
        values: z.array(finite).min(1),
        atLeast: z.array(count),
        atMost: z.array(count),
        spread: finite.positive(),
      })
      .refine((f) => f.atLeast.length === f.values.length && f.atMost.length === f.values.length, {
        message: 'tail counts and values differ in length',
      }),
  ),
  categorical: z.array(z.object({ field: z.string(), p: z.array(z.number().min(0).max(1)).min(1) })),
  calibration: z.object({
    rarity: z
      .object({ P: z.array(z.number().min(0).max(1)).min(1), share: z.array(z.number().gt(0).max(1)).min(1) })
      .refine((r) => r.P.length === r.share.length, { message: 'rarity knots differ in length' }),
    kmeans: z
      .object({
        p: z.array(z.number().gt(0).max(1)).min(1),
        score: z.array(finite).min(1),
        tailScale: finite.positive(),
      })
      .refine((k) => k.p.length === k.score.length, { message: 'score levels differ in length' }),
  }),
});

export class FieldTail {
  readonly state: FieldTailState;

  private constructor(state: FieldTailState) {
    this.state = state;
  }

  /**
   * From a saved state, checked against the schema and (with `layout`) against the model's
   * preprocessing: one entry per numeric column, one probability per one-hot slot.
   */
  static fromState(state: FieldTailState, layout?: EncodedLayout): FieldTail {
    const parsed = FieldTailStateSchema.safeParse(state);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      throw new InputError(
        `field tail: ${i.path.join('.').slice(0, 80)}: ${i.message.split('\n')[0]!.slice(0, 120)}`,
      );
    }
    if (layout) {
      const widths = layout.categorical.map((b) => b.width);
      if (
        state.numeric.length !== layout.numericColumns.length ||
        state.categorical.length !== widths.length ||
        state.categorical.some((c, f) => c.p.length !== widths[f] || c.field !== layout.categorical[f]!.field)
      ) {
        throw new InputError("field tail: its fields do not match the model's preprocessing");
      }
    }
    return new FieldTail(state);
  }

  /**
   * Fit on the encoded fitting rows and the K-Means scores of the same rows (training rows only:
   * meant to be benign).
   */
  static fit(E: EncodedMatrix, options: FieldTailOptions, numericNames: readonly string[]): FieldTail {
    const n = E.rows;
    if (n < 2) throw new InputError('field tail: need at least 2 fitting rows');
    const { layout } = E;
    const dn = layout.numericColumns.length;
    const nc = layout.categorical.length;
    if (numericNames.length !== dn) throw new InputError('field tail: one name per numeric column needed');
    const col = new Float64Array(n);
    const numeric: NumericTail[] = [];
    for (let t = 0; t < dn; t++) {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const v = E.numeric[i * dn + t]!;
        col[i] = v;
        sum += v;
      }
      col.sort();
      const mean = sum / n;
      let ss = 0;
      for (let i = 0; i < n; i++) ss += (col[i]! - mean) ** 2;
      const std = Math.sqrt(ss / n);
      numeric.push({ field: numericNames[t]!, ...knots(col), spread: std > 1e-9 ? std : 1 });
    }
    const categorical: CategoricalTail[] = layout.categorical.map((b, f) => {
      const counts = new Float64Array(b.width);
      for (let i = 0; i < n; i++) counts[E.codes[i * nc + f]!]!++;
      let singles = 0;
      for (const c of counts) if (c === 1) singles++;
      // mass of categories at most as frequent as each count
      const order = [...counts.keys()].filter((c) => counts[c]! > 0).sort((a, b) => counts[a]! - counts[b]!);
      const p = new Array<number>(b.width).fill((singles + 1) / (n + 1));
      let mass = 0;
      for (let r = 0; r < order.length; ) {
        let e = r;
        while (e < order.length && counts[order[e]!] === counts[order[r]!]) mass += counts[order[e++]!]!;
        for (let j = r; j < e; j++) p[order[j]!] = Math.min(1, (mass + 1) / (n + 1));
        r = e;
      }
      return { field: b.field, p };
    });
    return new FieldTail({
      version: FIELD_TAIL_VERSION,
      options: { tails: options.tails },
      rows: n,
      numeric,
      categorical,
    });
  }

  /** Whether `calibrate` has run (only then can `onKmeansScale` map rarity to scores). */
  get calibrated(): boolean {
    return this.state.calibration !== undefined;
  }

  /**
   * Put the rarity on the K-Means scale from benign calibration rows: their K-Means scores, their
   * rarity P, and optional weights (e.g. every capture weighing alike, as the threshold does).
   */
  calibrate(kmeans: ArrayLike<number>, P: ArrayLike<number>, weights?: ArrayLike<number> | null): void {
    const n = kmeans.length;
    if (P.length !== n || (weights && weights.length !== n) || n < 2) {
      throw new InputError('field tail: calibration needs one K-Means score and one P per row (≥ 2 rows)');
    }
    const w = weights ?? new Float64Array(n).fill(1);
    this.state.calibration = { rarity: shareAtMost(P, w), kmeans: scoreLevels(kmeans, w) };
  }

  /** t = Q_km(1 − S(P)) for each P (in place): the rarity as a K-Means score. */
  onKmeansScale(P: Float64Array): Float64Array {
    const c = this.state.calibration;
    if (!c) throw new InputError('field tail: not calibrated');
    const out = new Float64Array(P.length);
    const { P: knots, share } = c.rarity;
    const last = knots.length - 1;
    for (let i = 0; i < P.length; i++) {
      const x = P[i]!;
      let q: number;
      if (x >= 1) q = 1;
      else if (x < knots[0]!) q = (share[0]! * Math.max(x, 1e-300)) / Math.max(knots[0]!, 1e-300);
      else {
        let a = 0;
        let b = last;
        while (a < b) {
          const mid = (a + b + 1) >> 1;
          if (knots[mid]! <= x) a = mid;
          else b = mid - 1;
        }
        q = share[a]!;
      }
      out[i] = this.kmeansQuantile(q);
    }
    return out;
  }

  /** Field names in the order `FieldTailScores.field` indexes: numeric fields, then categorical. */
  get fieldNames(): string[] {
    return [...this.state.numeric.map((f) => f.field), ...this.state.categorical.map((f) => f.field)];
  }

  /** Rarity of encoded rows (column by column: no per-row objects). */
  scoreEncoded(E: EncodedMatrix): FieldTailScores {
    const s = this.state;
    const dn = s.numeric.length;
    const nc = s.categorical.length;
    if (E.layout.numericColumns.length !== dn || E.layout.categorical.length !== nc) {
      throw new InputError("field tail: the rows do not come from this model's preprocessing");
    }
    return this.score(
      E.rows,
      (t, out) => {
        for (let i = 0; i < E.rows; i++) out[i] = E.numeric[i * dn + t]!;
      },
      (f, out) => {
        for (let i = 0; i < E.rows; i++) out[i] = E.codes[i * nc + f]!;
      },
    );
  }

  /** Rarity of dense preprocessed rows (numeric columns read where the layout puts them; a block's code = its largest slot). */
  scoreDense(X: Matrix, layout: EncodedLayout): FieldTailScores {
    const d = X.cols;
    return this.score(
      X.rows,
      (t, out) => {
        const j = layout.numericColumns[t]!;
        for (let i = 0; i < X.rows; i++) out[i] = X.data[i * d + j]!;
      },
      (f, out) => {
        const b = layout.categorical[f]!;
        for (let i = 0; i < X.rows; i++) {
          let best = b.width - 1;
          let bv = Number.NEGATIVE_INFINITY;
          for (let j = 0; j < b.width; j++) {
            const v = X.data[i * d + b.offset + j]!;
            if (v > bv) {
              bv = v;
              best = j;
            }
          }
          out[i] = best;
        }
      },
    );
  }

  private score(
    rows: number,
    numericColumn: (t: number, out: Float64Array) => void,
    codeColumn: (f: number, out: Int32Array) => void,
  ): FieldTailScores {
    const s = this.state;
    const both = s.options.tails === 'both';
    const minP = new Float64Array(rows).fill(1);
    const field = new Int32Array(rows).fill(-1);
    const col = new Float64Array(rows);
    const n1 = s.rows + 1;
    s.numeric.forEach((f, t) => {
      numericColumn(t, col);
      const v = f.values;
      const m = v.length;
      const lo = v[0]!;
      const hi = v[m - 1]!;
      for (let i = 0; i < rows; i++) {
        const x = col[i]!;
        let p: number;
        if (Number.isNaN(x)) continue; // NaN carries no evidence
        if (x > hi) p = Math.exp(-(x - hi) / f.spread) / n1;
        else {
          // first kept value ≥ x
          let a = 0;
          let b = m - 1;
          while (a < b) {
            const mid = (a + b) >> 1;
            if (v[mid]! >= x) b = mid;
            else a = mid + 1;
          }
          p = (f.atLeast[a]! + 1) / n1;
        }
        if (both) {
          let q: number;
          if (x < lo) q = Math.exp(-(lo - x) / f.spread) / n1;
          else {
            // last kept value ≤ x
            let a = 0;
            let b = m - 1;
            while (a < b) {
              const mid = (a + b + 1) >> 1;
              if (v[mid]! <= x) a = mid;
              else b = mid - 1;
            }
            q = (f.atMost[a]! + 1) / n1;
          }
          p = Math.min(1, 2 * Math.min(p, q));
        }
        if (p < minP[i]!) {
          minP[i] = p;
          field[i] = t;
        }
      }
    });
    const codes = new Int32Array(rows);
    s.categorical.forEach((f, c) => {
      codeColumn(c, codes);
      const p = f.p;
      for (let i = 0; i < rows; i++) {
        const q = p[codes[i]!] ?? p[p.length - 1]!;
        if (q < minP[i]!) {
          minP[i] = q;
          field[i] = s.numeric.length + c;
        }
      }
    });
    const fields = s.numeric.length + s.categorical.length;
    for (let i = 0; i < rows; i++) minP[i] = Math.min(1, fields * minP[i]!);
    return { p: minP, field };
  }

  /** Q_km(1 − p): the calibration K-Means score exceeded by a (weighted) share p of the rows. */
  kmeansQuantile(p: number): number {
    const c = this.state.calibration;
    if (!c) throw new InputError('field tail: not calibrated');
    const { p: ps, score, tailScale } = c.kmeans;
    const last = ps.length - 1;
    if (p >= ps[0]!) return score[0]!;
    if (p <= ps[last]!) return score[last]! + tailScale * Math.log(ps[last]! / Math.max(p, 1e-300));
    // ps descends; interpolate linearly in log p
    let a = 0;
    let b = last;
    while (b - a > 1) {
      const mid = (a + b) >> 1;
      if (ps[mid]! >= p) a = mid;
      else b = mid;
    }
    const w = Math.log(ps[a]! / p) / Math.log(ps[a]! / ps[b]!);
    return score[a]! + w * (score[b]! - score[a]!);
  }
}

/** The combined score: max of the K-Means score and the rarity on its scale (in place in `kmeans`). */
export function combineScores(kmeans: Float64Array, rarityScore: Float64Array): Uint8Array {
  const drives = new Uint8Array(kmeans.length);
  for (let i = 0; i < kmeans.length; i++) {
    if (rarityScore[i]! > kmeans[i]!) {
      kmeans[i] = rarityScore[i]!;
      drives[i] = 1;
    }
  }
  return drives;
}

/** Weighted S(P) = (W(P_j ≤ P) + w̄)/(W + w̄) at the distinct P (subsampled to ≤ 400 knots, all of the low end). */
function shareAtMost(P: ArrayLike<number>, w: ArrayLike<number>): { P: number[]; share: number[] } {
  const n = P.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => P[a]! - P[b]!);
  let W = 0;
  for (let i = 0; i < n; i++) W += w[i]!;
  const wBar = W / n;
  const knotsP: number[] = [];
  const share: number[] = [];
  let acc = 0;
  for (let r = 0; r < n; r++) {
    acc += w[order[r]!]!;
    const x = P[order[r]!]!;
    if (r + 1 < n && P[order[r + 1]!] === x) continue;
    const sh = Math.min(1, (acc + wBar) / (W + wBar));
    // keep every knot of the low (rare) end, then one per 0.25 % of share
    if (knotsP.length < 200 || sh - share[share.length - 1]! >= 0.0025 || r === n - 1) {
      knotsP.push(x);
      share.push(sh);
    }
  }
  return { P: knotsP, share };
}

/** Distinct sorted values with their tail counts: all within TAIL_KNOTS of either end, a grid between. */
function knots(sorted: Float64Array): Pick<NumericTail, 'values' | 'atLeast' | 'atMost'> {
  const n = sorted.length;
  const distinct: number[] = [];
  const atMost: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i + 1 < n && sorted[i + 1] === sorted[i]) continue;
    distinct.push(sorted[i]!);
    atMost.push(i + 1);
  }
  const m = distinct.length;
  const stride = Math.max(1, Math.ceil((m - 2 * TAIL_KNOTS) / MID_KNOTS));
  const out = { values: [] as number[], atLeast: [] as number[], atMost: [] as number[] };
  for (let j = 0; j < m; j++) {
    if (j >= TAIL_KNOTS && j < m - TAIL_KNOTS && (j - TAIL_KNOTS) % stride !== 0) continue;
    out.values.push(distinct[j]!);
    out.atMost.push(atMost[j]!);
    out.atLeast.push(n - (j > 0 ? atMost[j - 1]! : 0));
  }
  return out;
}

/**
 * The (weighted) K-Means score quantile function of the calibration rows at geometric tail
 * probabilities from 1 to 1/(n + 1), and the scale of an exponential tail beyond (the weighted
 * mean excess over the 90th percentile).
 */
function scoreLevels(
  scores: ArrayLike<number>,
  weights: ArrayLike<number>,
): NonNullable<FieldTailState['calibration']>['kmeans'] {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  const s = Float64Array.from(order, (i) => scores[i]!);
  const cum = new Float64Array(n);
  let W = 0;
  for (let r = 0; r < n; r++) {
    W += weights[order[r]!]!;
    cum[r] = W;
  }
  const at = (p: number) => {
    // the score exceeded by a weighted share p of rows: the first whose cumulative share ≥ 1 − p
    const need = (1 - p) * W;
    let a = 0;
    let b = n - 1;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (cum[mid]! >= need - 1e-12 * W) b = mid;
      else a = mid + 1;
    }
    return s[a]!;
  };
  const pMin = 1 / (n + 1);
  const p: number[] = [];
  const score: number[] = [];
  for (let l = 0; l < SCORE_LEVELS; l++) {
    const q = pMin ** (l / (SCORE_LEVELS - 1));
    p.push(q);
    score.push(at(q));
  }
  const q90 = at(0.1);
  let excess = 0;
  let count = 0;
  for (let r = 0; r < n; r++) {
    if (s[r]! > q90) {
      const wr = weights[order[r]!]!;
      excess += wr * (s[r]! - q90);
      count += wr;
    }
  }
  const tailScale = count > 0 && excess > 0 ? excess / count : Math.max(1e-6, Math.abs(s[n - 1]!) * 0.1);
  return { p, score, tailScale };
}
