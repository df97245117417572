/**
 * Kneedle knee / elbow detection (Satopää, Albrecht, Irwin, Raghavan 2011, "Finding a 'Kneedle' in a
 * Haystack"), a line-by-line port of the `KneeLocator` of the kneed Python package (interp1d mode,
 * i.e. no smoothing), so results match kneed on the same input, including its quirks:
 *
 * 1. normalize x and y to [0, 1];
 * 2. turn the curve into a concave increasing one (decreasing+convex: y → max − y; decreasing+concave:
 *    y reversed; increasing+convex: max − y, reversed);
 * 3. difference curve d = y_n − x_n;
 * 4. local maxima / minima of d with ≥ / ≤ against both neighbours (scipy argrelextrema, ends clipped);
 * 5. threshold at each maximum: d_max − S · mean(|Δx_n|);
 * 6. walk d from the first maximum: at a maximum take its threshold, at a minimum reset it to 0;
 *    a knee is declared at the last maximum when the next d drops below the threshold. Offline mode
 *    returns the first knee, online mode keeps walking and returns the last.
 *
 * Defaults differ from kneed's (concave / increasing): here they are convex / decreasing, the shape of
 * an inertia-versus-k elbow curve.
 */
import { InputError, optionError } from '../errors.ts';

export interface KneeOptions {
  /** 'convex' finds elbows (default), 'concave' finds knees. */
  curve?: 'convex' | 'concave';
  /** Direction of y as x grows; default 'decreasing'. */
  direction?: 'decreasing' | 'increasing';
  /** Sensitivity S >= 0 (default 1): how many "flat" x-steps must follow a maximum; larger = more conservative. */
  sensitivity?: number;
  /** false (default): return the first knee found; true: keep correcting and return the last one. */
  online?: boolean;
}

export interface KneeResult {
  /** x at the knee, or null when there is none (no local maximum, or d never drops below a threshold). */
  knee: number | null;
  /** y at the knee, or null. */
  kneeY: number | null;
  /** Normalized x at the knee as kneed reports it (for flipped shapes kneed keeps the unflipped index). */
  normKnee: number | null;
  /** Every knee found in traversal order, without repeats (one entry unless online). */
  allKnees: number[];
  /** Normalized x values, x_n. */
  xNormalized: number[];
  /** Normalized, shape-transformed y values (concave increasing form). */
  yNormalized: number[];
  /** The difference curve d = yNormalized − xNormalized, on xNormalized. */
  normalizedDifference: number[];
  /** Indices of local maxima of d. */
  maximaIndices: number[];
  /** Indices of local minima of d. */
  minimaIndices: number[];
  /** Threshold for each maximum, parallel to maximaIndices. */
  thresholds: number[];
}

function normalize(a: readonly number[]): number[] {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of a) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const span = max - min;
  return a.map((v) => (v - min) / span);
}

/** scipy.signal.argrelextrema(a, cmp) with order 1 and mode 'clip' (an end is compared with itself). */
function relExtrema(a: readonly number[], cmp: (u: number, v: number) => boolean): number[] {
  const out: number[] = [];
  const n = a.length;
  for (let i = 0; i < n; i++) {
    const v = a[i]!;
    if (cmp(v, a[Math.max(0, i - 1)]!) && cmp(v, a[Math.min(n - 1, i + 1)]!)) out.push(i);
  }
  return out;
}

/**
 * Finds the knee (or elbow) of the curve (x, y). `x` must be strictly increasing and finite, `y` finite
 * and of the same length (at least 2). A constant y has no knee (kneed would divide by zero).
 */
export function findKnee(x: readonly number[], y: readonly number[], opts: KneeOptions = {}): KneeResult {
  const curve = opts.curve ?? 'convex';
  const direction = opts.direction ?? 'decreasing';
  const S = opts.sensitivity ?? 1;
  const online = opts.online ?? false;
  if (curve !== 'convex' && curve !== 'concave')
    throw optionError('findKnee', 'curve', "'convex' or 'concave'", curve);
  if (direction !== 'decreasing' && direction !== 'increasing') {
    throw optionError('findKnee', 'direction', "'decreasing' or 'increasing'", direction);
  }
  if (!(Number.isFinite(S) && S >= 0))
    throw optionError('findKnee', 'sensitivity', 'a finite number >= 0', S);
  if (x.length !== y.length) throw new InputError(`findKnee: x has ${x.length} values but y has ${y.length}`);
  const n = x.length;
  if (n < 2) throw new InputError(`findKnee: needs at least 2 points, got ${n}`);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(x[i]) || !Number.isFinite(y[i]))
      throw new InputError(`findKnee: point ${i} is not finite`);
    if (i > 0 && !(x[i]! > x[i - 1]!))
      throw new InputError(`findKnee: x must be strictly increasing (at index ${i})`);
  }

  const xn = normalize(x);
  let yn: number[];
  const yMin = Math.min(...y);
  const yMax = Math.max(...y);
  if (yMax === yMin) {
    yn = new Array<number>(n).fill(0);
  } else {
    yn = normalize(y);
    if (direction === 'decreasing') {
      if (curve === 'concave') yn.reverse();
      else {
        const m = Math.max(...yn);
        yn = yn.map((v) => m - v);
      }
    } else if (curve === 'convex') {
      const m = Math.max(...yn);
      yn = yn.map((v) => m - v).reverse();
    }
  }
  const diff = yn.map((v, i) => v - xn[i]!);
  const base: KneeResult = {
    knee: null,
    kneeY: null,
    normKnee: null,
    allKnees: [],
    xNormalized: xn,
    yNormalized: yn,
    normalizedDifference: diff,
    maximaIndices: [],
    minimaIndices: [],
    thresholds: [],
  };
  if (yMax === yMin) return base;

  const maxima = relExtrema(diff, (u, v) => u >= v);
  const minima = relExtrema(diff, (u, v) => u <= v);
  // mean of diff(x_n) telescopes to (x_n[last] − x_n[0]) / (n − 1) but kneed averages the steps; do the same.
  let stepSum = 0;
  for (let i = 1; i < n; i++) stepSum += xn[i]! - xn[i - 1]!;
  const meanStep = Math.abs(stepSum / (n - 1));
  const thresholds = maxima.map((i) => diff[i]! - S * meanStep);
  base.maximaIndices = maxima;
  base.minimaIndices = minima;
  base.thresholds = thresholds;
  if (maxima.length === 0) return base;

  const isMax = new Uint8Array(n);
  for (const i of maxima) isMax[i] = 1;
  const isMin = new Uint8Array(n);
  for (const i of minima) isMin[i] = 1;
  const flipped = (curve === 'convex') !== (direction === 'decreasing');
  let maxIdx = 0;
  let threshold = 0;
  let thresholdIndex = 0;
  let knee: number | null = null;
  let normKnee: number | null = null;
  const seen = new Set<number>();
  for (let i = maxima[0]!; i < n - 1; i++) {
    if (isMax[i]) {
      threshold = thresholds[maxIdx]!;
      thresholdIndex = i;
      maxIdx++;
    }
    if (isMin[i]) threshold = 0;
    if (diff[i + 1]! < threshold) {
      knee = flipped ? x[n - 1 - thresholdIndex]! : x[thresholdIndex]!;
      normKnee = xn[thresholdIndex]!;
      if (!seen.has(knee)) {
        seen.add(knee);
        base.allKnees.push(knee);
      }
      if (!online) break;
    }
  }
  if (knee === null) return base;
  base.knee = knee;
  base.normKnee = normKnee;
  base.kneeY = y[x.indexOf(knee)]!;
  return base;
}

/**
 * The knee region of the curve (x, y) (same options as findKnee): the x values whose Kneedle
 * difference lies within S · mean(|Δx_n|) of its maximum (the drop Kneedle itself needs before it
 * declares a knee), as [first, last]; null when findKnee finds no knee. On a curve with a sharp
 * knee the region is the knee and its neighbours; on a gently bending one (an inertia curve with
 * no dominant cluster count) it spans many x whose differences are equal within noise, and which
 * of them Kneedle picks turns on differences far below its own threshold.
 */
export function kneeRegion(
  x: readonly number[],
  y: readonly number[],
  opts: KneeOptions = {},
): { first: number; last: number } | null {
  const r = findKnee(x, y, opts);
  if (r.knee === null) return null;
  const S = opts.sensitivity ?? 1;
  const flipped =
    ((opts.curve ?? 'convex') === 'convex') !== ((opts.direction ?? 'decreasing') === 'decreasing');
  const d = r.normalizedDifference;
  const xn = r.xNormalized;
  const n = d.length;
  let stepSum = 0;
  for (let i = 1; i < n; i++) stepSum += xn[i]! - xn[i - 1]!;
  let top = Number.NEGATIVE_INFINITY;
  for (const v of d) top = Math.max(top, v);
  const bar = top - S * Math.abs(stepSum / (n - 1));
  const inside: number[] = [];
  for (let i = 0; i < n; i++) if (d[i]! >= bar) inside.push(x[flipped ? n - 1 - i : i]!);
  return { first: Math.min(...inside), last: Math.max(...inside) };
}
