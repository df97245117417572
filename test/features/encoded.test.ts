import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InputError } from '../../src/errors.ts';
import {
  checkEncoded,
  dedupeEncoded,
  type EncodedLayout,
  type EncodedMatrix,
  encodeDense,
  encodedRowSlice,
  expandEncoded,
  sameLayout,
  takeEncodedRows,
} from '../../src/features/encoded.ts';
import { kddFieldSpecs } from '../../src/features/kdd-fields.ts';
import { Preprocessor } from '../../src/features/preprocessor.ts';
import { Rng } from '../../src/model/random.ts';
import { kdd } from '../helpers/data.ts';

// Columns: num, a=0, a=1, a=?, num, b=0, b=?
const layout: EncodedLayout = {
  cols: 7,
  numericColumns: Int32Array.from([0, 4]),
  categorical: [
    { field: 'a', offset: 1, width: 3, weight: 2 },
    { field: 'b', offset: 5, width: 2, weight: 0.3 },
  ],
};

const enc = (numeric: number[], codes: number[]): EncodedMatrix => ({
  rows: codes.length / 2,
  layout,
  numeric: Float32Array.from(numeric),
  codes: Int32Array.from(codes),
});

describe('encoded rows', () => {
  test('expandEncoded and encodeDense are inverse; the hot value is the float32 weight', () => {
    const E = enc([1.5, -2, 0, 7], [2, 1, 0, 0]);
    const X = expandEncoded(E);
    const w = Math.fround(0.3);
    assert.deepEqual(Array.from(X.data), [1.5, 0, 0, 2, -2, 0, w, 0, 2, 0, 0, 7, w, 0]);
    const back = encodeDense(X, layout);
    assert.ok(back);
    assert.deepEqual(Array.from(back.numeric), Array.from(E.numeric));
    assert.deepEqual(Array.from(back.codes), Array.from(E.codes));
  });

  test('encodeDense refuses matrices that are not one-hot as the layout says', () => {
    const X = expandEncoded(enc([1, 2, 3, 4], [0, 1, 2, 0]));
    const broken = (edit: (d: Float32Array) => void) => {
      const data = Float32Array.from(X.data);
      edit(data);
      return encodeDense({ data, rows: 2, cols: 7 }, layout);
    };
    assert.ok(broken(() => {}));
    assert.equal(
      broken((d) => (d[1] = 0)),
      null,
      'no hot slot',
    );
    assert.equal(
      broken((d) => (d[2] = 2)),
      null,
      'two hot slots',
    );
    assert.equal(
      broken((d) => (d[1] = 1)),
      null,
      'hot value is not the weight',
    );
    assert.equal(
      broken((d) => (d[4] = Number.NaN)),
      null,
      'non-finite numeric value',
    );
    assert.equal(encodeDense({ data: new Float32Array(12), rows: 2, cols: 6 }, layout), null);
  });

  test('dedupeEncoded: distinct rows in order of first appearance, −0 and 0 kept apart', () => {
    const E = enc([1, 2, 1, 2, 3, 4, 1, 2, -0, 0, 0, 0, 1, 2], [0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 1, 0, 1]);
    const { unique, inverse } = dedupeEncoded(E);
    assert.deepEqual(Array.from(inverse!), [0, 0, 1, 0, 2, 3, 4]);
    assert.deepEqual(Array.from(unique.numeric), [1, 2, 3, 4, -0, 0, 0, 0, 1, 2]);
    assert.deepEqual(Array.from(unique.codes), [0, 0, 0, 1, 1, 1, 1, 1, 0, 1]);
    const once = enc([1, 2, 3, 4], [0, 0, 0, 0]);
    const d = dedupeEncoded(once);
    assert.equal(d.inverse, null);
    assert.equal(d.unique, once);
  });

  test('dedupeEncoded on many rows (hash table and buffers grow) against a Map of row keys', () => {
    const rng = new Rng(4);
    const n = 30000;
    const numeric = new Float32Array(2 * n);
    const codes = new Int32Array(2 * n);
    for (let i = 0; i < n; i++) {
      const v = rng.int(9000); // ~ 9000 × 6 possible rows: most distinct, many repeats
      numeric[2 * i] = v / 7;
      numeric[2 * i + 1] = v % 3;
      codes[2 * i] = rng.int(3);
      codes[2 * i + 1] = rng.int(2);
      if (i % 10 === 9) {
        numeric.copyWithin(2 * i, 2 * (i - 1), 2 * i); // back-to-back repeats
        codes.copyWithin(2 * i, 2 * (i - 1), 2 * i);
      }
    }
    const E: EncodedMatrix = { rows: n, layout, numeric, codes };
    const { unique, inverse } = dedupeEncoded(E);
    const key = (M: EncodedMatrix, i: number) =>
      `${M.numeric[2 * i]},${M.numeric[2 * i + 1]},${M.codes[2 * i]},${M.codes[2 * i + 1]}`;
    const first = new Map<string, number>();
    for (let i = 0; i < n; i++) if (!first.has(key(E, i))) first.set(key(E, i), first.size);
    assert.ok(first.size > 5000, `${first.size} distinct rows`);
    assert.equal(unique.rows, first.size);
    for (let i = 0; i < n; i++) {
      assert.equal(inverse![i], first.get(key(E, i)));
      assert.equal(key(unique, inverse![i]!), key(E, i));
    }
  });

  test('slices, row picks, layout comparison and checks', () => {
    const E = enc([1, 2, 3, 4, 5, 6], [0, 0, 1, 1, 2, 0]);
    const s = encodedRowSlice(E, 1, 3);
    assert.deepEqual(Array.from(s.numeric), [3, 4, 5, 6]);
    assert.deepEqual(Array.from(s.codes), [1, 1, 2, 0]);
    const t = takeEncodedRows(E, [2, 0]);
    assert.deepEqual(Array.from(t.numeric), [5, 6, 1, 2]);
    assert.deepEqual(Array.from(t.codes), [2, 0, 0, 0]);
    assert.ok(sameLayout(layout, { ...layout, numericColumns: Int32Array.from([0, 4]) }));
    assert.ok(!sameLayout(layout, { ...layout, categorical: [layout.categorical[0]!] }));
    checkEncoded(E, 'test');
    assert.throws(
      () => checkEncoded(enc([1, 2], [3, 0]), 'test'),
      (e: Error) => e instanceof InputError && /code 3/.test(e.message),
    );
    assert.throws(() => checkEncoded(enc([1, Number.POSITIVE_INFINITY], [0, 0]), 'test'), /non-finite/);
    assert.throws(() => checkEncoded({ ...E, rows: 4 }, 'test'), /4 rows/);
  });

  test('real NSL-KDD rows: the preprocessor layout round-trips through encodeDense', async () => {
    const t = (await kdd('nsl-kdd/KDDTest+.txt')).table;
    const pre = new Preprocessor(kddFieldSpecs()).fit(t);
    const { X } = pre.transform(t);
    const E = encodeDense(X, pre.encodedLayout());
    assert.ok(E);
    const direct = pre.transformEncoded(t).E;
    assert.deepEqual(E.numeric, direct.numeric);
    assert.deepEqual(E.codes, direct.codes);
  });
});
