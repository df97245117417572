/**
 * Host-level behaviour over longer windows, per source and per source→destination pair:
 *
 * - `src_60s_*`, `src_10m_*`: the source's flows that started in the last 60 s / 10 min
 *   (connections, distinct destination hosts and ports, share of failed connections, share of
 *   bytes sent, DNS queries; over 10 min also the most distinct names queried under one base
 *   domain, the DNS-tunnel signal, and the failed logins summed over the flows, the
 *   password-guessing signal, as Zeek's SSH::password_guesses_limit counts per source);
 * - `pair_10m_*`: the same for the (source, destination) pair over 10 min;
 * - `pair_beacon_*`: how regular the pair's connections are over the last hour (at most
 *   `BEACON_MAX` connections), scored as RITA (v3) scores beacons (beacon-score.ts: skew and
 *   dispersion of the intervals plus persistence; skew, dispersion and smallness of the
 *   originator's bytes per connection; each in 0..1).
 *
 * Event time is the flow's `start_time` with a per-source (and per-pair) monotonic clock, as in
 * windows.ts: one code path for batch (flows sorted by start) and streaming (arrival order).
 * Memory is bounded: entries per source/pair are capped, idle sources/pairs are forgotten,
 * at most `maxSources`/`maxPairs` are held (oldest evicted, counted).
 */
import { baseDomain } from './app-meta.ts';
import { type BeaconSeries, emptyBeaconSeries, scoreBeaconSeries } from './beacon-score.ts';
import { bump, type Counters } from './pcap.ts';
import { type Flow, REJ_STATES, S0_STATES } from './schema.ts';

export const SHORT_WINDOW = 60;
export const LONG_WINDOW = 600;
export const BEACON_WINDOW = 3600;
/** Connections of a pair used for the beacon score (the latest ones). */
export const BEACON_MAX = 64;
/** Fewer connections than this: beacon scores are 0 (no evidence). */
export const BEACON_MIN = 4;

export interface HostBehaviourOptions {
  maxEntries?: number;
  maxSources?: number;
  maxPairs?: number;
}

interface Entry {
  t: number;
  dst: string;
  dport: number;
  failed: boolean;
  /** Failed logins of the flow (auth_failures; 0 when unknown). */
  auth: number;
  out: number;
  in: number;
  dns: boolean;
  /** DNS query name when the flow is DNS and the source tells it; null otherwise. */
  name: string | null;
  base: string | null;
}

/** Sliding aggregate over a run of entries (added at the end, removed from the front). */
class Agg {
  n = 0;
  failed = 0;
  auth = 0;
  out = 0;
  in = 0;
  dns = 0;
  readonly ports = new Map<number, number>();
  readonly hosts = new Map<string, number>();
  /** base domain → name → count; and how many bases have k distinct names (for the max). */
  readonly names: Map<string, Map<string, number>> | null;
  readonly basesWith: number[] | null;
  maxNames = 0;
  lo = 0;
  constructor(
    readonly span: number,
    trackNames: boolean,
  ) {
    this.names = trackNames ? new Map() : null;
    this.basesWith = trackNames ? [0] : null;
  }
  add(e: Entry): void {
    this.n++;
    if (e.failed) this.failed++;
    this.auth += e.auth;
    this.out += e.out;
    this.in += e.in;
    if (e.dns) this.dns++;
    inc(this.ports, e.dport);
    inc(this.hosts, e.dst);
    if (this.names && e.name !== null && e.base !== null) {
      let m = this.names.get(e.base);
      if (!m) {
        m = new Map();
        this.names.set(e.base, m);
      }
      const c = m.get(e.name) ?? 0;
      m.set(e.name, c + 1);
      if (c === 0) this.moveBase(m.size - 1, m.size);
    }
  }
  remove(e: Entry): void {
    this.n--;
    if (e.failed) this.failed--;
    this.auth -= e.auth;
    this.out -= e.out;
    this.in -= e.in;
    if (e.dns) this.dns--;
    dec(this.ports, e.dport);
    dec(this.hosts, e.dst);
    if (this.names && e.name !== null && e.base !== null) {
      const m = this.names.get(e.base)!;
      const c = m.get(e.name)! - 1;
      if (c > 0) m.set(e.name, c);
      else {
        m.delete(e.name);
        this.moveBase(m.size + 1, m.size);
        if (m.size === 0) this.names.delete(e.base);
      }
    }
  }
  private moveBase(from: number, to: number): void {
    const b = this.basesWith!;
    if (from > 0) b[from]!--;
    while (b.length <= to) b.push(0);
    if (to > 0) b[to]!++;
    if (to > this.maxNames) this.maxNames = to;
    while (this.maxNames > 0 && b[this.maxNames] === 0) this.maxNames--;
  }
}

function inc<K>(m: Map<K, number>, k: K): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}
function dec<K>(m: Map<K, number>, k: K): void {
  const c = m.get(k)! - 1;
  if (c === 0) m.delete(k);
  else m.set(k, c);
}

class Track {
  entries: Entry[] = [];
  clock = Number.NEGATIVE_INFINITY;
  constructor(readonly aggs: Agg[]) {}
  push(e: Entry, maxEntries: number, counters: Counters): void {
    if (e.t > this.clock) this.clock = e.t;
    this.entries.push(e);
    const E = this.entries;
    let minLo = E.length;
    for (const a of this.aggs) {
      a.add(e);
      while (a.n > 0 && (E[a.lo]!.t < this.clock - a.span || a.n > maxEntries)) {
        if (E[a.lo]!.t >= this.clock - a.span) bump(counters, 'host_window_entries_capped');
        a.remove(E[a.lo++]!);
      }
      if (a.lo < minLo) minLo = a.lo;
    }
    if (minLo > 1024 && minLo * 2 > E.length) {
      this.entries = E.slice(minLo);
      for (const a of this.aggs) a.lo -= minLo;
    }
  }
}

class Pair extends Track {
  /** Ring of the latest connections (start time, originator bytes) for the beacon score. */
  // plain arrays of doubles live on the heap: a pair is made per new (source, destination), and
  // two off-heap typed-array stores per pair cost more than the ring itself
  readonly bt: number[] = [];
  readonly bs: number[] = [];
  bn = 0;
  bHead = 0;
}

const FIELDS = [
  'src_60s_count',
  'src_60s_distinct_dst_hosts',
  'src_60s_distinct_dst_ports',
  'src_60s_failed_rate',
  'src_60s_out_ratio',
  'src_60s_dns_queries',
  'src_10m_count',
  'src_10m_distinct_dst_hosts',
  'src_10m_distinct_dst_ports',
  'src_10m_failed_rate',
  'src_10m_out_ratio',
  'src_10m_dns_queries',
  'src_10m_dns_max_subdomains',
  'src_10m_auth_failures',
  'pair_10m_count',
  'pair_10m_distinct_dst_ports',
  'pair_10m_failed_rate',
  'pair_10m_out_ratio',
  'pair_beacon_score',
  'pair_beacon_ts_score',
  'pair_beacon_ds_score',
] as const;
export const HOST_BEHAVIOUR_FIELDS: readonly string[] = FIELDS;

const bytesOf = (ip: number | undefined, pay: number | undefined) =>
  Number.isFinite(ip) ? ip! : Number.isFinite(pay) ? pay! : Number.NaN;

export class HostBehaviour {
  private readonly sources = new Map<string, Track>();
  private readonly pairs = new Map<string, Pair>();
  private readonly maxEntries: number;
  private readonly maxSources: number;
  private readonly maxPairs: number;
  private clock = Number.NEGATIVE_INFINITY;
  private lastSweep = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly counters: Counters = {},
    opts: HostBehaviourOptions = {},
  ) {
    this.maxEntries = opts.maxEntries ?? 20_000;
    this.maxSources = opts.maxSources ?? 100_000;
    this.maxPairs = opts.maxPairs ?? 200_000;
  }

  /** Set the host-behaviour fields of `flow` (this flow included) and remember it. */
  push(flow: Flow): void {
    const f = flow.f;
    if (!flow.src_ip || !Number.isFinite(flow.start_time)) {
      for (const k of FIELDS) f[k] = Number.NaN;
      return;
    }
    const t = flow.start_time;
    if (t > this.clock) this.clock = t;
    if (this.clock - this.lastSweep >= LONG_WINDOW / 4) {
      this.sweep();
      this.lastSweep = this.clock;
    }
    const out = bytesOf(f.fwd_bytes, f.fwd_payload_bytes);
    const inn = bytesOf(f.bwd_bytes, f.bwd_payload_bytes);
    const app = flow.app?.app_proto;
    const dns =
      app !== undefined && app !== 'unknown'
        ? app === 'dns'
        : (flow.protocol === 'udp' || flow.protocol === 'tcp') && flow.dst_port === 53;
    const name = dns ? (flow.info?.dns_query ?? null) : null;
    const e: Entry = {
      t,
      dst: flow.dst_ip,
      dport: flow.dst_port,
      failed: S0_STATES.has(flow.conn_state) || REJ_STATES.has(flow.conn_state),
      auth: Number.isFinite(f.auth_failures) ? f.auth_failures! : 0,
      out: Number.isFinite(out) ? out : 0,
      in: Number.isFinite(inn) ? inn : 0,
      dns,
      name,
      base: name ? baseDomain(name) : null,
    };
    const hasBytes = Number.isFinite(out) && Number.isFinite(inn);
    const src = this.touch(this.sources, flow.src_ip, this.maxSources, 'host_sources_evicted', () => {
      return new Track([new Agg(SHORT_WINDOW, false), new Agg(LONG_WINDOW, true)]);
    });
    src.push(e, this.maxEntries, this.counters);
    const [s60, s10] = src.aggs as [Agg, Agg];
    this.fill(f, false, s60, hasBytes);
    this.fill(f, true, s10, hasBytes);
    // names are known when the source parses application data (pcap, or Zeek with dns.log)
    f.src_10m_dns_max_subdomains = flow.info !== undefined ? s10.maxNames : Number.NaN;
    // login outcomes are known when the source reads payloads (auth_failures is a number)
    f.src_10m_auth_failures = Number.isFinite(f.auth_failures) ? s10.auth : Number.NaN;
    const pair = this.touch(
      this.pairs,
      `${flow.src_ip}|${flow.dst_ip}`,
      this.maxPairs,
      'host_pairs_evicted',
      () => new Pair([new Agg(LONG_WINDOW, false)]),
    );
    pair.push(e, this.maxEntries, this.counters);
    const p10 = pair.aggs[0]!;
    f.pair_10m_count = p10.n;
    f.pair_10m_distinct_dst_ports = p10.ports.size;
    f.pair_10m_failed_rate = p10.failed / p10.n;
    f.pair_10m_out_ratio = ratio(p10, hasBytes);
    const i = pair.bHead;
    pair.bt[i] = t;
    pair.bs[i] = e.out;
    pair.bHead = (i + 1) % BEACON_MAX;
    if (pair.bn < BEACON_MAX) pair.bn++;
    beacon(pair, pair.clock - BEACON_WINDOW, f);
  }

  private fill(f: Record<string, number>, long: boolean, a: Agg, hasBytes: boolean): void {
    if (long) {
      f.src_10m_count = a.n;
      f.src_10m_distinct_dst_hosts = a.hosts.size;
      f.src_10m_distinct_dst_ports = a.ports.size;
      f.src_10m_failed_rate = a.failed / a.n;
      f.src_10m_out_ratio = ratio(a, hasBytes);
      f.src_10m_dns_queries = a.dns;
    } else {
      f.src_60s_count = a.n;
      f.src_60s_distinct_dst_hosts = a.hosts.size;
      f.src_60s_distinct_dst_ports = a.ports.size;
      f.src_60s_failed_rate = a.failed / a.n;
      f.src_60s_out_ratio = ratio(a, hasBytes);
      f.src_60s_dns_queries = a.dns;
    }
  }

  private touch<T extends Track>(
    map: Map<string, T>,
    key: string,
    max: number,
    counter: string,
    make: () => T,
  ): T {
    let x = map.get(key);
    if (x) map.delete(key);
    else {
      x = make();
      if (map.size >= max) {
        const oldest = map.keys().next();
        if (!oldest.done) {
          map.delete(oldest.value);
          bump(this.counters, counter);
        }
      }
    }
    map.set(key, x);
    return x;
  }

  private sweep(): void {
    for (const [k, s] of this.sources) {
      if (s.clock >= this.clock - LONG_WINDOW) break;
      this.sources.delete(k);
    }
    for (const [k, s] of this.pairs) {
      if (s.clock >= this.clock - BEACON_WINDOW) break;
      this.pairs.delete(k);
    }
  }

  /** Sources and pairs currently remembered. */
  get size(): { sources: number; pairs: number } {
    return { sources: this.sources.size, pairs: this.pairs.size };
  }
}

/** Share of bytes sent; NaN when the input has no byte counts or nothing was sent either way. */
function ratio(a: Agg, hasBytes: boolean): number {
  const tot = a.out + a.in;
  return hasBytes && tot > 0 ? a.out / tot : Number.NaN;
}

const ts = new Float64Array(BEACON_MAX);
const ds = new Float64Array(BEACON_MAX);
const series: BeaconSeries = emptyBeaconSeries();

function beacon(p: Pair, since: number, f: Record<string, number>): void {
  // the pair's latest connections within the beacon window, in time order
  let n = 0;
  for (let k = 0; k < p.bn; k++) {
    const i = (p.bHead - p.bn + k + BEACON_MAX) % BEACON_MAX;
    if (p.bt[i]! < since) continue;
    ts[n] = p.bt[i]!;
    ds[n] = p.bs[i]!;
    n++;
  }
  if (n < BEACON_MIN) {
    f.pair_beacon_score = 0;
    f.pair_beacon_ts_score = 0;
    f.pair_beacon_ds_score = 0;
    return;
  }
  scoreBeaconSeries(ts, ds, n, series);
  f.pair_beacon_ts_score = series.tsScore;
  f.pair_beacon_ds_score = series.dsScore;
  f.pair_beacon_score = series.score;
}
