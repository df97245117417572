import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DecodedPacket } from '../../../src/ingest/traffic/decode.ts';
import { FlowMeter } from '../../../src/ingest/traffic/flow-meter.ts';
import type { Counters } from '../../../src/ingest/traffic/pcap.ts';
import { emptyFeatures, type Flow } from '../../../src/ingest/traffic/schema.ts';
import { applyWindows, WindowState } from '../../../src/ingest/traffic/windows.ts';

const S = 0x02;
const A = 0x10;
const R = 0x04;
const Fn = 0x01;

function pkt(ts: number, fwd: boolean, flags: number, pay = 0, dport = 80, proto = 6): DecodedPacket {
  const [src, dst, sport, dp] = fwd
    ? ['10.0.0.1', '10.0.0.2', 40000, dport]
    : ['10.0.0.2', '10.0.0.1', dport, 40000];
  return {
    ts,
    ipVersion: 4,
    src,
    dst,
    proto,
    sport,
    dport: dp,
    ipLen: 40 + pay,
    payloadLen: pay,
    tcpFlags: flags,
  };
}

function run(pkts: DecodedPacket[], opts = {}): { flows: Flow[]; c: Counters } {
  const c: Counters = {};
  const m = new FlowMeter(c, opts);
  const flows = pkts.flatMap((p) => m.add(p));
  flows.push(...m.flush());
  return { flows, c };
}

describe('flow meter', () => {
  test('Zeek-style conn_state from the handshake', () => {
    const state = (pk: DecodedPacket[]) => run(pk).flows.map((f) => f.conn_state);
    assert.deepEqual(state([pkt(0, true, S)]), ['S0']);
    assert.deepEqual(state([pkt(0, true, S), pkt(0.1, false, R | A)]), ['REJ']);
    assert.deepEqual(state([pkt(0, true, S), pkt(0.1, false, S | A), pkt(0.2, true, R)]), ['RSTO']);
    assert.deepEqual(
      state([pkt(0, true, S), pkt(0.1, false, S | A), pkt(0.2, true, A), pkt(0.3, false, R)]),
      ['RSTR'],
    );
    assert.deepEqual(
      state([
        pkt(0, true, S),
        pkt(0.1, false, S | A),
        pkt(0.2, true, A),
        pkt(0.3, true, Fn | A),
        pkt(0.4, false, Fn | A),
      ]),
      ['SF'],
    );
    assert.deepEqual(state([pkt(0, true, S), pkt(0.1, false, S | A), pkt(0.2, true, A)]), ['S1']);
    assert.deepEqual(state([pkt(0, true, A, 10), pkt(0.1, false, A, 10)]), ['OTH']);
    assert.deepEqual(state([pkt(0, true, 0, 10, 53, 17)]), ['S0']);
    assert.deepEqual(state([pkt(0, true, 0, 10, 53, 17), pkt(0.1, false, 0, 50, 53, 17)]), ['SF']);
  });

  test('idle timeout splits, emitted in time order; SYN after close opens a new flow', () => {
    const { flows, c } = run([pkt(0, true, 0, 5, 53, 17), pkt(200, true, 0, 5, 53, 17)], {
      idleTimeout: 120,
    });
    assert.equal(flows.length, 2);
    assert.equal(c.idle_timeouts, 1);
    assert.ok(flows[0]!.start_time < flows[1]!.start_time);
    const reuse = run([pkt(0, true, S), pkt(0.1, false, R | A), pkt(0.5, true, S), pkt(0.6, false, R | A)]);
    assert.deepEqual(
      reuse.flows.map((f) => f.conn_state),
      ['REJ', 'REJ'],
    );
    assert.equal(reuse.c.tcp_port_reuse, 1);
  });

  test('memory is bounded by maxFlows; backwards timestamps are counted', () => {
    const c: Counters = {};
    const m = new FlowMeter(c, { maxFlows: 100 });
    let emitted = 0;
    for (let i = 0; i < 1000; i++) {
      emitted += m.add(pkt(i * 0.001, true, S, 0, 1000 + i)).length;
      assert.ok(m.size <= 100);
    }
    emitted += m.add(pkt(0, true, S, 0, 5)).length;
    assert.equal(c.backwards_timestamps, 1);
    emitted += m.flush().length;
    assert.equal(emitted, 1001);
    assert.equal(c.flows_evicted, 901);
  });
});

function flow(src: string, t: number, dport: number, state = 'S0'): Flow {
  return {
    src_ip: src,
    dst_ip: '10.9.9.9',
    src_port: 1,
    dst_port: dport,
    protocol: 'tcp',
    start_time: t,
    community_id: '',
    conn_state: state,
    port_class: 'registered',
    f: emptyFeatures(),
  };
}

describe('traffic windows', () => {
  test('a scanner gets many distinct ports and a high S0 rate, a client does not', () => {
    const flows: Flow[] = [];
    for (let i = 0; i < 300; i++) flows.push(flow('10.0.0.66', i * 0.01, 1 + i));
    for (let i = 0; i < 300; i++) flows.push(flow('10.0.0.7', i * 0.01, 443, 'SF'));
    const sorted = applyWindows(flows);
    const last = (src: string) => sorted.filter((f) => f.src_ip === src).at(-1)!.f;
    const scan = last('10.0.0.66');
    assert.equal(scan.src_n_count, 100);
    assert.equal(scan.src_n_distinct_dst_ports, 100);
    assert.equal(scan.src_n_s0_rate, 1);
    // [0.99 s, 2.99 s] at 10 ms spacing: 200 or 201 flows depending on float rounding at the edge
    assert.ok(scan.src_t_count! >= 200 && scan.src_t_count! <= 201);
    assert.equal(scan.src_t_distinct_dst_ports, scan.src_t_count);
    assert.ok(Math.abs(scan.src_t_same_dport_rate! - 1 / scan.src_t_count!) < 1e-12);
    const client = last('10.0.0.7');
    assert.equal(client.src_n_distinct_dst_ports, 1);
    assert.equal(client.src_n_same_dport_rate, 1);
    assert.equal(client.src_n_s0_rate, 0);
  });

  test('batch and streaming are the same code path (same features on sorted input)', () => {
    const mk = () =>
      Array.from({ length: 500 }, (_, i) =>
        flow(`10.0.0.${i % 7}`, i * 0.013, (i * 37) % 50, i % 3 ? 'SF' : 'REJ'),
      );
    const batch = applyWindows(mk());
    const w = new WindowState();
    const stream = mk();
    for (const f of stream) w.push(f);
    for (let i = 0; i < 500; i++) assert.deepEqual(stream[i]!.f, batch[i]!.f);
  });

  test('bounded: entries per source capped, idle sources forgotten, missing src → NaN', () => {
    const c: Counters = {};
    const w = new WindowState(c, { maxEntriesPerSource: 200, sourceIdle: 10 });
    for (let i = 0; i < 5000; i++) w.push(flow('10.0.0.1', i * 0.0001, i));
    assert.ok((c.window_entries_capped ?? 0) > 0);
    const x = flow('10.0.0.2', 100, 1);
    w.push(x);
    assert.equal(w.size, 1);
    const y = flow('', 100, 1);
    w.push(y);
    assert.ok(Number.isNaN(y.f.src_t_count!));
  });
});
