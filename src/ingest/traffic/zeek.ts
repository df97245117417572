/**
 * Zeek conn.log reader: TSV (the `#separator`, `#set_separator`, `#empty_field`, `#unset_field`,
 * `#path`, `#fields`, `#types` headers are honoured; a header repeated mid-file is re-read and the
 * following rows are mapped by name; `#close` and a missing final newline are fine) and JSON lines
 * (dotted keys such as "id.orig_h" or nested objects; `ts` epoch seconds or ISO 8601; an omitted
 * field is unset). gzip'd files are detected by magic.
 *
 * Unset numeric values become NaN and are counted (`unset_<field>`), never 0. A row whose field
 * count differs from `#fields`, invalid JSON, or a non-numeric value in a numeric field is a bad
 * row handled by the report's policy. `#path` other than conn is fatal.
 *
 * With a `ZeekAppIndex` (dns.log / ssl.log / http.log beside conn.log, zeek-app.ts) every flow's
 * application fields are filled from the record with its uid.
 */
import { ParseError } from '../../errors.ts';
import { badRow, parseNumber, readLines, type TrafficReport, warnOnce } from './common.ts';
import { communityId } from './community-id.ts';
import { bump } from './pcap.ts';
import { emptyFeatures, type Flow, portClass, protocolNumber } from './schema.ts';
import type { ZeekAppIndex } from './zeek-app.ts';

export const ZEEK_CONN_STATES: ReadonlySet<string> = new Set([
  'S0',
  'S1',
  'SF',
  'REJ',
  'S2',
  'S3',
  'RSTO',
  'RSTR',
  'RSTOS0',
  'RSTRH',
  'SH',
  'SHR',
  'OTH',
]);

/** Decode Zeek's \xHH escapes. */
export function unescapeZeek(s: string): string {
  return s.includes('\\x')
    ? s.replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)))
    : s;
}

type Getter = (name: string) => string | number | undefined;

const NUMERIC_ZEEK = [
  'duration',
  'orig_bytes',
  'resp_bytes',
  'orig_pkts',
  'resp_pkts',
  'orig_ip_bytes',
  'resp_ip_bytes',
];

/** Map one conn record (by Zeek field name) to a canonical flow; null after a bad row. */
function toFlow(get: Getter, report: TrafficReport, line: number, raw: string): Flow | null {
  const counters = report.counters;
  const num = (name: string): number | null => {
    const v = get(name);
    if (v === undefined) {
      bump(counters, `unset_${name}`);
      return Number.NaN;
    }
    if (typeof v === 'number') return v;
    const n = parseNumber(v);
    if (n === null) {
      badRow(report, line, `non-numeric value in ${name}`, raw);
      return null;
    }
    if (Number.isNaN(n)) bump(counters, `unset_${name}`);
    return n;
  };
  const str = (name: string): string => {
    const v = get(name);
    return v === undefined ? '' : String(v);
  };
  // timestamp: epoch seconds or ISO 8601
  let ts: number;
  const rawTs = get('ts');
  if (typeof rawTs === 'number') ts = rawTs;
  else if (rawTs === undefined) ts = Number.NaN;
  else {
    const n = parseNumber(rawTs);
    ts = n !== null ? n : Date.parse(rawTs) / 1000;
    if (Number.isNaN(ts)) {
      badRow(report, line, 'unparseable ts', raw);
      return null;
    }
  }
  const vals: Record<string, number> = {};
  for (const name of NUMERIC_ZEEK) {
    const v = num(name);
    if (v === null) return null;
    vals[name] = v;
  }
  const sport = num('id.orig_p');
  const dport = num('id.resp_p');
  if (sport === null || dport === null) return null;
  const protocol = str('proto').toLowerCase() || 'unknown';
  let state = str('conn_state');
  if (!ZEEK_CONN_STATES.has(state)) {
    bump(counters, 'unknown_conn_state');
    if (state) warnOnce(report, `${report.file}: unknown conn_state "${state}" encoded as "unknown"`);
    state = 'unknown';
  }
  const f = emptyFeatures();
  const duration = vals.duration!;
  f.duration = duration;
  f.fwd_packets = vals.orig_pkts!;
  f.bwd_packets = vals.resp_pkts!;
  f.fwd_bytes = vals.orig_ip_bytes!;
  f.bwd_bytes = vals.resp_ip_bytes!;
  f.fwd_payload_bytes = vals.orig_bytes!;
  f.bwd_payload_bytes = vals.resp_bytes!;
  const pkts = f.fwd_packets + f.bwd_packets;
  const pay = f.fwd_payload_bytes + f.bwd_payload_bytes;
  f.flow_bytes_per_s = duration === 0 ? 0 : pay / duration;
  f.flow_packets_per_s = duration === 0 ? 0 : pkts / duration;
  f.pkt_len_mean = pkts === 0 ? 0 : pay / pkts;
  f.fwd_pkt_len_mean = f.fwd_packets === 0 ? 0 : f.fwd_payload_bytes / f.fwd_packets;
  f.bwd_pkt_len_mean = f.bwd_packets === 0 ? 0 : f.bwd_payload_bytes / f.bwd_packets;
  const history = get('history');
  if (protocol !== 'tcp') {
    for (const k of ['syn', 'synack', 'fin', 'rst', 'psh', 'ack', 'urg', 'ece', 'cwr']) f[`${k}_count`] = 0;
  } else if (history !== undefined) {
    const h = String(history);
    const count = (re: RegExp) => (h.match(re) ?? []).length;
    f.syn_count = count(/[SsHh]/g);
    f.synack_count = count(/[Hh]/g);
    f.fin_count = count(/[Ff]/g);
    f.rst_count = count(/[Rr]/g);
  } else {
    bump(counters, 'unset_history');
  }
  const src = str('id.orig_h');
  const dst = str('id.resp_h');
  const pnum = protocolNumber(protocol);
  let cid = str('community_id');
  if (!cid && src && dst && Number.isFinite(pnum)) cid = communityId(src, dst, pnum, sport, dport);
  return {
    src_ip: src,
    dst_ip: dst,
    src_port: sport,
    dst_port: dport,
    protocol,
    start_time: ts,
    community_id: cid,
    conn_state: state,
    port_class: portClass(protocol, dport),
    f,
  };
}

function flatten(obj: Record<string, unknown>, prefix: string, out: Map<string, string | number>): void {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v === null || v === undefined) continue;
    if (typeof v === 'object' && !Array.isArray(v)) flatten(v as Record<string, unknown>, key, out);
    else if (typeof v === 'number' || typeof v === 'string') out.set(key, v);
    else out.set(key, Array.isArray(v) ? v.join(',') : String(v));
  }
}

/** Flows of a Zeek conn.log (TSV or JSON lines, plain or gzip'd), in file order. */
export async function* zeekFlows(
  path: string,
  report: TrafficReport,
  app: ZeekAppIndex | null = null,
  bytes?: Uint8Array,
): AsyncGenerator<Flow, void, undefined> {
  let sep = '\t';
  let setSep = ',';
  let empty = '(empty)';
  let unset = '-';
  let fields: string[] | null = null;
  let index = new Map<string, number>();
  let lineNo = 0;
  let mode: 'tsv' | 'json' | null = null;
  for await (const line of readLines(path, bytes)) {
    lineNo++;
    if (line === '' || line.trim() === '') continue;
    if (mode === null) mode = line.trimStart().startsWith('{') ? 'json' : 'tsv';
    if (line.startsWith('#')) {
      if (line.startsWith('#separator')) {
        sep = unescapeZeek(line.slice('#separator'.length).replace(/^[ \t]/, ''));
        if (sep === '') throw new ParseError(`${path}:${lineNo}: empty #separator`);
        continue;
      }
      const parts = line.split(sep);
      const key = parts[0]!;
      const rest = parts.slice(1);
      if (key === '#set_separator') setSep = unescapeZeek(rest[0] ?? ',');
      else if (key === '#empty_field') empty = unescapeZeek(rest[0] ?? '(empty)');
      else if (key === '#unset_field') unset = unescapeZeek(rest[0] ?? '-');
      else if (key === '#path') {
        const p = rest[0] ?? '';
        if (p !== 'conn') throw new ParseError(`${path}: expected #path conn, got ${p}`);
      } else if (key === '#fields') {
        if (fields !== null) bump(report.counters, 'zeek_headers_reread');
        fields = rest;
        index = new Map(rest.map((n, i) => [n, i]));
        for (const need of ['ts', 'id.orig_h', 'id.resp_h', 'id.resp_p', 'proto']) {
          if (!index.has(need)) warnOnce(report, `${path}:${lineNo}: #fields lacks ${need}`);
        }
      }
      // #types, #open, #close and comments need nothing
      void setSep;
      continue;
    }
    report.rowsRead++;
    let get: Getter;
    if (mode === 'json') {
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch {
        badRow(report, lineNo, 'invalid JSON', line);
        continue;
      }
      if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
        badRow(report, lineNo, 'JSON line is not an object', line);
        continue;
      }
      const m = new Map<string, string | number>();
      flatten(obj as Record<string, unknown>, '', m);
      const p = m.get('_path');
      if (p !== undefined && p !== 'conn') throw new ParseError(`${path}: expected #path conn, got ${p}`);
      get = (name) => m.get(name);
    } else {
      if (fields === null) {
        badRow(report, lineNo, 'data row before #fields', line);
        continue;
      }
      const vals = line.split(sep);
      if (vals.length !== fields.length) {
        badRow(report, lineNo, `field count ${vals.length} != ${fields.length}`, line);
        continue;
      }
      get = (name) => {
        const i = index.get(name);
        if (i === undefined) return undefined;
        const v = vals[i]!;
        if (v === unset) return undefined;
        if (v === empty) return '';
        return unescapeZeek(v);
      };
    }
    const flow = toFlow(get, report, lineNo, line);
    if (!flow) continue;
    if (app) {
      const uid = get('uid');
      app.apply(flow, typeof uid === 'string' && uid !== '' ? uid : undefined);
    }
    report.rowsKept++;
    yield flow;
  }
  report.counters.zeek_lines = lineNo;
}
