import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ParseError } from '../../../src/errors.ts';
import { decodePacket } from '../../../src/ingest/traffic/decode.ts';
import { readTraffic } from '../../../src/ingest/traffic/index.ts';
import { type Counters, readPackets } from '../../../src/ingest/traffic/pcap.ts';
import {
  ether,
  F,
  handshake,
  ipv4Packet,
  pcapFile,
  pcapngFile,
  tcpSegment,
  tmpDir,
  udpDatagram,
  write,
} from './pcap-writer.ts';

const dir = tmpDir();

async function packets(path: string) {
  const counters: Counters = {};
  const warnings: string[] = [];
  const out: { ts: number; len: number; linktype: number; n: number }[] = [];
  for await (const p of readPackets(path, counters, warnings))
    out.push({ ts: p.ts, len: p.len, linktype: p.linktype, n: p.data.length });
  return { out, counters, warnings };
}

describe('pcap container', () => {
  test('little-endian µs handshake → one SF flow with the right counts', async () => {
    const path = write(dir, 'hs.pcap', pcapFile(handshake()));
    const { table, identity, report } = await readTraffic(path);
    assert.equal(report.format, 'pcap');
    assert.equal(report.counters.packets, 8);
    assert.equal(table.nRows, 1);
    assert.equal(table.text.conn_state![0], 'SF');
    assert.equal(table.text.protocol![0], 'tcp');
    assert.equal(table.text.port_class![0], 'p80');
    assert.equal(table.numeric.fwd_packets![0], 5);
    assert.equal(table.numeric.bwd_packets![0], 3);
    assert.equal(table.numeric.fwd_payload_bytes![0], 100);
    assert.equal(table.numeric.bwd_payload_bytes![0], 300);
    assert.equal(table.numeric.fwd_bytes![0], 5 * 40 + 100);
    assert.equal(table.numeric.syn_count![0], 2);
    assert.equal(table.numeric.synack_count![0], 1);
    assert.equal(table.numeric.fin_count![0], 2);
    assert.ok(Math.abs(table.numeric.duration![0]! - 0.08) < 1e-6);
    assert.ok(Math.abs(table.numeric.flow_iat_max![0]! - 0.02) < 1e-6);
    assert.equal(identity.src_ip[0], '10.0.0.1');
    assert.equal(identity.dst_port[0], 80);
    assert.equal(identity.start_time[0], 1_700_000_000);
    assert.match(identity.community_id[0]!, /^1:[A-Za-z0-9+/]{27}=$/);
  });

  test('big-endian and nanosecond pcaps read the same packets', async () => {
    const pk = handshake(1_600_000_000.123456);
    const a = await packets(write(dir, 'le.pcap', pcapFile(pk)));
    const b = await packets(write(dir, 'be.pcap', pcapFile(pk, { be: true })));
    const c = await packets(write(dir, 'ns.pcap', pcapFile(pk, { be: true, nano: true })));
    assert.equal(b.out.length, 8);
    assert.deepEqual(
      b.out.map((p) => p.n),
      a.out.map((p) => p.n),
    );
    for (let i = 0; i < 8; i++) {
      assert.ok(Math.abs(b.out[i]!.ts - a.out[i]!.ts) < 1e-6);
      assert.ok(Math.abs(c.out[i]!.ts - pk[i]!.ts) < 1e-6);
    }
  });

  test('pcapng: two interfaces, both byte orders, tsresol, unknown block skipped, SPB', async () => {
    const hs = handshake(1_650_000_000);
    const udp = {
      ts: 1_650_000_001.5,
      data: ipv4Packet('10.1.1.1', '10.1.1.2', 17, udpDatagram(5000, 53, 20)),
      iface: 1,
    };
    for (const be of [false, true]) {
      const buf = pcapngFile(
        [{ linktype: 1 }, { linktype: 101, tsresol: 9 }],
        [...hs.map((p) => ({ ...p, iface: 0 })), udp],
        { be, unknownBlock: true, simple: [0] },
      );
      const path = write(dir, `two-if-${be ? 'be' : 'le'}.pcapng`, buf);
      const r = await packets(path);
      assert.equal(r.out.length, 10);
      assert.equal(r.counters.pcapng_blocks_skipped, 1);
      assert.equal(r.counters.pcapng_simple_packets, 1);
      assert.equal(r.out[8]!.linktype, 101);
      assert.ok(Math.abs(r.out[8]!.ts - 1_650_000_001.5) < 1e-6);
      const { table, report } = await readTraffic(path);
      assert.equal(report.format, 'pcap');
      assert.equal(table.nRows, 3); // handshake, udp, and the SYN replayed by the SPB opens a new flow
      assert.deepEqual([...table.text.protocol!].sort(), ['tcp', 'tcp', 'udp']);
    }
  });

  test('0-byte, short and non-pcap files are fatal with one clear line', async () => {
    await assert.rejects(readTraffic(write(dir, 'empty.pcap', Buffer.alloc(0)), { format: 'pcap' }), {
      name: 'ParseError',
      message: /empty\.pcap: truncated dump file; tried to read 4 file header bytes, only got 0/,
    });
    await assert.rejects(readTraffic(write(dir, 'empty2.pcap', Buffer.alloc(0))), /truncated dump file/);
    const short = pcapFile([]).subarray(0, 10);
    await assert.rejects(readTraffic(write(dir, 'short.pcap', short)), {
      message: /short\.pcap: truncated dump file; tried to read 24 file header bytes, only got 10/,
    });
    await assert.rejects(readTraffic(write(dir, 'doc.pdf', '%PDF-1.4 hello'), { format: 'pcap' }), {
      message: /doc\.pdf: unknown file format \(magic 0x25504446\)/,
    });
    await assert.rejects(readTraffic(write(dir, 'doc2.pdf', '%PDF-1.4 hello')), ParseError);
  });

  test('truncated last record: complete records kept, truncated_records=1 and a warning', async () => {
    const full = pcapFile(handshake());
    const path = write(dir, 'trunc.pcap', full.subarray(0, full.length - 10));
    const { table, report } = await readTraffic(path);
    assert.equal(report.counters.packets, 7);
    assert.equal(report.counters.truncated_records, 1);
    assert.equal(report.warnings.length, 1);
    assert.match(report.warnings[0]!, /truncated record/);
    assert.equal(table.nRows, 1);
    assert.equal(table.numeric.fwd_packets![0]! + table.numeric.bwd_packets![0]!, 7);
  });

  test('absurd caplen ends the read there: packets before it kept, counted, a warning naming the offset, no giant allocation', async () => {
    const buf = pcapFile(handshake().slice(0, 3));
    const second = 24 + 16 + handshake()[0]!.data.length;
    buf.writeUInt32LE(0xfffffff0, second + 8);
    const before = process.memoryUsage().rss;
    const { report } = await readTraffic(write(dir, 'absurd.pcap', buf));
    assert.equal(report.counters.packets, 1);
    assert.equal(report.counters.corrupt_records, 1);
    assert.ok(
      report.warnings.some((w) =>
        new RegExp(`absurd\\.pcap: corrupt record at offset ${second} \\(caplen 4294967280 > 262144\\)`).test(
          w,
        ),
      ),
      report.warnings.join('\n'),
    );
    // a header claiming a 4 GiB snaplen does not lift the limit past 16 MiB
    buf.writeUInt32LE(0xffffffff, 16);
    const huge = await readTraffic(write(dir, 'absurd-snaplen.pcap', buf));
    assert.equal(huge.report.counters.corrupt_records, 1);
    assert.match(huge.report.warnings.join('\n'), /caplen 4294967280 > 16777216/);
    assert.ok(process.memoryUsage().rss - before < 200 * 1024 * 1024);
  });

  test('caplen < len is counted and bytes come from the IP length', async () => {
    const p = handshake()[3]!; // 100-byte payload
    const cut = { ts: p.ts, data: p.data.slice(0, 60), len: p.data.length };
    const { table, report } = await readTraffic(write(dir, 'snap.pcap', pcapFile([cut])));
    assert.equal(report.counters.caplen_lt_len, 1);
    assert.equal(table.numeric.fwd_bytes![0], 140);
    assert.equal(table.numeric.fwd_payload_bytes![0], 100);
  });
});

describe('link layers and network headers', () => {
  const tcp = ipv4Packet('192.0.2.1', '198.51.100.2', 6, tcpSegment(1234, 443, F.SYN));
  const decode = (linktype: number, data: number[]) => {
    const c: Counters = {};
    return { p: decodePacket(linktype, Uint8Array.from(data), 0, c), c };
  };

  test('Ethernet with 802.1Q and QinQ tags', () => {
    const { p, c } = decode(1, ether(tcp, 0x0800, [0x88a8, 0x8100]));
    assert.equal(p?.dport, 443);
    assert.equal(c.vlan_tagged, 2);
  });

  test('Linux SLL and SLL2, raw IPv4, null/loopback', () => {
    const sll = [0, 0, 0, 1, 0, 6, 0, 1, 2, 3, 4, 5, 0, 0, 0x08, 0x00, ...tcp];
    assert.equal(decode(113, sll).p?.src, '192.0.2.1');
    const sll2 = [0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 0, 1, 2, 3, 4, 5, 0, 0, ...tcp];
    assert.equal(decode(276, sll2).p?.dst, '198.51.100.2');
    assert.equal(decode(101, tcp).p?.sport, 1234);
    assert.equal(decode(228, tcp).p?.sport, 1234);
    assert.equal(decode(0, [2, 0, 0, 0, ...tcp]).p?.proto, 6);
    assert.equal(decode(108, [0, 0, 0, 2, ...tcp]).p?.proto, 6);
  });

  test('IPv6 with hop-by-hop and destination-options headers, ICMPv6', () => {
    const src = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1];
    const dst = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 2];
    const udp = udpDatagram(5353, 53, 4);
    const ext = [60, 0, 0, 0, 0, 0, 0, 0, /* dest opts: */ 17, 0, 0, 0, 0, 0, 0, 0];
    const payload = [...ext, ...udp];
    const ip6 = [0x60, 0, 0, 0, 0, payload.length, 0, 64, ...src, ...dst, ...payload];
    const { p } = decode(229, ip6);
    assert.equal(p?.src, '2001:db8::1');
    assert.equal(p?.proto, 17);
    assert.equal(p?.dport, 53);
    assert.equal(p?.payloadLen, 4);
    const icmp6 = [128, 0, 0, 0, 0, 1, 0, 1];
    const echo = [0x60, 0, 0, 0, 0, icmp6.length, 58, 64, ...src, ...dst, ...icmp6];
    const e = decode(229, echo).p;
    assert.equal(e?.proto, 58);
    assert.equal(e?.sport, 128);
  });

  test('non-IP, fragments, truncated and bad headers are counted, never thrown', () => {
    const arp = decode(1, ether(new Array(28).fill(0), 0x0806));
    assert.equal(arp.p, null);
    assert.equal(arp.c.non_ip, 1);
    const frag = [...tcp];
    frag[6] = 0x00;
    frag[7] = 0x10; // offset 16*8
    assert.equal(decode(101, frag).c.ip_fragments, 1);
    assert.equal(decode(101, tcp.slice(0, 12)).c.truncated_ip, 1);
    const bad = [...tcp];
    bad[0] = 0x43; // IHL 3
    assert.equal(decode(101, bad).c.bad_ip_header, 1);
    assert.equal(decode(147, tcp).c.unsupported_linktype_147, 1);
  });
});
