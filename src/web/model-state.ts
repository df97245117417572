/**
 * The model as the web app serves it: a loaded bundle plus everything derived from it once
 * (schema for forms, profiles, PCA map, figures). A ModelState is immutable after `build`; the
 * server swaps the whole object on reload, so a request sees the old or the new model, never half.
 */
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { InputError } from '../errors.ts';
import { type ClusterProfile, explainRows, profileClusters } from '../explain/index.ts';
import { UNKNOWN } from '../features/preprocessor.ts';
import { KDD_BINARY, KDD_FEATURES } from '../ingest/kdd.ts';
import { readInput } from '../ingest/read-input.ts';
import { type Table, takeRows } from '../ingest/table.ts';
import type { LoadedModel } from '../model/bundle.ts';
import { Rng } from '../model/random.ts';
import type { Figure } from '../viz/figures.ts';
import type { Pca2D } from '../viz/pca.ts';
import {
  type ClusterView,
  type CounterfactualView,
  clusterViews,
  contributionFigure,
  emptyProfiles,
  explanationView,
  type FieldView,
  fitMap,
  flowMarker,
  kSliderOverview,
  mapFigure,
  type OverviewFigures,
  overviewFigures,
  type TrainingSample,
  withNames,
} from './insight.ts';

export const OTHER = '__other__';
const SAMPLE_ROWS = 4000;
const SOURCE_MAX_BYTES = 64 * 1024 * 1024;

export interface SchemaField {
  name: string;
  kind: 'numeric' | 'categorical';
  /** Categorical: the training vocabulary, most frequent first. */
  vocabulary?: string[];
  /** Default for forms: training median (numeric) or the most frequent value. */
  default: number | string;
  min?: number;
  max?: number;
  integer?: boolean;
  binary?: boolean;
}

export interface Prediction {
  cluster: number;
  cluster_name: string | null;
  cluster_tags: string[];
  anomaly_score: number;
  threshold: number;
  risk_score: number;
  verdict: 'anomalous' | 'normal';
  /** src/explain's explanation: per-field shares of the distance, nearest normal-tagged cluster. */
  explanation: { top_fields: FieldView[]; counterfactual: CounterfactualView | null };
  /** Position on /api/model's PCA map (null when the model has no map). */
  pca: { x: number; y: number } | null;
  unknown_categories: string[];
  filled_with_defaults: string[];
  label?: string;
  /** The contributions bar chart, and the flow as a trace to lay over /api/model's PCA map. */
  figures: { contributions: Figure; flow_marker: Record<string, unknown> | null };
}

export class ModelState {
  private constructor(
    readonly model: LoadedModel,
    readonly schema: SchemaField[],
    /** src/explain's profiles (names from the card), for explanations. */
    readonly explainProfiles: ClusterProfile[],
    /** The same as the Clusters page shows them. */
    readonly profiles: ClusterView[],
    readonly map: Pca2D | null,
    readonly sample: TrainingSample | null,
    readonly figures: OverviewFigures,
    readonly flowSchema: z.ZodType<Record<string, number | string>>,
  ) {}

  /** Everything derived from a model; `reuse` (same bundle, e.g. after a rename) skips the costly parts. */
  static async build(model: LoadedModel, reuse?: ModelState, log?: (m: string) => void): Promise<ModelState> {
    const sample = reuse ? reuse.sample : await loadTrainingSample(model, log);
    const explainProfiles = withNames(
      model,
      reuse ? reuse.explainProfiles : await profilesFor(model, sample, log),
    );
    const map = reuse ? reuse.map : fitMap(model, sample);
    const figures = {
      ...(reuse
        ? reuse.figures
        : { ...overviewFigures(model, sample), kslider: await kSliderOverview(model, sample) }),
      pca: mapFigure(model, map, sample, explainProfiles),
    };
    const schema = reuse ? reuse.schema : buildSchema(model);
    return new ModelState(
      model,
      schema,
      explainProfiles,
      clusterViews(model, explainProfiles, sample !== null),
      map,
      sample,
      figures,
      reuse ? reuse.flowSchema : flowValidator(schema),
    );
  }

  get kddModel(): boolean {
    const names = new Set(this.schema.map((f) => f.name));
    return KDD_FEATURES.every((f) => names.has(f.name));
  }

  /** One flow (already validated) → a one-row Table, missing fields filled with defaults. */
  flowTable(flow: Record<string, number | string>): { table: Table; filled: string[] } {
    const numeric: Record<string, Float64Array> = {};
    const text: Record<string, string[]> = {};
    const filled: string[] = [];
    for (const f of this.schema) {
      let v = flow[f.name];
      if (v === undefined) {
        v = f.default;
        filled.push(f.name);
      }
      if (f.kind === 'numeric') numeric[f.name] = Float64Array.of(v as number);
      else text[f.name] = [v === OTHER ? UNKNOWN : String(v)];
    }
    return { table: { nRows: 1, numeric, text }, filled };
  }

  /** Scores and explains one row (src/explain's explainRows: one scoring of the ensemble). */
  async predict(table: Table, filled: string[] = [], label?: string): Promise<Prediction> {
    const det = this.model.detector;
    const [e] = await explainRows(det, table, [0], { profiles: this.explainProfiles, topFields: 12 });
    const { X, report } = det.preprocessor.transform(table);
    const pos = this.map?.project(X);
    const p = pos ? { x: pos.x[0]!, y: pos.y[0]! } : null;
    const explanation = explanationView(e!);
    return {
      cluster: e!.cluster,
      cluster_name: e!.cluster_name ?? null,
      cluster_tags: this.profiles[e!.cluster]?.tags ?? [],
      anomaly_score: e!.anomaly_score,
      threshold: det.threshold,
      risk_score: e!.risk,
      verdict: e!.is_anomaly ? 'anomalous' : 'normal',
      explanation,
      pca: p,
      unknown_categories: Object.keys(report.unknownCategories),
      filled_with_defaults: filled,
      ...(label !== undefined ? { label } : {}),
      figures: {
        contributions: contributionFigure(explanation.top_fields),
        flow_marker: p ? flowMarker({ ...p, anomalous: e!.is_anomaly }) : null,
      },
    };
  }
}

function buildSchema(model: LoadedModel): SchemaField[] {
  const pre = model.detector.preprocessor;
  const s = pre.toState();
  const kdd = new Map(KDD_FEATURES.map((f) => [f.name, f]));
  return pre.fieldSpecs().map((f) => {
    if (f.kind === 'categorical') {
      const vocab = s.vocabularies[f.name] ?? [];
      const counts = s.categoryCounts[f.name] ?? [];
      const order = vocab
        .map((v, i) => ({ v, c: counts[i] ?? 0 }))
        .sort((a, b) => b.c - a.c || a.v.localeCompare(b.v));
      return {
        name: f.name,
        kind: 'categorical',
        vocabulary: order.map((o) => o.v),
        default: order[0]?.v ?? OTHER,
      };
    }
    const med = s.medians[f.name];
    const field: SchemaField = { name: f.name, kind: 'numeric', default: Number.isFinite(med) ? med! : 0 };
    const rate = /_rate$/.test(f.name) || /(^|_)(ratio|share)(_|$)/.test(f.name);
    if (KDD_BINARY.includes(f.name)) Object.assign(field, { min: 0, max: 1, integer: true, binary: true });
    else if (rate) Object.assign(field, { min: 0, max: 1 });
    else if (kdd.has(f.name) || f.transform === 'log1p') field.min = 0;
    if (/port$/.test(f.name)) Object.assign(field, { min: 0, max: 65535, integer: true });
    return field;
  });
}

/** zod validator for one flow: known fields only, finite numbers in range, short strings. */
function flowValidator(schema: SchemaField[]): z.ZodType<Record<string, number | string>> {
  const shape: Record<string, z.ZodType> = {};
  for (const f of schema) {
    if (f.kind === 'categorical') {
      shape[f.name] = z.string().min(1).max(64).optional();
    } else {
      let n = z.number();
      if (f.min !== undefined) n = n.min(f.min);
      if (f.max !== undefined) n = n.max(f.max);
      if (f.integer) n = n.int();
      // 1e308-ish values are finite but nothing a flow carries; keep them out of float32.
      shape[f.name] = n.gte(-1e15).lte(1e15).optional();
    }
  }
  return z.strictObject(shape) as unknown as z.ZodType<Record<string, number | string>>;
}

/** The training source (when still readable and small), sampled and scored once at start-up. */
async function loadTrainingSample(
  model: LoadedModel,
  log?: (m: string) => void,
): Promise<TrainingSample | null> {
  const src = model.card.data?.source;
  if (!src) return null;
  try {
    const st = await stat(src);
    if (!st.isFile() || st.size > SOURCE_MAX_BYTES) return null;
    const input = await readInput(
      src,
      model.card.data.format === 'csv (kdd columns)' ? 'csv' : model.card.data.format || 'auto',
      'skip',
    );
    const n = input.table.nRows;
    const idx =
      n > SAMPLE_ROWS ? new Rng(7).sample(n, SAMPLE_ROWS) : Int32Array.from({ length: n }, (_, i) => i);
    const table = takeRows(input.table, idx);
    const det = model.detector;
    const { X } = det.preprocessor.transform(table);
    const s = await det.scoreMatrix(X);
    const pick = <T>(a: T[] | null) => (a ? Array.from(idx, (i) => a[i]!) : null);
    return {
      table,
      labels: pick(input.labels),
      families: pick(input.families),
      X,
      scores: s.anomalyScore,
      clusters: s.cluster,
      source: src,
      sourceRows: n,
    };
  } catch (err) {
    log?.(`training source ${src} not used for maps: ${(err as Error).message}`);
    return null;
  }
}

/**
 * One raw NSL-KDD / KDD Cup 99 record line (41 features, optionally label and difficulty) → a
 * one-row table. Same rules as the file reader: finite, non-negative, rates ≤ 1, flags 0/1.
 */
export function parseRawKddLine(line: string): { table: Table; label?: string } {
  const text = line.replace(/^\uFEFF/, '').trim();
  if (text === '') throw new InputError('the record line is empty');
  if (/\r|\n/.test(text)) throw new InputError('paste exactly one record line');
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length < 41 || parts.length > 43) {
    throw new InputError(
      `a KDD record has 41 features (+ label, difficulty): got ${parts.length} comma-separated values`,
    );
  }
  const numeric: Record<string, Float64Array> = {};
  const cats: Record<string, string[]> = {};
  KDD_FEATURES.forEach((f, i) => {
    const raw = parts[i]!;
    if (f.kind === 'categorical') {
      if (raw === '' || raw.length > 64)
        throw new InputError(`${f.name}: expected a short name, got '${raw.slice(0, 20)}'`);
      cats[f.name] = [raw];
      return;
    }
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)) {
      throw new InputError(`${f.name}: '${raw.slice(0, 20)}' is not a number`);
    }
    const v = Number(raw);
    if (!Number.isFinite(v) || Math.abs(v) > 1e15)
      throw new InputError(`${f.name}: ${raw.slice(0, 20)} is not a finite number`);
    if (v < 0) throw new InputError(`${f.name}: negative value ${raw}`);
    if (f.binary && v !== 0 && v !== 1) throw new InputError(`${f.name}: must be 0 or 1, got ${raw}`);
    if (f.name.endsWith('_rate') && v > 1) throw new InputError(`${f.name}: a rate must be ≤ 1, got ${raw}`);
    numeric[f.name] = Float64Array.of(v + 0);
  });
  const label = parts.length >= 42 ? parts[41]!.replace(/\.$/, '') : undefined;
  return { table: { nRows: 1, numeric, text: cats }, ...(label ? { label } : {}) };
}

/** src/explain's profiles of the sampled training source (sizes only without it). */
async function profilesFor(
  model: LoadedModel,
  sample: TrainingSample | null,
  log?: (m: string) => void,
): Promise<ClusterProfile[]> {
  if (!sample) return emptyProfiles(model);
  try {
    return await profileClusters(model.detector, sample.table, {
      labels: sample.families,
      assignment: sample.clusters,
    });
  } catch (err) {
    log?.(`[web] cluster profiles unavailable: ${(err as Error).message}`);
    return emptyProfiles(model);
  }
}
