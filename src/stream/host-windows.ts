/**
 * Streaming host windows for the watcher: the per-host scores of host-score.ts kept as flows
 * arrive, with bounded state, and a host alert when a window's score first crosses the model's
 * host threshold.
 *
 * - A window is (scope, source host, start_time floored to the calibration's window length).
 *   Scope separates clocks that must not share a window: one scope per followed file, stream or
 *   interface; one per capture for a directory of captures (closed when the capture is done).
 * - The window's score is the mean of its `topK` highest flow scores so far (all of them while it
 *   has fewer), the formula of `aggregateHosts`, so a finished window scores as `score` does.
 * - One alert per window: when its score first goes above the threshold. Flows that arrive later
 *   in that window do not alert again; they are its evidence (their flow alerts name the host
 *   alert's id), and the alert lists the top flows at the crossing with their Community IDs.
 * - The host alert's id is sha256("host\0" + scope + "\0" + host + "\0" + window start): a replay
 *   after a crash, or a restart that rebuilds the window, writes the same id and the alert sink
 *   drops it. The open windows are saved with the watcher's checkpoint (`snapshot` / `restore`),
 *   so after a crash or restart a window goes on from the flows it held at the last commit, and
 *   the records replayed after that commit are added once. (The flows' own traffic-window
 *   features, windows.ts, are not kept: flows just after a restart see a shorter history.)
 * - Bounded: windows older than `retainWindows` window lengths behind the newest window of their
 *   scope are closed (flows for them are counted late, not aggregated); at most `maxWindows` open
 *   windows, the least recently updated closed first (counted).
 */
import { z } from 'zod';
import type { HostCalibration } from '../model/host-score.ts';
import { sha256 } from './alerts.ts';

export interface HostWindowOptions {
  /** Most open windows kept (default 10,000); beyond it the least recently updated is closed. */
  maxWindows?: number;
  /** Windows kept open behind the newest window of their scope (default 2). */
  retainWindows?: number;
  /** Top flows listed as evidence (default 5). */
  evidence?: number;
}

export interface HostEvidence {
  communityId: string;
  anomalyScore: number;
  /** The event id of the flow's record (its flow alert's id when it alerted). */
  eventId: string;
}

/** What a host alert carries (alerts.ts turns it into an ECS / EVE record). */
export interface HostAlertInfo {
  eventId: string;
  host: string;
  windowStart: number;
  windowSeconds: number;
  hostScore: number;
  threshold: number;
  topK: number;
  /** Flows of the window so far, and how many were above the flow threshold. */
  flows: number;
  flaggedFlows: number;
  /** The window's top flows at the crossing, highest score first. */
  evidence: HostEvidence[];
}

/** A flow alert's link to its window's host alert (set once the window has alerted). */
export interface HostLink {
  eventId: string;
  hostScore: number;
  threshold: number;
  windowStart: number;
}

export interface HostWindowCounters {
  host_windows: number;
  host_alerts_raised: number;
  host_windows_closed: number;
  host_windows_capped: number;
  host_flows_late: number;
}

const EvidenceSchema = z.object({ communityId: z.string(), anomalyScore: z.number(), eventId: z.string() });

const WindowSchema = z.object({
  scope: z.string(),
  host: z.string(),
  start: z.number(),
  flows: z.number().int().min(0),
  flagged: z.number().int().min(0),
  /** Highest flows first, at most max(topK, evidence). */
  top: z.array(EvidenceSchema),
  link: z
    .object({ eventId: z.string(), hostScore: z.number(), threshold: z.number(), windowStart: z.number() })
    .nullable(),
});
type Window = z.infer<typeof WindowSchema>;

/** The open windows as the checkpoint keeps them (least recently updated first). */
export const HostWindowStateSchema = z.object({
  windowSeconds: z.number().positive(),
  windows: z.array(WindowSchema),
  /** Newest window start per scope. */
  newest: z.array(z.tuple([z.string(), z.number()])),
});
export type HostWindowState = z.infer<typeof HostWindowStateSchema>;

export interface HostFlow {
  srcIp: string;
  startTime: number;
  communityId: string;
  eventId: string;
  anomalyScore: number;
}

export class HostWindows {
  readonly counters: HostWindowCounters = {
    host_windows: 0,
    host_alerts_raised: 0,
    host_windows_closed: 0,
    host_windows_capped: 0,
    host_flows_late: 0,
  };
  /** Open windows by key; Map order = least recently updated first. */
  private readonly open = new Map<string, Window>();
  /** Newest window start seen per scope. */
  private readonly newest = new Map<string, number>();
  private readonly maxWindows: number;
  private readonly retain: number;
  private readonly keep: number;
  private readonly evidence: number;

  constructor(
    private readonly cal: HostCalibration,
    private readonly flowThreshold: number,
    opts: HostWindowOptions = {},
  ) {
    this.maxWindows = opts.maxWindows ?? 10_000;
    this.retain = opts.retainWindows ?? 2;
    this.evidence = opts.evidence ?? 5;
    this.keep = Math.max(cal.topK, this.evidence);
  }

  get size(): number {
    return this.open.size;
  }

  /**
   * Add one scored flow. Returns the host alert when this flow took its window over the threshold
   * for the first time, and the window's link when the window has alerted (now or before).
   */
  add(scope: string, f: HostFlow): { alert: HostAlertInfo | null; link: HostLink | null } {
    if (!Number.isFinite(f.startTime) || !Number.isFinite(f.anomalyScore)) return { alert: null, link: null };
    const w = this.cal.windowSeconds;
    const start = Math.floor(f.startTime / w) * w;
    const newest = this.newest.get(scope);
    if (newest !== undefined && start < newest - this.retain * w) {
      this.counters.host_flows_late++;
      return { alert: null, link: null };
    }
    if (newest === undefined || start > newest) {
      this.newest.set(scope, start);
      if (newest !== undefined) this.closeBefore(scope, start - this.retain * w);
    }
    const key = `${scope}\0${f.srcIp}\0${start}`;
    let win = this.open.get(key);
    if (win) this.open.delete(key);
    else {
      win = { scope, host: f.srcIp, start, flows: 0, flagged: 0, top: [], link: null };
      this.counters.host_windows++;
    }
    this.open.set(key, win); // most recently updated last
    if (this.open.size > this.maxWindows) {
      const oldest = this.open.keys().next().value as string;
      this.open.delete(oldest);
      this.counters.host_windows_capped++;
    }
    win.flows++;
    if (f.anomalyScore > this.flowThreshold) win.flagged++;
    insertTop(
      win.top,
      { communityId: f.communityId, anomalyScore: f.anomalyScore, eventId: f.eventId },
      this.keep,
    );
    if (win.link) return { alert: null, link: win.link };
    const k = Math.min(this.cal.topK, win.top.length);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += win.top[j]!.anomalyScore;
    const score = sum / k;
    if (!(score > this.cal.threshold)) return { alert: null, link: null };
    const eventId = sha256(`host\0${scope}\0${win.host}\0${start}`);
    win.link = { eventId, hostScore: score, threshold: this.cal.threshold, windowStart: start };
    this.counters.host_alerts_raised++;
    return {
      alert: {
        eventId,
        host: win.host,
        windowStart: start,
        windowSeconds: w,
        hostScore: score,
        threshold: this.cal.threshold,
        topK: this.cal.topK,
        flows: win.flows,
        flaggedFlows: win.flagged,
        evidence: win.top.slice(0, this.evidence).map((e) => ({ ...e })),
      },
      link: win.link,
    };
  }

  /** The open windows, for the checkpoint (copies: later flows do not change a snapshot). */
  snapshot(): HostWindowState {
    return {
      windowSeconds: this.cal.windowSeconds,
      windows: [...this.open.values()].map((w) => ({
        ...w,
        top: w.top.map((e) => ({ ...e })),
        link: w.link ? { ...w.link } : null,
      })),
      newest: [...this.newest],
    };
  }

  /**
   * Go on from a checkpoint's windows (replacing any open ones). False, and nothing restored, when
   * they were kept with another window length.
   */
  restore(state: HostWindowState): boolean {
    if (state.windowSeconds !== this.cal.windowSeconds) return false;
    this.open.clear();
    this.newest.clear();
    for (const w of state.windows.slice(-this.maxWindows))
      this.open.set(`${w.scope}\0${w.host}\0${w.start}`, {
        ...w,
        top: w.top.slice(0, this.keep),
      });
    for (const [scope, start] of state.newest) this.newest.set(scope, start);
    return true;
  }

  /** Close every window of a scope (a capture that has been read to its end). */
  endScope(scope: string): void {
    for (const [k, win] of this.open)
      if (win.scope === scope) {
        this.open.delete(k);
        this.counters.host_windows_closed++;
      }
    this.newest.delete(scope);
  }

  private closeBefore(scope: string, limit: number): void {
    for (const [k, win] of this.open)
      if (win.scope === scope && win.start < limit) {
        this.open.delete(k);
        this.counters.host_windows_closed++;
      }
  }
}

/** Insert into a list sorted by score (highest first), keeping at most `max`. */
function insertTop(top: HostEvidence[], e: HostEvidence, max: number): void {
  let i = top.length;
  while (i > 0 && top[i - 1]!.anomalyScore < e.anomalyScore) i--;
  if (i >= max) return;
  top.splice(i, 0, e);
  if (top.length > max) top.pop();
}
