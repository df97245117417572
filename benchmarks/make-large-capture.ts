/**
 * Writes one large Ethernet pcap for the line-rate benchmark (benchmarks/large-capture.ts): the
 * Ethernet packets of the shared captures (pcaps/normal and pcaps/attack, pcap and pcapng) and,
 * when given, the traffic lab's capture (once, in the first copy: its packets are large), replayed
 * copy after copy until the file holds at least `--packets` packets. Each copy is shifted in time (a 300 s gap after every source file, so its
 * flows end by idle timeout before the next one starts) and in address space (copy c adds c to the
 * second byte of every IPv4 address and XORs c into bytes 2-3 of every IPv6 address), so copies
 * never merge into the same flows. Captures spanning more than a day are left out. Checksums are left as they are (no reader here checks them).
 *
 * Usage: NETANOMALY_DATA_DIR=../shared/datasets npx tsx benchmarks/make-large-capture.ts
 *          [--packets 1200000] [--lab LAB_RUN/capture.pcap] [-o /tmp/netanomaly-large.pcap]
 * Never write the output into the repository: it is large and made from the shared data.
 */
import { existsSync, readdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LINKTYPE } from '../src/ingest/traffic/decode.ts';
import { readPackets } from '../src/ingest/traffic/pcap.ts';

interface Source {
  /** Record bodies (Ethernet frames) and their times relative to the file's first packet. */
  frames: Uint8Array[];
  rel: Float64Array;
  lens: Int32Array;
  span: number;
  /** Only in the first copy. */
  once: boolean;
}

export const DEFAULT_LARGE_CAPTURE = join(tmpdir(), 'netanomaly-large.pcap');

async function loadSource(path: string, once: boolean): Promise<Source | null> {
  const frames: Uint8Array[] = [];
  const ts: number[] = [];
  const lens: number[] = [];
  try {
    for await (const p of readPackets(path, {}, [])) {
      if (p.linktype !== LINKTYPE.ETHERNET) continue;
      frames.push(Uint8Array.from(p.data));
      ts.push(p.ts);
      lens.push(p.len);
    }
  } catch {
    return null; // not a readable capture: left out
  }
  if (frames.length === 0) return null;
  // A capture spanning more than a day (a few have stray timestamps) would stretch the file past
  // pcap's 32-bit seconds: left out.
  if (ts.some((t) => Math.abs(t - ts[0]!) > 86_400)) return null;
  const t0 = ts.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY);
  const rel = Float64Array.from(ts, (t) => Math.max(0, t - t0));
  return { frames, rel, lens: Int32Array.from(lens), span: rel.reduce((a, b) => Math.max(a, b), 0), once };
}

/** Byte offset of the IP header in an Ethernet frame (VLAN tags skipped), with its version; or null. */
function ipHeader(d: Uint8Array): { o: number; v: 4 | 6 } | null {
  if (d.length < 14) return null;
  let et = (d[12]! << 8) | d[13]!;
  let o = 14;
  while ((et === 0x8100 || et === 0x88a8) && d.length >= o + 4) {
    et = (d[o + 2]! << 8) | d[o + 3]!;
    o += 4;
  }
  if (et === 0x0800 && d.length >= o + 20) return { o, v: 4 };
  if (et === 0x86dd && d.length >= o + 40) return { o, v: 6 };
  return null;
}

/** Copy c of a frame with its addresses moved (see the header comment). */
function shifted(frame: Uint8Array, c: number, out: Uint8Array): void {
  out.set(frame);
  if (c === 0) return;
  const ip = ipHeader(out);
  if (!ip) return;
  if (ip.v === 4) {
    out[ip.o + 13] = (out[ip.o + 13]! + c) & 0xff;
    out[ip.o + 17] = (out[ip.o + 17]! + c) & 0xff;
  } else {
    for (const a of [ip.o + 8, ip.o + 24]) {
      out[a + 2]! ^= (c >> 8) & 0xff;
      out[a + 3]! ^= c & 0xff;
    }
  }
}

export async function makeLargeCapture(opts: {
  dataDir: string;
  out: string;
  packets: number;
  lab?: string | null;
  log?: (s: string) => void;
}): Promise<{ packets: number; bytes: number; copies: number; sources: number }> {
  const log = opts.log ?? (() => {});
  const paths = ['normal', 'attack'].flatMap((d) => {
    const dir = join(opts.dataDir, 'pcaps', d);
    return readdirSync(dir)
      .filter((n) => /\.(pcap|pcapng|cap)$/.test(n))
      .sort()
      .map((n) => join(dir, n));
  });
  const sources: Source[] = [];
  for (const p of paths) {
    const s = await loadSource(p, false);
    if (s) sources.push(s);
  }
  const lab = opts.lab && existsSync(opts.lab) ? await loadSource(opts.lab, true) : null;
  if (lab) sources.push(lab);
  const perCopy = sources.reduce((a, s) => a + (s.once ? 0 : s.frames.length), 0);
  if (perCopy === 0) throw new Error('no Ethernet packets in the shared captures');
  const copies = Math.max(1, Math.ceil((opts.packets - (lab?.frames.length ?? 0)) / perCopy));
  log(`${sources.length} source captures, ${perCopy} Ethernet packets per copy, ${copies} copies`);
  const fh = await open(opts.out, 'w');
  const bufSize = 8 << 20;
  let buf = Buffer.alloc(bufSize);
  let used = 0;
  let bytes = 0;
  const flush = async () => {
    if (used > 0) await fh.write(buf, 0, used);
    bytes += used;
    used = 0;
  };
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(LINKTYPE.ETHERNET, 20);
  header.copy(buf, 0);
  used = 24;
  let cursor = 1.7e9; // seconds since the epoch of the first packet (2023-11-14)
  let packets = 0;
  for (let c = 0; c < copies; c++) {
    for (const s of sources) {
      if (s.once && c > 0) continue;
      for (let i = 0; i < s.frames.length; i++) {
        const f = s.frames[i]!;
        if (used + 16 + f.length > buf.length) {
          await flush();
          if (16 + f.length > buf.length) buf = Buffer.alloc(16 + f.length);
        }
        const t = cursor + s.rel[i]!;
        const sec = Math.floor(t);
        const usec = Math.min(999_999, Math.round((t - sec) * 1e6));
        buf.writeUInt32LE(sec, used);
        buf.writeUInt32LE(usec, used + 4);
        buf.writeUInt32LE(f.length, used + 8);
        buf.writeUInt32LE(Math.max(f.length, s.lens[i]!), used + 12);
        shifted(f, c, buf.subarray(used + 16, used + 16 + f.length));
        used += 16 + f.length;
        packets++;
      }
      cursor += Math.ceil(s.span) + 300;
    }
  }
  await flush();
  await fh.close();
  return { packets, bytes, copies, sources: sources.length };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const arg = (name: string, fallback: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1]! : fallback;
  };
  const data = process.env.NETANOMALY_DATA_DIR;
  if (!data) throw new Error('set NETANOMALY_DATA_DIR');
  const out = arg('-o', DEFAULT_LARGE_CAPTURE);
  const r = await makeLargeCapture({
    dataDir: data,
    out,
    packets: Number(arg('--packets', '1200000')),
    lab: arg('--lab', '') || null,
    log: (s) => process.stderr.write(`${s}\n`),
  });
  process.stderr.write(`${out}: ${r.packets} packets, ${(r.bytes / 2 ** 20).toFixed(0)} MiB\n`);
}
