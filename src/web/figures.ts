/**
 * Plotly figure specs (plain JSON: {data, layout}) for the web pages. The page only calls
 * Plotly.newPlot(el, fig.data, fig.layout); swapping these for src/viz's builders is one import.
 */
import type { LoadedModel } from '../model/bundle.ts';
import type { PcaMap, TrainingSample } from './insight.ts';

export interface Figure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
}

const PALETTE = [
  '#4269d0',
  '#efb118',
  '#ff725c',
  '#6cc5b0',
  '#3ca951',
  '#ff8ab7',
  '#a463f2',
  '#97bbf5',
  '#9c6b4e',
  '#9498a0',
  '#1f77b4',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
];

export function clusterColor(id: number): string {
  return PALETTE[id % PALETTE.length]!;
}

const base = (title: string, x: string, y: string): Record<string, unknown> => ({
  title: { text: title, font: { size: 14 } },
  xaxis: { title: { text: x }, zeroline: false },
  yaxis: { title: { text: y }, zeroline: false },
  margin: { l: 60, r: 20, t: 40, b: 50 },
  legend: { orientation: 'h', y: -0.2 },
});

export function elbowFigure(model: LoadedModel): Figure | null {
  const elbow = model.card.elbow as
    | {
        rows?: { k: number; inertia: number; silhouette: number }[];
        knee?: number | null;
        recommended?: number;
      }
    | undefined;
  const rows = elbow?.rows;
  if (!rows || rows.length === 0) return null;
  const k = model.detector.k;
  const layout = base('Elbow: inertia and silhouette by k', 'k (clusters)', 'inertia');
  layout.yaxis2 = { title: { text: 'silhouette' }, overlaying: 'y', side: 'right', range: [0, 1] };
  layout.shapes = [
    { type: 'line', x0: k, x1: k, yref: 'paper', y0: 0, y1: 1, line: { dash: 'dot', color: '#ff725c' } },
  ];
  layout.annotations = [
    {
      x: k,
      yref: 'paper',
      y: 1,
      text: `k = ${k}`,
      showarrow: false,
      yanchor: 'bottom',
      font: { color: '#ff725c' },
    },
  ];
  return {
    data: [
      {
        type: 'scatter',
        mode: 'lines+markers',
        name: 'inertia',
        x: rows.map((r) => r.k),
        y: rows.map((r) => r.inertia),
        line: { color: '#4269d0' },
      },
      {
        type: 'scatter',
        mode: 'lines+markers',
        name: 'silhouette',
        x: rows.map((r) => r.k),
        y: rows.map((r) => r.silhouette),
        yaxis: 'y2',
        line: { color: '#3ca951', dash: 'dash' },
      },
    ],
    layout,
  };
}

export function pcaFigure(
  model: LoadedModel,
  map: PcaMap,
  names: Record<string, string>,
  flow?: { x: number; y: number; anomalous: boolean },
): Figure {
  const data: Record<string, unknown>[] = [];
  if (map.points) {
    const byCluster = new Map<number, number[]>();
    map.points.cluster.forEach((c, i) => {
      if (!byCluster.has(c)) byCluster.set(c, []);
      byCluster.get(c)!.push(i);
    });
    for (const [c, idx] of [...byCluster.entries()].sort((a, b) => a[0] - b[0])) {
      data.push({
        type: 'scatter',
        mode: 'markers',
        name: names[String(c)] ? `${c}: ${names[String(c)]}` : `cluster ${c}`,
        x: idx.map((i) => map.points!.x[i]),
        y: idx.map((i) => map.points!.y[i]),
        marker: { size: 4, color: clusterColor(c), opacity: 0.45 },
        hoverinfo: 'name',
      });
    }
  }
  data.push({
    type: 'scatter',
    mode: 'markers+text',
    name: 'cluster centres',
    x: map.centres.x,
    y: map.centres.y,
    text: map.centres.x.map((_, i) => String(i)),
    textposition: 'top center',
    marker: { size: 11, symbol: 'x', color: '#1b1e23' },
  });
  if (flow) {
    data.push({
      type: 'scatter',
      mode: 'markers',
      name: 'this flow',
      x: [flow.x],
      y: [flow.y],
      marker: {
        size: 18,
        symbol: 'star',
        color: flow.anomalous ? '#d62728' : '#2ca02c',
        line: { width: 1.5, color: '#111' },
      },
    });
  }
  const ev = map.explained.map((v) => `${(100 * v).toFixed(0)}%`);
  const layout = base(
    map.points ? 'PCA map of training flows (model space)' : 'PCA map of the cluster centres',
    `PC1 (${ev[0] ?? '?'} of variance)`,
    `PC2 (${ev[1] ?? '?'})`,
  );
  layout.showlegend = data.length <= 20;
  void model;
  return { data, layout };
}

export function scoreFigure(model: LoadedModel, sample: TrainingSample | null): Figure {
  const thr = model.detector.threshold;
  const shapes = [
    { type: 'line', x0: thr, x1: thr, yref: 'paper', y0: 0, y1: 1, line: { color: '#d62728', dash: 'dash' } },
  ];
  const annotations = [
    {
      x: thr,
      yref: 'paper',
      y: 1,
      text: `threshold ${thr.toFixed(2)}`,
      showarrow: false,
      yanchor: 'bottom',
      font: { color: '#d62728' },
    },
  ];
  if (sample) {
    const clip = (v: number) => Math.min(v, thr * 4);
    const groups = new Map<string, number[]>();
    for (let i = 0; i < sample.scores.length; i++) {
      const g = sample.families ? (sample.families[i] === 'normal' ? 'normal' : 'attack') : 'all';
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g)!.push(clip(sample.scores[i]!));
    }
    const colors: Record<string, string> = { normal: '#4269d0', attack: '#ff725c', all: '#4269d0' };
    const layout = base(
      `Anomaly scores of ${sample.scores.length} sampled source rows (clipped at 4× threshold)`,
      'anomaly score (higher = more anomalous)',
      'rows',
    );
    layout.barmode = 'overlay';
    layout.shapes = shapes;
    layout.annotations = annotations;
    return {
      data: [...groups.entries()].map(([g, xs]) => ({
        type: 'histogram',
        name: g,
        x: xs,
        nbinsx: 60,
        opacity: 0.6,
        marker: { color: colors[g] },
      })),
      layout,
    };
  }
  const p = model.detector.training.scorePercentiles;
  const layout = base('Held-out normal scores by percentile', 'anomaly score', 'percentile');
  layout.shapes = shapes;
  layout.annotations = annotations;
  return {
    data: [{ type: 'scatter', mode: 'lines', name: 'held-out normal', x: p, y: p.map((_, i) => i) }],
    layout,
  };
}

export function contributionFigure(contribs: { field: string; share: number }[]): Figure {
  const top = contribs.slice(0, 10).reverse();
  const layout = base('What drove the distance to the cluster centre', 'share of squared distance', '');
  layout.margin = { l: 170, r: 20, t: 40, b: 50 };
  (layout.xaxis as Record<string, unknown>).tickformat = '.0%';
  return {
    data: [
      {
        type: 'bar',
        orientation: 'h',
        x: top.map((c) => c.share),
        y: top.map((c) => c.field),
        marker: { color: '#4269d0' },
        hovertemplate: '%{y}: %{x:.1%}<extra></extra>',
      },
    ],
    layout,
  };
}
