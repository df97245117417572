/** Field-by-field comparisons: our decoded records vs nfdump's, our export flows vs our pcap meter. */
import type { ExportFlow } from '../../../src/ingest/flowexport/biflow.ts';
import type { ExportRecord } from '../../../src/ingest/flowexport/record.ts';
import type { TrafficResult } from '../../../src/ingest/traffic/index.ts';

const FLAG_LETTERS = 'CEUAPRSF'; // nfdump prints the flag bits from CWR down to FIN

export function nfdumpFlags(s: string): number {
  let v = 0;
  for (let i = 0; i < 8; i++) if (s[i] && s[i] !== '.') v |= 1 << (7 - i);
  return v;
}
void FLAG_LETTERS;

function ms(iso: string): number {
  return Date.parse(`${iso}Z`);
}

export interface Mismatch {
  field: string;
  ours: unknown;
  theirs: unknown;
  key: string;
}

/** One nfdump JSON record in our record's terms (ICMP: nfdump's dst_port = type·256 + code). */
export function fromNfdump(n: Record<string, unknown>) {
  const proto = Number(n.proto);
  let sport = Number(n.src_port);
  let dport = Number(n.dst_port);
  if (proto === 1 || proto === 58) {
    // nfdump prints ICMP type/code as their own fields (no ports)
    sport = n.icmp_type !== undefined ? Number(n.icmp_type) : dport >> 8;
    dport = n.icmp_code !== undefined ? Number(n.icmp_code) : dport & 0xff;
  }
  return {
    src: String(n.src4_addr ?? n.src6_addr),
    dst: String(n.dst4_addr ?? n.dst6_addr),
    sport,
    dport,
    proto,
    startMs: ms(String(n.first)),
    endMs: ms(String(n.last)),
    packets: Number(n.in_packets),
    bytes: Number(n.in_bytes),
    rpackets: n.out_packets === undefined ? Number.NaN : Number(n.out_packets),
    rbytes: n.out_bytes === undefined ? Number.NaN : Number(n.out_bytes),
    flags: proto === 6 ? nfdumpFlags(String(n.tcp_flags)) : Number.NaN,
    inIf: Number(n.input_snmp),
    outIf: Number(n.output_snmp),
    exporter: String(n.ip4_router ?? n.ip6_router),
  };
}

const key = (r: { src: string; dst: string; sport: number; dport: number; proto: number }) =>
  `${r.proto} ${r.src}:${r.sport} > ${r.dst}:${r.dport}`;

/**
 * Pair our records with nfdump's by 5-tuple (in order of arrival for repeated tuples) and compare
 * every shared field; `skip` names fields known to differ (documented by the caller).
 */
/**
 * Differences between nfdump 1.7.1 and the export itself that we do not copy (each one checked
 * record by record, then counted under `known`):
 * - `v5_ms_truncated`: nfdump truncates the v5 header's nanoseconds to ms; we keep them (< 1 ms apart);
 * - `v5_no_interfaces`: nfdump's JSON leaves v5 input/output interfaces out (we have 0 from the record);
 * - `ipfix_start_end_swapped`: for IPFIX flowStart/EndSysUpTime nfdump prints first = the end and
 *   last = the start (its "huge td"); we read element 22 as the start as RFC 7011 says, and agree
 *   with our NetFlow v9 decode of the same flows;
 * - `first_record_time_zero`: nfdump prints time 0 for (at most) the first data record of a v9 or
 *   IPFIX stream, which sits in the datagram that carries the first templates;
 * - `biflow_flags_reverse`: for RFC 5103 biflow records nfdump's tcp_flags is the reverse direction's
 *   flags (both elements land in one field, the later wins); we keep both.
 */
export function compareWithNfdump(
  ours: ExportRecord[],
  theirs: Record<string, unknown>[],
  skip: string[] = [],
): { paired: number; unpaired: number; mismatches: Mismatch[]; known: Record<string, number> } {
  const known: Record<string, number> = {};
  const note = (k: string) => {
    known[k] = (known[k] ?? 0) + 1;
  };
  const byKey = new Map<string, ReturnType<typeof fromNfdump>[]>();
  for (const n of theirs) {
    if (n.type !== 'FLOW') continue;
    const t = fromNfdump(n);
    const k = key(t);
    const l = byKey.get(k);
    if (l) l.push(t);
    else byKey.set(k, [t]);
  }
  const mismatches: Mismatch[] = [];
  let paired = 0;
  let unpaired = 0;
  for (const r of ours) {
    const k = key(r);
    const t = byKey.get(k)?.shift();
    if (!t) {
      unpaired++;
      mismatches.push({ field: 'record', ours: k, theirs: null, key: k });
      continue;
    }
    paired++;
    let s = r.start * 1000;
    let e = r.end * 1000;
    if (r.version === 5 && Math.abs(s - t.startMs) < 1 && Math.abs(e - t.endMs) < 1) {
      if (Math.round(s) !== t.startMs || Math.round(e) !== t.endMs) note('v5_ms_truncated');
      s = t.startMs;
      e = t.endMs;
    }
    s = Math.round(s);
    e = Math.round(e);
    if (r.version === 10 && s !== e && s === t.endMs && e === t.startMs) {
      note('ipfix_start_end_swapped');
      [s, e] = [e, s];
    }
    if (
      (r.version === 9 || r.version === 10) &&
      t.startMs === 0 &&
      t.endMs === 0 &&
      s > 0 &&
      !known.first_record_time_zero
    ) {
      note('first_record_time_zero');
      s = 0;
      e = 0;
    }
    let inIf = r.inIf;
    let outIf = r.outIf;
    if (r.version === 5 && Number.isNaN(t.inIf) && Number.isNaN(t.outIf)) {
      note('v5_no_interfaces');
      inIf = t.inIf;
      outIf = t.outIf;
    }
    let flags = r.flags;
    if (!Number.isNaN(r.rpackets) && r.proto === 6 && r.rflags === t.flags && r.flags !== t.flags) {
      note('biflow_flags_reverse');
      flags = t.flags;
    }
    const pairs: [string, number | string, number | string][] = [
      ['start_ms', s, t.startMs],
      ['end_ms', e, t.endMs],
      ['packets', r.packets, t.packets],
      ['bytes', r.bytes, t.bytes],
      ['in_if', inIf, t.inIf],
      ['out_if', outIf, t.outIf],
      ['exporter', r.exporter.replace(/^\[?([^\]]*?)\]?:\d+$/, '$1'), t.exporter],
    ];
    if (r.proto === 6) pairs.push(['tcp_flags', flags, t.flags]);
    if (!Number.isNaN(r.rpackets))
      pairs.push(['rpackets', r.rpackets, t.rpackets], ['rbytes', r.rbytes, t.rbytes]);
    for (const [field, a, b] of pairs) {
      if (skip.includes(field)) continue;
      if (a !== b && !(Number.isNaN(a) && Number.isNaN(b)))
        mismatches.push({ field, ours: a, theirs: b, key: k });
    }
  }
  for (const l of byKey.values()) unpaired += l.length;
  return { paired, unpaired, mismatches, known };
}

/** Our export flows vs our pcap meter's flows of the same capture: tuples, packets, bytes, start. */
export function compareWithMeter(flows: ExportFlow[], meter: TrafficResult, startToleranceS: number) {
  const m = meter.identity;
  const n = meter.table.nRows;
  const byCid = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const k = `${m.community_id[i]}`;
    const l = byCid.get(k);
    if (l) l.push(i);
    else byCid.set(k, [i]);
  }
  const mismatches: Mismatch[] = [];
  let paired = 0;
  const ours = [...flows].sort((a, b) => a.start_time - b.start_time);
  for (const f of ours) {
    const l = byCid.get(f.community_id);
    const i = l?.shift();
    const k = `${f.protocol} ${f.src_ip}:${f.src_port} > ${f.dst_ip}:${f.dst_port}`;
    if (i === undefined) {
      mismatches.push({ field: 'flow', ours: k, theirs: null, key: k });
      continue;
    }
    paired++;
    const num = meter.table.numeric;
    const pairs: [string, unknown, unknown][] = [
      ['src_ip', f.src_ip, m.src_ip[i]],
      ['src_port', f.src_port, m.src_port[i]],
      ['fwd_packets', f.f.fwd_packets, num.fwd_packets![i]],
      ['bwd_packets', f.f.bwd_packets, num.bwd_packets![i]],
      ['fwd_bytes', f.f.fwd_bytes, num.fwd_bytes![i]],
      ['bwd_bytes', f.f.bwd_bytes, num.bwd_bytes![i]],
      ['conn_state', f.conn_state, meter.table.text.conn_state![i]],
    ];
    for (const [field, a, b] of pairs) if (a !== b) mismatches.push({ field, ours: a, theirs: b, key: k });
    const dt = Math.abs(f.start_time - m.start_time[i]!);
    if (!(dt <= startToleranceS))
      mismatches.push({ field: 'start_time', ours: f.start_time, theirs: m.start_time[i], key: k });
  }
  let unpaired = 0;
  for (const [cid, l] of byCid)
    for (const i of l) {
      unpaired++;
      mismatches.push({
        field: 'flow',
        ours: null,
        theirs: `${m.protocol[i]} ${m.src_ip[i]}:${m.src_port[i]} > ${m.dst_ip[i]}:${m.dst_port[i]} (${cid})`,
        key: cid,
      });
    }
  return { paired, unpaired, mismatches };
}

/** Mismatches counted by field, with up to 3 examples each (for the test log). */
export function summarize(ms: Mismatch[]): string {
  const by = new Map<string, Mismatch[]>();
  for (const m of ms) {
    const l = by.get(m.field);
    if (l) l.push(m);
    else by.set(m.field, [m]);
  }
  return [...by.entries()]
    .map(
      ([f, l]) =>
        `${f}: ${l.length} (${l
          .slice(0, 3)
          .map((m) => `${m.key}: ours ${JSON.stringify(m.ours)} vs ${JSON.stringify(m.theirs)}`)
          .join('; ')})`,
    )
    .join('\n    ');
}
