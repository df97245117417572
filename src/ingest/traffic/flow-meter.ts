/**
 * Bidirectional flow meter. Packets are grouped by the unordered 5-tuple (ICMP: type/code mapped as
 * in Community ID); the sender of a flow's first packet is the originator ("fwd"). A flow ends on:
 * - idle timeout (no packet for `idleTimeout` s),
 * - active timeout (the flow is older than `activeTimeout` s; the next packet opens a new flow),
 * - TCP close: after both FINs or any RST the flow lingers `closeTimeout` s for stragglers; a new
 *   SYN on a closed flow starts a new flow (port reuse),
 * - `maxFlows` open flows (the least recently seen is evicted, counted `flows_evicted`),
 * - the end of the input (`flush`).
 * Open flows live in a flow table (flow-table.ts: typed-array columns, a numeric 5-tuple hash, and
 * two recency lists, open and closing, refreshed on every packet), so expiry scans only touch flows
 * that really expire and a packet allocates nothing. The meter clock is the largest timestamp
 * seen: backwards timestamps are counted (`backwards_timestamps`) and never move the clock back.
 */
import { AppMeta, appFeatures, FIRST_DATA_PACKETS, finishApp, observePayload } from './app-meta.ts';
import { AuthReplies, observeAuth } from './auth-replies.ts';
import { communityId, icmpPorts } from './community-id.ts';
import { addressHash, type DecodedPacket } from './decode.ts';
import {
  BWD_FIN,
  BWD_RST,
  CLOSED,
  CLOSING,
  FlowTable,
  FWD_FIN,
  FWD_RST,
  OPEN,
  ORIG_SYN,
  RESP_SYNACK,
  S_BWD_IAT,
  S_FWD_IAT,
  S_IAT,
  S_PAY,
  STATS,
  statAdd,
  statMax,
  statMean,
  statMin,
  statStd,
} from './flow-table.ts';
import { observeBytes, PayloadSample, payloadStatsFeatures } from './payload-stats.ts';
import { bump, type Counters } from './pcap.ts';
import { emptyFeatures, type Flow, type FlowAppInfo, portClass, protocolName } from './schema.ts';
import { isSshStart, SshAuth } from './ssh-auth.ts';

export interface FlowMeterOptions {
  /** Seconds without packets before a flow is emitted (default 120). */
  idleTimeout?: number;
  /** Seconds after which a long flow is cut (default 1800). */
  activeTimeout?: number;
  /** Seconds a TCP flow lingers after FIN+FIN or RST (default 2). */
  closeTimeout?: number;
  /** Most flows kept at once (default 1,000,000). */
  maxFlows?: number;
}

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;
const URG = 0x20;
const ECE = 0x40;
const CWR = 0x80;

/** What conn_state is derived from (orig = fwd). */
export interface ConnFlags {
  proto: number;
  bwdPkts: number;
  origSyn: boolean;
  respSynAck: boolean;
  fwdFin: boolean;
  bwdFin: boolean;
  fwdRst: boolean;
  bwdRst: boolean;
}

/** Zeek-style conn_state from what the meter saw (orig = fwd). */
export function connState(s: ConnFlags): string {
  let bits = 0;
  if (s.origSyn) bits |= ORIG_SYN;
  if (s.respSynAck) bits |= RESP_SYNACK;
  if (s.fwdFin) bits |= FWD_FIN;
  if (s.bwdFin) bits |= BWD_FIN;
  if (s.fwdRst) bits |= FWD_RST;
  if (s.bwdRst) bits |= BWD_RST;
  return connStateOf(s.proto, s.bwdPkts, bits);
}

/** connState over the table's flag bits. */
function connStateOf(proto: number, bwdPkts: number, b: number): string {
  if (proto !== 6) return bwdPkts > 0 ? 'SF' : 'S0';
  if (b & ORIG_SYN) {
    if (!(b & RESP_SYNACK)) {
      if (b & BWD_RST) return 'REJ';
      if (b & FWD_RST) return 'RSTOS0';
      if (b & FWD_FIN) return 'SH';
      return bwdPkts === 0 ? 'S0' : 'OTH';
    }
    if (b & FWD_RST) return 'RSTO';
    if (b & BWD_RST) return 'RSTR';
    if (b & FWD_FIN && b & BWD_FIN) return 'SF';
    if (b & FWD_FIN) return 'S2';
    if (b & BWD_FIN) return 'S3';
    return 'S1';
  }
  if (b & RESP_SYNACK) {
    if (b & BWD_RST) return 'RSTRH';
    if (b & BWD_FIN) return 'SHR';
  }
  return 'OTH';
}

/** Payload samples of ended flows, cleared for reuse (each holds a 1 KiB histogram). */
const SAMPLE_POOL_MAX = 4096;

export class FlowMeter {
  private readonly idle: number;
  private readonly active: number;
  private readonly close: number;
  private readonly maxFlows: number;
  private readonly t = new FlowTable();
  private clock = Number.NEGATIVE_INFINITY;
  private lastSweep = Number.NEGATIVE_INFINITY;
  /** Application metadata, payload samples and login replies of the open flows, by slot. */
  private app: (AppMeta | null)[] = [];
  private sample: (PayloadSample | null)[] = [];
  private auth: (AuthReplies | null)[] = [];
  private ssh: (SshAuth | null)[] = [];
  private readonly samplePool: PayloadSample[] = [];
  /** Slots that expire in one sweep (reused). */
  private expired: number[] = [];

  constructor(
    private readonly counters: Counters,
    opts: FlowMeterOptions = {},
  ) {
    this.idle = opts.idleTimeout ?? 120;
    this.active = opts.activeTimeout ?? 1800;
    this.close = Math.min(opts.closeTimeout ?? 2, this.idle);
    this.maxFlows = opts.maxFlows ?? 1_000_000;
  }

  /** Flows currently held. */
  get size(): number {
    return this.t.count;
  }

  /** Account one packet; returns the flows that ended by the time of this packet, oldest first. */
  add(p: DecodedPacket): Flow[] {
    const out: Flow[] = [];
    if (p.ts < this.clock) bump(this.counters, 'backwards_timestamps');
    else this.clock = p.ts;
    const now = this.clock;
    // Expiry sweeps at most once per 1/10 s of capture time (cheap, still in order).
    if (now - this.lastSweep >= 0.1) {
      this.sweep(now, out);
      this.lastSweep = now;
    }
    let sport = p.sport;
    let dport = p.dport;
    const proto = p.proto;
    if (proto === 1 || proto === 58) [sport, dport] = icmpPorts(proto, p.sport, p.dport);
    const t = this.t;
    const h = FlowTable.hash(
      p.srcHash ?? addressHash(p.src),
      sport,
      p.dstHash ?? addressHash(p.dst),
      dport,
      proto,
    );
    let i = t.find(h, p.src, p.dst, sport, dport, proto);
    const isSyn = proto === 6 && (p.tcpFlags & (SYN | ACK)) === SYN;
    if (i >= 0) {
      if (t.flags[i]! & CLOSED && isSyn) {
        t.remove(i);
        out.push(this.finish(i, 'tcp_port_reuse'));
        i = -1;
      } else if (now - t.start[i]! > this.active) {
        t.remove(i);
        out.push(this.finish(i, 'active_timeouts'));
        i = -1;
      }
    }
    if (i < 0) {
      if (t.count >= this.maxFlows) {
        const victim = t.head[OPEN]!;
        if (victim >= 0) {
          t.remove(victim);
          out.push(this.finish(victim, 'flows_evicted'));
        }
      }
      i = t.insert(h, p.src, p.dst, sport, dport, proto, p.ts);
      if (i >= this.app.length) this.growRefs(t.capacity);
    } else t.touch(i);
    this.update(i, p, sport);
    if (t.list[i] === OPEN && t.flags[i]! & CLOSED) t.moveTo(i, CLOSING);
    return out;
  }

  private growRefs(capacity: number): void {
    for (let k = this.app.length; k < capacity; k++) {
      this.app.push(null);
      this.sample.push(null);
      this.auth.push(null);
      this.ssh.push(null);
    }
  }

  /**
   * Expire flows as of `now` without a packet (live capture: a wall-clock tick, so flows end even
   * when traffic stops). The clock only moves forward; returns the flows that ended, oldest first.
   */
  expire(now: number): Flow[] {
    const out: Flow[] = [];
    if (now > this.clock) this.clock = now;
    if (this.clock === Number.NEGATIVE_INFINITY) return out;
    this.sweep(this.clock, out);
    this.lastSweep = this.clock;
    return out;
  }

  /** Emit every remaining flow (end of input), oldest last-seen first. */
  flush(): Flow[] {
    const t = this.t;
    const all: number[] = [];
    for (const list of [OPEN, CLOSING]) for (let i = t.head[list]!; i >= 0; i = t.next[i]!) all.push(i);
    const last = t.last;
    all.sort((x, y) => last[x]! - last[y]!);
    for (const i of all) t.remove(i);
    return all.map((i) => this.finish(i, 'flows_flushed'));
  }

  private sweep(now: number, out: Flow[]): void {
    const t = this.t;
    const last = t.last;
    const expired = this.expired;
    expired.length = 0;
    for (let i = t.head[CLOSING]!; i >= 0; ) {
      if (now - last[i]! <= this.close) break;
      const n = t.next[i]!;
      t.remove(i);
      expired.push(i);
      i = n;
    }
    const nClose = expired.length;
    for (let i = t.head[OPEN]!; i >= 0; ) {
      if (now - last[i]! <= this.idle) break;
      const n = t.next[i]!;
      t.remove(i);
      expired.push(i);
      i = n;
    }
    if (expired.length === 0) return;
    for (let k = 0; k < expired.length; k++) bump(this.counters, k < nClose ? 'tcp_closed' : 'idle_timeouts');
    if (expired.length > 1) expired.sort((x, y) => last[x]! - last[y]!);
    for (let k = 0; k < expired.length; k++) out.push(this.finish(expired[k]!, null));
  }

  private update(i: number, p: DecodedPacket, sport: number): void {
    const t = this.t;
    const fwd = p.src === t.src[i] && sport === t.sport[i];
    const last = t.last[i]!;
    const ts = Math.max(p.ts, last); // a backwards packet does not shrink the flow
    const st = t.stats;
    const sb = i * STATS;
    if (t.fwdPkts[i]! + t.bwdPkts[i]! > 0) statAdd(st, sb + S_IAT, ts - last);
    t.last[i] = ts;
    const payLen = p.payloadLen;
    statAdd(st, sb + S_PAY, payLen);
    if (!fwd && Number.isNaN(t.firstResp[i]!)) t.firstResp[i] = ts;
    if (payLen > 0) {
      const nd = t.firstN[i]!;
      if (nd < FIRST_DATA_PACKETS) {
        t.firstData[i * FIRST_DATA_PACKETS + nd] = fwd ? payLen : -payLen;
        t.firstN[i] = nd + 1;
      }
      const captured = p.payloadCaptured ?? 0;
      if (p.data !== undefined && captured > 0) {
        if (t.appDone[i] === 0) {
          let m = this.app[i]!;
          if (m === null) m = this.app[i] = new AppMeta();
          observePayload(
            m,
            fwd,
            t.proto[i]!,
            t.sport[i]!,
            t.dport[i]!,
            p.data,
            p.payloadOffset!,
            captured,
            this.counters,
          );
          if (m.done) t.appDone[i] = 1;
        }
        this.content(i, fwd, p.data, p.payloadOffset!, captured);
      }
    }
    if (fwd) {
      if (t.fwdPkts[i]! > 0) statAdd(st, sb + S_FWD_IAT, ts - t.lastFwd[i]!);
      t.lastFwd[i] = ts;
      t.fwdPkts[i]!++;
      t.fwdBytes[i]! += p.ipLen;
      t.fwdPay[i]! += payLen;
      if (payLen > t.fwdPayMax[i]!) t.fwdPayMax[i] = payLen;
    } else {
      if (t.bwdPkts[i]! > 0) statAdd(st, sb + S_BWD_IAT, ts - t.lastBwd[i]!);
      t.lastBwd[i] = ts;
      t.bwdPkts[i]!++;
      t.bwdBytes[i]! += p.ipLen;
      t.bwdPay[i]! += payLen;
      if (payLen > t.bwdPayMax[i]!) t.bwdPayMax[i] = payLen;
    }
    if (p.proto !== 6) return;
    const fl = p.tcpFlags;
    if (fl === 0) return;
    const c = i * 9;
    const tc = t.tcpCounts;
    let b = t.flags[i]!;
    if (fl & SYN) {
      tc[c]!++;
      if (fl & ACK) {
        tc[c + 1]!++;
        if (!fwd) b |= RESP_SYNACK;
      } else if (fwd) b |= ORIG_SYN;
    }
    if (fl & FIN) {
      tc[c + 2]!++;
      b |= fwd ? FWD_FIN : BWD_FIN;
    }
    if (fl & RST) {
      tc[c + 3]!++;
      b |= fwd ? FWD_RST : BWD_RST;
    }
    if (fl & PSH) tc[c + 4]!++;
    if (fl & ACK) tc[c + 5]!++;
    if (fl & URG) tc[c + 6]!++;
    if (fl & ECE) tc[c + 7]!++;
    if (fl & CWR) tc[c + 8]!++;
    if (b & (FWD_RST | BWD_RST) || (b & FWD_FIN && b & BWD_FIN)) b |= CLOSED;
    t.flags[i] = b;
  }

  /** Payload content: byte statistics and, for TCP, failed-login replies (bounded samples). */
  private content(i: number, fwd: boolean, d: Uint8Array, off: number, len: number): void {
    let s = this.sample[i]!;
    if (s === null) s = this.sample[i] = this.samplePool.pop() ?? new PayloadSample();
    if (!s.full) observeBytes(s, fwd, d, off, len);
    if (this.t.proto[i] !== 6) return;
    let a = this.auth[i]!;
    if (a === null) a = this.auth[i] = new AuthReplies();
    if (a.packets === 0 && !a.done && isSshStart(d, off, off + len)) this.ssh[i] = new SshAuth();
    if (!a.done) observeAuth(a, fwd, d, off, len);
    const ssh = this.ssh[i]!;
    if (ssh !== null && !ssh.done) ssh.observe(fwd, d, off, len);
  }

  /** The canonical flow of slot i (already out of the table's lists); the slot is freed. */
  private finish(i: number, counter: string | null): Flow {
    if (counter) bump(this.counters, counter);
    bump(this.counters, 'flows');
    const t = this.t;
    const proto = t.proto[i]!;
    const protocol = protocolName(proto);
    const start = t.start[i]!;
    const duration = t.last[i]! - start;
    const fwdPkts = t.fwdPkts[i]!;
    const bwdPkts = t.bwdPkts[i]!;
    const pkts = fwdPkts + bwdPkts;
    const pay = t.fwdPay[i]! + t.bwdPay[i]!;
    const st = t.stats;
    const sb = i * STATS;
    const v = emptyFeatures();
    v.duration = duration;
    v.fwd_packets = fwdPkts;
    v.bwd_packets = bwdPkts;
    v.fwd_bytes = t.fwdBytes[i]!;
    v.bwd_bytes = t.bwdBytes[i]!;
    v.fwd_payload_bytes = t.fwdPay[i]!;
    v.bwd_payload_bytes = t.bwdPay[i]!;
    v.flow_bytes_per_s = duration > 0 ? pay / duration : 0;
    v.flow_packets_per_s = duration > 0 ? pkts / duration : 0;
    const payN = st[sb + S_PAY]!;
    v.pkt_len_min = payN ? statMin(st, sb + S_PAY) : 0;
    v.pkt_len_max = payN ? statMax(st, sb + S_PAY) : 0;
    v.pkt_len_mean = payN ? statMean(st, sb + S_PAY) : 0;
    v.pkt_len_std = statStd(st, sb + S_PAY);
    v.fwd_pkt_len_mean = fwdPkts ? t.fwdPay[i]! / fwdPkts : 0;
    v.fwd_pkt_len_max = t.fwdPayMax[i]!;
    v.bwd_pkt_len_mean = bwdPkts ? t.bwdPay[i]! / bwdPkts : 0;
    v.bwd_pkt_len_max = t.bwdPayMax[i]!;
    let n = st[sb + S_IAT]!;
    v.flow_iat_mean = n ? statMean(st, sb + S_IAT) : 0;
    v.flow_iat_std = statStd(st, sb + S_IAT);
    v.flow_iat_max = n ? statMax(st, sb + S_IAT) : 0;
    v.flow_iat_min = n ? statMin(st, sb + S_IAT) : 0;
    n = st[sb + S_FWD_IAT]!;
    v.fwd_iat_mean = n ? statMean(st, sb + S_FWD_IAT) : 0;
    v.fwd_iat_std = statStd(st, sb + S_FWD_IAT);
    v.fwd_iat_max = n ? statMax(st, sb + S_FWD_IAT) : 0;
    v.fwd_iat_min = n ? statMin(st, sb + S_FWD_IAT) : 0;
    n = st[sb + S_BWD_IAT]!;
    v.bwd_iat_mean = n ? statMean(st, sb + S_BWD_IAT) : 0;
    v.bwd_iat_std = statStd(st, sb + S_BWD_IAT);
    v.bwd_iat_max = n ? statMax(st, sb + S_BWD_IAT) : 0;
    v.bwd_iat_min = n ? statMin(st, sb + S_BWD_IAT) : 0;
    const tc = t.tcpCounts;
    const c = i * 9;
    v.syn_count = tc[c]!;
    v.synack_count = tc[c + 1]!;
    v.fin_count = tc[c + 2]!;
    v.rst_count = tc[c + 3]!;
    v.psh_count = tc[c + 4]!;
    v.ack_count = tc[c + 5]!;
    v.urg_count = tc[c + 6]!;
    v.ece_count = tc[c + 7]!;
    v.cwr_count = tc[c + 8]!;
    const nd = t.firstN[i]!;
    const fd = t.firstData;
    const d0 = i * FIRST_DATA_PACKETS;
    v.first_data_1 = nd > 0 ? fd[d0]! : 0;
    v.first_data_2 = nd > 1 ? fd[d0 + 1]! : 0;
    v.first_data_3 = nd > 2 ? fd[d0 + 2]! : 0;
    v.first_data_4 = nd > 3 ? fd[d0 + 3]! : 0;
    v.first_data_5 = nd > 4 ? fd[d0 + 4]! : 0;
    v.first_data_6 = nd > 5 ? fd[d0 + 5]! : 0;
    const firstResp = t.firstResp[i]!;
    v.resp_delay = Number.isNaN(firstResp) ? Number.NaN : firstResp - start;
    const sample = this.sample[i]!;
    payloadStatsFeatures(sample, v);
    if (sample !== null) {
      this.sample[i] = null;
      if (this.samplePool.length < SAMPLE_POOL_MAX) {
        sample.reset();
        this.samplePool.push(sample);
      }
    }
    const auth = this.auth[i]!;
    const ssh = this.ssh[i]!;
    v.auth_failures = (auth ? auth.failures : 0) + (ssh ? ssh.failures : 0);
    const m = this.app[i]!;
    if (m) finishApp(m, this.counters);
    const info: FlowAppInfo = {};
    const app = appFeatures(m, v, info);
    this.app[i] = null;
    this.auth[i] = null;
    this.ssh[i] = null;
    const src = t.src[i]!;
    const dst = t.dst[i]!;
    const sport = t.sport[i]!;
    const dport = t.dport[i]!;
    const state = connStateOf(proto, bwdPkts, t.flags[i]!);
    t.free(i);
    return {
      src_ip: src,
      dst_ip: dst,
      src_port: sport,
      dst_port: dport,
      protocol,
      start_time: start,
      // ICMP identity ports: (type, paired type) for request/reply types, else (type, code).
      community_id: communityId(src, dst, proto, sport, dport),
      conn_state: state,
      port_class: portClass(protocol, dport),
      f: v,
      app,
      info,
    };
  }
}
