/**
 * Unidirectional export records → canonical biflows (schema.ts).
 *
 * Records are grouped per exporter + observation domain by the unordered 5-tuple (ICMP type/code
 * mapped as in Community ID, as the pcap meter does). A record whose reverse is pending joins it as
 * the other direction when their flow times overlap within `window` s; RFC 5103 biflow records
 * carry both directions themselves. sFlow samples of one 5-tuple add up (each stands for `rate`
 * packets). A group is emitted `window` s of arrival time after its last record (or at flush), so
 * both directions have time to arrive; at most `maxPending` groups are held (oldest emitted early,
 * counted `stitch_evicted`).
 *
 * The originator is the direction whose first packet is earlier; on a tie (exporters round to ms),
 * the direction towards the lower port (client → service). Fields no export carries — payload
 * bytes, packet-length and IAT statistics, flow_bytes_per_s (payload based) — are NaN, counted
 * `missing_<field>`. TCP flag counts are lower bounds: one per direction whose OR'd flags carry
 * the flag (as Zeek's history letters), NaN when the export has no flags field. conn_state comes
 * from the OR'd flags of each direction through the meter's own rules (flow-meter.ts connState).
 * bwd_packets/bwd_bytes are 0 when no reverse record arrived (the exporter saw no reply).
 */
import { communityId, icmpPorts } from '../traffic/community-id.ts';
import { connState } from '../traffic/flow-meter.ts';
import { bump, type Counters } from '../traffic/pcap.ts';
import { emptyFeatures, type Flow, NUMERIC_FEATURES, portClass, protocolName } from '../traffic/schema.ts';
import type { ExportRecord } from './record.ts';

/** Identity kept from the export (beside the canonical identity). */
export interface ExportIdentity {
  exporter: string;
  observation_domain: number;
  export_version: string;
  in_if: number;
  out_if: number;
  sampling_rate: number;
  /** Export records stitched into this flow. */
  records: number;
}

export type ExportFlow = Flow & { export: ExportIdentity };

export interface StitchOptions {
  /** Seconds (arrival time) a group waits for its other direction (default 10). */
  window?: number;
  maxPending?: number;
}

interface Side {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  start: number;
  end: number;
  packets: number;
  bytes: number;
  flags: number;
}

interface Group {
  first: ExportRecord;
  proto: number;
  fwd: Side;
  bwd: Side | null;
  records: number;
  lastArrival: number;
  sampling: number;
  aggregate: boolean;
}

const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;
const RST = 0x04;
const FLAG_BITS: [string, number][] = [
  ['fin_count', 0x01],
  ['rst_count', 0x04],
  ['psh_count', 0x08],
  ['ack_count', 0x10],
  ['urg_count', 0x20],
  ['ece_count', 0x40],
  ['cwr_count', 0x80],
];
/** Features an export may or may not carry (TCP flags, times): their NaNs are counted per flow. */
let SOMETIMES: string[] = [];
let SOMETIMES_KEY: string[] = [];
let NEVER_KEY: string[] = [];
const NEVER_IN_EXPORTS = NUMERIC_FEATURES.filter(
  (n) =>
    n.includes('payload') ||
    n.startsWith('pkt_len') ||
    n.includes('_pkt_len_') ||
    n.includes('_iat_') ||
    n === 'flow_bytes_per_s',
);

SOMETIMES = NUMERIC_FEATURES.filter((n) => !n.startsWith('src_') && !NEVER_IN_EXPORTS.includes(n));
SOMETIMES_KEY = SOMETIMES.map((n) => `missing_${n}`);
NEVER_KEY = NEVER_IN_EXPORTS.map((n) => `missing_${n}`);

function minNaN(a: number, b: number): number {
  return Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.min(a, b);
}
function maxNaN(a: number, b: number): number {
  return Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.max(a, b);
}
function orNaN(a: number, b: number): number {
  return Number.isNaN(a) ? b : Number.isNaN(b) ? a : a | b;
}

export class Stitcher {
  private readonly groups = new Map<string, Group>();
  private readonly window: number;
  private readonly maxPending: number;
  private clock = Number.NEGATIVE_INFINITY;
  /** Flows finished whose never-exported fields are not yet counted `missing_<field>`. */
  private neverMissing = 0;

  constructor(
    private readonly counters: Counters,
    opts: StitchOptions = {},
  ) {
    this.window = opts.window ?? 10;
    this.maxPending = opts.maxPending ?? 200_000;
  }

  get pending(): number {
    return this.groups.size;
  }

  /** Add one record; returns the flows that completed by its arrival time. */
  push(rec: ExportRecord): ExportFlow[] {
    let r = rec;
    const out: ExportFlow[] = [];
    if (r.arrival > this.clock) {
      this.clock = r.arrival;
      this.sweep(out);
    }
    if (!r.src || !r.dst || !Number.isFinite(r.proto)) {
      bump(this.counters, 'export_records_incomplete');
      return this.fold(out);
    }
    if (r.packets === 0 && r.rpackets > 0) {
      // a biflow record whose forward direction is empty (softflowd -b orders addresses, not
      // initiators): the reverse is the traffic, so turn the record around
      r = {
        ...r,
        src: r.dst,
        dst: r.src,
        sport: r.dport,
        dport: r.sport,
        packets: r.rpackets,
        bytes: r.rbytes,
        flags: r.rflags,
        rpackets: 0,
        rbytes: 0,
        rflags: 0,
        inIf: r.outIf,
        outIf: r.inIf,
      };
      bump(this.counters, 'biflow_records_reversed');
    }
    let sport = r.sport;
    let dport = r.dport;
    if ((r.proto === 1 || r.proto === 58) && Number.isFinite(sport) && Number.isFinite(dport))
      [sport, dport] = icmpPorts(r.proto, sport, dport);
    const a = `${r.src}|${sport}`;
    const b = `${r.dst}|${dport}`;
    const key = `${r.exporter}|${r.domain}|${r.proto}|${a < b ? `${a}|${b}` : `${b}|${a}`}`;
    const side: Side = {
      src: r.src,
      dst: r.dst,
      sport,
      dport,
      start: r.start,
      end: r.end,
      packets: r.packets,
      bytes: r.bytes,
      flags: r.flags,
    };
    const aggregate = r.version === 'sflow';
    const g = this.groups.get(key);
    if (g) {
      const fwd = g.fwd.src === r.src && g.fwd.sport === sport;
      const mine = fwd ? g.fwd : g.bwd;
      if (mine && g.aggregate && aggregate) {
        merge(mine, side);
        this.touch(key, g, r);
        return this.fold(out);
      }
      const overlaps =
        Number.isNaN(r.start) ||
        Number.isNaN(g.fwd.start) ||
        (r.start <= maxNaN(g.fwd.end, g.fwd.start) + this.window &&
          maxNaN(r.end, r.start) >= g.fwd.start - this.window);
      if (!fwd && !g.bwd && overlaps && !(r.rpackets > 0)) {
        g.bwd = side;
        this.touch(key, g, r);
        return this.fold(out);
      }
      // a second record for a direction already held: the earlier flow is complete
      this.groups.delete(key);
      bump(this.counters, 'stitch_split');
      out.push(this.finish(g));
    }
    const ng: Group = {
      first: r,
      proto: r.proto,
      fwd: side,
      bwd: null,
      records: 1,
      lastArrival: r.arrival,
      sampling: r.sampling,
      aggregate,
    };
    if (r.rpackets > 0) {
      // RFC 5103 biflow: the reverse direction comes in the same record
      ng.bwd = {
        src: r.dst,
        dst: r.src,
        sport: dport,
        dport: sport,
        start: r.start,
        end: r.end,
        packets: r.rpackets,
        bytes: r.rbytes,
        flags: r.rflags,
      };
    }
    if (!Number.isNaN(r.rpackets)) bump(this.counters, 'biflow_records');
    if (this.groups.size >= this.maxPending) {
      const [k, old] = this.groups.entries().next().value as [string, Group];
      this.groups.delete(k);
      bump(this.counters, 'stitch_evicted');
      out.push(this.finish(old));
    }
    this.groups.set(key, ng);
    return this.fold(out);
  }

  /** Count the never-exported fields of the flows finished so far (once per call, not per flow). */
  private fold(out: ExportFlow[]): ExportFlow[] {
    if (this.neverMissing > 0) {
      for (const k of NEVER_KEY) bump(this.counters, k, this.neverMissing);
      this.neverMissing = 0;
    }
    return out;
  }

  private touch(key: string, g: Group, r: ExportRecord): void {
    g.records++;
    g.lastArrival = Math.max(g.lastArrival, r.arrival);
    if (r.sampling > g.sampling) g.sampling = r.sampling;
    this.groups.delete(key);
    this.groups.set(key, g);
  }

  /** Emit groups whose window has passed as of `now` (wall clock for live sources). */
  expire(now: number): ExportFlow[] {
    const out: ExportFlow[] = [];
    if (now > this.clock) this.clock = now;
    this.sweep(out);
    return this.fold(out);
  }

  flush(): ExportFlow[] {
    const out = [...this.groups.values()].map((g) => this.finish(g));
    this.groups.clear();
    return this.fold(out);
  }

  private sweep(out: ExportFlow[]): void {
    for (const [k, g] of this.groups) {
      if (this.clock - g.lastArrival <= this.window) break;
      this.groups.delete(k);
      out.push(this.finish(g));
    }
  }

  private finish(g: Group): ExportFlow {
    let fwd = g.fwd;
    let bwd = g.bwd;
    if (bwd) {
      const swap =
        bwd.start < fwd.start ||
        (bwd.start === fwd.start &&
          Number.isFinite(bwd.dport) &&
          Number.isFinite(fwd.dport) &&
          bwd.dport < fwd.dport &&
          g.proto !== 1 &&
          g.proto !== 58);
      if (swap) [fwd, bwd] = [bwd, fwd];
    }
    bump(this.counters, 'flows');
    if (bwd) bump(this.counters, 'flows_stitched');
    const protocol = protocolName(g.proto);
    const v = emptyFeatures();
    const start = minNaN(fwd.start, bwd ? bwd.start : Number.NaN);
    const end = maxNaN(maxNaN(fwd.end, fwd.start), bwd ? maxNaN(bwd.end, bwd.start) : Number.NaN);
    const duration = end - start;
    v.duration = duration;
    v.fwd_packets = fwd.packets;
    v.fwd_bytes = fwd.bytes;
    v.bwd_packets = bwd ? bwd.packets : 0;
    v.bwd_bytes = bwd ? bwd.bytes : 0;
    const pkts = v.fwd_packets! + v.bwd_packets!;
    v.flow_packets_per_s = Number.isNaN(duration) ? Number.NaN : duration > 0 ? pkts / duration : 0;
    const ff = fwd.flags;
    const bf = bwd ? bwd.flags : 0;
    const tcp = g.proto === 6;
    let state: string;
    if (!tcp) {
      for (const n of ['syn_count', 'synack_count', ...FLAG_BITS.map(([n]) => n)]) v[n] = 0;
      state = v.bwd_packets! > 0 ? 'SF' : 'S0';
    } else if (Number.isNaN(ff) || Number.isNaN(bf)) {
      state = 'unknown';
    } else {
      v.syn_count = (ff & SYN ? 1 : 0) + (bf & SYN ? 1 : 0);
      v.synack_count = (bf & (SYN | ACK)) === (SYN | ACK) ? 1 : 0;
      for (const [n, bit] of FLAG_BITS) v[n] = (ff & bit ? 1 : 0) + (bf & bit ? 1 : 0);
      state = connState({
        proto: 6,
        bwdPkts: v.bwd_packets!,
        origSyn: (ff & SYN) !== 0 && ((ff & ACK) === 0 || (bf & (SYN | ACK)) === (SYN | ACK) || bwd === null),
        respSynAck: (bf & (SYN | ACK)) === (SYN | ACK),
        fwdFin: (ff & FIN) !== 0,
        bwdFin: (bf & FIN) !== 0,
        fwdRst: (ff & RST) !== 0,
        bwdRst: (bf & RST) !== 0,
      });
    }
    this.neverMissing++;
    for (let i = 0; i < SOMETIMES.length; i++)
      if (Number.isNaN(v[SOMETIMES[i]!]!)) bump(this.counters, SOMETIMES_KEY[i]!);
    const ident: ExportIdentity = {
      exporter: g.first.exporter,
      observation_domain: g.first.domain,
      export_version: String(g.first.version),
      in_if: g.first.src === fwd.src ? g.first.inIf : g.first.outIf,
      out_if: g.first.src === fwd.src ? g.first.outIf : g.first.inIf,
      sampling_rate: g.sampling,
      records: g.records,
    };
    return {
      src_ip: fwd.src,
      dst_ip: fwd.dst,
      src_port: fwd.sport,
      dst_port: fwd.dport,
      protocol,
      start_time: start,
      community_id:
        Number.isFinite(fwd.sport) && Number.isFinite(fwd.dport)
          ? communityId(fwd.src, fwd.dst, g.proto, fwd.sport, fwd.dport)
          : '',
      conn_state: state,
      port_class: portClass(protocol, fwd.dport),
      f: v,
      export: ident,
    };
  }
}

function merge(a: Side, b: Side): void {
  a.start = minNaN(a.start, b.start);
  a.end = maxNaN(a.end, b.end);
  a.packets += b.packets;
  a.bytes += b.bytes;
  a.flags = orNaN(a.flags, b.flags);
}

export { NEVER_IN_EXPORTS };
