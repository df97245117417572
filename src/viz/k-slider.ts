/**
 * "Turn k without re-running": K-Means fitted once per k on a seeded sample of the model's feature
 * space (`sweepK`), then one Plotly figure with a k slider (`kSliderFigure`): inertia and silhouette
 * over k with the knee, the PCA map coloured by cluster and a profile table (size, share, the
 * columns that set each cluster apart) for the k the slider points at. Every k is precomputed:
 * the slider's steps only switch which traces are visible, so the figure works offline with no
 * kernel behind it (notebook outputs, HTML, the web app).
 */
import { InputError } from '../errors.ts';
import type { Matrix } from '../ingest/table.ts';
import { silhouetteScore } from '../model/cluster-quality.ts';
import type { EngineName } from '../model/engine.ts';
import { KMeans, takeRows } from '../model/kmeans.ts';
import { findKnee } from '../model/knee.ts';
import { clusterColor, type Figure } from './figures.ts';
import { fitPca2D, sampleIndices } from './pca.ts';

export interface SweepKOptions {
  /** The k values (default 2..16). */
  ks?: readonly number[];
  /** Rows of X used (seeded sample; default 2000). */
  sampleSize?: number;
  /** Rows for the silhouette (default 600). */
  silhouetteSample?: number;
  seed?: number;
  engine?: EngineName | 'auto';
  /** Names of X's columns (e.g. `preprocessor.outputNames()`), for the profile table. */
  columns?: readonly string[];
}

export interface KProfileRow {
  cluster: number;
  size: number;
  share: number;
  /** Columns whose cluster mean is farthest from the sample mean (in the scaled space), signed. */
  distinguishing: string;
}

export interface KSweep {
  ks: number[];
  inertia: number[];
  silhouette: number[];
  knee: number | null;
  /** The sample's rows on the PCA map (the same for every k). */
  map: { x: number[]; y: number[]; explained: [number, number] };
  /** Cluster of each sample row, per k. */
  labels: Int32Array[];
  profiles: KProfileRow[][];
  sampleRows: number;
}

/** One K-Means per k on a seeded sample of X (preprocessed rows), with the metrics and the map. */
export async function sweepK(X: Matrix, options: SweepKOptions = {}): Promise<KSweep> {
  const ks = [...(options.ks ?? Array.from({ length: 15 }, (_, i) => i + 2))].sort((a, b) => a - b);
  if (ks.length < 2 || ks.some((k) => !Number.isInteger(k) || k < 1)) {
    throw new InputError(`sweepK: ks must hold at least two integers >= 1, got ${JSON.stringify(ks)}`);
  }
  const seed = options.seed ?? 0;
  const S = takeRows(X, sampleIndices(X.rows, options.sampleSize ?? 2000, seed));
  if (S.rows < ks[ks.length - 1]!) {
    throw new InputError(`sweepK: ${S.rows} sampled rows cannot make ${ks[ks.length - 1]} clusters`);
  }
  const pca = fitPca2D(S, { sampleSize: S.rows, seed });
  const proj = pca.project(S);
  const mean = columnMeans(S, null, 0);
  const columns = options.columns ?? Array.from({ length: X.cols }, (_, j) => `x${j}`);
  const inertia: number[] = [];
  const silhouette: number[] = [];
  const labels: Int32Array[] = [];
  const profiles: KProfileRow[][] = [];
  for (const k of ks) {
    const km = await new KMeans({ k, seed, engine: options.engine ?? 'auto' }).fit(S);
    inertia.push(km.inertia);
    labels.push(km.labels);
    silhouette.push(
      k > 1
        ? silhouetteScore(S, km.labels, { sampleSize: options.silhouetteSample ?? 600, seed })
        : Number.NaN,
    );
    profiles.push(profileRows(S, km.labels, k, mean, columns));
  }
  return {
    ks,
    inertia,
    silhouette,
    knee: findKnee(ks, inertia).knee,
    map: { x: proj.x, y: proj.y, explained: pca.explained },
    labels,
    profiles,
    sampleRows: S.rows,
  };
}

function columnMeans(X: Matrix, labels: Int32Array | null, c: number): Float64Array {
  const out = new Float64Array(X.cols);
  let n = 0;
  for (let i = 0; i < X.rows; i++) {
    if (labels && labels[i] !== c) continue;
    n++;
    for (let j = 0; j < X.cols; j++) out[j]! += X.data[i * X.cols + j]!;
  }
  for (let j = 0; j < X.cols; j++) out[j]! /= Math.max(1, n);
  return out;
}

function profileRows(
  X: Matrix,
  labels: Int32Array,
  k: number,
  mean: Float64Array,
  columns: readonly string[],
): KProfileRow[] {
  const sizes = new Array<number>(k).fill(0);
  for (const l of labels) sizes[l]!++;
  const rows: KProfileRow[] = [];
  for (let c = 0; c < k; c++) {
    const m = columnMeans(X, labels, c);
    const top = Array.from(m, (v, j) => ({ j, d: v - mean[j]! }))
      .sort((a, b) => Math.abs(b.d) - Math.abs(a.d))
      .slice(0, 3)
      .map((t) => `${columns[t.j] ?? `x${t.j}`} ${t.d > 0 ? '↑' : '↓'}`);
    rows.push({
      cluster: c,
      size: sizes[c]!,
      share: sizes[c]! / labels.length,
      distinguishing: top.join(', '),
    });
  }
  return rows.sort((a, b) => b.size - a.size);
}

export interface KSliderOptions {
  /** The k the slider starts at (the notebook's K, the model's k); default the knee. */
  initialK?: number | null;
  title?: string;
}

/**
 * The slider figure: per k one marker on the inertia curve, one PCA scatter and one table; the
 * step for k shows those three and hides the others (Plotly `update` of `visible`).
 */
export function kSliderFigure(sweep: KSweep, options: KSliderOptions = {}): Figure {
  const { ks } = sweep;
  const start0 = options.initialK ?? sweep.knee ?? ks[0]!;
  const active = Math.max(0, ks.indexOf(ks.includes(start0) ? start0 : nearest(ks, start0)));
  const data: Record<string, unknown>[] = [
    {
      type: 'scatter',
      mode: 'lines+markers',
      x: ks,
      y: sweep.inertia,
      name: 'inertia',
      line: { color: '#1f77b4', width: 2 },
      marker: { size: 5 },
      hovertemplate: 'k=%{x}<br>inertia=%{y:.4g}<extra></extra>',
    },
    {
      type: 'scatter',
      mode: 'lines+markers',
      x: ks,
      y: sweep.silhouette.map((v) => (Number.isFinite(v) ? v : null)),
      name: 'silhouette (right axis)',
      yaxis: 'y2',
      line: { color: '#2ca02c', width: 2, dash: 'dot' },
      marker: { size: 5 },
      hovertemplate: 'k=%{x}<br>silhouette=%{y:.3f}<extra></extra>',
    },
  ];
  if (sweep.knee != null) {
    const i = ks.indexOf(sweep.knee);
    data.push({
      type: 'scatter',
      mode: 'markers',
      x: [sweep.knee],
      y: [sweep.inertia[i]],
      name: `knee (k=${sweep.knee})`,
      marker: { color: '#d62728', size: 15, symbol: 'star', line: { color: '#fff', width: 1 } },
      hovertemplate: 'knee: k=%{x}<extra></extra>',
    });
  }
  const fixed = data.length;
  const perK = 3;
  ks.forEach((k, i) => {
    const visible = i === active;
    data.push({
      type: 'scatter',
      mode: 'markers',
      x: [k],
      y: [sweep.inertia[i]],
      name: 'slider k',
      showlegend: false,
      visible,
      marker: { color: '#111827', size: 13, symbol: 'diamond' },
      hovertemplate: `k=${k}<br>inertia=%{y:.4g}<extra></extra>`,
    });
    const lab = sweep.labels[i]!;
    data.push({
      type: 'scatter',
      mode: 'markers',
      x: sweep.map.x,
      y: sweep.map.y,
      xaxis: 'x2',
      yaxis: 'y3',
      showlegend: false,
      visible,
      marker: { color: Array.from(lab, (c) => clusterColor(c)), size: 4, opacity: 0.75 },
      text: Array.from(lab, (c) => `cluster ${c}`),
      hovertemplate: '%{text}<extra></extra>',
    });
    const rows = sweep.profiles[i]!;
    data.push({
      type: 'table',
      domain: { x: [0, 1], y: [0, 0.34] },
      visible,
      columnwidth: [50, 60, 60, 420],
      header: {
        values: ['cluster', 'rows', 'share', 'what sets it apart (scaled cluster mean vs all)'],
        fill: { color: '#e5e7eb' },
        align: 'left',
        font: { size: 12 },
      },
      cells: {
        values: [
          rows.map((r) => r.cluster),
          rows.map((r) => r.size),
          rows.map((r) => `${(r.share * 100).toFixed(1)} %`),
          rows.map((r) => r.distinguishing),
        ],
        fill: { color: [rows.map((r) => `${clusterColor(r.cluster)}33`)] },
        align: 'left',
        font: { size: 11 },
        height: 22,
      },
    });
  });
  const steps = ks.map((k, i) => ({
    label: String(k),
    method: 'update',
    args: [
      {
        visible: data.map((_, t) => t < fixed || (t - fixed >= i * perK && t - fixed < (i + 1) * perK)),
      },
      {
        'title.text': titleFor(options.title, k, sweep),
      },
    ],
  }));
  const [e1, e2] = sweep.map.explained;
  const layout: Record<string, unknown> = {
    title: {
      text: titleFor(options.title, ks[active]!, sweep),
      x: 0.01,
      xanchor: 'left',
      font: { size: 16 },
    },
    font: { family: 'system-ui, -apple-system, Segoe UI, Roboto, sans-serif', size: 12, color: '#1b2430' },
    paper_bgcolor: '#ffffff',
    plot_bgcolor: '#ffffff',
    height: 900,
    margin: { l: 60, r: 20, t: 100, b: 20 },
    hovermode: 'closest',
    legend: { orientation: 'h', x: 0, y: 1.01, yanchor: 'bottom' },
    xaxis: {
      domain: [0, 0.4],
      title: { text: 'k' },
      dtick: ks[ks.length - 1]! - ks[0]! > 16 ? 4 : 1,
      anchor: 'y',
      gridcolor: '#e5e7eb',
    },
    yaxis: { domain: [0.5, 1], title: { text: 'inertia (sample)' }, anchor: 'x', gridcolor: '#e5e7eb' },
    yaxis2: { overlaying: 'y', side: 'right', title: { text: 'silhouette' }, anchor: 'x', showgrid: false },
    xaxis2: {
      domain: [0.56, 1],
      anchor: 'y3',
      title: { text: `PC1 (${(e1 * 100).toFixed(1)} %)` },
      gridcolor: '#e5e7eb',
      zeroline: false,
    },
    yaxis3: {
      domain: [0.5, 1],
      anchor: 'x2',
      title: { text: `PC2 (${(e2 * 100).toFixed(1)} %)` },
      gridcolor: '#e5e7eb',
      zeroline: false,
    },
    sliders: [
      {
        active,
        steps,
        x: 0,
        len: 1,
        y: 0.44,
        yanchor: 'top',
        pad: { t: 10, b: 0 },
        currentvalue: { prefix: 'k = ', font: { size: 14 } },
      },
    ],
  };
  return { data, layout, config: { responsive: true, displaylogo: false } };
}

function titleFor(title: string | undefined, k: number, sweep: KSweep): string {
  const head = title ?? 'Turn k: elbow, PCA map and cluster profiles';
  return `${head} — k = ${k}${sweep.knee != null ? ` (knee ${sweep.knee})` : ''}, ${sweep.sampleRows.toLocaleString('en-US')} sampled rows`;
}

function nearest(ks: readonly number[], k: number): number {
  return ks.reduce((best, v) => (Math.abs(v - k) < Math.abs(best - k) ? v : best), ks[0]!);
}
