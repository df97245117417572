/** The beacon report (explain/beacons.ts): ranking, bursts, known pollers, allow-list, bounds. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allowEntry, BeaconTracker, knownPollers } from '../../src/explain/beacons.ts';
import { HOST_BEHAVIOUR_FIELDS } from '../../src/ingest/traffic/host-behaviour.ts';
import { emptyFeatures, type Flow } from '../../src/ingest/traffic/schema.ts';
import { applyWindows } from '../../src/ingest/traffic/windows.ts';

function flow(src: string, dst: string, t: number, out: number, name?: string, cid = ''): Flow {
  const f = emptyFeatures();
  f.fwd_bytes = out;
  f.bwd_bytes = 2 * out;
  return {
    src_ip: src,
    dst_ip: dst,
    src_port: 40000,
    dst_port: 443,
    protocol: 'tcp',
    start_time: t,
    community_id: cid,
    conn_state: 'SF',
    port_class: 'p443',
    f,
    app: { app_proto: 'tls' },
    info: name ? { tls_sni: name } : {},
  };
}

/** A deterministic pseudo-random sequence (no Math.random in tests). */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

/** An hour of traffic: a jittered 60 s implant, a browsing user, a flood, an update poller. */
function hour(seed: number): Flow[] {
  const r = lcg(seed);
  const flows: Flow[] = [];
  for (let t = 0; t < 3600; t += 60 + (r() - 0.5) * 6)
    flows.push(flow('10.0.0.66', '203.0.113.9', t, 310 + Math.floor(r() * 8), undefined, `c2-${t}`));
  // browsing: a connection at random times (exponential gaps, mean 90 s)
  for (let t = 0; t < 3600; t += -Math.log(1 - r()) * 90)
    flows.push(flow('10.0.0.7', '198.51.100.20', t, 400 + Math.floor(r() * 3000), 'news.example'));
  // page loads: bursts of 3-6 connections 0.2 s apart at random times
  for (let t = 0; t < 3600; t += -Math.log(1 - r()) * 120)
    for (let j = 0, n = 3 + Math.floor(r() * 4); j < n; j++)
      flows.push(
        flow('10.0.0.7', '198.51.100.21', t + j * 0.2, 400 + Math.floor(r() * 3000), 'shop.example'),
      );
  // a SYN flood: 2,000 connections in 20 s
  for (let j = 0; j < 2000; j++) flows.push(flow('198.51.100.99', '10.0.0.2', 100 + j * 0.01, 60));
  // an update check every 300 s, exactly
  for (let t = 5; t < 3600; t += 300) flows.push(flow('10.0.0.8', '192.0.2.80', t, 500, 'updates.example'));
  return flows.sort((a, b) => a.start_time - b.start_time);
}

function track(flows: Flow[], maxConnections?: number): BeaconTracker {
  const t = new BeaconTracker({ maxConnections });
  for (const f of flows) t.add(f);
  return t;
}

test('the exact poller and the jittered implant rank first, browsing below; a flood is a burst, not a beacon', () => {
  const pairs = track(hour(1)).pairs();
  const keys = pairs.map((p) => `${p.src_ip}>${p.dst_ip}`);
  assert.deepEqual(keys.slice(0, 2), ['10.0.0.8>192.0.2.80', '10.0.0.66>203.0.113.9']);
  assert.ok(!keys.includes('198.51.100.99>10.0.0.2'), 'the flood (median interval 0.01 s) is left out');
  assert.ok(!keys.includes('10.0.0.7>198.51.100.21'), 'so are page loads (median interval 0.2 s)');
  assert.ok(keys.includes('10.0.0.7>198.51.100.20'));
  const c2 = pairs[1]!;
  const web = pairs.find((p) => p.src_ip === '10.0.0.7')!;
  assert.ok(c2.score > 0.8 && web.score < c2.score - 0.2, `${c2.score} vs ${web.score}`);
  assert.ok(Math.abs(c2.interval_s - 60) < 3);
  assert.ok(c2.interval_mad_s < 3);
  assert.equal(c2.connections, 61);
  assert.deepEqual(c2.community_ids.length, 5);
  assert.equal(c2.known, null);
  // the flood and the page loads are in the list when bursts are allowed
  const all = track(hour(1)).pairs({ minInterval: 0 });
  assert.ok(all.some((p) => p.src_ip === '198.51.100.99'));
  assert.ok(all.some((p) => p.dst_ip === '198.51.100.21'));
});

test('the score over a whole series is the pair_beacon_score its last flow carries (≤ 64 connections, one hour)', () => {
  const flows = hour(2).filter((f) => f.src_ip === '10.0.0.66');
  applyWindows(flows);
  assert.ok(HOST_BEHAVIOUR_FIELDS.includes('pair_beacon_score'));
  const last = flows[flows.length - 1]!;
  const p = track(flows).pairs()[0]!;
  assert.equal(p.score, last.f.pair_beacon_score);
  assert.equal(p.ts_score, last.f.pair_beacon_ts_score);
  assert.equal(p.ds_score, last.f.pair_beacon_ds_score);
});

test('destinations that beacon in a baseline are known pollers, by name when named; known pairs rank last', () => {
  const known = knownPollers(track(hour(3)).pairs());
  assert.ok(known.names.has('updates.example'));
  assert.ok(known.addresses.has('203.0.113.9'), 'an unnamed destination is known by its address');
  assert.ok(!known.addresses.has('192.0.2.80'), 'a named destination is not known by its address');
  // next hour: a new host polls the same update service at another address; the implant moved
  const next = hour(4).map((f) =>
    f.src_ip === '10.0.0.8'
      ? { ...f, src_ip: '10.0.0.9', dst_ip: '192.0.2.81' }
      : f.src_ip === '10.0.0.66'
        ? { ...f, dst_ip: '203.0.113.10' }
        : f,
  );
  const pairs = track(next).pairs({ known });
  const poller = pairs.find((p) => p.src_ip === '10.0.0.9')!;
  assert.equal(poller.known, 'baseline');
  assert.equal(pairs[pairs.length - 1], poller, 'known pairs come after every other pair');
  assert.equal(pairs[0]!.dst_ip, '203.0.113.10', 'the implant at its new address is first');
  assert.equal(pairs[0]!.known, null);
  // the allow-list marks pairs too
  const allowed = track(next).pairs({ allow: ['203.0.113.0/24'] });
  assert.equal(allowed.find((p) => p.dst_ip === '203.0.113.10')!.known, 'allow');
});

test('allow-list entries: addresses, IPv4 CIDRs, domains with their sub-domains; bad CIDRs refused', () => {
  assert.ok(allowEntry('192.0.2.1')('192.0.2.1'));
  assert.ok(!allowEntry('192.0.2.1')('192.0.2.10'));
  assert.ok(allowEntry('10.0.0.0/8')('10.200.3.4'));
  assert.ok(!allowEntry('10.0.0.0/8')('11.0.0.1'));
  assert.ok(allowEntry('0.0.0.0/0')('203.0.113.5'));
  assert.ok(allowEntry('Example.COM')('cdn.example.com'));
  assert.ok(!allowEntry('example.com')('badexample.com'));
  assert.throws(() => allowEntry('10.0.0.0/33'), /not an IPv4 CIDR/);
  assert.throws(() => allowEntry('300.0.0.0/8'), /not an IPv4 CIDR/);
  assert.throws(() => allowEntry('  '), /empty entry/);
});

test('memory is bounded per pair: the latest connections are scored, all are counted', () => {
  const flows = hour(5).filter((f) => f.src_ip === '10.0.0.66');
  const p = track(flows, 16).pairs()[0]!;
  assert.equal(p.connections, flows.length);
  const latest = track(flows.slice(-16)).pairs()[0]!;
  assert.equal(p.score, latest.score);
  assert.throws(() => new BeaconTracker({ maxConnections: 1 }), /maxConnections/);
  // evidence: distinct Community IDs, the latest last (a reused source port repeats an ID)
  const t = new BeaconTracker();
  for (const [i, cid] of ['a', 'b', 'a', 'c', 'd', 'e', 'f', 'e'].entries())
    t.add(flow('10.0.0.1', '10.0.0.2', i * 60, 100, undefined, cid));
  assert.deepEqual(t.pairs({ minConnections: 2 })[0]!.community_ids, ['a', 'c', 'd', 'f', 'e']);
});

test('the number of pairs is bounded: connections of pairs beyond it are counted, not kept', () => {
  const t = new BeaconTracker({ maxPairs: 2 });
  for (let i = 0; i < 30; i++)
    for (const dst of ['10.0.0.2', '10.0.0.3', '10.0.0.4']) t.add(flow('10.0.0.1', dst, i * 60, 100));
  assert.equal(t.size, 2);
  assert.equal(t.untracked, 30);
  assert.deepEqual(
    t
      .pairs()
      .map((p) => p.dst_ip)
      .sort(),
    ['10.0.0.2', '10.0.0.3'],
  );
  assert.throws(() => new BeaconTracker({ maxPairs: 0 }), /maxPairs/);
});
