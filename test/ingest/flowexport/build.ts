/** Byte builders for export datagrams (tests only): NetFlow v5/v9, IPFIX, sFlow v5. */

export function be(n: number, bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  let v = BigInt(Math.floor(n));
  for (let i = bytes - 1; i >= 0; i--) {
    b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return b;
}
const ip = (s: string) => Buffer.from(s.split('.').map(Number));

/** The flow key and counts every test record carries. */
interface KeyCounts {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto: number;
  packets: number;
  bytes: number;
  flags: number;
}

/** A NetFlow v5 record: key, counts and first/last in sysUptime ms. */
export type V5Rec = KeyCounts & { first: number; last: number };

export function v5(
  seq: number,
  recs: V5Rec[],
  opts: { count?: number; sampling?: number; uptime?: number; secs?: number } = {},
): Buffer {
  const h = Buffer.concat([
    be(5, 2),
    be(opts.count ?? recs.length, 2),
    be(opts.uptime ?? 100_000, 4),
    be(opts.secs ?? 1_700_000_000, 4),
    be(0, 4),
    be(seq, 4),
    be(0, 1),
    be(0, 1),
    be(opts.sampling ?? 0, 2),
  ]);
  const body = recs.map((r) =>
    Buffer.concat([
      ip(r.src),
      ip(r.dst),
      be(0, 4),
      be(1, 2),
      be(2, 2),
      be(r.packets, 4),
      be(r.bytes, 4),
      be(r.first, 4),
      be(r.last, 4),
      be(r.sport, 2),
      be(r.dport, 2),
      be(0, 1),
      be(r.flags, 1),
      be(r.proto, 1),
      be(0, 1),
      be(0, 8),
    ]),
  );
  return Buffer.concat([h, ...body]);
}

export function set(id: number, body: Buffer): Buffer {
  const pad = (4 - ((body.length + 4) % 4)) % 4;
  return Buffer.concat([be(id, 2), be(body.length + 4 + pad, 2), body, Buffer.alloc(pad)]);
}

/** A v9 template record: [type, length][] */
export function v9Template(id: number, fields: [number, number][]): Buffer {
  return Buffer.concat([
    be(id, 2),
    be(fields.length, 2),
    ...fields.flatMap(([t, l]) => [be(t, 2), be(l, 2)]),
  ]);
}

export function v9(
  seq: number,
  sourceId: number,
  sets: Buffer[],
  opts: { uptime?: number; secs?: number } = {},
): Buffer {
  return Buffer.concat([
    be(9, 2),
    be(sets.length, 2),
    be(opts.uptime ?? 100_000, 4),
    be(opts.secs ?? 1_700_000_000, 4),
    be(seq, 4),
    be(sourceId, 4),
    ...sets,
  ]);
}

/** An IPFIX template record: [id, length, pen?][] (pen sets the enterprise bit). */
export function ipfixTemplate(id: number, fields: [number, number, number?][], scope?: number): Buffer {
  const head =
    scope === undefined ? [be(id, 2), be(fields.length, 2)] : [be(id, 2), be(fields.length, 2), be(scope, 2)];
  return Buffer.concat([
    ...head,
    ...fields.flatMap(([t, l, pen]) =>
      pen ? [be(t | 0x8000, 2), be(l, 2), be(pen, 4)] : [be(t, 2), be(l, 2)],
    ),
  ]);
}

export function ipfix(
  seq: number,
  domain: number,
  sets: Buffer[],
  exportTime = 1_700_000_000,
  lengthOverride?: number,
): Buffer {
  const body = Buffer.concat(sets);
  return Buffer.concat([
    be(10, 2),
    be(lengthOverride ?? 16 + body.length, 2),
    be(exportTime, 4),
    be(seq, 4),
    be(domain, 4),
    body,
  ]);
}

/** The fields every test template starts with: src, dst, sport, dport, proto, packets, bytes, flags. */
const KEY_COUNT_FIELDS: [number, number][] = [
  [8, 4],
  [12, 4],
  [7, 2],
  [11, 2],
  [4, 1],
  [2, 4],
  [1, 4],
  [6, 1],
];

/** The flow template used by the tests: src, dst, sport, dport, proto, packets, bytes, flags, start/end ms. */
export const FLOW_FIELDS: [number, number][] = [...KEY_COUNT_FIELDS, [152, 8], [153, 8]];

/** The v9 template used by the tests: FLOW_FIELDS with first/last switched in sysUptime ms for the ms times. */
export const V9_FIELDS: [number, number][] = [...KEY_COUNT_FIELDS, [22, 4], [21, 4]];

/** A data record of KEY_COUNT_FIELDS followed by two times of `timeBytes` bytes each. */
function keyCountsRecord(r: KeyCounts, times: [number, number], timeBytes: number): Buffer {
  return Buffer.concat([
    ip(r.src),
    ip(r.dst),
    be(r.sport, 2),
    be(r.dport, 2),
    be(r.proto, 1),
    be(r.packets, 4),
    be(r.bytes, 4),
    be(r.flags, 1),
    be(times[0], timeBytes),
    be(times[1], timeBytes),
  ]);
}

/** A data record of FLOW_FIELDS (start/end in epoch ms). */
export function flowData(r: KeyCounts & { startMs: number; endMs: number }): Buffer {
  return keyCountsRecord(r, [r.startMs, r.endMs], 8);
}

/** A data record of V9_FIELDS (first/last in sysUptime ms). */
export function v9Data(r: KeyCounts & { first: number; last: number }): Buffer {
  return keyCountsRecord(r, [r.first, r.last], 4);
}

/** An sFlow v5 datagram with the given samples (tag, body). */
export function sflow(
  seq: number,
  samples: [number, Buffer][],
  opts: { nSamples?: number; agent?: string } = {},
): Buffer {
  return Buffer.concat([
    be(5, 4),
    be(1, 4),
    ip(opts.agent ?? '10.0.0.1'),
    be(0, 4),
    be(seq, 4),
    be(1000, 4),
    be(opts.nSamples ?? samples.length, 4),
    ...samples.flatMap(([tag, body]) => [be(tag, 4), be(body.length, 4), body]),
  ]);
}

/** An sFlow flow sample (format 1) with one raw-header record of an Ethernet/IPv4/TCP SYN. */
export function sflowFlowSample(rate: number, frame: Buffer): Buffer {
  const rec = Buffer.concat([
    be(1, 4),
    be(frame.length, 4),
    be(0, 4),
    be(frame.length, 4),
    frame,
    Buffer.alloc((4 - (frame.length % 4)) % 4),
  ]);
  return Buffer.concat([
    be(1, 4),
    be(3, 4),
    be(rate, 4),
    be(rate * 10, 4),
    be(0, 4),
    be(3, 4),
    be(4, 4),
    be(1, 4),
    be(1, 4),
    be(rec.length, 4),
    rec,
  ]);
}

export function ethTcpSyn(src: string, dst: string, sport: number, dport: number): Buffer {
  const ipHdr = Buffer.concat([
    Buffer.from([0x45, 0]),
    be(40, 2),
    be(0, 4),
    Buffer.from([64, 6]),
    be(0, 2),
    ip(src),
    ip(dst),
  ]);
  const tcp = Buffer.concat([
    be(sport, 2),
    be(dport, 2),
    be(0, 8),
    Buffer.from([0x50, 0x02]),
    be(1024, 2),
    be(0, 4),
  ]);
  return Buffer.concat([Buffer.alloc(12), be(0x0800, 2), ipHdr, tcp]);
}
