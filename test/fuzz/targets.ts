/**
 * The fuzz targets: every parser that reads untrusted bytes, called through its public function.
 * A new parser is one more entry in TARGETS (name, seeds, run). Allowed outcomes of `run`: it
 * returns (a parsed result, maybe with counted skips) or throws one of the project's errors
 * (NetanomalyError with a message). Anything else is a finding (see engine.ts).
 *
 * Seeds are real samples from NETANOMALY_DATA_DIR (captures normal / attack / malformed, NSL-KDD
 * and KDD'99 lines, Zeek TSV and JSON), cut small so that a run tries many inputs.
 */
import { createHash } from 'node:crypto';
import { createReadStream, rmSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { InputError } from '../../src/errors.ts';
import { ExportFlowSource, type ExportRecord, FlowExportDecoder } from '../../src/ingest/flowexport/index.ts';
import { readTabular } from '../../src/ingest/input.ts';
import { KDD_FEATURES, readKdd } from '../../src/ingest/kdd.ts';
import {
  APP_PAYLOAD_PACKETS,
  AppMeta,
  appFeatures,
  finishApp,
  observePayload,
} from '../../src/ingest/traffic/app-meta.ts';
import { CIC_ALIASES } from '../../src/ingest/traffic/cic.ts';
import { decodePacket, LINKTYPE } from '../../src/ingest/traffic/decode.ts';
import { readTraffic } from '../../src/ingest/traffic/index.ts';
import { readPacketStream, readPackets } from '../../src/ingest/traffic/pcap.ts';
import { loadModel, saveModel } from '../../src/model/bundle.ts';
import { trainFromFile } from '../../src/pipeline/train.ts';
import { type AppServer, startApp } from '../../src/web/server.ts';
import { type InputOptions, TEXT_TOKENS, utf8 } from './mutate.ts';

export interface FuzzContext {
  /** A private scratch directory (tmpfs when available) for file-based parsers. */
  dir: string;
  /** Per-target state built by `setup` (a trained model, a running server). */
  // biome-ignore lint/suspicious/noExplicitAny: each target keeps its own state shape
  state: any;
}

export interface FuzzTarget {
  name: string;
  /** What is called, for the report. */
  calls: string;
  seeds(data: string): Promise<Uint8Array[]>;
  input: Omit<InputOptions, 'generated'> & { generated?: () => fc.Arbitrary<Uint8Array> };
  setup?(ctx: FuzzContext, data: string): Promise<void>;
  run(input: Uint8Array, ctx: FuzzContext): Promise<unknown>;
  teardown?(ctx: FuzzContext): Promise<void>;
}

export function dataDir(): string {
  const d = process.env.NETANOMALY_DATA_DIR;
  if (!d) throw new Error('NETANOMALY_DATA_DIR is not set: the fuzz seeds are the real datasets');
  return d;
}

/**
 * A scratch directory, on tmpfs (/dev/shm) when there is one, or under NETANOMALY_FUZZ_SCRATCH
 * (the runner's own directory, removed by it even when a child process dies).
 */
export async function scratchDir(name: string): Promise<string> {
  let base = process.env.NETANOMALY_FUZZ_SCRATCH ?? tmpdir();
  if (!process.env.NETANOMALY_FUZZ_SCRATCH) {
    try {
      await readdir('/dev/shm');
      base = '/dev/shm';
    } catch {}
  }
  return mkdtemp(join(base, `netanomaly-fuzz-${name}-`));
}

/** Seeds are cut small (libFuzzer's default max_len is 4 KiB): more inputs per second, denser mutations. */
const MAX_SEED = 16 * 1024;

async function files(dir: string, filter: (n: string) => boolean = () => true): Promise<string[]> {
  return (await readdir(dir))
    .filter(filter)
    .sort()
    .map((n) => join(dir, n));
}

/** Captures cut to whole records below MAX_SEED (the cut itself is left to the mutator). */
async function captureSeeds(data: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const malformed = await files(join(data, 'pcaps/malformed'));
  const attack = await files(join(data, 'pcaps/attack'), (n) => /\.pcap(ng)?$/.test(n));
  const normal = (await files(join(data, 'pcaps/normal'))).filter((_, i) => i % 8 === 0);
  for (const f of [...malformed, ...attack, ...normal]) {
    const b = await readFile(f);
    out.push(b.subarray(0, MAX_SEED));
  }
  return out;
}

/** The capture seeds of one container format (by magic: pcapng starts with 0a0d0d0a). */
const isPcapng = (b: Uint8Array) => b.length >= 4 && b[0] === 0x0a && b[1] === 0x0d && b[2] === 0x0d;
async function pcapSeeds(data: string): Promise<Uint8Array[]> {
  return (await captureSeeds(data)).filter((b) => !isPcapng(b));
}
async function pcapngSeeds(data: string): Promise<Uint8Array[]> {
  return (await captureSeeds(data)).filter(isPcapng);
}

/**
 * The reader's chunk size for one input, from its last byte: mostly small (record and block seams
 * at every few hundred bytes, the compaction paths), sometimes the default 1 MiB.
 */
function chunkSizeOf(input: Uint8Array): number {
  const b = input[input.length - 1] ?? 0;
  return [256, 4096, 65536, 1 << 20][b & 3]!;
}

/** Reader + decoder over an in-memory capture, as `readPackets` reads a file (ChunkReader). */
async function readCaptureBytes(input: Uint8Array): Promise<number> {
  const counters = {};
  let n = 0;
  for await (const p of readPackets('input', counters, [], { bytes: input, chunkSize: chunkSizeOf(input) })) {
    decodePacket(p.linktype, p.data, p.ts, counters);
    n++;
  }
  return n;
}

/** Frames from real captures, each prefixed by one byte naming its link type (see decodeInput). */
const LINKTYPES = [
  LINKTYPE.ETHERNET,
  LINKTYPE.RAW,
  LINKTYPE.LINUX_SLL,
  LINKTYPE.LINUX_SLL2,
  LINKTYPE.NULL,
  LINKTYPE.LOOP,
  LINKTYPE.IPV4,
  LINKTYPE.IPV6,
  LINKTYPE.RAW_OLD_12,
  LINKTYPE.RAW_OLD_14,
];

async function frameSeeds(data: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const cap of await captureSeeds(data)) {
    const counters = {};
    let n = 0;
    try {
      for await (const p of readPacketStream(Readable.from([Buffer.from(cap)]), counters, [])) {
        const idx = LINKTYPES.indexOf(p.linktype as (typeof LINKTYPES)[number]);
        out.push(
          new Uint8Array([
            idx < 0 ? 255 : idx,
            ...(idx < 0 ? [p.linktype >> 8, p.linktype & 255] : []),
            ...p.data,
          ]),
        );
        if (++n >= 12) break;
      }
    } catch {
      // broken seeds still gave their first frames
    }
  }
  return out;
}

function decodeInput(b: Uint8Array): { linktype: number; frame: Uint8Array } {
  if (b.length === 0) return { linktype: LINKTYPE.ETHERNET, frame: b };
  const i = b[0]!;
  if (i < LINKTYPES.length) return { linktype: LINKTYPES[i]!, frame: b.subarray(1) };
  return { linktype: ((b[1] ?? 0) << 8) | (b[2] ?? 0), frame: b.subarray(3) };
}

/** Lines from..from+n of a text file (gzip'd ones streamed: only as far as needed). */
async function linesOf(path: string, n: number, from = 0): Promise<string[]> {
  if (!path.endsWith('.gz')) return (await readFile(path, 'latin1')).split('\n').slice(from, from + n);
  const lines: string[] = [];
  let rest = '';
  const gunzip = createReadStream(path).pipe(createGunzip());
  for await (const chunk of gunzip) {
    const parts = (rest + (chunk as Buffer).toString('latin1')).split('\n');
    rest = parts.pop()!;
    lines.push(...parts);
    if (lines.length >= from + n) break;
  }
  gunzip.destroy();
  if (lines.length < from + n) lines.push(rest);
  return lines.slice(from, from + n);
}

async function kddSeeds(data: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const nsl = await linesOf(join(data, 'nsl-kdd/KDDTrain+_20Percent.txt'), 400);
  const test = await linesOf(join(data, 'nsl-kdd/KDDTest+.txt'), 400, 1000);
  const k99 = await linesOf(join(data, 'kddcup99/kddcup.data_10_percent.gz'), 400, 5000);
  for (const lines of [nsl, test, k99]) {
    for (let i = 0; i < lines.length; i += 40) out.push(utf8(`${lines.slice(i, i + 40).join('\n')}\n`));
  }
  out.push(gzipSync(utf8(`${nsl.slice(0, 30).join('\n')}\n`)));
  out.push(utf8(`${nsl.slice(0, 20).join('\r\n')}\r\n`));
  return out;
}

/** Records with a header: the KDD field names (CSV with KDD columns) and a small generic table. */
async function csvSeeds(data: string): Promise<Uint8Array[]> {
  const names = [...KDD_FEATURES.map((f) => f.name), 'label', 'difficulty'].join(',');
  const lines = await linesOf(join(data, 'nsl-kdd/KDDTest+.txt'), 300, 3000);
  const out: Uint8Array[] = [];
  for (let i = 0; i < lines.length; i += 30)
    out.push(utf8(`${names}\n${lines.slice(i, i + 30).join('\n')}\n`));
  for (const delim of [';', '\t', '|']) {
    out.push(
      utf8(
        `${names.replaceAll(',', delim)}\n${lines
          .slice(0, 10)
          .map((l) => l.replaceAll(',', delim))
          .join('\n')}\n`,
      ),
    );
  }
  const fields = await readFile(join(data, 'nsl-kdd/Field_Names.csv'));
  out.push(utf8(`name,kind\n${fields.toString('latin1')}`));
  out.push(utf8(`host,bytes,"note, quoted",class\n"a",1,"x""y",normal\nb,2.5e3,"multi\nline",attack\n`));
  return out;
}

async function zeekSeeds(data: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const tsv = await linesOf(join(data, 'zeek/tsv/conn.log'), 1000);
  const header = tsv.filter((l) => l.startsWith('#') && !l.startsWith('#close'));
  const rows = tsv.filter((l) => !l.startsWith('#'));
  for (let i = 0; i < Math.min(rows.length, 200); i += 25) {
    out.push(utf8(`${[...header, ...rows.slice(i, i + 25), '#close\t2020-01-01-00-00-00'].join('\n')}\n`));
  }
  const json = (await linesOf(join(data, 'zeek/json/conn.log'), 200)).filter((l) => l.trim() !== '');
  for (let i = 0; i < json.length; i += 25) out.push(utf8(`${json.slice(i, i + 25).join('\n')}\n`));
  out.push(gzipSync(out[0]!));
  out.push(await readFile(join(data, 'zeek/tsv/weird.log')));
  out.push(await readFile(join(data, 'zeek/tsv/http.log.corrupt.gz')));
  return out;
}

/** CICFlowMeter CSVs written from the flows of real captures (CIC column names, µs durations). */
async function cicSeeds(data: string): Promise<Uint8Array[]> {
  const micro = (k: string) => k === 'duration' || k.includes('_iat_');
  const keys = Object.keys(CIC_ALIASES).filter(
    (k) => !['src_ip', 'src_port', 'dst_ip', 'dst_port', 'protocol', 'timestamp', 'label'].includes(k),
  );
  const head = [
    'Src IP',
    'Src Port',
    'Dst IP',
    'Dst Port',
    'Protocol',
    'Timestamp',
    ...keys.map((k) => CIC_ALIASES[k]![0]!),
    'Label',
  ].join(',');
  const out: Uint8Array[] = [];
  const caps = (await files(join(data, 'pcaps/attack'), (n) => n.endsWith('.pcap'))).slice(0, 6);
  for (const cap of caps) {
    const t = await readTraffic(cap, { format: 'pcap' });
    const rows: string[] = [];
    for (let i = 0; i < Math.min(t.table.nRows, 30); i++) {
      const vals = keys.map((k) => {
        const v = t.table.numeric[k]?.[i] ?? Number.NaN;
        return String(micro(k) ? Math.round(v * 1e6) : v);
      });
      const proto = { tcp: 6, udp: 17, icmp: 1 }[t.identity.protocol[i]!] ?? 0;
      const ts = new Date(t.identity.start_time[i]! * 1000).toISOString().replace('T', ' ').slice(0, 19);
      rows.push(
        [
          t.identity.src_ip[i],
          t.identity.src_port[i],
          t.identity.dst_ip[i],
          t.identity.dst_port[i],
          proto,
          ts,
          ...vals,
          i % 3 ? 'BENIGN' : 'PortScan',
        ].join(','),
      );
    }
    if (rows.length > 0) out.push(utf8(`${head}\n${rows.join('\n')}\n`));
  }
  return out;
}

/** Transport payloads of real flows (DNS, HTTP, TLS and others), the first four per flow. */
async function appSeeds(data: string): Promise<Uint8Array[]> {
  const flows = new Map<string, { head: number[]; segs: number[][] }>();
  for (const cap of await captureSeeds(data)) {
    const counters = {};
    try {
      for await (const p of readPacketStream(Readable.from([Buffer.from(cap)]), counters, [])) {
        const d = decodePacket(p.linktype, p.data, p.ts, counters);
        if (!d?.data || !d.payloadCaptured || (d.proto !== 6 && d.proto !== 17)) continue;
        const lo = d.sport < d.dport;
        const key = `${d.proto}|${lo ? `${d.src}:${d.sport}` : `${d.dst}:${d.dport}`}|${lo ? d.dst : d.src}`;
        let f = flows.get(key);
        if (!f) {
          f = {
            head: [d.proto === 17 ? 1 : 0, d.sport >> 8, d.sport & 255, d.dport >> 8, d.dport & 255],
            segs: [],
          };
          flows.set(key, f);
        }
        if (f.segs.length >= APP_PAYLOAD_PACKETS) continue;
        const pay = d.data.subarray(d.payloadOffset!, d.payloadOffset! + d.payloadCaptured);
        const fwd = f.segs.length === 0 || (f.head[1]! << 8) + f.head[2]! === d.sport ? 1 : 0;
        f.segs.push([fwd, pay.length >> 8, pay.length & 255, ...pay.subarray(0, 2048)]);
      }
    } catch {
      // broken seeds still gave their first packets
    }
  }
  const rank = (f: { head: number[] }) => {
    const port = Math.min((f.head[1]! << 8) + f.head[2]!, (f.head[3]! << 8) + f.head[4]!);
    return [53, 5353, 5355, 80, 443, 8080].includes(port) ? 0 : 1;
  };
  return [...flows.values()]
    .sort((a, b) => rank(a) - rank(b))
    .slice(0, 80)
    .map((f) => Uint8Array.from([...f.head, ...f.segs.flat()]));
}

/**
 * One flow's payloads through the app-metadata parsers: [udp?][sport][dport] then segments of
 * [direction][length u16][bytes] (a length past the end means "what is left").
 */
function appRun(input: Uint8Array): unknown {
  const counters = {};
  const proto = (input[0] ?? 0) & 1 ? 17 : 6;
  const sport = ((input[1] ?? 0) << 8) | (input[2] ?? 0);
  const dport = ((input[3] ?? 0) << 8) | (input[4] ?? 0);
  const m = new AppMeta();
  for (let o = 5; o + 3 <= input.length && !m.done; ) {
    const fwd = (input[o]! & 1) === 1;
    const len = Math.min((input[o + 1]! << 8) | input[o + 2]!, input.length - o - 3);
    observePayload(m, fwd, proto, sport, dport, input, o + 3, len, counters);
    o += 3 + len;
  }
  finishApp(m, counters);
  return appFeatures(m, {}, {});
}

/** Real export datagrams: softflowd (Debian) replaying captures into our collector on 127.0.0.1. */
async function softflowdDatagrams(data: string, version: 5 | 9 | 10): Promise<Uint8Array[][]> {
  const { exportInto } = await import('../ingest/flowexport/tools.ts');
  const caps = (await files(join(data, 'pcaps/attack'), (n) => n.endsWith('.pcap'))).slice(0, 3);
  caps.push(...(await files(join(data, 'pcaps/normal'))).filter((_, i) => i % 40 === 0).slice(0, 3));
  // All replays at once (each waits for its collector to go quiet): the same datagrams, in order.
  const runs = caps.flatMap((cap) =>
    (version === 5 ? [[]] : [[], ['-b']]).map((extra) => exportInto(cap, version, extra, 64)),
  );
  const out: Uint8Array[][] = [];
  for (const got of await Promise.all(runs)) {
    const d = got.collector.datagrams().map((k) => Uint8Array.from(k.data));
    if (d.length > 0) out.push(d);
  }
  return out;
}

/** sFlow v5 datagrams (no sFlow exporter in Debian here): flow samples of real frames. */
async function sflowDatagrams(data: string): Promise<Uint8Array[][]> {
  const { sflow, sflowFlowSample } = await import('../ingest/flowexport/build.ts');
  const frames: Buffer[] = [];
  for (const cap of (await captureSeeds(data)).slice(0, 40)) {
    try {
      for await (const p of readPacketStream(Readable.from([Buffer.from(cap)]), {}, [])) {
        if (p.linktype === LINKTYPE.ETHERNET) frames.push(Buffer.from(p.data.subarray(0, 128)));
        if (frames.length % 6 === 5) break;
      }
    } catch {}
  }
  const out: Uint8Array[][] = [];
  for (let i = 0; i + 3 <= frames.length && out.length < 30; i += 3) {
    const samples: [number, Buffer][] = frames
      .slice(i, i + 3)
      .map((f, j) => [1, sflowFlowSample(64 << j, f)]);
    out.push([sflow(i, samples, { agent: `10.0.0.${1 + (i % 5)}` }), sflow(i + 1, samples.slice(1))]);
  }
  return out;
}

/** Datagram sequences as fuzz inputs: [length u16][datagram] repeated, at most 6 datagrams. */
function frameSequence(datagrams: Uint8Array[]): Uint8Array {
  const parts: number[] = [];
  for (const d of datagrams.slice(0, 6)) parts.push(d.length >> 8, d.length & 255, ...d);
  return Uint8Array.from(parts);
}

const exportCache = new Map<string, Promise<Uint8Array[][]>>();
function exportDatagrams(data: string, name: string): Promise<Uint8Array[][]> {
  let p = exportCache.get(name);
  if (!p) {
    p =
      name === 'sflow'
        ? sflowDatagrams(data)
        : softflowdDatagrams(data, name === 'netflow-v5' ? 5 : name === 'netflow-v9' ? 9 : 10);
    exportCache.set(name, p);
  }
  return p;
}

async function exportSeeds(data: string, name: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const seq of await exportDatagrams(data, name)) {
    out.push(frameSequence(seq));
    if (seq.length > 6) out.push(frameSequence(seq.slice(-4)));
  }
  return out;
}

/** A datagram sequence through the decoders and the stitcher (one exporter, one second apart). */
function exportRun(input: Uint8Array): number {
  const counters: Record<string, number> = {};
  const src = new ExportFlowSource(counters, {});
  let flows = 0;
  let t = 1_700_000_000;
  for (let o = 0; o + 2 <= input.length; ) {
    const len = Math.min((input[o]! << 8) | input[o + 1]!, input.length - o - 2);
    flows += src.push(input.subarray(o + 2, o + 2 + len), '192.0.2.1:2055', t++).length;
    o += 2 + len;
  }
  flows += src.flush().length;
  src.decoder.snapshot();
  if (counters.export_decoder_errors) throw new Error('an export decoder threw (counted, swallowed)');
  return flows;
}

/** GoFlow2 JSON lines (both its key styles) from the records of real softflowd v9 exports. */
async function goflow2Seeds(data: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const seq of (await exportDatagrams(data, 'netflow-v9')).slice(0, 8)) {
    const dec = new FlowExportDecoder({});
    const recs: ExportRecord[] = [];
    for (let i = 0; i < seq.length; i++) dec.decode(seq[i]!, '192.0.2.7:2055', 1_700_000_000 + i, recs);
    const lines = recs.slice(0, 12).map((r, i) =>
      JSON.stringify(
        i % 2
          ? {
              Type: 'NETFLOW_V9',
              TimeReceived: Math.round(r.arrival),
              SamplerAddress: '192.0.2.7',
              TimeFlowStart: Math.floor(r.start),
              TimeFlowEnd: Math.ceil(r.end),
              Bytes: r.bytes,
              Packets: r.packets,
              SrcAddr: r.src,
              DstAddr: r.dst,
              Proto: r.proto,
              SrcPort: r.sport,
              DstPort: r.dport,
              TCPFlags: r.flags,
            }
          : {
              type: i % 4 ? 'SFLOW_5' : 'NETFLOW_V9',
              time_received_ns: Math.round(r.arrival * 1e9),
              sampler_address: '192.0.2.7',
              time_flow_start_ns: Math.round(r.start * 1e9),
              time_flow_end_ns: Math.round(r.end * 1e9),
              bytes: r.bytes,
              packets: r.packets,
              src_addr: r.src,
              dst_addr: r.dst,
              proto: [6, 17, 1].includes(r.proto) ? { 6: 'TCP', 17: 'UDP', 1: 'ICMP' }[r.proto] : r.proto,
              src_port: r.sport,
              dst_port: r.dport,
              tcp_flags: r.flags,
              in_if: r.inIf,
              out_if: r.outIf,
              sampling_rate: i % 4 ? 64 : 0,
            },
      ),
    );
    if (lines.length > 0) out.push(utf8(`${lines.join('\n')}\n`));
  }
  return out;
}

/** Writes the input to the context's scratch file and returns its path. */
async function asFile(ctx: FuzzContext, input: Uint8Array, name = 'input'): Promise<string> {
  const path = join(ctx.dir, name);
  await writeFile(path, input);
  return path;
}

const trained = new Map<string, Promise<string>>();

/**
 * A small real model (k = 4 on 2,000 NSL-KDD training lines), saved as a bundle in `dir`;
 * trained once per process and copied.
 */
export async function smallModel(data: string, dir: string): Promise<string> {
  let first = trained.get(data);
  if (!first) {
    first = scratchDir('model').then((d) => {
      process.once('exit', () => rmSync(d, { recursive: true, force: true }));
      return trainSmallModel(data, d);
    });
    trained.set(data, first);
  }
  const bundle = join(dir, 'model');
  await cp(await first, bundle, { recursive: true });
  return bundle;
}

async function trainSmallModel(data: string, dir: string): Promise<string> {
  const lines = await linesOf(join(data, 'nsl-kdd/KDDTrain+_20Percent.txt'), 2000);
  const train = join(dir, 'train.txt');
  await writeFile(train, `${lines.join('\n')}\n`);
  const t = await trainFromFile(train, { format: 'nsl-kdd', trainOn: 'normal', k: 4 });
  const bundle = join(dir, 'model');
  await saveModel(bundle, t.detector, t.card);
  await rm(train);
  return bundle;
}

/** Columns of the tiny model: two numeric and one categorical KDD field. */
const TINY_COLUMNS = ['duration', 'protocol_type', 'src_bytes'];

/** CSV rows of TINY_COLUMNS from NSL-KDD lines. */
function tinyCsv(lines: string[]): string {
  const idx = TINY_COLUMNS.map((c) => KDD_FEATURES.findIndex((f) => f.name === c));
  const rows = lines.filter((l) => l.trim() !== '').map((l) => idx.map((i) => l.split(',')[i]).join(','));
  return `${TINY_COLUMNS.join(',')}\n${rows.join('\n')}\n`;
}

let tiny: Promise<string> | null = null;

/**
 * A tiny real model (k = 3 on three columns of 600 NSL-KDD lines, all rows): a model.json of a few KiB, so
 * that the bundle fuzzer spends its time in the checks, not in hashing and parsing 85 KiB.
 */
async function tinyModel(data: string, dir: string): Promise<string> {
  if (!tiny) {
    tiny = scratchDir('tiny-model').then(async (d) => {
      process.once('exit', () => rmSync(d, { recursive: true, force: true }));
      const train = join(d, 'train.csv');
      await writeFile(train, tinyCsv(await linesOf(join(data, 'nsl-kdd/KDDTrain+_20Percent.txt'), 600)));
      const t = await trainFromFile(train, { format: 'csv', trainOn: 'all', k: 3 });
      await saveModel(join(d, 'model'), t.detector, t.card);
      return join(d, 'model');
    });
  }
  const bundle = join(dir, 'tiny-model');
  await cp(await tiny, bundle, { recursive: true });
  return bundle;
}

async function bundleSeeds(data: string): Promise<Uint8Array[]> {
  const dir = await scratchDir('bundle-seed');
  try {
    const bundle = await tinyModel(data, dir);
    const json = await readFile(join(bundle, 'model.json'));
    const manifest = await readFile(join(bundle, 'manifest.json'));
    // Byte 0 tells the target which file the rest replaces: 0 = model.json, 1 = manifest.json.
    return [Uint8Array.from([0, ...json]), Uint8Array.from([1, ...manifest])];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const ENDPOINTS = ['/api/predict', '/api/predict/raw', '/api/batch'] as const;

/** One keep-alive connection pool for the web target (node:http: far cheaper per request than fetch). */
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function post(base: string, endpoint: string, body: Uint8Array): Promise<{ status: number; text: string }> {
  const url = new URL(endpoint, base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent,
        headers: {
          'content-type': endpoint === '/api/batch' ? 'application/octet-stream' : 'application/json',
          'content-length': body.length,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(Buffer.from(body.buffer, body.byteOffset, body.length));
  });
}

async function webSeeds(data: string): Promise<Uint8Array[]> {
  const lines = await linesOf(join(data, 'nsl-kdd/KDDTest+.txt'), 40, 200);
  const out: Uint8Array[] = [];
  for (const line of lines.slice(0, 8)) {
    const v = line.split(',');
    const flow: Record<string, string | number> = {};
    KDD_FEATURES.forEach((f, i) => {
      flow[f.name] = f.kind === 'categorical' ? v[i]! : Number(v[i]);
    });
    out.push(Uint8Array.from([0, ...utf8(JSON.stringify({ flow }))]));
    out.push(Uint8Array.from([1, ...utf8(JSON.stringify({ line }))]));
  }
  out.push(Uint8Array.from([2, ...utf8(`${lines.join('\n')}\n`)]));
  const names = [...KDD_FEATURES.map((f) => f.name), 'label', 'difficulty'].join(',');
  out.push(Uint8Array.from([2, ...utf8(`${names}\n${lines.slice(0, 10).join('\n')}\n`)]));
  out.push(Uint8Array.from([2, ...gzipSync(utf8(`${lines.join('\n')}\n`))]));
  return out;
}

/** A response the server should never give to any body: a 5xx, or something that is not JSON. */
export class ServerFault extends Error {
  override name = 'ServerFault';
}

/** Tokens for JSON API bodies beside the text ones. */
const JSON_TOKENS = [
  ...TEXT_TOKENS,
  '"flow":',
  '"line":',
  '"duration":',
  '"protocol_type":',
  '1e999',
  '-1e999',
  '{"__proto__":{"x":1}}',
  '"constructor":{"prototype":{}}',
  '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[',
  '"\\ud800"',
  '"\\u0000"',
];

export const TARGETS: FuzzTarget[] = [
  {
    name: 'pcap',
    calls: 'readPackets(bytes) on pcap (chunk 256 B-1 MiB) + decodePacket per packet',
    seeds: pcapSeeds,
    input: { text: false, grow: true },
    run: readCaptureBytes,
  },
  {
    name: 'pcapng',
    calls: 'readPackets(bytes) on pcapng (chunk 256 B-1 MiB) + decodePacket per packet',
    seeds: pcapngSeeds,
    input: { text: false, grow: true },
    run: readCaptureBytes,
  },
  {
    name: 'pcap-stream',
    calls: 'readPacketStream (a pipe: the input in two chunks split inside it) + decodePacket',
    seeds: captureSeeds,
    input: { text: false, grow: true },
    async run(input) {
      // Two chunks split at a point derived from the input: exercises the stream source's seams.
      const cut = input.length === 0 ? 0 : (input[input.length >> 1]! * 977) % input.length;
      const buf = Buffer.from(input.buffer, input.byteOffset, input.length);
      const counters = {};
      let n = 0;
      for await (const p of readPacketStream(
        Readable.from([buf.subarray(0, cut), buf.subarray(cut)]),
        counters,
        [],
      )) {
        decodePacket(p.linktype, p.data, p.ts, counters);
        n++;
      }
      return n;
    },
  },
  {
    name: 'pcap-file',
    calls: 'readPackets (pcap/pcapng from a file on tmpfs: the file source)',
    seeds: captureSeeds,
    input: { text: false, grow: true },
    async run(input, ctx) {
      const path = await asFile(ctx, input);
      let n = 0;
      for await (const _ of readPackets(path, {}, [])) n++;
      return n;
    },
  },
  {
    name: 'decode',
    calls: 'decodePacket (Ethernet/VLAN/MPLS/PPPoE/SLL/SLL2/raw/null → IPv4/6 → TCP/UDP/ICMP)',
    seeds: frameSeeds,
    input: { text: false },
    async run(input) {
      const { linktype, frame } = decodeInput(input);
      return decodePacket(linktype, frame, 0, {});
    },
  },
  {
    name: 'app-meta',
    calls: 'observePayload + finishApp + appFeatures (DNS over UDP/TCP, TLS ClientHello, HTTP)',
    seeds: appSeeds,
    input: { text: false },
    async run(input) {
      return appRun(input);
    },
  },
  {
    name: 'traffic-pcap',
    calls: "readTraffic(bytes, format 'pcap'): reader + decoder + flow meter + app metadata + windows",
    seeds: captureSeeds,
    input: { text: false },
    async run(input) {
      return (await readTraffic('input', { format: 'pcap', bytes: input })).table.nRows;
    },
  },
  {
    name: 'kdd',
    calls: 'readKdd(bytes) (NSL-KDD / KDD Cup 99 text, plain or gzip; policies quarantine and fail)',
    seeds: kddSeeds,
    input: { text: true },
    async run(input) {
      const policy = (input.length & 1) === 0 ? 'quarantine' : 'fail';
      return (await readKdd('input', { onBadRow: policy, bytes: input })).table.nRows;
    },
  },
  {
    name: 'csv',
    calls: "readTabular(bytes, format 'csv'): delimiter sniffing, quoting, column kinds",
    seeds: csvSeeds,
    input: { text: true },
    async run(input) {
      const policy = (input.length & 1) === 0 ? 'quarantine' : 'fail';
      return (await readTabular('input', { format: 'csv', onBadRow: policy, bytes: input })).table.nRows;
    },
  },
  {
    name: 'zeek',
    calls: "readTraffic(bytes, format 'zeek'): conn.log TSV and JSON, plain or gzip",
    seeds: zeekSeeds,
    input: { text: true },
    async run(input) {
      const policy = (input.length & 1) === 0 ? 'quarantine' : 'fail';
      return (await readTraffic('input', { format: 'zeek', onBadRow: policy, bytes: input })).table.nRows;
    },
  },
  {
    name: 'cic',
    calls: "readTraffic(bytes, format 'cic'): CICFlowMeter CSV",
    seeds: cicSeeds,
    input: { text: true },
    async run(input) {
      const policy = (input.length & 1) === 0 ? 'quarantine' : 'fail';
      return (await readTraffic('input', { format: 'cic', onBadRow: policy, bytes: input })).table.nRows;
    },
  },
  ...(['netflow-v5', 'netflow-v9', 'ipfix', 'sflow'] as const).map(
    (name): FuzzTarget => ({
      name,
      calls: `FlowExportDecoder + Stitcher (ExportFlowSource.push/flush) on ${name} datagrams in sequence (templates first); a swallowed decoder exception = fault`,
      seeds: (data) => exportSeeds(data, name),
      input: { text: false },
      async setup() {
        // The decoders count their own exceptions (the collector must survive): rethrown here.
        process.env.NETANOMALY_DEBUG = '1';
      },
      async run(input) {
        return exportRun(input);
      },
    }),
  ),
  {
    name: 'goflow2',
    calls: "readTraffic(bytes, format 'goflow2'): GoFlow2 JSON lines → records → biflows",
    seeds: goflow2Seeds,
    input: { text: true, tokens: JSON_TOKENS },
    async run(input) {
      const policy = (input.length & 1) === 0 ? 'quarantine' : 'fail';
      return (await readTraffic('input', { format: 'goflow2', onBadRow: policy, bytes: input })).table.nRows;
    },
  },
  {
    name: 'bundle',
    calls:
      'loadModel of a tiny real bundle (model.json or manifest.json replaced, manifest kept true) + scoring 3 rows',
    seeds: bundleSeeds,
    input: { text: true, tokens: JSON_TOKENS },
    async setup(ctx, data) {
      const bundle = await tinyModel(data, ctx.dir);
      const rows = utf8(tinyCsv(await linesOf(join(data, 'nsl-kdd/KDDTest+.txt'), 3)));
      ctx.state = {
        json: await readFile(join(bundle, 'model.json')),
        manifest: JSON.parse(await readFile(join(bundle, 'manifest.json'), 'utf8')),
        onnx: await readFile(join(bundle, 'model.onnx')),
        table: (await readTabular('rows.csv', { format: 'csv', bytes: rows })).table,
        dir: join(ctx.dir, 'm'),
      };
      await mkdir(ctx.state.dir);
      await writeFile(join(ctx.state.dir, 'model.onnx'), ctx.state.onnx);
    },
    async run(input, ctx) {
      const s = ctx.state;
      const body = input.subarray(1);
      if ((input[0] ?? 0) % 2 === 0) {
        const manifest = structuredClone(s.manifest);
        manifest.files['model.json'] = {
          sha256: createHash('sha256').update(body).digest('hex'),
          bytes: body.length,
        };
        await writeFile(join(s.dir, 'model.json'), body);
        await writeFile(join(s.dir, 'manifest.json'), JSON.stringify(manifest));
      } else {
        await writeFile(join(s.dir, 'model.json'), s.json);
        await writeFile(join(s.dir, 'manifest.json'), body);
      }
      const model = await loadModel(s.dir);
      return model.detector.scoreSamples(s.table);
    },
  },
  {
    name: 'web',
    calls: 'POST /api/predict, /api/predict/raw, /api/batch on a real server (127.0.0.1); 5xx = fault',
    seeds: webSeeds,
    input: { text: true, tokens: JSON_TOKENS },
    async setup(ctx, data) {
      const bundle = await smallModel(data, ctx.dir);
      const app: AppServer = await startApp({ modelDir: bundle, port: 0, log: () => {}, rateLimit: 0 });
      ctx.state = app;
    },
    async run(input, ctx) {
      const app = ctx.state as AppServer;
      const endpoint = ENDPOINTS[(input[0] ?? 0) % ENDPOINTS.length]!;
      const body = input.subarray(1);
      const res = await post(app.url, endpoint, body);
      const text = res.text;
      if (res.status >= 500) throw new ServerFault(`${endpoint} → ${res.status}: ${text.slice(0, 300)}`);
      try {
        JSON.parse(text);
      } catch {
        throw new ServerFault(
          `${endpoint} → ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`,
        );
      }
      // A 4xx with a JSON error is the server refusing the body: the web's form of a project error.
      if (res.status >= 400) throw new InputError(`${endpoint} → ${res.status}: ${text.slice(0, 200)}`);
      return res.status;
    },
    async teardown(ctx) {
      await (ctx.state as AppServer | undefined)?.close();
    },
  },
];

export function target(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target '${name}' (${TARGETS.map((x) => x.name).join(', ')})`);
  return t;
}

export { fc };
