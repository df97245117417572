/**
 * Honest evaluation on labelled data: train on the training file (its normal rows, or all rows
 * without labels), score the untouched test file, report ranking quality (ROC-AUC, PR-AUC,
 * detection rate at fixed false-positive rates) and the verdicts at the model's own threshold
 * (which was set from training data only). A plain K-Means baseline runs in the same call.
 * Test labels are used for the report and nothing else.
 */

import { kddFieldSpecs } from '../features/kdd-fields.ts';
import type { FieldSpec } from '../features/preprocessor.ts';
import { loadDataset } from '../ingest/datasets.ts';
import { type Table, takeRows } from '../ingest/table.ts';
import { AnomalyDetector, type DetectorOptions } from '../model/detector.ts';
import {
  averagePrecision,
  binaryReport,
  confusionTable,
  detectionRateAtFpr,
  recallByGroup,
  rocAuc,
} from '../model/metrics.ts';

export const FPR_POINTS = ['0.001', '0.01', '0.05'] as const;

export interface Metrics {
  roc_auc: number;
  pr_auc: number;
  dr_at_fpr: Record<(typeof FPR_POINTS)[number], number>;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  /** Share of the test normals flagged at the model's threshold. */
  fpr: number;
  target_fpr: number;
  threshold: number;
  k: number;
  recall_by_family: Record<string, { n: number; detected: number; recall: number }>;
  confusion: { rows: string[]; cols: string[]; counts: number[][] };
}

/** Metrics of scores and verdicts against labels (1 = attack). */
export function scoreReport(
  families: readonly string[],
  anomalyScore: Float64Array,
  isAnomaly: Uint8Array,
  threshold: number,
  targetFpr: number,
  k: number,
): Metrics {
  const y = families.map((f) => (f === 'normal' ? 0 : 1));
  const bin = binaryReport(y, isAnomaly);
  const byFamily = recallByGroup(families as string[], isAnomaly);
  const verdicts = Array.from(isAnomaly, (a) => (a ? 'anomaly' : 'normal'));
  const confusion = confusionTable(families as string[], verdicts);
  return {
    roc_auc: rocAuc(y, anomalyScore),
    pr_auc: averagePrecision(y, anomalyScore),
    dr_at_fpr: Object.fromEntries(
      FPR_POINTS.map((p) => [p, detectionRateAtFpr(y, anomalyScore, Number(p))]),
    ) as Metrics['dr_at_fpr'],
    accuracy: bin.accuracy,
    precision: bin.precision,
    recall: bin.recall,
    f1: bin.f1,
    fpr: bin.fpr,
    target_fpr: targetFpr,
    threshold,
    k,
    recall_by_family: Object.fromEntries(
      Object.entries(byFamily).map(([f, g]) => [f, { n: g.n, detected: g.detected, recall: g.recall }]),
    ),
    confusion: { rows: confusion.rows, cols: confusion.cols, counts: confusion.counts },
  };
}

export interface EvaluateOptions {
  dataset: 'nsl-kdd' | 'kdd99';
  /** NSL-KDD test file: KDDTest+ (default) or KDDTest-21. */
  test?: 'KDDTest+' | 'KDDTest-21';
  trainOn?: 'normal' | 'all';
  detector?: DetectorOptions;
  /** Also train and score the plain baseline (k=32, raw distance). Default true. */
  baseline?: boolean;
  dataDir?: string;
  onProgress?: (step: string) => void;
}

export interface Evaluation extends Metrics {
  dataset: string;
  train: { id: string; rows: number; used: number; train_on: string };
  test: { id: string; rows: number; attacks: number; normals: number };
  fit_seconds: number;
  score_seconds: number;
  baseline?: Metrics & { description: string };
}

const TRAIN_ID = { 'nsl-kdd': 'nsl-kdd/KDDTrain+_20Percent', kdd99: 'kdd99/kddcup.data_10_percent' } as const;

/** The baseline of the issue: one-hot + log1p + standard scaling, k=32, distance to the nearest centre. */
export const BASELINE: DetectorOptions = { k: 32, ensembleK: [] };

export async function evaluateDataset(opts: EvaluateOptions): Promise<Evaluation> {
  const trainOn = opts.trainOn ?? 'normal';
  const trainId = TRAIN_ID[opts.dataset];
  const testId = opts.dataset === 'kdd99' ? 'kdd99/corrected' : `nsl-kdd/${opts.test ?? 'KDDTest+'}`;
  opts.onProgress?.(`loading ${trainId}`);
  const train = await loadDataset(trainId, { dataDir: opts.dataDir });
  opts.onProgress?.(`loading ${testId}`);
  const test = await loadDataset(testId, { dataDir: opts.dataDir });
  const fitTable = trainOn === 'normal' ? normalRows(train.table, train.families) : train.table;
  const fields = kddFieldSpecs();
  const t0 = performance.now();
  const detector = await new AnomalyDetector(fields, opts.detector ?? {}).fit(fitTable, opts.onProgress);
  const fitSeconds = (performance.now() - t0) / 1000;
  opts.onProgress?.(`scoring ${test.table.nRows} test rows`);
  const t1 = performance.now();
  const scored = await detector.evaluateRows(test.table);
  const scoreSeconds = (performance.now() - t1) / 1000;
  const metrics = scoreReport(
    test.families,
    scored.anomalyScore,
    scored.isAnomaly,
    detector.threshold,
    detector.options.targetFpr,
    detector.k,
  );
  const attacks = test.families.filter((f) => f !== 'normal').length;
  const result: Evaluation = {
    dataset: opts.dataset,
    train: { id: trainId, rows: train.table.nRows, used: fitTable.nRows, train_on: trainOn },
    test: { id: testId, rows: test.table.nRows, attacks, normals: test.table.nRows - attacks },
    fit_seconds: fitSeconds,
    score_seconds: scoreSeconds,
    ...metrics,
  };
  if (opts.baseline !== false) {
    opts.onProgress?.('training the plain K-Means baseline');
    result.baseline = {
      description: 'one-hot + log1p + standard scaling, k=32, distance to the nearest centre',
      ...(await baselineMetrics(
        fields,
        fitTable,
        test.table,
        test.families,
        opts.detector?.targetFpr,
        opts.detector?.seed,
      )),
    };
  }
  return result;
}

export async function baselineMetrics(
  fields: FieldSpec[],
  fitTable: Table,
  testTable: Table,
  families: string[],
  targetFpr = 0.01,
  seed = 0,
): Promise<Metrics> {
  const plain = fields.map((f) => ({ ...f, weight: 1 }));
  const base = await new AnomalyDetector(plain, { ...BASELINE, targetFpr, seed }).fit(fitTable);
  const s = await base.evaluateRows(testTable);
  return scoreReport(families, s.anomalyScore, s.isAnomaly, base.threshold, targetFpr, base.k);
}

export function normalRows(table: Table, families: readonly string[]): Table {
  const idx: number[] = [];
  families.forEach((f, i) => {
    if (f === 'normal') idx.push(i);
  });
  return takeRows(table, idx);
}
