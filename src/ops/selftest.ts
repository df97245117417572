/**
 * Self-test of a deployed pipeline: inject a recorded attack into the source a running watcher
 * follows and check that its alerts come out of the other end (the alert file) within a time limit.
 *
 * - A directory source gets a copy of an attack capture (classic pcap) with one packet appended
 *   (a copy of the last packet, one second later): the bytes differ on every run, so the
 *   watcher's content-derived event ids are new and its de-duplication cannot hide the alerts.
 *   The copy is written under a hidden name and renamed, so the watcher never reads it half-written.
 * - A Zeek conn.log source gets appended lines of a SYN scan (one source, many ports, no
 *   replies) in the file's own `#fields` order, from an address chosen for this run.
 *
 * Passing means at least `minAlerts` alerts naming the injected capture (or the injected source
 * address) appear in the alert file before the deadline. Every result is one JSON line appended
 * to the results file (default `selftest.jsonl` beside the alerts), which the web app's Live page
 * and the stats show.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.ts';

export const SELFTEST_FILE = 'selftest.jsonl';

export interface SelfTestOptions {
  /** The watcher's source: a directory of captures or a Zeek conn.log. */
  source: string;
  /** The watcher's alert file. */
  alerts: string;
  /** Attack capture injected into a directory source (classic pcap). */
  capture?: string;
  timeoutMs?: number;
  minAlerts?: number;
  pollMs?: number;
  /** Results file (default: selftest.jsonl beside the alerts). */
  results?: string;
  /** What the model itself says about the injected attack (scored offline), for the diagnosis. */
  offlineFlagged?: { flows: number; flagged: number } | null;
  now?: () => Date;
}

export interface SelfTestResult {
  '@timestamp': string;
  passed: boolean;
  source: string;
  alerts: string;
  injected: string;
  kind: 'pcap' | 'zeek';
  alertsSeen: number;
  minAlerts: number;
  /** Seconds from injection to the first matching alert (null when none came). */
  latencySeconds: number | null;
  timeoutSeconds: number;
  /** Flows of the injected capture the model flags when scored offline (when a model was given). */
  offline?: { flows: number; flagged: number };
  reason: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A copy of a classic pcap with the last packet repeated one second later (unique bytes). */
export function uniqueCapture(bytes: Buffer, nonce: number): Buffer {
  if (bytes.length < 24) throw new InputError('selftest capture: shorter than a pcap header');
  const magic = bytes.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const be = bytes.readUInt32BE(0) === 0xa1b2c3d4 || bytes.readUInt32BE(0) === 0xa1b23c4d;
  if (!le && !be)
    throw new InputError('selftest capture: not a classic pcap file (pcapng is not supported here)');
  const u32 = (o: number) => (le ? bytes.readUInt32LE(o) : bytes.readUInt32BE(o));
  let off = 24;
  let last = -1;
  while (off + 16 <= bytes.length) {
    const incl = u32(off + 8);
    if (off + 16 + incl > bytes.length) break;
    last = off;
    off += 16 + incl;
  }
  if (last < 0) throw new InputError('selftest capture: no complete packet');
  const incl = u32(last + 8);
  const rec = Buffer.from(bytes.subarray(last, last + 16 + incl));
  const write = (o: number, v: number) =>
    le ? rec.writeUInt32LE(v >>> 0, o) : rec.writeUInt32BE(v >>> 0, o);
  write(0, u32(last) + 1 + (nonce % 3600));
  write(4, nonce % 1_000_000);
  return Buffer.concat([bytes.subarray(0, off), rec]);
}

/** Zeek conn.log lines of a SYN scan from `src` in the file's own column order. */
export function scanLines(fields: readonly string[], src: string, t0: number, n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const v: Record<string, string> = {
      ts: (t0 + i * 0.01).toFixed(6),
      uid: `Cst${randomBytes(6).toString('hex')}`,
      'id.orig_h': src,
      'id.orig_p': String(40000 + (i % 20000)),
      'id.resp_h': '192.0.2.200',
      'id.resp_p': String(1 + i),
      proto: 'tcp',
      duration: '0.000000',
      orig_bytes: '0',
      resp_bytes: '0',
      conn_state: 'S0',
      missed_bytes: '0',
      history: 'S',
      orig_pkts: '1',
      orig_ip_bytes: '44',
      resp_pkts: '0',
      resp_ip_bytes: '0',
    };
    out.push(fields.map((f) => v[f] ?? '-').join('\t'));
  }
  return `${out.join('\n')}\n`;
}

async function zeekFields(path: string): Promise<string[]> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(65536);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const line = buf
      .subarray(0, bytesRead)
      .toString('utf8')
      .split('\n')
      .find((l) => l.startsWith('#fields'));
    if (!line)
      throw new InputError(`${path}: not a Zeek TSV log (no #fields line): cannot inject a self-test`);
    return line.split('\t').slice(1);
  } finally {
    await fh.close();
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** Alerts appended to `path` after `offset` that satisfy `match`. */
async function matchingAlerts(path: string, offset: number, match: (a: Record<string, unknown>) => boolean) {
  let text: string;
  try {
    const fh = await open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      const buf = Buffer.alloc(Math.max(0, size - offset));
      await fh.read(buf, 0, buf.length, offset);
      text = buf.toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return 0;
  }
  let n = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const a = JSON.parse(line) as Record<string, unknown>;
      if (match(a)) n++;
    } catch {
      // a line still being written
    }
  }
  return n;
}

function get(o: unknown, path: string): unknown {
  let cur = o;
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

const isAlert = (a: Record<string, unknown>) => get(a, 'event.kind') === 'alert' || a.event_type === 'alert';

/** Inject, wait, record. Throws only for bad options; a failed test is a result with passed = false. */
export async function runSelfTest(opts: SelfTestOptions): Promise<SelfTestResult> {
  const now = opts.now ?? (() => new Date());
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const minAlerts = opts.minAlerts ?? 1;
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(opts.source);
  } catch {
    throw new InputError(`${opts.source}: the watcher's source does not exist`);
  }
  const startOffset = await fileSize(opts.alerts);
  const started = Date.now();
  const nonce = Math.floor(Math.random() * 2 ** 31);
  let injected: string;
  let kind: SelfTestResult['kind'];
  let match: (a: Record<string, unknown>) => boolean;
  if (st.isDirectory()) {
    if (!opts.capture)
      throw new InputError('selftest: a directory source needs --capture FILE (an attack pcap)');
    const bytes = uniqueCapture(await readFile(opts.capture), nonce);
    const name = `selftest-${now().toISOString().replace(/[:.]/g, '-')}-${nonce.toString(16)}.pcap`;
    const tmp = join(opts.source, `.${name}.tmp`);
    await writeFile(tmp, bytes);
    await rename(tmp, join(opts.source, name));
    injected = join(opts.source, name);
    kind = 'pcap';
    match = (a) => {
      const file = get(a, 'netanomaly.input.file') ?? get(a, 'alert.metadata.netanomaly.input.file');
      return isAlert(a) && typeof file === 'string' && basename(file) === name;
    };
  } else {
    const fields = await zeekFields(opts.source);
    // 198.18.0.0/15 (benchmarking range): never a real host; the low bits name this run
    const src = `198.18.${(nonce >> 8) & 255}.${nonce & 255}`;
    await appendFile(opts.source, scanLines(fields, src, Date.now() / 1000, 200));
    injected = `${opts.source} (200 SYN-scan records from ${src})`;
    kind = 'zeek';
    match = (a) => isAlert(a) && (get(a, 'source.ip') === src || a.src_ip === src);
  }
  let seen = 0;
  let latency: number | null = null;
  while (Date.now() - started < timeoutMs) {
    seen = await matchingAlerts(opts.alerts, startOffset, match);
    if (seen > 0 && latency === null) latency = (Date.now() - started) / 1000;
    if (seen >= minAlerts) break;
    await sleep(opts.pollMs ?? 250);
  }
  const passed = seen >= minAlerts;
  const result: SelfTestResult = {
    '@timestamp': now().toISOString(),
    passed,
    source: opts.source,
    alerts: opts.alerts,
    injected,
    kind,
    alertsSeen: seen,
    minAlerts,
    latencySeconds: latency,
    timeoutSeconds: timeoutMs / 1000,
    ...(opts.offlineFlagged ? { offline: opts.offlineFlagged } : {}),
    reason: passed
      ? `${seen} alert(s) for the injected attack in ${latency!.toFixed(1)} s`
      : seen > 0
        ? `only ${seen} of ${minAlerts} alerts for the injected attack within ${timeoutMs / 1000} s`
        : opts.offlineFlagged?.flagged === 0
          ? `no alert for the injected attack within ${timeoutMs / 1000} s: the model does not flag it even offline`
          : `no alert for the injected attack within ${timeoutMs / 1000} s: is the watcher running on ${opts.source}, ` +
            `can it write ${opts.alerts}${opts.offlineFlagged ? '' : ', and does its model flag the attack'}?`,
  };
  const results = opts.results ?? join(dirname(opts.alerts), SELFTEST_FILE);
  await appendFile(results, `${JSON.stringify(result)}\n`);
  return result;
}

/** The last result in a results file (null when there is none). */
export async function lastSelfTest(path: string): Promise<SelfTestResult | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return null;
  }
  const lines = text.trimEnd().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const r = JSON.parse(lines[i]!);
      if (r && typeof r.passed === 'boolean') return r as SelfTestResult;
    } catch {
      // torn line
    }
  }
  return null;
}
