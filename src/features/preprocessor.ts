/**
 * Turns a Table of flows into the numeric matrix K-Means sees, and remembers how.
 *
 * - categorical fields: one-hot over the vocabulary stored at fit time, plus one "unknown" slot
 *   that unseen values fall into (counted, never refit at inference);
 * - numeric fields: optional symmetric log1p (for heavy-tailed counters), then standard scaling
 *   (population std, like scikit-learn's StandardScaler, floored at the field's `minScale`;
 *   constant columns without a floor get scale 1);
 * - every output column knows the original field it came from (`outputField`), so distances and
 *   importances can be summed back per field;
 * - a per-field weight multiplies that field's output columns (a one-hot column holds 0 or the
 *   weight).
 *
 * Missing numbers (NaN) follow `missing`: 'fail' throws, 'impute' uses the training mean (0 after
 * scaling) and counts the rows imputed per field. Labels are never fields: a FieldSpec list that
 * names a label column is refused.
 *
 * A numeric field with no value in any training row (a Zeek conn.log carries no packet-length
 * statistics) cannot be learnt: with 'impute' it is left out of the fitted field list
 * (`droppedFields()`, stored in the state) and its column is neither needed nor read when
 * transforming; with 'fail' it is an error.
 */
import { z } from 'zod';
import { InputError, NotFittedError, optionError, SchemaError } from '../errors.ts';
import type { Matrix, Table } from '../ingest/table.ts';
import { parseOptions } from '../validation.ts';
import { type CategoricalBlock, DistinctRows, type EncodedLayout, type EncodedMatrix } from './encoded.ts';

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
  /** log1p only: values are divided by this unit first (times in seconds: 1e-4, a tenth of a millisecond). */
  logUnit: z.number().positive().finite().default(1),
  /** Floor of the fitted scale in transformed units (a nearly constant field gets no huge weight). */
  minScale: z.number().min(0).finite().default(0),
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
  /** Declared fields left out at fit time because no training row had a value (absent in older bundles). */
  droppedFields?: string[];
}

export function symLog1p(v: number): number {
  return v >= 0 ? Math.log1p(v) : -Math.log1p(-v);
}

type TransformSpec = Pick<Field, 'transform' | 'logUnit'>;

/** A raw value of a numeric field in the space its mean and scale are fitted in. */
export function forwardValue(f: TransformSpec, v: number): number {
  return f.transform === 'log1p' ? symLog1p(v / f.logUnit) : v;
}

/** The inverse of `forwardValue`. */
export function inverseValue(f: TransformSpec, t: number): number {
  return f.transform === 'log1p' ? Math.sign(t) * Math.expm1(Math.abs(t)) * f.logUnit : t;
}

/**
 * The scale of a numeric field from its fitted std (transformed units): the std, at least the
 * field's `minScale`; a constant field gets its `minScale` (1 without one, as scikit-learn). A
 * field constant in training is the extreme of a nearly constant one, so the floor that weighs
 * the one weighs the other: with scale 1, a URI escape share of 0.5 where training only ever saw
 * 0 was worth a twentieth of what the same share was worth beside a spread of 0.001.
 */
export function fittedScale(
  f: Pick<Field, 'minScale'>,
  std: number,
  mean: number,
): { scale: number; constant: boolean } {
  if (std < 1e-12 * Math.max(1, Math.abs(mean)))
    return { scale: f.minScale > 0 ? f.minScale : 1, constant: true };
  return { scale: Math.max(std, f.minScale), constant: false };
}

/** Rows per block in the transforms (a block of output rows stays in cache). */
const ROW_BLOCK = 1024;

/** Where `encodeRows` writes a block of rows (see there). */
interface RowSink {
  numeric: Float32Array;
  codes: Int32Array;
  stride: number;
  positions: Int32Array;
  /** Code of row i, field c at codes[(i − base)·codeStride + codeOffset + c]. */
  codeStride: number;
  codeOffset: number;
  /** The row stored at index 0 of the buffers while rows [start, …) are encoded. */
  base: (start: number) => number;
  done?: (start: number, end: number) => void;
}

/**
 * Rows [start, end) of a numeric field without transform: (v − mean) / scale into
 * out[(i − base)·stride + pos], 0 for a non-finite value; returns how many were non-finite.
 */
function linearColumn(
  col: Float64Array,
  out: Float32Array,
  stride: number,
  pos: number,
  start: number,
  end: number,
  base: number,
  mean: number,
  scale: number,
): number {
  let bad = 0;
  let lastV = Number.NaN;
  let lastT = 0;
  for (let i = start; i < end; i++) {
    const v = col[i]!;
    const p = (i - base) * stride + pos;
    if (v === lastV && (v !== 0 || Object.is(v, lastV))) out[p] = lastT;
    else if (v - v === 0) {
      const t = (v - mean) / scale;
      out[p] = t;
      lastV = v;
      lastT = t;
    } else {
      out[p] = 0;
      bad++;
    }
  }
  return bad;
}

/** As linearColumn, through symLog1p(v / unit) first. */
function logColumn(
  col: Float64Array,
  out: Float32Array,
  stride: number,
  pos: number,
  start: number,
  end: number,
  base: number,
  mean: number,
  scale: number,
  unit: number,
): number {
  let bad = 0;
  let lastV = Number.NaN;
  let lastT = 0;
  for (let i = start; i < end; i++) {
    const v = col[i]!;
    const p = (i - base) * stride + pos;
    if (v === lastV && (v !== 0 || Object.is(v, lastV))) out[p] = lastT;
    else if (v - v === 0) {
      const t = ((unit === 1 ? symLog1pCached(v) : symLog1p(v / unit)) - mean) / scale;
      out[p] = t;
      lastV = v;
      lastT = t;
    } else {
      out[p] = 0;
      bad++;
    }
  }
  return bad;
}

/** One-hot slot of a categorical field's values (unknown values take the last slot, and are counted). */
class CategoryCoder {
  private readonly index: Map<string, number>;
  private readonly width: number;
  unknown = 0;
  private last: string | undefined = undefined;
  private lastCode = -1;

  constructor(
    vocab: readonly string[],
    private readonly col: readonly string[],
  ) {
    this.index = new Map(vocab.map((v, j) => [v, j]));
    this.width = vocab.length + 1;
  }

  /** Codes of rows [start, end) into codes[(i − base)·stride + pos]. */
  code(codes: Int32Array, stride: number, pos: number, start: number, end: number, base: number): void {
    const col = this.col;
    for (let i = start; i < end; i++) {
      const v = col[i]!;
      const p = (i - base) * stride + pos;
      if (v === this.last && this.lastCode >= 0) {
        codes[p] = this.lastCode;
        continue;
      }
      let j = this.index.get(v);
      if (j === undefined) {
        j = this.width - 1;
        this.unknown++;
        this.lastCode = -1; // unknown values are counted row by row
      } else this.lastCode = j;
      this.last = v;
      codes[p] = j;
    }
  }
}

/** symLog1p of the small non-negative integers (counters mostly are), filled on demand. */
const LOG_TABLE_SIZE = 1 << 16;
const logTable = new Float64Array(LOG_TABLE_SIZE).fill(Number.NaN);

/** symLog1p, from a table for integers in [1, 65536): the same values, fewer log calls. */
function symLog1pCached(v: number): number {
  if (v > 0 && v < LOG_TABLE_SIZE && v === Math.floor(v)) {
    let r = logTable[v]!;
    if (Number.isNaN(r)) {
      r = Math.log1p(v);
      logTable[v] = r;
    }
    return r;
  }
  return symLog1p(v);
}

export class Preprocessor {
  /** The fields as declared; `fields` is what the fit kept (the same before a fit). */
  private readonly declared: Field[];
  private fields: Field[];
  private readonly options: z.output<typeof PreprocessorOptionsSchema>;
  private state: PreprocessorState | null = null;
  private layout: EncodedLayout | null = null;
  private layoutState: PreprocessorState | null = null;

  constructor(fields: FieldSpec[], options: PreprocessorOptions = {}) {
    if (fields.length === 0) throw optionError('Preprocessor', 'fields', 'a non-empty list', fields);
    this.declared = fields.map((f, i) => parseOptions(FieldSpecSchema, `Preprocessor field ${i}`, f));
    this.fields = this.declared;
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
    p.state = { ...state, fields: p.declared }; // older files lack the fields' newer defaults
    return p;
  }

  get fitted(): boolean {
    return this.state !== null;
  }

  toState(): PreprocessorState {
    return this.requireState();
  }

  /** The fields the model uses (after a fit: the declared ones minus `droppedFields()`). */
  fieldSpecs(): readonly Field[] {
    return this.fields;
  }

  /** Declared numeric fields the fit left out: no training row had a value for them. */
  droppedFields(): readonly string[] {
    return this.state?.droppedFields ?? [];
  }

  fit(table: Table): this {
    if (table.nRows === 0) throw new InputError('cannot fit the preprocessor on 0 rows');
    this.checkColumns(table, this.declared);
    const dropped = new Set(this.emptyFields(table));
    if (dropped.size === this.declared.length) {
      throw new InputError(
        `no field has a value in any training row (${[...dropped].slice(0, 8).join(', ')}${dropped.size > 8 ? ', …' : ''})`,
      );
    }
    const fields = this.declared.filter((f) => !dropped.has(f.name));
    const vocabularies: Record<string, string[]> = {};
    const categoryCounts: Record<string, number[]> = {};
    const means: Record<string, number> = {};
    const scales: Record<string, number> = {};
    const medians: Record<string, number> = {};
    const constantFields: string[] = [];
    for (const f of fields) {
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
          sum += forwardValue(f, v);
          n++;
        }
        if (n === 0) throw new InputError(`field '${f.name}' has no value in any training row`);
        const mean = sum / n;
        let ss = 0;
        for (let i = 0; i < col.length; i++) {
          const v = col[i]!;
          if (Number.isNaN(v)) continue;
          const t = forwardValue(f, v) - mean;
          ss += t * t;
        }
        const { scale, constant } = fittedScale(f, Math.sqrt(ss / n), mean);
        means[f.name] = mean;
        scales[f.name] = scale;
        if (constant) constantFields.push(f.name);
        medians[f.name] = median(col);
      }
    }
    this.fields = fields;
    this.state = {
      fields,
      options: this.options,
      vocabularies,
      categoryCounts,
      means,
      scales,
      medians,
      constantFields,
      oneHotMeans: [],
      oneHotScales: [],
      ...(dropped.size ? { droppedFields: [...dropped] } : {}),
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
    const layout = this.encodedLayout();
    const n = table.nRows;
    const d = layout.cols;
    const data = new Float32Array(n * d);
    const report: TransformReport = { rows: n, imputed: {}, unknownCategories: {} };
    const blocks = layout.categorical;
    const nc = blocks.length;
    const codes = new Int32Array(n * nc);
    this.encodeRows(table, report, {
      numeric: data,
      codes,
      stride: d,
      positions: layout.numericColumns,
      codeStride: nc,
      codeOffset: 0,
      base: () => 0,
    });
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < nc; c++) {
        const b = blocks[c]!;
        data[i * d + b.offset + codes[i * nc + c]!] = b.weight;
      }
    }
    if (this.options.scaleOneHot) {
      let oneHotIndex = 0;
      for (const b of blocks) {
        const hot = b.weight;
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < b.width; j++) {
            const m = s.oneHotMeans[oneHotIndex + j]!;
            const sc = s.oneHotScales[oneHotIndex + j]!;
            const p = i * d + b.offset + j;
            data[p] = ((data[p]! / hot - m) / sc) * b.weight;
          }
        }
        oneHotIndex += b.width;
      }
    }
    return { X: { data, rows: n, cols: d }, report };
  }

  /**
   * Whether `transformEncoded` applies: one-hot columns hold 0 or the field weight (true unless
   * the options standard-scale one-hot columns).
   */
  get encodable(): boolean {
    return !this.options.scaleOneHot;
  }

  /** Where numeric columns and one-hot blocks sit among the output columns (one object per fit). */
  encodedLayout(): EncodedLayout {
    const s = this.requireState();
    if (this.layout && this.layoutState === s) return this.layout;
    const numericColumns: number[] = [];
    const categorical: CategoricalBlock[] = [];
    let offset = 0;
    for (const f of s.fields) {
      if (f.kind === 'numeric') numericColumns.push(offset++);
      else {
        const width = s.vocabularies[f.name]!.length + 1;
        categorical.push({ field: f.name, offset, width, weight: f.weight });
        offset += width;
      }
    }
    this.layout = { cols: offset, numericColumns: Int32Array.from(numericColumns), categorical };
    this.layoutState = s;
    return this.layout;
  }

  /**
   * `transform` in encoded form (see features/encoded.ts): the numeric columns and one code per
   * categorical field, with the same validation, NaN/unknown policy and report;
   * `expandEncoded(E)` equals `transform(table).X`. Needs `encodable` (scaleOneHot false).
   */
  transformEncoded(
    table: Table,
    options: { distinct?: boolean } = {},
  ): { E: EncodedMatrix; report: TransformReport; inverse: Int32Array | null } {
    this.requireState();
    if (!this.encodable) {
      throw new InputError(
        'transformEncoded: one-hot columns are standard-scaled (scaleOneHot); use transform()',
      );
    }
    this.checkColumns(table);
    const layout = this.encodedLayout();
    const n = table.nRows;
    const dn = layout.numericColumns.length;
    const nc = layout.categorical.length;
    const report: TransformReport = { rows: n, imputed: {}, unknownCategories: {} };
    const positions = Int32Array.from({ length: dn }, (_, t) => t);
    if (!options.distinct) {
      const numeric = new Float32Array(n * dn);
      const codes = new Int32Array(n * nc);
      this.encodeRows(table, report, {
        numeric,
        codes,
        stride: dn,
        positions,
        codeStride: nc,
        codeOffset: 0,
        base: () => 0,
      });
      return { E: { rows: n, layout, numeric, codes }, report, inverse: null };
    }
    // Distinct rows: each block of rows is encoded into one scratch buffer of keys (numeric
    // bits, then codes) and merged into the set.
    const set = new DistinctRows(layout, n);
    const w = set.width;
    const block = Math.max(1, Math.min(n, ROW_BLOCK));
    const keys = new Int32Array(block * w);
    const inverse = new Int32Array(n);
    this.encodeRows(table, report, {
      numeric: new Float32Array(keys.buffer),
      codes: keys,
      stride: w,
      positions,
      codeStride: w,
      codeOffset: dn,
      base: (start) => start,
      done: (start, end) => set.addRows(keys, end - start, inverse, start),
    });
    return { E: set.matrix(), report, inverse };
  }

  /**
   * The work both transforms share, by blocks of rows (a block's output stays in cache): every
   * numeric field into sink.numeric[(i − base)·stride + positions[t]] (t-th numeric field), the
   * category codes into sink.codes (see RowSink), then `sink.done(start, end)`; and the
   * report. A non-finite value the options refuse throws for the first such field in field
   * order, at its first such row (as a field-by-field pass would).
   */
  private encodeRows(table: Table, report: TransformReport, sink: RowSink): void {
    const s = this.requireState();
    const n = table.nRows;
    const numeric = s.fields.filter((f) => f.kind === 'numeric');
    const categorical = s.fields.filter((f) => f.kind === 'categorical');
    const cols = numeric.map((f) => table.numeric[f.name]!);
    const means = numeric.map((f) => s.means[f.name]!);
    const scales = numeric.map((f) => s.scales[f.name]! / f.weight);
    const units = numeric.map((f) => f.logUnit);
    const bad = new Float64Array(numeric.length);
    const coders = categorical.map((f) => new CategoryCoder(s.vocabularies[f.name]!, table.text[f.name]!));
    const { stride, positions } = sink;
    const nc = categorical.length;
    for (let start = 0; start < n; start += ROW_BLOCK) {
      const end = Math.min(n, start + ROW_BLOCK);
      const base = sink.base(start);
      for (let t = 0; t < numeric.length; t++) {
        const col = cols[t]!;
        const pos = positions[t]!;
        bad[t]! +=
          numeric[t]!.transform === 'log1p'
            ? logColumn(col, sink.numeric, stride, pos, start, end, base, means[t]!, scales[t]!, units[t]!)
            : linearColumn(col, sink.numeric, stride, pos, start, end, base, means[t]!, scales[t]!);
      }
      for (let c = 0; c < nc; c++)
        coders[c]!.code(sink.codes, sink.codeStride, sink.codeOffset + c, start, end, base);
      sink.done?.(start, end);
    }
    const fail = this.options.missing === 'fail';
    for (let t = 0; t < numeric.length; t++) {
      if (bad[t] === 0) continue;
      const f = numeric[t]!;
      const col = cols[t]!;
      let imputed = 0;
      for (let i = 0; i < n; i++) {
        const v = col[i]!;
        if (v - v === 0) continue;
        if (fail || !Number.isNaN(v)) {
          throw new InputError(`field '${f.name}' row ${i}: value ${v} is not a finite number`);
        }
        imputed++;
      }
      report.imputed[f.name] = imputed;
    }
    categorical.forEach((f, c) => {
      if (coders[c]!.unknown > 0) report.unknownCategories[f.name] = coders[c]!.unknown;
    });
  }

  /**
   * Numeric fields without a single non-NaN value in `table`, in declared order; none with
   * missing 'fail' (there such a field is an error).
   */
  private emptyFields(table: Table): string[] {
    const empty: string[] = [];
    for (const f of this.declared) {
      if (f.kind !== 'numeric') continue;
      const col = table.numeric[f.name]!;
      let seen = false;
      for (let i = 0; i < col.length && !seen; i++) seen = !Number.isNaN(col[i]!);
      if (seen) continue;
      if (this.options.missing === 'fail')
        throw new InputError(`field '${f.name}' has no value in any training row`);
      empty.push(f.name);
    }
    return empty;
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
  private checkColumns(table: Table, fields: readonly Field[] = this.fields): void {
    const missing: string[] = [];
    for (const f of fields) {
      const ok = f.kind === 'numeric' ? f.name in table.numeric : f.name in table.text;
      if (!ok) missing.push(`${f.name} (${f.kind})`);
    }
    if (missing.length === 0) return;
    const known = new Set(fields.map((f) => f.name));
    const extra = [...Object.keys(table.numeric), ...Object.keys(table.text)].filter((c) => !known.has(c));
    const list = (names: string[]) => names.slice(0, 8).join(', ') + (names.length > 8 ? ', …' : '');
    throw new SchemaError(
      `input does not match the model's schema: ${missing.length} of its ${fields.length} fields are missing ` +
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
