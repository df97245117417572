/**
 * netanomaly's public API. Score convention for the whole project: `anomalyScore` is higher =
 * more anomalous; the estimator also keeps scikit-learn's outlier contract (`scoreSamples`
 * higher = more normal, `predict` ∈ {−1, 1}).
 */
// danfo.js itself, so that notebooks and user code get the same DataFrame class and types.
export { concat, DataFrame, Series } from 'danfojs';
export * from './errors.ts';
export { flowFieldSpecs } from './features/flow-fields.ts';
export { kddFieldSpecs } from './features/kdd-fields.ts';
export { type FieldSpec, Preprocessor, UNKNOWN } from './features/preprocessor.ts';
export { type CsvSchema, readCsv } from './ingest/csv.ts';
export {
  asMatrix,
  asTable,
  type ExplainedRow,
  fromDataFrame,
  isDataFrame,
  type KddFrame,
  type MatrixInput,
  type ResultFrameOptions,
  readKddFrame,
  resultFrame,
  type ScoredRows,
  type TableInput,
  toDataFrame,
} from './ingest/dataframe.ts';
export { DATASETS, loadDataset, resolveDataset } from './ingest/datasets.ts';
export { ATTACK_FAMILY, attackFamily, KDD_FEATURES, type KddData, readKdd } from './ingest/kdd.ts';
export { type AnyInput, INPUT_FORMATS, readInput, sniffInputFormat } from './ingest/read-input.ts';
export type { BadRowPolicy, IngestReport, Matrix, QuarantinedRow, Table } from './ingest/table.ts';
export { columnNames, takeRows as takeTableRows } from './ingest/table.ts';
export { iterateFlows, readTraffic, sniffFormat } from './ingest/traffic/index.ts';
export { type LoadedModel, loadModel, type ModelCard, saveModel, updateCard } from './model/bundle.ts';
export { calinskiHarabasz, daviesBouldin, silhouetteScore } from './model/cluster-quality.ts';
export { AnomalyDetector, type DetectorOptions } from './model/detector.ts';
export { type DistanceEngine, type EngineName, getEngine } from './model/engine.ts';
export { KMeans, type KMeansOptions } from './model/kmeans.ts';
export { findKnee } from './model/knee.ts';
export * from './model/metrics.ts';
export { Rng } from './model/random.ts';
export { type ElbowResult, elbowSweep } from './model/select-k.ts';
export { evaluateDataset, normalRows, scoreReport } from './pipeline/evaluate.ts';
export { scoreRecords } from './pipeline/score.ts';
export { trainFromFile } from './pipeline/train.ts';
export * from './viz/figures.ts';
export {
  type KSliderOptions,
  type KSweep,
  kSliderFigure,
  type SweepKOptions,
  sweepK,
} from './viz/k-slider.ts';
export { fitPca2D, type Pca2D, sampleIndices } from './viz/pca.ts';
export { escapeHtml, figureHtml, plotlyScriptTag, type ReportInput, renderReport } from './viz/report.ts';
export { buildReportInput, fieldEffects } from './viz/report-data.ts';
