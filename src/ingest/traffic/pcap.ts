/**
 * Streaming reader for pcap (both byte orders, µs and ns magic) and pcapng (SHB/IDB/EPB/SPB/OPB,
 * several interfaces and sections, both byte orders, unknown blocks skipped). The file is read in
 * chunks through a file handle, so memory stays bounded by the chunk size plus one record.
 *
 * A file that is not a capture is fatal (ParseError naming the file): unknown magic, a file or
 * section header shorter than its format needs. Past the header nothing is fatal: a record or
 * block length no real capture has ends the read there, like a truncated last record (the
 * packets before it are kept; `corrupt_records` / `truncated_records` plus one warning naming the
 * offset; no allocation is attempted). Content faults are counted: `caplen < len`
 * (`caplen_lt_len`), skipped pcapng blocks (`pcapng_blocks_skipped`), packet blocks whose lengths
 * disagree (`pcapng_bad_packet_blocks`, skipped).
 *
 * Every field is read at the reader's current position after the bytes it needs are buffered:
 * buffering may move the window (compaction), so no position is kept across a `need` call.
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
/** Default read size; records and blocks may cross chunk boundaries anywhere. */
export const CHUNK = 1 << 20;

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

/**
 * Buffered chunked reads over a byte source: `need(n)` makes n bytes available at `start`. The
 * buffer is compacted (unread bytes moved to its front) or grown when a record does not fit
 * behind `start`, so `start` may change on every `need`: read positions afresh after it.
 */
class ChunkReader {
  buf: Buffer;
  start = 0;
  end = 0;
  /** File offset of buf[start]. */
  fileOffset = 0;
  private eof = false;
  constructor(
    private readonly read: ByteSource,
    chunkSize = CHUNK,
  ) {
    this.buf = Buffer.alloc(Math.max(16, chunkSize));
  }

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

export interface ReadOptions {
  /** Bytes per read (default 1 MiB); tests use small sizes to put boundaries everywhere. */
  chunkSize?: number;
  /** The capture in memory instead of read from `path` (which then only names it in messages). */
  bytes?: Uint8Array;
}

/**
 * The packets of one stretch of the read buffer, as parallel arrays: packet i is
 * `buf[start[i], start[i] + caplen[i])`. A batch (and `buf`) is valid only until the next batch is
 * requested; the arrays are reused from batch to batch. This is the per-packet-allocation-free
 * form behind `readPackets` (which makes one RawPacket per entry), for the line-rate path.
 */
export class PacketBatch {
  count = 0;
  buf: Buffer = Buffer.alloc(0);
  ts = new Float64Array(BATCH_MAX);
  linktype = new Int32Array(BATCH_MAX);
  start = new Int32Array(BATCH_MAX);
  caplen = new Int32Array(BATCH_MAX);
  /** Original length on the wire (never below caplen). */
  len = new Float64Array(BATCH_MAX);
  /** File offset of the record header (or block). */
  offset = new Float64Array(BATCH_MAX);

  push(ts: number, linktype: number, start: number, caplen: number, len: number, offset: number): void {
    const i = this.count++;
    this.ts[i] = ts;
    this.linktype[i] = linktype;
    this.start[i] = start;
    this.caplen[i] = caplen;
    this.len[i] = len;
    this.offset[i] = offset;
  }
}
/** Most packets per batch. */
const BATCH_MAX = 4096;

/** RawPacket objects for the entries of batches (the per-packet API). */
async function* packetsOf(batches: AsyncGenerator<PacketBatch, void, undefined>) {
  for await (const b of batches) {
    for (let i = 0; i < b.count; i++) {
      const start = b.start[i]!;
      yield {
        ts: b.ts[i]!,
        linktype: b.linktype[i]!,
        data: b.buf.subarray(start, start + b.caplen[i]!),
        len: b.len[i]!,
        offset: b.offset[i]!,
      } satisfies RawPacket;
    }
  }
}

/**
 * Packets of a pcap or pcapng file, in file order. `counters` receives `packets`, `bytes`,
 * `truncated_records`, `corrupt_records`, `caplen_lt_len`, `pcapng_blocks_skipped`...; `warnings`
 * one line per recoverable container problem.
 */
export async function* readPackets(
  path: string,
  counters: Counters,
  warnings: string[],
  opts: ReadOptions = {},
): AsyncGenerator<RawPacket, void, undefined> {
  yield* packetsOf(readPacketBatches(path, counters, warnings, opts));
}

/**
 * `readPackets` by batches (see PacketBatch): the same packets, counters and warnings, with one
 * await per buffer of records instead of one per packet. Counters of a batch's packets are
 * added before the batch is yielded.
 */
export async function* readPacketBatches(
  path: string,
  counters: Counters,
  warnings: string[],
  opts: ReadOptions = {},
): AsyncGenerator<PacketBatch, void, undefined> {
  if (opts.bytes) {
    const b = opts.bytes;
    let at = 0;
    const source: ByteSource = async (buf, off, len) => {
      const n = Math.min(len, b.length - at);
      buf.set(b.subarray(at, at + n), off);
      at += n;
      return n;
    };
    yield* readCapture(path, new ChunkReader(source, opts.chunkSize), counters, warnings);
    return;
  }
  const fh = await open(path, 'r');
  try {
    const source: ByteSource = async (buf, off, len) => (await fh.read(buf, off, len, null)).bytesRead;
    yield* readCapture(path, new ChunkReader(source, opts.chunkSize), counters, warnings);
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
  opts: ReadOptions = {},
): AsyncGenerator<RawPacket, void, undefined> {
  yield* packetsOf(
    readCapture(name, new ChunkReader(streamSource(readable), opts.chunkSize), counters, warnings),
  );
}

async function* readCapture(
  path: string,
  r: ChunkReader,
  counters: Counters,
  warnings: string[],
): AsyncGenerator<PacketBatch, void, undefined> {
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

/** A record whose length no capture has: the rest of the file cannot be framed, so reading stops. */
function corruptRecord(path: string, r: ChunkReader, counters: Counters, warnings: string[], why: string) {
  bump(counters, 'corrupt_records');
  warnings.push(
    `${path}: corrupt record at offset ${r.fileOffset} (${why}); reading stopped there, the ${counters.packets ?? 0} packets before it kept`,
  );
}

/**
 * How a pcap's record header orders caplen and len (libpcap's sf-pcap.c): versions before 2.3
 * (and DG/UX's 543.0) wrote them swapped; 2.3 files exist both ways (swapped when caplen > len).
 */
type LengthOrder = 'normal' | 'swapped' | 'maybe-swapped';
function lengthOrder(major: number, minor: number): LengthOrder {
  if (major === 543) return 'swapped';
  if (major !== 2) return 'normal';
  if (minor < 3) return 'swapped';
  return minor === 3 ? 'maybe-swapped' : 'normal';
}

/** Per-packet counters of a batch, kept in locals and added to the counters in one go. */
class PacketTally {
  packets = 0;
  bytes = 0;
  caplenLtLen = 0;
  add(caplen: number, len: number): void {
    this.packets++;
    this.bytes += len;
    if (caplen < len) this.caplenLtLen++;
  }
  /** Adds the tally to the counters (as one bump per packet would) and resets it. */
  commit(counters: Counters): void {
    if (this.packets > 0) {
      bump(counters, 'packets', this.packets);
      bump(counters, 'bytes', this.bytes);
      if (this.caplenLtLen > 0) bump(counters, 'caplen_lt_len', this.caplenLtLen);
    }
    this.packets = 0;
    this.bytes = 0;
    this.caplenLtLen = 0;
  }
}

async function* readPcap(
  path: string,
  r: ChunkReader,
  counters: Counters,
  warnings: string[],
): AsyncGenerator<PacketBatch, void, undefined> {
  if (!(await r.need(24))) {
    throw new ParseError(
      `${path}: truncated dump file; tried to read 24 file header bytes, only got ${r.available}`,
    );
  }
  const b = r.buf;
  const magicBE = b.readUInt32BE(r.start);
  const le = magicBE === 0xd4c3b2a1 || magicBE === 0x4d3cb2a1;
  const nano = magicBE === 0xa1b23c4d || magicBE === 0x4d3cb2a1;
  const major = le ? b.readUInt16LE(r.start + 4) : b.readUInt16BE(r.start + 4);
  const minor = le ? b.readUInt16LE(r.start + 6) : b.readUInt16BE(r.start + 6);
  if (major !== 2 && major !== 543)
    warnings.push(`${path}: pcap major version ${major} (expected 2); reading anyway`);
  const order = lengthOrder(major, minor);
  const u32 = le
    ? (buf: Buffer, o: number) =>
        (buf[o]! | (buf[o + 1]! << 8) | (buf[o + 2]! << 16) | (buf[o + 3]! << 24)) >>> 0
    : (buf: Buffer, o: number) =>
        ((buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!) >>> 0;
  const snaplen = u32(b, r.start + 16);
  // The link type is the low 16 bits (upper bits carry FCS information).
  const linktype = u32(b, r.start + 20) & 0xffff;
  const frac = nano ? 1e-9 : 1e-6;
  // A header's snaplen may raise the limit (some link types carry larger records), never past 16 MiB.
  const maxCaplen = Math.max(MAX_CAPLEN, Math.min(snaplen, MAX_BLOCK));
  r.skip(24);
  const batch = new PacketBatch();
  const tally = new PacketTally();
  for (;;) {
    // Every complete record in the buffer, without awaiting.
    batch.count = 0;
    batch.buf = r.buf;
    let stop: 'corrupt' | null = null;
    let caplen = 0;
    while (batch.count < BATCH_MAX && r.end - r.start >= 16) {
      const buf = r.buf;
      const o = r.start;
      caplen = u32(buf, o + 8);
      let len = u32(buf, o + 12);
      if (order === 'swapped' || (order === 'maybe-swapped' && caplen > len)) [caplen, len] = [len, caplen];
      if (caplen > maxCaplen) {
        stop = 'corrupt';
        break;
      }
      if (r.end - o < 16 + caplen) break;
      batch.push(
        u32(buf, o) + u32(buf, o + 4) * frac,
        linktype,
        o + 16,
        caplen,
        Math.max(len, caplen),
        r.fileOffset,
      );
      tally.add(caplen, len);
      r.skip(16 + caplen);
    }
    tally.commit(counters);
    if (batch.count > 0) yield batch;
    if (stop === 'corrupt') {
      corruptRecord(path, r, counters, warnings, `caplen ${caplen} > ${maxCaplen}`);
      return;
    }
    if (batch.count === BATCH_MAX) continue;
    // The next record is not all in the buffer: read on (as a per-record reader would).
    if (!(await r.need(16))) {
      if (r.available > 0) truncatedRecord(path, r, counters, warnings, 'record header');
      return;
    }
    caplen = u32(r.buf, r.start + 8);
    const len = u32(r.buf, r.start + 12);
    if (order === 'swapped' || (order === 'maybe-swapped' && caplen > len)) caplen = len;
    if (caplen > maxCaplen) continue; // reported by the loop above
    if (!(await r.need(16 + caplen))) {
      truncatedRecord(path, r, counters, warnings, 'record');
      return;
    }
  }
}

async function* readPcapng(
  path: string,
  r: ChunkReader,
  counters: Counters,
  warnings: string[],
): AsyncGenerator<PacketBatch, void, undefined> {
  let le = true;
  let ifaces: PcapngInterface[] = [];
  let lastTs = 0;
  let first = true;
  let badPacketWarned = false;
  const batch = new PacketBatch();
  const tally = new PacketTally();
  /** Whether the block at r.start is all buffered (then its length), else what to await. */
  for (;;) {
    batch.count = 0;
    batch.buf = r.buf;
    // Blocks already in the buffer are parsed without awaiting; `need` is only awaited (after
    // the batch is handed out) when the next block is not all there.
    let fatal: Error | null = null;
    let stop = false;
    while (batch.count < BATCH_MAX) {
      if (r.end - r.start < 12) break;
      const rawType = r.buf.readUInt32BE(r.start);
      let sectionLe: boolean = le;
      if (rawType === 0x0a0d0d0a) {
        const bom = r.buf.readUInt32BE(r.start + 8);
        if (bom === 0x4d3c2b1a) sectionLe = true;
        else if (bom === 0x1a2b3c4d) sectionLe = false;
        else if (first) {
          fatal = new ParseError(
            `${path}: corrupt section header at offset ${r.fileOffset} (byte-order magic 0x${bom.toString(16)})`,
          );
          break;
        } else {
          tally.commit(counters);
          corruptRecord(path, r, counters, warnings, `section header byte-order magic 0x${bom.toString(16)}`);
          stop = true;
          break;
        }
      } else if (first) {
        fatal = new ParseError(
          `${path}: unknown file format (magic 0x${rawType.toString(16).padStart(8, '0')})`,
        );
        break;
      }
      const blockLen = sectionLe ? r.buf.readUInt32LE(r.start + 4) : r.buf.readUInt32BE(r.start + 4);
      if (blockLen < 12 || blockLen % 4 !== 0 || blockLen > MAX_BLOCK) {
        if (first) {
          fatal = new ParseError(`${path}: corrupt section header at offset 0 (block length ${blockLen})`);
          break;
        }
        tally.commit(counters);
        corruptRecord(path, r, counters, warnings, `block length ${blockLen}`);
        stop = true;
        break;
      }
      if (r.end - r.start < blockLen) break;
      first = false;
      if (rawType === 0x0a0d0d0a) {
        le = sectionLe;
        ifaces = [];
      }
      const u32 = (buf: Buffer, p: number) => (sectionLe ? buf.readUInt32LE(p) : buf.readUInt32BE(p));
      const b = r.buf;
      const o = r.start;
      const type = u32(b, o);
      const body = o + 8;
      const bodyEnd = o + blockLen - 4;
      const offset = r.fileOffset;
      if (u32(b, bodyEnd) !== blockLen) bump(counters, 'pcapng_bad_trailer');
      if (type === 0x0a0d0d0a) {
        // section header: nothing else needed
      } else if (type === 1) {
        if (body + 8 > bodyEnd) bump(counters, 'pcapng_bad_interface_blocks');
        ifaces.push(body + 8 > bodyEnd ? badInterface() : interfaceBlock(b, body, bodyEnd, le));
      } else if (type === 6 || type === 2) {
        // Enhanced Packet Block / obsolete Packet Block
        if (body + 20 > bodyEnd) {
          bump(counters, 'pcapng_bad_packet_blocks');
        } else {
          const ifId = type === 6 ? u32(b, body) : le ? b.readUInt16LE(body) : b.readUInt16BE(body);
          const iface = ifaces[ifId];
          const caplen = u32(b, body + 12);
          const len = u32(b, body + 16);
          if (!iface) {
            bump(counters, 'pcapng_unknown_interface');
          } else if (caplen > bodyEnd - (body + 20)) {
            // The block frames itself, so only this packet is lost.
            bump(counters, 'pcapng_bad_packet_blocks');
            if (!badPacketWarned)
              warnings.push(
                `${path}: packet block at offset ${offset} claims ${caplen} captured bytes in a ${blockLen}-byte block; such blocks skipped (counted)`,
              );
            badPacketWarned = true;
          } else {
            const units = u32(b, body + 4) * 2 ** 32 + u32(b, body + 8);
            const ts = iface.tsOffset + units / iface.tsPerSec;
            lastTs = ts;
            batch.push(ts, iface.linktype, body + 20, caplen, Math.max(len, caplen), offset);
            tally.add(caplen, len);
          }
        }
      } else if (type === 3) {
        // Simple Packet Block: interface 0, no timestamp (the previous packet's is reused).
        const iface = ifaces[0];
        if (!iface || body + 4 > bodyEnd) {
          bump(counters, iface ? 'pcapng_bad_packet_blocks' : 'pcapng_unknown_interface');
        } else {
          const len = u32(b, body);
          const caplen = Math.min(len, bodyEnd - (body + 4), iface.snaplen || Number.POSITIVE_INFINITY);
          bump(counters, 'pcapng_simple_packets');
          batch.push(lastTs, iface.linktype, body + 4, caplen, Math.max(len, caplen), offset);
          tally.add(caplen, len);
        }
      } else {
        bump(counters, 'pcapng_blocks_skipped');
      }
      r.skip(blockLen);
    }
    tally.commit(counters);
    if (batch.count > 0) yield batch;
    if (fatal) throw fatal;
    if (stop) return;
    if (batch.count === BATCH_MAX) continue;
    // The next block is not all buffered: read on, with the checks a per-block reader makes.
    if (!(await r.need(12))) {
      if (first) {
        throw new ParseError(
          `${path}: truncated dump file; tried to read 12 section header bytes, only got ${r.available}`,
        );
      }
      if (r.available > 0) truncatedRecord(path, r, counters, warnings, 'block header');
      return;
    }
    const rawType = r.buf.readUInt32BE(r.start);
    let sectionLe: boolean = le;
    if (rawType === 0x0a0d0d0a) {
      const bom = r.buf.readUInt32BE(r.start + 8);
      if (bom === 0x4d3c2b1a) sectionLe = true;
      else if (bom === 0x1a2b3c4d) sectionLe = false;
      else continue; // reported by the loop above
    } else if (first) continue;
    const blockLen = sectionLe ? r.buf.readUInt32LE(r.start + 4) : r.buf.readUInt32BE(r.start + 4);
    if (blockLen < 12 || blockLen % 4 !== 0 || blockLen > MAX_BLOCK) continue;
    if (!(await r.need(blockLen))) {
      if (first) {
        throw new ParseError(
          `${path}: truncated dump file; tried to read ${blockLen} section header bytes, only got ${r.available}`,
        );
      }
      truncatedRecord(path, r, counters, warnings, 'block');
      return;
    }
  }
}

/** An Interface Description Block: link type, snap length, if_tsresol (9) and if_tsoffset (14). */
function interfaceBlock(b: Buffer, body: number, bodyEnd: number, le: boolean): PcapngInterface {
  const u16 = (p: number) => (le ? b.readUInt16LE(p) : b.readUInt16BE(p));
  const u32 = (p: number) => (le ? b.readUInt32LE(p) : b.readUInt32BE(p));
  const iface: PcapngInterface = { linktype: u16(body), snaplen: u32(body + 4), tsPerSec: 1e6, tsOffset: 0 };
  let p = body + 8;
  while (p + 4 <= bodyEnd) {
    const code = u16(p);
    const olen = u16(p + 2);
    if (code === 0 || p + 4 + olen > bodyEnd) break;
    if (code === 9 && olen >= 1) {
      const v = b[p + 4]!;
      iface.tsPerSec = v & 0x80 ? 2 ** (v & 0x7f) : 10 ** v;
    } else if (code === 14 && olen >= 8) {
      const hi = u32(p + 4 + (le ? 4 : 0));
      const lo = u32(p + 4 + (le ? 0 : 4));
      iface.tsOffset = hi * 2 ** 32 + lo;
    }
    p += 4 + olen + ((4 - (olen % 4)) % 4);
  }
  return iface;
}

/** A placeholder for an interface block too short to describe one (keeps later ids aligned). */
function badInterface(): PcapngInterface {
  return { linktype: -1, snaplen: 0, tsPerSec: 1e6, tsOffset: 0 };
}
