import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type EncodedMatrix, encodedRowSlice, expandEncoded } from '../../src/features/encoded.ts';
import { kddFieldSpecs } from '../../src/features/kdd-fields.ts';
import { Preprocessor } from '../../src/features/preprocessor.ts';
import { type Matrix, type Table, takeRows } from '../../src/ingest/table.ts';
import { getEngine, type NearestEncoded } from '../../src/model/engine.ts';
import {
  comboIndex,
  comboTable,
  encodedCenters,
  encodedDist2,
  nearestEncodedJs,
} from '../../src/model/engine-encoded.ts';
import { exactDist2, initialCenters, KMeans } from '../../src/model/kmeans.ts';
import { Rng } from '../../src/model/random.ts';
import { kdd, nslNormalTable, nslTestWithNaNs } from '../helpers/data.ts';

const testRows = nslTestWithNaNs;

/** Preprocessing and K-Means centres (k = 7 and 19) fitted on the NSL-KDD 20 % training normals. */
let model: Promise<{ pre: Preprocessor; centers: Matrix[] }> | null = null;
function nslModel() {
  model ??= fitNslModel();
  return model;
}

async function fitNslModel() {
  const normals = await nslNormalTable();
  const pre = new Preprocessor(kddFieldSpecs()).fit(normals);
  const X = pre.transform(normals).X;
  const centers: Matrix[] = [];
  for (const k of [7, 19])
    centers.push((await new KMeans({ k, seed: k, engine: 'onnx' }).fit(X)).clusterCenters);
  return { pre, centers };
}

/**
 * Checks encoded results against the dense reference (js engine, float64) for one centre set:
 * labels equal except on near-ties, dist2 equal to the exact dense distance.
 */
async function assertMatchesDense(name: string, E: EncodedMatrix, C: Matrix, got: NearestEncoded) {
  const X = expandEncoded(E);
  const ref = await (await getEngine('js')).nearest(X, C);
  const refD = exactDist2(X, C, ref.labels);
  const gotD = exactDist2(X, C, got.labels);
  let differ = 0;
  for (let i = 0; i < E.rows; i++) {
    const tol = 1e-9 * Math.max(1, refD[i]!);
    assert.ok(
      Math.abs(got.dist2[i]! - gotD[i]!) <= tol,
      `${name} row ${i}: dist2 ${got.dist2[i]} vs exact ${gotD[i]}`,
    );
    assert.equal(got.minDist2[i], Math.fround(got.dist2[i]!));
    if (got.labels[i] !== ref.labels[i]) {
      differ++;
      // Only a near-tie may pick another centre: both centres at (almost) the same distance.
      assert.ok(
        Math.abs(gotD[i]! - refD[i]!) <= 1e-5 * Math.max(1, refD[i]!),
        `${name} row ${i}: centre ${got.labels[i]} at ${gotD[i]} instead of ${ref.labels[i]} at ${refD[i]}`,
      );
    }
  }
  assert.ok(differ <= E.rows * 1e-3, `${name}: ${differ} labels differ`);
}

describe('nearest centres of encoded rows', () => {
  test('onnx and js engines match the dense search on real NSL-KDD rows (unseen categories, NaN)', async () => {
    const { pre, centers } = await nslModel();
    const { E, report } = pre.transformEncoded(await testRows());
    assert.ok((report.unknownCategories.service ?? 0) > 0);
    assert.ok((report.imputed.count ?? 0) > 100);
    for (const engineName of ['onnx', 'js'] as const) {
      const engine = await getEngine(engineName);
      assert.ok(engine.nearestEncoded, `${engineName} has an encoded path`);
      // Both runs in one call, as the detector does.
      const found = await engine.nearestEncoded(E, centers);
      assert.equal(found.length, 2);
      for (const [r, C] of centers.entries())
        await assertMatchesDense(`${engineName} k=${C.rows}`, E, C, found[r]!);
    }
  });

  test('the default ensemble shape (5 runs, k = 16…256) on distinct KDD Cup 99 rows: onnx vs the js reference', async () => {
    const { table } = await kdd('kddcup99/corrected.gz');
    const fitRows = takeRows(
      table,
      Array.from({ length: 20000 }, (_, i) => i * 15),
    );
    const pre = new Preprocessor(kddFieldSpecs()).fit(fitRows);
    const { E: distinct } = pre.transformEncoded(table, { distinct: true });
    assert.ok(distinct.rows > 70000, `${distinct.rows} distinct rows`);
    const E = encodedRowSlice(distinct, 0, 3000);
    const X = pre.transform(fitRows).X;
    const onnxEngine = await getEngine('onnx');
    const centers: Matrix[] = [];
    for (const k of [16, 32, 64, 128, 256])
      centers.push(await initialCenters(X, k, 'k-means++', onnxEngine, new Rng(k)));
    const onnx = await onnxEngine.nearestEncoded!(E, centers);
    const js = nearestEncodedJs(E, centers);
    for (const [r, C] of centers.entries()) {
      let differ = 0;
      for (let i = 0; i < E.rows; i++) {
        if (onnx[r]!.labels[i] === js[r]!.labels[i]) {
          const a = onnx[r]!.dist2[i]!;
          const b = js[r]!.dist2[i]!;
          assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, b), `k=${C.rows} row ${i}: ${a} vs ${b}`);
        } else differ++;
      }
      assert.ok(differ <= 3, `k=${C.rows}: ${differ} labels differ from the js reference`);
    }
    // And the largest run against the dense search over all 121 columns.
    await assertMatchesDense('onnx k=256', E, centers[4]!, onnx[4]!);
  });

  test('per-field lookups when the table of code combinations would be too large (onnx vs js vs dense)', async () => {
    // Three categorical fields of 300 values: 301³ combinations, far above the table limit.
    const rng = new Rng(11);
    const n = 3000;
    const cat = () => Array.from({ length: n }, () => `v${rng.int(300)}`);
    const table: Table = {
      nRows: n,
      numeric: {
        x: Float64Array.from({ length: n }, () => rng.normal()),
        y: Float64Array.from({ length: n }, () => rng.normal() * 3),
      },
      text: { a: cat(), b: cat(), c: cat() },
    };
    const pre = new Preprocessor([
      { name: 'x', kind: 'numeric' },
      { name: 'a', kind: 'categorical', weight: 1.5 },
      { name: 'y', kind: 'numeric', transform: 'log1p' },
      { name: 'b', kind: 'categorical' },
      { name: 'c', kind: 'categorical', weight: 0.7 },
    ]).fit(
      takeRows(
        table,
        Array.from({ length: 2000 }, (_, i) => i),
      ),
    );
    const X = pre.transform(table).X;
    const centers = [(await new KMeans({ k: 40, seed: 2, engine: 'onnx' }).fit(X)).clusterCenters];
    const { E } = pre.transformEncoded(table);
    assert.ok(comboIndex(E).combos > 1e7);
    const onnx = await (await getEngine('onnx')).nearestEncoded!(E, centers);
    await assertMatchesDense('onnx fields', E, centers[0]!, onnx[0]!);
    await assertMatchesDense('js fields', E, centers[0]!, nearestEncodedJs(E, centers)[0]!);
  });

  test('tables of the categorical part: combinations, exact distances, no numeric columns, no rows', async () => {
    const { pre, centers } = await nslModel();
    const { E } = pre.transformEncoded(takeRows(await testRows(), [0, 1, 2, 3, 4, 5, 6, 7]));
    const C = centers[1]!;
    const P = encodedCenters(C, E.layout);
    assert.equal(encodedCenters(C, E.layout), P, 'cached per centre matrix');
    const X = expandEncoded(E);
    const { index } = comboIndex(E);
    const B = comboTable(P);
    const labels = Int32Array.from({ length: E.rows }, (_, i) => (i * 5) % C.rows);
    const exact = exactDist2(X, C, labels);
    const mine = encodedDist2(E, P, labels);
    for (let i = 0; i < E.rows; i++) {
      assert.ok(Math.abs(mine[i]! - exact[i]!) <= 1e-9 * Math.max(1, exact[i]!));
      // ‖x − c‖² = ‖x_num‖² − 2·x_num·c_num + B[combo, c]
      const c = labels[i]!;
      let x2 = 0;
      let xc = 0;
      for (let t = 0; t < P.numeric.length / C.rows; t++) {
        const v = E.numeric[i * (P.numeric.length / C.rows) + t]!;
        x2 += v * v;
        xc += v * P.numeric[c * (P.numeric.length / C.rows) + t]!;
      }
      const viaTable = x2 - 2 * xc + B[index[i]! * C.rows + c]!;
      assert.ok(Math.abs(viaTable - exact[i]!) <= 1e-4 * Math.max(1, exact[i]!), `row ${i}`);
    }
    // Categorical fields only: the onnx engine answers from the tables.
    const catOnly = new Preprocessor([
      { name: 'p', kind: 'categorical' },
      { name: 'q', kind: 'categorical', weight: 2 },
    ]);
    const t: Table = {
      nRows: 6,
      numeric: {},
      text: { p: ['a', 'b', 'a', 'c', 'b', 'z'], q: ['x', 'x', 'y', 'y', 'x', 'x'] },
    };
    catOnly.fit(t);
    const Xc = catOnly.transform(t).X;
    const Cc = takeRowsMatrix(Xc, [0, 3]);
    const Ec = catOnly.transformEncoded(t).E;
    const got = await (await getEngine('onnx')).nearestEncoded!(Ec, [Cc]);
    await assertMatchesDense('categorical only', Ec, Cc, got[0]!);
    const none = await (await getEngine('onnx')).nearestEncoded!(
      { ...Ec, rows: 0, numeric: new Float32Array(0), codes: new Int32Array(0) },
      [Cc],
    );
    assert.equal(none[0]!.labels.length, 0);
  });
});

function takeRowsMatrix(X: Matrix, rows: number[]): Matrix {
  const data = new Float32Array(rows.length * X.cols);
  for (const [i, r] of rows.entries()) data.set(X.data.subarray(r * X.cols, (r + 1) * X.cols), i * X.cols);
  return { data, rows: rows.length, cols: X.cols };
}
