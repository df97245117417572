/**
 * danfo DataFrames at the edges of the public API: the estimators take a DataFrame wherever they
 * take the columnar Table (`asTable` / `asMatrix` at the top of fit / predict / …), results come back
 * as DataFrames aligned with the input (`resultFrame`), and the KDD reader can hand back a
 * DataFrame (`readKddFrame`). Values are copied; numbers keep full float64 precision (danfo stores
 * JS numbers even when it labels a column 'float32').
 *
 * Cost per 100 k rows (KDD Cup 99 10 %, 43 columns; notebooks/README.md): toDataFrame ≈ 0.55 s and
 * fromDataFrame ≈ 0.2 s on a quiet machine, several times more under load. The Table stays the fast
 * path for large files.
 */
import { createRequire } from 'node:module';
import type { DataFrame } from 'danfojs';
import { InputError } from '../errors.ts';
import { type KddData, type ReadKddOptions, readKdd } from './kdd.ts';
import type { Matrix, Table } from './table.ts';

// danfojs (and the tfjs it loads) takes seconds to import: loaded on the first conversion to a
// DataFrame, never by the estimators themselves (a DataFrame given to them means it is loaded).
let danfo: typeof import('danfojs') | null = null;
function danfojs(): typeof import('danfojs') {
  danfo ??= createRequire(import.meta.url)('danfojs') as typeof import('danfojs');
  return danfo;
}

/** What the estimators accept: the columnar Table or a danfo DataFrame. */
export type TableInput = Table | DataFrame;
/** What KMeans accepts: a preprocessed matrix or a DataFrame of numeric columns. */
export type MatrixInput = Matrix | DataFrame;

/**
 * A danfo DataFrame, recognised by its shape rather than `instanceof`: danfo's own operations
 * (query, loc, concat) return instances of its base DataFrame class, not of the exported one, and a
 * Table is told apart without loading danfojs.
 */
export function isDataFrame(value: unknown): value is DataFrame {
  if (typeof value !== 'object' || value === null || 'nRows' in value || !('getColumnData' in value))
    return false;
  const v = value as { columns?: unknown; dtypes?: unknown; $isSeries?: unknown };
  return Array.isArray(v.columns) && Array.isArray(v.dtypes) && v.$isSeries !== true;
}

/** The Table behind an estimator input: a Table as it is, a DataFrame converted (fromDataFrame). */
export function asTable(input: TableInput): Table {
  return isDataFrame(input) ? fromDataFrame(input) : input;
}

/**
 * A row-major float32 matrix from a DataFrame whose columns are all numeric (a matrix as it is).
 * A string column is an InputError naming it: preprocess categories first (Preprocessor).
 */
export function asMatrix(input: MatrixInput): Matrix {
  if (!isDataFrame(input)) return input;
  const t = fromDataFrame(input);
  const text = Object.keys(t.text);
  if (text.length > 0) {
    throw new InputError(
      `KMeans needs numeric columns; column '${text[0]}' holds strings (encode categories with Preprocessor first)`,
    );
  }
  const cols = Object.values(t.numeric);
  const data = new Float32Array(t.nRows * cols.length);
  cols.forEach((col, j) => {
    for (let i = 0; i < t.nRows; i++) data[i * cols.length + j] = col[i]!;
  });
  return { data, rows: t.nRows, cols: cols.length };
}

/**
 * A DataFrame with the table's numeric columns, then its text columns, then `extra` columns (e.g.
 * labels, cluster ids, scores), each of length `table.nRows`. danfo cannot hold 0 rows: an empty table
 * is an InputError.
 */
export function toDataFrame(table: Table, extra: Record<string, ArrayLike<string | number>> = {}): DataFrame {
  if (table.nRows === 0) throw new InputError('cannot convert an empty table (0 rows) to a danfo DataFrame');
  const data: Record<string, (string | number)[]> = {};
  const columns: string[] = [];
  const dtypes: string[] = [];
  const add = (name: string, values: (string | number)[], dtype: string): void => {
    if (Object.hasOwn(data, name)) throw new InputError(`duplicate column '${name}' in DataFrame conversion`);
    if (values.length !== table.nRows) {
      throw new InputError(`column '${name}' has ${values.length} values, the table has ${table.nRows} rows`);
    }
    data[name] = values;
    columns.push(name);
    dtypes.push(dtype);
  };
  for (const [name, col] of Object.entries(table.numeric)) add(name, Array.from(col), 'float32');
  for (const [name, col] of Object.entries(table.text)) add(name, col.slice(), 'string');
  for (const [name, arr] of Object.entries(extra)) {
    const col = Array.from(arr);
    const numeric = col.every((v) => typeof v === 'number');
    add(name, numeric ? col : col.map((v) => String(v)), numeric ? 'float32' : 'string');
  }
  return new (danfojs().DataFrame)(data, { columns, dtypes });
}

/**
 * A Table from a DataFrame: float32 / int32 / boolean columns become Float64Array (booleans as 0/1,
 * null / undefined as NaN); string columns become text columns (null / undefined / NaN as '').
 * Reads danfo's column store directly (no Series per column).
 */
export function fromDataFrame(df: DataFrame): Table {
  const [nRows] = df.shape as [number, number];
  const numeric: Record<string, Float64Array> = {};
  const text: Record<string, string[]> = {};
  const names = df.columns as string[];
  const dtypes = df.dtypes as string[];
  const store = df.getColumnData as unknown[][];
  for (let c = 0; c < names.length; c++) {
    const name = String(names[c]);
    const values = (store[c] ?? []) as unknown[];
    const dtype = dtypes[c];
    if (dtype === 'float32' || dtype === 'int32' || dtype === 'boolean') {
      const out = new Float64Array(nRows);
      for (let i = 0; i < nRows; i++) {
        const v = values[i];
        out[i] = typeof v === 'number' ? v : typeof v === 'boolean' ? (v ? 1 : 0) : Number.NaN;
      }
      numeric[name] = out;
    } else if (dtype === 'string') {
      const out = new Array<string>(nRows);
      for (let i = 0; i < nRows; i++) {
        const v = values[i];
        out[i] = v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v)) ? '' : String(v);
      }
      text[name] = out;
    } else {
      throw new InputError(`column '${name}' has unsupported dtype '${dtype}'`);
    }
  }
  return { nRows, numeric, text };
}

/** Scores of rows as the detector returns them (`evaluateRows`), or a part of them. */
export interface ScoredRows {
  anomalyScore: ArrayLike<number>;
  cluster: ArrayLike<number>;
  isAnomaly?: ArrayLike<number>;
}

/** The top fields of an explained row (src/explain's FlowExplanation has this shape). */
export interface ExplainedRow {
  row: number;
  top_fields: readonly { field: string; share: number }[];
}

export interface ResultFrameOptions {
  /** The input DataFrame's index (`df.index`), so the results line up with it (default 0..n−1). */
  index?: readonly (string | number)[];
  /** Risk 0-100 per score (e.g. `(s) => detector.riskScore(s)`): adds a `risk_score` column. */
  risk?: (anomalyScore: number) => number;
  /** Explained rows (explainRows): adds `top_fields`, e.g. "src_bytes 62 %, service 21 %" ('' elsewhere). */
  explanations?: readonly ExplainedRow[];
  /** Top fields listed per explained row (default 3). */
  topFields?: number;
}

/**
 * Per-row results as a DataFrame aligned with the input: `anomaly_score`, `cluster`, `is_anomaly`
 * (0/1) and `verdict` ('anomaly' | 'normal'), plus `risk_score` and `top_fields` when asked for;
 * ready for `concat({ dfList: [df, results], axis: 1 })` and `query`.
 */
export function resultFrame(scored: ScoredRows, options: ResultFrameOptions = {}): DataFrame {
  const n = scored.anomalyScore.length;
  if (n === 0) throw new InputError('no scored rows to put in a DataFrame');
  if (scored.cluster.length !== n || (scored.isAnomaly && scored.isAnomaly.length !== n)) {
    throw new InputError(`scores, clusters and verdicts differ in length (${n}, ${scored.cluster.length})`);
  }
  if (options.index && options.index.length !== n) {
    throw new InputError(`index has ${options.index.length} labels for ${n} scored rows`);
  }
  const flags = scored.isAnomaly ? Array.from(scored.isAnomaly) : null;
  const data: Record<string, (string | number)[]> = {
    anomaly_score: Array.from(scored.anomalyScore),
    cluster: Array.from(scored.cluster),
  };
  const dtypes = ['float32', 'int32'];
  if (flags) {
    data.is_anomaly = flags;
    data.verdict = flags.map((f) => (f ? 'anomaly' : 'normal'));
    dtypes.push('int32', 'string');
  }
  if (options.risk) {
    data.risk_score = data.anomaly_score!.map((s) => options.risk!(s as number));
    dtypes.push('int32');
  }
  if (options.explanations) {
    const top = options.topFields ?? 3;
    const col = new Array<string>(n).fill('');
    for (const e of options.explanations) {
      if (!Number.isInteger(e.row) || e.row < 0 || e.row >= n) {
        throw new InputError(`explained row ${e.row} is outside the ${n} scored rows`);
      }
      col[e.row] = e.top_fields
        .slice(0, top)
        .map((f) => `${f.field} ${Math.round(f.share * 100)} %`)
        .join(', ');
    }
    data.top_fields = col;
    dtypes.push('string');
  }
  return new (danfojs().DataFrame)(data, {
    columns: Object.keys(data),
    dtypes,
    ...(options.index ? { index: [...options.index] } : {}),
  });
}

/** What readKddFrame returns: the rows as a DataFrame, the reader's report and the file's format. */
export interface KddFrame extends Pick<KddData, 'report' | 'format'> {
  /** The 41 features, then `label` and `family` (and `difficulty` for NSL-KDD). */
  df: DataFrame;
}

/**
 * readKdd, handed back as a danfo DataFrame (label, attack family and difficulty as columns; the
 * estimators use only the feature fields of their specs). Costs the conversion above; for large
 * files readKdd's Table is the fast path.
 */
export async function readKddFrame(path: string, opts: ReadKddOptions = {}): Promise<KddFrame> {
  const d = await readKdd(path, opts);
  const extra: Record<string, ArrayLike<string | number>> = { label: d.labels, family: d.families };
  if (d.difficulty) extra.difficulty = d.difficulty;
  return { df: toDataFrame(d.table, extra), report: d.report, format: d.format };
}
