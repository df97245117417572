/**
 * Scoring records with a loaded model: one plain object per record (the shape of `score
 * --jsonl`, the web API and the alert builder) plus a summary per cluster.
 */
import type { AnyInput } from '../ingest/read-input.ts';
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
  /** Score of the source host's time window (host-score.ts); with identity columns only. */
  host_score?: number;
  /** host_score above the model's host threshold (models calibrated with flow identity). */
  host_is_anomaly?: boolean;
}

export interface ScoreSummary {
  rows: number;
  anomalies: number;
  anomalyShare: number;
  threshold: number;
  perCluster: Record<string, { rows: number; anomalies: number; name?: string }>;
  imputed: Record<string, number>;
  unknownCategories: Record<string, number>;
  /** Host windows scored and the flagged ones (evidence: Community IDs of their top flows). */
  hosts?: { windows: number; flagged: number; threshold: number | null; top: HostVerdict[] };
}

export function clusterName(model: LoadedModel, cluster: number): string | undefined {
  return model.card.clusterNames?.[String(cluster)]?.name;
}

export async function scoreRecords(
  model: LoadedModel,
  input: AnyInput,
): Promise<{ records: ScoredRecord[]; summary: ScoreSummary }> {
  const det = model.detector;
  const s = await det.evaluateRows(input.table);
  const records: ScoredRecord[] = [];
  const perCluster: ScoreSummary['perCluster'] = {};
  let anomalies = 0;
  const id = input.identity;
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
