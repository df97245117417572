/**
 * One self-contained HTML report of a model: model card, elbow, traffic map (PCA), cluster
 * profiles with behaviour tags, feature importance and, when labels exist, the evaluation. Plotly
 * is embedded inline (no CDN, no network request of any kind); every data string is escaped (HTML
 * text through escapeHtml, figure JSON through jsonForScript).
 *
 * `renderReport` takes plain data (ReportInput), so the CLI, the web app or a notebook can
 * assemble it from whatever they have; `figureHtml` / `plotlyScriptTag` are the same pieces for
 * notebooks (tslab.display.html).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ElbowFigureInput, Figure, PcaFigureInput } from './figures.ts';
import {
  clusterSizeFigure,
  elbowFigure,
  importanceFigure,
  pcaFigure,
  prFigure,
  profileHeatmap,
  rocFigure,
  scoreHistogram,
  TAG_COLORS,
} from './figures.ts';

// ------------------------------------------------------------------------------- escaping

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escape text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** JSON safe inside a <script> element: no '<', '>', '&' or line separators left raw. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

// ------------------------------------------------------------------------------- plotly bundle

let bundleCache: Promise<string> | null = null;

/**
 * The plotly.js bundle from node_modules/plotly.js-dist as one script body: the package's
 * plotly.min.js when present, else plotly.js minified once per process with esbuild (tsx's own
 * dependency), else plotly.js as is.
 */
export function plotlyBundle(): Promise<string> {
  bundleCache ??= (async () => {
    const require = createRequire(import.meta.url);
    const dir = dirname(require.resolve('plotly.js-dist/package.json'));
    let code: string;
    try {
      code = await readFile(join(dir, 'plotly.min.js'), 'utf8');
    } catch {
      code = await readFile(join(dir, 'plotly.js'), 'utf8');
      try {
        const esbuild = (await import('esbuild')) as typeof import('esbuild');
        code = (await esbuild.transform(code, { minify: true, legalComments: 'none' })).code;
      } catch {
        // Unminified still works, only larger.
      }
    }
    // A literal "</script" would end the inline element early.
    return code.replace(/<\/script/gi, '<\\/script');
  })();
  return bundleCache;
}

/** `<script>` element defining window.Plotly (embed once per page / notebook). */
export async function plotlyScriptTag(): Promise<string> {
  return `<script>${await plotlyBundle()}</script>`;
}

let figureCounter = 0;

/**
 * A figure as HTML: a div plus a script that draws it once window.Plotly exists (it waits a
 * little for a plotly script embedded earlier on the page, e.g. in a notebook's first output).
 */
export function figureHtml(fig: Figure, opts: { id?: string; height?: number } = {}): string {
  const id = opts.id ?? `na-fig-${Date.now().toString(36)}-${(figureCounter++).toString(36)}`;
  const safeId = id.replace(/[^A-Za-z0-9_-]/g, '_');
  const h = opts.height ?? (typeof fig.layout.height === 'number' ? fig.layout.height : 420);
  const config = { responsive: true, displaylogo: false, ...(fig.config ?? {}) };
  return `<div id="${safeId}" class="na-figure" style="width:100%;min-height:${Math.round(h)}px"></div>
<script type="application/json" id="${safeId}-spec">${jsonForScript({ data: fig.data, layout: fig.layout, config })}</script>
<script>(function(){var tries=0;function draw(){if(window.Plotly){var s=JSON.parse(document.getElementById(${JSON.stringify(`${safeId}-spec`)}).textContent);window.Plotly.newPlot(${JSON.stringify(safeId)},s.data,s.layout,s.config);}else if(tries++<100){setTimeout(draw,50);}}draw();})();</script>`;
}

// ------------------------------------------------------------------------------- report data

export interface ReportCluster {
  id: number;
  size: number;
  share: number;
  tag?: string;
  confidence?: number;
  /** Human-readable evidence lines for the tag. */
  evidence?: string[];
  /** Analyst label (model card clusterNames). */
  name?: string;
  note?: string;
  /** The fields that distinguish the cluster, strongest first. */
  topFields?: { field: string; direction: 'higher' | 'lower' | string; effect: number; detail?: string }[];
  /** Dominant categorical values, e.g. "service=http (92 %)". */
  dominant?: string[];
  /** Evaluation only: rows per label family in this cluster. */
  labelCounts?: Record<string, number>;
  purity?: number;
}

export interface ReportInput {
  title?: string;
  generatedAt?: string;
  model: {
    dir?: string;
    sha256?: string;
    k: number;
    threshold: number;
    targetFpr?: number;
    kChoice?: string;
    createdAt?: string;
    source?: string;
    format?: string;
    trainOn?: string;
    trainRows?: number;
    features?: number;
    fields?: number;
    ensembleRuns?: number;
  };
  /** Data the report's figures were computed on. */
  data?: { source: string; rows: number; sampled?: number };
  elbow?: ElbowFigureInput & { rationale?: string };
  pca?: PcaFigureInput;
  profiles?: {
    clusters: ReportCluster[];
    heatmap?: { fields: string[]; effects: number[][] };
  };
  importance?: {
    separation?: { field: string; value: number }[];
    score?: { field: string; value: number }[];
  };
  scores?: { scores: ArrayLike<number>; threshold: number; groups?: string[] };
  evaluation?: {
    /** 1 = attack. */
    y: ArrayLike<number>;
    score: ArrayLike<number>;
    metrics: Record<string, number | string>;
    recallByFamily?: Record<string, { n: number; detected: number; recall: number }>;
  };
  notes?: string[];
}

// ------------------------------------------------------------------------------- rendering

const CSS = `
:root{--fg:#111827;--muted:#4b5563;--line:#e5e7eb;--bg:#f3f4f6;--card:#fff;--accent:#1d4ed8}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#0f172a;color:#f8fafc;padding:18px 28px}
header h1{margin:0;font-size:22px;font-weight:600}
header .sub{color:#cbd5e1;font-size:13px;margin-top:4px}
nav{position:sticky;top:0;z-index:5;background:#1e293b;padding:6px 28px;display:flex;gap:18px;flex-wrap:wrap}
nav a{color:#e2e8f0;text-decoration:none;font-size:13px}
nav a:hover{text-decoration:underline}
main{max-width:1280px;margin:0 auto;padding:18px 24px 48px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin:16px 0}
section h2{margin:0 0 8px;font-size:18px}
p.lead{color:var(--muted);margin:4px 0 12px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:10px;margin:8px 0}
.kpi{border:1px solid var(--line);border-radius:6px;padding:8px 12px;background:#f9fafb}
.kpi .v{font-size:20px;font-weight:600}
.kpi .l{color:var(--muted);font-size:12px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#f9fafb;font-weight:600;position:sticky;top:34px}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.tag{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600;white-space:nowrap}
.conf{color:var(--muted);font-size:12px}
ul.ev{margin:2px 0;padding-left:16px;color:var(--muted);font-size:12px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:12px}
@media (max-width:900px){.grid2{grid-template-columns:1fr}}
dl.card{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:0}
dl.card dt{color:var(--muted)}
dl.card dd{margin:0;word-break:break-all}
.note{color:var(--muted);font-size:12px}
code{background:#f3f4f6;padding:0 4px;border-radius:3px}
`;

function fmt(v: number | undefined, digits = 3): string {
  if (v === undefined || !Number.isFinite(v)) return 'n/a';
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  if (a >= 1e5 || (a > 0 && a < 1e-3)) return v.toExponential(2);
  return v.toFixed(digits);
}

function pct(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? 'n/a' : `${(v * 100).toFixed(1)} %`;
}

function tagBadge(tag: string | undefined): string {
  if (!tag) return '';
  const color = TAG_COLORS[tag] ?? '#6b7280';
  return `<span class="tag" style="background:${escapeHtml(color)}">${escapeHtml(tag)}</span>`;
}

function kpi(label: string, value: string): string {
  return `<div class="kpi"><div class="v">${escapeHtml(value)}</div><div class="l">${escapeHtml(label)}</div></div>`;
}

function section(id: string, title: string, lead: string, body: string): string {
  return `<section id="${escapeHtml(id)}"><h2>${escapeHtml(title)}</h2>${lead ? `<p class="lead">${escapeHtml(lead)}</p>` : ''}${body}</section>`;
}

function profilesTable(clusters: ReportCluster[], withLabels: boolean): string {
  const rows = [...clusters]
    .sort((a, b) => b.size - a.size)
    .map((c) => {
      const fields = (c.topFields ?? [])
        .slice(0, 4)
        .map(
          (f) =>
            `${escapeHtml(f.field)} <span class="conf">${escapeHtml(f.direction)} (${escapeHtml(fmt(f.effect, 2))})</span>${f.detail ? ` <span class="conf">${escapeHtml(f.detail)}</span>` : ''}`,
        )
        .join('<br>');
      const ev = (c.evidence ?? [])
        .slice(0, 4)
        .map((e) => `<li>${escapeHtml(e)}</li>`)
        .join('');
      const dominant = (c.dominant ?? []).slice(0, 3).map(escapeHtml).join('<br>');
      const labels = withLabels
        ? `<td>${Object.entries(c.labelCounts ?? {})
            .sort((a, b) => b[1] - a[1])
            .slice(0, 4)
            .map(([f, n]) => `${escapeHtml(f)}: ${escapeHtml(n.toLocaleString('en-US'))}`)
            .join(
              '<br>',
            )}${c.purity !== undefined ? `<br><span class="conf">purity ${escapeHtml(pct(c.purity))}</span>` : ''}</td>`
        : '';
      const name = c.name
        ? `<div><b>${escapeHtml(c.name)}</b></div>${c.note ? `<div class="conf">${escapeHtml(c.note)}</div>` : ''}`
        : '';
      return `<tr><td class="num">${escapeHtml(c.id)}</td><td>${name}${tagBadge(c.tag)}${c.confidence !== undefined ? ` <span class="conf">conf. ${escapeHtml(fmt(c.confidence, 2))}</span>` : ''}${ev ? `<ul class="ev">${ev}</ul>` : ''}</td><td class="num">${escapeHtml(c.size.toLocaleString('en-US'))}<br><span class="conf">${escapeHtml(pct(c.share))}</span></td><td>${fields}</td><td>${dominant}</td>${labels}</tr>`;
    })
    .join('\n');
  return `<table><thead><tr><th class="num">cluster</th><th>behaviour tag &amp; evidence</th><th class="num">flows</th><th>distinguishing fields (effect size)</th><th>dominant values</th>${withLabels ? '<th>labels (evaluation only)</th>' : ''}</tr></thead><tbody>${rows}</tbody></table>`;
}

/** The report as one HTML string. */
export async function renderReport(input: ReportInput): Promise<string> {
  const m = input.model;
  const parts: string[] = [];
  const navs: [string, string][] = [['model', 'Model']];

  const kpis = [
    kpi('clusters (k)', String(m.k)),
    kpi('alert threshold', fmt(m.threshold)),
    m.targetFpr !== undefined ? kpi('target false-positive rate', pct(m.targetFpr)) : '',
    m.trainRows !== undefined ? kpi('training rows', fmt(m.trainRows)) : '',
    input.data ? kpi('rows in this report', fmt(input.data.rows)) : '',
  ].join('');
  const cardRows: [string, string | undefined][] = [
    ['model', m.dir],
    ['sha256 (model.json)', m.sha256],
    ['created', m.createdAt],
    [
      'training data',
      m.source ? `${m.source} (${m.format ?? '?'}, trained on ${m.trainOn ?? '?'} rows)` : undefined,
    ],
    ['how k was chosen', m.kChoice],
    [
      'features',
      m.features !== undefined ? `${m.features} model columns from ${m.fields ?? '?'} fields` : undefined,
    ],
    ['score ensemble', m.ensembleRuns !== undefined ? `${m.ensembleRuns} K-Means run(s)` : undefined],
    [
      'report data',
      input.data
        ? `${input.data.source} (${fmt(input.data.rows)} rows${input.data.sampled ? `, maps sampled to ${fmt(input.data.sampled)}` : ''})`
        : undefined,
    ],
  ];
  const card = `<dl class="card">${cardRows
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`)
    .join('')}</dl>`;
  parts.push(
    section(
      'model',
      'Model card',
      'What the model is, what it was trained on, and how its alert threshold was set. Anomaly scores are higher for more unusual flows; flows above the threshold are alerts.',
      `<div class="kpis">${kpis}</div>${card}${(input.notes ?? []).map((n) => `<p class="note">${escapeHtml(n)}</p>`).join('')}`,
    ),
  );

  if (input.elbow && input.elbow.rows.length > 0) {
    navs.push(['elbow', 'Choosing k']);
    parts.push(
      section(
        'elbow',
        'Choosing k',
        input.elbow.rationale ??
          'Inertia against k with the knee found automatically, and three cluster-quality metrics.',
        figureHtml(elbowFigure(input.elbow), { id: 'fig-elbow' }),
      ),
    );
  }

  if (input.pca) {
    navs.push(['map', 'Traffic map']);
    parts.push(
      section(
        'map',
        'Traffic map',
        'Each dot is a flow, placed by the first two principal components of the features the model clusters; crosses are the cluster centres. Nearby dots look alike to the model.',
        figureHtml(pcaFigure(input.pca), { id: 'fig-pca' }),
      ),
    );
  }

  if (input.profiles && input.profiles.clusters.length > 0) {
    navs.push(['profiles', 'Cluster profiles']);
    const withLabels = input.profiles.clusters.some((c) => c.labelCounts !== undefined);
    const hm = input.profiles.heatmap;
    const heat = hm
      ? figureHtml(
          profileHeatmap({
            clusters: input.profiles.clusters.map((c) => ({
              id: c.id,
              share: c.share,
              tag: c.tag,
              name: c.name ? `${c.name} (${c.tag ?? ''})` : c.tag,
            })),
            fields: hm.fields,
            effects: hm.effects,
          }),
          { id: 'fig-profiles' },
        )
      : '';
    parts.push(
      section(
        'profiles',
        'Cluster profiles and behaviour tags',
        'What kind of traffic each cluster holds. Tags come from transparent rules over interpretable features (connection counts, error rates, same-service rates, bytes, durations), never from labels; the evidence shows which rules fired.',
        `${figureHtml(clusterSizeFigure(input.profiles.clusters), { id: 'fig-sizes' })}${heat}${profilesTable(input.profiles.clusters, withLabels)}`,
      ),
    );
  }

  if (input.importance && (input.importance.separation || input.importance.score)) {
    navs.push(['importance', 'Feature importance']);
    const figs: string[] = [];
    if (input.importance.separation)
      figs.push(
        figureHtml(
          importanceFigure({
            values: input.importance.separation,
            title: 'What separates the clusters',
            xTitle: 'between / within cluster variance',
          }),
          { id: 'fig-imp-sep' },
        ),
      );
    if (input.importance.score)
      figs.push(
        figureHtml(
          importanceFigure({
            values: input.importance.score,
            title: 'What drives the anomaly score',
            xTitle: 'permutation importance',
          }),
          { id: 'fig-imp-score' },
        ),
      );
    parts.push(
      section(
        'importance',
        'Feature importance',
        'Per original field (one-hot columns grouped back to their field), on the scaled data the model sees.',
        `<div class="grid2">${figs.join('')}</div>`,
      ),
    );
  }

  if (input.scores) {
    navs.push(['scores', 'Scores']);
    parts.push(
      section(
        'scores',
        'Score distribution',
        'How the anomaly scores of the report data spread around the alert threshold.',
        figureHtml(scoreHistogram(input.scores), { id: 'fig-scores' }),
      ),
    );
  }

  if (input.evaluation) {
    navs.push(['evaluation', 'Evaluation']);
    const ev = input.evaluation;
    const metrics = Object.entries(ev.metrics)
      .map(([k, v]) =>
        kpi(k, typeof v === 'number' ? (k.includes('rate') || k === 'fpr' ? pct(v) : fmt(v)) : v),
      )
      .join('');
    const fam = ev.recallByFamily
      ? `<table><thead><tr><th>family</th><th class="num">flows</th><th class="num">flagged</th><th class="num">share flagged</th></tr></thead><tbody>${Object.entries(
          ev.recallByFamily,
        )
          .map(
            ([f, g]) =>
              `<tr><td>${tagBadge(f)}</td><td class="num">${escapeHtml(fmt(g.n))}</td><td class="num">${escapeHtml(fmt(g.detected))}</td><td class="num">${escapeHtml(pct(g.recall))}</td></tr>`,
          )
          .join('')}</tbody></table>`
      : '';
    const curves = [{ name: 'model', y: ev.y, score: ev.score }];
    parts.push(
      section(
        'evaluation',
        'Evaluation against labels',
        'Labels are used here only to measure the detector; they never enter the model or the tags.',
        `<div class="kpis">${metrics}</div><div class="grid2">${figureHtml(rocFigure(curves), { id: 'fig-roc' })}${figureHtml(prFigure(curves), { id: 'fig-pr' })}</div>${fam}`,
      ),
    );
  }

  const title = input.title ?? 'netanomaly model report';
  const generated = input.generatedAt ?? new Date().toISOString();
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:; worker-src blob:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
${await plotlyScriptTag()}
</head><body>
<header><h1>${escapeHtml(title)}</h1><div class="sub">generated ${escapeHtml(generated)} · k=${escapeHtml(m.k)} · threshold ${escapeHtml(fmt(m.threshold))}${m.dir ? ` · ${escapeHtml(m.dir)}` : ''}</div></header>
<nav>${navs.map(([id, label]) => `<a href="#${escapeHtml(id)}">${escapeHtml(label)}</a>`).join('')}</nav>
<main>
${parts.join('\n')}
<p class="note">Self-contained report: no external resources are loaded. Figures are interactive (hover, zoom, click legend entries to hide groups).</p>
</main></body></html>
`;
}
