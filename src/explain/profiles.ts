/**
 * Cluster profiles: what each cluster of the detector's primary K-Means run looks like, in the
 * units an analyst knows, and which behaviour it most resembles.
 *
 * Per cluster: size and share of the profiled rows; the centroid in ORIGINAL units (numeric
 * fields: mean — and median — of the cluster's rows read from the table itself, not the inverse
 * transform; categorical fields: dominant values with their shares); the distinguishing fields
 * (effect size = (cluster mean − overall mean) / overall std of each scaled model column, one-hot
 * columns grouped back to their field by keeping the column with the largest |effect|); a
 * behaviour tag with evidence and confidence from the transparent rules of `tags.ts`; the
 * analyst's name from the model card. With labels (evaluation only — they never reach the tag
 * rules): counts by attack family, purity and majority family.
 */
import { InputError } from '../errors.ts';
import { attackFamily } from '../ingest/kdd.ts';
import type { Matrix, Table } from '../ingest/table.ts';
import type { AnomalyDetector } from '../model/detector.ts';
import { type BehaviourTag, type ClusterStats, type RuleEvidence, tagCluster } from './tags.ts';

export interface CategoryShare {
  value: string;
  share: number;
}

export interface DistinguishingField {
  /** Original field. */
  field: string;
  /** The model column behind the effect (the field itself, or e.g. `flag=S0` for one-hot). */
  column: string;
  /** (cluster mean − overall mean) / overall std of that column in the model's scaled space. */
  effect: number;
  direction: 'up' | 'down';
}

export interface ClusterProfile {
  id: number;
  /** Analyst's name from card.clusterNames, if any. */
  name?: string;
  note?: string;
  /** Rows of the profiled table in this cluster. */
  size: number;
  share: number;
  /** Numeric field → mean of the cluster's rows in original units (NaN if the cluster is empty). */
  centroid: Record<string, number>;
  /** Numeric field → median of the cluster's rows in original units. */
  median: Record<string, number>;
  /** Categorical field → its dominant values (up to 3) with their shares in the cluster. */
  dominant: Record<string, CategoryShare[]>;
  /** Fields that set this cluster apart, largest |effect| first. */
  distinguishing: DistinguishingField[];
  tag: BehaviourTag;
  /** The rules that fired, with the values (see tags.ts). */
  evidence: RuleEvidence[];
  confidence: number;
  /** With labels: rows per attack family (normal, dos, probe, r2l, u2r, unknown). */
  label_counts?: Record<string, number>;
  /** With labels: share of the majority family. */
  purity?: number;
  /** With labels: the majority family. */
  majority?: string;
  /** With labels: the five most frequent raw labels, when raw labels were given. */
  top_labels?: Record<string, number>;
}

export interface ProfileOptions {
  /** Per row of `table`: attack families or raw labels. Evaluation only; never used for tags. */
  labels?: readonly string[] | null;
  /** Analyst names per cluster id (card.clusterNames). */
  clusterNames?: Record<string, { name: string; note?: string }>;
  /** How many distinguishing fields to keep per cluster (default 8). */
  topFields?: number;
  /** Precomputed primary-run cluster of each row (skips the assignment). */
  assignment?: Int32Array;
}

export const FAMILIES = ['normal', 'dos', 'probe', 'r2l', 'u2r', 'unknown'] as const;

/** The behaviour tag each attack family should get (the "must show" agreement). */
export const FAMILY_TAG: Readonly<Record<string, BehaviourTag>> = {
  normal: 'normal',
  dos: 'dos/flood',
  probe: 'probe/scan',
  r2l: 'brute-force/access',
  u2r: 'brute-force/access',
};

/** A family for a label: families pass through, raw labels go through attackFamily. */
export function toFamily(label: string): string {
  const l = label.trim().toLowerCase();
  if ((FAMILIES as readonly string[]).includes(l)) return l;
  if (/^(benign|normal\.?)$/.test(l)) return 'normal';
  return attackFamily(l);
}

/** Profile every cluster of the detector's primary run on `table`. */
export async function profileClusters(
  detector: AnomalyDetector,
  table: Table,
  opts: ProfileOptions = {},
): Promise<ClusterProfile[]> {
  if (opts.labels && opts.labels.length !== table.nRows) {
    throw new InputError(`labels: ${opts.labels.length} labels for ${table.nRows} rows`);
  }
  const { X } = detector.preprocessor.transform(table);
  const assignment = opts.assignment ?? (await detector.scoreMatrix(X)).cluster;
  return profileFromAssignment(detector, table, X, assignment, opts);
}

/** The same, from an already transformed matrix and an assignment (used by the other modules). */
export function profileFromAssignment(
  detector: AnomalyDetector,
  table: Table,
  X: Matrix,
  assignment: Int32Array,
  opts: ProfileOptions = {},
): ClusterProfile[] {
  const k = detector.k;
  const n = table.nRows;
  const pre = detector.preprocessor;
  const fields = pre.fieldSpecs();
  const names = pre.outputNames();
  const outField = pre.outputField();
  const sizes = new Array<number>(k).fill(0);
  for (let i = 0; i < n; i++) sizes[assignment[i]!]!++;

  // Per-cluster statistics in original units.
  const stats: ClusterStats[] = sizes.map((size) => ({
    size,
    mean: {},
    median: {},
    nonzero: {},
    categories: {},
  }));
  const byCluster: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < n; i++) byCluster[assignment[i]!]!.push(i);
  for (const f of fields) {
    if (f.kind === 'numeric') {
      const col = table.numeric[f.name]!;
      for (let c = 0; c < k; c++) {
        const vals: number[] = [];
        let nz = 0;
        for (const i of byCluster[c]!) {
          const v = col[i]!;
          if (Number.isNaN(v)) continue;
          vals.push(v);
          if (v !== 0) nz++;
        }
        const st = stats[c]!;
        st.mean[f.name] = vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : Number.NaN;
        st.median[f.name] = medianOf(vals);
        st.nonzero[f.name] = vals.length ? nz / vals.length : Number.NaN;
      }
    } else {
      const col = table.text[f.name]!;
      for (let c = 0; c < k; c++) {
        const counts: Record<string, number> = {};
        for (const i of byCluster[c]!) counts[col[i]!] = (counts[col[i]!] ?? 0) + 1;
        const size = sizes[c]!;
        for (const key of Object.keys(counts)) counts[key] = counts[key]! / Math.max(1, size);
        stats[c]!.categories[f.name] = counts;
      }
    }
  }

  // Effect sizes in the scaled space.
  const d = X.cols;
  const gMean = new Float64Array(d);
  const gSq = new Float64Array(d);
  const cMean = new Float64Array(k * d);
  for (let i = 0; i < n; i++) {
    const c = assignment[i]!;
    const row = i * d;
    for (let j = 0; j < d; j++) {
      const v = X.data[row + j]!;
      gMean[j]! += v;
      gSq[j]! += v * v;
      cMean[c * d + j]! += v;
    }
  }
  const gStd = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    gMean[j]! /= Math.max(1, n);
    gStd[j] = Math.sqrt(Math.max(0, gSq[j]! / Math.max(1, n) - gMean[j]! ** 2));
  }
  const top = opts.topFields ?? 8;
  const family = opts.labels ? opts.labels.map(toFamily) : null;
  const rawLabels = opts.labels?.some((l, i) => l !== family![i]) ? opts.labels : null;

  return sizes.map((size, c) => {
    const st = stats[c]!;
    const best = new Map<number, DistinguishingField>();
    if (size > 0) {
      for (let j = 0; j < d; j++) {
        if (gStd[j]! < 1e-12) continue;
        const effect = (cMean[c * d + j]! / size - gMean[j]!) / gStd[j]!;
        const fi = outField[j]!;
        const prev = best.get(fi);
        if (!prev || Math.abs(effect) > Math.abs(prev.effect)) {
          best.set(fi, {
            field: fields[fi]!.name,
            column: names[j]!,
            effect: round(effect),
            direction: effect >= 0 ? 'up' : 'down',
          });
        }
      }
    }
    const distinguishing = [...best.values()]
      .sort((a, b) => Math.abs(b.effect) - Math.abs(a.effect))
      .slice(0, top);
    const dominant: Record<string, CategoryShare[]> = {};
    for (const [f, shares] of Object.entries(st.categories)) {
      dominant[f] = Object.entries(shares)
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .slice(0, 3)
        .map(([value, share]) => ({ value, share: round(share) }));
    }
    const tagged = tagCluster(st);
    const profile: ClusterProfile = {
      id: c,
      size,
      share: round(size / Math.max(1, n)),
      centroid: mapValues(st.mean, round),
      median: mapValues(st.median, round),
      dominant,
      distinguishing,
      tag: tagged.tag,
      evidence: tagged.evidence,
      confidence: tagged.confidence,
    };
    const named = opts.clusterNames?.[String(c)];
    if (named) {
      profile.name = named.name;
      if (named.note) profile.note = named.note;
    }
    if (family) {
      const counts: Record<string, number> = {};
      const raw: Record<string, number> = {};
      for (const i of byCluster[c]!) {
        counts[family[i]!] = (counts[family[i]!] ?? 0) + 1;
        if (rawLabels) raw[rawLabels[i]!] = (raw[rawLabels[i]!] ?? 0) + 1;
      }
      const sorted = Object.entries(counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      profile.label_counts = Object.fromEntries(sorted);
      profile.majority = sorted[0]?.[0] ?? 'none';
      profile.purity = size > 0 ? round(sorted[0]![1] / size) : 0;
      if (rawLabels) {
        profile.top_labels = Object.fromEntries(
          Object.entries(raw)
            .sort((a, b) => b[1] - a[1])
            .slice(0, 5),
        );
      }
    }
    return profile;
  });
}

export interface TagAgreement {
  /** Share of rows (clusters weighted by size) whose cluster's tag matches its majority family. */
  agreement: number;
  rows: number;
  agreeingRows: number;
  clusters: {
    id: number;
    size: number;
    tag: BehaviourTag;
    majority: string;
    expected: string;
    agrees: boolean;
  }[];
}

/**
 * How often the tags agree with the labels: a cluster agrees when its tag is FAMILY_TAG of its
 * majority family; the agreement weights clusters by size. Needs profiles made with labels.
 */
export function tagAgreement(profiles: readonly ClusterProfile[]): TagAgreement {
  let rows = 0;
  let agreeing = 0;
  const clusters = profiles.map((p) => {
    if (!p.label_counts) throw new InputError('tagAgreement needs profiles made with labels');
    const majority = p.majority ?? 'none';
    const expected = FAMILY_TAG[majority] ?? 'unknown';
    const agrees = p.size > 0 && p.tag === expected;
    rows += p.size;
    if (agrees) agreeing += p.size;
    return { id: p.id, size: p.size, tag: p.tag, majority, expected, agrees };
  });
  return { agreement: rows ? agreeing / rows : 0, rows, agreeingRows: agreeing, clusters };
}

function medianOf(vals: number[]): number {
  if (vals.length === 0) return Number.NaN;
  const s = Float64Array.from(vals).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function mapValues(o: Record<string, number>, f: (v: number) => number): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));
}

function round(v: number): number {
  if (!Number.isFinite(v)) return v;
  return Math.abs(v) >= 1e6 ? Math.round(v) : Number(v.toPrecision(6));
}
