/**
 * Beacon report: every source → destination pair of the traffic ranked by how regular its
 * connections are, as RITA's `show-beacons` lists them, so an analyst can read C2 check-ins off
 * the top of a list. The score is the one the `pair_beacon_*` fields carry
 * (ingest/traffic/beacon-score.ts), over all of a pair's connections in the input (the latest
 * `maxConnections`) instead of its last hour.
 *
 * Regular traffic is not always malicious: update checks, monitoring polls and NTP beacon too. A
 * pair is marked `known` when one of its names (TLS SNI, HTTP Host), or its address for a
 * destination without names, was already polled regularly in a baseline of the same network
 * (`knownPollers`: the analyst's benign traffic, e.g. the capture a model was trained on), or
 * matches an allow-list
 * entry (an address, an IPv4 CIDR, or a domain, which also matches its sub-domains). Known pairs
 * stay in the report, ranked after the others.
 *
 * The inputs are read as one network's traffic: a pair seen in several files is one series.
 * Memory: two numbers per connection up to `maxConnections` per pair, and the pair's names, for
 * at most `maxPairs` pairs (a scan or P2P host makes a pair per peer; the connections of pairs
 * beyond the bound are counted in `untracked`).
 */
import { InputError } from '../errors.ts';
import { type BeaconSeries, emptyBeaconSeries, scoreBeaconSeries } from '../ingest/traffic/beacon-score.ts';
import type { Flow } from '../ingest/traffic/schema.ts';

export const BEACON_REPORT_DEFAULTS = {
  /** Pairs with fewer connections are not scored (RITA's default threshold is 20 a day). */
  minConnections: 10,
  /** Connections kept per pair (the latest). */
  maxConnections: 20_000,
  /** Pairs tracked at most; connections of further new pairs are counted, not kept. */
  maxPairs: 1_000_000,
  /**
   * Pairs whose median interval between connections is shorter are bursts (floods, scans, brute
   * force, a session's parallel requests), not check-ins: left out.
   */
  minInterval: 1,
  /**
   * A baseline pair whose interval MAD is at most this share of its median interval polls its
   * destination regularly: the destination is a known poller. A share, not a score, so the rule
   * does not depend on how long the baseline is (the score's persistence term does).
   */
  knownDispersion: 0.25,
} as const;

/** Names a pair's connections carry, at most this many per pair. */
const MAX_NAMES = 4;
/** Community IDs kept per pair as evidence (the latest). */
const EVIDENCE = 5;

export interface BeaconPair {
  src_ip: string;
  dst_ip: string;
  /** TLS SNI / HTTP Host names of the pair's connections (at most four, first seen first). */
  names: string[];
  /** Destination ports (at most four, first seen first) and protocols of the connections. */
  dst_ports: number[];
  protocols: string[];
  connections: number;
  first_seen: number;
  last_seen: number;
  score: number;
  ts_score: number;
  ds_score: number;
  /** Median interval between connection starts (s) and its median absolute deviation. */
  interval_s: number;
  interval_mad_s: number;
  /** Median originator bytes per connection and its median absolute deviation. */
  bytes: number;
  bytes_mad: number;
  /** Why the pair is expected ('baseline': its destination beacons in the baseline), else null. */
  known: 'baseline' | 'allow' | null;
  /** Community IDs of the pair's latest connections (distinct, at most five, latest last). */
  community_ids: string[];
}

export interface KnownPollers {
  /** Destination addresses and names of the baseline's beacons. */
  addresses: Set<string>;
  names: Set<string>;
}

interface Series {
  src: string;
  dst: string;
  t: number[];
  b: number[];
  head: number;
  seen: number;
  first: number;
  last: number;
  names: string[];
  ports: number[];
  protocols: string[];
  evidence: string[];
}

const bytesOut = (f: Flow): number => {
  const ip = f.f.fwd_bytes;
  const pay = f.f.fwd_payload_bytes;
  return Number.isFinite(ip) ? ip! : Number.isFinite(pay) ? pay! : 0;
};

const addUnique = <T>(a: T[], v: T, max: number) => {
  if (a.length < max && !a.includes(v)) a.push(v);
};

export interface BeaconRankOptions {
  minConnections?: number;
  /** Seconds (default `BEACON_REPORT_DEFAULTS.minInterval`). */
  minInterval?: number;
  known?: KnownPollers | null;
  /** Allow-list entries (see `allowEntry`). */
  allow?: readonly string[];
}

/** Collects the connections of every pair; `pairs()` scores and ranks them. */
export class BeaconTracker {
  private readonly series = new Map<string, Series>();
  private readonly maxConnections: number;
  private readonly maxPairs: number;
  /** Connections of new pairs not tracked because `maxPairs` pairs already were. */
  untracked = 0;

  constructor(opts: { maxConnections?: number; maxPairs?: number } = {}) {
    this.maxConnections = opts.maxConnections ?? BEACON_REPORT_DEFAULTS.maxConnections;
    this.maxPairs = opts.maxPairs ?? BEACON_REPORT_DEFAULTS.maxPairs;
    if (!Number.isInteger(this.maxConnections) || this.maxConnections < 2)
      throw new InputError(`maxConnections must be an integer ≥ 2, got ${this.maxConnections}`);
    if (!Number.isInteger(this.maxPairs) || this.maxPairs < 1)
      throw new InputError(`maxPairs must be an integer ≥ 1, got ${this.maxPairs}`);
  }

  /** Pairs seen so far. */
  get size(): number {
    return this.series.size;
  }

  add(flow: Flow): void {
    if (!Number.isFinite(flow.start_time)) return;
    const key = `${flow.src_ip}>${flow.dst_ip}`;
    let s = this.series.get(key);
    if (!s) {
      if (this.series.size >= this.maxPairs) {
        this.untracked++;
        return;
      }
      s = {
        src: flow.src_ip,
        dst: flow.dst_ip,
        t: [],
        b: [],
        head: 0,
        seen: 0,
        first: flow.start_time,
        last: flow.start_time,
        names: [],
        ports: [],
        protocols: [],
        evidence: [],
      };
      this.series.set(key, s);
    }
    if (s.t.length < this.maxConnections) {
      s.t.push(flow.start_time);
      s.b.push(bytesOut(flow));
    } else {
      s.t[s.head] = flow.start_time;
      s.b[s.head] = bytesOut(flow);
      s.head = (s.head + 1) % this.maxConnections;
    }
    s.seen++;
    s.first = Math.min(s.first, flow.start_time);
    s.last = Math.max(s.last, flow.start_time);
    const name = flow.info?.tls_sni ?? flow.info?.http_host;
    if (name) addUnique(s.names, name, MAX_NAMES);
    addUnique(s.ports, flow.dst_port, MAX_NAMES);
    addUnique(s.protocols, flow.protocol, MAX_NAMES);
    if (flow.community_id) {
      // distinct IDs, latest last (a client reusing its port repeats the 5-tuple's ID)
      const at = s.evidence.indexOf(flow.community_id);
      if (at >= 0) s.evidence.splice(at, 1);
      s.evidence.push(flow.community_id);
      if (s.evidence.length > EVIDENCE) s.evidence.shift();
    }
  }

  /**
   * The pairs with at least `minConnections` connections and a median interval of at least
   * `minInterval`, scored, most regular timing first (`ts_score`; ties: score, then connections);
   * pairs that are `known` (baseline or allow-list) after all the others. Timing leads because
   * it is what makes a beacon: check-ins over TLS vary in size by more than the sizes score's
   * 32-byte MAD scale (39–40 bytes in the lab's two beacons), which sank a C2 pair to 14th by
   * the combined score on a development run.
   */
  pairs(opts: BeaconRankOptions = {}): BeaconPair[] {
    const min = Math.max(2, opts.minConnections ?? BEACON_REPORT_DEFAULTS.minConnections);
    const minInterval = opts.minInterval ?? BEACON_REPORT_DEFAULTS.minInterval;
    const allow = (opts.allow ?? []).map(allowEntry);
    const out: BeaconPair[] = [];
    const scored: BeaconSeries = emptyBeaconSeries();
    for (const s of this.series.values()) {
      const n = s.t.length;
      if (n < min) continue;
      scoreBeaconSeries(Float64Array.from(s.t), Float64Array.from(s.b), n, scored);
      if (!(scored.interval >= minInterval)) continue;
      const names = s.names;
      let known: BeaconPair['known'] = null;
      if (allow.some((m) => m(s.dst) || names.some(m))) known = 'allow';
      else if (opts.known && (names.some((x) => opts.known!.names.has(x)) || opts.known.addresses.has(s.dst)))
        known = 'baseline';
      out.push({
        src_ip: s.src,
        dst_ip: s.dst,
        names: [...names],
        dst_ports: [...s.ports],
        protocols: [...s.protocols],
        connections: s.seen,
        first_seen: s.first,
        last_seen: s.last,
        score: scored.score,
        ts_score: scored.tsScore,
        ds_score: scored.dsScore,
        interval_s: scored.interval,
        interval_mad_s: scored.intervalMad,
        bytes: scored.bytes,
        bytes_mad: scored.bytesMad,
        known,
        community_ids: [...s.evidence],
      });
    }
    return out.sort(
      (a, b) =>
        Number(a.known !== null) - Number(b.known !== null) ||
        b.ts_score - a.ts_score ||
        b.score - a.score ||
        b.connections - a.connections ||
        (a.src_ip < b.src_ip ? -1 : a.src_ip > b.src_ip ? 1 : a.dst_ip < b.dst_ip ? -1 : 1),
    );
  }
}

/**
 * The destinations polled regularly in a baseline (pairs whose interval MAD is at most
 * `dispersion` × their median interval): their names (TLS SNI, HTTP Host), or their address when
 * the pair carried no name.
 */
export function knownPollers(
  baseline: readonly BeaconPair[],
  dispersion: number = BEACON_REPORT_DEFAULTS.knownDispersion,
): KnownPollers {
  const known: KnownPollers = { addresses: new Set(), names: new Set() };
  for (const p of baseline) {
    if (!(p.interval_mad_s <= dispersion * p.interval_s)) continue;
    // a named destination is known by its names: the address may serve other sites too
    if (p.names.length === 0) known.addresses.add(p.dst_ip);
    for (const n of p.names) known.names.add(n);
  }
  return known;
}

/** One allow-list entry as a matcher: an address, an IPv4 CIDR, or a domain (and its sub-domains). */
export function allowEntry(entry: string): (value: string) => boolean {
  const e = entry.trim().toLowerCase();
  if (e === '') throw new InputError('allow-list: empty entry');
  const cidr = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(e);
  if (cidr) {
    const bits = Number(cidr[2]);
    const base = ipv4(cidr[1]!);
    if (base === null || bits > 32) throw new InputError(`allow-list: '${entry}' is not an IPv4 CIDR`);
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    return (v) => {
      const x = ipv4(v);
      return x !== null && (x & mask) >>> 0 === (base & mask) >>> 0;
    };
  }
  return (v) => {
    const x = v.toLowerCase();
    return x === e || x.endsWith(`.${e}`);
  };
}

function ipv4(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255)) return null;
  return ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
}
