/**
 * The beacon score of one series of connections (start times and originator bytes), as RITA (v3)
 * scores beacons, with two changes for short captures (see host-behaviour.ts, which scores each
 * pair's last hour with it; the beacon report, explain/beacons.ts, scores a pair's whole input):
 *
 * - timing (`tsScore`): 1 − |Bowley skew| of the intervals, 1 − MAD / min(30 s, median interval)
 *   (so a burst of parallel connections is no beacon), and persistence, the series' span over
 *   `PERSISTENCE` seconds capped at 1 (RITA's connection-count score needs a day of logs);
 * - sizes (`dsScore`): 1 − |Bowley skew|, 1 − MAD / 32 bytes, and smallness, 1 − median / 65,535
 *   (RITA uses the mode);
 * - `score` = (tsScore + dsScore) / 2, each term and score in 0..1.
 *
 * Quantiles are RITA's: the element at round(q·(n−1)) of the sorted values.
 */

/** Span (s) of a series that earns the full persistence score. */
export const PERSISTENCE = 600;

export interface BeaconSeries {
  score: number;
  tsScore: number;
  dsScore: number;
  /** Connections in the series. */
  connections: number;
  /** Median interval between connection starts (s), and its median absolute deviation. */
  interval: number;
  intervalMad: number;
  /** Median originator bytes per connection, and its median absolute deviation. */
  bytes: number;
  bytesMad: number;
  /** Last start − first start (s). */
  span: number;
}

export function emptyBeaconSeries(): BeaconSeries {
  return {
    score: 0,
    tsScore: 0,
    dsScore: 0,
    connections: 0,
    interval: Number.NaN,
    intervalMad: Number.NaN,
    bytes: Number.NaN,
    bytesMad: Number.NaN,
    span: 0,
  };
}

/** Series up to this length are sorted by insertion (often nearly in order; no runtime call). */
const INSERTION_MAX = 64;
let dev = new Float64Array(INSERTION_MAX);

/**
 * Score `n` ≥ 2 connections into `out` (no allocation for n ≤ 64). `times` and `bytes` are
 * scratch: both are reordered, and `times` is overwritten with the intervals.
 */
export function scoreBeaconSeries(
  times: Float64Array,
  bytes: Float64Array,
  n: number,
  out: BeaconSeries,
): void {
  sortPrefix(times, n);
  const span = times[n - 1]! - times[0]!;
  for (let i = 0; i < n - 1; i++) times[i] = times[i + 1]! - times[i]!;
  const [tsSkew, tsMad] = skewMad(times, n - 1);
  const [dsSkew, dsMad] = skewMad(bytes, n);
  const tsMid = quant(times, n - 1, 0.5);
  const madScore = tsMid > 0 ? Math.max(0, 1 - tsMad / Math.min(30, tsMid)) : 0;
  const tsScore = (1 - Math.abs(tsSkew) + madScore + Math.min(1, span / PERSISTENCE)) / 3;
  const dsMid = quant(bytes, n, 0.5);
  const dsScore = (1 - Math.abs(dsSkew) + Math.max(0, 1 - dsMad / 32) + Math.max(0, 1 - dsMid / 65535)) / 3;
  out.tsScore = tsScore;
  out.dsScore = dsScore;
  out.score = (tsScore + dsScore) / 2;
  out.connections = n;
  out.interval = tsMid;
  out.intervalMad = tsMad;
  out.bytes = dsMid;
  out.bytesMad = dsMad;
  out.span = span;
}

/** RITA's quantile: the element at round(q·(n−1)) of a sorted array. */
const quant = (a: Float64Array, n: number, q: number) => a[Math.round(q * (n - 1))]!;

/**
 * Sort a[0, n) in place in TypedArray#sort's order (numeric, −0 before +0, NaN last): by
 * insertion up to INSERTION_MAX numbers, else TypedArray#sort itself.
 */
function sortPrefix(a: Float64Array, n: number): void {
  if (n > INSERTION_MAX) {
    a.subarray(0, n).sort();
    return;
  }
  for (let i = 1; i < n; i++) {
    const v = a[i]!;
    let j = i - 1;
    for (; j >= 0; j--) {
      const x = a[j]!;
      // x belongs after v
      if (x > v || (Number.isNaN(x) && !Number.isNaN(v)) || (x === 0 && v === 0 && 1 / x > 1 / v))
        a[j + 1] = x;
      else break;
    }
    a[j + 1] = v;
  }
}

/** Bowley skew (0 when the quartiles do not allow it) and median absolute deviation of a[0, n). */
function skewMad(a: Float64Array, n: number): [number, number] {
  sortPrefix(a, n);
  const lo = quant(a, n, 0.25);
  const mid = quant(a, n, 0.5);
  const hi = quant(a, n, 0.75);
  const skew = hi !== lo && mid !== lo && mid !== hi ? (lo + hi - 2 * mid) / (hi - lo) : 0;
  return [skew, madOfSorted(a, n, mid)];
}

/**
 * quant(sorted |a[i] − mid|, n, 0.5) for a[0, n) sorted and mid = quant(a, n, 0.5): the
 * deviations below and above the median index are each monotone, so the wanted one comes from
 * merging the two runs outward from the median (no sort). Non-finite values: sorted in full.
 */
function madOfSorted(a: Float64Array, n: number, mid: number): number {
  const k = Math.round(0.5 * (n - 1));
  if (!Number.isFinite(a[0]!) || !Number.isFinite(a[n - 1]!)) {
    if (dev.length < n) dev = new Float64Array(n);
    for (let i = 0; i < n; i++) dev[i] = Math.abs(a[i]! - mid);
    sortPrefix(dev, n);
    return quant(dev, n, 0.5);
  }
  let l = k;
  let r = k + 1;
  let x = 0;
  for (let c = 0; c <= k; c++) {
    const dl = l >= 0 ? Math.abs(a[l]! - mid) : Number.POSITIVE_INFINITY;
    const dr = r < n ? Math.abs(a[r]! - mid) : Number.POSITIVE_INFINITY;
    if (dl <= dr) {
      x = dl;
      l--;
    } else {
      x = dr;
      r++;
    }
  }
  return x;
}
