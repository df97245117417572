/**
 * Bad export input: every case is decoded by the real decoders and must be counted under its
 * reason, never throw, never loop, never grow without bound; then a property test feeds random
 * bytes and mutated valid datagrams (fast-check) and checks the same invariants.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { Stitcher } from '../../../src/ingest/flowexport/biflow.ts';
import { FlowCollector } from '../../../src/ingest/flowexport/collector.ts';
import { ExportFlowSource, FlowExportDecoder } from '../../../src/ingest/flowexport/index.ts';
import { type ExportRecord, emptyRecord } from '../../../src/ingest/flowexport/record.ts';
import { udpPayload } from '../../../src/ingest/flowexport/udp.ts';
import { readTraffic } from '../../../src/ingest/traffic/index.ts';
import { readPackets } from '../../../src/ingest/traffic/pcap.ts';
import {
  be,
  ethTcpSyn,
  FLOW_FIELDS,
  flowData,
  ipfix,
  ipfixTemplate,
  set,
  sflow,
  sflowFlowSample,
  V9_FIELDS,
  v5,
  v9,
  v9Data,
  v9Template,
} from './build.ts';
import { DATA, sleep } from './tools.ts';

const REC = {
  src: '10.0.0.1',
  dst: '10.0.0.2',
  sport: 1234,
  dport: 80,
  proto: 6,
  packets: 3,
  bytes: 180,
  flags: 0x12,
};
const v5rec = { ...REC, first: 99_000, last: 99_500 };
const v9rec = { ...REC, first: 99_000, last: 99_500 };
const ipfixRec = { ...REC, startMs: 1_699_999_999_000, endMs: 1_699_999_999_500 };

function decode(datagrams: Buffer[], opts: ConstructorParameters<typeof FlowExportDecoder>[1] = {}) {
  const d = new FlowExportDecoder({}, opts);
  const out: ExportRecord[] = [];
  for (const g of datagrams) d.decode(g, '192.0.2.1:9995', 1_700_000_000, out);
  return { c: d.counters, out, d };
}

const cases: [string, () => void][] = [
  ['empty datagram', () => assert.equal(decode([Buffer.alloc(0)]).c.export_datagram_too_short, 1)],
  ['3-byte datagram', () => assert.equal(decode([Buffer.from([0, 9, 0])]).c.export_datagram_too_short, 1)],
  [
    'wrong version (7)',
    () => assert.equal(decode([Buffer.concat([be(7, 2), Buffer.alloc(40)])]).c.export_unknown_version, 1),
  ],
  ['v5 truncated header', () => assert.equal(decode([v5(0, []).subarray(0, 20)]).c.v5_truncated_header, 1)],
  [
    'v5 count says 30, 2 records present',
    () => {
      const r = decode([v5(0, [v5rec, v5rec], { count: 30 })]);
      assert.equal(r.c.v5_truncated_records, 28);
      assert.equal(r.out.length, 2);
    },
  ],
  ['v5 count 0', () => assert.equal(decode([v5(0, [])]).c.v5_bad_count, 1)],
  [
    'v5 half a record at the end',
    () => {
      const r = decode([v5(0, [v5rec, v5rec]).subarray(0, 24 + 48 + 20)]);
      assert.equal(r.out.length, 1);
      assert.equal(r.c.v5_truncated_records, 1);
    },
  ],
  [
    'v5 sequence wraps at 2^32 without a gap; a real gap is counted',
    () => {
      const r = decode([v5(0xfffffffe, [v5rec, v5rec]), v5(0, [v5rec]), v5(11, [v5rec])]);
      assert.equal(r.c.export_lost_records, 10);
      assert.equal(r.d.snapshot().domains[0]!.lost, 10);
    },
  ],
  [
    'v5 late datagram counted as reordered, not as loss',
    () => {
      const r = decode([v5(0, [v5rec]), v5(5, [v5rec]), v5(1, [v5rec]), v5(6, [v5rec])]);
      assert.equal(r.c.export_lost_records, 4);
      assert.equal(r.c.export_sequence_reordered, 1);
    },
  ],
  [
    'v5 sampling interval applied and recorded',
    () => {
      const r = decode([v5(0, [v5rec], { sampling: 100 })]);
      assert.equal(r.out[0]!.packets, 300);
      assert.equal(r.out[0]!.sampling, 100);
      assert.equal(r.d.snapshot().domains[0]!.sampling_rate, 100);
    },
  ],
  [
    'v9 truncated header',
    () => assert.equal(decode([v9(0, 1, []).subarray(0, 12)]).c.v9_truncated_header, 1),
  ],
  [
    'v9 flowset length < 4',
    () =>
      assert.equal(decode([Buffer.concat([v9(0, 1, []), be(256, 2), be(2, 2)])]).c.v9_bad_flowset_length, 1),
  ],
  [
    'v9 flowset length past the packet',
    () =>
      assert.equal(
        decode([Buffer.concat([v9(0, 1, []), be(256, 2), be(400, 2), Buffer.alloc(20)])]).c
          .v9_flowset_past_packet,
        1,
      ),
  ],
  [
    'v9 data before its template: buffered, decoded when the template arrives',
    () => {
      const r = decode([v9(0, 1, [set(300, v9Data(v9rec))]), v9(1, 1, [set(0, v9Template(300, V9_FIELDS))])]);
      assert.equal(r.c.template_misses, 1);
      assert.equal(r.c.pending_sets_resolved, 1);
      assert.equal(r.out.length, 1);
      assert.equal(r.out[0]!.packets, 3);
    },
  ],
  [
    'v9 unknown template IDs forever: buffer bounded per ID and in bytes',
    () => {
      const g = Array.from({ length: 200 }, (_, i) => v9(i, 1, [set(256 + (i % 3), Buffer.alloc(1000, 1))]));
      const r = decode(g, { templates: { maxPendingSets: 8, maxPendingBytes: 16_000 } });
      assert.equal(r.c.template_misses, 200);
      assert.ok((r.c.pending_sets_dropped ?? 0) >= 200 - 16);
      assert.ok(r.d.templates.pendingByteCount <= 16_000);
      assert.equal(r.d.snapshot().waiting_for_templates.length, 3);
    },
  ],
  [
    'v9 template changes shape: the new one decodes later data',
    () => {
      const short: [number, number][] = [
        [8, 4],
        [12, 4],
        [4, 1],
        [2, 4],
      ];
      const r = decode([
        v9(0, 1, [set(0, v9Template(300, V9_FIELDS)), set(300, v9Data(v9rec))]),
        v9(1, 1, [
          set(0, v9Template(300, short)),
          set(300, Buffer.from([10, 0, 0, 9, 10, 0, 0, 8, 17, 0, 0, 0, 7])),
        ]),
      ]);
      assert.equal(r.c.template_changed, 1);
      assert.equal(r.out.length, 2);
      assert.equal(r.out[1]!.src, '10.0.0.9');
      assert.equal(r.out[1]!.packets, 7);
      assert.ok(Number.isNaN(r.out[1]!.sport), 'field absent from the template: NaN, not 0');
    },
  ],
  [
    'v9 template refresh',
    () =>
      assert.equal(
        decode([
          v9(0, 1, [set(0, v9Template(300, V9_FIELDS))]),
          v9(1, 1, [set(0, v9Template(300, V9_FIELDS))]),
        ]).c.template_refreshes,
        1,
      ),
  ],
  [
    'v9 template field list past the flowset',
    () =>
      assert.equal(
        decode([v9(0, 1, [set(0, Buffer.concat([be(300, 2), be(50, 2), Buffer.alloc(8)]))])]).c
          .v9_template_past_flowset,
        1,
      ),
  ],
  [
    'v9 template ID < 256',
    () => assert.equal(decode([v9(0, 1, [set(0, v9Template(7, V9_FIELDS))])]).c.v9_bad_template, 1),
  ],
  [
    'v9 template flood across 20,000 IDs and source IDs: cache bounded',
    () => {
      const g = Array.from({ length: 2000 }, (_, i) =>
        v9(
          i,
          i % 50,
          Array.from({ length: 10 }, (_, j) => set(0, v9Template(256 + ((i * 10 + j) % 60000), V9_FIELDS))),
        ),
      );
      const r = decode(g, { templates: { maxTemplates: 1000 } });
      assert.ok(r.d.templates.templateCount <= 1000);
      assert.ok((r.c.templates_evicted ?? 0) >= 19_000);
    },
  ],
  [
    'v9 sequence wrap 0xffffffff → 0 is no loss; a gap of 3 packets is',
    () => {
      const t = set(0, v9Template(300, V9_FIELDS));
      const r = decode([v9(0xffffffff, 1, [t]), v9(0, 1, [t]), v9(4, 1, [t])]);
      assert.equal(r.c.export_lost_packets, 3);
    },
  ],
  [
    'v9 record field past the flowset end',
    () => {
      const r = decode([
        v9(0, 1, [
          set(
            0,
            v9Template(300, [
              [8, 4],
              [12, 4],
              [1, 4],
            ]),
          ),
        ]),
        v9(1, 1, [set(300, Buffer.alloc(6, 1))]),
      ]);
      assert.equal(r.out.length, 0);
    },
  ],
  [
    'IPFIX message length past the datagram',
    () =>
      assert.equal(
        decode([ipfix(0, 1, [set(2, ipfixTemplate(300, FLOW_FIELDS))], 1_700_000_000, 4000)]).c
          .ipfix_length_past_datagram,
        1,
      ),
  ],
  [
    'IPFIX variable-length field longer than its set',
    () => {
      const r = decode([
        ipfix(0, 1, [
          set(
            2,
            ipfixTemplate(300, [
              [8, 4],
              [82, 65535],
            ]),
          ),
        ]),
        ipfix(0, 1, [set(300, Buffer.from([10, 0, 0, 1, 200, 1, 2, 3]))]),
      ]);
      assert.equal(r.c.records_truncated, 1);
      assert.equal(r.out.length, 0);
    },
  ],
  [
    'IPFIX variable-length (3-byte form) and enterprise elements skipped and counted, record kept',
    () => {
      const tpl = ipfixTemplate(300, [
        [8, 4],
        [12, 4],
        [204, 65535, 26866],
        [82, 65535],
        [2, 4],
      ]);
      const data = Buffer.concat([
        Buffer.from([10, 0, 0, 1, 10, 0, 0, 2]),
        Buffer.from([3, 97, 98, 99]),
        Buffer.from([255, 0, 2, 120, 121]),
        be(9, 4),
      ]);
      const r = decode([ipfix(0, 1, [set(2, tpl), set(300, data)])]);
      assert.equal(r.c.ipfix_enterprise_fields_skipped, 1);
      assert.equal(r.out.length, 1);
      assert.equal(r.out[0]!.packets, 9);
    },
  ],
  [
    'IPFIX template withdrawal: later data is a template miss',
    () => {
      const r = decode([
        ipfix(0, 1, [set(2, ipfixTemplate(300, FLOW_FIELDS)), set(300, flowData(ipfixRec))]),
        ipfix(1, 1, [set(2, Buffer.concat([be(300, 2), be(0, 2)]))]),
        ipfix(1, 1, [set(300, flowData(ipfixRec))]),
      ]);
      assert.equal(r.c.template_withdrawals, 1);
      assert.equal(r.c.template_misses, 1);
      assert.equal(r.out.length, 1);
    },
  ],
  [
    'IPFIX options template with scope count 0',
    () =>
      assert.equal(
        decode([ipfix(0, 1, [set(3, ipfixTemplate(400, [[160, 8]], 0))])]).c.ipfix_bad_template,
        1,
      ),
  ],
  [
    'IPFIX options sampling interval applies to later flow records',
    () => {
      const r = decode([
        ipfix(0, 1, [
          set(
            3,
            ipfixTemplate(
              400,
              [
                [149, 4],
                [305, 4],
              ],
              1,
            ),
          ),
          set(400, Buffer.concat([be(1, 4), be(64, 4)])),
          set(2, ipfixTemplate(300, FLOW_FIELDS)),
          set(300, flowData(ipfixRec)),
        ]),
      ]);
      assert.equal(r.out[0]!.sampling, 64);
      assert.equal(r.out[0]!.packets, 3 * 64);
    },
  ],
  [
    'IPFIX RFC 5103 reverse elements make a biflow',
    () => {
      const tpl = ipfixTemplate(300, [...FLOW_FIELDS, [2, 4, 29305], [1, 4, 29305]]);
      const r = decode([
        ipfix(0, 1, [set(2, tpl), set(300, Buffer.concat([flowData(ipfixRec), be(5, 4), be(900, 4)]))]),
      ]);
      const st = new Stitcher({});
      st.push(r.out[0]!);
      const [f] = st.flush();
      assert.equal(f!.f.bwd_packets, 5);
      assert.equal(f!.f.bwd_bytes, 900);
    },
  ],
  [
    'IPFIX template of zero-length fields: no endless loop',
    () => {
      const r = decode([
        ipfix(0, 1, [
          set(
            2,
            ipfixTemplate(300, [
              [210, 0],
              [210, 0],
            ]),
          ),
          set(300, Buffer.alloc(64)),
        ]),
      ]);
      assert.equal(r.out.length, 0);
      assert.equal(r.c.templates_zero_length, 1);
    },
  ],
  [
    'sFlow truncated header',
    () => assert.equal(decode([sflow(0, []).subarray(0, 20)]).c.sflow_truncated_header, 1),
  ],
  [
    'sFlow says 2^32-1 samples, carries one',
    () => {
      const r = decode([
        sflow(0, [[1, sflowFlowSample(512, ethTcpSyn('10.1.1.1', '10.2.2.2', 4000, 22))]], {
          nSamples: 0xffffffff,
        }),
      ]);
      assert.equal(r.out.length, 1);
      assert.equal(r.out[0]!.packets, 512);
      assert.equal(r.out[0]!.bytes, 40 * 512);
      assert.equal(r.c.sflow_truncated_sample, 1);
    },
  ],
  [
    'sFlow sample length past the datagram',
    () =>
      assert.equal(
        decode([Buffer.concat([sflow(0, [], { nSamples: 1 }), be(1, 4), be(5000, 4), Buffer.alloc(10)])]).c
          .sflow_sample_past_datagram,
        1,
      ),
  ],
  [
    'sFlow sampled header that is not IP: counted by our packet decoder',
    () => {
      const r = decode([sflow(0, [[1, sflowFlowSample(10, Buffer.alloc(30, 0xff))]])]);
      assert.equal(r.out.length, 0);
      assert.equal(r.c.sflow_sampled_headers_not_decoded, 1);
    },
  ],
];

for (const [name, fn] of cases) test(`bad input: ${name}`, fn);

test('bad input: there are at least 25 cases', () => assert.ok(cases.length >= 25, String(cases.length)));

test('bad input: a pcap that holds no exports (synscan.pcap) through --format netflow: counted, 0 flows', async () => {
  assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
  const r = await readTraffic(join(DATA, 'pcaps', 'attack', 'synscan.pcap'), { format: 'netflow' });
  assert.equal(r.table.nRows, 0);
  assert.equal(r.report.counters.export_frame_not_udp, 2011);
  assert.ok(r.report.warnings.some((w) => /0 flows decoded/.test(w)));
});

test('bad input: netflowv9.pcap (data without templates) → template misses reported, sflow.pcap → 1 sampled flow + 8 counter records', async () => {
  assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
  const v9p = await readTraffic(join(DATA, 'pcaps', 'normal', 'netflowv9.pcap'), { format: 'netflow' });
  assert.equal(v9p.table.nRows, 0);
  assert.equal(v9p.report.counters.template_misses, 23);
  assert.ok(
    v9p.report.warnings.some((w) => /templates never arrived \(259, 258, 263, 260, 262\)/.test(w)),
    v9p.report.warnings.join('\n'),
  );
  const sf = await readTraffic(join(DATA, 'pcaps', 'normal', 'sflow.pcap'), { format: 'netflow' });
  assert.equal(sf.table.nRows, 1);
  assert.equal(sf.report.counters.sflow_counter_records, 8);
  assert.equal(sf.identity.protocol[0], 'icmp');
  assert.equal(sf.table.numeric.fwd_packets![0], 2048, 'one sample stands for sampling_rate packets');
});

test('bad input: a flood of datagrams on the listener (garbage and valid) is counted; the flow queue is bounded', async () => {
  const c = await FlowCollector.start({ port: 0, maxQueued: 100, stitch: { window: 0.001 } });
  const s = createSocket('udp4');
  const port = c.address().port;
  const good = (i: number) =>
    v5(
      i * 30,
      Array.from({ length: 30 }, (_, j) => ({ ...v5rec, sport: 1000 + ((i * 30 + j) % 60000) })),
    );
  for (let i = 0; i < 2000; i++) {
    const g = i % 2 ? good(i) : Buffer.from(Array.from({ length: 64 }, (_, j) => (i * 31 + j * 7) & 0xff));
    await new Promise<void>((r) => s.send(g, port, '127.0.0.1', () => r()));
    if (i % 200 === 199) await sleep(5);
  }
  s.close();
  await sleep(300);
  c.tick(Date.now() / 1000 + 10);
  assert.ok(c.queued <= 100);
  await c.close();
  const k = c.counters;
  process.stderr.write(
    `  flood: ${k.export_datagrams} datagrams received of 2000, ${k.export_records} records, dropped flows ${k.collector_flows_dropped}\n`,
  );
  assert.ok((k.export_datagrams ?? 0) > 0);
  assert.ok((k.collector_flows_dropped ?? 0) > 0);
  assert.ok((k.export_unknown_version ?? 0) + (k.v5_bad_count ?? 0) > 0);
});

test('bad input: the stitcher holds at most maxPending groups', () => {
  const counters = {};
  const st = new Stitcher(counters, { maxPending: 50, window: 1e9 });
  let out = 0;
  for (let i = 0; i < 1000; i++) {
    const r = emptyRecord('x', 0, 9, 1);
    Object.assign(r, {
      src: '10.0.0.1',
      dst: '10.0.0.2',
      sport: i,
      dport: 80,
      proto: 6,
      packets: 1,
      bytes: 40,
      flags: 2,
      start: 1,
      end: 1,
    });
    out += st.push(r).length;
  }
  assert.ok(st.pending <= 50);
  assert.equal(out + st.flush().length, 1000);
});

/** Valid datagrams to mutate: built ones plus the shared captures' real export payloads. */
async function seeds(): Promise<Buffer[]> {
  const out: Buffer[] = [
    v5(0, [v5rec, v5rec]),
    v9(0, 1, [set(0, v9Template(300, V9_FIELDS)), set(300, v9Data(v9rec))]),
    ipfix(0, 1, [
      set(2, ipfixTemplate(300, [...FLOW_FIELDS, [82, 65535], [2, 4, 29305]])),
      set(300, Buffer.concat([flowData(ipfixRec), Buffer.from([1, 65]), be(4, 4)])),
    ]),
    ipfix(0, 1, [
      set(
        3,
        ipfixTemplate(
          400,
          [
            [149, 4],
            [305, 4],
            [160, 8],
          ],
          1,
        ),
      ),
      set(400, Buffer.concat([be(1, 4), be(64, 4), be(1e12, 8)])),
    ]),
    sflow(0, [[1, sflowFlowSample(512, ethTcpSyn('10.1.1.1', '10.2.2.2', 4000, 22))]]),
  ];
  for (const f of ['netflowv9.pcap', 'netflow-fritz.pcap', 'sflow.pcap']) {
    for await (const p of readPackets(join(DATA, 'pcaps', 'normal', f), {}, [])) {
      const u = udpPayload(p.linktype, p.data, {});
      if (u) out.push(Buffer.from(u.payload));
    }
  }
  return out;
}

test('property: random bytes and mutated valid datagrams never throw, never hang, stay bounded', async () => {
  assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
  const base = await seeds();
  assert.ok(base.length >= 20);
  const mutated = fc
    .tuple(
      fc.constantFrom(...base),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }),
      fc.option(fc.nat(), { nil: undefined }),
    )
    .map(([b, edits, cut]) => {
      const x = Buffer.from(b);
      for (const [at, v] of edits) if (x.length) x[at % x.length] = v;
      return cut === undefined ? x : x.subarray(0, cut % (x.length + 1));
    });
  const random = fc.uint8Array({ maxLength: 1500 }).map((a) => Buffer.from(a));
  const versioned = fc
    .tuple(fc.constantFrom(5, 9, 10), fc.uint8Array({ maxLength: 600 }))
    .map(([v, a]) => Buffer.concat([be(v, 2), Buffer.from(a)]));
  fc.assert(
    fc.property(fc.array(fc.oneof(mutated, random, versioned), { minLength: 1, maxLength: 30 }), (dgrams) => {
      const src = new ExportFlowSource(
        {},
        { templates: { maxTemplates: 200, maxPendingBytes: 100_000 }, stitch: { maxPending: 1000 } },
      );
      let flows = 0;
      const t0 = Date.now();
      for (const [i, g] of dgrams.entries())
        flows += src.push(g, `10.0.0.${i % 3}:2055`, 1_700_000_000 + i).length;
      flows += src.flush().length;
      assert.ok(Date.now() - t0 < 2000, 'decoding took too long');
      assert.ok(src.decoder.templates.templateCount <= 200);
      assert.ok(src.decoder.templates.pendingByteCount <= 100_000);
      assert.equal(src.counters.export_decoder_errors, undefined, 'a decoder threw');
      assert.ok(flows <= (src.counters.export_records ?? 0));
    }),
    { numRuns: 400, seed: 13 },
  );
});
