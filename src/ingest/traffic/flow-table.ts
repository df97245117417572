/**
 * The flow meter's table of open flows: one slot per flow in typed-array columns (no object per
 * flow or per packet), found by a numeric hash of the unordered 5-tuple (open addressing, linear
 * probing, backward-shift deletion; the tuple itself is compared on every hit, so a hash collision
 * never merges flows), and kept in two recency lists (open, closing: doubly linked through
 * `prev`/`next`, least recently seen first), the order an insertion-ordered map refreshed on every
 * packet would have. Slots of ended flows are reused; the columns grow by doubling, so memory
 * follows the most flows open at once, not the input.
 */
import { FIRST_DATA_PACKETS } from './app-meta.ts';

export const OPEN = 0;
export const CLOSING = 1;
const FREE = 255;

/** Flag bits of a flow (orig = fwd). */
export const ORIG_SYN = 1;
export const RESP_SYNACK = 2;
export const FWD_FIN = 4;
export const BWD_FIN = 8;
export const FWD_RST = 16;
export const BWD_RST = 32;
export const CLOSED = 64;

/**
 * Running statistics (n, mean, m2, min, max: Welford) per flow: payload sizes, inter-arrival
 * times of the flow and of each direction, at these offsets within the flow's `STATS` numbers.
 */
export const S_PAY = 0;
export const S_IAT = 5;
export const S_FWD_IAT = 10;
export const S_BWD_IAT = 15;
export const STATS = 20;
const TCP_COUNTS = 9;
const FIRST_DATA = FIRST_DATA_PACKETS;

/** Add x to the statistic at a[b, b+5). */
export function statAdd(a: Float64Array, b: number, x: number): void {
  const n = a[b]! + 1;
  a[b] = n;
  const mean0 = a[b + 1]!;
  const d = x - mean0;
  const mean = mean0 + d / n;
  a[b + 1] = mean;
  a[b + 2]! += d * (x - mean);
  if (x < a[b + 3]!) a[b + 3] = x;
  if (x > a[b + 4]!) a[b + 4] = x;
}
export const statMean = (a: Float64Array, b: number) => a[b + 1]!;
export const statMin = (a: Float64Array, b: number) => a[b + 3]!;
export const statMax = (a: Float64Array, b: number) => a[b + 4]!;
/** Sample standard deviation (0 below two values). */
export function statStd(a: Float64Array, b: number): number {
  const n = a[b]!;
  return n > 1 ? Math.sqrt(a[b + 2]! / (n - 1)) : 0;
}

function endpointHash(addr: number, port: number): number {
  let h = Math.imul(addr ^ Math.imul(port | 0, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 15;
  return Math.imul(h, 0x27d4eb2f);
}

const grown = <T extends Float64Array | Int32Array | Uint8Array>(a: T, n: number, fill?: number): T => {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  if (fill !== undefined) b.fill(fill, a.length);
  return b;
};

export class FlowTable {
  capacity = 0;
  /** Flows in the lists (open + closing). */
  count = 0;
  start = new Float64Array(0);
  last = new Float64Array(0);
  lastFwd = new Float64Array(0);
  lastBwd = new Float64Array(0);
  fwdPkts = new Float64Array(0);
  bwdPkts = new Float64Array(0);
  fwdBytes = new Float64Array(0);
  bwdBytes = new Float64Array(0);
  fwdPay = new Float64Array(0);
  bwdPay = new Float64Array(0);
  fwdPayMax = new Float64Array(0);
  bwdPayMax = new Float64Array(0);
  /** Time of the responder's first packet (NaN until then). */
  firstResp = new Float64Array(0);
  sport = new Float64Array(0);
  dport = new Float64Array(0);
  proto = new Float64Array(0);
  stats = new Float64Array(0);
  /** SYN, SYN-ACK, FIN, RST, PSH, ACK, URG, ECE, CWR counts. */
  tcpCounts = new Float64Array(0);
  /** Signed payload sizes of the first data packets (+ originator, − responder), and how many. */
  firstData = new Float64Array(0);
  firstN = new Uint8Array(0);
  flags = new Uint8Array(0);
  /** No more payload to parse for application metadata. */
  appDone = new Uint8Array(0);
  /** OPEN, CLOSING, or FREE. */
  list = new Uint8Array(0);
  hashOf = new Int32Array(0);
  prev = new Int32Array(0);
  next = new Int32Array(0);
  src: string[] = [];
  dst: string[] = [];
  readonly head = new Int32Array([-1, -1]);
  readonly tail = new Int32Array([-1, -1]);
  private freeHead = -1;
  /** Hash index: slot numbers (−1 empty), twice the capacity, a power of two. */
  private index = new Int32Array(0);
  private mask = -1;

  constructor() {
    this.grow(1024);
  }

  /** Hash of an unordered 5-tuple (the same for both directions) from its address hashes. */
  static hash(srcAddr: number, sport: number, dstAddr: number, dport: number, proto: number): number {
    let h = (endpointHash(srcAddr, sport) + endpointHash(dstAddr, dport)) | 0;
    h = Math.imul(h ^ proto, 0xc2b2ae35);
    return h ^ (h >>> 16);
  }

  /** The slot of the flow with this 5-tuple (either direction), or −1. */
  find(h: number, src: string, dst: string, sport: number, dport: number, proto: number): number {
    const index = this.index;
    const mask = this.mask;
    for (let k = h & mask; ; k = (k + 1) & mask) {
      const i = index[k]!;
      if (i < 0) return -1;
      if (this.hashOf[i] !== h || this.proto[i] !== proto) continue;
      const s = this.src[i];
      const sp = this.sport[i];
      if (s === src && sp === sport && this.dst[i] === dst && this.dport[i] === dport) return i;
      if (s === dst && sp === dport && this.dst[i] === src && this.dport[i] === sport) return i;
    }
  }

  /** A new flow, newest in the open list; returns its slot. */
  insert(
    h: number,
    src: string,
    dst: string,
    sport: number,
    dport: number,
    proto: number,
    ts: number,
  ): number {
    if (this.freeHead < 0) this.grow(this.capacity * 2);
    const i = this.freeHead;
    this.freeHead = this.next[i]!;
    this.src[i] = src;
    this.dst[i] = dst;
    this.sport[i] = sport;
    this.dport[i] = dport;
    this.proto[i] = proto;
    this.hashOf[i] = h;
    this.start[i] = ts;
    this.last[i] = ts;
    this.lastFwd[i] = Number.NaN;
    this.lastBwd[i] = Number.NaN;
    this.fwdPkts[i] = 0;
    this.bwdPkts[i] = 0;
    this.fwdBytes[i] = 0;
    this.bwdBytes[i] = 0;
    this.fwdPay[i] = 0;
    this.bwdPay[i] = 0;
    this.fwdPayMax[i] = 0;
    this.bwdPayMax[i] = 0;
    this.firstResp[i] = Number.NaN;
    this.firstN[i] = 0;
    this.flags[i] = 0;
    this.appDone[i] = 0;
    const st = this.stats;
    for (let b = i * STATS; b < (i + 1) * STATS; b += 5) {
      st[b] = 0;
      st[b + 1] = 0;
      st[b + 2] = 0;
      st[b + 3] = Number.POSITIVE_INFINITY;
      st[b + 4] = Number.NEGATIVE_INFINITY;
    }
    this.tcpCounts.fill(0, i * TCP_COUNTS, (i + 1) * TCP_COUNTS);
    this.indexAdd(i);
    this.append(i, OPEN);
    this.count++;
    return i;
  }

  /** Take slot i out of its list and the index (its columns stay readable until `free`). */
  remove(i: number): void {
    this.unlink(i);
    this.list[i] = FREE;
    this.indexDelete(i);
    this.count--;
  }

  /** Give slot i back for reuse (after `remove`). */
  free(i: number): void {
    this.src[i] = '';
    this.dst[i] = '';
    this.next[i] = this.freeHead;
    this.freeHead = i;
  }

  /** Mark slot i as the most recently seen of its list. */
  touch(i: number): void {
    const l = this.list[i]!;
    if (this.tail[l] === i) return;
    this.unlink(i);
    this.append(i, l);
  }

  /** Move slot i to the end of another list. */
  moveTo(i: number, l: number): void {
    this.unlink(i);
    this.append(i, l);
  }

  private append(i: number, l: number): void {
    const t = this.tail[l]!;
    this.prev[i] = t;
    this.next[i] = -1;
    if (t >= 0) this.next[t] = i;
    else this.head[l] = i;
    this.tail[l] = i;
    this.list[i] = l;
  }

  private unlink(i: number): void {
    const l = this.list[i]!;
    const p = this.prev[i]!;
    const n = this.next[i]!;
    if (p >= 0) this.next[p] = n;
    else this.head[l] = n;
    if (n >= 0) this.prev[n] = p;
    else this.tail[l] = p;
  }

  private indexAdd(i: number): void {
    const index = this.index;
    const mask = this.mask;
    let k = this.hashOf[i]! & mask;
    while (index[k]! >= 0) k = (k + 1) & mask;
    index[k] = i;
  }

  private indexDelete(i: number): void {
    const index = this.index;
    const mask = this.mask;
    let hole = this.hashOf[i]! & mask;
    while (index[hole] !== i) hole = (hole + 1) & mask;
    // backward shift: pull later entries of the probe run into the hole when it is on their path
    for (let j = (hole + 1) & mask; index[j]! >= 0; j = (j + 1) & mask) {
      const home = this.hashOf[index[j]!]! & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        index[hole] = index[j]!;
        hole = j;
      }
    }
    index[hole] = -1;
  }

  private grow(capacity: number): void {
    const old = this.capacity;
    const n = capacity;
    this.start = grown(this.start, n);
    this.last = grown(this.last, n);
    this.lastFwd = grown(this.lastFwd, n);
    this.lastBwd = grown(this.lastBwd, n);
    this.fwdPkts = grown(this.fwdPkts, n);
    this.bwdPkts = grown(this.bwdPkts, n);
    this.fwdBytes = grown(this.fwdBytes, n);
    this.bwdBytes = grown(this.bwdBytes, n);
    this.fwdPay = grown(this.fwdPay, n);
    this.bwdPay = grown(this.bwdPay, n);
    this.fwdPayMax = grown(this.fwdPayMax, n);
    this.bwdPayMax = grown(this.bwdPayMax, n);
    this.firstResp = grown(this.firstResp, n);
    this.sport = grown(this.sport, n);
    this.dport = grown(this.dport, n);
    this.proto = grown(this.proto, n);
    this.stats = grown(this.stats, n * STATS);
    this.tcpCounts = grown(this.tcpCounts, n * TCP_COUNTS);
    this.firstData = grown(this.firstData, n * FIRST_DATA);
    this.firstN = grown(this.firstN, n);
    this.flags = grown(this.flags, n);
    this.appDone = grown(this.appDone, n);
    this.list = grown(this.list, n, FREE);
    this.hashOf = grown(this.hashOf, n);
    this.prev = grown(this.prev, n);
    this.next = grown(this.next, n);
    for (let i = old; i < n; i++) {
      this.src.push('');
      this.dst.push('');
    }
    // new slots onto the free list, lowest first
    for (let i = n - 1; i >= old; i--) {
      this.next[i] = this.freeHead;
      this.freeHead = i;
    }
    this.capacity = n;
    this.index = new Int32Array(2 * n).fill(-1);
    this.mask = 2 * n - 1;
    for (let l = OPEN; l <= CLOSING; l++)
      for (let i = this.head[l]!; i >= 0; i = this.next[i]!) this.indexAdd(i);
  }
}
