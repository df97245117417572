/**
 * The elbow sweep's shortcuts against the plain computations they replace, on real KDD Cup 99
 * rows (floods repeat rows, so the distinct-row paths are exercised): prefix k-means++ seeding
 * (exhaustive sweep bit-identical to one KMeans.fit per k), Lloyd with Elkan's bounds (the same
 * fits as the float64 JS engine), and the distinct-row silhouette, Calinski-Harabasz and
 * Davies-Bouldin (equal to the dense ones up to rounding).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeDense } from '../../src/features/encoded.ts';
import { kddFieldSpecs } from '../../src/features/kdd-fields.ts';
import { Preprocessor } from '../../src/features/preprocessor.ts';
import { type Matrix, takeRows as takeTableRows } from '../../src/ingest/table.ts';
import {
  calinskiHarabasz,
  clusterIndicesEncoded,
  daviesBouldin,
  silhouetteDistinctPairs,
  silhouetteFromDistinctPairs,
  silhouetteScore,
} from '../../src/model/cluster-quality.ts';
import { getEngine } from '../../src/model/engine.ts';
import { KMeans } from '../../src/model/kmeans.ts';
import { lloydBounded } from '../../src/model/kmeans-bounded.ts';
import {
  type EncodedEngine,
  expandLabels,
  initialCentersEncoded,
  lloydEncoded,
  meanVarianceEncoded,
  weightedRows,
} from '../../src/model/kmeans-encoded.ts';
import { BoundedFitPool } from '../../src/model/lloyd-pool.ts';
import { Rng } from '../../src/model/random.ts';
import { elbowSweep } from '../../src/model/select-k.ts';
import { kdd } from '../helpers/data.ts';

/** 6,000 rows of KDD Cup 99 10 % (every 80th). */
let rows: Promise<{ X: Matrix; layout: ReturnType<Preprocessor['encodedLayout']> }> | null = null;
function kddRows() {
  rows ??= (async () => {
    const data = await kdd('kddcup99/kddcup.data_10_percent.gz');
    const table = takeTableRows(
      data.table,
      Array.from({ length: 6000 }, (_, i) => i * 80),
    );
    const pre = new Preprocessor(kddFieldSpecs()).fit(table);
    return { X: pre.transform(table).X, layout: pre.encodedLayout() };
  })();
  return rows;
}

const close = (a: number, b: number, rel: number) =>
  Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b));

describe('elbow sweep shortcuts (real KDD Cup 99 rows)', () => {
  test('exhaustive sweep with prefix seeding: bit-identical to one KMeans.fit per k', async () => {
    const { X, layout } = await kddRows();
    // k = 2…9 spans three k-means++ trial counts (2, 3 and 4 candidates per centre)
    const sweep = await elbowSweep(X, {
      kMin: 2,
      kMax: 9,
      mode: 'exhaustive',
      nInit: 2,
      seed: 3,
      silhouetteSample: 300,
      layout,
    });
    const E = encodeDense(X, layout)!;
    for (const row of sweep.rows) {
      const km = await new KMeans({ k: row.k, seed: 3, nInit: 2 }).fit(E);
      assert.equal(row.inertia, km.inertia, `k=${row.k}`);
    }
  });

  test("Lloyd with Elkan's bounds: the fits of the float64 JS engine (labels, iterations, inertia)", async () => {
    const { X, layout } = await kddRows();
    const W = weightedRows(encodeDense(X, layout)!);
    const js = (await getEngine('js')) as EncodedEngine;
    const tol = 1e-4 * meanVarianceEncoded(W);
    for (const k of [3, 12, 25]) {
      const start = await initialCentersEncoded(W, k, 'k-means++', js, new Rng(k));
      const bounded = lloydBounded(W, start, 300, tol);
      const plain = await lloydEncoded(W, start, js, 300, tol);
      assert.equal(bounded.nIter, plain.nIter, `k=${k} iterations`);
      assert.deepEqual(bounded.labels, plain.labels, `k=${k} labels`);
      assert.ok(
        close(bounded.inertia, plain.inertia, 1e-12),
        `k=${k}: ${bounded.inertia} vs ${plain.inertia}`,
      );
    }
  });

  test('fast sweep on worker threads: the rows of the one-thread sweep', async () => {
    const { X, layout } = await kddRows();
    const options = {
      kMin: 2,
      kMax: 12,
      mode: 'fast',
      nInit: 2,
      seed: 1,
      silhouetteSample: 300,
      layout,
    } as const;
    const one = await elbowSweep(X, { ...options, threads: 1 });
    const two = await elbowSweep(X, { ...options, threads: 2 });
    const strip = (r: typeof one) => r.rows.map(({ seconds: _, ...row }) => row);
    assert.deepEqual(strip(two), strip(one));
    assert.equal(two.recommended, one.recommended);
  });

  test('the fit pool answers as lloydBounded does, and refuses fits once closed', async () => {
    const { X, layout } = await kddRows();
    const W = weightedRows(encodeDense(X, layout)!);
    const js = (await getEngine('js')) as EncodedEngine;
    const tol = 1e-4 * meanVarianceEncoded(W);
    const pool = new BoundedFitPool(W, 2);
    try {
      const starts = await Promise.all(
        [4, 9, 17].map((k) => initialCentersEncoded(W, k, 'k-means++', js, new Rng(k))),
      );
      const pooled = await Promise.all(starts.map((s) => pool.fit(s, 300, tol)));
      for (const [i, s] of starts.entries()) {
        const here = lloydBounded(W, s, 300, tol);
        assert.equal(pooled[i]!.inertia, here.inertia);
        assert.deepEqual(pooled[i]!.labels, here.labels);
        assert.deepEqual(pooled[i]!.centers.data, here.centers.data);
      }
    } finally {
      await pool.close();
    }
    await assert.rejects(pool.fit({ data: new Float32Array(X.cols), rows: 1, cols: X.cols }, 1, 0), /closed/);
  });

  test('distinct-row silhouette, Calinski-Harabasz and Davies-Bouldin equal the dense ones', async () => {
    const { X, layout } = await kddRows();
    const W = weightedRows(encodeDense(X, layout)!);
    const pairs = silhouetteDistinctPairs(X, { sampleSize: 1500, seed: 2 });
    assert.ok(pairs.distinct < 1000, `${pairs.distinct} distinct rows of 1500 sampled`);
    const fitted = (await new KMeans({ k: 7, seed: 0 }).fit(X)).labels;
    // labels that split identical rows too (the per-label units)
    const rng = new Rng(5);
    const random = Int32Array.from({ length: X.rows }, () => rng.int(4));
    for (const labels of [fitted, random]) {
      assert.ok(
        close(
          silhouetteFromDistinctPairs(pairs, labels),
          silhouetteScore(X, labels, { sampleSize: 1500, seed: 2 }),
          1e-12,
        ),
      );
    }
    const distinctLabels = new Int32Array(W.U.rows);
    for (let i = 0; i < X.rows; i++) distinctLabels[W.inverse ? W.inverse[i]! : i] = fitted[i]!;
    assert.deepEqual(expandLabels(W, distinctLabels), fitted);
    const q = clusterIndicesEncoded(W.U, W.weight, distinctLabels);
    assert.ok(close(q.calinskiHarabasz, calinskiHarabasz(X, fitted), 1e-10), 'Calinski-Harabasz');
    assert.ok(close(q.daviesBouldin, daviesBouldin(X, fitted), 1e-10), 'Davies-Bouldin');
  });
});
