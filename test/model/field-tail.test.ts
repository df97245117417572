import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { explainRows } from '../../src/explain/explain-flow.ts';
import type { EncodedMatrix } from '../../src/features/encoded.ts';
import type { FieldSpec } from '../../src/features/preprocessor.ts';
import type { Table } from '../../src/ingest/table.ts';
import { AnomalyDetector, type DetectorState } from '../../src/model/detector.ts';
import { combineScores, FieldTail } from '../../src/model/field-tail.ts';
import { Rng } from '../../src/model/random.ts';

/** Encoded rows of two numeric columns (a normal one and a constant one) and one categorical. */
function encoded(rows: number, seed: number, cats: number[]): EncodedMatrix {
  const rng = new Rng(seed);
  const numeric = new Float32Array(rows * 2);
  for (let i = 0; i < rows; i++) {
    numeric[i * 2] = rng.normal();
    numeric[i * 2 + 1] = 0;
  }
  return {
    rows,
    layout: {
      cols: 2 + 5,
      numericColumns: Int32Array.from([0, 1]),
      categorical: [{ field: 'service', offset: 2, width: 5, weight: 2 }],
    },
    numeric,
    codes: Int32Array.from({ length: rows }, (_, i) => cats[i % cats.length]!),
  };
}

/** Category codes: 0 for most rows, 1 and 2 sometimes, 3 once (a singleton); 4 is "unknown". */
const CATS = [...new Array<number>(96).fill(0), 1, 1, 2, 3];

function fitted(n = 2000, tails: 'upper' | 'both' = 'upper') {
  const E = encoded(n, 1, CATS.slice(0, Math.min(CATS.length, n)));
  const tail = FieldTail.fit(E, { tails }, ['x', 'flat']);
  // calibration rows: K-Means scores 1.00 … 1.99 and the rows' own rarity
  const km = Float64Array.from({ length: n }, (_, i) => 1 + (i % 100) / 100);
  tail.calibrate(km, tail.scoreEncoded(E).p);
  return { E, tail };
}

describe('FieldTail', () => {
  test('a numeric field: conformal tail p-values on new rows from the same distribution', () => {
    const { tail } = fitted(2000);
    const fresh = encoded(4000, 2, [0]);
    // only field x varies; the rarity p of a row is 3 × its p for x (m = 3 fields) when x is rarest
    const r = tail.scoreEncoded(fresh);
    let below = 0;
    for (let i = 0; i < fresh.rows; i++) if (r.p[i]! <= 0.15) below++;
    // P(3·p⁺ ≤ 0.15) = P(p⁺ ≤ 0.05) ≈ 0.05 for exchangeable rows
    const share = below / fresh.rows;
    assert.ok(share > 0.035 && share < 0.065, `share with p ≤ 0.15: ${share}`);
  });

  test('beyond the training range the tail keeps falling; a constant field is rare at any other value', () => {
    const { tail, E } = fitted(1000);
    const n1 = 1001;
    const probe: EncodedMatrix = {
      ...E,
      rows: 4,
      numeric: Float32Array.from([0, 0, 0, 0.5, 0, 3, 0, -3]),
      codes: Int32Array.from([0, 0, 0, 0]),
    };
    const r = tail.scoreEncoded(probe);
    assert.equal(r.p[0], 1, 'an ordinary row is not rare');
    assert.equal(r.field[1], 1, 'the constant field is the rare one');
    assert.ok(Math.abs(r.p[1]! - Math.min(1, (3 * Math.exp(-0.5)) / n1)) < 1e-12, `p ${r.p[1]}`);
    assert.ok(r.p[2]! < r.p[1]!, 'further out is rarer');
    assert.equal(r.p[3], 1, 'a low value is not rare with upper tails');
    const both = FieldTail.fit(E, { tails: 'both' }, ['x', 'flat']);
    const rb = both.scoreEncoded(probe);
    assert.ok(rb.p[3]! < 0.01, 'with both tails a low value is rare too');
    assert.equal(rb.field[3], 1);
  });

  test('categories: frequent ones are not rare, a singleton and an unseen one are', () => {
    const { tail, E } = fitted(1000);
    const probe: EncodedMatrix = {
      ...E,
      rows: 4,
      numeric: new Float32Array(8),
      codes: Int32Array.from([0, 2, 3, 4]),
    };
    const r = tail.scoreEncoded(probe);
    assert.equal(r.p[0], 1);
    const n1 = 1001;
    // code 2: 10 rows; categories at most as frequent: 2 (10) and 3 (10) → 20 rows
    assert.ok(Math.abs(r.p[1]! - Math.min(1, (3 * 21) / n1)) < 1e-12, `p ${r.p[1]}`);
    // code 3: 10 rows as well (every 100th row) — the same mass
    assert.equal(r.p[2], r.p[1]);
    // unseen (the unknown slot): Good-Turing mass of singletons (none here) + 1
    assert.ok(Math.abs(r.p[3]! - 3 / n1) < 1e-12, `p ${r.p[3]}`);
    assert.equal(r.field[3], 2, 'the categorical field is named');
  });

  test('the K-Means quantile function: monotone, the training range inside, an exponential tail beyond', () => {
    const { tail } = fitted(2000);
    let prev = Number.NEGATIVE_INFINITY;
    for (const p of [1, 0.5, 0.1, 0.01, 1e-3, 1 / 2001, 1e-5, 1e-8]) {
      const q = tail.kmeansQuantile(p);
      assert.ok(q >= prev, `Q(1 − ${p}) = ${q} < ${prev}`);
      prev = q;
    }
    assert.equal(tail.kmeansQuantile(1), 1);
    assert.ok(Math.abs(tail.kmeansQuantile(0.5) - 1.495) < 0.01);
    assert.ok(tail.kmeansQuantile(1e-8) > 1.99);
    const km = Float64Array.from([1, 5, 2]);
    const drives = combineScores(km, Float64Array.from([3, 3, 3]));
    assert.deepEqual([...km], [3, 5, 3]);
    assert.deepEqual([...drives], [1, 0, 1]);
  });

  test('dense and encoded scoring agree', () => {
    const { tail } = fitted(500);
    const E = encoded(300, 9, [0, 1, 4, 3]);
    const d = E.layout.cols;
    const data = new Float32Array(E.rows * d);
    for (let i = 0; i < E.rows; i++) {
      data[i * d] = E.numeric[i * 2]!;
      data[i * d + 1] = E.numeric[i * 2 + 1]! + (i % 7 === 0 ? 2 : 0);
      data[i * d + 2 + E.codes[i]!] = 2;
    }
    const E2 = {
      ...E,
      numeric: Float32Array.from({ length: E.rows * 2 }, (_, j) => data[Math.floor(j / 2) * d + (j % 2)]!),
    };
    const a = tail.scoreEncoded(E2);
    const b = tail.scoreDense({ data, rows: E.rows, cols: d }, E.layout);
    assert.deepEqual([...a.p], [...b.p]);
    assert.deepEqual([...a.field], [...b.field]);
  });
});

/** Flow-like rows: two varying fields, one always 0 in training, one category. */
function table(n: number, seed: number, odd: (i: number) => boolean): Table {
  const rng = new Rng(seed);
  return {
    nRows: n,
    numeric: {
      bytes: Float64Array.from({ length: n }, () => Math.exp(5 + rng.normal())),
      packets: Float64Array.from({ length: n }, () => 3 + rng.int(4)),
      auth_failures: Float64Array.from({ length: n }, (_, i) => (odd(i) ? 6 : 0)),
    },
    text: { proto: Array.from({ length: n }, (_, i) => (i % 3 ? 'tcp' : 'udp')) },
  };
}
const FIELDS: FieldSpec[] = [
  { name: 'bytes', kind: 'numeric', transform: 'log1p' },
  { name: 'packets', kind: 'numeric' },
  { name: 'auth_failures', kind: 'numeric', transform: 'log1p' },
  { name: 'proto', kind: 'categorical' },
];

describe('AnomalyDetector with the field tail', () => {
  test('one extreme field the distance drowns: flagged with the tail, not without; state round trip', async () => {
    const train = table(600, 3, () => false);
    const identity = {
      src_ip: Array.from({ length: 600 }, (_, i) => `10.0.0.${i % 20}`),
      start_time: Float64Array.from({ length: 600 }, (_, i) => i),
    };
    const opts = { k: 4, ensembleK: [], seed: 0 };
    const on = await new AnomalyDetector(FIELDS, opts).fit(train, { identity });
    const off = await new AnomalyDetector(FIELDS, { ...opts, fieldTail: 'off' }).fit(train, { identity });
    const noIdentity = await new AnomalyDetector(FIELDS, opts).fit(train);
    assert.ok(on.fieldTail, "'auto' with flow identity uses the tail");
    assert.equal(off.fieldTail, null);
    assert.equal(noIdentity.fieldTail, null, "'auto' without identity (NSL-KDD, CSV) does not");
    assert.deepEqual(on.training.fieldTail, { fields: 4, tails: 'both' });
    const test = table(200, 4, (i) => i % 10 === 0);
    const sOn = await on.evaluateRows(test);
    const sOff = await off.evaluateRows(test);
    let flaggedOn = 0;
    let flaggedOff = 0;
    for (let i = 0; i < 200; i += 10) {
      flaggedOn += sOn.isAnomaly[i]!;
      flaggedOff += sOff.isAnomaly[i]!;
      assert.equal(sOn.rarity!.fields[sOn.rarity!.field[i]!], 'auth_failures');
    }
    assert.equal(flaggedOn, 20, 'every row with auth failures is flagged with the tail');
    assert.ok(flaggedOff < 20, `without the tail ${flaggedOff} of 20 (the distance drowns one field)`);
    // the explanation names the rare field when it set the verdict
    const [e] = await explainRows(on, test, [10]);
    assert.equal(e!.rare_field?.field, 'auth_failures');
    assert.equal(e!.rare_field?.value, 6);
    assert.equal(e!.rare_field?.drives_score, true);
    assert.ok(e!.is_anomaly && e!.rare_field!.tail_p < 0.05);
    const again = AnomalyDetector.fromState(JSON.parse(JSON.stringify(on.toState())) as DetectorState);
    assert.deepEqual([...(await again.anomalyScore(test))], [...sOn.anomalyScore]);
    // an older model file (no fieldTail in its state) scores with the K-Means distance alone
    const old = on.toState();
    delete old.fieldTail;
    const oldDet = AnomalyDetector.fromState(old);
    const km = await oldDet.evaluateRows(test);
    assert.equal(km.rarity, undefined);
    for (let i = 0; i < 200; i++) assert.ok(km.anomalyScore[i]! <= sOn.anomalyScore[i]! + 1e-12);
    // a field tail that does not fit the preprocessing (or the schema) is refused, in one line
    const bad = JSON.parse(JSON.stringify(on.toState())) as DetectorState;
    bad.fieldTail!.categorical[0]!.p.push(0.5);
    assert.throws(() => AnomalyDetector.fromState(bad), /field tail: its fields do not match/);
    const worse = JSON.parse(JSON.stringify(on.toState())) as DetectorState;
    worse.fieldTail!.numeric[0]!.atLeast.pop();
    assert.throws(() => AnomalyDetector.fromState(worse), /field tail: .*differ in length/);
  });
});
