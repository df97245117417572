/**
 * The comparison detectors on synthetic data with a known answer: a few Gaussian blobs of normal
 * rows and far-off rows; every detector must rank the far-off rows above fresh normal rows, and
 * the seeded ones must give the same scores twice.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Matrix } from '../../../src/ingest/table.ts';
import { Autoencoder } from '../../../src/model/detectors/autoencoder.ts';
import { DiagonalGmm } from '../../../src/model/detectors/gmm.ts';
import { IsolationForest } from '../../../src/model/detectors/isolation-forest.ts';
import { KnnDistance } from '../../../src/model/detectors/knn.ts';
import type { MatrixScorer } from '../../../src/model/detectors/scorer.ts';
import { rocAuc } from '../../../src/model/metrics.ts';
import { Rng } from '../../../src/model/random.ts';

const D = 6;
function blobs(n: number, seed: number, far = false): Matrix {
  const rng = new Rng(seed);
  const data = new Float32Array(n * D);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    for (let j = 0; j < D; j++) {
      const centre = j === c ? 4 : 0;
      data[i * D + j] = far ? 8 * (rng.next() - 0.5) + (j === 5 ? 9 : 0) : centre + 0.5 * rng.normal();
    }
  }
  return { data, rows: n, cols: D };
}

const train = blobs(600, 1);
const normal = blobs(200, 2);
const odd = blobs(40, 3, true);
const both: Matrix = {
  data: Float32Array.from([...normal.data, ...odd.data]),
  rows: normal.rows + odd.rows,
  cols: D,
};
const y = [...new Array(normal.rows).fill(0), ...new Array(odd.rows).fill(1)];

const cases: [string, () => MatrixScorer][] = [
  ['isolation forest', () => new IsolationForest({ seed: 4 })],
  ['diagonal GMM', () => new DiagonalGmm({ components: 3, seed: 4 })],
  ['k-NN distance', () => new KnnDistance(5)],
  [
    'autoencoder (tfjs)',
    () => new Autoencoder({ seed: 4, epochs: 60, batchSize: 64, hidden: 8, bottleneck: 3 }),
  ],
];

describe('comparison detectors', () => {
  for (const [name, make] of cases)
    test(`${name}: far-off rows rank above fresh normal rows, the same scores twice`, async () => {
      const a = make();
      await a.fit(train);
      const s = await a.score(both);
      const auc = rocAuc(y, s);
      assert.ok(auc > 0.95, `${name} ROC-AUC ${auc}`);
      const b = make();
      await b.fit(train);
      const s2 = await b.score(both);
      for (let i = 0; i < s.length; i++)
        assert.ok(Math.abs(s[i]! - s2[i]!) <= 1e-6 * Math.max(1, Math.abs(s[i]!)));
    });
});
