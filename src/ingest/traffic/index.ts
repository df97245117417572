/**
 * One entry point for real traffic: a pcap/pcapng capture, a Zeek conn.log (TSV or JSON, maybe
 * gzip'd) or a CICFlowMeter CSV becomes canonical flows (schema.ts).
 *
 * - `readTraffic(path, opts)` → a Table of features (numeric + categorical text columns), the
 *   identity columns beside it, labels when the input has them, and a report with counters.
 *   Rows are sorted by start_time; window features are computed in batch over that order.
 * - `iterateFlows(path, opts)` → the same flows one at a time (streaming), window features computed
 *   as they arrive (pcap: in flow-expiry order), for the watcher.
 */
import { stat } from 'node:fs/promises';
import { InputError, ParseError } from '../../errors.ts';
import { goflow2Flows, looksLikeGoflow2 } from '../flowexport/goflow2.ts';
import { netflowFlows } from '../flowexport/index.ts';
import type { BadRowPolicy, Table } from '../table.ts';
import { cicFlows, looksLikeCic } from './cic.ts';
import { emptyTrafficReport, readHead, type TrafficFormat, type TrafficReport, warnOnce } from './common.ts';
import { decodeInto, newDecodedPacket } from './decode.ts';
import { FlowMeter, type FlowMeterOptions } from './flow-meter.ts';
import { readPacketBatches, sniffCapture } from './pcap.ts';
import { CATEGORICAL_FEATURES, categoricalOf, type Flow, NUMERIC_FEATURES } from './schema.ts';
import { applyWindows, type WindowOptions, WindowState } from './windows.ts';
import { zeekFlows } from './zeek.ts';
import { type ZeekAppLogs, zeekAppIndexFor } from './zeek-app.ts';

export type { TrafficFormat, TrafficReport } from './common.ts';
export type { Flow } from './schema.ts';

export interface TrafficOptions {
  format?: TrafficFormat | 'auto';
  /** Bad rows (Zeek/CIC lines): fail, skip or quarantine (default quarantine). Packets are always counted, never fatal. */
  onBadRow?: BadRowPolicy;
  meter?: FlowMeterOptions;
  windows?: WindowOptions;
  /**
   * Zeek conn.log: join dns.log / ssl.log / http.log by uid (zeek-app.ts). Default: the logs Zeek
   * wrote beside it (same directory, `conn` → `dns`/`ssl`/`http` in the name); false: none.
   */
  zeekApp?: boolean | ZeekAppLogs;
  /** For iterateFlows: a report filled in place while flows are produced (live counters). */
  report?: TrafficReport;
  /** The content in memory instead of read from `path` (which then only names it in messages). */
  bytes?: Uint8Array;
}

export interface IdentityColumns {
  src_ip: string[];
  dst_ip: string[];
  src_port: Float64Array;
  dst_port: Float64Array;
  protocol: string[];
  start_time: Float64Array;
  community_id: string[];
}

export interface TrafficResult {
  table: Table;
  identity: IdentityColumns;
  /** Ground truth when the input carries it (CIC `Label`), else null. Never in the table. */
  labels: string[] | null;
  report: TrafficReport;
}

/** Guess the format from the content: capture magic, Zeek headers/JSON, CIC CSV header. */
export async function sniffFormat(path: string, bytes?: Uint8Array): Promise<TrafficFormat> {
  const { head, raw } = await readHead(path, 8192, bytes);
  if (sniffCapture(raw) !== null) return 'pcap';
  const text = head.toString('utf8').replace(/^\uFEFF/, '');
  const firstLine = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  if (looksLikeGoflow2(firstLine)) return 'goflow2';
  if (firstLine.startsWith('#separator') || /^#(fields|path)\b/.test(firstLine)) return 'zeek';
  if (firstLine.trimStart().startsWith('{') && /"id\.orig_h"|"id"\s*:\s*\{/.test(firstLine)) return 'zeek';
  if (looksLikeCic(firstLine)) return 'cic';
  if (raw.length < 4) {
    throw new ParseError(
      `${path}: truncated dump file; tried to read 4 file header bytes, only got ${raw.length}`,
    );
  }
  const magic = raw.readUInt32BE(0).toString(16).padStart(8, '0');
  throw new ParseError(`${path}: unknown file format (magic 0x${magic})`);
}

async function* pcapFlows(
  path: string,
  report: TrafficReport,
  meterOpts?: FlowMeterOptions,
  bytes?: Uint8Array,
) {
  const c = report.counters;
  const meter = new FlowMeter(c, meterOpts);
  // By batches of packets, decoded in place in the read buffer into one reused object: no
  // per-packet promise, object or view.
  const d = newDecodedPacket();
  const ended: Flow[] = [];
  for await (const b of readPacketBatches(path, c, report.warnings, { bytes })) {
    const buf = b.buf;
    for (let i = 0; i < b.count; i++) {
      report.rowsRead++;
      const start = b.start[i]!;
      if (!decodeInto(b.linktype[i]!, buf, b.ts[i]!, c, d, start, start + b.caplen[i]!)) {
        report.rowsSkipped++;
        continue;
      }
      report.rowsKept++;
      const out = meter.add(d);
      for (let k = 0; k < out.length; k++) ended.push(out[k]!);
    }
    if (ended.length > 0) {
      yield* ended;
      ended.length = 0;
    }
  }
  yield* meter.flush();
  if ((c.flows ?? 0) === 0) warnOnce(report, `${path}: 0 flows extracted (${c.packets ?? 0} packets read)`);
}

async function* rawFlows(path: string, format: TrafficFormat, report: TrafficReport, opts: TrafficOptions) {
  const bytes = opts.bytes;
  if (format === 'pcap') yield* pcapFlows(path, report, opts.meter, bytes);
  else if (format === 'zeek')
    yield* zeekFlows(path, report, bytes ? null : await zeekAppIndexFor(path, opts.zeekApp, report), bytes);
  else if (format === 'netflow') yield* netflowFlows(path, report, { bytes });
  else if (format === 'goflow2') yield* goflow2Flows(path, report, { bytes });
  else yield* cicFlows(path, report, bytes);
}

async function resolve(
  path: string,
  opts: TrafficOptions,
): Promise<{ format: TrafficFormat; report: TrafficReport }> {
  if (!opts.bytes) {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(path);
    } catch {
      throw new InputError(`${path}: no such file`);
    }
    if (!st.isFile()) throw new InputError(`${path}: not a regular file`);
  }
  const format = !opts.format || opts.format === 'auto' ? await sniffFormat(path, opts.bytes) : opts.format;
  const report = opts.report ?? emptyTrafficReport(path, opts.onBadRow ?? 'quarantine');
  report.format = format;
  return { format, report };
}

/** Streaming form: canonical flows one at a time, window features computed as they arrive. */
export async function* iterateFlows(
  path: string,
  opts: TrafficOptions = {},
): AsyncGenerator<Flow, TrafficReport> {
  const { format, report } = await resolve(path, opts);
  const w = new WindowState(report.counters, opts.windows);
  for await (const flow of rawFlows(path, format, report, opts)) {
    w.push(flow);
    yield flow;
  }
  return report;
}

/** Batch form: every flow of the file in a Table (sorted by start_time), identity and labels beside it. */
export async function readTraffic(path: string, opts: TrafficOptions = {}): Promise<TrafficResult> {
  const { format, report } = await resolve(path, opts);
  const flows: Flow[] = [];
  for await (const flow of rawFlows(path, format, report, opts)) flows.push(flow);
  const sorted = applyWindows(flows, opts.windows, report.counters);
  const { table, identity, labels } = flowsToTable(sorted);
  return { table, identity, labels, report };
}

/**
 * `cols[j][i] = f[NUMERIC_FEATURES[j]] ?? NaN` for every feature j, as one generated function of
 * named property reads: the meter's flows share one shape, so each read is a monomorphic inline
 * cache hit (a keyed read per feature and flow, or Object.keys/values per flow, costs several
 * times more); flows of any other shape read the same values, only slower.
 */
const readFeatures = new Function(
  'f',
  'cols',
  'i',
  `let v;\n${NUMERIC_FEATURES.map((name, j) => `v = f[${JSON.stringify(name)}]; cols[${j}][i] = v ?? NaN;`).join('\n')}`,
) as (f: Record<string, number>, cols: Float64Array[], i: number) => void;

/** Columnar form of canonical flows (row order kept). */
export function flowsToTable(flows: readonly Flow[]): {
  table: Table;
  identity: IdentityColumns;
  labels: string[] | null;
} {
  const n = flows.length;
  const numeric: Record<string, Float64Array> = {};
  const cols = NUMERIC_FEATURES.map(() => new Float64Array(n));
  NUMERIC_FEATURES.forEach((name, j) => {
    numeric[name] = cols[j]!;
  });
  for (let i = 0; i < n; i++) readFeatures(flows[i]!.f, cols, i);
  const text: Record<string, string[]> = {};
  for (const name of CATEGORICAL_FEATURES) text[name] = flows.map((f) => categoricalOf(f, name));
  const identity: IdentityColumns = {
    src_ip: flows.map((f) => f.src_ip),
    dst_ip: flows.map((f) => f.dst_ip),
    src_port: Float64Array.from(flows, (f) => f.src_port),
    dst_port: Float64Array.from(flows, (f) => f.dst_port),
    protocol: flows.map((f) => f.protocol),
    start_time: Float64Array.from(flows, (f) => f.start_time),
    community_id: flows.map((f) => f.community_id),
  };
  const labels = flows.some((f) => f.label !== undefined) ? flows.map((f) => f.label ?? '') : null;
  return { table: { nRows: n, numeric, text }, identity, labels };
}

/** Identity columns of some rows, in the given order. */
export function takeIdentity(id: IdentityColumns, rows: ArrayLike<number>): IdentityColumns {
  const pickS = (a: string[]) => Array.from(rows as ArrayLike<number>, (i) => a[i]!);
  const pickF = (a: Float64Array) => Float64Array.from(rows as ArrayLike<number>, (i) => a[i]!);
  return {
    src_ip: pickS(id.src_ip),
    dst_ip: pickS(id.dst_ip),
    src_port: pickF(id.src_port),
    dst_port: pickF(id.dst_port),
    protocol: pickS(id.protocol),
    start_time: pickF(id.start_time),
    community_id: pickS(id.community_id),
  };
}
