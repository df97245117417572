/** Shared test helpers: the real datasets (tests fail, never skip, when they are missing). */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kddFieldSpecs } from '../../src/features/kdd-fields.ts';
import { Preprocessor } from '../../src/features/preprocessor.ts';
import { type KddData, readKdd } from '../../src/ingest/kdd.ts';
import { type Matrix, takeRows } from '../../src/ingest/table.ts';

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

/** NSL-KDD 20 % training file: its normal rows, preprocessed (the matrix K-Means sees). */
export async function nslNormalMatrix(limit?: number): Promise<Matrix> {
  const data = await kdd('nsl-kdd/KDDTrain+_20Percent.txt');
  let idx = data.families.flatMap((f, i) => (f === 'normal' ? [i] : []));
  if (limit) idx = idx.slice(0, limit);
  const table = takeRows(data.table, idx);
  return new Preprocessor(kddFieldSpecs()).fit(table).transform(table).X;
}

export function tempDir(prefix = 'netanomaly-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
