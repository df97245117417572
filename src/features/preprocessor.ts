/**
 * Turns a Table of flows into the numeric matrix K-Means sees, and remembers how.
 *
 * - categorical fields: one-hot over the vocabulary stored at fit time, plus one "unknown" slot
 *   that unseen values fall into (counted, never refit at inference);
 * - numeric fields: optional symmetric log1p (for heavy-tailed counters), then standard scaling
 *   (population std, like scikit-learn's StandardScaler; constant columns get scale 1);
 * - every output column knows the original field it came from (`outputField`), so distances and
 *   importances can be summed back per field;
 * - a per-field weight multiplies that field's output columns (a one-hot column holds 0 or the
 *   weight).
 *
 * Missing numbers (NaN) follow `missing`: 'fail' throws, 'impute' uses the training mean (0 after
 * scaling) and counts the rows imputed per field. Labels are never fields: a FieldSpec list that
 * names a label column is refused.
 */
import { z } from 'zod';
import { InputError, NotFittedError, optionError, SchemaError } from '../errors.ts';
import type { Matrix, Table } from '../ingest/table.ts';
import { parseOptions } from '../validation.ts';

export const UNKNOWN = '__unknown__';
const LABEL_LIKE = new Set([
  'label',
  'labels',
  'attack',
  'class',
  'difficulty',
  'difficulty_level',
  'lastflag',
]);

export const FieldSpecSchema = z.object({
  name: z.string().min(1),
  kind: z.enum(['numeric', 'categorical']),
  transform: z.enum(['none', 'log1p']).default('none'),
  weight: z.number().positive().finite().default(1),
});
export type FieldSpec = z.input<typeof FieldSpecSchema>;
type Field = z.output<typeof FieldSpecSchema>;

export const PreprocessorOptionsSchema = z.object({
  missing: z.enum(['fail', 'impute']).default('impute'),
  /** Standard-scale one-hot columns too (mean-centre and divide by their std). */
  scaleOneHot: z.boolean().default(false),
});
export type PreprocessorOptions = z.input<typeof PreprocessorOptionsSchema>;

/** How inputs were treated by one `transform` call. */
export interface TransformReport {
  rows: number;
  /** Rows whose value was missing and imputed, per field. */
  imputed: Record<string, number>;
  /** Rows whose category was not in the vocabulary, per field. */
  unknownCategories: Record<string, number>;
}

/** The fitted state, plain data: what model.json stores. */
export interface PreprocessorState {
  fields: Field[];
  options: z.output<typeof PreprocessorOptionsSchema>;
  vocabularies: Record<string, string[]>;
  /** Per numeric field, after the transform: mean and scale. */
  means: Record<string, number>;
  scales: Record<string, number>;
  /** Per one-hot output column (only when scaleOneHot): mean and scale. */
  oneHotMeans: number[];
  oneHotScales: number[];
  constantFields: string[];
  /** Per categorical field: training frequency of each vocabulary value (same order). */
  categoryCounts: Record<string, number[]>;
  /** Per numeric field: training median in original units (defaults for forms). */
  medians: Record<string, number>;
}

export function symLog1p(v: number): number {
  return v >= 0 ? Math.log1p(v) : -Math.log1p(-v);
}

export class Preprocessor {
  private readonly fields: Field[];
  private readonly options: z.output<typeof PreprocessorOptionsSchema>;
  private state: PreprocessorState | null = null;

  constructor(fields: FieldSpec[], options: PreprocessorOptions = {}) {
    if (fields.length === 0) throw optionError('Preprocessor', 'fields', 'a non-empty list', fields);
    this.fields = fields.map((f, i) => parseOptions(FieldSpecSchema, `Preprocessor field ${i}`, f));
    this.options = parseOptions(PreprocessorOptionsSchema, 'Preprocessor', options);
    const seen = new Set<string>();
    for (const f of this.fields) {
      if (LABEL_LIKE.has(f.name.toLowerCase())) {
        throw new SchemaError(`'${f.name}' looks like a label column; labels are never features`);
      }
      if (seen.has(f.name)) throw new SchemaError(`field '${f.name}' is listed twice`);
      seen.add(f.name);
    }
  }

  static fromState(state: PreprocessorState): Preprocessor {
    const p = new Preprocessor(state.fields, state.options);
    p.state = state;
    return p;
  }

  get fitted(): boolean {
    return this.state !== null;
  }

  toState(): PreprocessorState {
    return this.requireState();
  }

  fieldSpecs(): readonly Field[] {
    return this.fields;
  }

  fit(table: Table): this {
    if (table.nRows === 0) throw new InputError('cannot fit the preprocessor on 0 rows');
    this.checkColumns(table);
    const vocabularies: Record<string, string[]> = {};
    const categoryCounts: Record<string, number[]> = {};
    const means: Record<string, number> = {};
    const scales: Record<string, number> = {};
    const medians: Record<string, number> = {};
    const constantFields: string[] = [];
    for (const f of this.fields) {
      if (f.kind === 'categorical') {
        const counts = new Map<string, number>();
        for (const v of table.text[f.name]!) counts.set(v, (counts.get(v) ?? 0) + 1);
        const vocab = [...counts.keys()].sort();
        vocabularies[f.name] = vocab;
        categoryCounts[f.name] = vocab.map((v) => counts.get(v)!);
        if (vocab.length === 1) constantFields.push(f.name);
      } else {
        const col = table.numeric[f.name]!;
        let sum = 0;
        let n = 0;
        for (let i = 0; i < col.length; i++) {
          const v = col[i]!;
          if (Number.isNaN(v)) continue;
          if (!Number.isFinite(v))
            throw new InputError(`field '${f.name}' holds an infinite value at row ${i}`);
          sum += f.transform === 'log1p' ? symLog1p(v) : v;
          n++;
        }
        if (n === 0) throw new InputError(`field '${f.name}' has no value in any training row`);
        const mean = sum / n;
        let ss = 0;
        for (let i = 0; i < col.length; i++) {
          const v = col[i]!;
          if (Number.isNaN(v)) continue;
          const t = (f.transform === 'log1p' ? symLog1p(v) : v) - mean;
          ss += t * t;
        }
        const std = Math.sqrt(ss / n);
        means[f.name] = mean;
        if (std < 1e-12 * Math.max(1, Math.abs(mean))) {
          scales[f.name] = 1;
          constantFields.push(f.name);
        } else scales[f.name] = std;
        medians[f.name] = median(col);
      }
    }
    this.state = {
      fields: this.fields,
      options: this.options,
      vocabularies,
      categoryCounts,
      means,
      scales,
      medians,
      constantFields,
      oneHotMeans: [],
      oneHotScales: [],
    };
    if (this.options.scaleOneHot) this.fitOneHotScaling(table);
    return this;
  }

  /** Names of the output columns, e.g. `src_bytes`, `service=http`, `service=__unknown__`. */
  outputNames(): string[] {
    const s = this.requireState();
    const names: string[] = [];
    for (const f of s.fields) {
      if (f.kind === 'numeric') names.push(f.name);
      else for (const v of [...s.vocabularies[f.name]!, UNKNOWN]) names.push(`${f.name}=${v}`);
    }
    return names;
  }

  /** For each output column, the index of the field (in `fieldSpecs()`) it came from. */
  outputField(): Int32Array {
    const s = this.requireState();
    const out: number[] = [];
    s.fields.forEach((f, i) => {
      const width = f.kind === 'numeric' ? 1 : s.vocabularies[f.name]!.length + 1;
      for (let j = 0; j < width; j++) out.push(i);
    });
    return Int32Array.from(out);
  }

  get nOutputs(): number {
    return this.outputNames().length;
  }

  transform(table: Table): { X: Matrix; report: TransformReport } {
    const s = this.requireState();
    this.checkColumns(table);
    const n = table.nRows;
    const names = this.outputNames();
    const d = names.length;
    const data = new Float32Array(n * d);
    const report: TransformReport = { rows: n, imputed: {}, unknownCategories: {} };
    let offset = 0;
    let oneHotIndex = 0;
    for (const f of s.fields) {
      if (f.kind === 'numeric') {
        const col = table.numeric[f.name]!;
        const mean = s.means[f.name]!;
        const scale = s.scales[f.name]! / f.weight;
        let imputed = 0;
        for (let i = 0; i < n; i++) {
          let v = col[i]!;
          if (Number.isNaN(v) || !Number.isFinite(v)) {
            if (this.options.missing === 'fail' || !Number.isNaN(v)) {
              throw new InputError(`field '${f.name}' row ${i}: value ${v} is not a finite number`);
            }
            imputed++;
            v = Number.NaN;
          }
          const t = Number.isNaN(v) ? 0 : ((f.transform === 'log1p' ? symLog1p(v) : v) - mean) / scale;
          data[i * d + offset] = t;
        }
        if (imputed > 0) report.imputed[f.name] = imputed;
        offset += 1;
      } else {
        const vocab = s.vocabularies[f.name]!;
        const index = new Map(vocab.map((v, j) => [v, j]));
        const width = vocab.length + 1;
        const col = table.text[f.name]!;
        const hot = f.weight;
        let unknown = 0;
        for (let i = 0; i < n; i++) {
          let j = index.get(col[i]!);
          if (j === undefined) {
            j = vocab.length;
            unknown++;
          }
          data[i * d + offset + j] = hot;
        }
        if (this.options.scaleOneHot) {
          for (let j = 0; j < width; j++) {
            const m = s.oneHotMeans[oneHotIndex + j]!;
            const sc = s.oneHotScales[oneHotIndex + j]!;
            for (let i = 0; i < n; i++) {
              const p = i * d + offset + j;
              data[p] = ((data[p]! / hot - m) / sc) * f.weight;
            }
          }
        }
        if (unknown > 0) report.unknownCategories[f.name] = unknown;
        offset += width;
        oneHotIndex += width;
      }
    }
    return { X: { data, rows: n, cols: d }, report };
  }

  private fitOneHotScaling(table: Table): void {
    const s = this.requireState();
    const means: number[] = [];
    const scales: number[] = [];
    for (const f of s.fields) {
      if (f.kind !== 'categorical') continue;
      const counts = s.categoryCounts[f.name]!;
      for (const c of [...counts, 0]) {
        const p = c / table.nRows;
        means.push(p);
        const std = Math.sqrt(p * (1 - p));
        scales.push(std > 0 ? std : 1);
      }
    }
    s.oneHotMeans = means;
    s.oneHotScales = scales;
  }

  /** Refuses a table without the model's fields, with a short diff of what differs. */
  private checkColumns(table: Table): void {
    const missing: string[] = [];
    for (const f of this.fields) {
      const ok = f.kind === 'numeric' ? f.name in table.numeric : f.name in table.text;
      if (!ok) missing.push(`${f.name} (${f.kind})`);
    }
    if (missing.length === 0) return;
    const known = new Set(this.fields.map((f) => f.name));
    const extra = [...Object.keys(table.numeric), ...Object.keys(table.text)].filter((c) => !known.has(c));
    const list = (names: string[]) => names.slice(0, 8).join(', ') + (names.length > 8 ? ', …' : '');
    throw new SchemaError(
      `input does not match the model's schema: ${missing.length} of its ${this.fields.length} fields are missing ` +
        `(${list(missing)})${extra.length ? `; the input has ${extra.length} column(s) the model does not know (${list(extra)})` : ''}`,
    );
  }

  private requireState(): PreprocessorState {
    if (!this.state) throw new NotFittedError('This Preprocessor is not fitted yet; call fit() first.');
    return this.state;
  }
}

function median(col: Float64Array): number {
  const vals = Float64Array.from(col.filter((v) => !Number.isNaN(v))).sort();
  if (vals.length === 0) return Number.NaN;
  const m = vals.length >> 1;
  return vals.length % 2 ? vals[m]! : (vals[m - 1]! + vals[m]!) / 2;
}
