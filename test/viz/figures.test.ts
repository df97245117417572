import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Rng } from '../../src/model/random.ts';
import {
  elbowFigure,
  pcaFigure,
  plotlyText,
  profileHeatmap,
  rocFigure,
  scoreHistogram,
} from '../../src/viz/figures.ts';
import { fitPca2D } from '../../src/viz/pca.ts';

describe('figures', () => {
  test('elbow marks the knee on every panel', () => {
    const rows = [2, 3, 4, 5, 6].map((k) => ({
      k,
      inertia: 100 / k,
      silhouette: 0.5,
      calinskiHarabasz: k,
      daviesBouldin: 1,
    }));
    const fig = elbowFigure({ rows, knee: 4, chosenK: 5 });
    assert.equal((fig.layout.shapes as unknown[]).length, 8);
    assert.ok(fig.data.some((t) => String(t.name).startsWith('knee (k=4)')));
    assert.doesNotThrow(() => JSON.stringify(fig));
  });

  test('PCA map is sampled to maxPoints and recovers the dominant direction', () => {
    const rng = new Rng(1);
    const n = 20000;
    const data = new Float32Array(n * 3);
    for (let i = 0; i < n; i++) {
      const t = rng.normal() * 10;
      data[i * 3] = t;
      data[i * 3 + 1] = t + rng.normal() * 0.1;
      data[i * 3 + 2] = rng.normal() * 0.1;
    }
    const X = { data, rows: n, cols: 3 };
    const pca = fitPca2D(X, { sampleSize: 2000 });
    assert.ok(pca.explained[0] > 0.99, `PC1 explains ${pca.explained[0]}`);
    const p = pca.project(X);
    const fig = pcaFigure({ flows: p, cluster: Array.from({ length: n }, (_, i) => i % 3), maxPoints: 5000 });
    const drawn = fig.data.reduce((s, t) => s + (t.x as unknown[]).length, 0);
    assert.equal(drawn, 5000);
    assert.ok(fig.data.every((t) => t.type === 'scattergl'));
    assert.throws(() => pcaFigure({ flows: p, colorBy: 'score' }), /needs the score/);
  });

  test('heat map and histogram validate shapes; user text is shown literally', () => {
    assert.throws(
      () => profileHeatmap({ clusters: [{ id: 0 }], fields: ['a'], effects: [[1, 2]] }),
      /effects/,
    );
    const hm = profileHeatmap({
      clusters: [{ id: 0, name: '<a href="http://x">x</a>' }],
      fields: ['a'],
      effects: [[5]],
    });
    assert.ok(!JSON.stringify(hm).includes('<a href'));
    assert.equal(plotlyText('<b>'), '&lt;b&gt;');
    const h = scoreHistogram({
      scores: [0.5, 1, 2, 50],
      threshold: 3,
      groups: ['normal', 'normal', 'attack', 'attack'],
    });
    assert.equal(h.data.length, 3);
    const counts = (h.data[0]!.y as number[]).filter((_, i) => i % 2 === 0);
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      2,
    );
  });

  test('ROC uses rocCurve and reports the AUC', () => {
    const fig = rocFigure([{ name: 'm', y: [0, 0, 1, 1], score: [0.1, 0.4, 0.35, 0.8] }]);
    assert.match(String(fig.data[0]!.name), /AUC 0\.750/);
  });
});
