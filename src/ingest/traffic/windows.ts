/**
 * Traffic-window features per source host, in the spirit of KDD'99's count / srv_count /
 * serror_rate / diff_srv_rate, computed incrementally with bounded memory:
 *
 * - time window: the source's flows that started in the last `timeWindow` seconds (default 2),
 * - count window: the source's last `countWindow` flows (default 100),
 *
 * each giving count, distinct destination ports, distinct destination hosts, share of S0-like
 * flows (no reply), share of rejected flows, share to this flow's destination port. The current
 * flow is included. One code path serves both modes: `WindowState.push(flow)` for streaming (flows
 * in arrival order; event time = `start_time`, a per-source monotonic clock, so late flows are
 * counted in the current window), and `applyWindows(flows)` for batch (stable sort by start_time,
 * then push each). Memory: at most `maxEntriesPerSource` entries per source (oldest dropped,
 * counted `window_entries_capped`), sources idle for `sourceIdle` s or beyond `maxSources` are
 * forgotten (`window_sources_evicted`).
 *
 * `push` also runs the longer host-behaviour windows (host-behaviour.ts: 60 s and 10 min per source
 * and per source→destination pair, beacon scores), so batch and streaming share that code too.
 */
import { HostBehaviour, type HostBehaviourOptions } from './host-behaviour.ts';
import { bump, type Counters } from './pcap.ts';
import { type Flow, REJ_STATES, S0_STATES } from './schema.ts';

export interface WindowOptions {
  timeWindow?: number;
  countWindow?: number;
  maxEntriesPerSource?: number;
  sourceIdle?: number;
  maxSources?: number;
  /** Host-behaviour windows (60 s, 10 min, beacons; host-behaviour.ts). */
  host?: HostBehaviourOptions;
}

interface Entry {
  t: number;
  dst: string;
  dport: number;
  s0: boolean;
  rej: boolean;
}

class Agg {
  n = 0;
  s0 = 0;
  rej = 0;
  readonly ports = new Map<number, number>();
  readonly hosts = new Map<string, number>();
  add(e: Entry): void {
    this.n++;
    if (e.s0) this.s0++;
    if (e.rej) this.rej++;
    this.ports.set(e.dport, (this.ports.get(e.dport) ?? 0) + 1);
    this.hosts.set(e.dst, (this.hosts.get(e.dst) ?? 0) + 1);
  }
  remove(e: Entry): void {
    this.n--;
    if (e.s0) this.s0--;
    if (e.rej) this.rej--;
    const p = this.ports.get(e.dport)! - 1;
    if (p === 0) this.ports.delete(e.dport);
    else this.ports.set(e.dport, p);
    const h = this.hosts.get(e.dst)! - 1;
    if (h === 0) this.hosts.delete(e.dst);
    else this.hosts.set(e.dst, h);
  }
}

class Source {
  entries: Entry[] = [];
  /** Index of the first entry of each window within `entries`. */
  tLo = 0;
  nLo = 0;
  clock = Number.NEGATIVE_INFINITY;
  readonly tAgg = new Agg();
  readonly nAgg = new Agg();
}

export class WindowState {
  private readonly T: number;
  private readonly N: number;
  private readonly maxEntries: number;
  private readonly sourceIdle: number;
  private readonly maxSources: number;
  private readonly sources = new Map<string, Source>();
  private clock = Number.NEGATIVE_INFINITY;
  private lastSweep = Number.NEGATIVE_INFINITY;
  private readonly host: HostBehaviour;

  constructor(
    private readonly counters: Counters = {},
    opts: WindowOptions = {},
  ) {
    this.T = opts.timeWindow ?? 2;
    this.N = opts.countWindow ?? 100;
    this.maxEntries = Math.max(opts.maxEntriesPerSource ?? 10_000, this.N);
    this.sourceIdle = Math.max(opts.sourceIdle ?? 600, this.T);
    this.maxSources = opts.maxSources ?? 100_000;
    this.host = new HostBehaviour(counters, opts.host);
  }

  /** Set the window features of `flow` (in `flow.f`) and remember it for later flows. */
  push(flow: Flow): void {
    this.host.push(flow);
    const f = flow.f;
    if (!flow.src_ip || !Number.isFinite(flow.start_time)) {
      for (const p of ['src_t', 'src_n']) {
        for (const s of [
          'count',
          'distinct_dst_ports',
          'distinct_dst_hosts',
          's0_rate',
          'rej_rate',
          'same_dport_rate',
        ])
          f[`${p}_${s}`] = Number.NaN;
      }
      bump(this.counters, 'window_features_missing');
      return;
    }
    const t = flow.start_time;
    if (t > this.clock) this.clock = t;
    if (this.clock - this.lastSweep >= this.sourceIdle / 4) {
      this.sweepSources();
      this.lastSweep = this.clock;
    }
    let src = this.sources.get(flow.src_ip);
    if (src) {
      this.sources.delete(flow.src_ip);
    } else {
      src = new Source();
      if (this.sources.size >= this.maxSources) {
        const oldest = this.sources.keys().next();
        if (!oldest.done) {
          this.sources.delete(oldest.value);
          bump(this.counters, 'window_sources_evicted');
        }
      }
    }
    this.sources.set(flow.src_ip, src);
    const e: Entry = {
      t,
      dst: flow.dst_ip,
      dport: flow.dst_port,
      s0: S0_STATES.has(flow.conn_state),
      rej: REJ_STATES.has(flow.conn_state),
    };
    if (t > src.clock) src.clock = t;
    src.entries.push(e);
    src.tAgg.add(e);
    src.nAgg.add(e);
    const E = src.entries;
    // count window: last N entries
    while (src.nAgg.n > this.N) src.nAgg.remove(E[src.nLo++]!);
    // time window: entries that started within T of the source clock (and at most maxEntries)
    while (src.tAgg.n > 0 && (E[src.tLo]!.t < src.clock - this.T || src.tAgg.n > this.maxEntries)) {
      if (E[src.tLo]!.t >= src.clock - this.T) bump(this.counters, 'window_entries_capped');
      src.tAgg.remove(E[src.tLo++]!);
    }
    const drop = Math.min(src.tLo, src.nLo);
    if (drop > 1024 && drop * 2 > E.length) {
      src.entries = E.slice(drop);
      src.tLo -= drop;
      src.nLo -= drop;
    }
    const ta = src.tAgg;
    f.src_t_count = ta.n;
    f.src_t_distinct_dst_ports = ta.ports.size;
    f.src_t_distinct_dst_hosts = ta.hosts.size;
    f.src_t_s0_rate = ta.s0 / ta.n;
    f.src_t_rej_rate = ta.rej / ta.n;
    f.src_t_same_dport_rate = (ta.ports.get(e.dport) ?? 0) / ta.n;
    const na = src.nAgg;
    f.src_n_count = na.n;
    f.src_n_distinct_dst_ports = na.ports.size;
    f.src_n_distinct_dst_hosts = na.hosts.size;
    f.src_n_s0_rate = na.s0 / na.n;
    f.src_n_rej_rate = na.rej / na.n;
    f.src_n_same_dport_rate = (na.ports.get(e.dport) ?? 0) / na.n;
  }

  /** Sources currently remembered. */
  get size(): number {
    return this.sources.size;
  }

  private sweepSources(): void {
    for (const [k, s] of this.sources) {
      if (s.clock >= this.clock - this.sourceIdle) break;
      this.sources.delete(k);
      bump(this.counters, 'window_sources_expired');
    }
  }
}

/** Batch mode: sort flows by start_time (stable) and set every flow's window features. */
export function applyWindows(flows: Flow[], opts: WindowOptions = {}, counters: Counters = {}): Flow[] {
  const sorted = flows
    .map((f, i) => [f, i] as const)
    .sort((a, b) => a[0].start_time - b[0].start_time || a[1] - b[1])
    .map(([f]) => f);
  const w = new WindowState(counters, opts);
  for (const f of sorted) w.push(f);
  return sorted;
}
