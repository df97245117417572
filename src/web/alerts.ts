/**
 * The Live page's data: the tail of an alert file written by the streaming watcher (ECS JSON
 * lines), flattened to a few fields, with counts per minute. Only the last `tailBytes` are read,
 * so a large file costs the same as a small one; bad lines are counted, never fatal.
 */
import { open, stat } from 'node:fs/promises';
import { alertKey, decide, type FeedbackFile } from '../ops/feedback.ts';

export interface AlertRow {
  timestamp: string;
  id: string;
  score: number | null;
  risk: number | null;
  src: string;
  /** Source address alone (for feedback on the host). */
  srcIp: string;
  dst: string;
  cluster: string;
  message: string;
  /** A known-bad verdict matched this alert (analyst feedback). */
  knownBad?: boolean;
}

export interface AlertTail {
  configured: boolean;
  available: boolean;
  file?: string;
  sizeBytes?: number;
  modified?: string;
  linesRead: number;
  badLines: number;
  alerts: AlertRow[];
  perMinute: { minute: string; count: number }[];
  /** Alerts hidden by benign feedback (still in the file), and the feedback revision applied. */
  suppressed: number;
  feedbackRevision: number;
  /** The watcher's latest stats record in view (input health), null when none. */
  health: WatcherHealth | null;
}

export interface WatcherHealth {
  at: string;
  status: string;
  secondsSinceLastRecord: number | null;
  recordsPerSecond: number | null;
  lossy: boolean;
  lossReasons: string[];
  budget: { per_hour: number; alerts_last_hour: number; ratio: number; over: boolean } | null;
  captureLossPct: number | null;
  /** The watcher's drift summary against the model's reference, when it computes one. */
  drift: Record<string, unknown> | null;
}

function watcherHealth(r: Record<string, unknown>): WatcherHealth {
  const st = (get(r, 'netanomaly.stats') ?? {}) as Record<string, unknown>;
  const input = (st.input ?? {}) as Record<string, unknown>;
  const reasons = Array.isArray(input.loss_reasons) ? input.loss_reasons.map((x) => str(x, 200)) : [];
  const budget = input.budget as WatcherHealth['budget'] | undefined;
  return {
    at: str(get(r, '@timestamp'), 40),
    status: str(st.health, 20),
    secondsSinceLastRecord: num(st.seconds_since_last_record),
    recordsPerSecond: num(input.records_per_s),
    lossy: input.lossy === true,
    lossReasons: reasons.slice(0, 5),
    budget: budget && typeof budget.per_hour === 'number' ? budget : null,
    captureLossPct: num(get(st, 'capture.loss_pct')),
    drift: st.drift && typeof st.drift === 'object' ? (st.drift as Record<string, unknown>) : null,
  };
}

/** A dotted ECS key from nested or flat ("source.ip") objects. */
function get(obj: Record<string, unknown>, key: string): unknown {
  if (key in obj) return obj[key];
  let cur: unknown = obj;
  for (const part of key.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

const str = (v: unknown, max = 200): string =>
  v === undefined || v === null ? '' : (typeof v === 'string' ? v : JSON.stringify(v)).slice(0, max);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function endpoint(o: Record<string, unknown>, side: 'source' | 'destination'): string {
  const ip = str(get(o, `${side}.ip`), 60);
  const port = get(o, `${side}.port`);
  return ip && typeof port === 'number' ? `${ip}:${port}` : ip;
}

export async function tailAlerts(
  file: string | undefined,
  limit = 50,
  tailBytes = 1 << 20,
  feedback: FeedbackFile | null = null,
): Promise<AlertTail> {
  const empty: AlertTail = {
    configured: Boolean(file),
    available: false,
    linesRead: 0,
    badLines: 0,
    alerts: [],
    perMinute: [],
    suppressed: 0,
    feedbackRevision: feedback?.revision ?? 0,
    health: null,
  };
  if (!file) return empty;
  let size: number;
  let mtime: Date;
  try {
    const st = await stat(file);
    if (!st.isFile()) return { ...empty, file };
    size = st.size;
    mtime = st.mtime;
  } catch {
    return { ...empty, file };
  }
  const start = Math.max(0, size - tailBytes);
  const fh = await open(file, 'r');
  let text: string;
  try {
    const buf = Buffer.alloc(size - start);
    const { bytesRead } = await fh.read(buf, 0, buf.length, start);
    text = buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
  let lines = text.split('\n');
  if (start > 0) lines = lines.slice(1); // first line may be cut
  if (!text.endsWith('\n')) lines.pop(); // last line may still be being written
  let bad = 0;
  const rows: AlertRow[] = [];
  const minutes = new Map<string, number>();
  let read = 0;
  let suppressed = 0;
  let health: WatcherHealth | null = null;
  for (const line of lines) {
    if (line.trim() === '') continue;
    read++;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      bad++;
      continue;
    }
    if (o === null || typeof o !== 'object' || Array.isArray(o)) {
      bad++;
      continue;
    }
    const r = o as Record<string, unknown>;
    // the watcher's stats and warning records (event.kind 'metric' / 'event') share the file
    const kind = get(r, 'event.kind');
    if (kind !== undefined && kind !== 'alert') {
      if (get(r, 'event.dataset') === 'netanomaly.stats') health = watcherHealth(r);
      read--;
      continue;
    }
    const verdict = feedback ? decide(feedback, alertKey(r)) : null;
    if (verdict?.suppressed) {
      suppressed++;
      continue;
    }
    const ts = str(get(r, '@timestamp'), 40);
    const t = Date.parse(ts);
    if (Number.isFinite(t)) {
      const m = new Date(Math.floor(t / 60000) * 60000).toISOString().slice(0, 16);
      minutes.set(m, (minutes.get(m) ?? 0) + 1);
    }
    rows.push({
      timestamp: ts,
      id: str(get(r, 'event.id'), 80),
      // host alerts (watcher host windows) carry the host window's score
      score: num(get(r, 'netanomaly.anomaly_score') ?? get(r, 'netanomaly.host.score')),
      risk: num(get(r, 'netanomaly.risk_score') ?? get(r, 'event.risk_score')),
      src: endpoint(r, 'source'),
      srcIp: str(get(r, 'source.ip'), 60),
      dst: endpoint(r, 'destination'),
      cluster: str(
        get(r, 'netanomaly.kmeans.cluster_label') ??
          get(r, 'netanomaly.kmeans.cluster') ??
          get(r, 'netanomaly.cluster_name') ??
          get(r, 'netanomaly.cluster'),
        60,
      ),
      message: str(get(r, 'message'), 200),
      ...(verdict?.knownBad ? { knownBad: true } : {}),
    });
  }
  const perMinute = [...minutes.entries()]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .slice(-60)
    .map(([minute, count]) => ({ minute, count }));
  return {
    configured: true,
    available: true,
    file,
    sizeBytes: size,
    modified: mtime.toISOString(),
    linesRead: read,
    badLines: bad,
    alerts: rows.slice(-limit).reverse(),
    perMinute,
    suppressed,
    feedbackRevision: feedback?.revision ?? 0,
    health,
  };
}
