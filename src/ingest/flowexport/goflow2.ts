/**
 * GoFlow2's JSON lines (`goflow2 -format=json`): one unidirectional flow per line, v2 names
 * (`time_flow_start_ns`, `src_addr`, `proto: "TCP"`, `sampler_address`, ...) or v1 CamelCase
 * (`TimeFlowStart`, `SrcAddr`, `Proto: 6`, `SamplerAddress`, ...). GoFlow2 reports raw sampled
 * counts beside `sampling_rate`; we scale them (as for our own decoders). Lines go through the same
 * stitcher as the binary exports. A line that is not a flow is a bad row (report policy).
 */
import { badRow, readLines, type TrafficReport } from '../traffic/common.ts';
import { protocolNumber } from '../traffic/schema.ts';
import { type ExportFlow, Stitcher, type StitchOptions } from './biflow.ts';
import { type ExportRecord, emptyRecord } from './record.ts';

export function looksLikeGoflow2(line: string): boolean {
  const t = line.trimStart();
  return t.startsWith('{') && /"(sampler_address|SamplerAddress|time_flow_start_ns)"\s*:/.test(t);
}

function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return Number.NaN;
}

function pick(o: Record<string, unknown>, ...keys: string[]): unknown {
  for (const k of keys) if (o[k] !== undefined && o[k] !== null) return o[k];
  return undefined;
}

/** One GoFlow2 JSON object → an export record, or a reason it is not one. */
export function goflow2Record(o: Record<string, unknown>): ExportRecord | string {
  const src = pick(o, 'src_addr', 'SrcAddr');
  const dst = pick(o, 'dst_addr', 'DstAddr');
  if (typeof src !== 'string' || typeof dst !== 'string' || !src || !dst)
    return 'goflow2: no src_addr/dst_addr';
  const type = String(pick(o, 'type', 'Type') ?? '');
  const sampler = String(pick(o, 'sampler_address', 'SamplerAddress') ?? '');
  const nsRecv = num(pick(o, 'time_received_ns'));
  const arrival = Number.isFinite(nsRecv) ? nsRecv / 1e9 : num(pick(o, 'time_received', 'TimeReceived'));
  const r = emptyRecord(
    sampler,
    0,
    type === 'SFLOW_5' ? 'sflow' : 'goflow2',
    Number.isFinite(arrival) ? arrival : 0,
  );
  r.src = src;
  r.dst = dst;
  const p = pick(o, 'proto', 'Proto');
  r.proto =
    typeof p === 'string' && !/^\d+$/.test(p) ? protocolNumber(p === 'ICMPv6' ? 'icmpv6' : p) : num(p);
  if (Number.isNaN(r.proto)) return `goflow2: unknown proto ${JSON.stringify(p)}`;
  r.sport = num(pick(o, 'src_port', 'SrcPort'));
  r.dport = num(pick(o, 'dst_port', 'DstPort'));
  if (r.proto === 1 || r.proto === 58) {
    r.sport = num(pick(o, 'icmp_type', 'IcmpType'));
    r.dport = num(pick(o, 'icmp_code', 'IcmpCode'));
  }
  const startNs = num(pick(o, 'time_flow_start_ns'));
  const endNs = num(pick(o, 'time_flow_end_ns'));
  r.start =
    Number.isFinite(startNs) && startNs > 0
      ? startNs / 1e9
      : num(pick(o, 'TimeFlowStart', 'time_flow_start'));
  r.end = Number.isFinite(endNs) && endNs > 0 ? endNs / 1e9 : num(pick(o, 'TimeFlowEnd', 'time_flow_end'));
  r.packets = num(pick(o, 'packets', 'Packets'));
  r.bytes = num(pick(o, 'bytes', 'Bytes'));
  r.flags = num(pick(o, 'tcp_flags', 'TCPFlags'));
  r.inIf = num(pick(o, 'in_if', 'InIf'));
  r.outIf = num(pick(o, 'out_if', 'OutIf'));
  const rate = num(pick(o, 'sampling_rate', 'SamplingRate'));
  if (rate > 1) {
    r.sampling = rate;
    r.packets *= rate;
    r.bytes *= rate;
  }
  return r;
}

export async function* goflow2Flows(
  path: string,
  report: TrafficReport,
  opts: { stitch?: StitchOptions; bytes?: Uint8Array } = {},
): AsyncGenerator<ExportFlow, void, undefined> {
  const st = new Stitcher(report.counters, opts.stitch);
  let line = 0;
  for await (const text of readLines(path, opts.bytes)) {
    line++;
    if (text.trim() === '') continue;
    report.rowsRead++;
    let o: unknown;
    try {
      o = JSON.parse(text);
    } catch {
      badRow(report, line, 'goflow2: not JSON', text);
      continue;
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) {
      badRow(report, line, 'goflow2: not a JSON object', text);
      continue;
    }
    const r = goflow2Record(o as Record<string, unknown>);
    if (typeof r === 'string') {
      badRow(report, line, r, text);
      continue;
    }
    report.rowsKept++;
    yield* st.push(r);
  }
  yield* st.flush();
}
