/**
 * The model as the web app serves it: a loaded bundle plus everything derived from it once
 * (schema for forms, profiles, PCA map, figures). A ModelState is immutable after `build`; the
 * server swaps the whole object on reload, so a request sees the old or the new model, never half.
 */
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { InputError } from '../errors.ts';
import { type ClusterProfile as ExplainProfile, explainRows, profileClusters } from '../explain/index.ts';
import { UNKNOWN } from '../features/preprocessor.ts';
import { KDD_BINARY, KDD_FEATURES } from '../ingest/kdd.ts';
import { readInput } from '../ingest/read-input.ts';
import { type Table, takeRows } from '../ingest/table.ts';
import type { LoadedModel } from '../model/bundle.ts';
import { Rng } from '../model/random.ts';
import { contributionFigure, elbowFigure, type Figure, pcaFigure, scoreFigure } from './figures.ts';
import {
  buildPcaMap,
  buildProfiles,
  type ClusterProfile,
  type Counterfactual,
  counterfactual,
  explainRow,
  type FieldContribution,
  formatValue,
  type PcaMap,
  type TrainingSample,
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
  explanation: { top_fields: FieldContribution[]; counterfactual: Counterfactual | null };
  pca: { x: number; y: number };
  unknown_categories: string[];
  filled_with_defaults: string[];
  label?: string;
  /** The contributions bar chart; the page draws the flow on /api/model's PCA map at `pca`. */
  figures: { contributions: Figure };
}

export class ModelState {
  private constructor(
    readonly model: LoadedModel,
    readonly schema: SchemaField[],
    readonly profiles: ClusterProfile[],
    readonly pca: PcaMap,
    readonly sample: TrainingSample | null,
    readonly figures: { elbow: Figure | null; pca: Figure; scores: Figure },
    readonly flowSchema: z.ZodType<Record<string, number | string>>,
    /** src/explain's profiles (when built from training rows), for explainRows. */
    readonly explainProfiles: ExplainProfile[] | null,
  ) {}

  static async build(model: LoadedModel, reuse?: ModelState, log?: (m: string) => void): Promise<ModelState> {
    const sample = reuse ? reuse.sample : await loadTrainingSample(model, log);
    const schema = buildSchema(model);
    const { profiles, raw } = await profilesFor(model, sample, log);
    const pca = reuse ? reuse.pca : buildPcaMap(model, sample);
    const names = clusterNames(model);
    const figures = {
      elbow: elbowFigure(model),
      pca: pcaFigure(model, pca, names),
      scores: reuse ? reuse.figures.scores : scoreFigure(model, sample),
    };
    return new ModelState(model, schema, profiles, pca, sample, figures, flowValidator(schema), raw);
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

  /** Per-field contributions: src/explain's explainRows, or the local fallback. */
  private async topFields(table: Table, x: Float32Array, cluster: number): Promise<FieldContribution[]> {
    if (this.explainProfiles) {
      try {
        const [e] = await explainRows(this.model.detector, table, [0], {
          profiles: this.explainProfiles,
          topFields: 12,
        });
        if (e && e.cluster === cluster) {
          return e.top_fields.map((c) => ({
            field: c.field,
            share: c.share,
            value: typeof c.value === 'number' ? formatValue(c.field, c.value) : c.value,
            typical: typeof c.typical === 'number' ? formatValue(c.field, c.typical) : c.typical,
            direction: c.direction,
          }));
        }
      } catch {
        // fall back to the local decomposition
      }
    }
    return explainRow(this.model, x, cluster, table, 0);
  }

  async predict(table: Table, filled: string[] = [], label?: string): Promise<Prediction> {
    const det = this.model.detector;
    const { X, report } = det.preprocessor.transform(table);
    const s = await det.scoreMatrix(X);
    const score = s.anomalyScore[0]!;
    const cluster = s.cluster[0]!;
    const x = X.data.subarray(0, X.cols);
    const top = await this.topFields(table, x, cluster);
    const cf = score > det.threshold ? await counterfactual(this.model, table, cluster, score, top) : null;
    const [pos] = this.pca.project({ data: X.data.slice(0, X.cols), rows: 1, cols: X.cols });
    const profile = this.profiles[cluster];
    const anomalous = score > det.threshold;
    const p = { x: pos![0]!, y: pos![1]! };
    return {
      cluster,
      cluster_name: profile?.name ?? null,
      cluster_tags: profile?.tags ?? [],
      anomaly_score: score,
      threshold: det.threshold,
      risk_score: det.riskScore(score),
      verdict: anomalous ? 'anomalous' : 'normal',
      explanation: { top_fields: top.slice(0, 10), counterfactual: cf },
      pca: p,
      unknown_categories: Object.keys(report.unknownCategories),
      filled_with_defaults: filled,
      ...(label !== undefined ? { label } : {}),
      figures: { contributions: contributionFigure(top) },
    };
  }
}

export function clusterNames(model: LoadedModel): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(model.card.clusterNames ?? {})) out[k] = v.name;
  return out;
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

/**
 * Cluster profiles for the pages: src/explain's profileClusters over the training sample (tags
 * from transparent rules, evidence with values), merged with the local centre-based description;
 * the local profiles alone when no training rows are at hand.
 */
async function profilesFor(
  model: LoadedModel,
  sample: TrainingSample | null,
  log?: (m: string) => void,
): Promise<{ profiles: ClusterProfile[]; raw: ExplainProfile[] | null }> {
  const local = buildProfiles(model, sample);
  if (!sample) return { profiles: local, raw: null };
  try {
    const raw = await profileClusters(model.detector, sample.table, {
      labels: sample.families,
      clusterNames: model.card.clusterNames ?? {},
      assignment: sample.clusters,
    });
    const profiles = local.map((p) => {
      const e = raw.find((r) => r.id === p.id);
      if (!e) return p;
      const ruleEvidence = e.evidence.map(
        (ev) =>
          `${ev.tag}: ${ev.description} (${ev.conditions
            .filter((c) => c.ok)
            .map((c) => `${c.stat} = ${formatValue(c.stat, c.value)} ${c.op} ${c.threshold}`)
            .join(', ')})`,
      );
      const tags = [e.tag, ...p.tags.filter((t) => t !== e.tag)];
      return {
        ...p,
        tags,
        tag: e.tag,
        confidence: e.confidence,
        evidence: [...ruleEvidence, ...p.evidence].slice(0, 6),
        ...(e.label_counts ? { families: e.label_counts } : {}),
      };
    });
    return { profiles, raw };
  } catch (err) {
    log?.(`[web] src/explain profiles unavailable, using centre-based profiles: ${(err as Error).message}`);
    return { profiles: local, raw: null };
  }
}
