/**
 * The capture reader on generated captures of tens of MB, where records and blocks cross the
 * 1 MiB read chunks at every kind of offset (the `score` crash of issue 15 was a pcapng block
 * across a chunk boundary), checked packet by packet against what was written and against tshark:
 * a classic pcap with packets up to 200 KB, a pcapng with three interfaces (Ethernet µs, raw IPv4
 * ns, Linux SLL ms), unknown blocks between the packets and a second section in the other byte
 * order, and a pre-2.3 pcap whose header stores caplen and len swapped.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readTraffic } from '../../../src/ingest/traffic/index.ts';
import { CHUNK, type Counters, readPackets } from '../../../src/ingest/traffic/pcap.ts';
import {
  ether,
  handshake,
  ipv4Packet,
  type Pkt,
  pcapFile,
  pcapngFile,
  tcpSegment,
  tmpDir,
  udpDatagram,
} from './pcap-writer.ts';

const dir = tmpDir();

/**
 * tshark's view of a capture: per packet epoch time, captured and wire length. tshark 4 also shows
 * pcapng custom blocks (type 0x00000BAD, the writer's "unknown" block) as frames without an
 * interface: they are not packets, so they are left out here.
 */
function tsharkPackets(path: string): { ts: number; caplen: number; len: number }[] {
  const fields = ['frame.time_epoch', 'frame.cap_len', 'frame.len', 'frame.interface_id'];
  const r = spawnSync('tshark', ['-r', path, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
  assert.equal(r.status, 0, `tshark -r ${path}: ${r.stderr}`);
  const pcapng = path.endsWith('.pcapng');
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'))
    .filter((f) => !pcapng || f[3] !== '')
    .map(([ts, caplen, len]) => ({ ts: Number(ts), caplen: Number(caplen), len: Number(len) }));
}

async function ours(path: string, chunkSize?: number) {
  const counters: Counters = {};
  const warnings: string[] = [];
  const out: { ts: number; caplen: number; len: number; linktype: number; first: number; last: number }[] =
    [];
  for await (const p of readPackets(path, counters, warnings, chunkSize ? { chunkSize } : {})) {
    out.push({
      ts: p.ts,
      caplen: p.data.length,
      len: p.len,
      linktype: p.linktype,
      first: p.data[0] ?? -1,
      last: p.data[p.data.length - 1] ?? -1,
    });
  }
  return { out, counters, warnings };
}

/** Packets of many sizes (40 B to 200 KB, odd lengths), so record ends fall everywhere. */
function variedPackets(n: number, t0: number): Pkt[] {
  const out: Pkt[] = [];
  for (let i = 0; i < n; i++) {
    const size = i % 97 === 0 ? 200_000 + i : i % 13 === 0 ? 9000 + i : 40 + ((i * 7919) % 1500);
    const data =
      i % 5 === 0
        ? ether(
            ipv4Packet('10.0.0.1', '10.0.0.2', 17, udpDatagram(5000 + (i % 50), 53, Math.max(0, size - 42))),
          )
        : ether(
            ipv4Packet(
              '10.0.0.1',
              '10.0.0.3',
              6,
              tcpSegment(40000 + (i % 50), 443, 0x18, Math.max(0, size - 54)),
            ),
          );
    data[data.length - 1] = i & 0xff; // tags the packet: the last byte is checked after reading
    out.push({ ts: t0 + i * 0.001, data });
  }
  return out;
}

/** The records of a pcap (without its 24-byte header) repeated until the file is ~`mb` MB. */
function repeatPcap(pkts: Pkt[], mb: number): { buf: Buffer; copies: number } {
  const one = pcapFile(pkts);
  const body = one.subarray(24);
  const copies = Math.ceil((mb * 1e6) / body.length);
  return { buf: Buffer.concat([one.subarray(0, 24), ...new Array<Buffer>(copies).fill(body)]), copies };
}

describe('large generated captures', () => {
  test('pcap of ~30 MB: every packet as written and as tshark reads it, any chunk size', async () => {
    const pkts = variedPackets(400, 1_700_000_000);
    const { buf, copies } = repeatPcap(pkts, 30);
    assert.ok(buf.length > 25 * CHUNK, `${buf.length} bytes`);
    const path = join(dir, 'large.pcap');
    writeFileSync(path, buf);
    const r = await ours(path);
    assert.equal(r.out.length, pkts.length * copies);
    assert.deepEqual(r.warnings, []);
    for (let i = 0; i < r.out.length; i++) {
      const want = pkts[i % pkts.length]!;
      const got = r.out[i]!;
      if (got.caplen !== want.data.length || got.last !== want.data[want.data.length - 1])
        assert.fail(`packet ${i}: ${got.caplen} bytes ending ${got.last}, wrote ${want.data.length}`);
    }
    const theirs = tsharkPackets(path);
    assert.equal(theirs.length, r.out.length, `tshark ${theirs.length} packets, ours ${r.out.length}`);
    for (let i = 0; i < theirs.length; i++) {
      const t = theirs[i]!;
      const o = r.out[i]!;
      if (t.caplen !== o.caplen || t.len !== o.len || Math.abs(t.ts - o.ts) > 1e-6)
        assert.fail(`packet ${i}: tshark ${JSON.stringify(t)}, ours ${JSON.stringify(o)}`);
    }
    // Small buffers (grown for the 200 KB records) give the same packets on a slice of the file.
    const slice = join(dir, 'slice.pcap');
    writeFileSync(slice, buf.subarray(0, 24 + (buf.length - 24) / copies));
    const ref = await ours(slice);
    for (const chunk of [16, 1500, 65_536, 300_000])
      assert.deepEqual((await ours(slice, chunk)).out, ref.out);
  });

  test('pcapng of ~12 MB: three interfaces (linktypes, tsresol), unknown blocks, two sections', async () => {
    const ifaces = [{ linktype: 1 }, { linktype: 101, tsresol: 9 }, { linktype: 113, tsresol: 3 }];
    const base = variedPackets(300, 1_650_000_000);
    const pkts = base.map((p, i) => {
      const iface = i % 3;
      // raw IPv4 on interface 1, SLL (16-byte header + IPv4) on 2
      const ip = p.data.slice(14);
      const data =
        iface === 0
          ? p.data
          : iface === 1
            ? ip
            : [0, 0, 0, 1, 0, 6, 0, 1, 2, 3, 4, 5, 0, 0, 0x08, 0x00, ...ip];
      return { ts: iface === 2 ? Math.round(p.ts * 1e3) / 1e3 : p.ts, data, iface };
    });
    const be = pcapngFile(ifaces, pkts.slice(0, 50), { be: true, unknownBlock: true });
    // The LE section's packet blocks (with its unknown block in front) repeated ~10 MB, then the BE section.
    const head = pcapngFile(ifaces, []);
    const blocks = pcapngFile(ifaces, pkts, { unknownBlock: true }).subarray(head.length);
    const copies = Math.ceil(10e6 / blocks.length);
    const buf = Buffer.concat([head, ...new Array<Buffer>(copies).fill(blocks), be]);
    assert.ok(buf.length > 10 * CHUNK, `${buf.length} bytes`);
    const path = join(dir, 'large.pcapng');
    writeFileSync(path, buf);
    const r = await ours(path);
    assert.equal(r.out.length, pkts.length * copies + 50);
    assert.equal(r.counters.pcapng_blocks_skipped, copies + 1);
    assert.deepEqual(r.warnings, []);
    const linktypes = [1, 101, 113];
    for (let i = 0; i < r.out.length; i++) {
      const k = i < pkts.length * copies ? i % pkts.length : i - pkts.length * copies;
      const want = pkts[k]!;
      const got = r.out[i]!;
      if (
        got.linktype !== linktypes[want.iface] ||
        got.caplen !== want.data.length ||
        Math.abs(got.ts - want.ts) > 1e-6
      )
        assert.fail(
          `packet ${i}: ${JSON.stringify(got)}, wrote iface ${want.iface} ${want.data.length} B at ${want.ts}`,
        );
    }
    const theirs = tsharkPackets(path);
    assert.equal(theirs.length, r.out.length, `tshark ${theirs.length} packets, ours ${r.out.length}`);
    for (let i = 0; i < theirs.length; i++) {
      const t = theirs[i]!;
      const o = r.out[i]!;
      if (t.caplen !== o.caplen || Math.abs(t.ts - o.ts) > 1e-6)
        assert.fail(`packet ${i}: tshark ${JSON.stringify(t)}, ours ${JSON.stringify(o)}`);
    }
    // Every packet of the three link types decodes into a flow.
    const { report, table } = await readTraffic(path);
    assert.equal(report.counters.packets, r.out.length);
    assert.equal(report.rowsKept, r.out.length, JSON.stringify(report.counters));
    assert.deepEqual(new Set(table.text.protocol), new Set(['tcp', 'udp']));
  });

  test('pcap 2.2 (caplen and len stored swapped) reads as tshark does', async () => {
    const pkts = handshake().map((p) => ({ ...p, len: p.data.length + 100 }));
    const buf = pcapFile(pkts);
    buf.writeUInt16LE(2, 6); // version 2.2
    let o = 24;
    for (const p of pkts) {
      buf.writeUInt32LE(p.len, o + 8);
      buf.writeUInt32LE(p.data.length, o + 12);
      o += 16 + p.data.length;
    }
    const path = join(dir, 'v22.pcap');
    writeFileSync(path, buf);
    const r = await ours(path);
    const theirs = tsharkPackets(path);
    assert.deepEqual(
      r.out.map((p) => [p.caplen, p.len]),
      theirs.map((p) => [p.caplen, p.len]),
    );
    assert.deepEqual(
      r.out.map((p) => p.caplen),
      pkts.map((p) => p.data.length),
    );
  });

  test('a corrupt block length mid-file keeps the packets before it, counted and named', async () => {
    const pkts = handshake();
    const buf = pcapngFile([{ linktype: 1 }], pkts);
    // the 4th packet block's length: 7 (not a multiple of 4)
    const head = pcapngFile([{ linktype: 1 }], []).length;
    let o = head;
    for (let i = 0; i < 3; i++) o += buf.readUInt32LE(o + 4);
    buf.writeUInt32LE(7, o + 4);
    const path = join(dir, 'corrupt.pcapng');
    writeFileSync(path, buf);
    const r = await ours(path);
    assert.equal(r.out.length, 3);
    assert.equal(r.counters.corrupt_records, 1);
    assert.equal(r.warnings.length, 1);
    assert.match(
      r.warnings[0]!,
      new RegExp(`corrupt\\.pcapng: corrupt record at offset ${o} \\(block length 7\\)`),
    );
  });
});
