import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fieldImportance, varianceByColumn } from '../../src/explain/importance.ts';
import type { FieldSpec } from '../../src/features/preprocessor.ts';
import { AnomalyDetector } from '../../src/model/detector.ts';
import { Rng } from '../../src/model/random.ts';
import { SYN_FIELDS, syntheticTable } from './synthetic.ts';

describe('fieldImportance on data where the answer is known', async () => {
  const { table } = syntheticTable(1500, 7);
  const det = await new AnomalyDetector(SYN_FIELDS, { k: 3, seed: 0, engine: 'js', nInit: 10 }).fit(table);

  test('the informative field separates the clusters; noise fields do not', async () => {
    const imp = await fieldImportance(det, table, { sampleSize: 600, seed: 3 });
    const by = Object.fromEntries(imp.map((f) => [f.field, f]));
    assert.deepEqual(
      imp.map((f) => f.field),
      ['signal', 'noise1', 'noise2', 'colour'],
    );
    assert.ok(by.signal!.separation > 100, `signal separation ${by.signal!.separation}`);
    for (const f of ['noise1', 'noise2', 'colour'])
      assert.ok(by[f]!.separation < 0.05, `${f}: ${by[f]!.separation}`);
  });

  test('a field made of separated groups barely moves the score when shuffled (values land on other centres)', async () => {
    // Known answer for K-Means: a shuffled `signal` value sits on another group's centre, and the
    // row is simply re-assigned there, so the score hardly changes though separation is huge.
    const imp = await fieldImportance(det, table, { sampleSize: 600, seed: 3 });
    const by = Object.fromEntries(imp.map((f) => [f.field, f]));
    assert.ok(by.signal!.scoreImportance < by.noise1!.scoreImportance * 2);
    assert.ok(Math.abs(imp.reduce((t, f) => t + f.scoreShare, 0) - 1) < 1e-9);
  });

  test('the field that carries the anomalies moves the anomaly score most; a constant field not at all', async () => {
    const rng = new Rng(11);
    const make = (n: number, anomalous: number) => {
      const a = Float64Array.from({ length: n }, (_, i) => (i < anomalous ? 8 : 0) + rng.normal());
      const col = () => Float64Array.from({ length: n }, () => rng.normal());
      return { nRows: n, numeric: { a, n1: col(), n2: col(), flat: new Float64Array(n).fill(5) }, text: {} };
    };
    const fields: FieldSpec[] = ['a', 'n1', 'n2', 'flat'].map((name) => ({ name, kind: 'numeric' as const }));
    const d2 = await new AnomalyDetector(fields, { k: 4, seed: 0, engine: 'js' }).fit(make(1500, 0));
    // Evaluation rows: 20 % are anomalous in `a` only.
    const imp = await fieldImportance(d2, make(1000, 200), { sampleSize: 800, seed: 3, repeats: 2 });
    const sorted = [...imp].sort((x, y) => y.scoreImportance - x.scoreImportance);
    assert.equal(sorted[0]!.field, 'a');
    assert.ok(sorted[0]!.scoreImportance > 3 * sorted[1]!.scoreImportance, JSON.stringify(sorted));
    assert.equal(imp.find((f) => f.field === 'flat')!.scoreImportance, 0);
    assert.equal(imp.find((f) => f.field === 'flat')!.separation, 0);
  });

  test('seeded: the same seed gives the same importances', async () => {
    const a = await fieldImportance(det, table, { sampleSize: 300, seed: 5 });
    const b = await fieldImportance(det, table, { sampleSize: 300, seed: 5 });
    assert.deepEqual(a, b);
  });

  test('between + within = total variance per column', () => {
    const X = { data: Float32Array.from([0, 1, 2, 3, 10, 11]), rows: 6, cols: 1 };
    const { between, within } = varianceByColumn(X, Int32Array.from([0, 0, 0, 0, 1, 1]), 2);
    const mean = 27 / 6;
    const total = [0, 1, 2, 3, 10, 11].reduce((t, v) => t + (v - mean) ** 2, 0) / 6;
    assert.ok(Math.abs(between[0]! + within[0]! - total) < 1e-9);
    assert.ok(Math.abs(within[0]! - (1.25 * 4 + 0.25 * 2) / 6) < 1e-9);
  });
});
