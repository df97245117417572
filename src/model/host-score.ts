/**
 * Host scores: what an analyst acts on is a host, not one flow among thousands.
 *
 * Flows are grouped by source host (or by source → destination pair) and time window (start_time
 * floored to `windowSeconds`; separate captures or files, when given as `groups`, never share a
 * window). A host's score is the mean of its `topK` highest flow scores (all of them when it has
 * fewer): one odd flow on a busy host weighs less than on a quiet one, and a host with several odd
 * flows weighs more than its single worst flow alone. The host threshold is the (1 − target)
 * quantile of host scores on benign calibration data (scores from models that never saw the
 * host's group), never a figure from labels. Evidence: the host's top flows with their Community
 * IDs.
 *
 * `aggregate: 'tail'` is the count-aware alternative: every flow gets a tail probability p (the
 * weighted share of benign calibration flows scoring at least as high; an exponential tail beyond
 * the highest one), and a host window of n flows with sorted p(1) ≤ p(2) ≤ … scores
 * −log10 min_j P(Binomial(n, p(j)) ≥ j) over j ≤ `tailTerms`. j = 1 is the Šidák-corrected worst
 * flow (a busy host needs a more extreme flow than a quiet one), larger j catch many moderately odd
 * flows (a scan, a beacon). The minimum over j is no p-value itself: the host threshold is still
 * the empirical (1 − target) quantile on benign calibration host windows.
 */

import { OptionError } from '../errors.ts';

export interface HostScoreOptions {
  /** Window length in seconds (default 300). */
  windowSeconds?: number;
  /** Flows averaged into the host score (default 3). */
  topK?: number;
  /** 'host': per source host; 'pair': per source → destination pair. */
  scope?: 'host' | 'pair';
  /** 'mean': mean of the top-k flow scores; 'tail': the count-aware tail score (see above). */
  aggregate?: HostAggregation;
}

export type HostAggregation = 'mean' | 'tail';

export const HOST_DEFAULTS = { windowSeconds: 300, topK: 3, aggregate: 'mean', tailTerms: 20 } as const;

/**
 * Benign flow-score tail for per-flow tail probabilities: the scores at survival levels on a log
 * grid (descending in level), the weighted calibration rows and the exponential tail's scale.
 */
export interface FlowTail {
  /** Survival level (share of calibration weight at or above the score), descending. */
  levels: number[];
  /** Score at each level (ascending). */
  scores: number[];
  /** Calibration rows (the p-value floor is 1/(rows + 1)). */
  rows: number;
  /** Mean excess over the 90 % quantile of the scores above it (exponential tail beyond the max). */
  tailScale: number;
}

/** What the model keeps about host scores (set from calibration data). */
export interface HostCalibration {
  windowSeconds: number;
  topK: number;
  targetFpr: number;
  /** Host scores above this are anomalous hosts. */
  threshold: number;
  /** Host windows in the calibration data, and how many were above the threshold. */
  hosts: number;
  flagged: number;
  /** How flow scores are combined (absent in models from before it existed: 'mean'). */
  aggregate?: HostAggregation;
  /** 'pair' when calibrated per source → destination pair (absent: per source host). */
  scope?: 'host' | 'pair';
  /** With aggregate 'tail': the benign flow-score tail the flows' tail probabilities come from. */
  tail?: FlowTail;
}

/**
 * The benign tail of calibration flow scores, weighted (e.g. every capture one unit, as the flow
 * threshold is; weights are rescaled to sum to the row count).
 */
export function flowTail(
  scores: ArrayLike<number>,
  weights?: ArrayLike<number> | null,
  gridPoints = 96,
): FlowTail {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let total = 0;
  for (let i = 0; i < n; i++) total += weights ? weights[i]! : 1;
  const scale = total > 0 ? n / total : 1;
  const levels: number[] = [];
  const at: number[] = [];
  const floor = 1 / (n + 1);
  // survival levels from the floor to 1, log-spaced
  const grid = Array.from({ length: gridPoints }, (_, g) => floor ** (1 - g / (gridPoints - 1)));
  let acc = 0;
  let gi = 0;
  for (const i of order) {
    acc += (weights ? weights[i]! : 1) * scale;
    const surv = (1 + acc) / (n + 1);
    while (gi < grid.length && grid[gi]! <= surv) {
      levels.push(grid[gi]!);
      at.push(scores[i]!);
      gi++;
    }
  }
  // descending levels ↔ ascending scores
  levels.reverse();
  at.reverse();
  const sorted = Float64Array.from(scores).sort();
  const q90 = sorted.length ? sorted[Math.floor(0.9 * (sorted.length - 1))]! : 0;
  let ex = 0;
  let m = 0;
  for (const v of sorted) {
    if (v > q90) {
      ex += v - q90;
      m++;
    }
  }
  return { levels, scores: at, rows: n, tailScale: m > 0 && ex > 0 ? ex / m : 1 };
}

/**
 * Tail probability of a flow score under the benign tail: the level of the first grid score at or
 * above it (ties keep their whole weight), log-linear between grid points, exponential beyond the
 * highest calibration score.
 */
export function tailProbability(tail: FlowTail, score: number): number {
  const { levels, scores } = tail;
  const L = scores.length;
  if (L === 0 || Number.isNaN(score)) return 1;
  if (score <= scores[0]!) return levels[0]!;
  if (score > scores[L - 1]!) {
    const beyond = levels[L - 1]! * Math.exp(-(score - scores[L - 1]!) / tail.tailScale);
    return Number.isFinite(beyond) ? beyond : 0;
  }
  // first index with scores[i] >= score (scores ascending)
  let lo = 0;
  let hi = L - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (scores[mid]! >= score) hi = mid;
    else lo = mid + 1;
  }
  if (scores[lo] === score) return levels[lo]!;
  const a = lo - 1;
  const t = (score - scores[a]!) / (scores[lo]! - scores[a]!);
  return Math.exp((1 - t) * Math.log(levels[a]!) + t * Math.log(levels[lo]!));
}

/** log P(X ≥ j) for X ~ Binomial(n, p), summed in log space from the j-th term up. */
function logBinomTail(j: number, n: number, p: number): number {
  if (j <= 0) return 0;
  if (p >= 1) return 0;
  if (p <= 0) return Number.NEGATIVE_INFINITY;
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  // log C(n, j) via lgamma-free running sum
  let logC = 0;
  for (let i = 1; i <= j; i++) logC += Math.log((n - i + 1) / i);
  let term = logC + j * lp + (n - j) * lq;
  let max = term;
  const terms = [term];
  for (let i = j + 1; i <= n && terms.length < 400; i++) {
    term += Math.log((n - i + 1) / i) + lp - lq;
    terms.push(term);
    if (term > max) max = term;
    if (term < max - 40) break;
  }
  let sum = 0;
  for (const t of terms) sum += Math.exp(t - max);
  return Math.min(0, max + Math.log(sum));
}

/**
 * Count-aware host score from its flows' tail probabilities: −log10 min_j P(Bin(n, p(j)) ≥ j),
 * j = 1..min(n, terms).
 */
export function tailHostScore(pValues: readonly number[], terms: number = HOST_DEFAULTS.tailTerms): number {
  const n = pValues.length;
  if (n === 0) return 0;
  const p = [...pValues].sort((a, b) => a - b);
  let best = 0;
  for (let j = 1; j <= Math.min(n, terms); j++) best = Math.min(best, logBinomTail(j, n, p[j - 1]!));
  return -best / Math.LN10;
}

/** Key of every row's host window: group, source (→ destination for pairs), window start. */
export function hostKeys(
  identity: { src_ip: readonly string[]; dst_ip?: readonly string[]; start_time: ArrayLike<number> },
  opts: HostScoreOptions & { groups?: ArrayLike<number> | null } = {},
): string[] {
  const w = opts.windowSeconds ?? HOST_DEFAULTS.windowSeconds;
  const pair = opts.scope === 'pair';
  const out = new Array<string>(identity.src_ip.length);
  for (let i = 0; i < out.length; i++) {
    const t = identity.start_time[i]!;
    const win = Number.isFinite(t) ? Math.floor(t / w) * w : 0;
    const g = opts.groups ? opts.groups[i]! : 0;
    const who = pair ? `${identity.src_ip[i]}>${identity.dst_ip?.[i] ?? ''}` : identity.src_ip[i];
    out[i] = `${g}|${who}|${win}`;
  }
  return out;
}

export interface HostAggregate {
  key: string;
  /** Source host (or "src>dst" for pairs). */
  host: string;
  windowStart: number;
  flows: number;
  /** Flows above the flow threshold (when one was given). */
  flaggedFlows: number;
  maxScore: number;
  hostScore: number;
  /** Rows of the host's highest-scoring flows, best first (at most `evidence`). */
  topRows: number[];
}

/**
 * Aggregate flow scores per host window. Returns the hosts (in first-seen order) and the host of
 * every row.
 */
export function aggregateHosts(
  scores: ArrayLike<number>,
  keys: readonly string[],
  opts: {
    topK?: number;
    flowThreshold?: number;
    evidence?: number;
    aggregate?: HostAggregation;
    /** Required with aggregate 'tail'. */
    tail?: FlowTail;
  } = {},
): { hosts: HostAggregate[]; hostOfRow: Int32Array } {
  const topK = opts.topK ?? HOST_DEFAULTS.topK;
  const useTail = (opts.aggregate ?? 'mean') === 'tail';
  if (useTail && !opts.tail)
    throw new OptionError("aggregateHosts: aggregate 'tail' needs the benign flow tail");
  const keep = Math.max(topK, opts.evidence ?? 5);
  const ids = new Map<string, number>();
  const hostOfRow = new Int32Array(keys.length);
  const rows: number[][] = [];
  for (let i = 0; i < keys.length; i++) {
    let id = ids.get(keys[i]!);
    if (id === undefined) {
      id = rows.length;
      ids.set(keys[i]!, id);
      rows.push([]);
    }
    rows[id]!.push(i);
    hostOfRow[i] = id;
  }
  const hosts: HostAggregate[] = [];
  for (const [key, id] of ids) {
    const r = rows[id]!;
    const sorted = [...r].sort((a, b) => scores[b]! - scores[a]! || a - b);
    const k = Math.min(topK, sorted.length);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += scores[sorted[j]!]!;
    let flagged = 0;
    if (opts.flowThreshold !== undefined) for (const i of r) if (scores[i]! > opts.flowThreshold) flagged++;
    const parts = key.split('|');
    hosts.push({
      key,
      host: parts.slice(1, -1).join('|'),
      windowStart: Number(parts[parts.length - 1]),
      flows: r.length,
      flaggedFlows: flagged,
      maxScore: scores[sorted[0]!]!,
      hostScore: useTail ? tailHostScore(r.map((i) => tailProbability(opts.tail!, scores[i]!))) : sum / k,
      topRows: sorted.slice(0, keep),
    });
  }
  return { hosts, hostOfRow };
}

/** Host threshold from benign calibration flow scores (out-of-group when the data has groups). */
export function calibrateHosts(
  scores: ArrayLike<number>,
  keys: readonly string[],
  targetFpr: number,
  opts: HostScoreOptions & {
    /** Weight of every calibration row in the flow tail (aggregate 'tail'; default 1 each). */
    weights?: ArrayLike<number> | null;
  } = {},
): HostCalibration {
  const topK = opts.topK ?? HOST_DEFAULTS.topK;
  const aggregate = opts.aggregate ?? HOST_DEFAULTS.aggregate;
  const tail = aggregate === 'tail' ? flowTail(scores, opts.weights) : undefined;
  const { hosts } = aggregateHosts(scores, keys, { topK, aggregate, tail });
  const values = hosts.map((h) => h.hostScore);
  // the ⌈n(1 − target)⌉-th smallest host score (no conformal +1: a few hundred host windows
  // would otherwise make it the largest)
  const sorted = Float64Array.from(values).sort();
  const rank = Math.max(1, Math.ceil(sorted.length * (1 - targetFpr) - 1e-9));
  const threshold = sorted.length ? sorted[Math.min(sorted.length, rank) - 1]! : Number.NaN;
  return {
    windowSeconds: opts.windowSeconds ?? HOST_DEFAULTS.windowSeconds,
    topK,
    targetFpr,
    threshold,
    hosts: hosts.length,
    flagged: values.filter((v) => v > threshold).length,
    ...(aggregate !== 'mean' ? { aggregate } : {}),
    ...(opts.scope === 'pair' ? { scope: 'pair' as const } : {}),
    ...(tail ? { tail } : {}),
  };
}

/** The aggregation options a host calibration implies (for `aggregateHosts`). */
export function hostAggregation(cal: HostCalibration | null | undefined): {
  topK: number;
  aggregate: HostAggregation;
  tail?: FlowTail;
} {
  return {
    topK: cal?.topK ?? HOST_DEFAULTS.topK,
    aggregate: cal?.aggregate ?? 'mean',
    ...(cal?.tail ? { tail: cal.tail } : {}),
  };
}

/** A host window with its verdict and its evidence (Community IDs of its top flows). */
export interface HostVerdict extends HostAggregate {
  /** host score > host threshold; null when the model has no host calibration. */
  isAnomaly: boolean | null;
  evidence: string[];
}

/**
 * Host scores of scored flows, with the model's host calibration (window, top-k, threshold) when
 * it has one (else the defaults and no verdict).
 */
export function scoreHosts(
  scores: ArrayLike<number>,
  identity: {
    src_ip: readonly string[];
    dst_ip?: readonly string[];
    start_time: ArrayLike<number>;
    community_id?: readonly string[];
  },
  opts: {
    calibration?: HostCalibration | null;
    groups?: ArrayLike<number> | null;
    flowThreshold?: number;
    scope?: 'host' | 'pair';
  } = {},
): { hosts: HostVerdict[]; hostOfRow: Int32Array } {
  const cal = opts.calibration ?? null;
  const keys = hostKeys(identity, {
    windowSeconds: cal?.windowSeconds ?? HOST_DEFAULTS.windowSeconds,
    groups: opts.groups ?? null,
    scope: opts.scope ?? cal?.scope,
  });
  const agg = aggregateHosts(scores, keys, { ...hostAggregation(cal), flowThreshold: opts.flowThreshold });
  const hosts = agg.hosts.map((h) => ({
    ...h,
    isAnomaly: cal ? h.hostScore > cal.threshold : null,
    evidence: h.topRows.map((i) => identity.community_id?.[i] ?? '').filter((c) => c !== ''),
  }));
  return { hosts, hostOfRow: agg.hostOfRow };
}

/** The flagged hosts (or, without a verdict, the highest-scoring ones), most anomalous first. */
export function topHosts(hosts: readonly HostVerdict[], max = 20): HostVerdict[] {
  const pick = hosts.some((h) => h.isAnomaly !== null) ? hosts.filter((h) => h.isAnomaly) : [...hosts];
  return pick.sort((a, b) => b.hostScore - a.hostScore).slice(0, max);
}
