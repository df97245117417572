import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { InputError } from '../../src/errors.ts';
import { kddFieldSpecs } from '../../src/features/kdd-fields.ts';
import type { Matrix } from '../../src/ingest/table.ts';
import { type Table, takeRows } from '../../src/ingest/table.ts';
import { AnomalyDetector } from '../../src/model/detector.ts';
import { getEngine } from '../../src/model/engine.ts';
import { exactDist2 } from '../../src/model/kmeans.ts';
import { kdd, nslNormalTable } from '../helpers/data.ts';

let detector: AnomalyDetector;
let rows: Table;

/** The detector's scores computed the dense way: every run, float64 distances, from exportRuns. */
async function denseReference(det: AnomalyDetector, X: Matrix) {
  const js = await getEngine('js');
  const runs = det.exportRuns();
  const score = new Float64Array(X.rows);
  let cluster: Int32Array = new Int32Array(0);
  let dist2: Float64Array = new Float64Array(0);
  for (const [r, run] of runs.entries()) {
    const C = { data: run.centers, rows: run.k, cols: X.cols };
    const { labels } = await js.nearest(X, C);
    const d2 = exactDist2(X, C, labels);
    if (r === 0) {
      cluster = labels;
      dist2 = d2;
    }
    for (let i = 0; i < X.rows; i++) score[i]! += Math.sqrt(d2[i]!) / run.scale;
  }
  for (let i = 0; i < X.rows; i++) score[i]! /= runs.length;
  return { anomalyScore: score, cluster, dist2 };
}

function assertSameScores(
  name: string,
  got: { anomalyScore: Float64Array; cluster: Int32Array; dist2: Float64Array },
  ref: { anomalyScore: Float64Array; cluster: Int32Array; dist2: Float64Array },
) {
  assert.equal(got.anomalyScore.length, ref.anomalyScore.length);
  let differ = 0;
  for (let i = 0; i < ref.anomalyScore.length; i++) {
    const a = got.anomalyScore[i]!;
    const b = ref.anomalyScore[i]!;
    assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1e-3, Math.abs(b)), `${name} row ${i}: score ${a} vs ${b}`);
    if (got.cluster[i] !== ref.cluster[i]) {
      differ++;
      assert.ok(
        Math.abs(got.dist2[i]! - ref.dist2[i]!) <= 1e-5 * Math.max(1, ref.dist2[i]!),
        `${name} row ${i}`,
      );
    } else {
      assert.ok(
        Math.abs(got.dist2[i]! - ref.dist2[i]!) <= 1e-9 * Math.max(1, ref.dist2[i]!),
        `${name} row ${i}`,
      );
    }
  }
  assert.ok(differ <= 5, `${name}: ${differ} clusters differ (near-ties only)`);
}

before(async () => {
  const normals = await nslNormalTable();
  detector = await new AnomalyDetector(kddFieldSpecs(), { k: 8, ensembleK: [5, 20], seed: 2 }).fit(normals);
  const t = (await kdd('nsl-kdd/KDDTest+.txt')).table;
  const numeric = { ...t.numeric };
  for (const [name, every] of [
    ['src_bytes', 97],
    ['dst_host_count', 61],
  ] as const) {
    const col = Float64Array.from(numeric[name]!);
    for (let i = 3; i < col.length; i += every) col[i] = Number.NaN;
    numeric[name] = col;
  }
  rows = { ...t, numeric };
});

describe('AnomalyDetector: encoded scoring', () => {
  test('evaluateRows equals dense scoring on real NSL-KDD test rows, for onnx, js and tfjs engines', async () => {
    const { X, report } = detector.preprocessor.transform(rows);
    assert.ok((report.unknownCategories.service ?? 0) > 0 && (report.imputed.src_bytes ?? 0) > 0);
    const ref = await denseReference(detector, X);
    for (const engine of ['onnx', 'js', 'tfjs'] as const) {
      const state = detector.toState();
      const det = AnomalyDetector.fromState({ ...state, options: { ...state.options, engine } });
      const got = await det.evaluateRows(rows);
      assertSameScores(engine, got, ref);
      assert.deepEqual(got.report, report);
      for (let i = 0; i < rows.nRows; i++) {
        assert.equal(got.isAnomaly[i], got.anomalyScore[i]! > det.threshold ? 1 : 0);
      }
    }
  });

  test('scoreMatrix: intact one-hot blocks take the encoded path, altered ones the dense path', async () => {
    const { X } = detector.preprocessor.transform(rows);
    const ref = await denseReference(detector, X);
    assertSameScores('scoreMatrix', await detector.scoreMatrix(X), ref);
    // Half a hot slot in some rows (not one-hot any more): the dense path scores what it is given.
    const layout = detector.preprocessor.encodedLayout();
    const service = layout.categorical.find((b) => b.field === 'service')!;
    const data = Float32Array.from(X.data);
    for (let i = 0; i < X.rows; i += 50) data[i * X.cols + service.offset] = 0.5;
    const altered = { data, rows: X.rows, cols: X.cols };
    assertSameScores('altered', await detector.scoreMatrix(altered), await denseReference(detector, altered));
    const bad = Float32Array.from(X.data);
    bad[7 * X.cols] = Number.NaN;
    await assert.rejects(detector.scoreMatrix({ data: bad, rows: X.rows, cols: X.cols }), /non-finite/);
  });

  test('scoreEncoded: encoded rows of this model only; repeated rows score alike; no rows', async () => {
    const part = takeRows(rows, [0, 1, 2, 0, 1, 2, 5, 5, 5]);
    const { E } = detector.preprocessor.transformEncoded(part);
    const s = await detector.scoreEncoded(E);
    assert.equal(s.anomalyScore[3], s.anomalyScore[0]);
    assert.equal(s.cluster[8], s.cluster[6]);
    assertSameScores(
      'scoreEncoded',
      s,
      await denseReference(detector, detector.preprocessor.transform(part).X),
    );
    const other = { ...E, layout: { ...E.layout, cols: E.layout.cols + 1 } };
    await assert.rejects(detector.scoreEncoded(other), InputError);
    const empty = await detector.evaluateRows(takeRows(rows, []));
    assert.equal(empty.anomalyScore.length, 0);
    assert.equal(empty.cluster.length, 0);
  });
});
