/**
 * Streaming reader for pcap (both byte orders, µs and ns magic) and pcapng (SHB/IDB/EPB/SPB/OPB,
 * several interfaces and sections, both byte orders, unknown blocks skipped). The file is read in
 * chunks through a file handle, so memory stays bounded by the chunk size plus one record.
 *
 * Container faults are fatal (ParseError naming the file): unknown magic, a header shorter than
 * its format needs, a record or block length no real capture has (no allocation is attempted).
 * Content faults are counted: a truncated last record (`truncated_records`, plus a warning),
 * `caplen < len` (`caplen_lt_len`), skipped pcapng blocks (`pcapng_blocks_skipped`).
 */
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { ParseError } from '../../errors.ts';

export interface RawPacket {
  /** Seconds since the epoch (float). */
  ts: number;
  /** Link-layer type (LINKTYPE_* number) of the interface that captured the packet. */
  linktype: number;
  /** Captured bytes; a view that is only valid until the next packet is requested. */
  data: Uint8Array;
  /** Original length on the wire. */
  len: number;
  /** File offset of the record header. */
  offset: number;
}

export type Counters = Record<string, number>;
export function bump(counters: Counters, key: string, by = 1): void {
  counters[key] = (counters[key] ?? 0) + by;
}

/** libpcap refuses records larger than this (MAXIMUM_SNAPLEN); so do we. */
export const MAX_CAPLEN = 262_144;
/** libpcap's cap on a pcapng block (16 MiB). */
export const MAX_BLOCK = 16 * 1024 * 1024;
const CHUNK = 1 << 20;

export type CaptureFormat = 'pcap' | 'pcapng';

/** The capture format for the first four bytes of a file, or null. */
export function sniffCapture(head: Uint8Array): CaptureFormat | null {
  if (head.length < 4) return null;
  const m = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
  if (m === 0xa1b2c3d4 || m === 0xd4c3b2a1 || m === 0xa1b23c4d || m === 0x4d3cb2a1) return 'pcap';
  if (m === 0x0a0d0d0a) return 'pcapng';
  return null;
}

/** Where bytes come from: `read` fills `buf[off, off+len)` partly and returns the count (0 = end). */
type ByteSource = (buf: Buffer, off: number, len: number) => Promise<number>;

/** A ByteSource over a Readable (a pipe such as dumpcap's stdout): pulls chunks, keeps the rest. */
function streamSource(readable: Readable): ByteSource {
  const it = readable[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  let rest: Buffer | null = null;
  return async (buf, off, len) => {
    while (!rest || rest.length === 0) {
      const r = await it.next();
      if (r.done) return 0;
      rest = typeof r.value === 'string' ? Buffer.from(r.value, 'latin1') : r.value;
    }
    const n = Math.min(len, rest.length);
    rest.copy(buf, off, 0, n);
    rest = rest.subarray(n);
    return n;
  };
}

/** Buffered chunked reads over a byte source: `need(n)` makes n bytes available at `pos`. */
class ChunkReader {
  buf = Buffer.alloc(CHUNK);
  start = 0;
  end = 0;
  /** File offset of buf[start]. */
  fileOffset = 0;
  private eof = false;
  constructor(private readonly read: ByteSource) {}

  get available(): number {
    return this.end - this.start;
  }

  /** Ensure n bytes are buffered; returns false if the file ends first (what is there stays). */
  async need(n: number): Promise<boolean> {
    if (this.end - this.start >= n) return true;
    if (this.eof) return false;
    if (n > this.buf.length - this.start) {
      const size = Math.max(this.buf.length, n);
      const next = size === this.buf.length ? this.buf : Buffer.alloc(size);
      this.buf.copy(next, 0, this.start, this.end);
      this.buf = next;
      this.end -= this.start;
      this.start = 0;
    }
    while (this.end - this.start < n) {
      const bytesRead = await this.read(this.buf, this.end, this.buf.length - this.end);
      if (bytesRead === 0) {
        this.eof = true;
        return false;
      }
      this.end += bytesRead;
    }
    return true;
  }

  skip(n: number): void {
    this.start += n;
    this.fileOffset += n;
  }
}

interface PcapngInterface {
  linktype: number;
  snaplen: number;
  /** Timestamp units per second. */
  tsPerSec: number;
  tsOffset: number;
}

/**
 * Packets of a pcap or pcapng file, in file order. `counters` receives `packets`, `bytes`,
 * `truncated_records`, `caplen_lt_len`, `pcapng_blocks_skipped`...; `warnings` one line per
 * recoverable container problem.
 */
export async function* readPackets(
  path: string,
  counters: Counters,
  warnings: string[],
): AsyncGenerator<RawPacket, void, undefined> {
  const fh = await open(path, 'r');
  try {
    const source: ByteSource = async (buf, off, len) => (await fh.read(buf, off, len, null)).bytesRead;
    yield* readCapture(path, new ChunkReader(source), counters, warnings);
  } finally {
    await fh.close();
  }
}

/**
 * Packets of a pcap or pcapng byte stream (a pipe: `dumpcap -w -`, stdin), in stream order, with
 * the same parser, counters and errors as `readPackets`; `name` stands for the file in messages.
 * A packet is yielded as soon as its record is complete; the generator ends with the stream.
 */
export async function* readPacketStream(
  readable: Readable,
  counters: Counters,
  warnings: string[],
  name = '-',
): AsyncGenerator<RawPacket, void, undefined> {
  yield* readCapture(name, new ChunkReader(streamSource(readable)), counters, warnings);
}

async function* readCapture(
  path: string,
  r: ChunkReader,
  counters: Counters,
  warnings: string[],
): AsyncGenerator<RawPacket, void, undefined> {
  await r.need(4);
  if (r.available < 4) {
    throw new ParseError(
      `${path}: truncated dump file; tried to read 4 file header bytes, only got ${r.available}`,
    );
  }
  const fmt = sniffCapture(r.buf.subarray(r.start, r.start + 4));
  if (fmt === null) {
    throw new ParseError(
      `${path}: unknown file format (magic 0x${r.buf.readUInt32BE(r.start).toString(16).padStart(8, '0')})`,
    );
  }
  if (fmt === 'pcap') yield* readPcap(path, r, counters, warnings);
  else yield* readPcapng(path, r, counters, warnings);
}

function truncatedRecord(path: string, r: ChunkReader, counters: Counters, warnings: string[], what: string) {
  bump(counters, 'truncated_records');
  warnings.push(
    `${path}: truncated ${what} at offset ${r.fileOffset} (${r.available} trailing bytes ignored); complete records kept`,
  );
}

async function* readPcap(
  path: string,
  r: ChunkReader,
  counters: Counters,
  warnings: string[],
): AsyncGenerator<RawPacket, void, undefined> {
  if (!(await r.need(24))) {
    throw new ParseError(
      `${path}: truncated dump file; tried to read 24 file header bytes, only got ${r.available}`,
    );
  }
  const b = r.buf;
  const magicBE = b.readUInt32BE(r.start);
  const le = magicBE === 0xd4c3b2a1 || magicBE === 0x4d3cb2a1;
  const nano = magicBE === 0xa1b23c4d || magicBE === 0x4d3cb2a1;
  const u32 = (buf: Buffer, o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const major = le ? b.readUInt16LE(r.start + 4) : b.readUInt16BE(r.start + 4);
  if (major !== 2) warnings.push(`${path}: pcap major version ${major} (expected 2); reading anyway`);
  const snaplen = u32(b, r.start + 16);
  // The link type is the low 16 bits (upper bits carry FCS information).
  const linktype = u32(b, r.start + 20) & 0xffff;
  const frac = nano ? 1e-9 : 1e-6;
  r.skip(24);
  for (;;) {
    if (!(await r.need(16))) {
      if (r.available > 0) truncatedRecord(path, r, counters, warnings, 'record header');
      return;
    }
    const o = r.start;
    const sec = u32(r.buf, o);
    const sub = u32(r.buf, o + 4);
    const caplen = u32(r.buf, o + 8);
    const len = u32(r.buf, o + 12);
    if (caplen > MAX_CAPLEN && caplen > snaplen) {
      throw new ParseError(
        `${path}: corrupt record at offset ${r.fileOffset} (caplen ${caplen} > ${Math.max(MAX_CAPLEN, snaplen)})`,
      );
    }
    if (!(await r.need(16 + caplen))) {
      truncatedRecord(path, r, counters, warnings, 'record');
      return;
    }
    const offset = r.fileOffset;
    const data = r.buf.subarray(r.start + 16, r.start + 16 + caplen);
    r.skip(16 + caplen);
    bump(counters, 'packets');
    bump(counters, 'bytes', len);
    if (caplen < len) bump(counters, 'caplen_lt_len');
    yield { ts: sec + sub * frac, linktype, data, len: Math.max(len, caplen), offset };
  }
}

async function* readPcapng(
  path: string,
  r: ChunkReader,
  counters: Counters,
  warnings: string[],
): AsyncGenerator<RawPacket, void, undefined> {
  let le = true;
  let ifaces: PcapngInterface[] = [];
  let lastTs = 0;
  let first = true;
  for (;;) {
    if (!(await r.need(12))) {
      if (first) {
        throw new ParseError(
          `${path}: truncated dump file; tried to read 12 section header bytes, only got ${r.available}`,
        );
      }
      if (r.available > 0) truncatedRecord(path, r, counters, warnings, 'block header');
      return;
    }
    const o = r.start;
    const rawType = r.buf.readUInt32BE(o);
    if (rawType === 0x0a0d0d0a) {
      const bom = r.buf.readUInt32BE(o + 8);
      if (bom === 0x4d3c2b1a) le = true;
      else if (bom === 0x1a2b3c4d) le = false;
      else
        throw new ParseError(
          `${path}: corrupt section header at offset ${r.fileOffset} (byte-order magic 0x${bom.toString(16)})`,
        );
      ifaces = [];
    } else if (first) {
      throw new ParseError(`${path}: unknown file format (magic 0x${rawType.toString(16).padStart(8, '0')})`);
    }
    first = false;
    const u32 = (buf: Buffer, p: number) => (le ? buf.readUInt32LE(p) : buf.readUInt32BE(p));
    const u16 = (buf: Buffer, p: number) => (le ? buf.readUInt16LE(p) : buf.readUInt16BE(p));
    const type = u32(r.buf, o);
    const blockLen = u32(r.buf, o + 4);
    if (blockLen < 12 || blockLen % 4 !== 0 || blockLen > MAX_BLOCK) {
      throw new ParseError(`${path}: corrupt record at offset ${r.fileOffset} (block length ${blockLen})`);
    }
    if (!(await r.need(blockLen))) {
      truncatedRecord(path, r, counters, warnings, 'block');
      return;
    }
    const b = r.buf;
    const body = o + 8;
    const bodyEnd = o + blockLen - 4;
    const offset = r.fileOffset;
    if (u32(b, bodyEnd) !== blockLen) {
      bump(counters, 'pcapng_bad_trailer');
    }
    let pkt: RawPacket | null = null;
    if (type === 0x0a0d0d0a) {
      // section header: nothing else needed
    } else if (type === 1) {
      const iface: PcapngInterface = {
        linktype: u16(b, body),
        snaplen: u32(b, body + 4),
        tsPerSec: 1e6,
        tsOffset: 0,
      };
      let p = body + 8;
      while (p + 4 <= bodyEnd) {
        const code = u16(b, p);
        const olen = u16(b, p + 2);
        if (code === 0 || p + 4 + olen > bodyEnd) break;
        if (code === 9 && olen >= 1) {
          const v = b[p + 4]!;
          iface.tsPerSec = v & 0x80 ? 2 ** (v & 0x7f) : 10 ** v;
        } else if (code === 14 && olen >= 8) {
          const hi = u32(b, p + 4 + (le ? 4 : 0));
          const lo = u32(b, p + 4 + (le ? 0 : 4));
          iface.tsOffset = hi * 2 ** 32 + lo;
        }
        p += 4 + olen + ((4 - (olen % 4)) % 4);
      }
      ifaces.push(iface);
    } else if (type === 6 || type === 2) {
      // Enhanced Packet Block / obsolete Packet Block
      const ifId = type === 6 ? u32(b, body) : u16(b, body);
      const iface = ifaces[ifId];
      const caplen = u32(b, body + 12);
      const len = u32(b, body + 16);
      if (!iface) {
        bump(counters, 'pcapng_unknown_interface');
      } else if (body + 20 + caplen > bodyEnd) {
        throw new ParseError(
          `${path}: corrupt record at offset ${offset} (caplen ${caplen} exceeds block length ${blockLen})`,
        );
      } else {
        const units = u32(b, body + 4) * 2 ** 32 + u32(b, body + 8);
        const ts = iface.tsOffset + units / iface.tsPerSec;
        lastTs = ts;
        pkt = { ts, linktype: iface.linktype, data: b.subarray(body + 20, body + 20 + caplen), len, offset };
      }
    } else if (type === 3) {
      // Simple Packet Block: interface 0, no timestamp (the previous packet's is reused).
      const iface = ifaces[0];
      const len = u32(b, body);
      if (!iface) {
        bump(counters, 'pcapng_unknown_interface');
      } else {
        const caplen = Math.min(len, bodyEnd - (body + 4), iface.snaplen || Number.POSITIVE_INFINITY);
        bump(counters, 'pcapng_simple_packets');
        pkt = {
          ts: lastTs,
          linktype: iface.linktype,
          data: b.subarray(body + 4, body + 4 + caplen),
          len,
          offset,
        };
      }
    } else {
      bump(counters, 'pcapng_blocks_skipped');
    }
    r.skip(blockLen);
    if (pkt) {
      bump(counters, 'packets');
      bump(counters, 'bytes', pkt.len);
      if (pkt.data.length < pkt.len) bump(counters, 'caplen_lt_len');
      if (pkt.len < pkt.data.length) pkt.len = pkt.data.length;
      yield pkt;
    }
  }
}
