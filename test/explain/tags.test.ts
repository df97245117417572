import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BEHAVIOUR_RULES, type ClusterStats, evaluateRule, tagCluster } from '../../src/explain/tags.ts';

/** Stats for a cluster with the given means (medians equal to means unless given). */
function stats(
  mean: Record<string, number>,
  extra: Partial<Pick<ClusterStats, 'median' | 'nonzero' | 'categories'>> = {},
  size = 500,
): ClusterStats {
  return {
    size,
    mean,
    median: { ...mean, ...(extra.median ?? {}) },
    nonzero: extra.nonzero ?? Object.fromEntries(Object.entries(mean).map(([k, v]) => [k, v ? 1 : 0])),
    categories: extra.categories ?? {},
  };
}

const kddNormal = {
  count: 4,
  srv_count: 6,
  serror_rate: 0,
  rerror_rate: 0,
  same_srv_rate: 1,
  diff_srv_rate: 0,
  dst_host_diff_srv_rate: 0,
  dst_host_same_src_port_rate: 0.01,
  dst_host_serror_rate: 0,
  dst_host_rerror_rate: 0,
  src_bytes: 250,
  dst_bytes: 1500,
  duration: 0,
  logged_in: 1,
  hot: 0,
  num_failed_logins: 0,
  wrong_fragment: 0,
  land: 0,
  is_guest_login: 0,
};

describe('behaviour tags (KDD vocabulary)', () => {
  test('established web traffic is normal', () => {
    const r = tagCluster(stats(kddNormal, { categories: { flag: { SF: 0.97, REJ: 0.03 } } }));
    assert.equal(r.tag, 'normal');
    assert.equal(r.evidence[0]!.rule, 'established traffic');
    assert.ok(r.confidence > 0.5);
  });

  test('a neptune-like SYN flood is dos/flood, with the values in the evidence', () => {
    const r = tagCluster(
      stats(
        {
          ...kddNormal,
          count: 180,
          serror_rate: 1,
          same_srv_rate: 0.07,
          diff_srv_rate: 0.06,
          src_bytes: 0,
          dst_bytes: 0,
          logged_in: 0,
        },
        { categories: { flag: { S0: 1 } } },
      ),
    );
    assert.equal(r.tag, 'dos/flood');
    const e = r.evidence.find((x) => x.rule === 'connection-flood')!;
    assert.ok(e);
    assert.deepEqual(
      e.conditions.find((c) => c.stat === 'median(count)'),
      { stat: 'median(count)', value: 180, op: '>=', threshold: 50, ok: true },
    );
  });

  test('a satan-like service scan is probe/scan; a smurf-like echo flood is dos/flood', () => {
    const scan = tagCluster(
      stats({
        ...kddNormal,
        count: 140,
        rerror_rate: 0.85,
        diff_srv_rate: 1,
        dst_host_diff_srv_rate: 0.8,
        src_bytes: 0,
        dst_bytes: 0,
        logged_in: 0,
      }),
    );
    assert.equal(scan.tag, 'probe/scan');
    const smurf = tagCluster(
      stats(
        {
          ...kddNormal,
          count: 480,
          srv_count: 480,
          same_srv_rate: 1,
          src_bytes: 1032,
          dst_bytes: 0,
          logged_in: 0,
        },
        { categories: { flag: { SF: 1 } } },
      ),
    );
    assert.equal(smurf.tag, 'dos/flood');
  });

  test('failed logins and guest logins are brute-force/access; a large upload is exfiltration', () => {
    const guess = tagCluster(
      stats({ ...kddNormal, num_failed_logins: 1, logged_in: 0 }, { nonzero: { num_failed_logins: 0.8 } }),
    );
    assert.equal(guess.tag, 'brute-force/access');
    const bulk = tagCluster(stats({ ...kddNormal, src_bytes: 5e6, dst_bytes: 2000, duration: 30 }));
    assert.equal(bulk.tag, 'exfiltration/bulk-transfer');
  });

  test('nothing recognisable is unknown with a confidence in 0..1', () => {
    const r = tagCluster(
      stats({ ...kddNormal, logged_in: 0 }, { categories: { flag: { RSTO: 0.5, SF: 0.5 } } }),
    );
    assert.equal(r.tag, 'unknown');
    assert.equal(r.evidence.length, 0);
    assert.ok(r.confidence >= 0 && r.confidence <= 1);
  });

  test('tiny clusters get a lower confidence', () => {
    const big = tagCluster(stats(kddNormal, { categories: { flag: { SF: 1 } } }, 1000));
    const tiny = tagCluster(stats(kddNormal, { categories: { flag: { SF: 1 } } }, 2));
    assert.equal(tiny.tag, big.tag);
    assert.ok(tiny.confidence < big.confidence / 5);
  });
});

describe('behaviour tags (canonical flow vocabulary)', () => {
  const flowNormal = {
    duration: 2,
    fwd_bytes: 900,
    bwd_bytes: 20000,
    src_t_count: 3,
    src_n_count: 20,
    src_t_distinct_dst_ports: 1,
    src_n_distinct_dst_ports: 2,
    src_t_distinct_dst_hosts: 1,
    src_n_distinct_dst_hosts: 3,
    src_t_s0_rate: 0,
    src_n_s0_rate: 0,
    src_t_rej_rate: 0,
    src_n_rej_rate: 0,
    src_t_same_dport_rate: 1,
    src_n_same_dport_rate: 0.8,
  };
  test('rules only look at fields that exist: KDD rules are not applicable to flows', () => {
    const flood = BEHAVIOUR_RULES.find((r) => r.id === 'connection-flood')!;
    const o = evaluateRule(flood, stats(flowNormal));
    assert.equal(o.conditions, null);
    assert.equal(o.fired, false);
  });

  test('established flows are normal, a SYN port scan is probe/scan, a SYN flood is dos/flood', () => {
    assert.equal(
      tagCluster(stats(flowNormal, { categories: { conn_state: { SF: 0.95, S1: 0.05 } } })).tag,
      'normal',
    );
    const scan = tagCluster(
      stats(
        {
          ...flowNormal,
          fwd_bytes: 44,
          bwd_bytes: 0,
          src_t_distinct_dst_ports: 120,
          src_n_distinct_dst_ports: 100,
          src_t_s0_rate: 0.9,
          src_t_same_dport_rate: 0.01,
          src_n_same_dport_rate: 0.01,
        },
        { categories: { conn_state: { S0: 0.6, REJ: 0.4 } } },
      ),
    );
    assert.equal(scan.tag, 'probe/scan');
    const flood = tagCluster(
      stats(
        {
          ...flowNormal,
          fwd_bytes: 60,
          bwd_bytes: 0,
          src_t_count: 400,
          src_n_count: 100,
          src_t_s0_rate: 1,
          src_n_s0_rate: 1,
        },
        { categories: { conn_state: { S0: 1 } } },
      ),
    );
    assert.equal(flood.tag, 'dos/flood');
  });

  test('repeated short sessions to a login port are brute-force/access', () => {
    const r = tagCluster(
      stats(
        { ...flowNormal, duration: 1.2, fwd_bytes: 1800, bwd_bytes: 2500, src_t_count: 12, src_n_count: 100 },
        { categories: { conn_state: { SF: 0.9, RSTO: 0.1 }, port_class: { p22: 0.98, p443: 0.02 } } },
      ),
    );
    assert.equal(r.tag, 'brute-force/access');
  });
});
