/**
 * One K-Means fit (KDD Cup 99 10 %, k = 32, 30 iterations, tol 0, k-means++ seed 0) and one fast
 * elbow sweep (k = 2…30, 3 inits, encoded rows), to run under a profiler:
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx benchmarks/fit-profile.ts [fit|elbow]
 */
import { kddFieldSpecs } from '../src/features/kdd-fields.ts';
import { Preprocessor } from '../src/features/preprocessor.ts';
import { resolveDataset } from '../src/ingest/datasets.ts';
import { readKdd } from '../src/ingest/kdd.ts';
import { getEngine } from '../src/model/engine.ts';
import { initialCenters, KMeans } from '../src/model/kmeans.ts';
import { Rng } from '../src/model/random.ts';
import { elbowSweep } from '../src/model/select-k.ts';

const what = process.argv[2] ?? 'fit';
const train = await readKdd(await resolveDataset('kdd99/kddcup.data_10_percent'));
const pre = new Preprocessor(kddFieldSpecs()).fit(train.table);
const { X } = pre.transform(train.table);
const t0 = performance.now();
if (what === 'fit') {
  const init = await initialCenters(X, 32, 'k-means++', await getEngine('onnx'), new Rng(0));
  const t1 = performance.now();
  const km = await new KMeans({ k: 32, engine: 'onnx', maxIter: 30, tol: 0 }, init).fit(X);
  const t2 = performance.now();
  console.log(
    `init ${((t1 - t0) / 1000).toFixed(2)} s, fit ${((t2 - t1) / 1000).toFixed(2)} s, ${km.nIter} iterations, inertia ${km.inertia}`,
  );
} else {
  // as `netanomaly elbow` and `train` call it: with the encoded layout
  const layout = pre.encodedLayout();
  const r = await elbowSweep(X, { mode: 'fast', kMin: 2, kMax: 30, seed: 0, nInit: 3, layout });
  console.log(`elbow fast ${((performance.now() - t0) / 1000).toFixed(2)} s, k=${r.recommended}`);
}
