import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { InputError, NotFittedError, OptionError } from '../../src/errors.ts';
import type { Matrix } from '../../src/ingest/table.ts';
import { getEngine, rowSquaredNorms } from '../../src/model/engine.ts';
import { initialCenters, KMeans } from '../../src/model/kmeans.ts';
import { Rng } from '../../src/model/random.ts';
import { nslNormalMatrix, tempDir } from '../helpers/data.ts';

function blobs(n: number, d: number, centers: number, seed: number): Matrix {
  const rng = new Rng(seed);
  const data = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const c = i % centers;
    for (let j = 0; j < d; j++) data[i * d + j] = 10 * Math.sin(c * 7 + j) + rng.normal();
  }
  return { data, rows: n, cols: d };
}

describe('KMeans', () => {
  test('matches scikit-learn inertia within 1 % from the same initial centres (real NSL-KDD normals)', async () => {
    const X = await nslNormalMatrix();
    const k = 12;
    const init = await initialCenters(X, k, 'k-means++', await getEngine('js'), new Rng(7));
    const ours = await new KMeans({ k, engine: 'onnx', maxIter: 300, tol: 1e-4 }, init).fit(X);
    const dir = tempDir();
    writeFileSync(join(dir, 'x.f32'), Buffer.from(X.data.buffer, X.data.byteOffset, X.data.byteLength));
    writeFileSync(
      join(dir, 'c.f32'),
      Buffer.from(init.data.buffer, init.data.byteOffset, init.data.byteLength),
    );
    const py = `
import numpy as np, sys
from sklearn.cluster import KMeans
X = np.fromfile("${dir}/x.f32", dtype=np.float32).reshape(${X.rows}, ${X.cols}).astype(np.float64)
C = np.fromfile("${dir}/c.f32", dtype=np.float32).reshape(${k}, ${X.cols}).astype(np.float64)
km = KMeans(n_clusters=${k}, init=C, n_init=1, max_iter=300, tol=1e-4, algorithm="lloyd").fit(X)
print(km.inertia_)`;
    const sk = Number(execFileSync('/usr/bin/python3', ['-c', py], { encoding: 'utf8' }).trim());
    const rel = Math.abs(ours.inertia - sk) / sk;
    assert.ok(rel < 0.01, `inertia ${ours.inertia} vs scikit-learn ${sk} (rel ${rel})`);
  });

  test('onnx, tfjs and js engines give the same assignments on real data', async () => {
    const X = await nslNormalMatrix(3000);
    const km = await new KMeans({ k: 10, engine: 'js', seed: 1 }).fit(X);
    const C = km.clusterCenters;
    const results = await Promise.all(
      (['js', 'onnx', 'tfjs'] as const).map(async (name) => (await getEngine(name)).nearest(X, C)),
    );
    const [js, onnx, tfjs] = results;
    // Engines expand ‖x − c‖² = ‖x‖² − 2x·c + ‖c‖² in float32: the error scales with ‖x‖² + ‖c‖².
    const x2 = rowSquaredNorms(X);
    let c2max = 0;
    for (let c = 0; c < C.rows; c++) {
      let n = 0;
      for (let j = 0; j < C.cols; j++) n += C.data[c * C.cols + j]! ** 2;
      c2max = Math.max(c2max, n);
    }
    for (const other of [onnx!, tfjs!]) {
      let differ = 0;
      for (let i = 0; i < X.rows; i++) {
        const tol = 1e-6 * (x2[i]! + c2max) + 1e-4 * Math.max(1, js!.minDist2[i]!);
        assert.ok(
          Math.abs(other.minDist2[i]! - js!.minDist2[i]!) <= tol,
          `row ${i}: distance beyond float32 rounding`,
        );
        // A different assignment is only allowed on a float32 near-tie.
        if (other.labels[i] !== js!.labels[i]) differ++;
      }
      assert.ok(differ <= 1, `${differ} assignments differ`);
    }
  });

  test('the tfjs engine leaks no tensors', async () => {
    const tf = await import('@tensorflow/tfjs');
    const engine = await getEngine('tfjs');
    const X = blobs(5000, 8, 4, 1);
    const C = blobs(4, 8, 4, 2);
    await engine.nearest(X, C);
    const before = tf.memory().numTensors;
    for (let r = 0; r < 3; r++) {
      await engine.nearest(X, C);
      await engine.distances(X, C);
    }
    const km = await new KMeans({ k: 4, engine: 'tfjs', seed: 0 }).fit(X);
    await km.transform(X);
    assert.equal(tf.memory().numTensors, before);
  });

  test('same seed, same model; another seed, other centres', async () => {
    const X = blobs(4000, 6, 8, 3);
    const a = await new KMeans({ k: 8, seed: 5 }).fit(X);
    const b = await new KMeans({ k: 8, seed: 5 }).fit(X);
    const c = await new KMeans({ k: 8, seed: 6, init: 'random' }).fit(X);
    assert.deepEqual(Array.from(a.clusterCenters.data), Array.from(b.clusterCenters.data));
    assert.notDeepEqual(Array.from(a.clusterCenters.data), Array.from(c.clusterCenters.data));
  });

  test('fit(X).predict(X) equals the training labels; score is −inertia; transform is rows × k', async () => {
    const X = blobs(3000, 5, 6, 4);
    const km = await new KMeans({ k: 6, seed: 0, nInit: 2 }).fit(X);
    assert.deepEqual(Array.from(await km.predict(X)), Array.from(km.labels));
    assert.ok(Math.abs((await km.score(X)) + km.inertia) < 1e-6 * km.inertia);
    const d = await km.transform(X);
    assert.equal(d.length, X.rows * 6);
    assert.ok(Math.abs(d[km.labels[0]!]! ** 2 - (await km.nearest(X)).dist2[0]!) < 1e-3);
  });

  test('an empty cluster is moved to the farthest point', async () => {
    const X = blobs(2000, 4, 4, 9);
    const init: Matrix = { data: new Float32Array(4 * 4), rows: 4, cols: 4 };
    init.data.set(X.data.subarray(0, 4), 0);
    init.data.set(X.data.subarray(0, 4), 4); // duplicate centre: one cluster starts empty
    init.data.set(X.data.subarray(4, 8), 8);
    init.data.set(X.data.subarray(8, 12), 12);
    const km = await new KMeans({ k: 4, engine: 'js' }, init).fit(X);
    const sizes = new Array(4).fill(0);
    for (const l of km.labels) sizes[l]++;
    assert.ok(
      sizes.every((s) => s > 0),
      `cluster sizes ${sizes}`,
    );
  });

  test('mini-batch reaches an inertia close to Lloyd', async () => {
    const X = blobs(20000, 6, 5, 10);
    const lloyd = await new KMeans({ k: 5, seed: 1, nInit: 3 }).fit(X);
    const mb = await new KMeans({ k: 5, seed: 1, algorithm: 'minibatch', batchSize: 1024 }).fit(X);
    assert.ok(mb.inertia < lloyd.inertia * 1.1, `mini-batch ${mb.inertia} vs lloyd ${lloyd.inertia}`);
  });

  test('bad input and options get one clear error', async () => {
    const X = blobs(10, 3, 2, 1);
    await assert.rejects(
      new KMeans({ k: 11 }).fit(X),
      (e: Error) => e instanceof InputError && /n_samples=10 should be >= k=11/.test(e.message),
    );
    const nan = { ...X, data: Float32Array.from(X.data) };
    nan.data[4] = Number.NaN;
    await assert.rejects(
      new KMeans({ k: 2 }).fit(nan),
      (e: Error) => e instanceof InputError && /non-finite/.test(e.message),
    );
    const same = { data: new Float32Array(30).fill(1), rows: 10, cols: 3 };
    await assert.rejects(new KMeans({ k: 3 }).fit(same), /need at least k=3 distinct rows to fit, found 1/);
    assert.throws(
      () => new KMeans({ k: 0 }),
      (e: Error) => e instanceof OptionError && /The 'k' option of KMeans must be/.test(e.message),
    );
    assert.throws(() => new KMeans({ k: 2 }).clusterCenters, NotFittedError);
    const km = await new KMeans({ k: 2 }).fit(X);
    await assert.rejects(
      km.predict({ data: new Float32Array(8), rows: 2, cols: 4 }),
      /X has 4 features, but the model was fitted with 3/,
    );
  });
});
