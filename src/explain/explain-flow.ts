/**
 * Per-flow explanations of a K-Means verdict.
 *
 * The anomaly score may average several K-Means runs (an ensemble); what is decomposed here is
 * the squared distance of the row to its assigned centre in the PRIMARY run (the clusters users
 * see), in the model's scaled space: Σ_j (x_j − c_j)², with the columns of each original field
 * summed (one-hot columns grouped back to their field). The contributions add up to
 * `squared_distance` exactly (same float64 sum); the output says so in `decomposes`.
 *
 * Typical values are in original units: for numeric fields the centre coordinate mapped back
 * through the preprocessor's inverse transform (unscale, then undo log1p), for categorical
 * fields the category with the largest share in the centre.
 *
 * The counterfactual is the nearest cluster whose profile is tagged `normal` (this may be the
 * row's own cluster: then the row is an outlier of normal-looking traffic and the changes say
 * what pulls it away from that centre); if no cluster is tagged normal, the nearest other
 * cluster. Its `changes` are the fields that contribute most to the squared distance to it.
 *
 * With a per-field rarity part (model/field-tail.ts), `rare_field` names the row's rarest field,
 * its value, its tail probability and whether the rarity (not the distance) set the score.
 */
import { InputError } from '../errors.ts';
import { inverseValue, UNKNOWN } from '../features/preprocessor.ts';
import { type Table, takeRows } from '../ingest/table.ts';
import type { AnomalyDetector } from '../model/detector.ts';
import { type ClusterProfile, profileClusters } from './profiles.ts';
import type { BehaviourTag } from './tags.ts';

export interface FieldComparison {
  field: string;
  /** This field's part of the squared distance. */
  contribution: number;
  /** contribution / total squared distance. */
  share: number;
  /** The row's value in original units (number, or the category). */
  value: number | string;
  /** The cluster's typical value in original units. */
  typical: number | string;
  direction: 'higher' | 'lower' | 'same' | 'different';
}

export interface Counterfactual {
  cluster: number;
  name?: string;
  tag: BehaviourTag;
  basis:
    | 'assigned cluster (already normal-tagged)'
    | 'nearest normal-tagged cluster'
    | 'nearest other cluster (no cluster is tagged normal)';
  /** Squared distance from the row to that cluster's centre (model space). */
  squared_distance: number;
  /** Fields that would have to change most: their part of that distance, value → target. */
  changes: { field: string; contribution: number; value: number | string; target: number | string }[];
}

export interface FlowExplanation {
  row: number;
  cluster: number;
  cluster_name?: string;
  cluster_tag?: BehaviourTag;
  anomaly_score: number;
  is_anomaly: boolean;
  /** 0-100: share of calibration (leave-one-out or held-out) training scores below this row's. */
  risk: number;
  /** Squared distance to the assigned centre of the primary run (model space). */
  squared_distance: number;
  decomposes: 'primary-run squared distance';
  /** Original field → its part of squared_distance (sums to it). */
  contributions: Record<string, number>;
  top_fields: FieldComparison[];
  counterfactual: Counterfactual | null;
  /** The rarest field by the field-tail part (models with one), when any field is rare. */
  rare_field?: {
    field: string;
    value: number | string;
    /** Bonferroni-corrected tail probability of the row's rarest field among benign training rows. */
    tail_p: number;
    /** Whether this rarity (rather than the K-Means distance) set the anomaly score. */
    drives_score: boolean;
  };
}

export interface ExplainOptions {
  /** Cluster profiles for tags and names (default: profileClusters(detector, table)). */
  profiles?: readonly ClusterProfile[];
  /** How many top fields and counterfactual changes to list (default 5). */
  topFields?: number;
}

/** Explain rows `rows` (indices into `table`). */
export async function explainRows(
  detector: AnomalyDetector,
  table: Table,
  rows: readonly number[],
  opts: ExplainOptions = {},
): Promise<FlowExplanation[]> {
  for (const r of rows) {
    if (!Number.isInteger(r) || r < 0 || r >= table.nRows) {
      throw new InputError(
        `row ${r} is out of range: the input has ${table.nRows} rows (0..${table.nRows - 1})`,
      );
    }
  }
  const profiles = opts.profiles ?? (await profileClusters(detector, table));
  const top = opts.topFields ?? 5;
  const pre = detector.preprocessor;
  const fields = pre.fieldSpecs();
  const outField = pre.outputField();
  const state = pre.toState();
  const sub = takeRows(table, rows);
  const { X } = pre.transform(sub);
  const scored = await detector.scoreMatrix(X);
  const C = detector.primary.clusterCenters;
  const d = X.cols;
  const k = C.rows;

  /** Per field: Σ over its columns of (x − c)² for the row and centre c. */
  const perField = (i: number, c: number): Float64Array => {
    const out = new Float64Array(fields.length);
    for (let j = 0; j < d; j++) {
      const diff = X.data[i * d + j]! - C.data[c * d + j]!;
      out[outField[j]!]! += diff * diff;
    }
    return out;
  };
  const sum = (a: Float64Array) => a.reduce((t, v) => t + v, 0);

  // Typical value of each field at each centre, in original units.
  const fieldCols: number[][] = fields.map(() => []);
  for (let j = 0; j < d; j++) fieldCols[outField[j]!]!.push(j);
  let oneHotIndex = 0;
  const oneHotStart: number[] = fields.map((f) => {
    const s = oneHotIndex;
    if (f.kind === 'categorical') oneHotIndex += state.vocabularies[f.name]!.length + 1;
    return s;
  });
  const typical = (c: number, fi: number): number | string => {
    const f = fields[fi]!;
    const cols = fieldCols[fi]!;
    if (f.kind === 'numeric') {
      const t = C.data[c * d + cols[0]!]!;
      const g = (t * state.scales[f.name]!) / f.weight + state.means[f.name]!;
      return roundValue(inverseValue(f, g));
    }
    const vocab = [...state.vocabularies[f.name]!, UNKNOWN];
    let best = 0;
    let bestP = -Infinity;
    cols.forEach((j, q) => {
      let p = C.data[c * d + j]! / f.weight;
      if (state.options.scaleOneHot) {
        p = p * state.oneHotScales[oneHotStart[fi]! + q]! + state.oneHotMeans[oneHotStart[fi]! + q]!;
      }
      if (p > bestP) {
        bestP = p;
        best = q;
      }
    });
    return vocab[best]!;
  };
  const rowValue = (row: number, fi: number): number | string => {
    const f = fields[fi]!;
    return f.kind === 'numeric' ? table.numeric[f.name]![row]! : table.text[f.name]![row]!;
  };
  const compare = (v: number | string, t: number | string): FieldComparison['direction'] => {
    if (typeof v === 'string' || typeof t === 'string') return v === t ? 'same' : 'different';
    return v > t ? 'higher' : v < t ? 'lower' : 'same';
  };
  const byId = new Map(profiles.map((p) => [p.id, p]));
  const fieldIndex = new Map(fields.map((f, fi) => [f.name, fi]));

  return rows.map((row, i) => {
    const cluster = scored.cluster[i]!;
    const parts = perField(i, cluster);
    const total = sum(parts);
    const contributions: Record<string, number> = {};
    fields.forEach((f, fi) => {
      contributions[f.name] = parts[fi]!;
    });
    const order = [...parts.keys()].sort((a, b) => parts[b]! - parts[a]!);
    const top_fields: FieldComparison[] = order.slice(0, top).map((fi) => {
      const value = rowValue(row, fi);
      const t = typical(cluster, fi);
      return {
        field: fields[fi]!.name,
        contribution: parts[fi]!,
        share: total > 0 ? parts[fi]! / total : 0,
        value,
        typical: t,
        direction: compare(value, t),
      };
    });

    // Counterfactual: nearest normal-tagged cluster, else nearest other cluster.
    const dists = Array.from({ length: k }, (_, c) => sum(perField(i, c)));
    const normal = [...Array(k).keys()].filter((c) => byId.get(c)?.tag === 'normal');
    const candidates = normal.length > 0 ? normal : [...Array(k).keys()].filter((c) => c !== cluster);
    let counterfactual: Counterfactual | null = null;
    if (candidates.length > 0) {
      const target = candidates.reduce((a, b) => (dists[b]! < dists[a]! ? b : a));
      const tParts = perField(i, target);
      const tOrder = [...tParts.keys()].sort((a, b) => tParts[b]! - tParts[a]!);
      const prof = byId.get(target);
      counterfactual = {
        cluster: target,
        ...(prof?.name ? { name: prof.name } : {}),
        tag: prof?.tag ?? 'unknown',
        basis:
          normal.length === 0
            ? 'nearest other cluster (no cluster is tagged normal)'
            : target === cluster
              ? 'assigned cluster (already normal-tagged)'
              : 'nearest normal-tagged cluster',
        squared_distance: dists[target]!,
        changes: tOrder
          .slice(0, top)
          .filter((fi) => tParts[fi]! > 0)
          .map((fi) => ({
            field: fields[fi]!.name,
            contribution: tParts[fi]!,
            value: rowValue(row, fi),
            target: typical(target, fi),
          })),
      };
    }
    const prof = byId.get(cluster);
    const score = scored.anomalyScore[i]!;
    const rare = scored.rarity;
    const rareIndex = rare && rare.field[i]! >= 0 ? fieldIndex.get(rare.fields[rare.field[i]!]!) : undefined;
    return {
      row,
      cluster,
      ...(prof?.name ? { cluster_name: prof.name } : {}),
      ...(prof ? { cluster_tag: prof.tag } : {}),
      anomaly_score: score,
      is_anomaly: score > detector.threshold,
      risk: detector.riskScore(score),
      squared_distance: total,
      decomposes: 'primary-run squared distance',
      contributions,
      top_fields,
      counterfactual,
      ...(rare && rareIndex !== undefined
        ? {
            rare_field: {
              field: fields[rareIndex]!.name,
              value: rowValue(row, rareIndex),
              tail_p: rare.p[i]!,
              drives_score: rare.drives[i] === 1,
            },
          }
        : {}),
    };
  });
}

function roundValue(v: number): number {
  return Math.abs(v) >= 1e6 ? Math.round(v) : Number(v.toPrecision(6));
}
