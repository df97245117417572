import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { communityId } from '../../../src/ingest/traffic/community-id.ts';
import { readTraffic } from '../../../src/ingest/traffic/index.ts';
import { tmpDir, write } from './pcap-writer.ts';

const dir = tmpDir();
const T = '\t';
const FIELDS =
  'ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes resp_bytes conn_state local_orig local_resp missed_bytes history orig_pkts orig_ip_bytes resp_pkts resp_ip_bytes tunnel_parents'.split(
    ' ',
  );
const TYPES =
  'time string addr port addr port enum string interval count count string bool bool count string count count count count set[string]'.split(
    ' ',
  );
const header = (fields = FIELDS, types = TYPES, path = 'conn') =>
  [
    '#separator \\x09',
    '#set_separator\t,',
    '#empty_field\t(empty)',
    '#unset_field\t-',
    `#path\t${path}`,
    '#open\t2024-05-01-10-00-00',
    `#fields\t${fields.join(T)}`,
    `#types\t${types.join(T)}`,
  ].join('\n');
const rows = [
  // a normal HTTP connection
  [
    '1714557600.100000',
    'C1',
    '10.0.0.1',
    '40000',
    '93.184.216.34',
    '80',
    'tcp',
    'http',
    '0.250000',
    '100',
    '300',
    'SF',
    'T',
    'F',
    '0',
    'ShADadFf',
    '5',
    '300',
    '3',
    '420',
    '(empty)',
  ],
  // a scan probe: duration/bytes unset
  [
    '1714557600.200000',
    'C2',
    '10.0.0.9',
    '50000',
    '10.0.0.1',
    '23',
    'tcp',
    '-',
    '-',
    '-',
    '-',
    'S0',
    'T',
    'T',
    '0',
    'S',
    '1',
    '44',
    '0',
    '0',
    '-',
  ],
  // UDP DNS
  [
    '1714557601.000000',
    'C3',
    '10.0.0.1',
    '5353',
    '8.8.8.8',
    '53',
    'udp',
    'dns',
    '0.010000',
    '30',
    '60',
    'SF',
    'T',
    'F',
    '0',
    'Dd',
    '1',
    '58',
    '1',
    '88',
    '-',
  ],
];

describe('Zeek conn.log', () => {
  test('TSV: declared tokens honoured, unset → NaN counted, never 0', async () => {
    const text = `${header()}\n${rows.map((r) => r.join(T)).join('\n')}\n#close\t2024-05-01-11-00-00\n`;
    const { table, identity, report } = await readTraffic(write(dir, 'conn.log', text));
    assert.equal(report.format, 'zeek');
    assert.equal(table.nRows, 3);
    assert.equal(identity.src_ip[0], '10.0.0.1');
    assert.equal(identity.start_time[0], 1714557600.1);
    assert.equal(table.numeric.fwd_packets![0], 5);
    assert.equal(table.numeric.bwd_bytes![0], 420);
    assert.equal(table.numeric.fwd_payload_bytes![0], 100);
    assert.equal(table.numeric.duration![0], 0.25);
    assert.equal(table.numeric.syn_count![0], 2); // S + h (SYN-ACK counts as a SYN)
    assert.equal(table.numeric.synack_count![0], 1);
    assert.equal(table.numeric.fin_count![0], 2);
    assert.ok(Number.isNaN(table.numeric.duration![1]!));
    assert.ok(Number.isNaN(table.numeric.fwd_payload_bytes![1]!));
    assert.equal(report.counters.unset_duration, 1);
    assert.equal(report.counters.unset_orig_bytes, 1);
    assert.deepEqual(table.text.conn_state, ['SF', 'S0', 'SF']);
    assert.deepEqual(table.text.protocol, ['tcp', 'tcp', 'udp']);
    assert.equal(table.numeric.syn_count![2], 0);
    assert.equal(identity.community_id[0], communityId('10.0.0.1', '93.184.216.34', 6, 40000, 80));
    // a scan probe's window: source 10.0.0.9 seen once
    assert.equal(table.numeric.src_t_count![1], 1);
    assert.equal(table.numeric.src_t_s0_rate![1], 1);
  });

  test('other separator, missing final newline, header repeated mid-file with reordered fields', async () => {
    const sepHdr = header().replace('#separator \\x09', '#separator \\x7c').replaceAll('\t', '|');
    const reordered = [...FIELDS].reverse();
    const second = header(reordered, [...TYPES].reverse())
      .replace('#separator \\x09', '#separator \\x7c')
      .replaceAll('\t', '|');
    const text = `${sepHdr}\n${rows[0]!.join('|')}\n${second}\n${[...rows[2]!].reverse().join('|')}`;
    const { table, report } = await readTraffic(write(dir, 'pipe.log', text));
    assert.equal(table.nRows, 2);
    assert.deepEqual(table.text.protocol, ['tcp', 'udp']);
    assert.equal(table.numeric.bwd_bytes![1], 88);
    assert.equal(report.counters.zeek_headers_reread, 1);
  });

  test('field count mismatch follows the policy; #path weird is fatal', async () => {
    const text = `${header()}\n${rows[0]!.join(T)}\n${rows[1]!.slice(0, 5).join(T)}\n`;
    const path = write(dir, 'bad.log', text);
    const q = await readTraffic(path, { onBadRow: 'quarantine' });
    assert.equal(q.table.nRows, 1);
    assert.equal(q.report.reasons['field count 5 != 21'], 1);
    assert.equal(q.report.quarantined[0]!.line, 10);
    const s = await readTraffic(path, { onBadRow: 'skip' });
    assert.equal(s.report.rowsSkipped, 1);
    assert.equal(s.report.quarantined.length, 0);
    await assert.rejects(readTraffic(path, { onBadRow: 'fail' }), /bad\.log:10: field count 5 != 21/);
    await assert.rejects(readTraffic(write(dir, 'weird.log', `${header(FIELDS, TYPES, 'weird')}\n`)), {
      name: 'ParseError',
      message: /weird\.log: expected #path conn, got weird/,
    });
  });

  test('JSON lines: dotted keys, ISO and epoch ts, omitted fields are unset; gzip sniffed', async () => {
    const lines = [
      {
        ts: 1714557600.1,
        uid: 'C1',
        'id.orig_h': '10.0.0.1',
        'id.orig_p': 40000,
        'id.resp_h': '93.184.216.34',
        'id.resp_p': 80,
        proto: 'tcp',
        duration: 0.25,
        orig_bytes: 100,
        resp_bytes: 300,
        conn_state: 'SF',
        history: 'ShADadFf',
        orig_pkts: 5,
        orig_ip_bytes: 300,
        resp_pkts: 3,
        resp_ip_bytes: 420,
      },
      {
        ts: '2024-05-01T10:00:00.200000Z',
        uid: 'C2',
        'id.orig_h': '10.0.0.9',
        'id.orig_p': 50000,
        'id.resp_h': '10.0.0.1',
        'id.resp_p': 23,
        proto: 'tcp',
        conn_state: 'S0',
        history: 'S',
        orig_pkts: 1,
        orig_ip_bytes: 44,
        resp_pkts: 0,
        resp_ip_bytes: 0,
      },
    ];
    const text = `${lines.map((l) => JSON.stringify(l)).join('\n')}\n{not json\n`;
    for (const [name, data] of [
      ['conn.json', Buffer.from(text)],
      ['conn.json.gz', gzipSync(text)],
    ] as const) {
      const { table, identity, report } = await readTraffic(write(dir, name, data));
      assert.equal(report.format, 'zeek');
      assert.equal(table.nRows, 2);
      assert.ok(Math.abs(identity.start_time[1]! - 1714557600.2) < 1e-6);
      assert.equal(table.numeric.fwd_bytes![0], 300);
      assert.ok(Number.isNaN(table.numeric.duration![1]!));
      assert.equal(report.counters.unset_duration, 1);
      assert.equal(report.reasons['invalid JSON'], 1);
    }
  });

  test('unknown conn_state is encoded "unknown" and counted', async () => {
    const r = [...rows[0]!];
    r[11] = 'XYZ';
    const { table, report } = await readTraffic(write(dir, 'unk.log', `${header()}\n${r.join(T)}\n`));
    assert.equal(table.text.conn_state![0], 'unknown');
    assert.equal(report.counters.unknown_conn_state, 1);
  });
});
