import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InputError, SchemaError } from '../../src/errors.ts';
import { Preprocessor, UNKNOWN } from '../../src/features/preprocessor.ts';
import type { Table } from '../../src/ingest/table.ts';

const table = (bytes: number[], proto: string[]): Table => ({
  nRows: bytes.length,
  numeric: { bytes: Float64Array.from(bytes), rate: Float64Array.from(bytes.map((_, i) => i % 2)) },
  text: { proto },
});

const fields = [
  { name: 'bytes', kind: 'numeric' as const, transform: 'log1p' as const },
  { name: 'rate', kind: 'numeric' as const },
  { name: 'proto', kind: 'categorical' as const },
];

describe('Preprocessor', () => {
  test('log1p then standard scaling; one-hot with an unknown slot; output → field map', () => {
    const p = new Preprocessor(fields).fit(table([0, 10, 100, 1000], ['tcp', 'udp', 'tcp', 'icmp']));
    assert.deepEqual(p.outputNames(), [
      'bytes',
      'rate',
      'proto=icmp',
      'proto=tcp',
      'proto=udp',
      `proto=${UNKNOWN}`,
    ]);
    assert.deepEqual(Array.from(p.outputField()), [0, 1, 2, 2, 2, 2]);
    const { X } = p.transform(table([0, 10, 100, 1000], ['tcp', 'udp', 'tcp', 'icmp']));
    let mean = 0;
    for (let i = 0; i < 4; i++) mean += X.data[i * 6]!;
    assert.ok(Math.abs(mean / 4) < 1e-6, 'scaled column has mean 0');
    assert.equal(X.data[0 * 6 + 3], 1); // tcp
    const s = p.toState();
    assert.ok(
      Math.abs(s.means.bytes! - (Math.log1p(0) + Math.log1p(10) + Math.log1p(100) + Math.log1p(1000)) / 4) <
        1e-12,
    );
  });

  test('unseen categories fall into the unknown slot and are counted, never refit', () => {
    const p = new Preprocessor(fields).fit(table([1, 2], ['tcp', 'udp']));
    const { X, report } = p.transform(table([1, 2, 3], ['tcp', 'sctp', 'gre']));
    assert.equal(report.unknownCategories.proto, 2);
    assert.equal(X.data[1 * X.cols + 2 + 2], 1);
  });

  test('missing numbers: imputed and counted by default, refused with missing=fail', () => {
    const p = new Preprocessor(fields).fit(table([1, 2, 3], ['tcp', 'udp', 'tcp']));
    const t = table([1, Number.NaN, 3], ['tcp', 'udp', 'tcp']);
    const { X, report } = p.transform(t);
    assert.equal(report.imputed.bytes, 1);
    assert.equal(X.data[1 * X.cols], 0);
    const strict = new Preprocessor(fields, { missing: 'fail' }).fit(table([1, 2, 3], ['tcp', 'udp', 'tcp']));
    assert.throws(
      () => strict.transform(t),
      (e: Error) => e instanceof InputError && /row 1/.test(e.message),
    );
    const inf = table([1, Number.POSITIVE_INFINITY, 3], ['tcp', 'udp', 'tcp']);
    assert.throws(() => p.transform(inf), /not a finite number/);
  });

  test('constant columns are kept harmless (scale 1) and reported', () => {
    const t: Table = { nRows: 3, numeric: { c: Float64Array.from([5, 5, 5]) }, text: {} };
    const p = new Preprocessor([{ name: 'c', kind: 'numeric' }]).fit(t);
    assert.deepEqual(p.toState().constantFields, ['c']);
    assert.deepEqual(Array.from(p.transform(t).X.data), [0, 0, 0]);
  });

  test('labels are never features; missing columns are named', () => {
    assert.throws(() => new Preprocessor([{ name: 'label', kind: 'categorical' }]), SchemaError);
    assert.throws(
      () => new Preprocessor([{ name: 'difficulty', kind: 'numeric' }]),
      /labels are never features/,
    );
    const p = new Preprocessor(fields).fit(table([1, 2], ['tcp', 'udp']));
    const t: Table = { nRows: 1, numeric: { bytes: Float64Array.from([1]) }, text: { proto: ['tcp'] } };
    assert.throws(
      () => p.transform(t),
      (e: Error) => e instanceof SchemaError && /rate \(numeric\)/.test(e.message),
    );
  });

  test('state round trip transforms identically', () => {
    const t = table([0, 5, 50], ['tcp', 'udp', 'tcp']);
    const p = new Preprocessor(fields, { scaleOneHot: true }).fit(t);
    const q = Preprocessor.fromState(JSON.parse(JSON.stringify(p.toState())));
    assert.deepEqual(Array.from(q.transform(t).X.data), Array.from(p.transform(t).X.data));
  });
});
