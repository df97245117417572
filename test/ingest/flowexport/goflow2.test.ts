/** GoFlow2 JSON lines (v2 snake_case and v1 CamelCase names) through --format goflow2 / auto. */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readInput } from '../../../src/ingest/read-input.ts';
import { readTraffic, sniffFormat } from '../../../src/ingest/traffic/index.ts';
import { tmp } from '../../stream/helpers.ts';

const T = 1_700_000_000;
const v2 = (o: Record<string, unknown>) =>
  JSON.stringify({
    type: 'IPFIX',
    time_received_ns: (T + 5) * 1e9,
    sequence_num: 1,
    sampling_rate: 0,
    sampler_address: '192.0.2.1',
    time_flow_start_ns: T * 1e9,
    time_flow_end_ns: (T + 2) * 1e9,
    bytes: 1200,
    packets: 10,
    src_addr: '10.0.0.1',
    dst_addr: '10.0.0.2',
    etype: 'IPv4',
    proto: 'TCP',
    src_port: 40000,
    dst_port: 443,
    in_if: 3,
    out_if: 4,
    tcp_flags: 0x1b,
    ...o,
  });

test('goflow2: both directions stitched, sampling applied, a v1 line read, a bad line quarantined', async () => {
  const dir = tmp('goflow2');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'flows.jsonl');
  writeFileSync(
    path,
    [
      v2({}),
      v2({
        src_addr: '10.0.0.2',
        dst_addr: '10.0.0.1',
        src_port: 443,
        dst_port: 40000,
        bytes: 9000,
        packets: 8,
        tcp_flags: 0x13,
      }),
      v2({
        type: 'SFLOW_5',
        sampling_rate: 100,
        src_addr: '10.9.9.9',
        dst_addr: '10.0.0.3',
        proto: 'UDP',
        src_port: 5353,
        dst_port: 53,
        bytes: 80,
        packets: 1,
        tcp_flags: 0,
      }),
      JSON.stringify({
        Type: 'NETFLOW_V5',
        TimeReceived: T + 5,
        SamplerAddress: '192.0.2.7',
        TimeFlowStart: T,
        TimeFlowEnd: T + 1,
        Bytes: 300,
        Packets: 3,
        SrcAddr: '10.1.1.1',
        DstAddr: '10.1.1.2',
        Proto: 17,
        SrcPort: 999,
        DstPort: 123,
      }),
      '{"src_addr": "10.0.0.1"',
      '',
    ].join('\n'),
  );
  assert.equal(await sniffFormat(path), 'goflow2');
  const r = await readTraffic(path, { format: 'auto' });
  assert.equal(r.report.format, 'goflow2');
  assert.equal(r.table.nRows, 3);
  assert.equal(r.report.rowsSkipped, 1);
  const i = r.identity.dst_port.indexOf(443);
  assert.equal(r.identity.src_ip[i], '10.0.0.1');
  assert.equal(r.table.numeric.fwd_packets![i], 10);
  assert.equal(r.table.numeric.bwd_bytes![i], 9000);
  assert.equal(r.table.numeric.duration![i], 2);
  assert.equal(r.table.text.conn_state![i], 'SF');
  assert.ok(Number.isNaN(r.table.numeric.fwd_payload_bytes![i]!));
  const s = r.identity.dst_port.indexOf(53);
  assert.equal(r.table.numeric.fwd_packets![s], 100, 'sampled counts scaled by sampling_rate');
  assert.equal(r.table.numeric.fwd_bytes![s], 8000);
  const v1 = r.identity.dst_port.indexOf(123);
  assert.equal(r.identity.protocol[v1], 'udp');
  const input = await readInput(path, 'goflow2', 'quarantine');
  assert.ok(
    !input.fields.some((f) => f.name === 'fwd_payload_bytes'),
    'export field specs leave payload fields out',
  );
});
