/**
 * Scoring records with a loaded model: one plain object per record (the shape of `score
 * --jsonl`, the web API and the alert builder) plus a summary per cluster and, for a directory or
 * a list of files, per file (every file is accounted for, including those that gave no rows).
 *
 * The record shape only grows: new fields are added, none renamed or removed.
 */
import type { AnyInput } from '../ingest/read-input.ts';
import type { FileRange } from '../ingest/traffic/many.ts';
import type { LoadedModel } from '../model/bundle.ts';
import { type HostVerdict, scoreHosts, topHosts } from '../model/host-score.ts';

export interface ScoredRecord {
  row: number;
  anomaly_score: number;
  /** 0-100: share of calibration training scores below this one. */
  risk_score: number;
  is_anomaly: boolean;
  cluster: number;
  cluster_name?: string;
  label?: string;
  src_ip?: string;
  src_port?: number;
  dst_ip?: string;
  dst_port?: number;
  protocol?: string;
  start_time?: number;
  community_id?: string;
  /** The input file of this record, when several files (a directory) were scored. */
  file?: string;
  /** Score of the source host's time window (host-score.ts); with identity columns only. */
  host_score?: number;
  /** host_score above the model's host threshold (models calibrated with flow identity). */
  host_is_anomaly?: boolean;
}

/** How one input file of a multi-file input fared: rows scored, anomalies, or why it had none. */
export interface FileSummary {
  path: string;
  rows: number;
  anomalies: number;
  error?: string;
}

export interface ScoreSummary {
  rows: number;
  anomalies: number;
  anomalyShare: number;
  threshold: number;
  perCluster: Record<string, { rows: number; anomalies: number; name?: string }>;
  imputed: Record<string, number>;
  unknownCategories: Record<string, number>;
  /** Per input file (directories and file lists only), in input order. */
  files?: FileSummary[];
  /** Host windows scored and the flagged ones (evidence: Community IDs of their top flows). */
  hosts?: { windows: number; flagged: number; threshold: number | null; top: HostVerdict[] };
}

export function clusterName(model: LoadedModel, cluster: number): string | undefined {
  return model.card.clusterNames?.[String(cluster)]?.name;
}

export async function scoreRecords(
  model: LoadedModel,
  input: AnyInput & { files?: readonly FileRange[] },
): Promise<{ records: ScoredRecord[]; summary: ScoreSummary }> {
  const det = model.detector;
  const s = await det.evaluateRows(input.table);
  const records: ScoredRecord[] = [];
  const perCluster: ScoreSummary['perCluster'] = {};
  let anomalies = 0;
  const id = input.identity;
  const fileOf = rowFiles(input.files, input.table.nRows);
  const hs = id
    ? scoreHosts(s.anomalyScore, id, {
        calibration: det.training.host,
        groups: (input as { groups?: Int32Array }).groups,
        flowThreshold: det.threshold,
      })
    : null;
  for (let i = 0; i < input.table.nRows; i++) {
    const cluster = s.cluster[i]!;
    const isAnomaly = s.isAnomaly[i] === 1;
    const r: ScoredRecord = {
      row: i,
      anomaly_score: s.anomalyScore[i]!,
      risk_score: det.riskScore(s.anomalyScore[i]!),
      is_anomaly: isAnomaly,
      cluster,
    };
    const name = clusterName(model, cluster);
    if (name) r.cluster_name = name;
    if (input.labels) r.label = input.labels[i]!;
    if (id) {
      r.src_ip = id.src_ip[i]!;
      r.src_port = id.src_port[i]!;
      r.dst_ip = id.dst_ip[i]!;
      r.dst_port = id.dst_port[i]!;
      r.protocol = id.protocol[i]!;
      r.start_time = id.start_time[i]!;
      r.community_id = id.community_id[i]!;
      const h = hs!.hosts[hs!.hostOfRow[i]!]!;
      r.host_score = h.hostScore;
      if (h.isAnomaly !== null) r.host_is_anomaly = h.isAnomaly;
    }
    if (fileOf) r.file = fileOf[i]!;
    records.push(r);
    let c = perCluster[String(cluster)];
    if (!c) {
      c = { rows: 0, anomalies: 0, ...(name ? { name } : {}) };
      perCluster[String(cluster)] = c;
    }
    c.rows++;
    if (isAnomaly) {
      c.anomalies++;
      anomalies++;
    }
  }
  return {
    records,
    summary: {
      rows: input.table.nRows,
      anomalies,
      anomalyShare: input.table.nRows ? anomalies / input.table.nRows : 0,
      threshold: det.threshold,
      perCluster,
      imputed: s.report.imputed,
      unknownCategories: s.report.unknownCategories,
      ...(input.files ? { files: fileSummaries(input.files, s.isAnomaly) } : {}),
      ...(hs
        ? {
            hosts: {
              windows: hs.hosts.length,
              flagged: hs.hosts.filter((h) => h.isAnomaly).length,
              threshold: det.training.host?.threshold ?? null,
              top: topHosts(hs.hosts),
            },
          }
        : {}),
    },
  };
}

/** The file of every row, from the row ranges of a multi-file read (null for one file). */
function rowFiles(files: readonly FileRange[] | undefined, nRows: number): string[] | null {
  if (!files) return null;
  const out = new Array<string>(nRows);
  for (const f of files) out.fill(f.path, f.firstRow, f.firstRow + f.rows);
  return out;
}

function fileSummaries(files: readonly FileRange[], isAnomaly: Uint8Array): FileSummary[] {
  return files.map((f) => {
    let anomalies = 0;
    for (let i = f.firstRow; i < f.firstRow + f.rows; i++) anomalies += isAnomaly[i]!;
    return { path: f.path, rows: f.rows, anomalies, ...(f.error ? { error: f.error } : {}) };
  });
}

/**
 * One line per file that gave no scored rows (why), then one line of totals: what a shell
 * prints beside the records so that every input file is accounted for.
 */
export function describeFiles(files: readonly FileSummary[]): string[] {
  const failed = files.filter((f) => f.error);
  const empty = files.filter((f) => !f.error && f.rows === 0);
  const lines = [
    ...failed.map((f) => `skipped ${f.error}`),
    ...empty.map((f) => `${f.path}: no flows to score`),
  ];
  lines.push(
    `${files.length} file(s): ${files.length - failed.length - empty.length} scored, ${empty.length} without flows, ${failed.length} unreadable`,
  );
  return lines;
}

/**
 * The host windows of a score summary for a person: the flagged ones (or, without a host
 * threshold, the highest-scoring), each with its window, score against the threshold, flow
 * counts and the Community IDs of its top flows.
 */
export function describeHosts(hosts: NonNullable<ScoreSummary['hosts']>, windowSeconds: number): string[] {
  const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(6) : String(v));
  const when = (t: number) =>
    Number.isFinite(t) && t > 0 ? new Date(t * 1000).toISOString().slice(0, 19).replace('T', ' ') : '-';
  const head =
    hosts.threshold === null
      ? `host windows: ${hosts.windows} (the model has no host threshold; highest host scores)`
      : `flagged hosts: ${hosts.flagged} of ${hosts.windows} host windows above the host threshold ${fmt(hosts.threshold)} (windows of ${windowSeconds} s)`;
  const lines = [head];
  if (hosts.top.length === 0) return lines;
  lines.push(
    '  host                                     window start (UTC)   score      flows  flagged  evidence (Community IDs, top flows first)',
  );
  for (const h of hosts.top)
    lines.push(
      `  ${h.host.padEnd(40)} ${when(h.windowStart).padEnd(20)} ${fmt(h.hostScore).padEnd(10)} ${String(h.flows).padEnd(6)} ${String(h.flaggedFlows).padEnd(8)} ${h.evidence.join(' ')}`,
    );
  if (hosts.flagged > hosts.top.length)
    lines.push(`  … ${hosts.flagged - hosts.top.length} more (score --jsonl: host_is_anomaly)`);
  return lines;
}
