/**
 * What the pages show of the shared insight layer: src/explain computes the cluster profiles and
 * per-flow explanations, src/viz the Plotly figure specs and the PCA map. This file only picks
 * what each page needs and formats values for display; it computes no insight of its own.
 */
import type { ClusterProfile, Counterfactual, FieldComparison, FlowExplanation } from '../explain/index.ts';
import type { InputData } from '../ingest/input.ts';
import type { Matrix } from '../ingest/table.ts';
import type { LoadedModel } from '../model/bundle.ts';
import {
  clusterColor,
  elbowFigure,
  type Figure,
  flowMarker,
  importanceFigure,
  pcaFigure,
  prFigure,
  rocFigure,
  scoreHistogram,
} from '../viz/figures.ts';
import { kSliderFigure, sweepK } from '../viz/k-slider.ts';
import { fitPca2D, type Pca2D } from '../viz/pca.ts';

/** Rows of the training source kept in memory (a seeded sample), scored once at start-up. */
export interface TrainingSample extends Pick<InputData, 'table' | 'labels' | 'families'> {
  X: Matrix;
  scores: Float64Array;
  clusters: Int32Array;
  source: string;
  /** Rows in the source file (before sampling). */
  sourceRows: number;
}

/** A cluster as the Clusters page shows it (from src/explain's ClusterProfile). */
export interface ClusterView {
  id: number;
  /** Training rows of the model in this cluster (the profile itself describes the sample). */
  size: number;
  share: number;
  name?: string;
  note?: string;
  color: string;
  /** Behaviour tag of src/explain's rules, then the dominant categories, then 'rare'. */
  tags: string[];
  tag: ClusterProfile['tag'];
  confidence: number;
  /** The rules that fired (with their values), then the most distinguishing fields. */
  evidence: string[];
  /** Dominant categories and the medians of the distinguishing numeric fields. */
  typical: { field: string; value: string }[];
  /** Sampled source rows of this cluster per attack family (when the source is labelled). */
  families?: Record<string, number>;
}

export interface FieldView {
  field: string;
  /** Share of the squared distance to the cluster centre (0..1). */
  share: number;
  value: string;
  typical: string;
  direction: FieldComparison['direction'];
}

export interface CounterfactualView {
  cluster: number;
  name?: string;
  tag: Counterfactual['tag'];
  basis: Counterfactual['basis'];
  /** The fields that pull the flow away from that cluster most: value → the cluster's typical value. */
  changes: { field: string; value: string; target: string; share: number }[];
}

export function formatValue(name: string, v: number | string): string {
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return String(v);
  if (/_rate$/.test(name) || /(^|_)ratio(_|$)/.test(name)) return (Number(v.toFixed(2)) + 0).toFixed(2);
  if (Math.abs(v) >= 1e6) return v.toExponential(2);
  if (Math.abs(v) >= 100 || Number.isInteger(v)) return String(Math.round(v));
  return v.toFixed(2);
}

/** Profiles for the case without training rows: sizes only, every cluster 'unknown'. */
export function emptyProfiles(model: LoadedModel): ClusterProfile[] {
  const sizes = model.detector.training.clusterSizes;
  const total = sizes.reduce((a, b) => a + b, 0) || 1;
  return sizes.map((size, id) => ({
    id,
    size,
    share: size / total,
    centroid: {},
    median: {},
    dominant: {},
    distinguishing: [],
    tag: 'unknown',
    evidence: [],
    confidence: 0,
  }));
}

/** The analyst's names of the card on profiles computed earlier (a rename needs no re-profiling). */
export function withNames(model: LoadedModel, profiles: readonly ClusterProfile[]): ClusterProfile[] {
  const names = model.card.clusterNames ?? {};
  return profiles.map(({ name: _n, note: _o, ...p }) => {
    const named = names[String(p.id)];
    return named ? { ...p, name: named.name, ...(named.note ? { note: named.note } : {}) } : p;
  });
}

export function clusterViews(
  model: LoadedModel,
  profiles: readonly ClusterProfile[],
  sampled: boolean,
): ClusterView[] {
  const sizes = model.detector.training.clusterSizes;
  const total = sizes.reduce((a, b) => a + b, 0) || 1;
  return profiles.map((p) => {
    const size = sizes[p.id] ?? 0;
    const share = size / total;
    const dominant = Object.entries(p.dominant).filter(([, v]) => v[0] && v[0].share >= 0.6);
    const tags = [p.tag, ...dominant.map(([f, v]) => `${f}=${v[0]!.value}`)];
    if (share < 0.01) tags.push('rare');
    // The rules behind the tag first; others that fired (but lost) after them.
    const rules = [...p.evidence].sort((a, b) => Number(b.tag === p.tag) - Number(a.tag === p.tag));
    const evidence = rules.map(
      (ev) =>
        `${ev.tag === p.tag ? '' : 'also fired, '}${ev.tag}: ${ev.description} (${ev.conditions
          .filter((c) => c.ok)
          .map((c) => `${c.stat} = ${formatValue(c.stat, c.value)} ${c.op} ${c.threshold}`)
          .join(', ')})`,
    );
    for (const d of p.distinguishing.slice(0, 4)) {
      const mean = p.centroid[d.field];
      evidence.push(
        `${d.column} ${d.column.includes('=') ? (d.direction === 'up' ? 'more common' : 'less common') : d.direction === 'up' ? 'higher' : 'lower'} than in all sampled traffic (${d.effect > 0 ? '+' : ''}${d.effect.toFixed(1)} sd${mean !== undefined && Number.isFinite(mean) ? `; mean here ${formatValue(d.field, mean)}` : ''})`,
      );
    }
    if (evidence.length === 0) {
      evidence.push(
        sampled
          ? 'no sampled training-source rows fall in this cluster'
          : 'the training source is not readable here, so the cluster cannot be described',
      );
    }
    const typical = Object.entries(p.dominant).flatMap(([f, v]) =>
      v[0] ? [{ field: f, value: `${v[0].value} (${Math.round(v[0].share * 100)}%)` }] : [],
    );
    for (const d of p.distinguishing) {
      const m = p.median[d.field];
      if (m !== undefined && Number.isFinite(m) && typical.length < 10)
        typical.push({ field: d.field, value: formatValue(d.field, m) });
    }
    return {
      id: p.id,
      size,
      share,
      ...(p.name ? { name: p.name } : {}),
      ...(p.note ? { note: p.note } : {}),
      color: clusterColor(p.id),
      tags,
      tag: p.tag,
      confidence: p.confidence,
      evidence,
      typical,
      ...(p.label_counts ? { families: p.label_counts } : {}),
    };
  });
}

/** The 2-D map: PCA fitted on the sampled training rows, or on the centres without them. */
export function fitMap(model: LoadedModel, sample: TrainingSample | null): Pca2D | null {
  const X = sample && sample.X.rows >= 3 ? sample.X : model.detector.primary.clusterCenters;
  if (X.rows < 3 || X.cols < 2) return null;
  return fitPca2D(X, { sampleSize: 5000, seed: 0 });
}

export interface OverviewFigures {
  elbow: Figure | null;
  pca: Figure | null;
  scores: Figure;
  roc: Figure | null;
  pr: Figure | null;
  /** The k slider (kSliderOverview); absent without sampled training rows. */
  kslider?: Figure | null;
}

export function mapFigure(
  model: LoadedModel,
  map: Pca2D | null,
  sample: TrainingSample | null,
  profiles: readonly ClusterProfile[],
): Figure | null {
  if (!map) return null;
  const det = model.detector;
  // SVG traces, not WebGL: a few thousand points draw fine and the map works without a GPU.
  const svg = (f: Figure): Figure => ({
    ...f,
    data: f.data.map((t) => (t.type === 'scattergl' ? { ...t, type: 'scatter' } : t)),
  });
  const centres = map.project(det.primary.clusterCenters);
  const flows = sample ? map.project(sample.X) : { x: [], y: [] };
  return svg(
    pcaFigure({
      flows,
      cluster: sample ? sample.clusters : [],
      centroids: {
        ...centres,
        id: profiles.map((p) => p.id),
        name: profiles.map((p) => p.name ?? p.tag),
      },
      colorBy: 'cluster',
      explained: map.explained,
      maxPoints: 5000,
      ...(sample ? {} : { title: 'Cluster centres (PCA of the model space; no training rows at hand)' }),
    }),
  );
}

/** Figures of the Overview page that do not depend on cluster names. */
export function overviewFigures(
  model: LoadedModel,
  sample: TrainingSample | null,
): Omit<OverviewFigures, 'pca'> {
  const det = model.detector;
  const calib =
    det.training.calibration === 'loo' ? 'leave-one-out training scores' : 'held-out training scores';
  const elbow = model.card.elbow as
    | { rows?: { k: number; inertia: number; silhouette?: number }[]; knee?: number | null }
    | undefined;
  const families = sample?.families ?? null;
  const scores = sample
    ? scoreHistogram({
        scores: sample.scores,
        threshold: det.threshold,
        groups: families?.map((f) => (f === 'normal' ? 'normal' : 'attack')),
        title: `Scores of ${sample.scores.length.toLocaleString('en-US')} sampled training-source rows<br>threshold from ${calib}`,
      })
    : scoreHistogram({
        scores: det.training.scorePercentiles,
        threshold: det.threshold,
        title: `Percentiles of the calibration scores<br>threshold from ${calib}`,
      });
  let roc: Figure | null = null;
  let pr: Figure | null = null;
  if (sample && families?.includes('normal') && families.some((f) => f !== 'normal')) {
    const y = families.map((f) => (f === 'normal' ? 0 : 1));
    const curve = [{ name: 'sampled training source', y, score: sample.scores }];
    const rows = `${sample.scores.length.toLocaleString('en-US')} training-source rows`;
    const note =
      model.card.data?.trainOn === 'normal' ? '<br>optimistic: its normal rows trained the model' : '';
    roc = rocFigure(curve, { title: `ROC, ${rows}${note}` });
    pr = prFigure(curve, { title: `Precision-recall, ${rows}${note}` });
  }
  return {
    elbow: elbow?.rows?.length
      ? elbowFigure({ rows: elbow.rows, knee: elbow.knee ?? null, chosenK: det.k })
      : null,
    scores,
    roc,
    pr,
  };
}

/** k values of the Overview's slider: small k one by one, then coarser, and the model's own k. */
const SLIDER_KS = [2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 20, 24, 32];

/**
 * The Overview's k slider (src/viz/k-slider.ts): K-Means per k on up to 1,000 of the sampled
 * training rows, the model's k selected. Null without sampled rows (nothing to cluster).
 */
export async function kSliderOverview(
  model: LoadedModel,
  sample: TrainingSample | null,
): Promise<Figure | null> {
  if (!sample || sample.X.rows < 50) return null;
  const det = model.detector;
  const rows = Math.min(1000, sample.X.rows);
  const ks = [...new Set([...SLIDER_KS, det.k])].filter((k) => k * 5 <= rows).sort((a, b) => a - b);
  if (ks.length < 2) return null;
  const sweep = await sweepK(sample.X, {
    ks,
    sampleSize: rows,
    silhouetteSample: 400,
    columns: det.preprocessor.outputNames(),
    seed: 0,
    engine: det.options.engine,
  });
  return kSliderFigure(sweep, {
    initialK: det.k,
    title: 'Turn k: K-Means refitted per k on sampled training rows',
  });
}

/** A prediction's explanation for the Predict page. */
export function explanationView(
  e: FlowExplanation,
  top = 10,
): {
  top_fields: FieldView[];
  counterfactual: CounterfactualView | null;
} {
  const cf = e.counterfactual;
  return {
    top_fields: e.top_fields.slice(0, top).map((c) => ({
      field: c.field,
      share: c.share,
      value: formatValue(c.field, c.value),
      typical: formatValue(c.field, c.typical),
      direction: c.direction,
    })),
    counterfactual: cf
      ? {
          cluster: cf.cluster,
          ...(cf.name ? { name: cf.name } : {}),
          tag: cf.tag,
          basis: cf.basis,
          changes: cf.changes.map((ch) => ({
            field: ch.field,
            value: formatValue(ch.field, ch.value),
            target: formatValue(ch.field, ch.target),
            share: cf.squared_distance > 0 ? ch.contribution / cf.squared_distance : 0,
          })),
        }
      : null,
  };
}

export function contributionFigure(fields: readonly FieldView[]): Figure {
  return importanceFigure({
    values: fields.map((c) => ({ field: c.field, value: c.share })),
    top: 10,
    title: 'What drove the distance to the cluster centre',
    xTitle: 'share of the squared distance',
  });
}

export { flowMarker };
