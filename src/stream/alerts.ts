/**
 * Alert records: ECS-shaped (default) or Suricata-EVE-shaped JSON objects for scored flows, plus
 * the stats and warning records of the watcher. ECOSYSTEM.md §3 is the reference; the published
 * JSON Schemas are `schema/alert.schema.json` and `schema/stats.schema.json`.
 *
 * Explanation: `topFields` splits the squared distance of a row to its primary-run centre into
 * per-field parts (a one-hot field's columns are summed into the field), as shares of the total.
 */

import { createHash } from 'node:crypto';
import type { Preprocessor } from '../features/preprocessor.ts';
import type { Matrix } from '../ingest/table.ts';
import { LIBRARY_VERSION } from '../model/bundle.ts';
import type { HealthSnapshot } from './health.ts';
import type { HostAlertInfo, HostLink } from './host-windows.ts';

export const ALERT_SCHEMA_VERSION = '1';
export const ECS_VERSION = '8.11.0';
export type AlertFormat = 'ecs' | 'eve';

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Per-field shares of the squared distance of each row of X to `centers[cluster[i]]`, top n. */
export function topFields(
  pre: Preprocessor,
  X: Matrix,
  centers: Matrix,
  cluster: ArrayLike<number>,
  n = 5,
): [string, number][][] {
  const of = pre.outputField();
  const names = pre.fieldSpecs().map((f) => f.name);
  const out: [string, number][][] = [];
  const per = new Float64Array(names.length);
  for (let i = 0; i < X.rows; i++) {
    per.fill(0);
    const c = cluster[i]!;
    let total = 0;
    for (let j = 0; j < X.cols; j++) {
      const d = X.data[i * X.cols + j]! - centers.data[c * centers.cols + j]!;
      per[of[j]!]! += d * d;
      total += d * d;
    }
    const idx = Array.from(per.keys())
      .filter((k) => per[k]! > 0)
      .sort((a, b) => per[b]! - per[a]!)
      .slice(0, n);
    out.push(idx.map((k) => [names[k]!, total > 0 ? round(per[k]! / total, 4) : 0]));
  }
  return out;
}

function round(v: number, digits: number): number {
  const m = 10 ** digits;
  return Math.round(v * m) / m;
}

export interface ScoredFlowInfo {
  eventId: string;
  /** Flow start (epoch seconds); NaN → the time of scoring. */
  startTime: number;
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
  protocol: string;
  communityId: string;
  anomalyScore: number;
  riskScore: number;
  threshold: number;
  cluster: number;
  clusterName?: string;
  distance: number;
  topFields: [string, number][];
  input: { format: string; file: string; offset: number; line?: number };
  imputed?: string[];
  /** The host alert of this flow's host window, once that window has alerted. */
  host?: HostLink;
}

/** The `host` block of a flow alert: the host alert its window raised. */
function hostLinkJson(h: HostLink): Record<string, unknown> {
  return {
    alert_id: h.eventId,
    score: round(h.hostScore, 6),
    threshold: round(h.threshold, 6),
    window_start: iso(h.windowStart),
  };
}

export interface RuleInfo {
  /** model sha256[:12] */
  version: string;
}

function iso(epochSeconds: number): string {
  const ms = Number.isFinite(epochSeconds) ? epochSeconds * 1000 : Date.now();
  const d = new Date(ms);
  // microsecond precision like Zeek/Suricata
  const frac = Number.isFinite(epochSeconds)
    ? Math.round((epochSeconds % 1) * 1e6)
    : d.getMilliseconds() * 1000;
  return `${d.toISOString().slice(0, 19)}.${String(Math.min(999999, Math.max(0, frac))).padStart(6, '0')}Z`;
}

/** 1 (low) .. 4 (critical) from the 0-100 risk score. */
export function severity(risk: number): number {
  return risk >= 99 ? 4 : risk >= 95 ? 3 : risk >= 80 ? 2 : 1;
}

function finitePort(p: number): number | undefined {
  return Number.isFinite(p) ? p : undefined;
}

const RULE_ID = 'kmeans-distance';
const RULE_NAME = 'Flow far from all traffic clusters';

export function ecsAlert(a: ScoredFlowInfo, rule: RuleInfo): Record<string, unknown> {
  const src: Record<string, unknown> = { ip: a.srcIp };
  const sp = finitePort(a.srcPort);
  if (sp !== undefined) src.port = sp;
  const dst: Record<string, unknown> = { ip: a.dstIp };
  const dp = finitePort(a.dstPort);
  if (dp !== undefined) dst.port = dp;
  const network: Record<string, unknown> = { transport: a.protocol };
  if (a.communityId) network.community_id = a.communityId;
  const kmeans: Record<string, unknown> = { cluster: a.cluster, distance: round(a.distance, 6) };
  if (a.clusterName) kmeans.cluster_label = a.clusterName;
  const input: Record<string, unknown> = { ...a.input };
  if (a.imputed?.length) input.quality = { imputed: a.imputed };
  return {
    '@timestamp': iso(a.startTime),
    ecs: { version: ECS_VERSION },
    event: {
      kind: 'alert',
      category: ['network'],
      type: ['connection'],
      id: a.eventId,
      risk_score: a.riskScore,
      severity: severity(a.riskScore),
      created: new Date().toISOString(),
    },
    source: src,
    destination: dst,
    network,
    rule: { id: RULE_ID, name: RULE_NAME, version: rule.version },
    observer: { product: 'netanomaly', vendor: 'netanomaly', version: LIBRARY_VERSION },
    netanomaly: {
      schema_version: ALERT_SCHEMA_VERSION,
      anomaly_score: round(a.anomalyScore, 6),
      threshold: round(a.threshold, 6),
      kmeans,
      explain: { top_fields: a.topFields },
      input,
      ...(a.host ? { host: hostLinkJson(a.host) } : {}),
    },
  };
}

export function eveAlert(a: ScoredFlowInfo, rule: RuleInfo): Record<string, unknown> {
  const rec: Record<string, unknown> = {
    timestamp: iso(a.startTime),
    // Suricata's flow_id is a 64-bit integer; ours is the first 52 bits of the event id (safe in JSON)
    flow_id: Number.parseInt(a.eventId.slice(0, 13), 16),
    event_type: 'alert',
    src_ip: a.srcIp,
    dest_ip: a.dstIp,
    proto: a.protocol.toUpperCase(),
  };
  const sp = finitePort(a.srcPort);
  if (sp !== undefined) rec.src_port = sp;
  const dp = finitePort(a.dstPort);
  if (dp !== undefined) rec.dest_port = dp;
  if (a.communityId) rec.community_id = a.communityId;
  rec.alert = {
    action: 'allowed',
    gid: 1,
    signature_id: 9_000_001,
    rev: 1,
    signature: RULE_NAME,
    category: 'Anomalous network traffic',
    severity: 5 - severity(a.riskScore),
    metadata: {
      netanomaly: {
        schema_version: ALERT_SCHEMA_VERSION,
        event_id: a.eventId,
        rule_version: rule.version,
        risk_score: a.riskScore,
        anomaly_score: round(a.anomalyScore, 6),
        threshold: round(a.threshold, 6),
        kmeans: {
          cluster: a.cluster,
          distance: round(a.distance, 6),
          ...(a.clusterName ? { cluster_label: a.clusterName } : {}),
        },
        explain: { top_fields: a.topFields },
        input: a.input,
        ...(a.host ? { host: hostLinkJson(a.host) } : {}),
      },
    },
  };
  return rec;
}

const HOST_RULE_ID = 'host-window-score';
const HOST_RULE_NAME = 'Host window far from the traffic the model learnt';

/** The `host` block of a host alert: window, score against the threshold, evidence. */
function hostJson(h: HostAlertInfo): Record<string, unknown> {
  return {
    ip: h.host,
    window_start: iso(h.windowStart),
    window_seconds: h.windowSeconds,
    score: round(h.hostScore, 6),
    threshold: round(h.threshold, 6),
    top_k: h.topK,
    flows: h.flows,
    flagged_flows: h.flaggedFlows,
    evidence: h.evidence.map((e) => ({
      ...(e.communityId ? { community_id: e.communityId } : {}),
      anomaly_score: round(e.anomalyScore, 6),
      event_id: e.eventId,
    })),
  };
}

export interface HostAlertContext {
  riskScore: number;
  /** Where the crossing flow was read. */
  input: ScoredFlowInfo['input'];
}

/** An ECS host alert: one per host window whose score crossed the host threshold. */
export function ecsHostAlert(
  h: HostAlertInfo,
  ctx: HostAlertContext,
  rule: RuleInfo,
): Record<string, unknown> {
  return {
    '@timestamp': iso(h.windowStart),
    ecs: { version: ECS_VERSION },
    event: {
      kind: 'alert',
      category: ['network', 'host'],
      type: ['info'],
      dataset: 'netanomaly.host',
      id: h.eventId,
      risk_score: ctx.riskScore,
      severity: severity(ctx.riskScore),
      start: iso(h.windowStart),
      end: iso(h.windowStart + h.windowSeconds),
      created: new Date().toISOString(),
    },
    source: { ip: h.host },
    rule: { id: HOST_RULE_ID, name: HOST_RULE_NAME, version: rule.version },
    observer: { product: 'netanomaly', vendor: 'netanomaly', version: LIBRARY_VERSION },
    netanomaly: { schema_version: ALERT_SCHEMA_VERSION, host: hostJson(h), input: { ...ctx.input } },
  };
}

/** A Suricata-EVE-shaped host alert (no destination: it is about the host). */
export function eveHostAlert(
  h: HostAlertInfo,
  ctx: HostAlertContext,
  rule: RuleInfo,
): Record<string, unknown> {
  return {
    timestamp: iso(h.windowStart),
    event_type: 'alert',
    src_ip: h.host,
    alert: {
      action: 'allowed',
      gid: 1,
      signature_id: 9_000_002,
      rev: 1,
      signature: HOST_RULE_NAME,
      category: 'Anomalous host behaviour',
      severity: 5 - severity(ctx.riskScore),
      metadata: {
        netanomaly: {
          schema_version: ALERT_SCHEMA_VERSION,
          event_id: h.eventId,
          rule_version: rule.version,
          risk_score: ctx.riskScore,
          host: hostJson(h),
          input: ctx.input,
        },
      },
    },
  };
}

export interface WatchCounters {
  read: number;
  parsed: number;
  quarantined: Record<string, number>;
  scored: number;
  alerts: number;
  duplicates_suppressed: number;
  replays: number;
  batches: number;
  sink_failures: number;
  rotations: number;
  files_done: number;
  /** Host windows (host-windows.ts): opened, alerted, closed by age or by the cap, late flows. */
  host_windows: number;
  host_alerts: number;
  host_windows_closed: number;
  host_windows_capped: number;
  host_flows_late: number;
}

export function emptyCounters(): WatchCounters {
  return {
    read: 0,
    parsed: 0,
    quarantined: {},
    scored: 0,
    alerts: 0,
    duplicates_suppressed: 0,
    replays: 0,
    batches: 0,
    sink_failures: 0,
    rotations: 0,
    files_done: 0,
    host_windows: 0,
    host_alerts: 0,
    host_windows_closed: 0,
    host_windows_capped: 0,
    host_flows_late: 0,
  };
}

export interface StatsInfo {
  counters: WatchCounters;
  secondsSinceLastRecord: number | null;
  source: string;
  uptime: number;
  health: 'ok' | 'degraded' | 'stale';
  lag_bytes?: number;
  /** Live capture: packet counts and kernel/dumpcap drops (capture loss, as Zeek's capture_loss). */
  capture?: CaptureStats;
  /** Input health over the last interval: rates, last record, loss, alert-budget spend. */
  input?: HealthSnapshot;
  /** Drift of the last records against the model's drift reference (when it has one). */
  drift?: {
    rows: number;
    share_psi: number;
    score_psi: number;
    far_share: number;
    retrain: boolean;
    reasons: string[];
    clusters_flagged: number[];
  };
}

export interface CaptureStats {
  interface: string;
  /** Packets handed to us by dumpcap so far. */
  packets: number;
  /** dumpcap's own counters (known once dumpcap has stopped; null before). */
  received: number | null;
  dropped: number | null;
  /** dropped / (received + dropped) * 100, null while unknown. */
  loss_pct: number | null;
}

/** A periodic stats record (ECS: event.kind "metric"; EVE: event_type "stats"). */
export function statsRecord(
  s: StatsInfo,
  format: AlertFormat,
  seq: number,
  runId: string,
): Record<string, unknown> {
  const body = {
    schema_version: ALERT_SCHEMA_VERSION,
    source: s.source,
    uptime_s: round(s.uptime, 3),
    health: s.health,
    seconds_since_last_record: s.secondsSinceLastRecord === null ? null : round(s.secondsSinceLastRecord, 3),
    counters: s.counters,
    ...(s.lag_bytes !== undefined ? { lag_bytes: s.lag_bytes } : {}),
    ...(s.capture !== undefined ? { capture: s.capture } : {}),
    ...(s.input !== undefined ? { input: s.input } : {}),
    ...(s.drift !== undefined ? { drift: s.drift } : {}),
  };
  const now = new Date();
  if (format === 'eve') {
    return { timestamp: iso(now.getTime() / 1000), event_type: 'stats', stats: { netanomaly: body } };
  }
  return {
    '@timestamp': now.toISOString(),
    ecs: { version: ECS_VERSION },
    event: { kind: 'metric', dataset: 'netanomaly.stats', id: sha256(`${runId}:stats:${seq}`) },
    observer: { product: 'netanomaly', vendor: 'netanomaly', version: LIBRARY_VERSION },
    netanomaly: { stats: body },
  };
}

/** A warning record (input stale, rotated file not found…). */
export function warningRecord(
  code: string,
  message: string,
  format: AlertFormat,
  seq: number,
  runId: string,
): Record<string, unknown> {
  const now = new Date();
  if (format === 'eve') {
    return {
      timestamp: iso(now.getTime() / 1000),
      event_type: 'netanomaly_warning',
      netanomaly_warning: { schema_version: ALERT_SCHEMA_VERSION, code, message },
    };
  }
  return {
    '@timestamp': now.toISOString(),
    ecs: { version: ECS_VERSION },
    event: {
      kind: 'metric',
      dataset: 'netanomaly.warning',
      action: code,
      id: sha256(`${runId}:warn:${seq}`),
    },
    log: { level: 'warning' },
    message,
    observer: { product: 'netanomaly', vendor: 'netanomaly', version: LIBRARY_VERSION },
    netanomaly: { warning: { schema_version: ALERT_SCHEMA_VERSION, code } },
  };
}
