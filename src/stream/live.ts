/**
 * Live capture source for the watcher: SOURCE `iface:NAME` (e.g. `iface:lo`).
 *
 * No native module: Wireshark's `dumpcap -i NAME -w - -P -q` (classic pcap on stdout) is spawned
 * and its byte stream goes through our own pcap parser (`readPacketStream`), the packet decoder
 * and the FlowMeter. Flows end on packet time (idle/active/close timeouts, as for files) AND on a
 * wall-clock tick (`FlowMeter.expire(now - GRACE_S)`), so flows still complete when traffic stops.
 * Completed flows get their window features (WindowState, in completion order), are scored in
 * micro-batches and their alerts appended through the watcher's sink (same ECS/EVE builders).
 *
 * Delivery: AT-MOST-ONCE across restarts. Live traffic has no replayable position: flows held in
 * the meter or the batch in flight when the process dies are lost (a clean SIGINT/SIGTERM stops
 * dumpcap, reads what it had buffered, flushes every open flow, scores and writes the alerts).
 * `--checkpoint` is ignored. event.id = sha256("live\0" + interface + "\0" + flow start time +
 * "\0" + Community ID + "\0" + flow index in this run); `input.offset` is that flow index.
 *
 * Capture loss: dumpcap's received/dropped counters (pcap_stats: kernel + dumpcap drops) are read
 * from its exit report and written in the stats record (`capture`), as Zeek's capture_loss does;
 * before dumpcap stops only the packet count is known (received/dropped/loss_pct null).
 *
 * Errors (one line, naming the interface): dumpcap missing, permission denied, no such interface,
 * dumpcap dying during the capture.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { InputError } from '../errors.ts';
import { decodePacket } from '../ingest/traffic/decode.ts';
import { FlowMeter } from '../ingest/traffic/flow-meter.ts';
import { type Counters, readPacketStream } from '../ingest/traffic/pcap.ts';
import type { Flow } from '../ingest/traffic/schema.ts';
import { WindowState } from '../ingest/traffic/windows.ts';
import { type CaptureStats, sha256, type WatchCounters } from './alerts.ts';
import type { PendingRecord, WatchOptions, WatchResult } from './watcher.ts';

export const LIVE_PREFIX = 'iface:';
/** Seconds the wall-clock expiry lags behind now (packets reach us through dumpcap's buffers). */
const GRACE_S = 1;

/** What the live source needs from the Watcher (its scoring, delivery and periodic duties). */
export interface LiveHost {
  opts: WatchOptions;
  batch: number;
  pollMs: number;
  counters: WatchCounters;
  score(recs: PendingRecord[]): Promise<Record<string, unknown>[]>;
  deliver(records: Record<string, unknown>[]): Promise<boolean>;
  tick(force?: boolean): Promise<void>;
  noteRecords(n: number): void;
  quarantine(reason: string, n?: number): void;
  log(line: string): void;
  finish(stopped: WatchResult['stopped'], committed: boolean): WatchResult;
  setCapture(stats: () => CaptureStats): void;
}

const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** What `FlowBatches.sendDue` did: no batch was due, one was scored and delivered, or the sink gave up. */
export type BatchOutcome = 'idle' | 'delivered' | 'refused';

/**
 * Completed flows on their way to scoring, for the live and flow-export sources: each gets its
 * window features (in completion order) and its index in this run (part of its event id). A batch
 * is due when `batch` flows wait, `pollMs` has passed since the last one, or the source has ended.
 */
export class FlowBatches<F extends Flow> {
  private readonly queue: { flow: F; index: number }[] = [];
  private nextIndex = 0;
  private lastBatchAt = Date.now();

  constructor(
    private readonly h: LiveHost,
    private readonly windows: WindowState,
    /** The record to score for a flow (its event id and input position). */
    private readonly toRecord: (flow: F, index: number) => PendingRecord,
  ) {}

  /** Flows waiting to be scored. */
  get waiting(): number {
    return this.queue.length;
  }

  add(flows: F[]): void {
    for (const flow of flows) {
      this.windows.push(flow);
      this.queue.push({ flow, index: this.nextIndex++ });
    }
  }

  /** Score and deliver the next batch if one is due (`ended`: no more flows will come). */
  async sendDue(ended: boolean): Promise<BatchOutcome> {
    const h = this.h;
    const due = this.queue.length >= h.batch || Date.now() - this.lastBatchAt >= h.pollMs || ended;
    if (this.queue.length === 0 || !due) return 'idle';
    const chunk = this.queue.splice(0, h.batch);
    this.lastBatchAt = Date.now();
    h.counters.read += chunk.length;
    h.counters.parsed += chunk.length;
    h.noteRecords(chunk.length);
    const alerts = await h.score(chunk.map(({ flow, index }) => this.toRecord(flow, index)));
    if (!(await h.deliver(alerts))) return 'refused';
    h.counters.batches++;
    await h.tick();
    return 'delivered';
  }
}

/** The dumpcap argument vector for an interface (classic pcap on stdout, no packet counts). */
export function dumpcapArgs(iface: string): string[] {
  return ['-i', iface, '-w', '-', '-P', '-q'];
}

/** One line from dumpcap's stderr report: "dumpcap: msg" + "(cause)" joined, or null. */
export function dumpcapError(stderr: string): string | null {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim());
  const i = lines.findIndex((l) => l.startsWith('dumpcap: '));
  if (i < 0) return null;
  let msg = lines[i]!.slice('dumpcap: '.length).replace(/\.$/, '');
  const next = lines[i + 1];
  if (next && /^\(.*\)$/.test(next)) msg += ` ${next}`;
  return msg;
}

/** dumpcap's exit report: "Packets received/dropped on interface 'X': R/D (...)". */
export function dumpcapDrops(stderr: string): { received: number; dropped: number } | null {
  const m = /Packets received\/dropped on interface '[^']*': (\d+)\/(\d+)/.exec(stderr);
  return m ? { received: Number(m[1]), dropped: Number(m[2]) } : null;
}

interface Capture {
  child: ChildProcess;
  stderr: () => string;
  closed: Promise<number | null>;
}

async function startDumpcap(iface: string, signal?: AbortSignal): Promise<Capture | null> {
  const what = `cannot capture on interface ${iface}`;
  const child = spawn('dumpcap', dumpcapArgs(iface), { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    if (err.length < 64 * 1024) err += d;
  });
  let spawnError: NodeJS.ErrnoException | null = null;
  child.on('error', (e: NodeJS.ErrnoException) => {
    spawnError = e;
  });
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  // the pcap file header arrives at once when the capture opened; else stdout ends
  const ready = once(child.stdout!, 'readable').then(() => child.stdout!.readableLength > 0);
  const aborted = new Promise<'abort'>((resolve) => {
    if (signal?.aborted) resolve('abort');
    signal?.addEventListener('abort', () => resolve('abort'), { once: true });
  });
  const r = await Promise.race([ready, closed.then(() => false), aborted]);
  if (r === 'abort') {
    child.kill('SIGTERM');
    await closed;
    return null;
  }
  if (r === true) return { child, stderr: () => err, closed };
  const code = await closed;
  const se = spawnError as NodeJS.ErrnoException | null;
  if (se?.code === 'ENOENT')
    throw new InputError(
      `iface:${iface}: ${what}: dumpcap not found on PATH (install Wireshark's dumpcap: scripts/install-system-deps.sh)`,
    );
  if (se) throw new InputError(`iface:${iface}: ${what}: cannot run dumpcap (${se.message})`);
  const msg = dumpcapError(err) ?? (err.trim().split('\n').pop() || `dumpcap exited with code ${code}`);
  throw new InputError(`iface:${iface}: ${what}: ${msg}`);
}

/** Run the watcher on a live interface until the signal aborts it (or dumpcap stops). */
export async function runLive(h: LiveHost): Promise<WatchResult> {
  const source = h.opts.source;
  const iface = source.slice(LIVE_PREFIX.length);
  if (!/^[A-Za-z0-9_.:@-]{1,64}$/.test(iface))
    throw new InputError(`${source}: not an interface name (expected iface:NAME, e.g. iface:lo)`);
  if (h.opts.checkpoint)
    h.log(`${source}: live capture has no replayable position; --checkpoint ignored (at-most-once)`);
  const signal = h.opts.signal;
  const cap = await startDumpcap(iface, signal);
  if (!cap) return h.finish('signal', true);
  h.log(`${source}: capturing with dumpcap (pid ${cap.child.pid})`);

  const tc: Counters = {};
  const warnings: string[] = [];
  const meter = new FlowMeter(tc, h.opts.meter);
  const windows = new WindowState(tc, h.opts.windows);
  let notDecoded = 0;
  let notDecodedReported = 0;
  let drops: { received: number; dropped: number } | null = null;
  h.setCapture(() => ({
    interface: iface,
    packets: tc.packets ?? 0,
    received: drops?.received ?? null,
    dropped: drops?.dropped ?? null,
    loss_pct:
      drops === null
        ? null
        : drops.received + drops.dropped === 0
          ? 0
          : Math.round((10_000 * drops.dropped) / (drops.received + drops.dropped)) / 100,
  }));
  const batches = new FlowBatches<Flow>(h, windows, (flow, index) => ({
    flow,
    eventId: sha256(`live\0${iface}\0${flow.start_time}\0${flow.community_id}\0${index}`),
    input: { format: 'live-capture', file: source, offset: index },
  }));

  const maxPending = h.batch * 16;
  let stopping = false;
  let pumpDone = false;
  let pumpError: Error | null = null;
  const pump = (async () => {
    for await (const p of readPacketStream(cap.child.stdout!, tc, warnings, source)) {
      const d = decodePacket(p.linktype, p.data, p.ts, tc);
      if (!d) notDecoded++;
      else batches.add(meter.add(d));
      // backpressure: dumpcap (then the kernel) buffers while scoring catches up; drops show as loss
      while (batches.waiting >= maxPending && !stopping) await wait(5);
    }
  })().then(
    () => {
      pumpDone = true;
    },
    (e: Error) => {
      pumpError = e;
      pumpDone = true;
    },
  );

  let flushed = false;
  try {
    for (;;) {
      if (signal?.aborted && !stopping) {
        stopping = true;
        cap.child.kill('SIGTERM');
      }
      if (pumpDone && !flushed) {
        flushed = true;
        batches.add(meter.flush());
      } else if (!pumpDone) batches.add(meter.expire(Date.now() / 1000 - GRACE_S));
      if (notDecoded > notDecodedReported) {
        h.quarantine('pcap_packets_not_decoded', notDecoded - notDecodedReported);
        notDecodedReported = notDecoded;
      }
      const sent = await batches.sendDue(pumpDone);
      if (sent === 'refused') {
        cap.child.kill('SIGTERM');
        return h.finish('signal', false);
      }
      if (sent === 'delivered') continue;
      if (pumpDone && batches.waiting === 0) break;
      await h.tick();
      await wait(stopping ? 20 : Math.min(h.pollMs, 100));
    }
    await pump;
    const code = await cap.closed;
    drops = dumpcapDrops(cap.stderr());
    for (const w of warnings.slice(0, 5)) h.log(w);
    if (pumpError)
      throw new InputError(`${source}: capture stream unreadable: ${(pumpError as Error).message}`);
    if (!stopping) {
      const msg = dumpcapError(cap.stderr()) ?? `dumpcap exited with code ${code}`;
      h.finish('eof', true);
      throw new InputError(`${source}: capture on interface ${iface} stopped: ${msg}`);
    }
    return h.finish('signal', true);
  } finally {
    stopping = true;
    if (cap.child.exitCode === null && cap.child.signalCode === null) {
      cap.child.kill('SIGTERM');
      const t = setTimeout(() => cap.child.kill('SIGKILL'), 2000);
      await cap.closed;
      clearTimeout(t);
    }
  }
}
