/**
 * The detectors of the comparison (docs/detection.md): each fits on the same preprocessed
 * features (the project's Preprocessor) and gets its threshold by the same grouped calibration
 * as the K-Means detector (out-of-group scores over folds of groups, group-weighted quantile;
 * calibration.ts), with a host threshold from the same scores. K-Means stays the core detector
 * (AnomalyDetector); these exist to compare on one protocol.
 */
import { InputError } from '../../errors.ts';
import { type FieldSpec, Preprocessor } from '../../features/preprocessor.ts';
import { type Table, takeRows } from '../../ingest/table.ts';
import { estimateFpr, type FprEstimate, groupConformalThreshold, outOfGroupScores } from '../calibration.ts';
import { calibrateHosts, type HostCalibration, hostKeys } from '../host-score.ts';
import { Autoencoder } from './autoencoder.ts';
import { DiagonalGmm } from './gmm.ts';
import { IsolationForest } from './isolation-forest.ts';
import { KnnDistance } from './knn.ts';
import type { MatrixScorer } from './scorer.ts';

export type { MatrixScorer } from './scorer.ts';

export const DETECTOR_NAMES = ['kmeans', 'iforest', 'gmm', 'knn', 'autoencoder'] as const;
export type DetectorName = (typeof DETECTOR_NAMES)[number];

/** A comparison detector with its settings (fixed up front, never chosen on attack data). */
export function createScorer(name: Exclude<DetectorName, 'kmeans'>, seed: number): MatrixScorer {
  switch (name) {
    case 'iforest':
      return new IsolationForest({ nTrees: 100, maxSamples: 256, seed });
    case 'gmm':
      return new DiagonalGmm({ components: 16, seed });
    case 'knn':
      return new KnnDistance(5);
    case 'autoencoder':
      return new Autoencoder({ seed });
    default:
      throw new InputError(`unknown detector '${String(name)}' (one of ${DETECTOR_NAMES.join(', ')})`);
  }
}

export interface CalibratedScorer {
  threshold: number;
  host: HostCalibration;
  expectedFpr: FprEstimate;
  /** Out-of-group calibration scores of the training rows (row order), for other host verdicts. */
  calibrationScores: Float64Array;
  score(table: Table): Promise<Float64Array>;
}

async function fitOn(
  name: Exclude<DetectorName, 'kmeans'>,
  fields: FieldSpec[],
  table: Table,
  seed: number,
): Promise<{ pre: Preprocessor; scorer: MatrixScorer }> {
  const pre = new Preprocessor(fields).fit(table);
  const scorer = createScorer(name, seed);
  await scorer.fit(pre.transform(table).X);
  return { pre, scorer };
}

/** Fit a comparison detector on all rows; threshold and host threshold from out-of-group scores. */
export async function fitCalibrated(
  name: Exclude<DetectorName, 'kmeans'>,
  fields: FieldSpec[],
  table: Table,
  opts: {
    groups: Int32Array;
    identity: { src_ip: readonly string[]; start_time: ArrayLike<number> };
    seed?: number;
    targetFpr?: number;
    folds?: number;
  },
): Promise<CalibratedScorer> {
  const seed = opts.seed ?? 0;
  const targetFpr = opts.targetFpr ?? 0.01;
  let nGroups = 0;
  for (const g of opts.groups) if (g >= nGroups) nGroups = g + 1;
  const folds = Math.min(opts.folds ?? 5, nGroups);
  const final = await fitOn(name, fields, table, seed);
  const oog = await outOfGroupScores(opts.groups, folds, seed, async (tr, te) => {
    const m = await fitOn(name, fields, takeRows(table, tr), seed);
    return m.scorer.score(m.pre.transform(takeRows(table, te)).X);
  });
  const threshold = groupConformalThreshold(oog.scores, opts.groups, targetFpr);
  return {
    threshold,
    host: calibrateHosts(oog.scores, hostKeys(opts.identity, { groups: opts.groups }), targetFpr),
    expectedFpr: estimateFpr(oog.scores, threshold, opts.groups, oog.fold, seed),
    calibrationScores: oog.scores,
    score: async (t) => final.scorer.score(final.pre.transform(t).X),
  };
}
