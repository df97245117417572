import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readTraffic } from '../../../src/ingest/traffic/index.ts';
import { tmpDir, write } from './pcap-writer.ts';

const dir = tmpDir();

// The same three flows in each naming variant: [duration µs, fwd pkts, bwd pkts, fwd len, bwd len, bytes/s, pkts/s, syn, rst, label]
const FLOWS = [
  ['250000', '5', '3', '100', '300', '1600', '32', '1', '0', 'BENIGN'],
  ['0', '1', '0', '0', '0', 'Infinity', 'Infinity', '1', '0', 'PortScan'],
  ['1000', '1', '1', '0', '0', 'NaN', 'Infinity', '1', '1', 'PortScan'],
];
const VARIANTS: Record<string, string[]> = {
  java: [
    'Src IP',
    'Src Port',
    'Dst IP',
    'Dst Port',
    'Protocol',
    'Timestamp',
    'Flow Duration',
    'Total Fwd Packet',
    'Total Bwd packets',
    'Total Length of Fwd Packet',
    'Total Length of Bwd Packet',
    'Flow Bytes/s',
    'Flow Packets/s',
    'SYN Flag Count',
    'RST Flag Count',
    'Label',
  ],
  cicids2017: [
    ' Source IP',
    ' Source Port',
    ' Destination IP',
    ' Destination Port',
    ' Protocol',
    ' Timestamp',
    ' Flow Duration',
    ' Total Fwd Packets',
    ' Total Backward Packets',
    'Total Length of Fwd Packets',
    ' Total Length of Bwd Packets',
    'Flow Bytes/s',
    ' Flow Packets/s',
    ' SYN Flag Count',
    ' RST Flag Count',
    ' Label',
  ],
  csecic2018: [
    'Src IP',
    'Src Port',
    'Dst IP',
    'Dst Port',
    'Protocol',
    'Timestamp',
    'Flow Duration',
    'Tot Fwd Pkts',
    'Tot Bwd Pkts',
    'TotLen Fwd Pkts',
    'TotLen Bwd Pkts',
    'Flow Byts/s',
    'Flow Pkts/s',
    'SYN Flag Cnt',
    'RST Flag Cnt',
    'Label',
  ],
  python: [
    'src_ip',
    'src_port',
    'dst_ip',
    'dst_port',
    'protocol',
    'timestamp',
    'flow_duration',
    'tot_fwd_pkts',
    'tot_bwd_pkts',
    'totlen_fwd_pkts',
    'totlen_bwd_pkts',
    'flow_byts_s',
    'flow_pkts_s',
    'syn_flag_cnt',
    'rst_flag_cnt',
    'label',
  ],
};
const IDS = [
  ['192.168.1.5', '40000', '10.0.0.1', '80', '6', '03/07/2017 08:55:58'],
  ['192.168.1.9', '50000', '10.0.0.1', '23', '6', '03/07/2017 08:55:59'],
  ['192.168.1.9', '50001', '10.0.0.1', '25', '6', '03/07/2017 08:55:59'],
];

function csv(names: string[], extraRows: string[] = []): string {
  const body = FLOWS.map((f, i) => {
    const [d, fp, bp, fl, bl, bs, ps, syn, rst, label] = f;
    return [...IDS[i]!, d, fp, bp, fl, bl, bs, ps, syn, rst, label].join(',');
  });
  return `${[names.join(','), body[0], ...extraRows, ...body.slice(1)].join('\r\n')}\r\n`;
}

describe('CICFlowMeter CSV', () => {
  test('every naming variant lands in the same canonical columns', async () => {
    const results = [];
    for (const [name, cols] of Object.entries(VARIANTS)) {
      const r = await readTraffic(write(dir, `${name}.csv`, csv(cols)));
      assert.equal(r.report.format, 'cic', name);
      assert.equal(r.table.nRows, 3, name);
      results.push(r);
    }
    const ref = results[0]!;
    for (const r of results.slice(1)) {
      for (const col of [
        'duration',
        'fwd_packets',
        'bwd_packets',
        'fwd_payload_bytes',
        'bwd_payload_bytes',
        'flow_bytes_per_s',
        'syn_count',
      ]) {
        assert.deepEqual([...r.table.numeric[col]!], [...ref.table.numeric[col]!], col);
      }
      assert.deepEqual(r.identity.dst_port, ref.identity.dst_port);
      assert.deepEqual(r.labels, ref.labels);
    }
    const t = ref.table;
    assert.deepEqual([...t.numeric.duration!], [0.25, 0, 0.001]); // µs → s
    assert.deepEqual([...t.numeric.fwd_packets!], [5, 1, 1]);
    assert.equal(t.numeric.flow_bytes_per_s![0], 1600);
    assert.equal(t.numeric.flow_bytes_per_s![1], 0); // Infinity at duration 0 → 0
    assert.ok(Number.isNaN(t.numeric.flow_bytes_per_s![2]!)); // NaN at duration > 0 → missing
    assert.ok(Number.isNaN(t.numeric.flow_packets_per_s![2]!));
    assert.equal(ref.report.counters.cic_rate_missing, 2);
    assert.ok(Number.isNaN(t.numeric.fwd_bytes![0]!)); // IP bytes are not in CIC
    assert.deepEqual(ref.labels, ['BENIGN', 'PortScan', 'PortScan']);
    assert.ok(!('label' in t.numeric) && !('label' in t.text));
    assert.deepEqual(t.text.conn_state, ['S1', 'S0', 'REJ']);
    assert.deepEqual(t.text.protocol, ['tcp', 'tcp', 'tcp']);
    assert.equal(ref.identity.start_time[0], Date.UTC(2017, 6, 3, 8, 55, 58) / 1000); // day-first
    assert.equal(t.numeric.src_t_count![2], 2); // two flows of 192.168.1.9 within 2 s
    assert.equal(t.numeric.src_t_distinct_dst_ports![2], 2);
  });

  test('a header repeated mid-file is a quarantined row', async () => {
    const cols = VARIANTS.csecic2018!;
    const r = await readTraffic(write(dir, 'repeat.csv', csv(cols, [cols.join(',')])));
    assert.equal(r.table.nRows, 3);
    assert.equal(r.report.reasons['repeated header'], 1);
    assert.equal(r.report.quarantined[0]!.reason, 'repeated header');
    await assert.rejects(
      readTraffic(write(dir, 'repeat2.csv', csv(cols, [cols.join(',')])), { onBadRow: 'fail' }),
      /repeated header/,
    );
  });

  test('a missing required column is a SchemaError naming it', async () => {
    const cols = VARIANTS.python!.map((c) => (c === 'tot_bwd_pkts' ? 'something_else' : c));
    await assert.rejects(readTraffic(write(dir, 'missing.csv', csv(cols)), { format: 'cic' }), {
      name: 'SchemaError',
      message: /required column bwd_packets missing/,
    });
  });
});
