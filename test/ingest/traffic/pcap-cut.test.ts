/**
 * Property tests of the capture reader on real captures (a pcap, and a pcapng with three
 * interfaces of different timestamp resolutions): cut at every offset, read through buffers of
 * sizes around the record lengths and through streams split at random points, the reader yields
 * exactly the records that end before the cut and counts one truncation when the cut falls inside
 * a record; only a cut inside the file header is an error, and then a ParseError. Bytes flipped
 * at random never make the reader, the decoder or the flow meter throw anything but the project's
 * errors. Seeded (fast-check), a few seconds.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { NetanomalyError, ParseError } from '../../../src/errors.ts';
import { decodePacket } from '../../../src/ingest/traffic/decode.ts';
import { FlowMeter } from '../../../src/ingest/traffic/flow-meter.ts';
import { type Counters, readPacketStream } from '../../../src/ingest/traffic/pcap.ts';

const DATA = process.env.NETANOMALY_DATA_DIR ?? '';
const SEED = 15;

interface Packet {
  offset: number;
  /** File offset just past the record (set for the full reads). */
  end: number;
  ts: number;
  len: number;
  linktype: number;
  data: Buffer;
}

interface Read {
  packets: Packet[];
  counters: Counters;
  warnings: string[];
  error: unknown;
}

/** The bytes served in pieces of the given sizes (cycled), as a pipe would. */
function pieces(buf: Buffer, sizes: readonly number[]): Readable {
  const parts: Buffer[] = [];
  let o = 0;
  for (let i = 0; o < buf.length; i++) {
    const n = Math.max(1, sizes.length ? sizes[i % sizes.length]! : buf.length);
    parts.push(buf.subarray(o, o + n));
    o += n;
  }
  return Readable.from(parts);
}

async function read(buf: Buffer, chunkSize: number, split: readonly number[] = []): Promise<Read> {
  const counters: Counters = {};
  const warnings: string[] = [];
  const packets: Packet[] = [];
  let error: unknown = null;
  try {
    for await (const p of readPacketStream(pieces(buf, split), counters, warnings, 'cut', { chunkSize })) {
      packets.push({
        offset: p.offset,
        end: 0,
        ts: p.ts,
        len: p.len,
        linktype: p.linktype,
        data: Buffer.from(p.data),
      });
    }
  } catch (err) {
    error = err;
  }
  return { packets, counters, warnings, error };
}

const isPcapng = (buf: Buffer) => buf.readUInt32BE(0) === 0x0a0d0d0a;

/** Every record boundary of a capture: [header end, record ends...]; pcapng walks block lengths. */
function boundaries(buf: Buffer): number[] {
  if (!isPcapng(buf)) {
    const out = [24];
    let o = 24;
    while (o + 16 <= buf.length) {
      o += 16 + buf.readUInt32LE(o + 8);
      out.push(o);
    }
    return out;
  }
  const out: number[] = [];
  let o = 0;
  while (o + 12 <= buf.length) {
    o += buf.readUInt32LE(o + 4);
    out.push(o);
  }
  return out;
}

interface Capture {
  name: string;
  buf: Buffer;
  full: Packet[];
  bounds: number[];
  /** Record (block) lengths: chunk sizes around them put boundaries at every kind of place. */
  sizes: number[];
}

async function capture(name: string): Promise<Capture> {
  assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
  const buf = readFileSync(join(DATA, 'pcaps', name));
  const bounds = boundaries(buf);
  const r = await read(buf, 1 << 20);
  assert.equal(r.error, null);
  assert.deepEqual(r.warnings, []);
  // The record of each packet ends at the next boundary after its offset.
  for (const p of r.packets) p.end = bounds.find((b) => b > p.offset)!;
  const sizes = bounds.slice(1).map((b, i) => b - bounds[i]!);
  return { name, buf, full: r.packets, bounds, sizes };
}

/** What a cut at `cut` must give: the records that end by then, one truncation if inside one. */
function checkCut(c: Capture, cut: number, r: Read, how: string): void {
  const where = `${c.name} cut at ${cut} (${how})`;
  if (cut < c.bounds[0]!) {
    // inside the file (or first section) header: not a capture yet
    assert.ok(r.error instanceof ParseError, `${where}: expected a ParseError, got ${String(r.error)}`);
    assert.equal(r.packets.length, 0, where);
    return;
  }
  assert.equal(r.error, null, `${where}: ${String(r.error)}`);
  const expected = c.full.filter((p) => p.end <= cut);
  assert.equal(r.packets.length, expected.length, where);
  for (let i = 0; i < expected.length; i++) {
    const a = r.packets[i]!;
    const b = expected[i]!;
    assert.ok(
      a.offset === b.offset && a.ts === b.ts && a.len === b.len && a.linktype === b.linktype,
      `${where}: packet ${i}`,
    );
    assert.ok(a.data.equals(b.data), `${where}: packet ${i} bytes`);
  }
  const atBoundary = c.bounds.includes(cut);
  assert.equal(r.counters.truncated_records ?? 0, atBoundary ? 0 : 1, where);
  assert.equal(r.warnings.length, atBoundary ? 0 : 1, `${where}: ${r.warnings.join(' | ')}`);
}

describe('capture reader, cut and chunked', () => {
  const names = ['normal/dns-google-nsid.pcapng', 'normal/dns_ambiguous_names.pcap'];

  test('real captures cut at every offset, buffers sized around the records', async () => {
    for (const name of names) {
      const c = await capture(name);
      assert.ok(c.full.length >= 10, `${name}: ${c.full.length} packets`);
      if (name.endsWith('.pcapng')) assert.ok(new Set(c.full.map((p) => p.ts % 1)).size > 1);
      const chunkSizes = [16, 17, 64, ...c.sizes.flatMap((s) => [s - 1, s, s + 1]), 4096];
      for (let cut = 0; cut <= c.buf.length; cut++) {
        const chunkSize = chunkSizes[cut % chunkSizes.length]!;
        checkCut(c, cut, await read(c.buf.subarray(0, cut), chunkSize), `chunk ${chunkSize}`);
      }
    }
  });

  test('property: any cut, any buffer size, any split of the stream', async () => {
    const caps = await Promise.all(names.map(capture));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: caps.length - 1 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 3000 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 6 }),
        async (ci, at, chunkSize, split) => {
          const c = caps[ci]!;
          const cut = Math.min(c.buf.length, Math.floor(at * (c.buf.length + 1)));
          checkCut(
            c,
            cut,
            await read(c.buf.subarray(0, cut), chunkSize, split),
            `chunk ${chunkSize}, split ${split}`,
          );
        },
      ),
      { seed: SEED, numRuns: 400 },
    );
  });

  test('property: flipped bytes never raise anything but the project errors (reader, decoder, flow meter)', async () => {
    const caps = await Promise.all(names.map(capture));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: caps.length - 1 }),
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.integer({ min: 16, max: 2000 }),
        async (ci, flips, chunkSize) => {
          const buf = Buffer.from(caps[ci]!.buf);
          for (const [at, v] of flips) buf[Math.min(buf.length - 1, Math.floor(at * buf.length))] = v;
          const counters: Counters = {};
          const meter = new FlowMeter(counters);
          try {
            for await (const p of readPacketStream(pieces(buf, []), counters, [], 'flipped', { chunkSize })) {
              assert.ok(p.data.length <= p.len, 'caplen never above len');
              const d = decodePacket(p.linktype, p.data, p.ts, counters);
              if (d) for (const _ of meter.add(d));
            }
            for (const _ of meter.flush());
          } catch (err) {
            if (!(err instanceof NetanomalyError)) throw err;
          }
        },
      ),
      { seed: SEED, numRuns: 400 },
    );
  });
});
