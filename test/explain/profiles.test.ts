import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { profileClusters, tagAgreement, toFamily } from '../../src/explain/profiles.ts';
import { AnomalyDetector } from '../../src/model/detector.ts';
import { SYN_FIELDS, syntheticTable } from './synthetic.ts';

describe('profileClusters', async () => {
  const { table, group } = syntheticTable(900);
  const det = await new AnomalyDetector(SYN_FIELDS, { k: 3, seed: 0, engine: 'js', nInit: 10 }).fit(table);
  const clusters = await det.cluster(table);

  test('sizes, shares and centroids in original units (means of the rows, from the table)', async () => {
    const p = await profileClusters(det, table);
    assert.equal(p.length, 3);
    assert.equal(
      p.reduce((t, c) => t + c.size, 0),
      900,
    );
    for (const c of p) {
      const rows = [...clusters.keys()].filter((i) => clusters[i] === c.id);
      assert.equal(c.size, rows.length);
      assert.ok(Math.abs(c.share - rows.length / 900) < 1e-6);
      const mean = rows.reduce((t, i) => t + table.numeric.signal![i]!, 0) / rows.length;
      assert.ok(Math.abs(c.centroid.signal! - mean) < 1e-4 * Math.max(1, Math.abs(mean)));
      // the three groups sit at 0, 20, 40: each cluster is one of them
      assert.ok([0, 20, 40].some((g) => Math.abs(c.centroid.signal! - g) < 1));
      const shares = c.dominant.colour!.map((x) => x.share);
      assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 1e-6);
    }
  });

  test('the distinguishing field is the informative one, with the right direction', async () => {
    const p = await profileClusters(det, table);
    for (const c of p) {
      const first = c.distinguishing[0]!;
      if (Math.abs(c.centroid.signal! - 20) < 1) continue; // the middle group sits at the overall mean
      assert.equal(first.field, 'signal');
      assert.equal(first.direction, c.centroid.signal! > 20 ? 'up' : 'down');
      assert.ok(Math.abs(first.effect) > 1);
    }
  });

  test('labels give counts, purity and majority, and never change the tags', async () => {
    const plain = await profileClusters(det, table);
    const withLabels = await profileClusters(det, table, { labels: group });
    const shuffled = await profileClusters(det, table, { labels: [...group].reverse() });
    assert.deepEqual(
      withLabels.map((c) => [c.tag, c.confidence, c.evidence]),
      plain.map((c) => [c.tag, c.confidence, c.evidence]),
    );
    assert.deepEqual(
      shuffled.map((c) => c.tag),
      plain.map((c) => c.tag),
    );
    for (const c of withLabels) {
      assert.equal(c.purity, 1);
      assert.equal(
        Object.values(c.label_counts!).reduce((a, b) => a + b, 0),
        c.size,
      );
    }
    const a = tagAgreement(withLabels);
    assert.equal(a.rows, 900);
    assert.ok(a.agreement >= 0 && a.agreement <= 1);
  });

  test('analyst names from the card are shown', async () => {
    const p = await profileClusters(det, table, {
      clusterNames: { '1': { name: 'backup jobs', note: 'nightly' } },
    });
    assert.equal(p[1]!.name, 'backup jobs');
    assert.equal(p[1]!.note, 'nightly');
    assert.equal(p[0]!.name, undefined);
  });

  test('raw labels are mapped to families', () => {
    assert.equal(toFamily('neptune'), 'dos');
    assert.equal(toFamily('smurf.'), 'dos');
    assert.equal(toFamily('probe'), 'probe');
    assert.equal(toFamily('BENIGN'), 'normal');
  });

  test('a label list of the wrong length is refused', async () => {
    await assert.rejects(profileClusters(det, table, { labels: ['normal'] }), /1 labels for 900 rows/);
  });
});
