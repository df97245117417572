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
 */

export interface HostScoreOptions {
  /** Window length in seconds (default 300). */
  windowSeconds?: number;
  /** Flows averaged into the host score (default 3). */
  topK?: number;
  /** 'host': per source host; 'pair': per source → destination pair. */
  scope?: 'host' | 'pair';
}

export const HOST_DEFAULTS = { windowSeconds: 300, topK: 3 } as const;

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
  opts: { topK?: number; flowThreshold?: number; evidence?: number } = {},
): { hosts: HostAggregate[]; hostOfRow: Int32Array } {
  const topK = opts.topK ?? HOST_DEFAULTS.topK;
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
      hostScore: sum / k,
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
  opts: HostScoreOptions = {},
): HostCalibration {
  const topK = opts.topK ?? HOST_DEFAULTS.topK;
  const { hosts } = aggregateHosts(scores, keys, { topK });
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
    scope: opts.scope,
  });
  const agg = aggregateHosts(scores, keys, {
    topK: cal?.topK ?? HOST_DEFAULTS.topK,
    flowThreshold: opts.flowThreshold,
  });
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
