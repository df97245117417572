/** readTabular on a generic CSV: a label-like column is the label, never a feature. */

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readTabular } from '../../src/ingest/input.ts';
import { KDD_FEATURES } from '../../src/ingest/kdd.ts';

const DATA = process.env.NETANOMALY_DATA_DIR ?? '';
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test('a generic CSV with a Label column (real NSL-KDD rows, three fields): labels come back, the column is no feature', async () => {
  assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
  const lines = (await readFile(join(DATA, 'nsl-kdd/KDDTrain+_20Percent.txt'), 'utf8'))
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(0, 300);
  const names = ['duration', 'protocol_type', 'src_bytes'];
  const idx = names.map((n) => KDD_FEATURES.findIndex((f) => f.name === n));
  const labelAt = KDD_FEATURES.length;
  const expected = lines.map((l) => l.split(',')[labelAt]!);
  for (const header of ['label', 'Label', 'attack_cat']) {
    const dir = await mkdtemp(join(tmpdir(), 'netanomaly-input-'));
    dirs.push(dir);
    const path = join(dir, 'flows.csv');
    const rows = lines.map((l) => {
      const f = l.split(',');
      return [...idx.map((i) => f[i]), f[labelAt]].join(',');
    });
    await writeFile(path, `${[...names, header].join(',')}\n${rows.join('\n')}\n`);
    const got = await readTabular(path, { format: 'csv' });
    assert.deepEqual(got.labels, expected, header);
    assert.ok(new Set(expected).size > 1, 'the sample holds more than one label');
    const columns = [...Object.keys(got.table.numeric ?? {}), ...Object.keys(got.table.text ?? {})];
    assert.ok(!columns.includes(header), `${header} is not a feature column (${columns.join(', ')})`);
    assert.deepEqual(columns.sort(), [...names].sort(), header);
  }
});
