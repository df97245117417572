import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeDense } from '../../src/features/encoded.ts';
import { kddFieldSpecs } from '../../src/features/kdd-fields.ts';
import { Preprocessor } from '../../src/features/preprocessor.ts';
import { type Matrix, takeRows as takeTableRows } from '../../src/ingest/table.ts';
import { silhouetteFromPairs, silhouettePairs, silhouetteScore } from '../../src/model/cluster-quality.ts';
import { getEngine } from '../../src/model/engine.ts';
import { initialCenters, KMeans } from '../../src/model/kmeans.ts';
import { initialCentersEncoded, weightedRows } from '../../src/model/kmeans-encoded.ts';
import { Rng } from '../../src/model/random.ts';
import { elbowSweep } from '../../src/model/select-k.ts';
import { kdd } from '../helpers/data.ts';

/** 25,000 rows of KDD Cup 99 10 % (every 19th: floods repeat rows, so many are duplicates). */
let rows: Promise<{ X: Matrix; layout: ReturnType<Preprocessor['encodedLayout']> }> | null = null;
function kddRows() {
  rows ??= loadRows();
  return rows;
}
async function loadRows() {
  const data = await kdd('kddcup99/kddcup.data_10_percent.gz');
  const index = Array.from({ length: 25_000 }, (_, i) => i * 19);
  const table = takeTableRows(data.table, index);
  const pre = new Preprocessor(kddFieldSpecs()).fit(table);
  const { X } = pre.transform(table);
  return { X, layout: pre.encodedLayout() };
}

function sameMatrix(a: Matrix, b: Matrix): number {
  let worst = 0;
  for (let i = 0; i < a.data.length; i++) worst = Math.max(worst, Math.abs(a.data[i]! - b.data[i]!));
  return worst;
}

describe('K-Means on encoded, deduplicated rows (real KDD Cup 99 rows)', () => {
  test('same clusters, centres and inertia as the dense fit from the same centres', async () => {
    const { X, layout } = await kddRows();
    const E = encodeDense(X, layout)!;
    const W = weightedRows(E);
    assert.ok(W.U.rows < X.rows / 2, `${W.U.rows} distinct of ${X.rows}: the data repeats rows`);
    const init = await initialCenters(X, 12, 'k-means++', await getEngine('onnx'), new Rng(3));
    for (const tol of [0, 1e-4]) {
      const dense = await new KMeans({ k: 12, engine: 'onnx', maxIter: 40, tol }, init).fit(X);
      const enc = await new KMeans({ k: 12, engine: 'onnx', maxIter: 40, tol }, init).fit(E);
      let differ = 0;
      for (let i = 0; i < X.rows; i++) if (dense.labels[i] !== enc.labels[i]) differ++;
      assert.equal(differ, 0, `tol ${tol}: ${differ} labels differ`);
      assert.equal(enc.nIter, dense.nIter);
      assert.ok(sameMatrix(dense.clusterCenters, enc.clusterCenters) <= 1e-6, `tol ${tol}: centres differ`);
      const rel = Math.abs(enc.inertia - dense.inertia) / dense.inertia;
      assert.ok(rel < 1e-9, `tol ${tol}: inertia ${enc.inertia} vs ${dense.inertia}`);
      assert.deepEqual(Array.from(await enc.predict(X)), Array.from(enc.labels));
    }
  });

  test('k-means++ on the distinct rows picks the rows the dense seeding picks', async () => {
    const { X, layout } = await kddRows();
    const W = weightedRows(encodeDense(X, layout)!);
    const engine = await getEngine('onnx');
    for (const seed of [0, 1]) {
      const dense = await initialCenters(X, 10, 'k-means++', engine, new Rng(seed));
      const enc = await initialCentersEncoded(W, 10, 'k-means++', engine, new Rng(seed));
      assert.equal(sameMatrix(dense, enc), 0, `seed ${seed}`);
    }
    const random = await initialCenters(X, 10, 'random', engine, new Rng(5));
    assert.equal(sameMatrix(random, await initialCentersEncoded(W, 10, 'random', engine, new Rng(5))), 0);
  });

  test('a seeded fit with restarts matches the dense fit; errors stay the same', async () => {
    const { X, layout } = await kddRows();
    const E = encodeDense(X, layout)!;
    const dense = await new KMeans({ k: 6, seed: 2, nInit: 2, engine: 'onnx' }).fit(X);
    const enc = await new KMeans({ k: 6, seed: 2, nInit: 2, engine: 'onnx' }).fit(E);
    assert.ok(Math.abs(enc.inertia - dense.inertia) / dense.inertia < 1e-9);
    assert.deepEqual(Array.from(enc.labels), Array.from(dense.labels));
    const few = encodeDense({ data: X.data.subarray(0, 3 * X.cols), rows: 3, cols: X.cols }, layout)!;
    await assert.rejects(new KMeans({ k: 4 }).fit(few), /n_samples=3 should be >= k=4/);
    const one = encodeDense({ data: X.data.subarray(0, X.cols), rows: 1, cols: X.cols }, layout)!;
    const triple = {
      ...one,
      rows: 3,
      numeric: Float32Array.from([...one.numeric, ...one.numeric, ...one.numeric]),
      codes: Int32Array.from([...one.codes, ...one.codes, ...one.codes]),
    };
    await assert.rejects(new KMeans({ k: 2 }).fit(triple), /need at least k=2 distinct rows to fit, found 1/);
  });

  test('silhouette from precomputed pairs is bit-identical to silhouetteScore', async () => {
    const { X } = await kddRows();
    const pairs = silhouettePairs(X, { sampleSize: 800, seed: 4 });
    for (const k of [3, 7]) {
      const labels = (await new KMeans({ k, seed: 0, engine: 'onnx' }).fit(X)).labels;
      assert.equal(
        silhouetteFromPairs(pairs, labels),
        silhouetteScore(X, labels, { sampleSize: 800, seed: 4 }),
      );
    }
  });

  test('an elbow sweep with the layout gives the same curve and knee as without', async () => {
    const { X, layout } = await kddRows();
    const opts = {
      kMin: 2,
      kMax: 7,
      mode: 'fast' as const,
      sampleSize: 5000,
      silhouetteSample: 1500,
      engine: 'onnx' as const,
    };
    const dense = await elbowSweep(X, opts);
    const enc = await elbowSweep(X, { ...opts, layout });
    assert.equal(enc.knee, dense.knee);
    assert.equal(enc.recommended, dense.recommended);
    enc.rows.forEach((r, i) => {
      const d = dense.rows[i]!;
      assert.ok(
        Math.abs(r.inertia - d.inertia) <= 1e-9 * d.inertia,
        `k=${r.k}: ${r.inertia} vs ${d.inertia}`,
      );
      assert.ok(Math.abs(r.silhouette - d.silhouette) <= 1e-9, `k=${r.k} silhouette`);
    });
  });
});
