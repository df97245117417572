/**
 * What the web app shows about a model beyond raw scores: cluster profiles with behaviour tags,
 * per-flow explanations (which fields drove the distance, a one-field counterfactual), a PCA map
 * and Plotly figure specs.
 *
 * Each is behind one small function so the project's insight layer (src/explain, src/viz) can be
 * plugged in; until then these are self-contained fallbacks computed from the detector's own
 * state (centres, scaling, vocabularies) and a sample of the training data when available.
 */
import { PCA } from 'ml-pca';
import { type FieldSpec, UNKNOWN } from '../features/preprocessor.ts';
import { KDD_BINARY } from '../ingest/kdd.ts';
import type { Matrix, Table } from '../ingest/table.ts';
import type { LoadedModel } from '../model/bundle.ts';

type Field = Required<Pick<FieldSpec, 'name' | 'kind'>> & FieldSpec;

/** Training rows kept in memory for maps and distributions (a seeded sample). */
export interface TrainingSample {
  table: Table;
  labels: string[] | null;
  families: string[] | null;
  X: Matrix;
  scores: Float64Array;
  clusters: Int32Array;
  source: string;
  /** Rows in the source file (before sampling). */
  sourceRows: number;
}

export interface ClusterProfile {
  id: number;
  size: number;
  share: number;
  name?: string;
  note?: string;
  tags: string[];
  /** Human sentences backing the tags: which fields set this cluster apart. */
  evidence: string[];
  /** Typical values: numeric fields at the centre, the top category per categorical field. */
  typical: { field: string; value: string }[];
  /** Attack families of sampled source rows falling in this cluster (when labelled). */
  families?: Record<string, number>;
  /** Behaviour tag from src/explain's rules, with its confidence (0..1). */
  tag?: string;
  confidence?: number;
}

export interface FieldContribution {
  field: string;
  /** Share of the squared distance to the cluster centre (0..1). */
  share: number;
  value: string;
  typical: string;
  direction: 'higher' | 'lower' | 'different' | 'same';
}

export interface Counterfactual {
  field: string;
  from: string;
  to: string;
  anomalyScore: number;
  crossesThreshold: boolean;
}

/** Inverse of the preprocessing for one numeric field: model-space value → original units. */
export function centreValue(model: LoadedModel, field: Field, z: number): number {
  const s = model.detector.preprocessor.toState();
  const mean = s.means[field.name] ?? 0;
  const scale = (s.scales[field.name] ?? 1) / (field.weight ?? 1);
  const t = z * scale + mean;
  if (field.transform === 'log1p') return t >= 0 ? Math.expm1(t) : -Math.expm1(-t);
  return t;
}

export function formatValue(name: string, v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (/_rate$/.test(name) || /(^|_)ratio(_|$)/.test(name)) return v.toFixed(2);
  if (Math.abs(v) >= 1e6) return v.toExponential(2);
  if (Math.abs(v) >= 100 || Number.isInteger(v)) return String(Math.round(v));
  return v.toFixed(2);
}

interface FieldLayout {
  field: Field;
  offset: number;
  width: number;
  vocab: string[];
}

export function fieldLayout(model: LoadedModel): FieldLayout[] {
  const pre = model.detector.preprocessor;
  const s = pre.toState();
  const out: FieldLayout[] = [];
  let offset = 0;
  for (const f of pre.fieldSpecs() as Field[]) {
    const vocab = f.kind === 'categorical' ? s.vocabularies[f.name]! : [];
    const width = f.kind === 'categorical' ? vocab.length + 1 : 1;
    out.push({ field: f, offset, width, vocab });
    offset += width;
  }
  return out;
}

function centreRow(model: LoadedModel, cluster: number): Float32Array {
  const c = model.detector.primary.clusterCenters;
  return c.data.subarray(cluster * c.cols, (cluster + 1) * c.cols);
}

/** Top category of a categorical field at a centre, with its share (one-hot mean). */
function topCategory(
  model: LoadedModel,
  l: FieldLayout,
  centre: Float32Array,
): { value: string; share: number } {
  const s = model.detector.preprocessor.toState();
  let best = 0;
  let bestV = -Infinity;
  for (let j = 0; j < l.width; j++) {
    let v = centre[l.offset + j]!;
    if (s.options.scaleOneHot) {
      // undo the one-hot scaling to get back a share
      const idx = oneHotIndex(model, l) + j;
      v = (v / (l.field.weight ?? 1)) * s.oneHotScales[idx]! + s.oneHotMeans[idx]!;
    } else v /= l.field.weight ?? 1;
    if (v > bestV) {
      bestV = v;
      best = j;
    }
  }
  return { value: best < l.vocab.length ? l.vocab[best]! : UNKNOWN, share: Math.max(0, Math.min(1, bestV)) };
}

function oneHotIndex(model: LoadedModel, target: FieldLayout): number {
  let idx = 0;
  for (const l of fieldLayout(model)) {
    if (l === target || l.field.name === target.field.name) return idx;
    if (l.field.kind === 'categorical') idx += l.width;
  }
  return idx;
}

const TAG_RULES: {
  test: (v: Record<string, number>, cat: Record<string, string>) => boolean;
  tag: string;
}[] = [
  { test: (v) => (v.serror_rate ?? v.src_t_s0_rate ?? 0) >= 0.5, tag: 'half-open (SYN errors)' },
  { test: (v) => (v.rerror_rate ?? v.src_t_rej_rate ?? 0) >= 0.5, tag: 'rejected connections' },
  { test: (_, c) => c.flag === 'S0' || c.conn_state === 'S0', tag: 'no reply (S0)' },
  { test: (_, c) => c.flag === 'REJ' || c.conn_state === 'REJ', tag: 'refused (REJ)' },
  { test: (v) => (v.count ?? v.src_t_count ?? 0) >= 100, tag: 'high connection rate' },
  { test: (v) => (v.diff_srv_rate ?? 0) >= 0.5, tag: 'many services (scan-like)' },
  { test: (v) => (v.dst_host_diff_srv_rate ?? 0) >= 0.5, tag: 'host sweep-like' },
  { test: (v) => (v.src_t_distinct_dst_ports ?? 0) >= 20, tag: 'many ports (scan-like)' },
  { test: (v) => (v.num_failed_logins ?? 0) >= 0.5, tag: 'failed logins' },
  { test: (v) => (v.root_shell ?? 0) >= 0.5 || (v.num_root ?? 0) >= 1, tag: 'root activity' },
  { test: (v) => (v.logged_in ?? 0) >= 0.5, tag: 'logged-in sessions' },
  { test: (v) => (v.dst_bytes ?? v.bwd_bytes ?? 0) >= 10000, tag: 'large downloads' },
  { test: (v) => (v.src_bytes ?? v.fwd_bytes ?? 0) >= 10000, tag: 'large uploads' },
  { test: (v) => (v.duration ?? 0) >= 60, tag: 'long-lived' },
  { test: (v) => (v.wrong_fragment ?? 0) >= 0.5, tag: 'malformed fragments' },
];

/** Profiles of the primary run's clusters (fallback for src/explain's profileClusters). */
export function buildProfiles(model: LoadedModel, sample: TrainingSample | null): ClusterProfile[] {
  const det = model.detector;
  const sizes = det.training.clusterSizes;
  const total = sizes.reduce((a, b) => a + b, 0) || 1;
  const layout = fieldLayout(model);
  const families: Record<string, number>[] = sizes.map(() => ({}));
  if (sample?.families) {
    for (let i = 0; i < sample.clusters.length; i++) {
      const f = families[sample.clusters[i]!]!;
      const fam = sample.families[i]!;
      f[fam] = (f[fam] ?? 0) + 1;
    }
  }
  return sizes.map((size, id) => {
    const centre = centreRow(model, id);
    const values: Record<string, number> = {};
    const cats: Record<string, string> = {};
    const typical: { field: string; value: string }[] = [];
    const deviations: { field: string; z: number; text: string }[] = [];
    for (const l of layout) {
      const name = l.field.name;
      if (l.field.kind === 'numeric') {
        const z = centre[l.offset]! / (l.field.weight ?? 1);
        const v = centreValue(model, l.field, centre[l.offset]!);
        values[name] = v;
        typical.push({ field: name, value: formatValue(name, v) });
        const overall = centreValue(model, l.field, 0);
        if (Math.abs(z) >= 0.5) {
          deviations.push({
            field: name,
            z,
            text: `${name} ${z > 0 ? 'high' : 'low'}: ≈${formatValue(name, v)} vs ≈${formatValue(name, overall)} overall (${z > 0 ? '+' : ''}${z.toFixed(1)} sd)`,
          });
        }
      } else {
        const top = topCategory(model, l, centre);
        cats[name] = top.value;
        typical.push({ field: name, value: `${top.value} (${Math.round(top.share * 100)}%)` });
      }
    }
    const tags = TAG_RULES.filter((r) => r.test(values, cats)).map((r) => r.tag);
    if (cats.service && cats.service !== UNKNOWN) tags.unshift(`service ${cats.service}`);
    else if (cats.port_class) tags.unshift(`ports ${cats.port_class}`);
    if (cats.protocol_type ?? cats.protocol) tags.unshift(cats.protocol_type ?? cats.protocol!);
    if (size / total < 0.01) tags.push('rare');
    deviations.sort((a, b) => Math.abs(b.z) - Math.abs(a.z));
    const evidence = deviations.slice(0, 4).map((d) => d.text);
    if (evidence.length === 0) evidence.push('close to the overall average on every numeric field');
    const named = model.card.clusterNames?.[String(id)];
    const fam = families[id]!;
    return {
      id,
      size,
      share: size / total,
      ...(named ? { name: named.name, ...(named.note ? { note: named.note } : {}) } : {}),
      tags,
      evidence,
      typical,
      ...(Object.keys(fam).length > 0 ? { families: fam } : {}),
    };
  });
}

/**
 * Why one preprocessed row got its score: the share of its squared distance to its cluster's
 * centre per field, largest first (fallback for src/explain's explainRows).
 */
export function explainRow(
  model: LoadedModel,
  x: Float32Array,
  cluster: number,
  table: Table,
  row: number,
): FieldContribution[] {
  const centre = centreRow(model, cluster);
  const out: FieldContribution[] = [];
  let total = 0;
  for (const l of fieldLayout(model)) {
    let d2 = 0;
    for (let j = 0; j < l.width; j++) {
      const d = x[l.offset + j]! - centre[l.offset + j]!;
      d2 += d * d;
    }
    total += d2;
    const name = l.field.name;
    if (l.field.kind === 'numeric') {
      const v = table.numeric[name]![row]!;
      const t = centreValue(model, l.field, centre[l.offset]!);
      const dz = x[l.offset]! - centre[l.offset]!;
      out.push({
        field: name,
        share: d2,
        value: formatValue(name, v),
        typical: formatValue(name, t),
        direction: Math.abs(dz) < 1e-6 ? 'same' : dz > 0 ? 'higher' : 'lower',
      });
    } else {
      const v = table.text[name]![row]!;
      const top = topCategory(model, l, centre).value;
      out.push({
        field: name,
        share: d2,
        value: v,
        typical: top,
        direction: v === top ? 'same' : 'different',
      });
    }
  }
  for (const c of out) c.share = total > 0 ? c.share / total : 0;
  return out.sort((a, b) => b.share - a.share);
}

/**
 * The single-field change (to the cluster's typical value) that lowers the score most, scored
 * exactly by the detector on one variant row per field.
 */
export async function counterfactual(
  model: LoadedModel,
  table: Table,
  cluster: number,
  score: number,
  top: FieldContribution[],
): Promise<Counterfactual | null> {
  const centre = centreRow(model, cluster);
  const layout = fieldLayout(model);
  const candidates = top.filter((c) => c.direction !== 'same').slice(0, 8);
  if (candidates.length === 0) return null;
  const n = candidates.length;
  const numeric: Record<string, Float64Array> = {};
  const text: Record<string, string[]> = {};
  for (const [k, col] of Object.entries(table.numeric)) numeric[k] = new Float64Array(n).fill(col[0]!);
  for (const [k, col] of Object.entries(table.text)) text[k] = new Array<string>(n).fill(col[0]!);
  const newValues: string[] = [];
  candidates.forEach((c, i) => {
    const l = layout.find((q) => q.field.name === c.field)!;
    if (l.field.kind === 'numeric') {
      let v = centreValue(model, l.field, centre[l.offset]!);
      if (KDD_BINARY.includes(c.field)) v = Math.round(v);
      if (/_rate$/.test(c.field)) v = Math.min(1, Math.max(0, v));
      if (!/_rate$/.test(c.field) && Number.isInteger(table.numeric[c.field]![0]!))
        v = Math.max(0, Math.round(v));
      numeric[c.field]![i] = v;
      newValues.push(formatValue(c.field, v));
    } else {
      const v = topCategory(model, l, centre).value;
      text[c.field]![i] = v;
      newValues.push(v);
    }
  });
  const s = await model.detector.evaluateRows({ nRows: n, numeric, text });
  let best = -1;
  for (let i = 0; i < n; i++) if (best < 0 || s.anomalyScore[i]! < s.anomalyScore[best]!) best = i;
  if (best < 0 || s.anomalyScore[best]! >= score) return null;
  const c = candidates[best]!;
  const thr = model.detector.threshold;
  return {
    field: c.field,
    from: c.value,
    to: newValues[best]!,
    anomalyScore: s.anomalyScore[best]!,
    crossesThreshold: score > thr !== s.anomalyScore[best]! > thr,
  };
}

/** A 2-D PCA of the model space, fitted on training rows (or the centres when no rows). */
export interface PcaMap {
  project(X: Matrix): number[][];
  explained: number[];
  points: { x: number[]; y: number[]; cluster: number[]; score: number[] } | null;
  centres: { x: number[]; y: number[] };
}

function toRows(X: Matrix, limit = X.rows): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < Math.min(limit, X.rows); i++)
    rows.push(Array.from(X.data.subarray(i * X.cols, (i + 1) * X.cols)));
  return rows;
}

export function buildPcaMap(model: LoadedModel, sample: TrainingSample | null): PcaMap {
  const centres = model.detector.primary.clusterCenters;
  const fitRows = sample && sample.X.rows >= 3 ? toRows(sample.X, 3000) : toRows(centres);
  const pca = new PCA(fitRows, { center: true, scale: false });
  const nComp = Math.min(2, fitRows[0]!.length);
  const project = (X: Matrix): number[][] => {
    if (X.rows === 0) return [];
    const m = pca.predict(toRows(X), { nComponents: nComp }).to2DArray();
    return m.map((r) => [r[0] ?? 0, r[1] ?? 0]);
  };
  const c = project(centres);
  let points: PcaMap['points'] = null;
  if (sample && sample.X.rows > 0) {
    const p = project(sample.X);
    points = {
      x: p.map((r) => r[0]!),
      y: p.map((r) => r[1]!),
      cluster: Array.from(sample.clusters),
      score: Array.from(sample.scores),
    };
  }
  const ev = pca.getExplainedVariance();
  return {
    project,
    explained: ev.slice(0, 2),
    points,
    centres: { x: c.map((r) => r[0]!), y: c.map((r) => r[1]!) },
  };
}
