/**
 * The honest real-traffic protocol: capture-grouped cross-validation on directories of captures.
 *
 * Benign captures are split into N folds by capture file (deterministic by seed, folds balanced in
 * flows; calibration.ts). For each fold: the detector is trained on the benign captures of the
 * other folds (`--train-on all`: no labels used), with its threshold calibrated on out-of-group
 * scores of those training captures only; it then scores the left-out benign captures (traffic it
 * has never seen) and every attack capture. Nothing is chosen on the attack captures.
 *
 * Labels: attack captures are labelled per capture (`LABELS.tsv`), and except for a pure scan they
 * also hold ordinary flows (DNS lookups and the like). Flow-level figures therefore count every
 * flow of an attack capture as an attack and every flow of an unseen benign capture as benign: an
 * under-estimate of what a detector could reach, since some "attack" flows are benign. Per capture
 * and per host figures are the fairer view: a capture is detected when any of its source hosts is
 * flagged (host score above the host threshold, itself set from benign calibration data), and the
 * same rule applied to the unseen benign captures gives the matching false-alarm rate.
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { InputError } from '../errors.ts';
import { flowFieldSpecs } from '../features/flow-fields.ts';
import type { FieldSpec } from '../features/preprocessor.ts';
import type { Table } from '../ingest/table.ts';
import { concatTables, takeRows } from '../ingest/table.ts';
import { type IdentityColumns, readTraffic, takeIdentity } from '../ingest/traffic/index.ts';
import { expandInputs } from '../ingest/traffic/many.ts';
import { complementRows, foldRows, groupFolds, meanStd } from '../model/calibration.ts';
import { AnomalyDetector, type DetectorOptions, groupWeights } from '../model/detector.ts';
import { type DetectorName, fitCalibrated } from '../model/detectors/index.ts';
import {
  aggregateHosts,
  calibrateHosts,
  type HostAggregation,
  type HostCalibration,
  hostAggregation,
  hostKeys,
} from '../model/host-score.ts';
import { averagePrecision, detectionRateAtFpr, rocAuc } from '../model/metrics.ts';
import { Rng } from '../model/random.ts';

/** Flows of a set of captures, with the capture of every row. */
export interface CaptureSet {
  table: Table;
  identity: IdentityColumns;
  /** Capture index of every row (into `captures`). */
  capture: Int32Array;
  captures: { name: string; path: string; rows: number; label?: string }[];
  /** Files that could not be read as captures, with the reason (counted, never fatal). */
  unreadable: { name: string; reason: string }[];
}

/** Read every capture of a directory one by one; a file that fails is named and set aside. */
export async function readCaptureSet(dir: string, labels?: Map<string, string>): Promise<CaptureSet> {
  const paths = (await expandInputs([dir])).filter((p) => !/\.(tsv|md|txt|csv)$/i.test(p));
  const tables: Table[] = [];
  const ids: IdentityColumns[] = [];
  const captures: CaptureSet['captures'] = [];
  const unreadable: CaptureSet['unreadable'] = [];
  for (const path of paths) {
    const name = basename(path);
    try {
      const r = await readTraffic(path, { format: 'pcap', onBadRow: 'quarantine' });
      tables.push(r.table);
      ids.push(r.identity);
      const c: CaptureSet['captures'][number] = { name, path, rows: r.table.nRows };
      const label = labels?.get(name);
      if (label) c.label = label;
      captures.push(c);
    } catch (err) {
      unreadable.push({ name, reason: (err as Error).message.split('\n')[0]!.slice(0, 200) });
    }
  }
  if (captures.length === 0) throw new InputError(`${dir}: no readable capture`);
  const capture = new Int32Array(captures.reduce((s, c) => s + c.rows, 0));
  let o = 0;
  captures.forEach((c, i) => {
    capture.fill(i, o, o + c.rows);
    o += c.rows;
  });
  return { table: concatTables(tables), identity: concatIdentity(ids), capture, captures, unreadable };
}

/** `LABELS.tsv` of an attack directory: file → label (first two tab-separated columns). */
export async function readCaptureLabels(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let text: string;
  try {
    text = await readFile(join(dir, 'LABELS.tsv'), 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split(/\r?\n/).slice(1)) {
    const [file, label] = line.split('\t');
    if (file && label) out.set(file.trim(), label.trim());
  }
  return out;
}

export interface PcapEvalOptions {
  benignDir: string;
  attackDir?: string;
  folds?: number;
  seed?: number;
  /** Which detector (default the project's K-Means ensemble). */
  detector?: DetectorName;
  /** Options of the K-Means detector. */
  kmeans?: DetectorOptions;
  /** Only this many benign captures (seeded choice), for quick runs. */
  maxBenignCaptures?: number;
  onProgress?: (step: string) => void;
}

/**
 * Host verdicts the protocol reports beside the model's own: every aggregation (host-score.ts),
 * each with its threshold from the same out-of-group calibration scores. None is chosen here.
 */
export const HOST_VARIANTS: readonly {
  name: string;
  aggregate: HostAggregation;
  topK: number;
  scope: 'host' | 'pair';
}[] = [
  { name: 'max', aggregate: 'mean', topK: 1, scope: 'host' },
  { name: 'top2-mean', aggregate: 'mean', topK: 2, scope: 'host' },
  { name: 'top3-mean', aggregate: 'mean', topK: 3, scope: 'host' },
  { name: 'tail', aggregate: 'tail', topK: 3, scope: 'host' },
  { name: 'top3-mean-pair', aggregate: 'mean', topK: 3, scope: 'pair' },
  { name: 'tail-pair', aggregate: 'tail', topK: 3, scope: 'pair' },
];

/** One host verdict's figures in one fold. */
export interface HostVariantFold {
  host_threshold: number;
  /** Unseen benign host windows: flagged share, flagged count, all. */
  host_fpr_unseen: number;
  benign_windows_flagged: number;
  benign_windows: number;
  /** The most flagged windows one unseen benign capture holds. */
  max_flagged_windows_one_capture: number;
  benign_captures_flagged: number;
  attack_captures_detected: number;
  /** Attack captures with a flagged host in this fold. */
  detected: string[];
}

export interface AttackCaptureResult {
  capture: string;
  label: string;
  flows: number;
  hosts: number;
  /** Mean over folds. */
  flows_flagged_share: number;
  hosts_flagged_share: number;
  /** Folds in which some host of the capture was above the host threshold. */
  detected_folds: number;
  /** Folds in which some flow of the capture was above the flow threshold. */
  flow_detected_folds: number;
  /** Highest host score over its hosts ÷ the host threshold (mean over folds; > 1 = flagged). */
  host_score_ratio: number;
  /** Community IDs of the top flows (fold 0's model), the evidence an analyst gets. */
  evidence: string[];
}

interface FoldFigures {
  fold: number;
  train_captures: number;
  train_flows: number;
  test_captures: number;
  test_flows: number;
  threshold: number;
  host_threshold: number;
  /** FPR on the unseen benign flows at the model's threshold (pooled over flows). */
  fpr_unseen: number;
  /** Mean over unseen benign captures of each capture's flagged share. */
  fpr_unseen_capture_mean: number;
  /** The same with the leave-one-out threshold (K-Means only: the threshold before issue 15). */
  fpr_unseen_loo?: number;
  /** What calibration expected (out-of-group FPR on the training captures). */
  expected_fpr?: number;
  /** Share of unseen benign host windows above the host threshold. */
  host_fpr_unseen: number;
  /** Share of unseen benign captures with some host above the host threshold. */
  benign_captures_flagged: number;
  roc_auc: number;
  pr_auc: number;
  dr_at_1pct: number;
  /** Mean over attack captures of ROC-AUC (that capture's flows vs the unseen benign flows). */
  roc_auc_per_capture_mean: number;
  /** ROC-AUC of captures, each scored by its highest host score, attack vs unseen benign. */
  capture_roc_auc: number;
  attack_captures_detected: number;
  attack_captures_detected_by_flow: number;
  fit_seconds: number;
  /** Every host verdict of HOST_VARIANTS (when the detector exposes its calibration scores). */
  host_variants?: Record<string, HostVariantFold>;
}

type Summary = { mean: number; std: number; min: number; max: number };

export interface PcapEvaluation {
  protocol: string;
  labels: string;
  detector: DetectorName;
  folds: number;
  seed: number;
  target_fpr: number;
  benign: {
    dir: string;
    captures: number;
    /** Captures with at least one flow (the others take part in no fold). */
    captures_with_flows: number;
    flows: number;
    unreadable: CaptureSet['unreadable'];
  };
  attack: { dir: string; captures: number; flows: number; unreadable: CaptureSet['unreadable'] } | null;
  summary: Record<string, Summary>;
  /**
   * Over all folds at once (each benign capture is unseen in exactly one fold): flagged unseen
   * benign flows ÷ all benign flows, at the model's threshold and at the leave-one-out one.
   */
  pooled: { fpr_unseen: number; fpr_unseen_loo?: number; benign_flows: number };
  per_fold: FoldFigures[];
  /**
   * Per host verdict, over the folds: mean ± sd of the shares, flagged benign windows in all folds
   * (and how many of them one capture holds), and per attack capture the folds that flagged it.
   */
  host_variants: Record<
    string,
    {
      host_fpr_unseen: Summary;
      benign_captures_flagged: Summary;
      attack_captures_detected: Summary;
      benign_windows_flagged: number;
      benign_windows: number;
      max_flagged_windows_one_capture: number;
      detected_folds: Record<string, number>;
    }
  >;
  per_attack_capture: AttackCaptureResult[];
  /** Unseen benign captures with flows or hosts above the thresholds, most flagged flows first. */
  benign_false_alarms: { capture: string; flows: number; flagged_flows: number; flagged_hosts: number }[];
  seconds: number;
}

const PROTOCOL =
  'capture-grouped cross-validation: folds of benign capture files (seeded, balanced in flows); ' +
  'train on the benign captures of the other folds (train-on all, threshold calibrated on their ' +
  'out-of-group scores only), test on the left-out benign captures and on every attack capture';
const LABELS_NOTE =
  'flow level: every flow of an attack capture counts as attack (labels are per capture, benign ' +
  'DNS etc. included), every flow of an unseen benign capture as benign; capture level: a capture ' +
  'is detected when one of its source hosts (per host window) is above the host threshold';

/** A fitted model the protocol can use, whatever the detector. */
export interface ProtocolModel {
  threshold: number;
  host: HostCalibration;
  expectedFpr?: number;
  /** Out-of-group calibration scores of the training rows, for the other host verdicts. */
  calibrationScores?: Float64Array;
  score(table: Table): Promise<Float64Array>;
}

async function fitModel(
  name: DetectorName,
  fields: FieldSpec[],
  table: Table,
  groups: Int32Array,
  identity: IdentityColumns,
  opts: PcapEvalOptions,
): Promise<ProtocolModel> {
  const seed = opts.seed ?? 0;
  if (name === 'kmeans') {
    const det = await new AnomalyDetector(fields, { seed, ...opts.kmeans, calibration: 'grouped' }).fit(
      table,
      { groups, identity },
    );
    return {
      threshold: det.threshold,
      host: det.training.host!,
      expectedFpr: det.training.expectedFpr?.fpr,
      calibrationScores: det.calibrationScores?.scores,
      score: (t) => det.anomalyScore(t),
    };
  }
  const m = await fitCalibrated(name, fields, table, {
    groups,
    identity,
    seed,
    targetFpr: opts.kmeans?.targetFpr,
  });
  return {
    threshold: m.threshold,
    host: m.host,
    expectedFpr: m.expectedFpr.fpr,
    calibrationScores: m.calibrationScores,
    score: (t) => m.score(t),
  };
}

export async function evaluatePcaps(opts: PcapEvalOptions): Promise<PcapEvaluation> {
  const t0 = performance.now();
  const nFolds = opts.folds ?? 5;
  const seed = opts.seed ?? 0;
  const name = opts.detector ?? 'kmeans';
  const progress = opts.onProgress ?? (() => {});
  progress(`reading ${opts.benignDir}`);
  let benign = await readCaptureSet(opts.benignDir);
  if (opts.maxBenignCaptures && opts.maxBenignCaptures < benign.captures.length)
    benign = subsetCaptures(benign, opts.maxBenignCaptures, seed);
  let attack: CaptureSet | null = null;
  if (opts.attackDir) {
    progress(`reading ${opts.attackDir}`);
    attack = await readCaptureSet(opts.attackDir, await readCaptureLabels(opts.attackDir));
  }
  const fields = flowFieldSpecs();
  const targetFpr = opts.kmeans?.targetFpr ?? 0.01;
  const foldOfCapture = groupFolds(benign.capture, nFolds, seed);
  const folds = foldRows(benign.capture, foldOfCapture, nFolds);
  const perFold: FoldFigures[] = [];
  const falseAlarms: PcapEvaluation['benign_false_alarms'] = [];
  const perAttack = new Map<
    number,
    {
      flowShare: number[];
      hostShare: number[];
      det: number;
      flowDet: number;
      ratio: number[];
      hosts: number;
      evidence: string[];
    }
  >();
  for (const [f, testRows] of folds.entries()) {
    const trainRows = complementRows(benign.table.nRows, testRows);
    const trainTable = takeRows(benign.table, trainRows);
    const trainGroups = Int32Array.from(trainRows, (i) => benign.capture[i]!);
    const trainId = takeIdentity(benign.identity, trainRows);
    progress(`fold ${f + 1}/${nFolds}: training ${name} on ${trainRows.length} flows`);
    const tf = performance.now();
    const model = await fitModel(name, fields, trainTable, trainGroups, trainId, opts);
    const fitSeconds = (performance.now() - tf) / 1000;
    let looFpr: number | undefined;
    const testTable = takeRows(benign.table, testRows);
    const testGroups = Int32Array.from(testRows, (i) => benign.capture[i]!);
    const testId = takeIdentity(benign.identity, testRows);
    const benignScores = await model.score(testTable);
    if (name === 'kmeans') {
      // the threshold before issue 15: the same runs (and field tail), leave-one-out calibration
      const fieldTail = opts.kmeans?.fieldTail === 'off' ? 'off' : 'on';
      const loo = await new AnomalyDetector(fields, {
        seed,
        ...opts.kmeans,
        calibration: 'loo',
        fieldTail,
      }).fit(trainTable);
      // its own scores: with a field tail the two calibrations map rarity onto the scale differently
      looFpr = loo.fieldTail
        ? share(await loo.anomalyScore(testTable), loo.threshold)
        : share(benignScores, loo.threshold);
    }
    const scope = model.host.scope;
    const benignHosts = aggregateHosts(
      benignScores,
      hostKeys(testId, { groups: testGroups, scope }),
      hostAggregation(model.host),
    );
    const benignHostFlag = benignHosts.hosts.map((h) => h.hostScore > model.host.threshold);
    const flaggedCaptures = new Set<number>();
    const maxHostByCapture = new Map<number, number>();
    benignHosts.hosts.forEach((h, j) => {
      const c = Number(h.key.split('|')[0]);
      maxHostByCapture.set(c, Math.max(maxHostByCapture.get(c) ?? -Infinity, h.hostScore));
      if (benignHostFlag[j]) flaggedCaptures.add(c);
    });
    const testCaptures = new Set(testGroups);
    const perCaptureFpr: number[] = [];
    const capFlows = new Map<number, number>();
    const capFlagged = new Map<number, number>();
    for (let i = 0; i < testGroups.length; i++) {
      const c = testGroups[i]!;
      capFlows.set(c, (capFlows.get(c) ?? 0) + 1);
      if (benignScores[i]! > model.threshold) capFlagged.set(c, (capFlagged.get(c) ?? 0) + 1);
    }
    const capHostsFlagged = new Map<number, number>();
    benignHosts.hosts.forEach((h, j) => {
      if (!benignHostFlag[j]) return;
      const c = Number(h.key.split('|')[0]);
      capHostsFlagged.set(c, (capHostsFlagged.get(c) ?? 0) + 1);
    });
    for (const [c, n] of capFlows) {
      perCaptureFpr.push((capFlagged.get(c) ?? 0) / n);
      if (capFlagged.has(c) || capHostsFlagged.has(c))
        falseAlarms.push({
          capture: benign.captures[c]!.name,
          flows: n,
          flagged_flows: capFlagged.get(c) ?? 0,
          flagged_hosts: capHostsFlagged.get(c) ?? 0,
        });
    }
    const fig: FoldFigures = {
      fold: f,
      train_captures: new Set(trainGroups).size,
      train_flows: trainRows.length,
      test_captures: testCaptures.size,
      test_flows: testRows.length,
      threshold: model.threshold,
      host_threshold: model.host.threshold,
      fpr_unseen: share(benignScores, model.threshold),
      fpr_unseen_capture_mean: meanStd(perCaptureFpr).mean,
      host_fpr_unseen: benignHostFlag.filter(Boolean).length / Math.max(1, benignHostFlag.length),
      benign_captures_flagged: flaggedCaptures.size / Math.max(1, testCaptures.size),
      roc_auc: Number.NaN,
      pr_auc: Number.NaN,
      dr_at_1pct: Number.NaN,
      roc_auc_per_capture_mean: Number.NaN,
      capture_roc_auc: Number.NaN,
      attack_captures_detected: 0,
      attack_captures_detected_by_flow: 0,
      fit_seconds: fitSeconds,
    };
    if (looFpr !== undefined) fig.fpr_unseen_loo = looFpr;
    if (model.expectedFpr !== undefined) fig.expected_fpr = model.expectedFpr;
    if (attack && attack.table.nRows > 0 && testRows.length > 0) {
      const attackScores = await model.score(attack.table);
      const y = new Uint8Array(testRows.length + attackScores.length);
      y.fill(1, testRows.length);
      const all = new Float64Array(y.length);
      all.set(benignScores);
      all.set(attackScores, testRows.length);
      fig.roc_auc = rocAuc(y, all);
      fig.pr_auc = averagePrecision(y, all);
      fig.dr_at_1pct = detectionRateAtFpr(y, all, 0.01);
      const hosts = aggregateHosts(
        attackScores,
        hostKeys(attack.identity, { groups: attack.capture, scope }),
        {
          ...hostAggregation(model.host),
          flowThreshold: model.threshold,
        },
      );
      const aucs: number[] = [];
      const capScores: number[] = [];
      const capY: number[] = [];
      for (const [c, m] of maxHostByCapture) {
        void c;
        capScores.push(m);
        capY.push(0);
      }
      attack.captures.forEach((cap, c) => {
        if (cap.rows === 0) return;
        const rows: number[] = [];
        for (let i = 0; i < attack!.capture.length; i++) if (attack!.capture[i] === c) rows.push(i);
        const s = Float64Array.from(rows, (i) => attackScores[i]!);
        const yy = new Uint8Array(testRows.length + s.length).fill(1, testRows.length);
        const ss = new Float64Array(yy.length);
        ss.set(benignScores);
        ss.set(s, testRows.length);
        aucs.push(rocAuc(yy, ss));
        const capHosts = hosts.hosts.filter((h) => Number(h.key.split('|')[0]) === c);
        const flaggedHosts = capHosts.filter((h) => h.hostScore > model.host.threshold).length;
        const flowFlagged = s.filter((v) => v > model.threshold).length;
        const maxHost = Math.max(...capHosts.map((h) => h.hostScore));
        capScores.push(maxHost);
        capY.push(1);
        let e = perAttack.get(c);
        if (!e) {
          const best = [...capHosts].sort((a, b) => b.hostScore - a.hostScore)[0]!;
          e = {
            flowShare: [],
            hostShare: [],
            det: 0,
            flowDet: 0,
            ratio: [],
            hosts: capHosts.length,
            evidence: best.topRows.slice(0, 3).map((i) => attack!.identity.community_id[i]!),
          };
          perAttack.set(c, e);
        }
        e.flowShare.push(flowFlagged / s.length);
        e.hostShare.push(flaggedHosts / capHosts.length);
        e.ratio.push(maxHost / model.host.threshold);
        if (flaggedHosts > 0) {
          e.det++;
          fig.attack_captures_detected++;
        }
        if (flowFlagged > 0) {
          e.flowDet++;
          fig.attack_captures_detected_by_flow++;
        }
      });
      fig.roc_auc_per_capture_mean = meanStd(aucs).mean;
      if (capY.includes(0) && capY.includes(1)) fig.capture_roc_auc = rocAuc(capY, capScores);
    }
    if (model.calibrationScores) {
      const attackScores = attack && attack.table.nRows > 0 ? await model.score(attack.table) : null;
      fig.host_variants = hostVariantFold(
        model.calibrationScores,
        { identity: trainId, groups: trainGroups },
        { identity: testId, groups: testGroups, scores: benignScores },
        attack && attackScores ? { set: attack, scores: attackScores } : null,
        targetFpr,
      );
    }
    perFold.push(fig);
    progress(
      `fold ${f + 1}/${nFolds}: unseen benign FPR ${(100 * fig.fpr_unseen).toFixed(2)} %, ROC-AUC ${fig.roc_auc.toFixed(3)}, ${fig.attack_captures_detected} attack captures detected`,
    );
  }
  const summary: Record<string, Summary> = {};
  const keys = Object.keys(perFold[0]!).filter(
    (k) => !['fold'].includes(k) && typeof (perFold[0] as unknown as Record<string, unknown>)[k] === 'number',
  );
  for (const k of keys) {
    const v = perFold.map((p) => (p as unknown as Record<string, number>)[k]!);
    const ms = meanStd(v);
    summary[k] = { mean: ms.mean, std: ms.std, min: Math.min(...v), max: Math.max(...v) };
  }
  const perAttackCapture: AttackCaptureResult[] = attack
    ? attack.captures.flatMap((cap, c) => {
        const e = perAttack.get(c);
        if (!e) return [];
        return [
          {
            capture: cap.name,
            label: cap.label ?? '',
            flows: cap.rows,
            hosts: e.hosts,
            flows_flagged_share: meanStd(e.flowShare).mean,
            hosts_flagged_share: meanStd(e.hostShare).mean,
            detected_folds: e.det,
            flow_detected_folds: e.flowDet,
            host_score_ratio: meanStd(e.ratio).mean,
            evidence: e.evidence,
          },
        ];
      })
    : [];
  return {
    protocol: PROTOCOL,
    labels: LABELS_NOTE,
    detector: name,
    folds: nFolds,
    seed,
    target_fpr: targetFpr,
    benign: {
      dir: opts.benignDir,
      captures: benign.captures.length,
      captures_with_flows: benign.captures.filter((c) => c.rows > 0).length,
      flows: benign.table.nRows,
      unreadable: benign.unreadable,
    },
    attack: attack
      ? {
          dir: opts.attackDir!,
          captures: attack.captures.length,
          flows: attack.table.nRows,
          unreadable: attack.unreadable,
        }
      : null,
    summary,
    pooled: pooledFpr(perFold),
    per_fold: perFold,
    host_variants: summariseVariants(perFold),
    per_attack_capture: perAttackCapture,
    benign_false_alarms: falseAlarms.sort(
      (a, b) => b.flagged_flows - a.flagged_flows || b.flagged_hosts - a.flagged_hosts,
    ),
    seconds: (performance.now() - t0) / 1000,
  };
}

function hostVariantFold(
  calScores: Float64Array,
  cal: { identity: IdentityColumns; groups: Int32Array },
  benign: { identity: IdentityColumns; groups: Int32Array; scores: Float64Array },
  attack: { set: CaptureSet; scores: Float64Array } | null,
  targetFpr: number,
): Record<string, HostVariantFold> {
  const out: Record<string, HostVariantFold> = {};
  const weights = groupWeights(cal.groups);
  for (const v of HOST_VARIANTS) {
    const hc = calibrateHosts(
      calScores,
      hostKeys(cal.identity, { groups: cal.groups, scope: v.scope }),
      targetFpr,
      { ...v, weights },
    );
    const agg = hostAggregation(hc);
    const b = aggregateHosts(
      benign.scores,
      hostKeys(benign.identity, { groups: benign.groups, scope: v.scope }),
      agg,
    );
    const perCapture = new Map<number, number>();
    for (const h of b.hosts) {
      if (h.hostScore <= hc.threshold) continue;
      const c = Number(h.key.split('|')[0]);
      perCapture.set(c, (perCapture.get(c) ?? 0) + 1);
    }
    const flagged = [...perCapture.values()].reduce((s, x) => s + x, 0);
    const detected: string[] = [];
    if (attack) {
      const a = aggregateHosts(
        attack.scores,
        hostKeys(attack.set.identity, { groups: attack.set.capture, scope: v.scope }),
        agg,
      );
      const hit = new Set<number>();
      for (const h of a.hosts) if (h.hostScore > hc.threshold) hit.add(Number(h.key.split('|')[0]));
      for (const c of [...hit].sort((x, y) => x - y)) detected.push(attack.set.captures[c]!.name);
    }
    out[v.name] = {
      host_threshold: hc.threshold,
      host_fpr_unseen: flagged / Math.max(1, b.hosts.length),
      benign_windows_flagged: flagged,
      benign_windows: b.hosts.length,
      max_flagged_windows_one_capture: Math.max(0, ...perCapture.values()),
      benign_captures_flagged: perCapture.size / Math.max(1, new Set(benign.groups).size),
      attack_captures_detected: detected.length,
      detected,
    };
  }
  return out;
}

function summariseVariants(perFold: FoldFigures[]): PcapEvaluation['host_variants'] {
  const out: PcapEvaluation['host_variants'] = {};
  if (!perFold.every((f) => f.host_variants)) return out;
  const sum = (v: number[]): Summary => ({ ...meanStd(v), min: Math.min(...v), max: Math.max(...v) });
  for (const { name } of HOST_VARIANTS) {
    const folds = perFold.map((f) => f.host_variants![name]!);
    const detectedFolds: Record<string, number> = {};
    for (const f of folds) for (const c of f.detected) detectedFolds[c] = (detectedFolds[c] ?? 0) + 1;
    out[name] = {
      host_fpr_unseen: sum(folds.map((f) => f.host_fpr_unseen)),
      benign_captures_flagged: sum(folds.map((f) => f.benign_captures_flagged)),
      attack_captures_detected: sum(folds.map((f) => f.attack_captures_detected)),
      benign_windows_flagged: folds.reduce((s, f) => s + f.benign_windows_flagged, 0),
      benign_windows: folds.reduce((s, f) => s + f.benign_windows, 0),
      max_flagged_windows_one_capture: Math.max(...folds.map((f) => f.max_flagged_windows_one_capture)),
      detected_folds: detectedFolds,
    };
  }
  return out;
}

function pooledFpr(perFold: FoldFigures[]): PcapEvaluation['pooled'] {
  const n = perFold.reduce((s, f) => s + f.test_flows, 0);
  const at = (pick: (f: FoldFigures) => number | undefined) =>
    perFold.reduce((s, f) => s + (pick(f) ?? 0) * f.test_flows, 0) / Math.max(1, n);
  const out: PcapEvaluation['pooled'] = { fpr_unseen: at((f) => f.fpr_unseen), benign_flows: n };
  if (perFold.every((f) => f.fpr_unseen_loo !== undefined)) out.fpr_unseen_loo = at((f) => f.fpr_unseen_loo);
  return out;
}

function share(scores: Float64Array, threshold: number): number {
  let k = 0;
  for (const v of scores) if (v > threshold) k++;
  return scores.length ? k / scores.length : 0;
}

function subsetCaptures(set: CaptureSet, n: number, seed: number): CaptureSet {
  const pick = Array.from(new Rng(seed).sample(set.captures.length, n)).sort((a, b) => a - b);
  const newIndex = new Map(pick.map((c, i) => [c, i]));
  const rows: number[] = [];
  for (let i = 0; i < set.capture.length; i++) if (newIndex.has(set.capture[i]!)) rows.push(i);
  return {
    table: takeRows(set.table, rows),
    identity: takeIdentity(set.identity, Int32Array.from(rows)),
    capture: Int32Array.from(rows, (i) => newIndex.get(set.capture[i]!)!),
    captures: pick.map((c) => set.captures[c]!),
    unreadable: set.unreadable,
  };
}

function concatIdentity(ids: readonly IdentityColumns[]): IdentityColumns {
  const f = (pick: (i: IdentityColumns) => Float64Array) => {
    const parts = ids.map(pick);
    const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };
  return {
    src_ip: ids.flatMap((i) => i.src_ip),
    dst_ip: ids.flatMap((i) => i.dst_ip),
    src_port: f((i) => i.src_port),
    dst_port: f((i) => i.dst_port),
    protocol: ids.flatMap((i) => i.protocol),
    start_time: f((i) => i.start_time),
    community_id: ids.flatMap((i) => i.community_id),
  };
}

/** A plain-text report of a protocol run (the CLI prints it without --json). */
export function describePcapEvaluation(r: PcapEvaluation): string {
  const s = r.summary;
  const pm = (k: string, pct = false) => {
    const v = s[k];
    if (!v || !Number.isFinite(v.mean)) return 'n/a';
    const m = pct ? 100 * v.mean : v.mean;
    const d = pct ? 100 * v.std : v.std;
    return `${m.toFixed(pct ? 2 : 3)} ± ${d.toFixed(pct ? 2 : 3)}${pct ? ' %' : ''}`;
  };
  const lines = [
    `${r.detector}: ${r.folds}-fold capture-grouped cross-validation over ${r.benign.captures} benign captures (${r.benign.flows} flows)` +
      (r.attack ? `, ${r.attack.captures} attack captures (${r.attack.flows} flows)` : ''),
    `  FPR on unseen benign flows at the threshold: ${pm('fpr_unseen', true)} (target ${100 * r.target_fpr} %; per-capture mean ${pm('fpr_unseen_capture_mean', true)})`,
  ];
  lines.push(
    `  pooled over the folds (each benign capture unseen once): ${(100 * r.pooled.fpr_unseen).toFixed(2)} %` +
      (r.pooled.fpr_unseen_loo !== undefined
        ? `; leave-one-out threshold: ${(100 * r.pooled.fpr_unseen_loo).toFixed(2)} %`
        : ''),
  );
  if (s.fpr_unseen_loo)
    lines.push(`  the same with the leave-one-out threshold: ${pm('fpr_unseen_loo', true)}`);
  lines.push(
    `  unseen benign host windows flagged: ${pm('host_fpr_unseen', true)}; unseen benign captures with a flagged host: ${pm('benign_captures_flagged', true)}`,
  );
  if (r.attack) {
    lines.push(
      `  flow ROC-AUC ${pm('roc_auc')}, PR-AUC ${pm('pr_auc')}, DR@1% ${pm('dr_at_1pct')}; per attack capture mean ROC-AUC ${pm('roc_auc_per_capture_mean')}; capture ROC-AUC ${pm('capture_roc_auc')}`,
      `  attack captures with a flagged host: ${pm('attack_captures_detected')} of ${r.attack.captures} (mean over folds)`,
      '  capture                        label                  flows hosts flows% hosts% detected(folds)',
    );
    for (const a of r.per_attack_capture) {
      lines.push(
        `  ${a.capture.padEnd(30)} ${a.label.padEnd(22)} ${String(a.flows).padStart(5)} ${String(a.hosts).padStart(5)} ${(100 * a.flows_flagged_share).toFixed(1).padStart(6)} ${(100 * a.hosts_flagged_share).toFixed(1).padStart(6)} ${a.detected_folds}/${r.folds}`,
      );
    }
  }
  const variants = Object.entries(r.host_variants);
  if (variants.length) {
    lines.push(
      '  host verdicts (threshold from the same benign calibration): unseen benign windows flagged, captures, attack captures',
    );
    for (const [name, v] of variants) {
      lines.push(
        `  ${name.padEnd(16)} ${(100 * v.host_fpr_unseen.mean).toFixed(2)} % (${v.benign_windows_flagged}/${v.benign_windows}, at most ${v.max_flagged_windows_one_capture} in one capture); captures ${(100 * v.benign_captures_flagged.mean).toFixed(2)} %; attack ${v.attack_captures_detected.mean.toFixed(1)} ± ${v.attack_captures_detected.std.toFixed(1)}`,
      );
    }
  }
  if (r.benign.unreadable.length)
    lines.push(`  unreadable benign files: ${r.benign.unreadable.map((u) => u.name).join(', ')}`);
  return `${lines.join('\n')}\n`;
}
