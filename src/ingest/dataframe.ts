/**
 * Conversions between the columnar Table and danfo DataFrames (used at the edges: notebooks, the web
 * app, user code). Values are copied; numbers keep full float64 precision (danfo stores JS numbers even
 * when it labels a column 'float32').
 */
import { DataFrame } from 'danfojs';
import { InputError } from '../errors.ts';
import type { Table } from './table.ts';

/**
 * A DataFrame with the table's numeric columns, then its text columns, then `extra` columns (e.g.
 * labels, cluster ids, scores), each of length `table.nRows`. danfo cannot hold 0 rows: an empty table
 * is an InputError.
 */
export function toDataFrame(table: Table, extra: Record<string, (string | number)[]> = {}): DataFrame {
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
  for (const [name, col] of Object.entries(extra)) {
    const numeric = col.every((v) => typeof v === 'number');
    add(name, numeric ? col.slice() : col.map((v) => String(v)), numeric ? 'float32' : 'string');
  }
  return new DataFrame(data, { columns, dtypes });
}

/**
 * A Table from a DataFrame: float32 / int32 / boolean columns become Float64Array (booleans as 0/1,
 * null / undefined as NaN); string columns become text columns (null / undefined / NaN as '').
 */
export function fromDataFrame(df: DataFrame): Table {
  const [nRows] = df.shape as [number, number];
  const numeric: Record<string, Float64Array> = {};
  const text: Record<string, string[]> = {};
  const names = df.columns as string[];
  const dtypes = df.dtypes as string[];
  for (let c = 0; c < names.length; c++) {
    const name = String(names[c]);
    const values = df.column(name).values as unknown[];
    const dtype = dtypes[c];
    if (dtype === 'float32' || dtype === 'int32' || dtype === 'boolean') {
      const out = new Float64Array(nRows);
      for (let i = 0; i < nRows; i++) {
        const v = values[i];
        out[i] = typeof v === 'number' ? v : typeof v === 'boolean' ? (v ? 1 : 0) : Number.NaN;
      }
      numeric[name] = out;
    } else if (dtype === 'string') {
      text[name] = values.map((v) =>
        v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v)) ? '' : String(v),
      );
    } else {
      throw new InputError(`column '${name}' has unsupported dtype '${dtype}'`);
    }
  }
  return { nRows, numeric, text };
}
