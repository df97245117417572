import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { InputError, OptionError } from '../../src/errors.ts';
import type { Matrix } from '../../src/ingest/table.ts';
import { calinskiHarabasz, daviesBouldin, silhouetteScore } from '../../src/model/cluster-quality.ts';
import { Rng } from '../../src/model/random.ts';

interface Dataset {
  X: Matrix;
  labels: Int32Array;
}

/** Gaussian blobs: k centres in [-scale, scale]^d, unit noise; labels = blob ids + labelOffset. */
function blobs(seed: number, n: number, d: number, k: number, scale: number, labelOffset = 0): Dataset {
  const rng = new Rng(seed);
  const centres = Array.from({ length: k * d }, () => (rng.next() * 2 - 1) * scale);
  const data = new Float32Array(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(k);
    labels[i] = c + labelOffset;
    for (let j = 0; j < d; j++) data[i * d + j] = centres[c * d + j]! + rng.normal();
  }
  return { X: { data, rows: n, cols: d }, labels };
}

/** scikit-learn's three scores on each dataset (float64 copies of the float32 values). */
function sklearnScores(sets: Dataset[]): Array<{ sil: number; ch: number; db: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'netanomaly-cq-'));
  try {
    const input = join(dir, 'in.json');
    writeFileSync(
      input,
      JSON.stringify(
        sets.map((s) => ({ X: Array.from(s.X.data), d: s.X.cols, labels: Array.from(s.labels) })),
      ),
    );
    const script = `
import json, sys
import numpy as np
from sklearn.metrics import silhouette_score, calinski_harabasz_score, davies_bouldin_score
out = []
for c in json.load(open(sys.argv[1])):
    X = np.array(c['X'], dtype=np.float64).reshape(-1, c['d']); l = np.array(c['labels'])
    out.append({'sil': float(silhouette_score(X, l)), 'ch': float(calinski_harabasz_score(X, l)),
                'db': float(davies_bouldin_score(X, l))})
print(json.dumps(out))
`;
    return JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', script, input], { encoding: 'utf8', maxBuffer: 1 << 28 }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function relClose(actual: number, expected: number, rel: number, what: string): void {
  const err = Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-12);
  assert.ok(
    err <= rel || Math.abs(actual - expected) < 1e-12,
    `${what}: ${actual} vs ${expected} (rel err ${err})`,
  );
}

/** A matrix from plain rows. */
function mat(rows: number[][]): Matrix {
  const d = rows[0]!.length;
  return { data: Float32Array.from(rows.flat()), rows: rows.length, cols: d };
}

describe('cluster quality: parity with scikit-learn', () => {
  const singleton = blobs(5, 300, 8, 4, 4);
  singleton.labels[17] = 99; // a cluster of one row: its silhouette is 0
  const overlapping = blobs(6, 500, 3, 5, 0.5); // heavily overlapping: negative silhouettes occur
  const sets: Dataset[] = [
    blobs(1, 600, 5, 3, 6),
    blobs(2, 400, 122, 7, 1.5, -3), // KDD-like width, labels -3..3
    singleton,
    overlapping,
    // duplicate rows (zero distances) and two clusters sharing a centroid (DB skips that pair)
    {
      X: mat([
        [0, 0],
        [0, 0],
        [1, 1],
        [-1, -1],
        [2, -2],
        [-2, 2],
        [10, 10],
        [10, 10],
        [11, 10],
      ]),
      labels: Int32Array.from([0, 0, 1, 1, 1, 1, 2, 2, 2]),
    },
  ];
  const ref = sklearnScores(sets);

  test('silhouetteScore (all rows) matches silhouette_score within 1e-6 relative', () => {
    sets.forEach((s, i) => {
      relClose(silhouetteScore(s.X, s.labels), ref[i]!.sil, 1e-6, `set ${i}`);
    });
    assert.ok(ref[3]!.sil < ref[0]!.sil, 'overlapping blobs score lower');
  });

  test('calinskiHarabasz matches calinski_harabasz_score within 1e-6 relative', () => {
    sets.forEach((s, i) => {
      relClose(calinskiHarabasz(s.X, s.labels), ref[i]!.ch, 1e-6, `set ${i}`);
    });
  });

  test('daviesBouldin matches davies_bouldin_score within 1e-6 relative', () => {
    sets.forEach((s, i) => {
      relClose(daviesBouldin(s.X, s.labels), ref[i]!.db, 1e-6, `set ${i}`);
    });
  });

  test('a sampled silhouette is scikit-learn on exactly the seeded Rng sample', () => {
    const big = blobs(9, 3000, 6, 4, 3);
    const s = 700;
    const got = silhouetteScore(big.X, big.labels, { sampleSize: s, seed: 42 });
    const rows = new Rng(42).sample(3000, s);
    const d = big.X.cols;
    const sub: Dataset = {
      X: { data: new Float32Array(s * d), rows: s, cols: d },
      labels: new Int32Array(s),
    };
    rows.forEach((r, a) => {
      sub.labels[a] = big.labels[r]!;
      sub.X.data.set(big.X.data.subarray(r * d, (r + 1) * d), a * d);
    });
    relClose(got, sklearnScores([sub])[0]!.sil, 1e-6, 'sampled silhouette');
    // deterministic for a seed, and near the full-data value
    assert.equal(silhouetteScore(big.X, big.labels, { sampleSize: s, seed: 42 }), got);
    const full = silhouetteScore(big.X, big.labels, { sampleSize: 3000 });
    assert.ok(Math.abs(got - full) < 0.03, `sample ${got} vs full ${full}`);
  });
});

describe('cluster quality: degenerate cases (as scikit-learn)', () => {
  test('fewer than 2 or more than n - 1 labels is an InputError', () => {
    const X = mat([[0], [1], [2]]);
    assert.throws(() => silhouetteScore(X, Int32Array.from([1, 1, 1])), InputError);
    assert.throws(() => calinskiHarabasz(X, Int32Array.from([0, 1, 2])), /number of labels is 3/);
    assert.throws(() => daviesBouldin(X, Int32Array.from([0, 0, 0])), InputError);
    assert.throws(() => calinskiHarabasz(X, Int32Array.from([0, 1])), /2 labels for 3 rows/);
    assert.throws(() => silhouetteScore(X, Int32Array.from([0, 1, 1]), { sampleSize: 0 }), OptionError);
  });

  test('CH is 1 when every cluster is a single repeated point; DB is 0 when all spreads are 0', () => {
    const X = mat([
      [0, 0],
      [0, 0],
      [3, 4],
      [3, 4],
      [3, 4],
    ]);
    const l = Int32Array.from([0, 0, 1, 1, 1]);
    assert.equal(calinskiHarabasz(X, l), 1);
    assert.equal(daviesBouldin(X, l), 0);
    assert.equal(silhouetteScore(X, l), 1);
  });

  test('hand-checked silhouette on four points on a line', () => {
    // clusters {0, 1} and {5, 7}: s(0) = (6 - 1)/6, s(1) = (5 - 1)/5, s(5) = (4.5 - 2)/4.5, s(7) = (6.5 - 2)/6.5
    const want = (5 / 6 + 4 / 5 + 2.5 / 4.5 + 4.5 / 6.5) / 4;
    const got = silhouetteScore(mat([[0], [1], [5], [7]]), Int32Array.from([3, 3, 8, 8]));
    assert.ok(Math.abs(got - want) < 1e-12, `${got} vs ${want}`);
  });
});

describe('cluster quality: speed at KDD scale', () => {
  test('CH and DB on 500,000 x 122 in float64 accumulation; silhouette on the default 5,000-row sample', () => {
    const n = 500_000;
    const d = 122;
    const rng = new Rng(123);
    const data = new Float32Array(n * d);
    for (let i = 0; i < data.length; i++) data[i] = rng.next();
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = i % 23;
      data[i * d + (i % 23)]! += 3; // make the clusters separable on one axis each
    }
    const X: Matrix = { data, rows: n, cols: d };
    const ch = { v: calinskiHarabasz(X, labels) };
    const db = { v: daviesBouldin(X, labels) };
    const sil = { v: silhouetteScore(X, labels, { seed: 1 }) };
    // expected: within-cluster variance 1/12 per axis; each centroid is at squared distance
    // 9 * (22/23)^2 + 22 * (3/23)^2 = 9 * 22/23 from the overall mean
    const between = (n * 9 * (22 / 23)) / 22; // B / (k - 1)
    const within = (n * d) / 12 / (n - 23); // W / (n - k)
    relClose(ch.v, between / within, 0.01, 'CH');
    // DB: spreads ~ sqrt(d/12) each, centroids 3*sqrt(2) apart
    relClose(db.v, (2 * Math.sqrt(d / 12)) / (3 * Math.SQRT2), 0.01, 'DB');
    assert.ok(sil.v > 0 && sil.v < 1, `silhouette ${sil.v}`);
  });
});
