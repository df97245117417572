/**
 * The anomaly detector: preprocessing + an ensemble of K-Means runs + a calibrated threshold.
 *
 * Score direction, stated once for the whole project: `anomalyScore` is HIGHER = MORE ANOMALOUS
 * (every user-facing layer shows it). The scikit-learn outlier contract is kept too:
 * `scoreSamples` = −anomalyScore (higher = more normal), `decisionFunction` = scoreSamples −
 * offset (negative = anomaly), `predict` ∈ {−1 anomaly, 1 normal}.
 *
 * anomalyScore(x) = mean over runs r of dist(x, nearest centre of run r) / scale_r, where scale_r
 * is the median training distance of run r (so runs with different k weigh alike). The threshold
 * is the (1 − targetFpr) quantile of leave-one-out training scores: in-sample distances are
 * optimistic (each row pulled its own centre towards itself, most of all in small clusters).
 * Removing row x from its cluster of n rows moves the centre to c' = (n·c − x)/(n − 1), so
 * ‖x − c'‖ = n/(n − 1)·‖x − c‖ exactly; the row's score is then taken against the corrected own
 * centre and every other centre. No data is held out, so every training row shapes the clusters.
 * `calibration: 'holdout'` instead holds out `calibrationShare` of the rows for the threshold.
 *
 * Rows in groups (`fit(table, { groups })`, e.g. the capture file of each flow): the threshold is
 * grouped instead (calibration.ts): every row is scored by a model fitted on the other folds of
 * groups, and the threshold is the (1 − target) quantile of those out-of-group scores with every
 * group weighing alike (or rows alike: the split-conformal rank), so it holds on captures the
 * model has not seen; the expected FPR on new captures comes with intervals.
 * With identity columns (`fit(table, { identity })`) a host threshold is calibrated too
 * (host-score.ts). Without groups: leave-one-out as above, except that a single input with flow
 * identity (one capture, one log) is cut into groups by `calibrationGroups` (default: blocks of
 * start time; or its source hosts), so that even one capture calibrates on periods (or hosts) the
 * model has not seen. Without identity (NSL-KDD, KDD Cup 99) nothing changes.
 *
 * With flow identity the score also carries a per-field rarity part (field-tail.ts, option
 * `fieldTail`): anomalyScore = max(K-Means score, the rarity read on the K-Means scale), both put on
 * one tail-probability scale with the same calibration rows before the threshold is set from them.
 */
import { z } from 'zod';
import { InputError, NotFittedError } from '../errors.ts';
import {
  checkEncoded,
  dedupeEncoded,
  type EncodedMatrix,
  encodeDense,
  expandEncoded,
  sameLayout,
} from '../features/encoded.ts';
import {
  type FieldSpec,
  Preprocessor,
  type PreprocessorOptions,
  type PreprocessorState,
  type TransformReport,
} from '../features/preprocessor.ts';
import { asTable, type TableInput } from '../ingest/dataframe.ts';
import type { Matrix, Table } from '../ingest/table.ts';
import { takeRows as takeTableRows } from '../ingest/table.ts';
import { parseOptions } from '../validation.ts';
import {
  conformalThreshold,
  estimateFpr,
  type FprEstimate,
  foldRows,
  groupConformalThreshold,
  groupFolds,
  groupIndex,
  outOfGroupScores,
} from './calibration.ts';
import { type EngineName, getEngine } from './engine.ts';
import { combineScores, FieldTail, type FieldTailState } from './field-tail.ts';
import { calibrateHosts, type HostCalibration, hostKeys } from './host-score.ts';
import { KMeans, type KMeansState } from './kmeans.ts';
import { Rng } from './random.ts';

/**
 * The score ensemble: K-Means runs at these k besides the primary run (validated on held-out
 * training data, docs/detection.md). Runs whose k equals the primary k are not repeated.
 */
export const DEFAULT_ENSEMBLE_K: readonly number[] = [16, 32, 64, 128, 256];

export const DetectorOptionsSchema = z.object({
  /** Clusters of the primary run: the clusters users see (profiles, app, alerts). */
  k: z.number().int().min(1).default(32),
  /** Extra runs for the score ensemble, each with its own k; [] scores with the primary run alone. */
  ensembleK: z.array(z.number().int().min(1)).optional(),
  targetFpr: z.number().gt(0).lt(0.5).default(0.01),
  /**
   * How the threshold is set: leave-one-out training scores, a held-out share of the rows, or
   * out-of-group scores over folds of groups. 'auto': grouped when `fit` is given groups, else loo.
   */
  calibration: z.enum(['auto', 'loo', 'holdout', 'grouped']).default('auto'),
  /** With grouped calibration: folds of groups (fewer when there are fewer groups). */
  calibrationFolds: z.number().int().min(2).default(5),
  /**
   * Grouped calibration: 'group' gives every group one unit of weight in the quantile (a large
   * group cannot set the threshold alone); 'row' weighs rows alike.
   */
  calibrationWeighting: z.enum(['group', 'row']).default('group'),
  /**
   * Without groups but with flow identity (one capture, one log): 'source' derives groups from the
   * source hosts, 'time' from blocks of start time (2 × calibrationFolds blocks of equal rows),
   * 'none' keeps leave-one-out. Applies only to calibration 'auto' or 'grouped', and never
   * without identity (NSL-KDD, KDD Cup 99, CSV keep leave-one-out). 'time' was chosen on the lab's
   * development runs (docs/detection.md).
   */
  calibrationGroups: z.enum(['none', 'source', 'time']).default('time'),
  /** Weighting of derived groups ('row' or 'group'; given groups use calibrationWeighting). */
  derivedGroupWeighting: z.enum(['group', 'row']).default('row'),
  /** Host score: how flow scores combine (host-score.ts), flows in the mean, scope. */
  hostAggregate: z.enum(['mean', 'tail']).default('mean'),
  hostTopK: z.number().int().min(1).default(3),
  hostScope: z.enum(['host', 'pair']).default('host'),
  /**
   * Per-field rarity beside the K-Means distance (field-tail.ts): 'auto' uses it when `fit` is
   * given flow identity (traffic: captures, logs, flow exports), never for NSL-KDD / KDD Cup 99 /
   * CSV; 'on' always, 'off' never. Needs the default (encodable) preprocessing.
   */
  fieldTail: z.enum(['auto', 'on', 'off']).default('auto'),
  /**
   * Which tails of a numeric field are rare: high values only, or high and low ('both', chosen on
   * the lab's development runs and a development half of the benign captures, docs/detection.md).
   */
  fieldTailTails: z.enum(['upper', 'both']).default('both'),
  /** With calibration 'holdout': share of the training rows held out for the threshold. */
  calibrationShare: z.number().gt(0).lt(0.9).default(0.2),
  seed: z.number().int().default(0),
  nInit: z.number().int().min(1).default(1),
  maxIter: z.number().int().min(1).default(300),
  engine: z.enum(['auto', 'onnx', 'tfjs', 'js']).default('auto'),
  algorithm: z.enum(['lloyd', 'minibatch']).default('lloyd'),
});
export type DetectorOptions = z.input<typeof DetectorOptionsSchema>;
type Options = z.output<typeof DetectorOptionsSchema>;

export interface RunState {
  kmeans: KMeansState;
  /** Median distance of the fitting rows to their centre (the run's score scale). */
  scale: number;
}

/** Summary of what the detector was trained on, kept in the model file. */
export interface TrainingSummary {
  rows: number;
  fitRows: number;
  /** 'loo': leave-one-out training scores; 'holdout': held-out training rows; 'grouped': out-of-group scores. */
  calibration: 'loo' | 'holdout' | 'grouped';
  calibrationRows: number;
  /** Rows of the fitting set per cluster of the first run. */
  clusterSizes: number[];
  /** Percentiles (0..100 step 1) of the calibration scores, for risk scores 0-100. */
  scorePercentiles: number[];
  /** FPR on the calibration rows at the threshold (by construction ≈ targetFpr). */
  calibrationFpr: number;
  transform: TransformReport;
  /** Grouped calibration: the expected FPR on new groups with its uncertainty. */
  expectedFpr?: FprEstimate & { folds: number };
  /** Host threshold, when the training rows came with identity columns. */
  host?: HostCalibration;
  /** Groups derived from the identity of a single input ('source' or 'time'), when used. */
  derivedGroups?: { by: 'source' | 'time'; groups: number };
  /** The per-field rarity part, when the model has one (field-tail.ts). */
  fieldTail?: { fields: number; tails: 'upper' | 'both' };
}

/** Per-row context for `fit`: groups (e.g. capture file) and flow identity for host scores. */
export interface FitOptions {
  groups?: ArrayLike<number> | readonly string[] | null;
  identity?: { src_ip: readonly string[]; dst_ip?: readonly string[]; start_time: ArrayLike<number> } | null;
  onProgress?: (step: string) => void;
}

export interface DetectorState {
  options: Options;
  preprocessor: PreprocessorState;
  runs: RunState[];
  threshold: number;
  training: TrainingSummary;
  /** Per-field rarity (field-tail.ts); absent in models without it (and in every older model file). */
  fieldTail?: FieldTailState;
}

/** Per row: the rarity part's tail probability, its rarest field, and whether it set the score. */
export interface RarityScores {
  /** Bonferroni min-p over the fields (1 = nothing rare). */
  p: Float64Array;
  /** Index into `fields` of the rarest field (−1: none). */
  field: Int32Array;
  /** 1 where the rarity part (not the K-Means distance) gave the anomaly score. */
  drives: Uint8Array;
  fields: readonly string[];
}

export interface Scored {
  anomalyScore: Float64Array;
  /** Cluster of the first run. */
  cluster: Int32Array;
  /** Squared distance to that cluster's centre (in the model's feature space). */
  dist2: Float64Array;
  isAnomaly: Uint8Array;
  report: TransformReport;
  /** The rarity part, when the model has one. */
  rarity?: RarityScores;
}

/** Scores of preprocessed rows (what `scoreMatrix` and `scoreEncoded` return). */
export interface ScoredMatrix {
  anomalyScore: Float64Array;
  /** Cluster of the first run. */
  cluster: Int32Array;
  /** Squared distance to that cluster's centre (in the model's feature space). */
  dist2: Float64Array;
  /** The rarity part, when the model has one. */
  rarity?: RarityScores;
}

/** Every row's weight when each group weighs one unit (1 / its group's rows). */
export function groupWeights(groups: Int32Array): Float64Array {
  const size = new Map<number, number>();
  for (const g of groups) size.set(g, (size.get(g) ?? 0) + 1);
  return Float64Array.from(groups, (g) => 1 / size.get(g)!);
}

/**
 * Groups of a single input from its flow identity: one per source host, or `2 × folds` blocks
 * of start time holding equal rows (ties of time stay in one block).
 */
export function deriveGroups(
  identity: { src_ip: readonly string[]; start_time: ArrayLike<number> },
  by: 'source' | 'time',
  folds: number,
): { index: Int32Array; groups: number } {
  const n = identity.src_ip.length;
  if (by === 'source') {
    const g = groupIndex(identity.src_ip);
    return { index: g.index, groups: g.names.length };
  }
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => (identity.start_time[a]! || 0) - (identity.start_time[b]! || 0) || a - b,
  );
  const blocks = Math.max(1, Math.min(2 * folds, n));
  const index = new Int32Array(n);
  let b = 0;
  for (let r = 0; r < n; r++) {
    const i = order[r]!;
    const want = Math.floor((r * blocks) / n);
    const prev = r > 0 ? identity.start_time[order[r - 1]!]! : Number.NaN;
    if (want > b && identity.start_time[i]! !== prev) b = want;
    index[i] = b;
  }
  return { index, groups: b + 1 };
}

export class AnomalyDetector {
  readonly options: Options;
  readonly preprocessor: Preprocessor;
  private readonly preprocessing: PreprocessorOptions;
  private runs: { km: KMeans; scale: number }[] = [];
  private threshold_ = Number.NaN;
  private training_: TrainingSummary | null = null;
  private calibration_: { scores: Float64Array; groups: Int32Array | null } | null = null;
  private tail_: FieldTail | null = null;

  constructor(fields: FieldSpec[], options: DetectorOptions = {}, preprocessing: PreprocessorOptions = {}) {
    this.options = parseOptions(DetectorOptionsSchema, 'AnomalyDetector', options);
    this.preprocessor = new Preprocessor(fields, preprocessing);
    this.preprocessing = preprocessing;
  }

  static fromState(state: DetectorState): AnomalyDetector {
    const det = new AnomalyDetector(state.preprocessor.fields, state.options, state.preprocessor.options);
    (det as { preprocessor: Preprocessor }).preprocessor = Preprocessor.fromState(state.preprocessor);
    det.runs = state.runs.map((r) => ({
      km: KMeans.fromState(r.kmeans, { engine: state.options.engine }),
      scale: r.scale,
    }));
    det.threshold_ = state.threshold;
    det.training_ = state.training;
    det.tail_ = state.fieldTail
      ? FieldTail.fromState(
          state.fieldTail,
          det.preprocessor.encodable ? det.preprocessor.encodedLayout() : undefined,
        )
      : null;
    return det;
  }

  toState(): DetectorState {
    this.requireFitted();
    return {
      options: this.options,
      preprocessor: this.preprocessor.toState(),
      runs: this.runs.map((r) => ({ kmeans: r.km.toState(), scale: r.scale })),
      threshold: this.threshold_,
      training: this.training_!,
      ...(this.tail_ ? { fieldTail: this.tail_.state } : {}),
    };
  }

  /** The per-field rarity part (null: the score is the K-Means distance alone). */
  get fieldTail(): FieldTail | null {
    return this.tail_;
  }

  /**
   * k of every run, primary first. With `fitRows`, ensemble runs are kept only where each cluster
   * can average at least 5 rows (small inputs such as a few pcaps get fewer runs).
   */
  runKs(fitRows = Number.POSITIVE_INFINITY): number[] {
    const o = this.options;
    const extra = (o.ensembleK ?? DEFAULT_ENSEMBLE_K).filter((k) => k !== o.k && k * 5 <= fitRows);
    return [o.k, ...new Set(extra)];
  }

  /** Anomaly-score threshold: scores above it are anomalies. */
  get threshold(): number {
    this.requireFitted();
    return this.threshold_;
  }
  /** scikit-learn's offset_: decisionFunction = scoreSamples − offset. */
  get offset(): number {
    return -this.threshold;
  }
  get training(): TrainingSummary {
    this.requireFitted();
    return this.training_!;
  }
  /**
   * Calibration scores of the last `fit` in training-row order (out-of-group when grouped, else
   * leave-one-out; null after loading a model file or with calibration 'holdout') and the groups
   * they were computed over.
   */
  get calibrationScores(): { scores: Float64Array; groups: Int32Array | null } | null {
    return this.calibration_;
  }
  get k(): number {
    return this.primary.options.k;
  }
  /** The K-Means run whose clusters users see. */
  get primary(): KMeans {
    this.requireFitted();
    return this.runs[0]!.km;
  }
  get ensembleSize(): number {
    return this.runs.length;
  }

  /**
   * Fit on the training rows (meant to be mostly normal traffic): the preprocessor and every
   * K-Means run, then the threshold from leave-one-out scores (or, with calibration 'holdout',
   * from a held-out share of the rows that the runs never saw; with groups, from out-of-group
   * scores). The second argument is a progress callback or FitOptions.
   */
  async fit(input: TableInput, options?: ((step: string) => void) | FitOptions): Promise<this> {
    const table = asTable(input);
    const fo: FitOptions = typeof options === 'function' ? { onProgress: options } : (options ?? {});
    const onProgress = fo.onProgress;
    const o = this.options;
    if (table.nRows < 2) throw new InputError(`need at least 2 training rows, got ${table.nRows}`);
    for (const [name, col] of [
      ['groups', fo.groups],
      ['identity', fo.identity?.src_ip],
    ] as const) {
      if (col && col.length !== table.nRows)
        throw new InputError(`fit: ${name} has ${col.length} entries for ${table.nRows} rows`);
    }
    let groups = fo.groups ? groupIndex(fo.groups).index : null;
    let nGroups = 0;
    if (groups) for (const g of groups) if (g >= nGroups) nGroups = g + 1;
    let derived: TrainingSummary['derivedGroups'];
    if (
      nGroups < 2 &&
      fo.identity &&
      o.calibrationGroups !== 'none' &&
      (o.calibration === 'auto' || o.calibration === 'grouped')
    ) {
      const d = deriveGroups(fo.identity, o.calibrationGroups, o.calibrationFolds);
      // every cross-fit model needs at least k rows once its fold is left out
      const folds = Math.min(o.calibrationFolds, d.groups);
      const fits =
        d.groups >= 2 &&
        foldRows(d.index, groupFolds(d.index, folds, o.seed), folds).every(
          (r) => table.nRows - r.length >= o.k,
        );
      if (fits) {
        groups = d.index;
        nGroups = d.groups;
        derived = { by: o.calibrationGroups, groups: d.groups };
      }
    }
    const weighting = derived ? o.derivedGroupWeighting : o.calibrationWeighting;
    const useTail =
      this.preprocessor.encodable && (o.fieldTail === 'on' || (o.fieldTail === 'auto' && !!fo.identity));
    const mode = o.calibration === 'auto' ? (groups && nGroups >= 2 ? 'grouped' : 'loo') : o.calibration;
    if (mode === 'grouped' && (!groups || nGroups < 2)) {
      throw new InputError('grouped calibration needs rows from at least 2 groups (e.g. 2 capture files)');
    }
    let fitRows = table;
    let calRows: Table | null = null;
    if (mode === 'holdout') {
      const order = new Rng(o.seed).sample(table.nRows, table.nRows);
      const nCal = Math.max(1, Math.round(table.nRows * o.calibrationShare));
      calRows = takeTableRows(table, order.subarray(0, nCal));
      fitRows = takeTableRows(table, order.subarray(nCal));
    }
    const { X, report } = await this.fitRuns(fitRows, onProgress, useTail);
    onProgress?.('calibrating the threshold');
    let calScores: Float64Array;
    // the rarity P of every calibration row (out-of-group when grouped), when the model has a field tail
    let calP: Float64Array | null = null;
    let expected: TrainingSummary['expectedFpr'];
    if (mode === 'grouped') {
      if (this.tail_) calP = new Float64Array(table.nRows);
      const folds = Math.min(o.calibrationFolds, nGroups);
      const oog = await outOfGroupScores(groups!, folds, o.seed, async (tr, te, f) => {
        onProgress?.(`calibration fold ${f + 1}/${folds}`);
        const inner = new AnomalyDetector(
          this.preprocessor.fieldSpecs() as FieldSpec[],
          o,
          this.preprocessing,
        );
        await inner.fitRuns(takeTableRows(table, tr), undefined, useTail);
        const scored = await inner.evaluateRows(takeTableRows(table, te));
        if (calP) for (let j = 0; j < te.length; j++) calP[te[j]!] = scored.rarity?.p[j] ?? 1;
        return scored.anomalyScore;
      });
      calScores = oog.scores;
      if (this.tail_) {
        this.tail_.calibrate(calScores, calP!, weighting === 'group' ? groupWeights(groups!) : null);
        combineScores(calScores, this.tail_.onKmeansScale(calP!));
      }
      this.threshold_ =
        weighting === 'group'
          ? groupConformalThreshold(calScores, groups!, o.targetFpr)
          : conformalThreshold(calScores, o.targetFpr);
      expected = { ...estimateFpr(calScores, this.threshold_, groups!, oog.fold, o.seed), folds };
    } else {
      if (calRows) {
        const scored = await this.scoreMatrix(this.preprocessor.transform(calRows).X);
        calScores = scored.anomalyScore;
        calP = scored.rarity?.p ?? null;
      } else {
        calScores = await this.leaveOneOutScores(X);
        if (this.tail_) calP = this.tail_.scoreDense(X, this.preprocessor.encodedLayout()).p;
      }
      if (this.tail_ && calP) {
        this.tail_.calibrate(calScores, calP);
        combineScores(calScores, this.tail_.onKmeansScale(calP));
      }
      this.threshold_ = quantileSorted(Float64Array.from(calScores).sort(), 1 - o.targetFpr);
    }
    const sorted = Float64Array.from(calScores).sort();
    let above = 0;
    for (const v of sorted) if (v > this.threshold_) above++;
    const sizes = new Array<number>(o.k).fill(0);
    for (const l of this.runs[0]!.km.labels) sizes[l]!++;
    this.training_ = {
      rows: table.nRows,
      fitRows: fitRows.nRows,
      calibration: mode,
      calibrationRows: sorted.length,
      clusterSizes: sizes,
      scorePercentiles: Array.from({ length: 101 }, (_, p) => quantileSorted(sorted, p / 100)),
      calibrationFpr: above / sorted.length,
      transform: report,
    };
    if (expected) this.training_.expectedFpr = expected;
    if (derived) this.training_.derivedGroups = derived;
    if (this.tail_) {
      const t = this.tail_.state;
      this.training_.fieldTail = { fields: t.numeric.length + t.categorical.length, tails: t.options.tails };
    }
    this.calibration_ = calRows ? null : { scores: calScores, groups: mode === 'grouped' ? groups : null };
    // Host threshold: from the same calibration scores, hosts keyed by window (and by given group:
    // derived groups are no boundary of a host window).
    if (fo.identity && !calRows) {
      const keyGroups = derived ? null : groups;
      const keys = hostKeys(fo.identity, { groups: keyGroups, scope: o.hostScope });
      this.training_.host = calibrateHosts(calScores, keys, o.targetFpr, {
        aggregate: o.hostAggregate,
        topK: o.hostTopK,
        scope: o.hostScope,
        weights: mode === 'grouped' && weighting === 'group' ? groupWeights(groups!) : null,
      });
    }
    return this;
  }

  /** The preprocessor, every K-Means run and (with `useTail`) the field tail on these rows (no threshold). */
  private async fitRuns(
    fitRows: Table,
    onProgress?: (step: string) => void,
    useTail = false,
  ): Promise<{ X: Matrix; report: TransformReport }> {
    const o = this.options;
    if (fitRows.nRows < o.k) {
      throw new InputError(`n_samples=${fitRows.nRows} should be >= k=${o.k}`);
    }
    const ks = this.runKs(fitRows.nRows);
    onProgress?.('preprocessing');
    this.preprocessor.fit(fitRows);
    const { X, report } = this.preprocessor.transform(fitRows);
    this.runs = [];
    this.tail_ = null;
    for (const [r, k] of ks.entries()) {
      onProgress?.(`k-means run ${r + 1}/${ks.length} (k=${k})`);
      const km = new KMeans({
        k,
        seed: o.seed + 1000 * r,
        nInit: o.nInit,
        maxIter: o.maxIter,
        engine: o.engine,
        algorithm: o.algorithm,
      });
      try {
        await km.fit(X);
      } catch (err) {
        // An ensemble run the data cannot support (too few distinct rows) is left out; the primary run must fit.
        if (r === 0 || !(err instanceof InputError)) throw err;
        continue;
      }
      const d = await km.nearest(X);
      this.runs.push({ km, scale: medianSqrt(d.dist2) });
    }
    if (useTail) {
      onProgress?.('field tails');
      const layout = this.preprocessor.encodedLayout();
      const E = encodeDense(X, layout) ?? this.preprocessor.transformEncoded(fitRows).E;
      const names = this.preprocessor
        .fieldSpecs()
        .filter((f) => f.kind === 'numeric')
        .map((f) => f.name);
      this.tail_ = FieldTail.fit(E, { tails: this.options.fieldTailTails }, names);
    }
    return { X, report };
  }

  /**
   * Leave-one-out score of every training row (see the module comment): per run, the distance
   * to the row's own centre scaled by n/(n − 1) (infinite for a singleton), or to the nearest
   * other centre when that is closer.
   */
  private async leaveOneOutScores(X: Matrix): Promise<Float64Array> {
    const score = new Float64Array(X.rows);
    const block = 8192;
    for (const run of this.runs) {
      const km = run.km;
      const labels = km.labels;
      const k = km.clusterCenters.rows;
      const sizes = new Float64Array(k);
      for (const l of labels) sizes[l]!++;
      for (let start = 0; start < X.rows; start += block) {
        const end = Math.min(X.rows, start + block);
        const part: Matrix = {
          data: X.data.subarray(start * X.cols, end * X.cols),
          rows: end - start,
          cols: X.cols,
        };
        const d = await km.transform(part);
        for (let i = 0; i < part.rows; i++) {
          const own = labels[start + i]!;
          const n = sizes[own]!;
          let best = n > 1 ? (d[i * k + own]! * n) / (n - 1) : Number.POSITIVE_INFINITY;
          for (let c = 0; c < k; c++) if (c !== own && d[i * k + c]! < best) best = d[i * k + c]!;
          score[start + i]! += best / run.scale;
        }
      }
    }
    for (let i = 0; i < X.rows; i++) score[i]! /= this.runs.length;
    return score;
  }

  /**
   * Everything about each row: score, cluster, distance, verdict. With the default
   * preprocessing, rows go through in encoded form (numeric columns + category codes) and each
   * distinct row is scored once: the same results as scoring the dense matrix.
   */
  async evaluateRows(input: TableInput): Promise<Scored> {
    const table = asTable(input);
    this.requireFitted();
    let s: ScoredMatrix;
    let report: TransformReport;
    if (this.preprocessor.encodable) {
      const enc = this.preprocessor.transformEncoded(table, { distinct: true });
      report = enc.report;
      s = await this.scoreDistinct(enc.E, enc.inverse);
    } else {
      const dense = this.preprocessor.transform(table);
      report = dense.report;
      s = await this.scoreMatrix(dense.X);
    }
    const n = s.anomalyScore.length;
    const isAnomaly = new Uint8Array(n);
    for (let i = 0; i < n; i++) isAnomaly[i] = s.anomalyScore[i]! > this.threshold_ ? 1 : 0;
    return { ...s, isAnomaly, report };
  }

  /** Higher = more anomalous. */
  async anomalyScore(input: TableInput): Promise<Float64Array> {
    return (await this.evaluateRows(input)).anomalyScore;
  }

  /** scikit-learn's outlier convention: higher = more normal (−anomalyScore). */
  async scoreSamples(input: TableInput): Promise<Float64Array> {
    return (await this.anomalyScore(input)).map((v) => -v);
  }

  /** scoreSamples − offset: negative for anomalies. */
  async decisionFunction(input: TableInput): Promise<Float64Array> {
    return (await this.anomalyScore(input)).map((v) => this.threshold_ - v);
  }

  /** −1 for anomalies, 1 for normal rows (scikit-learn's outlier labels). */
  async predict(input: TableInput): Promise<Int8Array> {
    const a = await this.anomalyScore(input);
    return Int8Array.from(a, (v) => (v > this.threshold_ ? -1 : 1));
  }

  /** Cluster of each row (first run). */
  async cluster(input: TableInput): Promise<Int32Array> {
    return this.primary.predict(this.preprocessor.transform(asTable(input)).X);
  }

  /** Distances from each row to every centre of the first run: rows × k. */
  async transform(input: TableInput): Promise<Float32Array> {
    return this.primary.transform(this.preprocessor.transform(asTable(input)).X);
  }

  /** Mean of scoreSamples over the rows (higher = the rows look more normal). */
  async score(input: TableInput): Promise<number> {
    const s = await this.scoreSamples(input);
    let t = 0;
    for (const v of s) t += v;
    return t / Math.max(1, s.length);
  }

  /**
   * Scores of an already preprocessed (dense) matrix. A matrix whose one-hot blocks are intact
   * (one slot holding the field weight per categorical field, as `transform` makes them) takes
   * the encoded path; any other matrix the dense one.
   */
  async scoreMatrix(X: Matrix): Promise<ScoredMatrix> {
    this.requireFitted();
    if (this.preprocessor.encodable) {
      const E = encodeDense(X, this.preprocessor.encodedLayout());
      if (E) {
        const { unique, inverse } = dedupeEncoded(E);
        return this.scoreDistinct(unique, inverse);
      }
    }
    return this.scoreDense(X);
  }

  /** Scores of encoded rows (`preprocessor.transformEncoded(table).E`). */
  async scoreEncoded(E: EncodedMatrix): Promise<ScoredMatrix> {
    this.requireFitted();
    if (!this.preprocessor.encodable || !sameLayout(E.layout, this.preprocessor.encodedLayout())) {
      throw new InputError("scoreEncoded: the encoded rows do not come from this model's preprocessing");
    }
    checkEncoded(E, 'AnomalyDetector.scoreEncoded');
    const { unique, inverse } = dedupeEncoded(E);
    return this.scoreDistinct(unique, inverse);
  }

  /** Every run against every row of a dense matrix. */
  private async scoreDense(X: Matrix): Promise<ScoredMatrix> {
    const score = new Float64Array(X.rows);
    let cluster: Int32Array = new Int32Array(0);
    let dist2: Float64Array = new Float64Array(0);
    for (const [r, run] of this.runs.entries()) {
      const near = await run.km.nearest(X);
      if (r === 0) {
        cluster = near.labels;
        dist2 = near.dist2;
      }
      for (let i = 0; i < X.rows; i++) score[i]! += Math.sqrt(near.dist2[i]!) / run.scale;
    }
    for (let i = 0; i < X.rows; i++) score[i]! /= this.runs.length;
    const rarity = this.tail_
      ? this.rarity(score, this.tail_.scoreDense(X, this.preprocessor.encodedLayout()))
      : undefined;
    return { anomalyScore: score, cluster, dist2, ...(rarity ? { rarity } : {}) };
  }

  /**
   * Scores of distinct encoded rows U, given back for the original rows (row i is U's row
   * inverse[i]; inverse null: U holds the rows themselves). All runs go to the engine at once;
   * distances to the chosen centres are recomputed exactly (float64), as KMeans.nearest does.
   */
  private async scoreDistinct(U: EncodedMatrix, inverse: Int32Array | null): Promise<ScoredMatrix> {
    const engine = await getEngine(this.options.engine as EngineName | 'auto');
    const centers = this.runs.map((r) => r.km.clusterCenters);
    let near: { labels: Int32Array; dist2: Float64Array }[];
    if (engine.nearestEncoded) near = await engine.nearestEncoded(U, centers);
    else {
      const X = expandEncoded(U);
      near = [];
      for (const run of this.runs) near.push(await run.km.nearest(X));
    }
    const m = U.rows;
    const uScore = new Float64Array(m);
    near.forEach((nr, r) => {
      const scale = this.runs[r]!.scale;
      for (let i = 0; i < m; i++) uScore[i]! += Math.sqrt(nr.dist2[i]!) / scale;
    });
    for (let i = 0; i < m; i++) uScore[i]! /= this.runs.length;
    const uRarity = this.tail_ ? this.rarity(uScore, this.tail_.scoreEncoded(U)) : undefined;
    const first = near[0]!;
    if (!inverse)
      return {
        anomalyScore: uScore,
        cluster: first.labels,
        dist2: first.dist2,
        ...(uRarity ? { rarity: uRarity } : {}),
      };
    const n = inverse.length;
    const anomalyScore = new Float64Array(n);
    const cluster = new Int32Array(n);
    const dist2 = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const u = inverse[i]!;
      anomalyScore[i] = uScore[u]!;
      cluster[i] = first.labels[u]!;
      dist2[i] = first.dist2[u]!;
    }
    if (!uRarity) return { anomalyScore, cluster, dist2 };
    const rarity: RarityScores = {
      p: Float64Array.from(inverse, (u) => uRarity.p[u]!),
      field: Int32Array.from(inverse, (u) => uRarity.field[u]!),
      drives: Uint8Array.from(inverse, (u) => uRarity.drives[u]!),
      fields: uRarity.fields,
    };
    return { anomalyScore, cluster, dist2, rarity };
  }

  /**
   * Combine the K-Means scores (in place) with the rarity part, once the tail is calibrated
   * (before that, inside the calibration folds, the scores stay the K-Means ones); what the rows'
   * rarity was.
   */
  private rarity(score: Float64Array, r: ReturnType<FieldTail['scoreEncoded']>): RarityScores {
    const tail = this.tail_!;
    const drives = tail.calibrated
      ? combineScores(score, tail.onKmeansScale(r.p))
      : new Uint8Array(score.length);
    return { p: r.p, field: r.field, drives, fields: tail.fieldNames };
  }

  /** Risk 0-100: the share of calibration training scores below this score. */
  riskScore(anomalyScore: number): number {
    const p = this.training.scorePercentiles;
    let lo = 0;
    while (lo < p.length - 1 && p[lo]! < anomalyScore) lo++;
    return lo;
  }

  /** Runs for export: centres and score scales. */
  exportRuns(): { centers: Float32Array; k: number; scale: number }[] {
    this.requireFitted();
    return this.runs.map((r) => ({
      centers: r.km.clusterCenters.data,
      k: r.km.clusterCenters.rows,
      scale: r.scale,
    }));
  }

  private requireFitted(): void {
    if (this.runs.length === 0)
      throw new NotFittedError('This AnomalyDetector is not fitted yet; call fit() first.');
  }
}

function medianSqrt(dist2: Float64Array): number {
  const s = Float64Array.from(dist2).sort();
  const m = Math.sqrt(quantileSorted(s, 0.5));
  return m > 0 ? m : 1;
}

/** Linear-interpolated quantile of sorted values (numpy's default). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}
