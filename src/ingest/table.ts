/**
 * A columnar table of flows: numeric columns as Float64Array (NaN = missing), text columns as
 * string arrays. It is the fast internal form every reader produces; `toDataFrame` /
 * `fromDataFrame` (data/dataframe.ts) convert to and from danfo DataFrames at the edges.
 */
export interface Table {
  readonly nRows: number;
  readonly numeric: Readonly<Record<string, Float64Array>>;
  readonly text: Readonly<Record<string, string[]>>;
}

/** Why a row was set aside, with where it came from. */
export interface QuarantinedRow {
  readonly line: number;
  readonly reason: string;
  readonly raw: string;
}

/** What a reader saw: counts by outcome and the rows it set aside (capped). */
export interface IngestReport {
  readonly file: string;
  rowsRead: number;
  rowsKept: number;
  rowsSkipped: number;
  /** Count of set-aside rows by reason, e.g. {"non-numeric value in src_bytes": 3}. */
  readonly reasons: Record<string, number>;
  /** The first quarantined rows (at most `quarantineCap`), for a quarantine file or a UI. */
  readonly quarantined: QuarantinedRow[];
  readonly warnings: string[];
}

/** fail: stop at the first bad row; skip: drop and count; quarantine: drop, count and keep the row. */
export type BadRowPolicy = 'fail' | 'skip' | 'quarantine';

export function emptyReport(file: string): IngestReport {
  return { file, rowsRead: 0, rowsKept: 0, rowsSkipped: 0, reasons: {}, quarantined: [], warnings: [] };
}

export function columnNames(table: Table): string[] {
  return [...Object.keys(table.numeric), ...Object.keys(table.text)];
}

/** Rows picked by index, in the given order. */
export function takeRows(table: Table, index: ArrayLike<number>): Table {
  const numeric: Record<string, Float64Array> = {};
  const text: Record<string, string[]> = {};
  for (const [name, col] of Object.entries(table.numeric)) {
    const out = new Float64Array(index.length);
    for (let i = 0; i < index.length; i++) out[i] = col[index[i]!]!;
    numeric[name] = out;
  }
  for (const [name, col] of Object.entries(table.text)) {
    const out = new Array<string>(index.length);
    for (let i = 0; i < index.length; i++) out[i] = col[index[i]!]!;
    text[name] = out;
  }
  return { nRows: index.length, numeric, text };
}

/** A row-major matrix of float32 values: row i is data[i*cols .. (i+1)*cols). */
export interface Matrix {
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

/** Tables with the same columns, one after the other. */
export function concatTables(tables: readonly Table[]): Table {
  const first = tables[0]!;
  const nRows = tables.reduce((s, t) => s + t.nRows, 0);
  const numeric: Record<string, Float64Array> = {};
  for (const name of Object.keys(first.numeric)) {
    const col = new Float64Array(nRows);
    let o = 0;
    for (const t of tables) {
      col.set(t.numeric[name]!, o);
      o += t.nRows;
    }
    numeric[name] = col;
  }
  const text: Record<string, string[]> = {};
  for (const name of Object.keys(first.text)) text[name] = tables.flatMap((t) => t.text[name]!);
  return { nRows, numeric, text };
}
