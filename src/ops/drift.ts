/**
 * Drift monitor per cluster. A reference profile (built once from benign data the model was
 * trained or calibrated on) records, per cluster of the primary run, its share of rows and its
 * anomaly-score distribution. New data is compared with it:
 *
 * - share drift: the population stability index (PSI) of the cluster-share distribution, and each
 *   cluster's own PSI term; clusters that emptied (expected ≥ 20 rows, got < 10 % of that);
 * - distance drift: per cluster, PSI over the reference score deciles and the two-sample
 *   Kolmogorov–Smirnov statistic against the reference sample (significant at α = 0.01);
 * - new mass far from every centre: the share of rows above the model's threshold against the
 *   reference share (one-sided binomial z-score).
 *
 * PSI conventions (widely used in model monitoring): < 0.1 stable, 0.1–0.25 moderate, > 0.25 a
 * significant shift. A retrain is suggested with every reason that fired.
 */
import { InputError } from '../errors.ts';
import type { Table } from '../ingest/table.ts';
import type { AnomalyDetector } from '../model/detector.ts';
import { quantileSorted } from '../model/detector.ts';
import { Rng } from '../model/random.ts';

export const DRIFT_REFERENCE_VERSION = 1;
/** Rows of each cluster's reference score sample (for the KS statistic). */
const SAMPLE_SIZE = 2000;
/** Per-cluster distance tests need at least this many new rows in the cluster. */
const MIN_CLUSTER_ROWS = 50;
const PSI_MODERATE = 0.1;
const PSI_SIGNIFICANT = 0.25;
/** KS critical value coefficient for α = 0.01. */
const KS_C_ALPHA = 1.628;
/** z-score above which the far-mass excess is reported. */
const FAR_Z = 4;
const EPS = 1e-4;

export interface ClusterReference {
  cluster: number;
  rows: number;
  share: number;
  /** Score deciles (9 inner edges) of the cluster's reference rows. */
  scoreEdges: number[];
  /** Sorted score sample (at most 2,000 rows). */
  scoreSample: number[];
}

export interface DriftReference {
  version: typeof DRIFT_REFERENCE_VERSION;
  createdAt: string;
  /** Where the reference rows came from (file or description). */
  source: string;
  rows: number;
  threshold: number;
  /** Share of reference rows above the threshold. */
  farShare: number;
  clusters: ClusterReference[];
}

export type ClusterDriftStatus = 'stable' | 'shifted' | 'emptied' | 'grown' | 'new' | 'too-few-rows';

export interface ClusterDrift {
  cluster: number;
  name?: string;
  referenceShare: number;
  share: number;
  rows: number;
  /** This cluster's term of the share PSI. */
  sharePsi: number;
  /** PSI of the cluster's score distribution over the reference deciles (NaN: too few rows). */
  scorePsi: number;
  /** KS statistic against the reference sample and its α = 0.01 critical value. */
  ks: number;
  ksCritical: number;
  status: ClusterDriftStatus;
}

export interface DriftReport {
  rows: number;
  referenceRows: number;
  sharePsi: number;
  /** PSI of the whole score distribution over the reference's global deciles. */
  scorePsi: number;
  farShare: number;
  referenceFarShare: number;
  /** One-sided binomial z-score of farShare against the reference share. */
  farZ: number;
  clusters: ClusterDrift[];
  retrain: boolean;
  reasons: string[];
}

function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

function deciles(sorted: Float64Array): number[] {
  return Array.from({ length: 9 }, (_, i) => quantileSorted(sorted, (i + 1) / 10));
}

/** Counts of values per bin given inner edges (bin i: edges[i-1] < v ≤ edges[i]). */
function binCounts(values: ArrayLike<number>, edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    let b = 0;
    while (b < edges.length && v > edges[b]!) b++;
    counts[b]!++;
  }
  return counts;
}

/** PSI term for one bin: (p − q)·ln(p / q), shares floored at EPS so empty bins stay finite. */
export function psiTerm(expected: number, actual: number): number {
  const q = Math.max(expected, EPS);
  const p = Math.max(actual, EPS);
  return (p - q) * Math.log(p / q);
}

/** Population stability index of `actual` counts against `expected` shares. */
export function psi(expectedShares: readonly number[], actualCounts: readonly number[]): number {
  const n = actualCounts.reduce((s, c) => s + c, 0);
  if (n === 0) return Number.NaN;
  let total = 0;
  for (let i = 0; i < expectedShares.length; i++) total += psiTerm(expectedShares[i]!, actualCounts[i]! / n);
  return total;
}

/** Two-sample Kolmogorov–Smirnov statistic of two sorted samples. */
export function ksStatistic(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < a.length && j < b.length) {
    const v = Math.min(a[i]!, b[j]!);
    while (i < a.length && a[i]! <= v) i++;
    while (j < b.length && b[j]! <= v) j++;
    d = Math.max(d, Math.abs(i / a.length - j / b.length));
  }
  return d;
}

function ksCritical(n: number, m: number): number {
  return KS_C_ALPHA * Math.sqrt((n + m) / (n * m));
}

function sample(sorted: Float64Array, size: number, seed: number): number[] {
  if (sorted.length <= size) return Array.from(sorted);
  const idx = Array.from(new Rng(seed).sample(sorted.length, size)).sort((x, y) => x - y);
  return idx.map((i) => sorted[i]!);
}

async function scoresByCluster(
  detector: AnomalyDetector,
  table: Table,
): Promise<{ scores: Float64Array; clusters: Int32Array; perCluster: number[][] }> {
  const s = await detector.evaluateRows(table);
  const perCluster: number[][] = Array.from({ length: detector.k }, () => []);
  for (let i = 0; i < table.nRows; i++) perCluster[s.cluster[i]!]!.push(s.anomalyScore[i]!);
  return { scores: s.anomalyScore, clusters: s.cluster, perCluster };
}

/** The reference profile of benign rows (the training normals or a held-out benign set). */
export async function buildDriftReference(
  detector: AnomalyDetector,
  table: Table,
  source: string,
  seed = 0,
): Promise<DriftReference> {
  if (table.nRows === 0) throw new InputError(`${source}: no rows to build a drift reference from`);
  const { scores, perCluster } = await scoresByCluster(detector, table);
  let far = 0;
  for (const v of scores) if (v > detector.threshold) far++;
  const clusters = perCluster.map((values, cluster) => {
    const sorted = sortedCopy(values);
    return {
      cluster,
      rows: values.length,
      share: values.length / table.nRows,
      scoreEdges: sorted.length >= 10 ? deciles(sorted) : [],
      scoreSample: sample(sorted, SAMPLE_SIZE, seed + cluster),
    };
  });
  return {
    version: DRIFT_REFERENCE_VERSION,
    createdAt: new Date().toISOString(),
    source,
    rows: table.nRows,
    threshold: detector.threshold,
    farShare: far / table.nRows,
    clusters,
  };
}

/** Global score deciles of the reference, pooled from the per-cluster samples weighted by share. */
function pooledEdges(ref: DriftReference): number[] {
  const pooled: number[] = [];
  for (const c of ref.clusters) {
    const take = Math.round(c.share * SAMPLE_SIZE * 4);
    for (let i = 0; i < take && c.scoreSample.length > 0; i++) {
      pooled.push(c.scoreSample[Math.floor((i * c.scoreSample.length) / take)]!);
    }
  }
  return deciles(sortedCopy(pooled));
}

/** Compare new rows with the reference. `names` labels clusters (analyst names) in the report. */
export async function measureDrift(
  detector: AnomalyDetector,
  reference: DriftReference,
  table: Table,
  names: Record<string, string> = {},
): Promise<DriftReport> {
  if (table.nRows === 0) throw new InputError('no rows to measure drift on');
  const s = await detector.evaluateRows(table);
  return driftFromScores(reference, s.anomalyScore, s.cluster, detector.k, names);
}

/** The same comparison from rows already scored (the watcher keeps scores and clusters). */
export function driftFromScores(
  reference: DriftReference,
  scores: ArrayLike<number>,
  clusterOf: ArrayLike<number>,
  k: number,
  names: Record<string, string> = {},
): DriftReport {
  if (reference.clusters.length !== k) {
    throw new InputError(
      `drift reference has ${reference.clusters.length} clusters, the model ${k}: rebuild the reference`,
    );
  }
  const n = scores.length;
  if (n === 0) throw new InputError('no rows to measure drift on');
  const perCluster: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < n; i++) perCluster[clusterOf[i]!]!.push(scores[i]!);
  const reasons: string[] = [];
  const clusters: ClusterDrift[] = reference.clusters.map((ref, c) => {
    const values = perCluster[c]!;
    const share = values.length / n;
    const sharePsi = psiTerm(ref.share, share);
    let scorePsi = Number.NaN;
    let ks = Number.NaN;
    let crit = Number.NaN;
    let status: ClusterDriftStatus = 'stable';
    const expectedRows = ref.share * n;
    if (ref.rows === 0 && values.length >= MIN_CLUSTER_ROWS) status = 'new';
    else if (expectedRows >= 20 && values.length < 0.1 * expectedRows) status = 'emptied';
    else if (values.length < MIN_CLUSTER_ROWS || ref.scoreSample.length < MIN_CLUSTER_ROWS) {
      status = 'too-few-rows';
    } else {
      const sorted = sortedCopy(values);
      scorePsi = psi(new Array(10).fill(0.1), binCounts(sorted, ref.scoreEdges));
      ks = ksStatistic(sorted, ref.scoreSample);
      crit = ksCritical(sorted.length, ref.scoreSample.length);
      if (scorePsi > PSI_SIGNIFICANT && ks > crit) status = 'shifted';
      else if (share > 2 * ref.share && sharePsi > PSI_MODERATE) status = 'grown';
    }
    const name = names[String(c)];
    return {
      cluster: c,
      ...(name ? { name } : {}),
      referenceShare: ref.share,
      share,
      rows: values.length,
      sharePsi,
      scorePsi,
      ks,
      ksCritical: crit,
      status,
    };
  });
  const sharePsi = clusters.reduce((s, c) => s + c.sharePsi, 0);
  const scorePsi = psi(new Array(10).fill(0.1), binCounts(scores, pooledEdges(reference)));
  let far = 0;
  for (let i = 0; i < n; i++) if (scores[i]! > reference.threshold) far++;
  const farShare = far / n;
  const p0 = Math.max(reference.farShare, 1 / Math.max(reference.rows, 1));
  const farZ = (farShare - p0) / Math.sqrt((p0 * (1 - p0)) / n);

  const label = (c: ClusterDrift) => `cluster ${c.cluster}${c.name ? ` (${c.name})` : ''}`;
  if (sharePsi > PSI_SIGNIFICANT)
    reasons.push(`cluster shares moved: PSI ${sharePsi.toFixed(3)} > ${PSI_SIGNIFICANT}`);
  for (const c of clusters) {
    if (c.status === 'shifted') {
      reasons.push(
        `${label(c)}: distances shifted (PSI ${c.scorePsi.toFixed(3)}, KS ${c.ks.toFixed(3)} > ${c.ksCritical.toFixed(3)})`,
      );
    } else if (c.status === 'emptied') {
      reasons.push(`${label(c)}: emptied (${c.rows} rows, ${Math.round(c.referenceShare * n)} expected)`);
    } else if (c.status === 'grown') {
      reasons.push(`${label(c)}: grew from ${pct(c.referenceShare)} to ${pct(c.share)} of the traffic`);
    } else if (c.status === 'new') {
      reasons.push(`${label(c)}: had no reference rows, now ${c.rows}`);
    }
  }
  if (farZ > FAR_Z && farShare > 2 * p0) {
    reasons.push(`new mass far from every centre: ${pct(farShare)} above the threshold, ${pct(p0)} expected`);
  }
  return {
    rows: n,
    referenceRows: reference.rows,
    sharePsi,
    scorePsi,
    farShare,
    referenceFarShare: reference.farShare,
    farZ,
    clusters,
    retrain: reasons.length > 0,
    reasons,
  };
}

function pct(v: number): string {
  return `${(100 * v).toFixed(v < 0.01 ? 2 : 1)} %`;
}

/** Validates a reference read from disk (a file beside the model). */
export function parseDriftReference(value: unknown, path: string): DriftReference {
  const r = value as Partial<DriftReference> | null;
  if (
    !r ||
    r.version !== DRIFT_REFERENCE_VERSION ||
    !Array.isArray(r.clusters) ||
    typeof r.threshold !== 'number' ||
    typeof r.rows !== 'number' ||
    typeof r.farShare !== 'number'
  ) {
    throw new InputError(`${path}: not a netanomaly drift reference (version ${DRIFT_REFERENCE_VERSION})`);
  }
  for (const c of r.clusters) {
    if (
      typeof c?.share !== 'number' ||
      !Array.isArray(c.scoreEdges) ||
      !Array.isArray(c.scoreSample) ||
      ![...c.scoreEdges, ...c.scoreSample].every((v) => Number.isFinite(v))
    ) {
      throw new InputError(`${path}: cluster ${c?.cluster} of the drift reference is malformed`);
    }
  }
  return r as DriftReference;
}
