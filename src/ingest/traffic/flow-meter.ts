/**
 * Bidirectional flow meter. Packets are grouped by the unordered 5-tuple (ICMP: type/code mapped as
 * in Community ID); the sender of a flow's first packet is the originator ("fwd"). A flow ends on:
 * - idle timeout (no packet for `idleTimeout` s),
 * - active timeout (the flow is older than `activeTimeout` s; the next packet opens a new flow),
 * - TCP close: after both FINs or any RST the flow lingers `closeTimeout` s for stragglers; a new
 *   SYN on a closed flow starts a new flow (port reuse),
 * - `maxFlows` open flows (the least recently seen is evicted, counted `flows_evicted`),
 * - the end of the input (`flush`).
 * Flows are kept in two insertion-ordered maps (open, closing) refreshed on every packet, so
 * expiry scans only touch flows that really expire. The meter clock is the largest timestamp
 * seen: backwards timestamps are counted (`backwards_timestamps`) and never move the clock back.
 */
import { AppMeta, appFeatures, FIRST_DATA_PACKETS, finishApp, observePayload } from './app-meta.ts';
import { AuthReplies, observeAuth } from './auth-replies.ts';
import { communityId, icmpPorts } from './community-id.ts';
import type { DecodedPacket } from './decode.ts';
import { observeBytes, PayloadSample, payloadStatsFeatures } from './payload-stats.ts';
import { bump, type Counters } from './pcap.ts';
import { emptyFeatures, type Flow, type FlowAppInfo, portClass, protocolName } from './schema.ts';

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

class Stat {
  n = 0;
  mean = 0;
  m2 = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  add(x: number): void {
    this.n++;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
  }
  get std(): number {
    return this.n > 1 ? Math.sqrt(this.m2 / (this.n - 1)) : 0;
  }
}

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;
const URG = 0x20;
const ECE = 0x40;
const CWR = 0x80;

export interface FlowState {
  key: string;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto: number;
  start: number;
  last: number;
  lastFwd: number;
  lastBwd: number;
  fwdPkts: number;
  bwdPkts: number;
  fwdBytes: number;
  bwdBytes: number;
  fwdPay: number;
  bwdPay: number;
  pay: Stat;
  fwdPayMax: number;
  bwdPayMax: number;
  iat: Stat;
  fwdIat: Stat;
  bwdIat: Stat;
  syn: number;
  synack: number;
  fin: number;
  rst: number;
  psh: number;
  ack: number;
  urg: number;
  ece: number;
  cwr: number;
  origSyn: boolean;
  respSynAck: boolean;
  fwdFin: boolean;
  bwdFin: boolean;
  fwdRst: boolean;
  bwdRst: boolean;
  closed: boolean;
  /** Signed payload sizes of the first data packets (+ originator, − responder). */
  firstData: number[];
  /** Time of the responder's first packet (NaN until then). */
  firstResp: number;
  /** Application metadata, made at the first payload packet while its budget lasts. */
  app: AppMeta | null;
  /** No more payload to look at (budget spent or nothing more to learn). */
  appDone: boolean;
  /** Payload byte statistics (payload-stats.ts), made at the first captured payload. */
  sample: PayloadSample | null;
  /** Failed-login replies (auth-replies.ts), TCP only. */
  auth: AuthReplies | null;
}

/** Zeek-style conn_state from what the meter saw (orig = fwd). */
export function connState(
  s: Pick<
    FlowState,
    'proto' | 'bwdPkts' | 'origSyn' | 'respSynAck' | 'fwdFin' | 'bwdFin' | 'fwdRst' | 'bwdRst'
  >,
): string {
  if (s.proto !== 6) return s.bwdPkts > 0 ? 'SF' : 'S0';
  if (s.origSyn) {
    if (!s.respSynAck) {
      if (s.bwdRst) return 'REJ';
      if (s.fwdRst) return 'RSTOS0';
      if (s.fwdFin) return 'SH';
      return s.bwdPkts === 0 ? 'S0' : 'OTH';
    }
    if (s.fwdRst) return 'RSTO';
    if (s.bwdRst) return 'RSTR';
    if (s.fwdFin && s.bwdFin) return 'SF';
    if (s.fwdFin) return 'S2';
    if (s.bwdFin) return 'S3';
    return 'S1';
  }
  if (s.respSynAck) {
    if (s.bwdRst) return 'RSTRH';
    if (s.bwdFin) return 'SHR';
  }
  return 'OTH';
}

export class FlowMeter {
  private readonly idle: number;
  private readonly active: number;
  private readonly close: number;
  private readonly maxFlows: number;
  private readonly open = new Map<string, FlowState>();
  private readonly closing = new Map<string, FlowState>();
  private clock = Number.NEGATIVE_INFINITY;
  private lastSweep = Number.NEGATIVE_INFINITY;
  /** Key of the entry last set in `open` / `closing` (null: unknown): refreshing it is a no-op. */
  private openTail: string | null = null;
  private closingTail: string | null = null;
  /** The previous packet's (ports-mapped) 5-tuple and its key: a flow's packets come in runs. */
  private lastTuple = { src: '', dst: '', sport: -1, dport: -1, proto: -1, key: '' };

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
    return this.open.size + this.closing.size;
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
    if (p.proto === 1 || p.proto === 58) [sport, dport] = icmpPorts(p.proto, p.sport, p.dport);
    const key = this.flowKey(p.src, p.dst, sport, dport, p.proto);
    let f = this.open.get(key);
    let inOpen = true;
    if (!f) {
      f = this.closing.get(key);
      inOpen = false;
    }
    const isSyn = p.proto === 6 && (p.tcpFlags & (SYN | ACK)) === SYN;
    if (f) {
      if (f.closed && isSyn) {
        this.closing.delete(key);
        if (key === this.closingTail) this.closingTail = null;
        out.push(this.finish(f, 'tcp_port_reuse'));
        f = undefined;
      } else if (now - f.start > this.active) {
        (inOpen ? this.open : this.closing).delete(key);
        if (key === (inOpen ? this.openTail : this.closingTail)) this.forgetTail(inOpen);
        out.push(this.finish(f, 'active_timeouts'));
        f = undefined;
      }
    }
    if (!f) {
      f = this.create(key, p, sport, dport);
      if (this.open.size + this.closing.size >= this.maxFlows) {
        const victim = this.open.keys().next();
        if (!victim.done) {
          const v = this.open.get(victim.value)!;
          this.open.delete(victim.value);
          if (victim.value === this.openTail) this.openTail = null;
          out.push(this.finish(v, 'flows_evicted'));
        }
      }
      this.open.set(key, f);
      this.openTail = key;
      inOpen = true;
    } else if (key !== (inOpen ? this.openTail : this.closingTail)) {
      // refresh recency (delete + set moves the key to the end of the map)
      const m = inOpen ? this.open : this.closing;
      m.delete(key);
      m.set(key, f);
      if (inOpen) this.openTail = key;
      else this.closingTail = key;
    }
    this.update(f, p, sport);
    if (inOpen && f.closed) {
      this.open.delete(key);
      if (key === this.openTail) this.openTail = null;
      this.closing.set(key, f);
      this.closingTail = key;
    }
    return out;
  }

  /** The map key of a 5-tuple (the same for both directions); the previous packet's is reused. */
  private flowKey(src: string, dst: string, sport: number, dport: number, proto: number): string {
    const t = this.lastTuple;
    if (proto === t.proto) {
      if (src === t.src && dst === t.dst && sport === t.sport && dport === t.dport) return t.key;
      if (src === t.dst && dst === t.src && sport === t.dport && dport === t.sport) return t.key;
    }
    const a = `${src}|${sport}`;
    const b = `${dst}|${dport}`;
    const key = a < b ? `${proto}|${a}|${b}` : `${proto}|${b}|${a}`;
    t.src = src;
    t.dst = dst;
    t.sport = sport;
    t.dport = dport;
    t.proto = proto;
    t.key = key;
    return key;
  }

  private forgetTail(open: boolean): void {
    if (open) this.openTail = null;
    else this.closingTail = null;
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
    const all = [...this.open.values(), ...this.closing.values()].sort((x, y) => x.last - y.last);
    this.open.clear();
    this.closing.clear();
    this.openTail = null;
    this.closingTail = null;
    return all.map((f) => this.finish(f, 'flows_flushed'));
  }

  private sweep(now: number, out: Flow[]): void {
    const expired: FlowState[] = [];
    for (const [k, f] of this.closing) {
      if (now - f.last <= this.close) break;
      this.closing.delete(k);
      if (k === this.closingTail) this.closingTail = null;
      expired.push(f);
    }
    const nClose = expired.length;
    for (const [k, f] of this.open) {
      if (now - f.last <= this.idle) break;
      this.open.delete(k);
      if (k === this.openTail) this.openTail = null;
      expired.push(f);
    }
    if (expired.length === 0) return;
    for (let i = 0; i < expired.length; i++) bump(this.counters, i < nClose ? 'tcp_closed' : 'idle_timeouts');
    expired.sort((x, y) => x.last - y.last);
    for (const f of expired) out.push(this.finish(f, null));
  }

  private create(key: string, p: DecodedPacket, sport: number, dport: number): FlowState {
    return {
      key,
      src: p.src,
      dst: p.dst,
      sport,
      dport,
      proto: p.proto,
      start: p.ts,
      last: p.ts,
      lastFwd: Number.NaN,
      lastBwd: Number.NaN,
      fwdPkts: 0,
      bwdPkts: 0,
      fwdBytes: 0,
      bwdBytes: 0,
      fwdPay: 0,
      bwdPay: 0,
      pay: new Stat(),
      fwdPayMax: 0,
      bwdPayMax: 0,
      iat: new Stat(),
      fwdIat: new Stat(),
      bwdIat: new Stat(),
      syn: 0,
      synack: 0,
      fin: 0,
      rst: 0,
      psh: 0,
      ack: 0,
      urg: 0,
      ece: 0,
      cwr: 0,
      origSyn: false,
      respSynAck: false,
      fwdFin: false,
      bwdFin: false,
      fwdRst: false,
      bwdRst: false,
      closed: false,
      firstData: [],
      firstResp: Number.NaN,
      app: null,
      appDone: false,
      sample: null,
      auth: null,
    };
  }

  private update(f: FlowState, p: DecodedPacket, sport: number): void {
    const fwd = p.src === f.src && sport === f.sport;
    const ts = Math.max(p.ts, f.last); // a backwards packet does not shrink the flow
    if (f.fwdPkts + f.bwdPkts > 0) f.iat.add(ts - f.last);
    f.last = ts;
    f.pay.add(p.payloadLen);
    if (!fwd && Number.isNaN(f.firstResp)) f.firstResp = ts;
    if (p.payloadLen > 0) {
      if (f.firstData.length < FIRST_DATA_PACKETS) f.firstData.push(fwd ? p.payloadLen : -p.payloadLen);
      if (!f.appDone && p.data !== undefined && (p.payloadCaptured ?? 0) > 0) {
        if (f.app === null) f.app = new AppMeta();
        observePayload(
          f.app,
          fwd,
          f.proto,
          f.sport,
          f.dport,
          p.data,
          p.payloadOffset!,
          p.payloadCaptured!,
          this.counters,
        );
        f.appDone = f.app.done;
      }
      if (p.data !== undefined && (p.payloadCaptured ?? 0) > 0) this.content(f, fwd, p);
    }
    if (fwd) {
      if (f.fwdPkts > 0) f.fwdIat.add(ts - f.lastFwd);
      f.lastFwd = ts;
      f.fwdPkts++;
      f.fwdBytes += p.ipLen;
      f.fwdPay += p.payloadLen;
      if (p.payloadLen > f.fwdPayMax) f.fwdPayMax = p.payloadLen;
    } else {
      if (f.bwdPkts > 0) f.bwdIat.add(ts - f.lastBwd);
      f.lastBwd = ts;
      f.bwdPkts++;
      f.bwdBytes += p.ipLen;
      f.bwdPay += p.payloadLen;
      if (p.payloadLen > f.bwdPayMax) f.bwdPayMax = p.payloadLen;
    }
    if (p.proto !== 6) return;
    const fl = p.tcpFlags;
    if (fl & SYN) {
      f.syn++;
      if (fl & ACK) {
        f.synack++;
        if (!fwd) f.respSynAck = true;
      } else if (fwd) f.origSyn = true;
    }
    if (fl & FIN) {
      f.fin++;
      if (fwd) f.fwdFin = true;
      else f.bwdFin = true;
    }
    if (fl & RST) {
      f.rst++;
      if (fwd) f.fwdRst = true;
      else f.bwdRst = true;
    }
    if (fl & PSH) f.psh++;
    if (fl & ACK) f.ack++;
    if (fl & URG) f.urg++;
    if (fl & ECE) f.ece++;
    if (fl & CWR) f.cwr++;
    if (f.fwdRst || f.bwdRst || (f.fwdFin && f.bwdFin)) f.closed = true;
  }

  /** Payload content: byte statistics and, for TCP, failed-login replies (bounded samples). */
  private content(f: FlowState, fwd: boolean, p: DecodedPacket): void {
    if (f.sample === null) f.sample = new PayloadSample();
    if (!f.sample.full) observeBytes(f.sample, fwd, p.data!, p.payloadOffset!, p.payloadCaptured!);
    if (f.proto !== 6) return;
    if (f.auth === null) f.auth = new AuthReplies();
    if (!f.auth.done) observeAuth(f.auth, fwd, p.data!, p.payloadOffset!, p.payloadCaptured!);
  }

  private finish(s: FlowState, counter: string | null): Flow {
    if (counter) bump(this.counters, counter);
    bump(this.counters, 'flows');
    const protocol = protocolName(s.proto);
    const duration = s.last - s.start;
    const pkts = s.fwdPkts + s.bwdPkts;
    const pay = s.fwdPay + s.bwdPay;
    const v = emptyFeatures();
    v.duration = duration;
    v.fwd_packets = s.fwdPkts;
    v.bwd_packets = s.bwdPkts;
    v.fwd_bytes = s.fwdBytes;
    v.bwd_bytes = s.bwdBytes;
    v.fwd_payload_bytes = s.fwdPay;
    v.bwd_payload_bytes = s.bwdPay;
    v.flow_bytes_per_s = duration > 0 ? pay / duration : 0;
    v.flow_packets_per_s = duration > 0 ? pkts / duration : 0;
    v.pkt_len_min = s.pay.n ? s.pay.min : 0;
    v.pkt_len_max = s.pay.n ? s.pay.max : 0;
    v.pkt_len_mean = s.pay.n ? s.pay.mean : 0;
    v.pkt_len_std = s.pay.std;
    v.fwd_pkt_len_mean = s.fwdPkts ? s.fwdPay / s.fwdPkts : 0;
    v.fwd_pkt_len_max = s.fwdPayMax;
    v.bwd_pkt_len_mean = s.bwdPkts ? s.bwdPay / s.bwdPkts : 0;
    v.bwd_pkt_len_max = s.bwdPayMax;
    for (const [dir, st] of [
      ['flow', s.iat],
      ['fwd', s.fwdIat],
      ['bwd', s.bwdIat],
    ] as const) {
      v[`${dir}_iat_mean`] = st.n ? st.mean : 0;
      v[`${dir}_iat_std`] = st.std;
      v[`${dir}_iat_max`] = st.n ? st.max : 0;
      v[`${dir}_iat_min`] = st.n ? st.min : 0;
    }
    v.syn_count = s.syn;
    v.synack_count = s.synack;
    v.fin_count = s.fin;
    v.rst_count = s.rst;
    v.psh_count = s.psh;
    v.ack_count = s.ack;
    v.urg_count = s.urg;
    v.ece_count = s.ece;
    v.cwr_count = s.cwr;
    for (let i = 0; i < FIRST_DATA_PACKETS; i++) v[`first_data_${i + 1}`] = s.firstData[i] ?? 0;
    v.resp_delay = Number.isNaN(s.firstResp) ? Number.NaN : s.firstResp - s.start;
    payloadStatsFeatures(s.sample, v);
    v.auth_failures = s.auth ? s.auth.failures : 0;
    if (s.app) finishApp(s.app, this.counters);
    const info: FlowAppInfo = {};
    const app = appFeatures(s.app, v, info);
    // ICMP identity ports: (type, paired type) for request/reply types, else (type, code).
    return {
      src_ip: s.src,
      dst_ip: s.dst,
      src_port: s.sport,
      dst_port: s.dport,
      protocol,
      start_time: s.start,
      community_id: communityId(s.src, s.dst, s.proto, s.sport, s.dport),
      conn_state: connState(s),
      port_class: portClass(protocol, s.dport),
      f: v,
      app,
      info,
    };
  }
}
