/**
 * CICFlowMeter CSV reader. Headers are matched through an alias map after normalisation
 * (trim, lower case, drop everything but letters and digits), so the Java tool's names
 * ("Total Fwd Packet"), CIC-IDS2017's (" Total Fwd Packets", with leading spaces), CSE-CIC-IDS2018's
 * ("Tot Fwd Pkts", "Flow Byts/s") and the Python port's ("tot_fwd_pkts", "flow_byts_s") land in the
 * same canonical column. The first column matching an alias wins (duplicated headers are
 * deterministic). Units: every duration and IAT is µs in CIC and becomes seconds here.
 *
 * Rate rule (Flow Bytes/s, Flow Packets/s): a value of Infinity, NaN or empty becomes 0 when the
 * flow duration is 0, otherwise NaN (missing, counted `cic_rate_missing`). Other NaN/empty numeric
 * values are NaN and counted (`missing_<column>`); text in a numeric column is a bad row.
 * `Label` is returned as the flow's label, never a feature. A header repeated mid-file is a bad
 * row ("repeated header").
 */
import { SchemaError } from '../../errors.ts';
import { badRow, parseNumber, readLines, type TrafficReport, warnOnce } from './common.ts';
import { communityId } from './community-id.ts';
import { bump } from './pcap.ts';
import { emptyFeatures, type Flow, portClass, protocolName } from './schema.ts';

export function normalizeHeader(h: string): string {
  return h
    .replace(/^\uFEFF/, '')
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
}

/** canonical name → accepted CIC spellings (shown normalised). µs columns are flagged. */
export const CIC_ALIASES: Readonly<Record<string, readonly string[]>> = {
  src_ip: ['srcip', 'sourceip'],
  src_port: ['srcport', 'sourceport'],
  dst_ip: ['dstip', 'destinationip'],
  dst_port: ['dstport', 'destinationport'],
  protocol: ['protocol'],
  timestamp: ['timestamp'],
  label: ['label'],
  duration: ['flowduration'],
  fwd_packets: ['totalfwdpackets', 'totalfwdpacket', 'totfwdpkts'],
  bwd_packets: ['totalbackwardpackets', 'totalbwdpackets', 'totbwdpkts'],
  fwd_payload_bytes: ['totallengthoffwdpackets', 'totallengthoffwdpacket', 'totlenfwdpkts'],
  bwd_payload_bytes: ['totallengthofbwdpackets', 'totallengthofbwdpacket', 'totlenbwdpkts'],
  flow_bytes_per_s: ['flowbytess', 'flowbytss'],
  flow_packets_per_s: ['flowpacketss', 'flowpktss'],
  pkt_len_min: ['packetlengthmin', 'minpacketlength', 'pktlenmin'],
  pkt_len_max: ['packetlengthmax', 'maxpacketlength', 'pktlenmax'],
  pkt_len_mean: ['packetlengthmean', 'pktlenmean'],
  pkt_len_std: ['packetlengthstd', 'pktlenstd'],
  fwd_pkt_len_mean: ['fwdpacketlengthmean', 'fwdpktlenmean'],
  fwd_pkt_len_max: ['fwdpacketlengthmax', 'fwdpktlenmax'],
  bwd_pkt_len_mean: ['bwdpacketlengthmean', 'bwdpktlenmean'],
  bwd_pkt_len_max: ['bwdpacketlengthmax', 'bwdpktlenmax'],
  flow_iat_mean: ['flowiatmean'],
  flow_iat_std: ['flowiatstd'],
  flow_iat_max: ['flowiatmax'],
  flow_iat_min: ['flowiatmin'],
  fwd_iat_mean: ['fwdiatmean'],
  fwd_iat_std: ['fwdiatstd'],
  fwd_iat_max: ['fwdiatmax'],
  fwd_iat_min: ['fwdiatmin'],
  bwd_iat_mean: ['bwdiatmean'],
  bwd_iat_std: ['bwdiatstd'],
  bwd_iat_max: ['bwdiatmax'],
  bwd_iat_min: ['bwdiatmin'],
  syn_count: ['synflagcount', 'synflagcnt'],
  fin_count: ['finflagcount', 'finflagcnt'],
  rst_count: ['rstflagcount', 'rstflagcnt'],
  psh_count: ['pshflagcount', 'pshflagcnt'],
  ack_count: ['ackflagcount', 'ackflagcnt'],
  urg_count: ['urgflagcount', 'urgflagcnt'],
  ece_count: ['eceflagcount', 'eceflagcnt'],
  // "CWE Flag Count" is CIC-IDS2017/2018's spelling of CWR (the Python port's cwe_flag_count is a copy of fwd_urg_flags).
  cwr_count: ['cwrflagcount', 'cwrflagcnt', 'cweflagcount'],
};
const MICROSECONDS = new Set([
  'duration',
  ...['flow', 'fwd', 'bwd'].flatMap((d) => ['mean', 'std', 'max', 'min'].map((s) => `${d}_iat_${s}`)),
]);
const RATES = new Set(['flow_bytes_per_s', 'flow_packets_per_s']);
const REQUIRED = ['duration', 'fwd_packets', 'bwd_packets'];
const TEXT_COLUMNS = new Set(['src_ip', 'dst_ip', 'timestamp', 'label', 'protocol']);

/** Does a header line look like a CICFlowMeter CSV (at least 3 known columns incl. duration)? */
export function looksLikeCic(headerLine: string): boolean {
  const names = splitCsv(headerLine).map(normalizeHeader);
  const known = new Set(Object.values(CIC_ALIASES).flat());
  return names.filter((n) => known.has(n)).length >= 3 && names.includes('flowduration');
}

/** Split one CSV line (double quotes honoured, no embedded newlines). */
export function splitCsv(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (q) {
      if (c === '"') {
        if (line[i + 1] === '"') {
          cur += '"';
          i++;
        } else q = false;
      } else cur += c;
    } else if (c === '"') q = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/**
 * CIC timestamps: day-first "d/m/yyyy h:mm[:ss][ AM|PM]" (the CIC datasets), ISO 8601, or epoch
 * seconds; all read as UTC. NaN when none fits.
 */
export function parseCicTimestamp(s: string): number {
  const t = s.trim();
  if (t === '') return Number.NaN;
  if (/^\d+(\.\d+)?$/.test(t)) {
    const v = Number(t);
    return v > 1e11 ? v / 1000 : v;
  }
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})[ T](\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?\s*(AM|PM)?$/i.exec(t);
  if (m) {
    let h = Number(m[4]);
    const ampm = m[7]?.toUpperCase();
    if (ampm === 'PM' && h < 12) h += 12;
    if (ampm === 'AM' && h === 12) h = 0;
    const sec = Number(m[6] ?? 0);
    return Date.UTC(Number(m[3]), Number(m[2]) - 1, Number(m[1]), h, Number(m[5]), 0) / 1000 + sec;
  }
  const iso = /[zZ]|[+-]\d{2}:?\d{2}$/.test(t) ? t : `${t.replace(' ', 'T')}Z`;
  const v = Date.parse(iso);
  return Number.isNaN(v) ? Number.NaN : v / 1000;
}

/** Zeek-like conn_state approximated from CIC's undirected flag counts (documented as approximate). */
export function approxConnState(protocol: string, f: Record<string, number>): string {
  const bwd = f.bwd_packets!;
  if (protocol !== 'tcp') return Number.isNaN(bwd) ? 'unknown' : bwd > 0 ? 'SF' : 'S0';
  const syn = f.syn_count!;
  // absent RST/FIN columns count as none seen; without SYN or packet counts nothing can be said
  const rst = Number.isNaN(f.rst_count!) ? 0 : f.rst_count!;
  const fin = Number.isNaN(f.fin_count!) ? 0 : f.fin_count!;
  if (Number.isNaN(bwd) || Number.isNaN(syn)) return 'unknown';
  if (syn > 0 && bwd === 0) return rst > 0 ? 'RSTOS0' : 'S0';
  if (syn > 0 && f.fwd_packets === 1 && rst > 0) return 'REJ';
  if (rst > 0) return syn > 0 ? 'RSTO' : 'OTH';
  if (fin >= 2) return syn > 0 ? 'SF' : 'OTH';
  return syn > 0 ? 'S1' : 'OTH';
}

/** Flows of a CICFlowMeter CSV (plain or gzip'd), in file order. */
export async function* cicFlows(
  path: string,
  report: TrafficReport,
  bytes?: Uint8Array,
): AsyncGenerator<Flow, void, undefined> {
  let header: string | null = null;
  let width = 0;
  const col = new Map<string, number>();
  let lineNo = 0;
  for await (const line of readLines(path, bytes)) {
    lineNo++;
    if (line.trim() === '') continue;
    if (header === null) {
      header = line;
      const names = splitCsv(line).map(normalizeHeader);
      width = names.length;
      for (const [canon, aliases] of Object.entries(CIC_ALIASES)) {
        const i = names.findIndex((n) => aliases.includes(n));
        if (i >= 0) col.set(canon, i);
      }
      for (const r of REQUIRED) {
        if (!col.has(r)) {
          throw new SchemaError(
            `${path}: required column ${r} missing (accepted headers, normalised: ${CIC_ALIASES[r]!.join(', ')})`,
          );
        }
      }
      const unused = splitCsv(line).filter((_, i) => ![...col.values()].includes(i));
      if (unused.length) report.counters.cic_columns_ignored = unused.length;
      const missing = Object.keys(CIC_ALIASES).filter((c) => !col.has(c));
      if (missing.length) warnOnce(report, `${path}: columns absent, left missing: ${missing.join(', ')}`);
      continue;
    }
    report.rowsRead++;
    if (line === header || normalizeHeader(splitCsv(line)[col.get('duration')!] ?? '') === 'flowduration') {
      badRow(report, lineNo, 'repeated header', line);
      continue;
    }
    const vals = splitCsv(line);
    if (vals.length !== width) {
      badRow(report, lineNo, `field count ${vals.length} != ${width}`, line);
      continue;
    }
    const text = (c: string) => {
      const i = col.get(c);
      return i === undefined ? '' : vals[i]!.trim();
    };
    const f = emptyFeatures();
    let bad = false;
    const rates: string[] = [];
    for (const [canon, i] of col) {
      if (TEXT_COLUMNS.has(canon)) continue;
      if (canon === 'src_port' || canon === 'dst_port') continue;
      const raw = vals[i]!;
      if (RATES.has(canon)) {
        rates.push(canon);
      }
      const v = parseNumber(raw);
      if (v === null) {
        badRow(report, lineNo, `non-numeric value in ${canon}`, line);
        bad = true;
        break;
      }
      if (RATES.has(canon)) {
        f[canon] = v;
        continue;
      }
      if (!Number.isFinite(v)) {
        bump(report.counters, `missing_${canon}`);
        f[canon] = Number.NaN;
        continue;
      }
      f[canon] = MICROSECONDS.has(canon) ? v / 1e6 : v;
    }
    if (bad) continue;
    for (const r of rates) {
      if (!Number.isFinite(f[r]!)) {
        if (f.duration === 0) f[r] = 0;
        else {
          f[r] = Number.NaN;
          bump(report.counters, 'cic_rate_missing');
        }
      }
    }
    const portNum = (c: string) => {
      const t = text(c);
      if (t === '') return Number.NaN;
      const v = parseNumber(t);
      return v === null ? Number.NaN : v;
    };
    const sport = portNum('src_port');
    const dport = portNum('dst_port');
    const pText = text('protocol');
    const pNum = parseNumber(pText);
    const protocol =
      pNum === null ? pText.toLowerCase() || 'unknown' : Number.isNaN(pNum) ? 'unknown' : protocolName(pNum);
    const src = text('src_ip');
    const dst = text('dst_ip');
    const start = parseCicTimestamp(text('timestamp'));
    if (col.has('timestamp') && Number.isNaN(start)) bump(report.counters, 'cic_bad_timestamp');
    const cid =
      src && dst && pNum !== null && Number.isFinite(pNum) ? communityId(src, dst, pNum, sport, dport) : '';
    const flow: Flow = {
      src_ip: src,
      dst_ip: dst,
      src_port: sport,
      dst_port: dport,
      protocol,
      start_time: start,
      community_id: cid,
      conn_state: approxConnState(protocol, f),
      port_class: portClass(protocol, dport),
      f,
    };
    if (col.has('label')) flow.label = text('label');
    report.rowsKept++;
    yield flow;
  }
}
