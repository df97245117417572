/** Shared set-up for the web tests: a real model trained on NSL-KDD's 20 % normal rows. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Preprocessor } from '../../src/features/preprocessor.ts';
import { resolveDataset } from '../../src/ingest/datasets.ts';
import { readKdd } from '../../src/ingest/kdd.ts';
import { saveModel } from '../../src/model/bundle.ts';
import { elbowSweep } from '../../src/model/select-k.ts';
import { normalRows } from '../../src/pipeline/evaluate.ts';
import { trainFromFile } from '../../src/pipeline/train.ts';

export function dataDir(): string {
  const d = process.env.NETANOMALY_DATA_DIR;
  if (!d) throw new Error('NETANOMALY_DATA_DIR is not set: the web tests need the real NSL-KDD files');
  return d;
}

/** Trains (k = 12, plus a small elbow sweep for the card) and saves a bundle in a temp dir. */
export async function trainTestModel(): Promise<string> {
  const path = await resolveDataset('nsl-kdd/KDDTrain+_20Percent', { dataDir: dataDir() });
  const trained = await trainFromFile(path, { format: 'nsl-kdd', trainOn: 'normal', k: 12 });
  const table = normalRows(trained.input.table, trained.input.families!);
  const { X } = new Preprocessor(trained.input.fields).fit(table).transform(table);
  const elbow = await elbowSweep(X, { kMin: 2, kMax: 10, sampleSize: 2000, silhouetteSample: 500 });
  const dir = await mkdtemp(join(tmpdir(), 'netanomaly-web-model-'));
  await saveModel(dir, trained.detector, { ...trained.card, elbow: { ...elbow } });
  return dir;
}

/**
 * Raw KDDTest+ lines: the first `n` whose label (and flag, when given) match. Neptune records
 * come as S0 (the SYN flood itself) or REJ; the tests use the S0 form.
 */
export async function testLines(label: string, n = 1, flag?: string): Promise<string[]> {
  const path = await resolveDataset('nsl-kdd/KDDTest+', { dataDir: dataDir() });
  const { readFile } = await import('node:fs/promises');
  const lines = (await readFile(path, 'utf8'))
    .split('\n')
    .filter((l) => l.split(',')[41] === label && (!flag || l.split(',')[3] === flag));
  return lines.slice(0, n);
}

export { readKdd };
