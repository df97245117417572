/**
 * Flow-level evaluation on traffic-lab runs: train the default detector on every flow of one run
 * (normally a benign-only run; k chosen as `train` does), score every flow of another run, and
 * compare with that run's labels.csv (joined on Community ID + start time). Reported: ROC-AUC,
 * PR-AUC, detection rate at 0.1 / 1 / 5 % FPR, the verdicts at the model's own threshold, recall
 * per scenario, per source host and per time window. Flows labelled `unknown` (and flows without
 * a labels.csv row) are left out of the metrics and counted.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { readInput } from '../ingest/read-input.ts';
import type { IdentityColumns } from '../ingest/traffic/index.ts';
import { flowJoinKey, parseLabelsCsv } from '../lab/labels.ts';
import type { FprEstimate } from '../model/calibration.ts';
import type { DetectorOptions } from '../model/detector.ts';
import {
  aggregateHosts,
  calibrateHosts,
  type HostCalibration,
  hostAggregation,
  hostKeys,
} from '../model/host-score.ts';
import {
  averagePrecision,
  binaryReport,
  detectionRateAtFpr,
  recallByGroup,
  rocAuc,
} from '../model/metrics.ts';
import { beaconReport } from './beacons.ts';
import { FPR_POINTS } from './evaluate.ts';
import { HOST_VARIANTS } from './evaluate-pcaps.ts';
import { trainFromFile } from './train.ts';

export interface LabEvaluateOptions {
  train: string;
  test: string;
  k?: 'auto' | number;
  detector?: Omit<DetectorOptions, 'k'>;
  /** Width of the time windows of the report, seconds (default 30). */
  windowSeconds?: number;
  onProgress?: (step: string) => void;
}

export interface GroupFigures {
  n: number;
  detected: number;
  /** detected / n: recall for attack groups, false-positive rate for benign ones. */
  share: number;
}

export interface LabEvaluation {
  train: {
    dir: string;
    flows: number;
    labels: Record<string, number> | null;
    k: number;
    k_choice: string;
    threshold: number;
    target_fpr: number;
  };
  test: {
    dir: string;
    flows: number;
    attacks: number;
    benign: number;
    unknown: number;
    without_label: number;
  };
  roc_auc: number;
  pr_auc: number;
  dr_at_fpr: Record<(typeof FPR_POINTS)[number], number>;
  /** At the model's threshold (set from training flows only). */
  fpr: number;
  recall: number;
  precision: number;
  f1: number;
  recall_by_scenario: Record<string, GroupFigures & { tool: string }>;
  by_source_host: Record<string, GroupFigures & { label: string }>;
  window_seconds: number;
  by_time_window: { start: number; attacks: GroupFigures; benign: GroupFigures }[];
  /** How the flow threshold was calibrated, and what calibration expects on new traffic. */
  calibration: {
    mode: string;
    derived_groups: { by: string; groups: number } | null;
    expected_fpr: Pick<FprEstimate, 'fpr' | 'groupMeanFpr' | 'clopperPearson' | 'groupBootstrap'> | null;
  };
  /** Host windows of the test run: the model's verdict first, then every HOST_VARIANTS verdict. */
  hosts: Record<string, LabHostFigures>;
  /** The beacon report of the test run with the training run as its baseline (pipeline/beacons.ts). */
  beacons: LabBeaconFigures;
  fit_seconds: number;
}

export interface LabBeaconFigures {
  /** Pairs ranked (enough connections, not bursts), and how many of them are known pollers. */
  ranked: number;
  known: number;
  /**
   * Per label that is the majority of some ranked pair's flows: its best rank among the pairs that
   * are not known (1 = top of the report; null when all its pairs are known), and that pair.
   */
  by_label: Record<string, { rank: number | null; pair: string; score: number; pairs: number }>;
}

export interface LabHostFigures {
  threshold: number;
  windows: number;
  /** Benign windows (all labelled flows benign) above the host threshold. */
  benign: GroupFigures;
  /** Per attack scenario: windows holding its flows, and the flagged ones. */
  by_scenario: Record<string, GroupFigures>;
  scenarios_detected: number;
}

function capturePath(dir: string): string {
  const p = join(dir, 'capture.pcap');
  if (!existsSync(p)) throw new InputError(`${dir}: not a lab run directory (no capture.pcap)`);
  return p;
}

async function readLabels(dir: string) {
  const file = join(dir, 'labels.csv');
  if (!existsSync(file)) return null;
  return parseLabelsCsv(await readFile(file, 'utf8'), file);
}

const figures = (g: { n: number; detected: number }): GroupFigures => ({
  n: g.n,
  detected: g.detected,
  share: g.n ? g.detected / g.n : 0,
});

export async function evaluateLab(opts: LabEvaluateOptions): Promise<LabEvaluation> {
  const say = opts.onProgress ?? (() => {});
  const trainCapture = capturePath(opts.train);
  const testCapture = capturePath(opts.test);
  const testLabels = await readLabels(opts.test);
  if (!testLabels) throw new InputError(`${opts.test}: no labels.csv (a test run needs its ground truth)`);
  const trainLabels = await readLabels(opts.train);
  const t0 = performance.now();
  const trained = await trainFromFile(trainCapture, {
    format: 'pcap',
    trainOn: 'all',
    k: opts.k ?? 'auto',
    detector: opts.detector,
    reader: readInput,
    onProgress: say,
  });
  const fitSeconds = (performance.now() - t0) / 1000;
  const det = trained.detector;
  say(`reading ${testCapture}`);
  const input = await readInput(testCapture, 'pcap', 'quarantine');
  const id = input.identity!;
  const byKey = new Map(testLabels.map((r) => [flowJoinKey(r.community_id, r.start), r]));
  say(`scoring ${input.table.nRows} flows`);
  const scored = await det.evaluateRows(input.table);
  const keep: number[] = [];
  const labels: string[] = [];
  const tools: string[] = [];
  let unknown = 0;
  let withoutLabel = 0;
  for (let i = 0; i < input.table.nRows; i++) {
    const row = byKey.get(flowJoinKey(id.community_id[i]!, id.start_time[i]!));
    if (!row) withoutLabel++;
    else if (row.label === 'unknown') unknown++;
    else {
      keep.push(i);
      labels.push(row.label);
      tools.push(row.tool);
    }
  }
  const y = labels.map((l) => (l === 'benign' ? 0 : 1));
  const score = Float64Array.from(keep, (i) => scored.anomalyScore[i]!);
  const flagged = Uint8Array.from(keep, (i) => scored.isAnomaly[i]!);
  const bin = binaryReport(y, flagged);
  const attackIdx = labels.flatMap((l, j) => (l === 'benign' ? [] : [j]));
  const byScenario = recallByGroup(
    attackIdx.map((j) => labels[j]!),
    attackIdx.map((j) => flagged[j]!),
  );
  const toolOf = new Map(labels.map((l, j) => [l, tools[j]!]));
  const srcs = keep.map((i) => id.src_ip[i]!);
  const bySource = recallByGroup(srcs, flagged);
  const labelOfSource = new Map<string, Map<string, number>>();
  srcs.forEach((s, j) => {
    const m = labelOfSource.get(s) ?? new Map<string, number>();
    m.set(labels[j]!, (m.get(labels[j]!) ?? 0) + 1);
    labelOfSource.set(s, m);
  });
  const W = opts.windowSeconds ?? 30;
  let first = Number.POSITIVE_INFINITY;
  for (const i of keep) first = Math.min(first, id.start_time[i]!);
  if (!Number.isFinite(first)) first = 0;
  const win = keep.map((i) => String(Math.floor((id.start_time[i]! - first) / W)));
  const attackWin = recallByGroup(
    attackIdx.map((j) => win[j]!),
    attackIdx.map((j) => flagged[j]!),
  );
  const benignIdx = labels.flatMap((l, j) => (l === 'benign' ? [j] : []));
  const benignWin = recallByGroup(
    benignIdx.map((j) => win[j]!),
    benignIdx.map((j) => flagged[j]!),
  );
  const windows = [...new Set(win)].map(Number).sort((a, b) => a - b);
  const none = { n: 0, detected: 0 };
  const hostFigures = (cal: HostCalibration): LabHostFigures => {
    const keys = hostKeys(id, { windowSeconds: cal.windowSeconds, scope: cal.scope });
    const agg = aggregateHosts(scored.anomalyScore, keys, hostAggregation(cal));
    const scen = agg.hosts.map(() => new Set<string>());
    const labelled = new Uint8Array(agg.hosts.length);
    keep.forEach((i, j) => {
      const h = agg.hostOfRow[i]!;
      labelled[h] = 1;
      if (labels[j] !== 'benign') scen[h]!.add(labels[j]!);
    });
    const benign = { n: 0, detected: 0 };
    const byScen: Record<string, { n: number; detected: number }> = {};
    agg.hosts.forEach((h, j) => {
      if (!labelled[j]) return;
      const flag = h.hostScore > cal.threshold ? 1 : 0;
      if (scen[j]!.size === 0) {
        benign.n++;
        benign.detected += flag;
      }
      for (const l of scen[j]!) {
        const g = byScen[l] ?? { n: 0, detected: 0 };
        byScen[l] = g;
        g.n++;
        g.detected += flag;
      }
    });
    return {
      threshold: cal.threshold,
      windows: agg.hosts.length,
      benign: figures(benign),
      by_scenario: Object.fromEntries(Object.entries(byScen).map(([k, g]) => [k, figures(g)])),
      scenarios_detected: Object.values(byScen).filter((g) => g.detected > 0).length,
    };
  };
  const hosts: Record<string, LabHostFigures> = {};
  const trainId = (trained.input as { identity?: IdentityColumns }).identity;
  if (det.training.host) hosts.model = hostFigures(det.training.host);
  const calScores = det.calibrationScores;
  if (calScores && trainId && calScores.scores.length === trainId.src_ip.length) {
    for (const v of HOST_VARIANTS) {
      const keys = hostKeys(trainId, { scope: v.scope });
      hosts[v.name] = hostFigures(calibrateHosts(calScores.scores, keys, det.options.targetFpr, v));
    }
  }
  say('ranking beacons');
  const beacons = await labBeacons(trainCapture, testCapture, id, keep, labels);
  const ex = det.training.expectedFpr;
  return {
    train: {
      dir: opts.train,
      flows: trained.card.data.rows,
      labels: trainLabels ? countLabels(trainLabels.map((r) => r.label)) : null,
      k: det.k,
      k_choice: trained.card.kChoice,
      threshold: det.threshold,
      target_fpr: det.options.targetFpr,
    },
    test: {
      dir: opts.test,
      flows: input.table.nRows,
      attacks: attackIdx.length,
      benign: benignIdx.length,
      unknown,
      without_label: withoutLabel,
    },
    roc_auc: rocAuc(y, score),
    pr_auc: averagePrecision(y, score),
    dr_at_fpr: Object.fromEntries(
      FPR_POINTS.map((p) => [p, detectionRateAtFpr(y, score, Number(p))]),
    ) as LabEvaluation['dr_at_fpr'],
    fpr: bin.fpr,
    recall: bin.recall,
    precision: bin.precision,
    f1: bin.f1,
    recall_by_scenario: Object.fromEntries(
      Object.entries(byScenario).map(([k, g]) => [k, { ...figures(g), tool: toolOf.get(k) ?? '' }]),
    ),
    by_source_host: Object.fromEntries(
      Object.entries(bySource).map(([k, g]) => {
        const top = [...labelOfSource.get(k)!.entries()].sort((a, b) => b[1] - a[1])[0]![0];
        return [k, { ...figures(g), label: top }];
      }),
    ),
    window_seconds: W,
    by_time_window: windows.map((w) => ({
      start: first + w * W,
      attacks: figures(attackWin[String(w)] ?? none),
      benign: figures(benignWin[String(w)] ?? none),
    })),
    calibration: {
      mode: det.training.calibration,
      derived_groups: det.training.derivedGroups ?? null,
      expected_fpr: ex
        ? {
            fpr: ex.fpr,
            groupMeanFpr: ex.groupMeanFpr,
            clopperPearson: ex.clopperPearson,
            groupBootstrap: ex.groupBootstrap,
          }
        : null,
    },
    hosts,
    beacons,
    fit_seconds: fitSeconds,
  };
}

/** The beacon report of the test capture (baseline: the training capture), read against the labels. */
async function labBeacons(
  trainCapture: string,
  testCapture: string,
  id: IdentityColumns,
  keep: readonly number[],
  labels: readonly string[],
): Promise<LabBeaconFigures> {
  const report = await beaconReport({ inputs: [testCapture], baseline: [trainCapture], format: 'pcap' });
  const counts = new Map<string, Map<string, number>>();
  keep.forEach((i, j) => {
    const key = `${id.src_ip[i]}>${id.dst_ip[i]}`;
    const m = counts.get(key) ?? new Map<string, number>();
    m.set(labels[j]!, (m.get(labels[j]!) ?? 0) + 1);
    counts.set(key, m);
  });
  const byLabel: LabBeaconFigures['by_label'] = {};
  let rank = 0;
  for (const p of report.pairs) {
    if (p.known === null) rank++;
    const m = counts.get(`${p.src_ip}>${p.dst_ip}`);
    if (!m) continue;
    const label = [...m.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]![0];
    const g = byLabel[label];
    if (g) {
      g.pairs++;
      if (g.rank === null && p.known === null) {
        g.rank = rank;
        g.pair = `${p.src_ip} → ${p.dst_ip}`;
        g.score = p.score;
      }
    } else
      byLabel[label] = {
        rank: p.known === null ? rank : null,
        pair: `${p.src_ip} → ${p.dst_ip}`,
        score: p.score,
        pairs: 1,
      };
  }
  return {
    ranked: report.pairs.length,
    known: report.pairs.filter((p) => p.known !== null).length,
    by_label: byLabel,
  };
}

function countLabels(labels: string[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const l of labels) c[l] = (c[l] ?? 0) + 1;
  return Object.fromEntries(Object.entries(c).sort());
}
