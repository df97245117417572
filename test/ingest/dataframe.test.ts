import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DataFrame } from 'danfojs';
import { InputError } from '../../src/errors.ts';
import { fromDataFrame, toDataFrame } from '../../src/ingest/dataframe.ts';
import { readKdd } from '../../src/ingest/kdd.ts';
import type { Table } from '../../src/ingest/table.ts';

const small: Table = {
  nRows: 3,
  numeric: { a: new Float64Array([0.1, Number.NaN, 1e300]), b: new Float64Array([1, 2, 3]) },
  text: { s: ['x', '', 'z'] },
};

describe('toDataFrame / fromDataFrame', () => {
  test('round trip keeps values exactly (float64, NaN, empty strings), column order and kinds', () => {
    const df = toDataFrame(small);
    assert.deepEqual(df.columns, ['a', 'b', 's']);
    assert.deepEqual(df.shape, [3, 3]);
    const back = fromDataFrame(df);
    assert.equal(back.nRows, 3);
    assert.deepEqual(Object.keys(back.numeric), ['a', 'b']);
    assert.deepEqual(Array.from(back.numeric.a!), [0.1, Number.NaN, 1e300]);
    assert.ok(back.numeric.b instanceof Float64Array);
    assert.deepEqual(back.text.s, ['x', '', 'z']);
  });

  test('extra columns: numbers numeric, strings text; digit-like strings stay text', () => {
    const df = toDataFrame(small, {
      label: ['normal', 'smurf', 'normal'],
      cluster: [0, 1, 0],
      port: ['80', '443', '22'],
    });
    const back = fromDataFrame(df);
    assert.deepEqual(Array.from(back.numeric.cluster!), [0, 1, 0]);
    assert.deepEqual(back.text.label, ['normal', 'smurf', 'normal']);
    assert.deepEqual(back.text.port, ['80', '443', '22']);
  });

  test('a DataFrame built by hand: int32, boolean, null values', () => {
    const df = new DataFrame({ n: [1, 2], f: [true, false], s: ['a', null] });
    const t = fromDataFrame(df);
    assert.deepEqual(Array.from(t.numeric.n!), [1, 2]);
    assert.deepEqual(Array.from(t.numeric.f!), [1, 0]);
    assert.deepEqual(t.text.s, ['a', '']);
  });

  test('real data: KDDTest-21 round trips exactly', async () => {
    assert.ok(process.env.NETANOMALY_DATA_DIR, 'NETANOMALY_DATA_DIR must be set');
    const d = await readKdd(join(process.env.NETANOMALY_DATA_DIR, 'nsl-kdd/KDDTest-21.txt'), {
      maxRows: 2000,
    });
    const back = fromDataFrame(toDataFrame(d.table, { label: d.labels }));
    assert.equal(back.nRows, 2000);
    for (const [name, col] of Object.entries(d.table.numeric))
      assert.deepEqual(back.numeric[name], col, name);
    for (const [name, col] of Object.entries(d.table.text)) assert.deepEqual(back.text[name], col, name);
    assert.deepEqual(back.text.label, d.labels);
  });

  test('bad input: empty table, wrong extra length, duplicate name -> InputError', () => {
    assert.throws(() => toDataFrame({ nRows: 0, numeric: {}, text: {} }), InputError);
    assert.throws(() => toDataFrame(small, { x: [1, 2] }), /column 'x' has 2 values, the table has 3 rows/);
    assert.throws(() => toDataFrame(small, { a: [1, 2, 3] }), /duplicate column 'a'/);
  });
});
