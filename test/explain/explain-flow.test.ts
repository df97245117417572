import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { explainRows } from '../../src/explain/explain-flow.ts';
import { profileClusters } from '../../src/explain/profiles.ts';
import { takeRows } from '../../src/ingest/table.ts';
import { AnomalyDetector } from '../../src/model/detector.ts';
import { SYN_FIELDS, syntheticTable } from './synthetic.ts';

describe('explainRows', async () => {
  const { table } = syntheticTable(900, 2);
  // An outlier at the end: signal far beyond every group.
  const numeric = Object.fromEntries(
    Object.entries(table.numeric).map(([k, v]) => [k, Float64Array.from([...v, k === 'signal' ? 200 : 0])]),
  );
  const data = { nRows: 901, numeric, text: { colour: [...table.text.colour!, 'red'] } };
  const det = await new AnomalyDetector(SYN_FIELDS, { k: 3, seed: 0, engine: 'js', nInit: 10 }).fit(table);
  const rows = [0, 1, 2, 500, 900];

  test('contributions sum to the primary-run squared distance (= evaluateRows().dist2)', async () => {
    const ex = await explainRows(det, data, rows);
    const ev = await det.evaluateRows(takeRows(data, rows));
    ex.forEach((e, i) => {
      const s = Object.values(e.contributions).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(s - e.squared_distance) < 1e-6);
      assert.ok(Math.abs(e.squared_distance - ev.dist2[i]!) <= 1e-4 * Math.max(1, ev.dist2[i]!));
      assert.equal(e.cluster, ev.cluster[i]);
      assert.ok(Math.abs(e.anomaly_score - ev.anomalyScore[i]!) < 1e-9);
      assert.equal(e.decomposes, 'primary-run squared distance');
      assert.deepEqual(Object.keys(e.contributions), ['signal', 'noise1', 'noise2', 'colour']);
    });
  });

  test('the outlier is explained by the informative field, with typical values in original units', async () => {
    const [e] = await explainRows(det, data, [900]);
    assert.equal(e!.is_anomaly, true);
    const top = e!.top_fields[0]!;
    assert.equal(top.field, 'signal');
    assert.equal(top.value, 200);
    assert.ok(Math.abs((top.typical as number) - 40) < 1, `typical ${top.typical}`);
    assert.equal(top.direction, 'higher');
    assert.ok(top.share > 0.9);
    const colour = e!.top_fields.find((f) => f.field === 'colour');
    if (colour) assert.ok(['red', 'blue'].includes(colour.typical as string));
  });

  test('counterfactual: the nearest normal-tagged cluster, else the nearest other cluster', async () => {
    const profiles = await profileClusters(det, data);
    // Force tags to check both branches.
    const oneNormal = profiles.map((p) => ({
      ...p,
      tag: p.id === 0 ? ('normal' as const) : ('unknown' as const),
    }));
    const [a] = await explainRows(det, data, [900], { profiles: oneNormal });
    assert.equal(a!.counterfactual!.cluster, 0);
    assert.ok(a!.counterfactual!.changes.length > 0);
    const noneNormal = profiles.map((p) => ({ ...p, tag: 'unknown' as const }));
    const [b] = await explainRows(det, data, [900], { profiles: noneNormal });
    assert.notEqual(b!.counterfactual!.cluster, b!.cluster);
    assert.match(b!.counterfactual!.basis, /no cluster is tagged normal/);
    assert.ok(b!.counterfactual!.squared_distance >= b!.squared_distance);
  });

  test('an out-of-range row is refused with a clear message', async () => {
    await assert.rejects(explainRows(det, data, [901]), /row 901 is out of range: the input has 901 rows/);
  });
});
