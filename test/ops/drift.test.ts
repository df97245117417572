/**
 * Drift monitor on real data: NSL-KDD normals split into fit / reference / unchanged parts, an
 * unchanged stream (no retrain), KDDTest+ (shifted normals and new attacks: retrain), and the
 * unchanged stream with one service's traffic changed (flagged at the clusters that hold it).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { kddFieldSpecs } from '../../src/features/kdd-fields.ts';
import { type Table, takeRows } from '../../src/ingest/table.ts';
import { AnomalyDetector } from '../../src/model/detector.ts';
import { Rng } from '../../src/model/random.ts';
import {
  buildDriftReference,
  type DriftReference,
  ksStatistic,
  measureDrift,
  parseDriftReference,
  psi,
} from '../../src/ops/drift.ts';
import { kdd } from '../helpers/data.ts';

describe('drift statistics', () => {
  it('PSI is 0 for identical shares and grows with the shift', () => {
    const shares = [0.25, 0.25, 0.25, 0.25];
    assert.equal(psi(shares, [25, 25, 25, 25]), 0);
    assert.ok(psi(shares, [40, 20, 20, 20]) < psi(shares, [70, 10, 10, 10]));
    assert.ok(Number.isFinite(psi(shares, [100, 0, 0, 0])));
  });
  it('KS is the largest gap between the empirical CDFs', () => {
    assert.equal(ksStatistic([1, 2, 3], [1, 2, 3]), 0);
    assert.equal(ksStatistic([1, 2], [3, 4]), 1);
    assert.ok(Math.abs(ksStatistic([1, 2, 3, 4], [3, 4, 5, 6]) - 0.5) < 1e-12);
  });
  it('a reference file that is not one is refused in one line', () => {
    assert.throws(
      () => parseDriftReference({ version: 9 }, 'x.json'),
      /x\.json: not a netanomaly drift reference/,
    );
    assert.throws(
      () =>
        parseDriftReference(
          {
            version: 1,
            rows: 1,
            threshold: 1,
            farShare: 0,
            clusters: [{ share: 1, scoreEdges: [NaN], scoreSample: [] }],
          },
          'y.json',
        ),
      /y\.json: cluster undefined of the drift reference is malformed/,
    );
  });
});

describe('drift on NSL-KDD', () => {
  let det: AnomalyDetector;
  let reference: DriftReference;
  let unchanged: Table;

  before(async () => {
    const train = await kdd('nsl-kdd/KDDTrain+_20Percent.txt');
    const normals = train.families.flatMap((f, i) => (f === 'normal' ? [i] : []));
    const order = Array.from(new Rng(1).sample(normals.length, normals.length), (i) => normals[i]!);
    const a = Math.floor(order.length * 0.6);
    const b = Math.floor(order.length * 0.8);
    det = await new AnomalyDetector(kddFieldSpecs(), { k: 16, ensembleK: [32, 64] }).fit(
      takeRows(train.table, order.slice(0, a)),
    );
    reference = await buildDriftReference(det, takeRows(train.table, order.slice(a, b)), 'held-out normals');
    unchanged = takeRows(train.table, order.slice(b));
  });

  it('an unchanged stream is not flagged', async () => {
    const r = await measureDrift(det, reference, unchanged);
    assert.equal(r.retrain, false, r.reasons.join('; '));
    assert.ok(r.sharePsi < 0.1 && r.scorePsi < 0.1, `PSI ${r.sharePsi} / ${r.scorePsi}`);
    assert.equal(r.clusters.filter((c) => c.status === 'shifted' || c.status === 'emptied').length, 0);
  });

  it('KDDTest+ (shifted normals, new attacks) asks for a retrain with its reasons', async () => {
    const test = await kdd('nsl-kdd/KDDTest+.txt');
    const r = await measureDrift(det, reference, test.table);
    assert.equal(r.retrain, true);
    assert.ok(r.sharePsi > 0.25, `share PSI ${r.sharePsi}`);
    assert.ok(r.farShare > 10 * r.referenceFarShare, `far share ${r.farShare} vs ${r.referenceFarShare}`);
    assert.ok(r.reasons.some((s) => /new mass far from every centre/.test(s)));
  });

  it("one service's traffic changing is flagged at the clusters that hold it, and only there", async () => {
    const service = unchanged.text.service!;
    const srcBytes = Float64Array.from(unchanged.numeric.src_bytes!);
    for (let i = 0; i < unchanged.nRows; i++)
      if (service[i] === 'http') srcBytes[i] = srcBytes[i]! * 30 + 5000;
    const shifted: Table = { ...unchanged, numeric: { ...unchanged.numeric, src_bytes: srcBytes } };
    const before = await det.evaluateRows(unchanged);
    const httpRows = new Map<number, number>();
    const rows = new Map<number, number>();
    for (let i = 0; i < unchanged.nRows; i++) {
      const c = before.cluster[i]!;
      rows.set(c, (rows.get(c) ?? 0) + 1);
      if (service[i] === 'http') httpRows.set(c, (httpRows.get(c) ?? 0) + 1);
    }
    const r = await measureDrift(det, reference, shifted);
    assert.equal(r.retrain, true);
    const flagged = new Set(r.clusters.filter((c) => c.status === 'shifted').map((c) => c.cluster));
    // the cluster holding most of the http traffic is flagged …
    const [top] = [...httpRows.entries()].sort((x, y) => y[1] - x[1]);
    assert.ok(flagged.has(top![0]), `cluster ${top![0]} (most http rows) not flagged: ${[...flagged]}`);
    // … and every flagged cluster is one where http traffic lived
    for (const c of flagged) {
      assert.ok(
        (httpRows.get(c) ?? 0) > 0.2 * (rows.get(c) ?? 0),
        `cluster ${c} flagged without http traffic`,
      );
    }
  });

  it('the reference is plain data that round-trips through JSON', () => {
    const back = parseDriftReference(JSON.parse(JSON.stringify(reference)), 'ref.json');
    assert.equal(back.clusters.length, det.k);
    assert.ok(Math.abs(back.clusters.reduce((s, c) => s + c.share, 0) - 1) < 1e-9);
  });
});
