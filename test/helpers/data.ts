/** Shared test helpers: the real datasets (tests fail, never skip, when they are missing). */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kddFieldSpecs } from '../../src/features/kdd-fields.ts';
import { Preprocessor } from '../../src/features/preprocessor.ts';
import { type KddData, readKdd } from '../../src/ingest/kdd.ts';
import { type Matrix, type Table, takeRows } from '../../src/ingest/table.ts';

export function dataDir(): string {
  const dir = process.env.NETANOMALY_DATA_DIR;
  if (!dir || !existsSync(dir)) {
    throw new Error('NETANOMALY_DATA_DIR must point at the shared datasets (make test sets it)');
  }
  return dir;
}

export function dataFile(rel: string): string {
  const path = join(dataDir(), rel);
  if (!existsSync(path)) throw new Error(`missing dataset file ${path}`);
  return path;
}

const cache = new Map<string, Promise<KddData>>();
export function kdd(rel: string): Promise<KddData> {
  let p = cache.get(rel);
  if (!p) {
    p = readKdd(dataFile(rel));
    cache.set(rel, p);
  }
  return p;
}

/** NSL-KDD 20 % training file: its normal rows (the first `limit` of them when given). */
export async function nslNormalTable(limit?: number): Promise<Table> {
  const data = await kdd('nsl-kdd/KDDTrain+_20Percent.txt');
  let idx = data.families.flatMap((f, i) => (f === 'normal' ? [i] : []));
  if (limit) idx = idx.slice(0, limit);
  return takeRows(data.table, idx);
}

/** NSL-KDD 20 % training file: its normal rows, preprocessed (the matrix K-Means sees). */
export async function nslNormalMatrix(limit?: number): Promise<Matrix> {
  const table = await nslNormalTable(limit);
  return new Preprocessor(kddFieldSpecs()).fit(table).transform(table).X;
}

/** KDDTest+ with NaN holes in three numeric fields (imputed by the preprocessor). */
export async function nslTestWithNaNs(): Promise<Table> {
  const t = (await kdd('nsl-kdd/KDDTest+.txt')).table;
  const numeric = { ...t.numeric };
  for (const [name, every] of [
    ['src_bytes', 97],
    ['count', 131],
    ['dst_host_srv_rerror_rate', 53],
  ] as const) {
    const col = Float64Array.from(numeric[name]!);
    for (let i = 5; i < col.length; i += every) col[i] = Number.NaN;
    numeric[name] = col;
  }
  return { ...t, numeric };
}

export function tempDir(prefix = 'netanomaly-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
