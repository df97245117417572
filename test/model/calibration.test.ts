import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  clopperPearson,
  complementRows,
  conformalThreshold,
  estimateFpr,
  foldRows,
  groupBootstrapRate,
  groupConformalThreshold,
  groupFolds,
  groupIndex,
  outOfGroupScores,
} from '../../src/model/calibration.ts';
import { Rng } from '../../src/model/random.ts';

/** 60 groups of very different sizes (1..120 rows), group g's rows shifted by a group effect. */
function groupedData(seed: number) {
  const rng = new Rng(seed);
  const groups: number[] = [];
  const scores: number[] = [];
  for (let g = 0; g < 60; g++) {
    const n = 1 + ((g * 37) % 120);
    const shift = 0.3 * rng.normal();
    for (let i = 0; i < n; i++) {
      groups.push(g);
      scores.push(shift + rng.normal());
    }
  }
  return { groups: Int32Array.from(groups), scores: Float64Array.from(scores) };
}

describe('grouped folds', () => {
  test('every group in exactly one fold, balanced in rows, the same for the same seed', () => {
    const { groups } = groupedData(1);
    const a = groupFolds(groups, 5, 7);
    assert.deepEqual(a, groupFolds(groups, 5, 7));
    assert.notDeepEqual(a, groupFolds(groups, 5, 8));
    const rows = foldRows(groups, a, 5);
    assert.equal(
      rows.reduce((s, r) => s + r.length, 0),
      groups.length,
    );
    for (const [f, r] of rows.entries()) {
      // no group split across folds
      for (const i of r) assert.equal(a[groups[i]!], f);
      assert.ok(Math.abs(r.length - groups.length / 5) < 120, `fold of ${r.length} rows`);
    }
    const c = complementRows(groups.length, rows[0]!);
    assert.equal(c.length + rows[0]!.length, groups.length);
    assert.ok(c.every((i) => a[groups[i]!] !== 0));
  });

  test('refuses fewer groups than folds', () => {
    assert.throws(() => groupFolds(Int32Array.from([0, 0, 1]), 3, 0), /at least 3 groups/);
  });

  test('groupIndex numbers keys in first-seen order', () => {
    assert.deepEqual(Array.from(groupIndex(['b', 'a', 'b', 'c']).index), [0, 1, 0, 2]);
  });

  test('out-of-group scores come from a model that never saw the row’s group', async () => {
    const { groups } = groupedData(2);
    const seen: Set<number>[] = [];
    const { scores } = await outOfGroupScores(groups, 4, 0, async (tr, te) => {
      const trainGroups = new Set(Array.from(tr, (i) => groups[i]!));
      seen.push(trainGroups);
      for (const i of te) assert.ok(!trainGroups.has(groups[i]!));
      return Float64Array.from(te, (i) => i);
    });
    assert.equal(seen.length, 4);
    assert.deepEqual(
      Array.from(scores),
      Array.from({ length: groups.length }, (_, i) => i),
    );
  });
});

describe('thresholds and their uncertainty', () => {
  test('split-conformal rank: ⌈(n+1)(1−α)⌉-th smallest', () => {
    const s = Array.from({ length: 99 }, (_, i) => i + 1); // 1..99
    assert.equal(conformalThreshold(s, 0.1), 90);
    assert.equal(conformalThreshold(s, 0.001), 99);
  });

  test('group-weighted threshold: one huge group does not set it alone', () => {
    // 50 groups of one row at 0..49, one group of 1000 rows at 100
    const scores = [...Array.from({ length: 50 }, (_, i) => i), ...new Array(1000).fill(100)];
    const groups = Int32Array.from([...Array.from({ length: 50 }, (_, i) => i), ...new Array(1000).fill(50)]);
    assert.equal(conformalThreshold(scores, 0.1), 100);
    const t = groupConformalThreshold(scores, groups, 0.1);
    assert.ok(t < 100 && t >= 40, `threshold ${t}`);
  });

  test('new groups exceed a grouped threshold at about the target rate', async () => {
    // calibrate on one draw, test on fresh groups: the per-group flagged share averages ≈ α
    const cal = groupedData(3);
    const t = groupConformalThreshold(cal.scores, cal.groups, 0.05);
    const shares: number[] = [];
    for (let seed = 10; seed < 30; seed++) {
      const d = groupedData(seed);
      const hit = new Float64Array(60);
      const n = new Float64Array(60);
      d.scores.forEach((v, i) => {
        n[d.groups[i]!]!++;
        if (v > t) hit[d.groups[i]!]!++;
      });
      for (let g = 0; g < 60; g++) shares.push(hit[g]! / n[g]!);
    }
    const mean = shares.reduce((s, x) => s + x, 0) / shares.length;
    assert.ok(mean > 0.02 && mean < 0.09, `mean flagged share per new group ${mean}`);
  });

  test('Clopper-Pearson matches the exact binomial interval', () => {
    const a = clopperPearson(0, 10);
    assert.equal(a.low, 0);
    assert.ok(Math.abs(a.high - 0.3085) < 1e-3, `${a.high}`);
    const b = clopperPearson(5, 10);
    assert.ok(Math.abs(b.low - 0.1871) < 1e-3 && Math.abs(b.high - 0.8129) < 1e-3, JSON.stringify(b));
  });

  test('group bootstrap is wider than the row interval when groups differ', () => {
    const { groups, scores } = groupedData(4);
    const t = conformalThreshold(scores, 0.05);
    const e = estimateFpr(scores, t, groups, null, 0);
    assert.ok(e.fpr <= 0.05 + 1e-9);
    assert.ok(e.groupBootstrap.low <= e.fpr && e.fpr <= e.groupBootstrap.high);
    assert.ok(e.clopperPearson.low <= e.fpr && e.fpr <= e.clopperPearson.high);
    const flags = Float64Array.from(scores, (v) => (v > t ? 1 : 0));
    const again = groupBootstrapRate(flags, groups, { seed: 0 });
    assert.deepEqual(again, e.groupBootstrap);
  });
});
