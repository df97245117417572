/** Hand-made packets and capture files for the traffic tests (no tooling needed). */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tmpDir(): string {
  mkdirSync(tmpdir(), { recursive: true });
  return mkdtempSync(join(tmpdir(), 'netanomaly-traffic-'));
}

export const F = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 };

function ip4(s: string): number[] {
  return s.split('.').map(Number);
}

export function ipv4Packet(src: string, dst: string, proto: number, l4: number[]): number[] {
  const total = 20 + l4.length;
  return [0x45, 0, total >> 8, total & 0xff, 0, 1, 0, 0, 64, proto, 0, 0, ...ip4(src), ...ip4(dst), ...l4];
}

export function tcpSegment(sport: number, dport: number, flags: number, payload = 0): number[] {
  return [
    sport >> 8,
    sport & 0xff,
    dport >> 8,
    dport & 0xff,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0x50,
    flags,
    0xff,
    0xff,
    0,
    0,
    0,
    0,
    ...new Array<number>(payload).fill(0x61),
  ];
}

export function udpDatagram(sport: number, dport: number, payload = 0): number[] {
  const len = 8 + payload;
  return [
    sport >> 8,
    sport & 0xff,
    dport >> 8,
    dport & 0xff,
    len >> 8,
    len & 0xff,
    0,
    0,
    ...new Array<number>(payload).fill(0),
  ];
}

export function ether(ipPacket: number[], ethertype = 0x0800, vlans: number[] = []): number[] {
  const tags = vlans.flatMap((tpid, i) => [tpid >> 8, tpid & 0xff, 0, 10 + i]);
  // tags carry the next ethertype after them: [tpid][tci] ... [ethertype]
  return [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, ...tags, ethertype >> 8, ethertype & 0xff, ...ipPacket];
}

export interface Pkt {
  ts: number;
  data: number[];
  len?: number;
}

/** A classic pcap file; `be` writes big-endian, `nano` the ns magic. */
export function pcapFile(
  pkts: Pkt[],
  opts: { be?: boolean; nano?: boolean; linktype?: number } = {},
): Buffer {
  const be = opts.be ?? false;
  const parts: Buffer[] = [];
  const h = Buffer.alloc(24);
  const w32 = (b: Buffer, v: number, o: number) =>
    be ? b.writeUInt32BE(v >>> 0, o) : b.writeUInt32LE(v >>> 0, o);
  const w16 = (b: Buffer, v: number, o: number) => (be ? b.writeUInt16BE(v, o) : b.writeUInt16LE(v, o));
  w32(h, opts.nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(h, 2, 4);
  w16(h, 4, 6);
  w32(h, 65535, 16);
  w32(h, opts.linktype ?? 1, 20);
  parts.push(h);
  for (const p of pkts) {
    const r = Buffer.alloc(16);
    const sec = Math.floor(p.ts);
    const frac = Math.round((p.ts - sec) * (opts.nano ? 1e9 : 1e6));
    w32(r, sec, 0);
    w32(r, frac, 4);
    w32(r, p.data.length, 8);
    w32(r, p.len ?? p.data.length, 12);
    parts.push(r, Buffer.from(p.data));
  }
  return Buffer.concat(parts);
}

/** A pcapng file with one section, interfaces [linktype, tsresol?], packets as EPBs on iface i. */
export function pcapngFile(
  ifaces: { linktype: number; tsresol?: number }[],
  pkts: (Pkt & { iface?: number })[],
  opts: { be?: boolean; unknownBlock?: boolean; simple?: number[] } = {},
): Buffer {
  const be = opts.be ?? false;
  const blocks: Buffer[] = [];
  const block = (type: number, body: Buffer) => {
    const pad = (4 - (body.length % 4)) % 4;
    const len = 12 + body.length + pad;
    const b = Buffer.alloc(len);
    if (be) {
      b.writeUInt32BE(type, 0);
      b.writeUInt32BE(len, 4);
      b.writeUInt32BE(len, len - 4);
    } else {
      b.writeUInt32LE(type, 0);
      b.writeUInt32LE(len, 4);
      b.writeUInt32LE(len, len - 4);
    }
    body.copy(b, 8);
    blocks.push(b);
  };
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    if (be) b.writeUInt32BE(v >>> 0);
    else b.writeUInt32LE(v >>> 0);
    return b;
  };
  const u16 = (v: number) => {
    const b = Buffer.alloc(2);
    if (be) b.writeUInt16BE(v);
    else b.writeUInt16LE(v);
    return b;
  };
  // SHB: BOM, version 1.0, section length -1
  block(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d), u16(1), u16(0), Buffer.alloc(8, 0xff)]));
  for (const i of ifaces) {
    const opt =
      i.tsresol !== undefined
        ? Buffer.concat([u16(9), u16(1), Buffer.from([i.tsresol, 0, 0, 0]), u16(0), u16(0)])
        : Buffer.alloc(0);
    block(1, Buffer.concat([u16(i.linktype), u16(0), u32(65535), opt]));
  }
  if (opts.unknownBlock) block(0x00000bad, Buffer.from('whatever'));
  for (const p of pkts) {
    const iface = ifaces[p.iface ?? 0]!;
    const res = iface.tsresol ?? 6;
    const units = BigInt(Math.round(p.ts * 10 ** res));
    block(
      6,
      Buffer.concat([
        u32(p.iface ?? 0),
        u32(Number(units >> 32n)),
        u32(Number(units & 0xffffffffn)),
        u32(p.data.length),
        u32(p.len ?? p.data.length),
        Buffer.from(p.data),
      ]),
    );
  }
  for (const s of opts.simple ?? []) {
    const data = pkts[s]!.data;
    block(3, Buffer.concat([u32(data.length), Buffer.from(data)]));
  }
  return Buffer.concat(blocks);
}

/** A TCP handshake + one data segment each way + FIN/FIN/ACK close: 3 fwd... 8 packets. */
export function handshake(
  t0 = 1_700_000_000,
  a = '10.0.0.1',
  b = '10.0.0.2',
  sport = 40000,
  dport = 80,
): Pkt[] {
  const fw = (flags: number, pay = 0) => ether(ipv4Packet(a, b, 6, tcpSegment(sport, dport, flags, pay)));
  const bw = (flags: number, pay = 0) => ether(ipv4Packet(b, a, 6, tcpSegment(dport, sport, flags, pay)));
  return [
    { ts: t0, data: fw(F.SYN) },
    { ts: t0 + 0.01, data: bw(F.SYN | F.ACK) },
    { ts: t0 + 0.02, data: fw(F.ACK) },
    { ts: t0 + 0.03, data: fw(F.PSH | F.ACK, 100) },
    { ts: t0 + 0.05, data: bw(F.PSH | F.ACK, 300) },
    { ts: t0 + 0.06, data: fw(F.FIN | F.ACK) },
    { ts: t0 + 0.07, data: bw(F.FIN | F.ACK) },
    { ts: t0 + 0.08, data: fw(F.ACK) },
  ];
}

export function write(dir: string, name: string, data: Buffer | string): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}
