/**
 * Assembles a ReportInput from a loaded model and (optionally) data: scores, profiles with tags
 * (src/explain/profiles.ts), a clusters × fields effect-size matrix for the heat map, cluster
 * separation per field, a PCA map and, with labels, the evaluation.
 */
import { profileFromAssignment, toFamily } from '../explain/profiles.ts';
import type { Matrix, Table } from '../ingest/table.ts';
import type { LoadedModel } from '../model/bundle.ts';
import type { AnomalyDetector } from '../model/detector.ts';
import { averagePrecision, detectionRateAtFpr, rocAuc } from '../model/metrics.ts';
import { fitPca2D, sampleIndices } from './pca.ts';
import type { ReportCluster, ReportInput } from './report.ts';

export interface FieldEffects {
  fields: string[];
  /** clusters × fields: signed standardised mean difference (largest |effect| column of the field). */
  effects: number[][];
  /** Per field: between-cluster / within-cluster variance on the scaled columns. */
  separation: { field: string; value: number }[];
}

/** Effect sizes per cluster and field, and cluster separation per field, on the model's matrix. */
export function fieldEffects(detector: AnomalyDetector, X: Matrix, assignment: Int32Array): FieldEffects {
  const k = detector.k;
  const pre = detector.preprocessor;
  const fieldOf = pre.outputField();
  const specs = pre.fieldSpecs();
  const d = X.cols;
  const n = X.rows;
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  const cMean = new Float64Array(k * d);
  const counts = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const c = assignment[i]!;
    counts[c]!++;
    for (let j = 0; j < d; j++) {
      const v = X.data[i * d + j]!;
      mean[j]! += v;
      sq[j]! += v * v;
      cMean[c * d + j]! += v;
    }
  }
  for (let j = 0; j < d; j++) mean[j]! /= Math.max(1, n);
  const std = new Float64Array(d);
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(Math.max(0, sq[j]! / Math.max(1, n) - mean[j]! ** 2));
  for (let c = 0; c < k; c++) for (let j = 0; j < d; j++) cMean[c * d + j]! /= Math.max(1, counts[c]!);
  // Between-cluster sum of squares per column; total = n·var; within = total − between.
  const between = new Float64Array(d);
  for (let c = 0; c < k; c++)
    for (let j = 0; j < d; j++) between[j]! += counts[c]! * (cMean[c * d + j]! - mean[j]!) ** 2;
  const fields = specs.map((f) => f.name);
  const effects: number[][] = [];
  for (let c = 0; c < k; c++) {
    const row = new Array<number>(fields.length).fill(0);
    for (let j = 0; j < d; j++) {
      const e = std[j]! > 1e-12 ? (cMean[c * d + j]! - mean[j]!) / std[j]! : 0;
      const f = fieldOf[j]!;
      if (Math.abs(e) > Math.abs(row[f]!)) row[f] = counts[c]! > 0 ? e : 0;
    }
    effects.push(row);
  }
  const sepB = new Float64Array(fields.length);
  const sepT = new Float64Array(fields.length);
  for (let j = 0; j < d; j++) {
    sepB[fieldOf[j]!]! += between[j]!;
    sepT[fieldOf[j]!]! += n * std[j]! ** 2;
  }
  const separation = fields.map((field, f) => {
    const within = sepT[f]! - sepB[f]!;
    return { field, value: within > 1e-12 ? sepB[f]! / within : sepB[f]! > 0 ? 1e6 : 0 };
  });
  return { fields, effects, separation };
}

export interface BuildReportOptions {
  /** Data to describe (profiles, map, scores); without it the report has the card and elbow only. */
  data?: { table: Table; source: string; labels?: readonly string[] | null };
  /** Flows drawn on the map at most (default 5000). */
  maxPoints?: number;
  seed?: number;
}

/** Everything the report shows, computed from a model bundle and optional data. */
export async function buildReportInput(
  model: LoadedModel,
  opts: BuildReportOptions = {},
): Promise<ReportInput> {
  const det = model.detector;
  const card = model.card;
  const pre = det.preprocessor;
  const input: ReportInput = {
    model: {
      dir: model.dir,
      sha256: model.sha256,
      k: det.k,
      threshold: det.threshold,
      targetFpr: det.options.targetFpr,
      kChoice: card.kChoice,
      createdAt: card.createdAt,
      source: card.data?.source,
      format: card.data?.format,
      trainOn: card.data?.trainOn,
      trainRows: card.data?.rows,
      features: pre.nOutputs,
      fields: pre.fieldSpecs().length,
      ensembleRuns: det.ensembleSize,
    },
    notes: [],
  };
  const elbow = card.elbow as
    | { rows?: { k: number; inertia: number }[]; knee?: number | null; rationale?: string }
    | undefined;
  if (elbow?.rows && elbow.rows.length > 0) {
    input.elbow = { rows: elbow.rows, knee: elbow.knee ?? null, chosenK: det.k, rationale: elbow.rationale };
  } else {
    input.notes!.push(`No elbow sweep is stored in this model (k was ${card.kChoice || 'set by the user'}).`);
  }
  const data = opts.data;
  if (!data || data.table.nRows === 0) return input;

  const { X } = pre.transform(data.table);
  const scored = await det.scoreMatrix(X);
  const assignment = scored.cluster;
  const maxPoints = opts.maxPoints ?? 5000;
  input.data = {
    source: data.source,
    rows: data.table.nRows,
    sampled: data.table.nRows > maxPoints ? maxPoints : undefined,
  };
  const families = data.labels ? data.labels.map(toFamily) : null;

  // Profiles with behaviour tags (labels only for label_counts).
  const profiles = profileFromAssignment(det, data.table, X, assignment, {
    labels: families,
    clusterNames: card.clusterNames,
  });
  const fx = fieldEffects(det, X, assignment);
  const clusters: ReportCluster[] = profiles.map((p) => ({
    id: p.id,
    size: p.size,
    share: p.share,
    tag: p.tag,
    confidence: p.confidence,
    evidence: p.evidence.map(
      (e) =>
        `${e.rule}: ${e.conditions
          .filter((c) => c.ok)
          .map((c) => `${c.stat}=${fmtNum(c.value)} ${c.op} ${fmtNum(c.threshold)}`)
          .join(', ')}`,
    ),
    name: p.name,
    note: p.note,
    topFields: p.distinguishing.slice(0, 5).map((f) => ({
      field: f.column === f.field ? f.field : f.column,
      direction: f.direction === 'up' ? 'higher' : 'lower',
      effect: f.effect,
      detail:
        p.centroid[f.field] !== undefined && Number.isFinite(p.centroid[f.field]!)
          ? `mean ${fmtNum(p.centroid[f.field]!)}`
          : undefined,
    })),
    dominant: Object.entries(p.dominant).flatMap(([field, vals]) =>
      vals[0] ? [`${field}=${vals[0].value} (${(vals[0].share * 100).toFixed(0)} %)`] : [],
    ),
    labelCounts: p.label_counts,
    purity: p.purity,
  }));
  // Keep the heat map readable: the fields that matter most across clusters.
  const order = fx.fields
    .map((f, j) => ({ f, j, w: Math.max(...fx.effects.map((r) => Math.abs(r[j]!))) }))
    .sort((a, b) => b.w - a.w)
    .slice(0, 24);
  input.profiles = {
    clusters,
    heatmap: { fields: order.map((o) => o.f), effects: fx.effects.map((r) => order.map((o) => r[o.j]!)) },
  };
  input.importance = { separation: fx.separation };

  // Map: PCA fitted on a sample of the matrix; only sampled flows are projected.
  if (X.cols >= 2 && X.rows >= 3) {
    const pca = fitPca2D(X, { sampleSize: maxPoints, seed: opts.seed ?? 0 });
    const idx = sampleIndices(X.rows, maxPoints, opts.seed ?? 0);
    const sub: Matrix = {
      data: new Float32Array(idx.length * X.cols),
      rows: idx.length,
      cols: X.cols,
    };
    for (const [i, r] of idx.entries())
      sub.data.set(X.data.subarray(r * X.cols, (r + 1) * X.cols), i * X.cols);
    const flows = pca.project(sub);
    const cent = pca.project(det.primary.clusterCenters);
    const names = Array.from({ length: det.k }, (_, c) => {
      const p = profiles.find((q) => q.id === c);
      return p?.name ?? p?.tag ?? '';
    });
    input.pca = {
      flows,
      cluster: Array.from(idx, (i) => assignment[i]!),
      score: Array.from(idx, (i) => scored.anomalyScore[i]!),
      label: families ? Array.from(idx, (i) => families[i]!) : undefined,
      centroids: { ...cent, id: names.map((_, c) => c), name: names },
      colorBy: 'cluster',
      explained: pca.explained,
      threshold: det.threshold,
      maxPoints,
    };
  }

  input.scores = {
    scores: scored.anomalyScore,
    threshold: det.threshold,
    groups: families ? families.map((f) => (f === 'normal' ? 'normal' : 'attack')) : undefined,
  };
  if (families?.some((f) => f === 'normal') && families.some((f) => f !== 'normal')) {
    const y = families.map((f) => (f === 'normal' ? 0 : 1));
    let tp = 0;
    let fp = 0;
    let pos = 0;
    const byFamily: Record<string, { n: number; detected: number; recall: number }> = {};
    for (let i = 0; i < y.length; i++) {
      const flagged = scored.anomalyScore[i]! > det.threshold;
      if (y[i]) {
        pos++;
        if (flagged) tp++;
      } else if (flagged) fp++;
      const fam = families[i]!;
      byFamily[fam] ??= { n: 0, detected: 0, recall: 0 };
      const g = byFamily[fam];
      g.n++;
      if (flagged) g.detected++;
    }
    for (const g of Object.values(byFamily)) g.recall = g.detected / g.n;
    const neg = y.length - pos;
    input.evaluation = {
      y,
      score: scored.anomalyScore,
      metrics: {
        'ROC-AUC': rocAuc(y, scored.anomalyScore),
        'PR-AUC (average precision)': averagePrecision(y, scored.anomalyScore),
        'detection rate at 1 % FPR': detectionRateAtFpr(y, scored.anomalyScore, 0.01),
        'detection rate at the threshold': tp / Math.max(1, pos),
        'false-positive rate at the threshold': fp / Math.max(1, neg),
      },
      recallByFamily: byFamily,
    };
  }
  return input;
}

function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-2 ? v.toExponential(2) : v.toFixed(2);
}
