/** Host behaviour over longer windows (host-behaviour.ts, run by windows.ts in both modes). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HOST_BEHAVIOUR_FIELDS } from '../../../src/ingest/traffic/host-behaviour.ts';
import type { Counters } from '../../../src/ingest/traffic/pcap.ts';
import { emptyFeatures, type Flow } from '../../../src/ingest/traffic/schema.ts';
import { applyWindows, WindowState } from '../../../src/ingest/traffic/windows.ts';

interface Spec {
  src?: string;
  dst?: string;
  t: number;
  dport?: number;
  state?: string;
  out?: number;
  in?: number;
  query?: string;
}

function flow(s: Spec): Flow {
  const f = emptyFeatures();
  f.fwd_bytes = s.out ?? 300;
  f.bwd_bytes = s.in ?? 1200;
  const dns = s.query !== undefined;
  return {
    src_ip: s.src ?? '10.0.0.5',
    dst_ip: s.dst ?? '198.51.100.7',
    src_port: 40000,
    dst_port: s.dport ?? (dns ? 53 : 443),
    protocol: dns ? 'udp' : 'tcp',
    start_time: s.t,
    community_id: '',
    conn_state: s.state ?? 'SF',
    port_class: 'p443',
    f,
    app: { app_proto: dns ? 'dns' : 'tls' },
    info: dns ? { dns_query: s.query } : {},
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

describe('host behaviour', () => {
  test('beacon score: a periodic pair scores high; jittered, bursty and few connections do not', () => {
    const r = lcg(7);
    const beacon = Array.from({ length: 30 }, (_, i) =>
      flow({ dst: '203.0.113.9', t: 1000 + 60 * i + (r() - 0.5), out: 420 }),
    );
    let t = 1000;
    const random = Array.from({ length: 30 }, () => {
      t += -Math.log(1 - r()) * 60; // exponential intervals, mean 60 s
      return flow({ src: '10.0.0.6', dst: '203.0.113.10', t, out: 200 + Math.floor(r() * 5000) });
    });
    // a browser opening parallel connections: starts scattered within one second
    const burst = Array.from({ length: 10 }, (_, i) =>
      flow({ src: '10.0.0.7', dst: '203.0.113.11', t: 1000 + i * 0.001 + r(), out: 420 }),
    );
    const few = Array.from({ length: 3 }, (_, i) => flow({ src: '10.0.0.8', t: 1000 + 60 * i }));
    const all = applyWindows([...beacon, ...random, ...burst, ...few]);
    const last = (src: string) => all.filter((f) => f.src_ip === src).at(-1)!.f;
    const b = last('10.0.0.5');
    assert.ok(b.pair_beacon_score! > 0.9, `beacon ${b.pair_beacon_score}`);
    assert.ok(b.pair_beacon_ts_score! > 0.9 && b.pair_beacon_ds_score! > 0.9);
    const x = last('10.0.0.6');
    // RITA reads scores above ~0.8 as beacons; exponential intervals and varied sizes stay below
    assert.ok(x.pair_beacon_score! < 0.7, `random ${x.pair_beacon_score}`);
    assert.ok(x.pair_beacon_ts_score! < b.pair_beacon_ts_score! - 0.2, `random ts ${x.pair_beacon_ts_score}`);
    const y = last('10.0.0.7');
    assert.ok(y.pair_beacon_ts_score! < 0.5, `burst ${y.pair_beacon_ts_score}`);
    assert.equal(last('10.0.0.8').pair_beacon_score, 0); // three connections: no evidence
  });

  test('DNS tunnel signal: many distinct names under one base domain; a browsing client has few', () => {
    const r = lcg(3);
    const tunnel: Flow[] = [];
    for (let i = 0; i < 300; i++) {
      const label = Array.from(
        { length: 40 },
        () => 'abcdefghijklmnopqrstuvwxyz0123456789'[Math.floor(r() * 36)],
      ).join('');
      tunnel.push(flow({ src: '10.0.0.66', t: 100 + i, query: `${label}.t.example.co.uk` }));
    }
    const sites = [
      'www.example.org',
      'cdn.example.org',
      'news.example.net',
      'mail.example.com',
      'a.b.example.com',
    ];
    const client = Array.from({ length: 100 }, (_, i) =>
      flow({ src: '10.0.0.7', t: 100 + 3 * i, query: sites[i % sites.length]! }),
    );
    const all = applyWindows([...tunnel, ...client]);
    const tun = all.filter((f) => f.src_ip === '10.0.0.66');
    // 10 min window: at t=399 all 300 names are in it, under the one base domain example.co.uk
    assert.equal(tun.at(-1)!.f.src_10m_dns_max_subdomains, 300);
    assert.equal(tun.at(-1)!.f.src_10m_dns_queries, 300);
    assert.equal(tun.at(-1)!.f.src_60s_dns_queries, 61); // [339, 399]
    const cl = all.filter((f) => f.src_ip === '10.0.0.7').at(-1)!.f;
    assert.equal(cl.src_10m_dns_max_subdomains, 2); // www. and cdn.example.org; mail. and a.b.example.com
  });

  test('failures, fan-out and byte direction per source and per pair; old flows leave the windows', () => {
    const flows: Flow[] = [];
    for (let i = 0; i < 50; i++)
      flows.push(
        flow({ src: '10.0.0.9', dst: `192.0.2.${i}`, t: i * 0.5, dport: 22, state: 'S0', out: 60, in: 0 }),
      );
    flows.push(flow({ src: '10.0.0.9', dst: '192.0.2.1', t: 25, dport: 80, out: 500, in: 1500 }));
    // 11 minutes later: the long window has emptied
    flows.push(flow({ src: '10.0.0.9', dst: '192.0.2.1', t: 25 + 660, dport: 80, out: 100, in: 300 }));
    const all = applyWindows(flows);
    const f = all[50]!.f;
    assert.equal(f.src_60s_count, 51);
    assert.equal(f.src_60s_distinct_dst_hosts, 50);
    assert.equal(f.src_60s_distinct_dst_ports, 2);
    assert.ok(Math.abs(f.src_60s_failed_rate! - 50 / 51) < 1e-12);
    assert.ok(Math.abs(f.src_10m_out_ratio! - (50 * 60 + 500) / (50 * 60 + 500 + 1500)) < 1e-12);
    assert.equal(f.pair_10m_count, 2);
    assert.equal(f.pair_10m_distinct_dst_ports, 2);
    assert.equal(f.pair_10m_failed_rate, 0.5);
    const later = all[51]!.f;
    assert.equal(later.src_10m_count, 1);
    assert.equal(later.pair_10m_count, 1);
    assert.equal(later.src_10m_out_ratio, 0.25);
  });

  test('batch and streaming give the same values (sorted input), and NaN where the input cannot tell', () => {
    const r = lcg(11);
    const mk = () => {
      const g = lcg(5);
      return Array.from({ length: 2000 }, (_, i) =>
        flow({
          src: `10.0.0.${Math.floor(g() * 5)}`,
          dst: `192.0.2.${Math.floor(g() * 20)}`,
          t: i * 0.7,
          dport: [22, 53, 80, 443][Math.floor(g() * 4)],
          state: g() < 0.2 ? 'REJ' : 'SF',
          query: g() < 0.3 ? `h${Math.floor(g() * 50)}.example.org` : undefined,
        }),
      );
    };
    // batch on a shuffled copy sorts by start_time; streaming gets the flows in start order
    const shuffled = mk();
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const batch = applyWindows(shuffled);
    const stream = mk();
    const w = new WindowState();
    for (const f of stream) w.push(f);
    for (let i = 0; i < stream.length; i++)
      for (const k of HOST_BEHAVIOUR_FIELDS) assert.equal(stream[i]!.f[k], batch[i]!.f[k], `${i} ${k}`);
    // a source without application data (Zeek conn.log alone, CIC) has no query names; no src: NaN
    const zeek = flow({ t: 1 });
    delete zeek.app;
    delete zeek.info;
    zeek.dst_port = 53;
    zeek.protocol = 'udp';
    const nosrc = flow({ src: '', t: 2 });
    new WindowState().push(zeek);
    new WindowState().push(nosrc);
    assert.ok(Number.isNaN(zeek.f.src_10m_dns_max_subdomains!));
    assert.equal(zeek.f.src_10m_dns_queries, 1); // dst_port 53 stands in for app_proto
    for (const k of HOST_BEHAVIOUR_FIELDS) assert.ok(Number.isNaN(nosrc.f[k]!), k);
  });

  test('bounded: sources and pairs beyond the caps are evicted and counted', () => {
    const c: Counters = {};
    const w = new WindowState(c, { host: { maxSources: 100, maxPairs: 150 } });
    for (let i = 0; i < 1000; i++) w.push(flow({ src: `10.1.${i >> 8}.${i & 255}`, t: i * 0.01 }));
    assert.equal(c.host_sources_evicted, 900);
    assert.equal(c.host_pairs_evicted, 850);
  });
});
