/**
 * The k slider on real NSL-KDD rows: one K-Means per k on the sample, the knee among the ks, and a
 * figure whose every slider step shows exactly its own marker, map and profile table.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kddFieldSpecs } from '../../src/features/kdd-fields.ts';
import { Preprocessor } from '../../src/features/preprocessor.ts';
import { kSliderFigure, sweepK } from '../../src/viz/k-slider.ts';
import { kdd } from '../helpers/data.ts';

describe('k slider', { timeout: 120_000 }, () => {
  test('sweepK + kSliderFigure: every k precomputed, steps toggle their own traces', async () => {
    const train = await kdd('nsl-kdd/KDDTrain+_20Percent.txt');
    const pre = new Preprocessor(kddFieldSpecs()).fit(train.table);
    const { X } = pre.transform(train.table);
    const ks = [2, 3, 4, 6, 8];
    const sweep = await sweepK(X, {
      ks,
      sampleSize: 600,
      silhouetteSample: 300,
      columns: pre.outputNames(),
      seed: 1,
    });
    assert.deepEqual(sweep.ks, ks);
    assert.equal(sweep.sampleRows, 600);
    // More clusters never fit the sample worse by much (k-means++ per k; allow small non-monotonicity).
    assert.ok(sweep.inertia[ks.length - 1]! < sweep.inertia[0]! * 0.8, `inertia ${sweep.inertia}`);
    assert.ok(sweep.knee === null || ks.includes(sweep.knee));
    sweep.labels.forEach((lab, i) => {
      assert.equal(lab.length, 600);
      assert.equal(new Set(lab).size, ks[i]);
      const rows = sweep.profiles[i]!;
      assert.equal(rows.length, ks[i]);
      assert.equal(
        rows.reduce((a, r) => a + r.size, 0),
        600,
      );
      assert.match(rows[0]!.distinguishing, /[↑↓]/);
    });
    const fig = kSliderFigure(sweep, { initialK: 4 });
    const slider = (
      fig.layout.sliders as { active: number; steps: { label: string; args: unknown[] }[] }[]
    )[0]!;
    assert.equal(slider.active, ks.indexOf(4));
    assert.deepEqual(
      slider.steps.map((s) => s.label),
      ks.map(String),
    );
    const fixed = fig.data.length - 3 * ks.length;
    slider.steps.forEach((s, i) => {
      const visible = (s.args[0] as { visible: boolean[] }).visible;
      const shown = visible.map((v, t) => (v ? t : -1)).filter((t) => t >= fixed);
      assert.deepEqual(shown, [fixed + 3 * i, fixed + 3 * i + 1, fixed + 3 * i + 2]);
      const table = fig.data[fixed + 3 * i + 2] as { type: string; cells: { values: unknown[][] } };
      assert.equal(table.type, 'table');
      assert.equal(table.cells.values[0]!.length, ks[i]);
    });
    // The figure is plain JSON (it goes into notebook outputs and /api/model).
    assert.doesNotThrow(() => JSON.parse(JSON.stringify(fig)));
  });
});
