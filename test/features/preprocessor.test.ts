import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InputError, SchemaError } from '../../src/errors.ts';
import { expandEncoded } from '../../src/features/encoded.ts';
import { kddFieldSpecs } from '../../src/features/kdd-fields.ts';
import {
  forwardValue,
  inverseValue,
  Preprocessor,
  symLog1p,
  UNKNOWN,
} from '../../src/features/preprocessor.ts';
import type { Matrix, Table } from '../../src/ingest/table.ts';
import { nslNormalTable, nslTestWithNaNs } from '../helpers/data.ts';

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

  test('a field constant in training gets its minScale (scale 1 without one)', () => {
    const t: Table = { nRows: 3, numeric: { r: Float64Array.from([0, 0, 0]) }, text: {} };
    const spec = { name: 'r', kind: 'numeric' as const, transform: 'none' as const };
    const floored = new Preprocessor([{ ...spec, minScale: 0.1 }]).fit(t);
    assert.equal(floored.toState().scales.r, 0.1);
    assert.deepEqual(floored.toState().constantFields, ['r']);
    const probe: Table = { nRows: 1, numeric: { r: Float64Array.from([0.5]) }, text: {} };
    assert.ok(Math.abs(floored.transform(probe).X.data[0]! - 5) < 1e-6, '0.5 is five floors away');
    assert.equal(new Preprocessor([spec]).fit(t).toState().scales.r, 1);
  });

  test('log1p in a unit: log1p(v / unit), scale floored at minScale, inverse and state round trip', () => {
    const times = [0, 0.0001, 0.0002, 0.0003]; // seconds: 0 … 0.3 ms
    const t: Table = { nRows: 4, numeric: { d: Float64Array.from(times) }, text: {} };
    const spec = { name: 'd', kind: 'numeric' as const, transform: 'log1p' as const, logUnit: 1e-4 };
    const plain = new Preprocessor([spec]).fit(t).toState();
    const logs = times.map((v) => Math.log1p(v / 1e-4));
    const mean = logs.reduce((a, b) => a + b) / 4;
    const std = Math.sqrt(logs.reduce((a, b) => a + (b - mean) ** 2, 0) / 4);
    assert.ok(Math.abs(plain.means.d! - mean) < 1e-12 && Math.abs(plain.scales.d! - std) < 1e-12);
    assert.ok(std < 1, 'the spread of these values is below the floor used next');
    const floored = new Preprocessor([{ ...spec, minScale: 1 }]).fit(t);
    assert.equal(floored.toState().scales.d, 1);
    const { X } = floored.transform(t);
    for (const [i, v] of times.entries())
      assert.ok(Math.abs(X.data[i]! - (Math.log1p(v / 1e-4) - mean)) < 1e-6);
    const [f] = floored.fieldSpecs();
    for (const v of [0, 0.05, 3, -2]) assert.ok(Math.abs(inverseValue(f!, forwardValue(f!, v)) - v) < 1e-12);
    const again = Preprocessor.fromState(JSON.parse(JSON.stringify(floored.toState())));
    assert.deepEqual(Array.from(again.transform(t).X.data), Array.from(X.data));
    // a state written before logUnit / minScale existed reads as unit 1, no floor
    const old = JSON.parse(
      JSON.stringify(
        new Preprocessor(fields).fit(table([0, 10, 100, 1000], ['tcp', 'udp', 'tcp', 'icmp'])).toState(),
      ),
    );
    for (const g of old.fields) {
      delete g.logUnit;
      delete g.minScale;
    }
    const restored = Preprocessor.fromState(old);
    assert.deepEqual(
      restored.fieldSpecs().map((g) => [g.logUnit, g.minScale]),
      fields.map(() => [1, 0]),
    );
    const rows = table([5, 50, 500, 5], ['tcp', 'tcp', 'udp', 'x']);
    assert.ok(
      Math.abs(restored.transform(rows).X.data[0]! - (symLog1p(5) - old.means.bytes) / old.scales.bytes) <
        1e-6,
    );
  });

  test('a numeric field with no value in any training row is left out, and stays out', () => {
    const withEmpty = [...fields, { name: 'pkt_len_min', kind: 'numeric' as const }];
    const t = table([0, 10, 100, 1000], ['tcp', 'udp', 'tcp', 'icmp']);
    const empty: Table = {
      ...t,
      numeric: { ...t.numeric, pkt_len_min: new Float64Array(4).fill(Number.NaN) },
    };
    const p = new Preprocessor(withEmpty).fit(empty);
    assert.deepEqual([...p.droppedFields()], ['pkt_len_min']);
    assert.deepEqual(
      p.fieldSpecs().map((f) => f.name),
      ['bytes', 'rate', 'proto'],
    );
    const reference = new Preprocessor(fields).fit(t);
    assert.deepEqual(p.outputNames(), reference.outputNames());
    // scoring: the column absent, or present with values, gives what the reference gives
    const want = Array.from(reference.transform(t).X.data);
    assert.deepEqual(Array.from(p.transform(t).X.data), want);
    const valued: Table = { ...t, numeric: { ...t.numeric, pkt_len_min: Float64Array.from([1, 2, 3, 4]) } };
    const r = p.transform(valued);
    assert.deepEqual(Array.from(r.X.data), want);
    assert.deepEqual(r.report.imputed, {});
    // the state keeps the list; a reloaded preprocessor behaves the same
    const again = Preprocessor.fromState(JSON.parse(JSON.stringify(p.toState())));
    assert.deepEqual([...again.droppedFields()], ['pkt_len_min']);
    assert.deepEqual(Array.from(again.transform(t).X.data), want);
    // refitting on data that has the field brings it back
    p.fit(valued);
    assert.deepEqual([...p.droppedFields()], []);
    assert.equal(p.fieldSpecs().length, 4);
    // missing='fail' refuses it; nothing left at all is an error
    assert.throws(() => new Preprocessor(withEmpty, { missing: 'fail' }).fit(empty), {
      name: 'InputError',
      message: "field 'pkt_len_min' has no value in any training row",
    });
    const only = new Preprocessor([{ name: 'pkt_len_min', kind: 'numeric' }]);
    assert.throws(() => only.fit(empty), /no field has a value in any training row \(pkt_len_min\)/);
  });
});

/** Bitwise equality of two float32 matrices (−0 and 0 told apart). */
function sameMatrix(a: Matrix, b: Matrix): void {
  assert.equal(a.rows, b.rows);
  assert.equal(a.cols, b.cols);
  const x = new Int32Array(a.data.buffer, a.data.byteOffset, a.data.length);
  const y = new Int32Array(b.data.buffer, b.data.byteOffset, b.data.length);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i])
      assert.fail(`row ${Math.floor(i / a.cols)} column ${i % a.cols}: ${a.data[i]} vs ${b.data[i]}`);
  }
}

/** NSL-KDD: preprocessing fitted on the 20 % training normals; KDDTest+ with NaN holes. */
async function nslSetup(options = {}) {
  const pre = new Preprocessor(kddFieldSpecs(), options).fit(await nslNormalTable());
  return { pre, test: await nslTestWithNaNs() };
}

describe('Preprocessor.transformEncoded', () => {
  test('transform() equals a cell-by-cell reference computed from the fitted state (real rows, NaN, unseen values)', async () => {
    const { pre, test: t } = await nslSetup();
    const { X } = pre.transform(t);
    const s = pre.toState();
    let col = 0;
    for (const f of s.fields) {
      if (f.kind === 'numeric') {
        const v = t.numeric[f.name]!;
        const scale = s.scales[f.name]! / f.weight;
        for (let i = 0; i < t.nRows; i++) {
          const raw = v[i]!;
          const want = Number.isNaN(raw)
            ? 0
            : ((f.transform === 'log1p' ? symLog1p(raw) : raw) - s.means[f.name]!) / scale;
          if (X.data[i * X.cols + col] !== Math.fround(want)) assert.fail(`${f.name} row ${i}`);
        }
        col += 1;
      } else {
        const vocab = s.vocabularies[f.name]!;
        for (let i = 0; i < t.nRows; i++) {
          const j = vocab.indexOf(t.text[f.name]![i]!);
          const hot = j < 0 ? vocab.length : j;
          for (let c = 0; c <= vocab.length; c++) {
            if (X.data[i * X.cols + col + c] !== (c === hot ? f.weight : 0))
              assert.fail(`${f.name} row ${i}`);
          }
        }
        col += vocab.length + 1;
      }
    }
    assert.equal(col, X.cols);
  });

  test('expands to exactly transform() on real NSL-KDD test rows (unseen categories, NaN), same report', async () => {
    const { pre, test: t } = await nslSetup();
    const dense = pre.transform(t);
    const enc = pre.transformEncoded(t);
    assert.equal(enc.inverse, null);
    assert.deepEqual(enc.report, dense.report);
    assert.ok(
      (enc.report.unknownCategories.service ?? 0) > 0,
      'the test rows hold services unseen in training',
    );
    assert.ok((enc.report.imputed.src_bytes ?? 0) > 200, 'NaN values were imputed');
    const layout = enc.E.layout;
    assert.equal(layout.cols, dense.X.cols);
    assert.equal(layout.numericColumns.length, 38);
    assert.deepEqual(
      layout.categorical.map((b) => [b.field, b.weight]),
      [
        ['protocol_type', 2],
        ['service', 2],
        ['flag', 2],
      ],
    );
    // Each block is one field's columns, the unknown slot last.
    const names = pre.outputNames();
    for (const b of layout.categorical) {
      assert.equal(names[b.offset], `${b.field}=${pre.toState().vocabularies[b.field]![0]}`);
      assert.equal(names[b.offset + b.width - 1], `${b.field}=${UNKNOWN}`);
    }
    sameMatrix(expandEncoded(enc.E), dense.X);
  });

  test('distinct: each distinct row once, inverse maps every row back; same report', async () => {
    const { pre, test: t } = await nslSetup();
    const dense = pre.transform(t);
    const { E, inverse, report } = pre.transformEncoded(t, { distinct: true });
    assert.deepEqual(report, dense.report);
    assert.ok(inverse && inverse.length === t.nRows);
    assert.ok(E.rows < t.nRows && E.rows > 0.9 * t.nRows, `distinct rows ${E.rows} of ${t.nRows}`);
    const U = expandEncoded(E);
    const d = U.cols;
    const back = new Float32Array(t.nRows * d);
    for (let i = 0; i < t.nRows; i++)
      back.set(U.data.subarray(inverse[i]! * d, (inverse[i]! + 1) * d), i * d);
    sameMatrix({ data: back, rows: t.nRows, cols: d }, dense.X);
    // Distinct rows really are distinct.
    const seen = new Set<string>();
    for (let u = 0; u < U.rows; u++)
      seen.add(Buffer.from(U.data.buffer, u * d * 4, d * 4).toString('latin1'));
    assert.equal(seen.size, U.rows);
  });

  test('same errors as transform: missing=fail, infinite values, missing columns; not with scaleOneHot', async () => {
    const p = new Preprocessor(fields, { missing: 'fail' }).fit(table([1, 2, 3], ['tcp', 'udp', 'tcp']));
    // The first bad field in field order is named, at its first bad row, even when a later
    // field has an earlier bad row.
    const t: Table = {
      nRows: 3,
      numeric: { bytes: Float64Array.from([1, 2, Number.NaN]), rate: Float64Array.from([Number.NaN, 0, 1]) },
      text: { proto: ['tcp', 'udp', 'tcp'] },
    };
    const message = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        assert.ok(e instanceof InputError);
        return e.message;
      }
      assert.fail('no error');
    };
    const expected = message(() => p.transform(t));
    assert.match(expected, /field 'bytes' row 2/);
    assert.equal(
      message(() => p.transformEncoded(t)),
      expected,
    );
    assert.equal(
      message(() => p.transformEncoded(t, { distinct: true })),
      expected,
    );
    const lax = new Preprocessor(fields).fit(table([1, 2, 3], ['tcp', 'udp', 'tcp']));
    const inf = table([1, Number.NEGATIVE_INFINITY, 3], ['tcp', 'udp', 'tcp']);
    assert.throws(() => lax.transformEncoded(inf), /row 1: value -Infinity is not a finite number/);
    const short: Table = { nRows: 1, numeric: { bytes: Float64Array.from([1]) }, text: { proto: ['tcp'] } };
    assert.throws(() => lax.transformEncoded(short), SchemaError);
    const scaled = new Preprocessor(fields, { scaleOneHot: true }).fit(table([1, 2], ['tcp', 'udp']));
    assert.equal(scaled.encodable, false);
    assert.equal(lax.encodable, true);
    assert.throws(() => scaled.transformEncoded(table([1], ['tcp'])), /scaleOneHot/);
  });

  test('tables longer than one block of rows, with repeats far apart and side by side', () => {
    const n = 5000;
    const bytes = Array.from({ length: n }, (_, i) => (i < 2500 ? Math.floor(i / 5) % 7 : (i * 13) % 3001));
    const proto = Array.from({ length: n }, (_, i) => ['tcp', 'udp', 'icmp', 'gre'][(i >> 3) % 4]!);
    const p = new Preprocessor(fields).fit(table(bytes.slice(0, 24), proto.slice(0, 24))); // no gre
    const t = table(bytes, proto);
    const dense = p.transform(t);
    const { E, inverse, report } = p.transformEncoded(t, { distinct: true });
    assert.deepEqual(report, dense.report);
    assert.equal(report.unknownCategories.proto, proto.filter((v) => v === 'gre').length);
    const U = expandEncoded(E);
    const d = U.cols;
    for (let i = 0; i < n; i++) {
      assert.deepEqual(
        Array.from(U.data.subarray(inverse![i]! * d, (inverse![i]! + 1) * d)),
        Array.from(dense.X.data.subarray(i * d, (i + 1) * d)),
      );
    }
  });
});
