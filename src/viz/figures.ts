/**
 * Plotly figure specs as plain JSON (`{data, layout}`): the notebooks show them inline, the web
 * app draws them, the HTML report embeds them. Every builder takes plain arrays / objects (no
 * model classes), so any layer can feed it. Large inputs are sampled (seeded) or binned here:
 * a spec never carries more than `maxPoints` flows.
 */
import { InputError } from '../errors.ts';
import { type BinaryLabels, prCurve, rocCurve } from '../model/metrics.ts';
import { sampleIndices } from './pca.ts';

export interface Figure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
  config?: Record<string, unknown>;
}

/** Categorical palette (Tableau 20 reordered so neighbours contrast), cycled for k > 20. */
export const CLUSTER_COLORS = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
  '#aec7e8',
  '#ffbb78',
  '#98df8a',
  '#ff9896',
  '#c5b0d5',
  '#c49c94',
  '#f7b6d2',
  '#c7c7c7',
  '#dbdb8d',
  '#9edae5',
];

/** One colour per behaviour tag and per NSL-KDD family, shared by every figure. */
export const TAG_COLORS: Readonly<Record<string, string>> = {
  normal: '#2ca02c',
  'dos/flood': '#d62728',
  dos: '#d62728',
  'probe/scan': '#ff7f0e',
  probe: '#ff7f0e',
  'brute-force/access': '#9467bd',
  r2l: '#9467bd',
  u2r: '#e377c2',
  'exfiltration/bulk-transfer': '#8c564b',
  unknown: '#7f7f7f',
  attack: '#d62728',
};

/** Plotly renders a subset of HTML in text (<b>, <a href>): show user strings literally instead. */
export function plotlyText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function clusterColor(id: number): string {
  return CLUSTER_COLORS[((id % CLUSTER_COLORS.length) + CLUSTER_COLORS.length) % CLUSTER_COLORS.length]!;
}

/** Blue (below the mean) → white → red (above): explicit, Plotly's named scales run the other way. */
const DIVERGING = [
  [0, '#2166ac'],
  [0.25, '#92c5de'],
  [0.5, '#f7f7f7'],
  [0.75, '#f4a582'],
  [1, '#b2182b'],
];
/** Low scores blue, high scores red. */
const SCORE_SCALE = [
  [0, '#313695'],
  [0.3, '#74add1'],
  [0.5, '#ffffbf'],
  [0.7, '#f46d43'],
  [1, '#a50026'],
];

const FONT = { family: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif', size: 13 };

function baseLayout(title: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: { text: title, x: 0.01, xanchor: 'left', font: { size: 16 } },
    font: FONT,
    paper_bgcolor: '#ffffff',
    plot_bgcolor: '#ffffff',
    margin: { l: 60, r: 20, t: 50, b: 50 },
    hovermode: 'closest',
    ...extra,
  };
}

const AXIS = { gridcolor: '#e5e7eb', zerolinecolor: '#d1d5db', linecolor: '#9ca3af', automargin: true };

/** Replace non-finite numbers by null (JSON has no NaN; Plotly leaves gaps for null). */
function finite(values: readonly number[]): (number | null)[] {
  return values.map((v) => (Number.isFinite(v) ? v : null));
}

// ---------------------------------------------------------------------------------------- elbow

export interface ElbowPoint {
  k: number;
  inertia: number;
  silhouette?: number;
  calinskiHarabasz?: number;
  daviesBouldin?: number;
}

export interface ElbowFigureInput {
  rows: readonly ElbowPoint[];
  knee?: number | null;
  /** The k the model uses, when it differs from the knee. */
  chosenK?: number | null;
}

/**
 * Four panels over k: inertia with the knee marked (and the chosen k), silhouette (higher is
 * better), Calinski-Harabasz (higher is better), Davies-Bouldin (lower is better).
 */
export function elbowFigure(input: ElbowFigureInput): Figure {
  const rows = [...input.rows].sort((a, b) => a.k - b.k);
  if (rows.length === 0) throw new InputError('elbowFigure: no rows');
  const ks = rows.map((r) => r.k);
  const line = (y: number[], axis: string, name: string, color: string) => ({
    type: 'scatter',
    mode: 'lines+markers',
    x: ks,
    y: finite(y),
    name,
    xaxis: `x${axis}`,
    yaxis: `y${axis}`,
    line: { color, width: 2 },
    marker: { size: 5 },
    hovertemplate: `k=%{x}<br>${name}=%{y:.4g}<extra></extra>`,
    showlegend: false,
  });
  const data: Record<string, unknown>[] = [
    line(
      rows.map((r) => r.inertia),
      '',
      'inertia',
      '#1f77b4',
    ),
    line(
      rows.map((r) => r.silhouette ?? Number.NaN),
      '2',
      'silhouette',
      '#2ca02c',
    ),
    line(
      rows.map((r) => r.calinskiHarabasz ?? Number.NaN),
      '3',
      'Calinski-Harabasz',
      '#9467bd',
    ),
    line(
      rows.map((r) => r.daviesBouldin ?? Number.NaN),
      '4',
      'Davies-Bouldin',
      '#ff7f0e',
    ),
  ];
  const marks: { k: number; label: string; color: string; symbol: string }[] = [];
  if (input.knee != null) marks.push({ k: input.knee, label: 'knee', color: '#d62728', symbol: 'star' });
  if (input.chosenK != null && input.chosenK !== input.knee)
    marks.push({ k: input.chosenK, label: 'model k', color: '#111827', symbol: 'diamond' });
  const shapes: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  for (const m of marks) {
    const row = rows.find((r) => r.k === m.k);
    for (const axis of ['', '2', '3', '4']) {
      shapes.push({
        type: 'line',
        xref: `x${axis}`,
        yref: `y${axis} domain`,
        x0: m.k,
        x1: m.k,
        y0: 0,
        y1: 1,
        line: { color: m.color, width: 1, dash: 'dot' },
      });
    }
    if (row) {
      data.push({
        type: 'scatter',
        mode: 'markers',
        x: [m.k],
        y: [row.inertia],
        name: `${m.label} (k=${m.k})`,
        marker: { color: m.color, size: 14, symbol: m.symbol, line: { color: '#fff', width: 1 } },
        hovertemplate: `${m.label}: k=%{x}<br>inertia=%{y:.4g}<extra></extra>`,
        showlegend: true,
      });
    }
    annotations.push({
      x: m.k,
      y: 1,
      xref: 'x',
      yref: 'y domain',
      text: `${m.label} k=${m.k}`,
      showarrow: false,
      xanchor: 'left',
      yanchor: 'top',
      xshift: 4,
      font: { color: m.color, size: 12 },
    });
  }
  const panelTitle = (text: string, axis: string) => ({
    text,
    x: 0,
    y: 1.02,
    xref: `x${axis} domain`,
    yref: `y${axis} domain`,
    showarrow: false,
    xanchor: 'left',
    yanchor: 'bottom',
    font: { size: 13, color: '#374151' },
  });
  annotations.push(
    panelTitle('Inertia (within-cluster sum of squares) — the elbow', ''),
    panelTitle('Silhouette (higher is better)', '2'),
    panelTitle('Calinski-Harabasz (higher is better)', '3'),
    panelTitle('Davies-Bouldin (lower is better)', '4'),
  );
  const layout = baseLayout('Choosing k: elbow and cluster-quality metrics', {
    grid: { rows: 2, columns: 2, pattern: 'independent', xgap: 0.12, ygap: 0.22 },
    height: 560,
    margin: { l: 70, r: 20, t: 70, b: 50 },
    legend: { orientation: 'h', x: 1, xanchor: 'right', y: 1.1, yanchor: 'bottom' },
    shapes,
    annotations,
  });
  for (const axis of ['', '2', '3', '4']) {
    layout[`xaxis${axis}`] = { ...AXIS, title: { text: 'k' }, dtick: ks.length > 20 ? 5 : 1 };
    layout[`yaxis${axis}`] = { ...AXIS };
  }
  return { data, layout };
}

// ------------------------------------------------------------------------------------------ PCA

export interface PcaFigureInput {
  /** Projected flows. */
  flows: { x: readonly number[]; y: readonly number[] };
  /** Cluster of each flow (needed for colorBy 'cluster'). */
  cluster?: ArrayLike<number>;
  /** Anomaly score of each flow (needed for colorBy 'score'). */
  score?: ArrayLike<number>;
  /** Label / family of each flow (needed for colorBy 'label'; evaluation only). */
  label?: readonly string[];
  /** Projected centroids, with the cluster names analysts see. */
  centroids?: {
    x: readonly number[];
    y: readonly number[];
    id?: readonly number[];
    name?: readonly string[];
  };
  colorBy?: 'cluster' | 'score' | 'label';
  /** Flows drawn at most (seeded sample); default 5000. */
  maxPoints?: number;
  seed?: number;
  /** Variance explained by PC1 / PC2, for the axis titles. */
  explained?: readonly [number, number];
  /** Score threshold: with colorBy 'score', the colour scale is centred on it. */
  threshold?: number;
  title?: string;
}

export function pcaFigure(input: PcaFigureInput): Figure {
  const n = input.flows.x.length;
  if (input.flows.y.length !== n) throw new InputError('pcaFigure: flows.x and flows.y differ in length');
  const colorBy = input.colorBy ?? 'cluster';
  const need = { cluster: input.cluster, score: input.score, label: input.label }[colorBy];
  if (!need) throw new InputError(`pcaFigure: colorBy '${colorBy}' needs the ${colorBy} of each flow`);
  if (need.length !== n)
    throw new InputError(`pcaFigure: ${colorBy} has ${need.length} values for ${n} flows`);
  const maxPoints = input.maxPoints ?? 5000;
  const idx = sampleIndices(n, maxPoints, input.seed ?? 0);
  const pick = <T>(a: ArrayLike<T>): T[] => Array.from(idx, (i) => a[i]!);
  const xs = pick(input.flows.x);
  const ys = pick(input.flows.y);
  const data: Record<string, unknown>[] = [];
  const marker = { size: 4, opacity: 0.6 };
  const centroidName = (c: number): string => {
    const j = input.centroids?.id ? input.centroids.id.indexOf(c) : c;
    const name = j >= 0 ? input.centroids?.name?.[j] : undefined;
    return name ? `${c}: ${plotlyText(name)}` : `cluster ${c}`;
  };
  if (colorBy === 'cluster') {
    const cl = pick(input.cluster!);
    const groups = new Map<number, number[]>();
    cl.forEach((c, j) => {
      const g = groups.get(c);
      if (g) g.push(j);
      else groups.set(c, [j]);
    });
    for (const c of [...groups.keys()].sort((a, b) => a - b)) {
      const g = groups.get(c)!;
      data.push({
        type: 'scattergl',
        mode: 'markers',
        name: centroidName(c),
        legendgroup: `c${c}`,
        x: g.map((j) => xs[j]),
        y: g.map((j) => ys[j]),
        marker: { ...marker, color: clusterColor(c) },
        hovertemplate: `${centroidName(c).replace(/%/g, '%%')}<extra></extra>`,
      });
    }
  } else if (colorBy === 'label') {
    const lb = pick(input.label!);
    const groups = new Map<string, number[]>();
    lb.forEach((l, j) => {
      const g = groups.get(l);
      if (g) g.push(j);
      else groups.set(l, [j]);
    });
    const names = [...groups.keys()].sort((a, b) =>
      a === 'normal' ? -1 : b === 'normal' ? 1 : a < b ? -1 : 1,
    );
    names.forEach((l, t) => {
      const g = groups.get(l)!;
      data.push({
        type: 'scattergl',
        mode: 'markers',
        name: `${l} (${g.length})`,
        x: g.map((j) => xs[j]),
        y: g.map((j) => ys[j]),
        marker: { ...marker, color: TAG_COLORS[l] ?? clusterColor(t + 8) },
        text: g.map(() => l),
        hovertemplate: '%{text}<extra></extra>',
      });
    });
  } else {
    const sc = pick(input.score!);
    // Colour by log score so the bulk and the tail are both readable; the threshold sits mid-scale.
    const logs = sc.map((v) => Math.log10(Math.max(v, 1e-6)));
    const th = input.threshold !== undefined ? Math.log10(Math.max(input.threshold, 1e-6)) : undefined;
    data.push({
      type: 'scattergl',
      mode: 'markers',
      name: 'flows',
      x: xs,
      y: ys,
      text: sc.map((v) => v.toPrecision(3)),
      marker: {
        ...marker,
        color: logs,
        colorscale: SCORE_SCALE,
        ...(th !== undefined ? { cmid: th } : {}),
        colorbar: { title: { text: 'log10 score' }, thickness: 14 },
      },
      hovertemplate: 'score %{text}<extra></extra>',
      showlegend: false,
    });
  }
  if (input.centroids && input.centroids.x.length > 0) {
    const ids = input.centroids.id ?? input.centroids.x.map((_, i) => i);
    data.push({
      type: 'scatter',
      mode: 'markers+text',
      name: 'centroids',
      x: [...input.centroids.x],
      y: [...input.centroids.y],
      text: ids.map((c) => String(c)),
      textposition: 'top center',
      textfont: { size: 11, color: '#111827' },
      customdata: ids.map((c) => centroidName(c)),
      marker: {
        symbol: 'x',
        size: 12,
        color: colorBy === 'cluster' ? ids.map((c) => clusterColor(c)) : '#111827',
        line: { color: '#111827', width: 2 },
      },
      hovertemplate: 'centroid %{customdata}<extra></extra>',
    });
  }
  const pct = (v: number | undefined) => (v === undefined ? '' : ` (${(v * 100).toFixed(1)} % of variance)`);
  const shown =
    idx.length < n
      ? `${idx.length.toLocaleString('en-US')} of ${n.toLocaleString('en-US')} flows`
      : `${n.toLocaleString('en-US')} flows`;
  return {
    data,
    layout: baseLayout(
      input.title ?? `Traffic map (PCA of the model's feature space), ${shown}, coloured by ${colorBy}`,
      {
        height: 560,
        xaxis: { ...AXIS, title: { text: `PC1${pct(input.explained?.[0])}` } },
        yaxis: { ...AXIS, title: { text: `PC2${pct(input.explained?.[1])}` } },
        legend: { itemsizing: 'constant', font: { size: 11 } },
      },
    ),
  };
}

// ---------------------------------------------------------------------------------- profile map

export interface ProfileHeatmapInput {
  /** One entry per cluster (rows of the heat map). */
  clusters: readonly { id: number; size?: number; share?: number; tag?: string; name?: string }[];
  /** Field names (columns). */
  fields: readonly string[];
  /** clusters × fields effect sizes (e.g. standardised mean difference from all traffic). */
  effects: readonly (readonly number[])[];
  /** Clamp of the colour scale (default: 3). */
  clamp?: number;
  title?: string;
}

/** Heat map of per-cluster effect sizes: red = above the overall mean, blue = below. */
export function profileHeatmap(input: ProfileHeatmapInput): Figure {
  const { clusters, fields, effects } = input;
  if (effects.length !== clusters.length)
    throw new InputError(`profileHeatmap: ${effects.length} rows of effects for ${clusters.length} clusters`);
  for (const row of effects)
    if (row.length !== fields.length)
      throw new InputError(`profileHeatmap: a row has ${row.length} effects for ${fields.length} fields`);
  const clamp = input.clamp ?? 3;
  const yLabels = clusters.map((c) => {
    const share = c.share !== undefined ? ` · ${(c.share * 100).toFixed(1)} %` : '';
    const label = c.name !== undefined ? plotlyText(c.name) : c.tag;
    return `${c.id}${label ? ` ${label}` : ''}${share}`;
  });
  const z = effects.map((row) =>
    row.map((v) => (Number.isFinite(v) ? Math.max(-clamp, Math.min(clamp, v)) : null)),
  );
  const raw = effects.map((row) => row.map((v) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a')));
  return {
    data: [
      {
        type: 'heatmap',
        z,
        x: fields.map(plotlyText),
        y: yLabels,
        customdata: raw,
        zmin: -clamp,
        zmax: clamp,
        zmid: 0,
        colorscale: DIVERGING,
        xgap: 1,
        ygap: 1,
        colorbar: { title: { text: 'effect size' }, thickness: 14 },
        hovertemplate: 'cluster %{y}<br>%{x}: %{customdata}<extra></extra>',
      },
    ],
    layout: baseLayout(input.title ?? 'Cluster profiles: how each cluster differs from all traffic', {
      height: Math.max(320, 28 * clusters.length + 180),
      margin: { l: 220, r: 20, t: 50, b: 140 },
      xaxis: { tickangle: -45, automargin: true, tickfont: { size: 11 } },
      yaxis: { autorange: 'reversed', automargin: true, tickfont: { size: 12 } },
    }),
  };
}

// ------------------------------------------------------------------------------------ importance

export interface ImportanceFigureInput {
  /** Field → importance, any order (sorted here, largest at the top). */
  values: readonly { field: string; value: number }[];
  top?: number;
  title?: string;
  xTitle?: string;
}

export function importanceFigure(input: ImportanceFigureInput): Figure {
  const top = [...input.values]
    .filter((v) => Number.isFinite(v.value))
    .sort((a, b) => b.value - a.value)
    .slice(0, input.top ?? 15)
    .reverse();
  return {
    data: [
      {
        type: 'bar',
        orientation: 'h',
        x: top.map((v) => v.value),
        y: top.map((v) => plotlyText(v.field)),
        marker: { color: '#1f77b4' },
        hovertemplate: '%{y}: %{x:.4g}<extra></extra>',
      },
    ],
    layout: baseLayout(input.title ?? 'Feature importance', {
      height: Math.max(300, 24 * top.length + 110),
      margin: { l: 180, r: 20, t: 50, b: 50 },
      xaxis: { ...AXIS, title: { text: input.xTitle ?? 'importance' } },
      yaxis: { automargin: true },
    }),
  };
}

// ----------------------------------------------------------------------------- score histogram

export interface ScoreHistogramInput {
  scores: ArrayLike<number>;
  threshold: number;
  /** Optional group of each score (e.g. 'normal' / 'attack' or the family): one curve per group. */
  groups?: readonly string[];
  bins?: number;
  title?: string;
}

/**
 * Distribution of anomaly scores as step curves over log-spaced bins (the scores are ratios to
 * the median training distance and heavy-tailed), with the threshold as a vertical line. The
 * spec carries only bin counts, whatever the number of scores.
 */
export function scoreHistogram(input: ScoreHistogramInput): Figure {
  const n = input.scores.length;
  if (n === 0) throw new InputError('scoreHistogram: no scores');
  if (input.groups && input.groups.length !== n)
    throw new InputError(`scoreHistogram: ${input.groups.length} groups for ${n} scores`);
  const bins = input.bins ?? 60;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const v = input.scores[i]!;
    if (v > 0 && Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (!Number.isFinite(lo)) {
    lo = 1e-3;
    hi = 1;
  }
  if (input.threshold > 0) {
    lo = Math.min(lo, input.threshold);
    hi = Math.max(hi, input.threshold);
  }
  const l0 = Math.log10(lo);
  const l1 = Math.max(Math.log10(hi), l0 + 1e-6);
  const width = (l1 - l0) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, b) => 10 ** (l0 + b * width));
  const counts = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const g = input.groups ? input.groups[i]! : 'all flows';
    let c = counts.get(g);
    if (!c) {
      c = new Array<number>(bins).fill(0);
      counts.set(g, c);
    }
    const v = Math.max(input.scores[i]!, lo);
    const b = Math.min(bins - 1, Math.max(0, Math.floor((Math.log10(v) - l0) / width)));
    c[b]!++;
  }
  const names = [...counts.keys()].sort((a, b) =>
    a === 'normal' ? -1 : b === 'normal' ? 1 : a < b ? -1 : 1,
  );
  const data: Record<string, unknown>[] = names.map((g, t) => {
    const c = counts.get(g)!;
    // Step curve: each bin is a flat segment from its left to its right edge.
    const x: number[] = [];
    const y: number[] = [];
    for (let b = 0; b < bins; b++) {
      x.push(edges[b]!, edges[b + 1]!);
      y.push(c[b]!, c[b]!);
    }
    const color = TAG_COLORS[g] ?? (names.length === 1 ? '#1f77b4' : clusterColor(t));
    return {
      type: 'scatter',
      mode: 'lines',
      name: `${g} (${c.reduce((a, b) => a + b, 0).toLocaleString('en-US')})`,
      x,
      y,
      fill: 'tozeroy',
      line: { color, width: 1.5 },
      opacity: 0.6,
      hovertemplate: `${g}: %{y} flows near score %{x:.3g}<extra></extra>`,
    };
  });
  let top = 1;
  for (const c of counts.values()) for (const v of c) top = Math.max(top, v);
  // The threshold as a trace, not a shape: shapes on log axes take log10 coordinates.
  data.push({
    type: 'scatter',
    mode: 'lines',
    name: `threshold ${input.threshold.toPrecision(3)}`,
    x: [input.threshold, input.threshold],
    y: [0, top * 1.05],
    fill: 'none',
    line: { color: '#111827', width: 2, dash: 'dash' },
    opacity: 1,
    hovertemplate: `alert threshold ${input.threshold.toPrecision(3)}<extra></extra>`,
  });
  return {
    data,
    layout: baseLayout(input.title ?? 'Anomaly-score distribution and the alert threshold', {
      height: 400,
      xaxis: { ...AXIS, type: 'log', title: { text: 'anomaly score (log scale; higher = more anomalous)' } },
      yaxis: { ...AXIS, title: { text: 'flows' } },
      legend: { x: 1, xanchor: 'right', y: 1 },
    }),
  };
}

// ---------------------------------------------------------------------------------- ROC and PR

export interface CurveInput {
  name: string;
  /** 1 / true = attack. */
  y: BinaryLabels;
  score: ArrayLike<number>;
}

function auc(x: readonly number[], y: readonly number[]): number {
  let a = 0;
  for (let i = 1; i < x.length; i++) a += ((x[i]! - x[i - 1]!) * (y[i]! + y[i - 1]!)) / 2;
  return a;
}

/** ROC curves (rocCurve of src/model/metrics.ts, ≤ 256 points each) with the chance diagonal. */
export function rocFigure(
  curves: readonly CurveInput[],
  opts: { rocAuc?: readonly number[]; title?: string } = {},
): Figure {
  const data: Record<string, unknown>[] = curves.map((c, i) => {
    const r = rocCurve(c.y, c.score);
    const a = opts.rocAuc?.[i] ?? auc(r.fpr, r.tpr);
    return {
      type: 'scatter',
      mode: 'lines',
      name: `${c.name} (AUC ${a.toFixed(3)})`,
      x: r.fpr,
      y: r.tpr,
      line: { width: 2, color: clusterColor(i) },
      hovertemplate: 'FPR %{x:.4f}<br>detection rate %{y:.4f}<extra></extra>',
    };
  });
  data.push({
    type: 'scatter',
    mode: 'lines',
    name: 'chance',
    x: [0, 1],
    y: [0, 1],
    line: { dash: 'dot', color: '#9ca3af', width: 1 },
    hoverinfo: 'skip',
  });
  return {
    data,
    layout: baseLayout(opts.title ?? 'ROC curve', {
      height: 420,
      xaxis: { ...AXIS, title: { text: 'false-positive rate' }, range: [0, 1] },
      yaxis: { ...AXIS, title: { text: 'detection rate (recall)' }, range: [0, 1.02] },
      legend: { x: 1, xanchor: 'right', y: 0.02, yanchor: 'bottom' },
    }),
  };
}

/** Precision-recall curves (prCurve of src/model/metrics.ts) with the base rate. */
export function prFigure(
  curves: readonly CurveInput[],
  opts: { averagePrecision?: readonly number[]; title?: string } = {},
): Figure {
  const data: Record<string, unknown>[] = [];
  let baseRate = Number.NaN;
  curves.forEach((c, i) => {
    const p = prCurve(c.y, c.score);
    let pos = 0;
    for (let j = 0; j < c.y.length; j++) if (Number(c.y[j])) pos++;
    baseRate = pos / c.y.length;
    const ap = opts.averagePrecision?.[i];
    data.push({
      type: 'scatter',
      mode: 'lines',
      name: ap !== undefined ? `${c.name} (AP ${ap.toFixed(3)})` : c.name,
      x: p.recall,
      y: p.precision,
      line: { width: 2, color: clusterColor(i) },
      hovertemplate: 'recall %{x:.4f}<br>precision %{y:.4f}<extra></extra>',
    });
  });
  if (Number.isFinite(baseRate)) {
    data.push({
      type: 'scatter',
      mode: 'lines',
      name: `base rate ${baseRate.toFixed(3)}`,
      x: [0, 1],
      y: [baseRate, baseRate],
      line: { dash: 'dot', color: '#9ca3af', width: 1 },
      hoverinfo: 'skip',
    });
  }
  return {
    data,
    layout: baseLayout(opts.title ?? 'Precision-recall curve', {
      height: 420,
      xaxis: { ...AXIS, title: { text: 'recall (detection rate)' }, range: [0, 1] },
      yaxis: { ...AXIS, title: { text: 'precision' }, range: [0, 1.02] },
      legend: { x: 0.02, xanchor: 'left', y: 0.02, yanchor: 'bottom' },
    }),
  };
}

/** Bar chart of cluster sizes coloured by behaviour tag (a compact overview). */
export function clusterSizeFigure(
  clusters: readonly { id: number; size: number; tag?: string; name?: string }[],
  title = 'Cluster sizes by behaviour tag',
): Figure {
  const sorted = [...clusters].sort((a, b) => b.size - a.size);
  return {
    data: [
      {
        type: 'bar',
        x: sorted.map((c) => `${c.id}${c.name ? ` ${plotlyText(c.name)}` : ''}`),
        y: sorted.map((c) => c.size),
        text: sorted.map((c) => c.tag ?? ''),
        marker: { color: sorted.map((c) => TAG_COLORS[c.tag ?? 'unknown'] ?? '#7f7f7f') },
        hovertemplate: 'cluster %{x}<br>%{y} flows<br>%{text}<extra></extra>',
      },
    ],
    layout: baseLayout(title, {
      height: 340,
      xaxis: { type: 'category', title: { text: 'cluster' }, tickangle: -30, automargin: true },
      yaxis: { ...AXIS, title: { text: 'flows' } },
    }),
  };
}

/**
 * One flow as a star, to lay over a pcaFigure's map (append it to the map's `data`): green when
 * normal, red when anomalous. A single trace, so a page can add it to a map it already holds.
 */
export function flowMarker(point: {
  x: number;
  y: number;
  anomalous: boolean;
  name?: string;
}): Record<string, unknown> {
  return {
    type: 'scatter',
    mode: 'markers',
    name: plotlyText(point.name ?? 'this flow'),
    x: [point.x],
    y: [point.y],
    marker: {
      size: 18,
      symbol: 'star',
      color: point.anomalous ? TAG_COLORS['dos/flood'] : TAG_COLORS.normal,
      line: { width: 1.5, color: '#111827' },
    },
    hovertemplate: `${plotlyText(point.name ?? 'this flow').replace(/%/g, '%%')}<extra></extra>`,
  };
}
