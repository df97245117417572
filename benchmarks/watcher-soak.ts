/**
 * Watcher soak with faults: N records (default 1,000,000) appended to a growing Zeek conn.log
 * through the real `netanomaly watch` CLI (--min-score 0: every record alerts), with
 *
 *   - kill -9 of the watcher at random points (seeded), restarted from its checkpoint;
 *   - rotation by rename during load (conn.log → conn.log.N, a new conn.log with its header);
 *   - the alert file and the checkpoint on a small tmpfs that fills up: the shipper (this script,
 *     playing the log consumer that moves alerts off the box) pauses now and then, the disk fills,
 *     the watcher must hold back (retry, no commit), and carry on once space is freed.
 *
 * Checked: after every kill, the checkpoint is never ahead of durable alerts (every record before
 * the committed position has its alert on disk); at the end every record has an alert (0 lost) and
 * each record has a single event.id (0 duplicates after dedupe by event.id; replays are counted).
 *
 *   node_modules/.bin/tsx benchmarks/watcher-soak.ts [--records 1000000] [--kills 8]
 *        [--rotate-every 200000] [--tmpfs-mb 48] [--seed 7] [--json]
 *
 * Needs root (mount -t tmpfs); the tmpfs is unmounted at the end. Record i is the connection from
 * 10.a.b.c with a.b.c = i in base 256 and source port 1024 + (i >> 24), so each alert names its record.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { trainedModel, ZEEK_HEADER } from '../test/stream/helpers.ts';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const N = Number(arg('records', '1000000'));
const KILLS = Number(arg('kills', '8'));
const ROTATE_EVERY = Number(arg('rotate-every', '200000'));
const TMPFS_MB = Number(arg('tmpfs-mb', '48'));
let seed = Number(arg('seed', '7'));
const rand = () => {
  // mulberry32: a seeded schedule of kills and pauses
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const root = new URL('../', import.meta.url).pathname;
const work = join(root, 'test-output', `watcher-soak-${process.pid}`);
const src = join(work, 'src');
const sink = join(work, 'sink');
mkdirSync(src, { recursive: true });
mkdirSync(sink, { recursive: true });
execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_MB}m`, 'tmpfs', sink]);
const alerts = join(sink, 'alerts.jsonl');
const checkpoint = join(sink, 'checkpoint.json');
const log = join(src, 'conn.log');

function row(i: number): string {
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const sf = i % 3 !== 0;
  return [
    (1_700_000_000 + i * 0.001).toFixed(6),
    `C${i.toString(36)}`,
    ip,
    String(1024 + (i >> 24)),
    '192.0.2.10',
    sf ? '443' : '80',
    'tcp',
    sf ? 'ssl' : '-',
    sf ? '1.250000' : '0.000000',
    sf ? '517' : '0',
    sf ? '4211' : '0',
    sf ? 'SF' : 'S0',
    '-',
    '-',
    '0',
    sf ? 'ShADadFf' : 'S',
    sf ? '12' : '1',
    sf ? '1141' : '44',
    sf ? '10' : '0',
    sf ? '4743' : '0',
    '-',
  ].join('\t');
}
const indexOfIp = (ip: string): number => {
  const p = ip.split('.').map(Number);
  return (p[1]! << 16) | (p[2]! << 8) | p[3]!;
};

// What the consumer has seen: per record, the first 32 bits of its event.id (0 = none yet).
const firstId = new Uint32Array(N);
let replays = 0;
let conflicting = 0;
let alertRecords = 0;
let shippedFiles = 0;
const idBits = (id: string) => Number.parseInt(id.slice(0, 8), 16) || 1;

function consume(path: string): void {
  const text = readFileSync(path, 'utf8');
  for (const l of text.split('\n')) {
    if (!l.startsWith('{')) continue;
    const r = JSON.parse(l);
    if (r.event?.kind !== 'alert') continue;
    alertRecords++;
    const i = indexOfIp(r.source.ip);
    const id = idBits(r.event.id);
    if (firstId[i] === 0) firstId[i] = id;
    else if (firstId[i] === id) replays++;
    else conflicting++;
  }
  unlinkSync(path);
}

let watcher: ChildProcess | null = null;
let watcherExit: Promise<void> = Promise.resolve();
let stderrTail = '';
/** --stderr FILE keeps the watcher's whole log (rotations, degraded sink...) for a post-mortem. */
const stderrLog = arg('stderr', '');
/** Times the watcher said its alert file or checkpoint could not be written (the disk was full). */
let sinkDegraded = 0;
let checkpointDegraded = 0;

function openByWatcher(path: string): boolean {
  if (!watcher?.pid) return false;
  try {
    for (const fd of readdirSync(`/proc/${watcher.pid}/fd`)) {
      try {
        if (readlinkSync(`/proc/${watcher.pid}/fd/${fd}`) === path) return true;
      } catch {}
    }
  } catch {}
  return false;
}

/** Move the alert file away (rename on the tmpfs, then read and delete it), freeing its space. */
async function ship(): Promise<void> {
  if (!existsSync(alerts)) return;
  const moved = join(sink, `shipping-${shippedFiles++}.jsonl`);
  renameSync(alerts, moved);
  while (openByWatcher(moved)) await sleep(20);
  consume(moved);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function startWatcher(model: string): void {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'src/cli/main.ts'),
      'watch',
      log,
      '--model',
      model,
      '--alerts',
      alerts,
      '--checkpoint',
      checkpoint,
      '--batch',
      '1000',
      '--min-score',
      '0',
      '--stats-interval',
      '3600',
      '--stale-after',
      '3600',
      '--poll-ms',
      '50',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: root },
  );
  child.stderr!.on('data', (c) => {
    const text = String(c);
    sinkDegraded += (text.match(/alert sink degraded/g) ?? []).length;
    checkpointDegraded += (text.match(/checkpoint degraded/g) ?? []).length;
    stderrTail = (stderrTail + text).slice(-4000);
    if (stderrLog) appendFileSync(stderrLog, text);
  });
  watcher = child;
  watcherExit = new Promise((r) => child.once('exit', () => r()));
}

/** Highest record index whose line lies before the checkpoint's offset (−1 when none). */
let lastCommitted = -1;
function committedIndex(): number {
  if (!existsSync(checkpoint)) return lastCommitted;
  let cp: { file: { ino: number } | null; offset: number };
  try {
    cp = JSON.parse(readFileSync(checkpoint, 'utf8'));
  } catch {
    return lastCommitted;
  }
  if (!cp.file || cp.offset === 0) return lastCommitted;
  const file = readdirSync(src)
    .map((n) => join(src, n))
    .find((p) => statSync(p).ino === cp.file!.ino);
  if (!file) throw new Error(`checkpoint names inode ${cp.file.ino}, no such file in ${src}`);
  const fd = openSync(file, 'r');
  const len = Math.min(cp.offset, 64 * 1024);
  const buf = Buffer.alloc(len);
  readSync(fd, buf, 0, len, cp.offset - len);
  closeSync(fd);
  const lines = buf
    .toString('utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'));
  const last = lines.at(-1);
  if (last) lastCommitted = Math.max(lastCommitted, indexOfIp(last.split('\t')[2]!));
  return lastCommitted;
}

const t0 = Date.now();
const model = await trainedModel();
writeFileSync(log, `${ZEEK_HEADER}\n`);
startWatcher(model);

// The schedule: kills spread over the run, shipping pauses (disk fills) between them.
const killAt = Array.from({ length: KILLS }, () => Math.floor(rand() * N)).sort((a, b) => a - b);
const checks: { at: number; committed: number; durableBelow: number; ok: boolean }[] = [];
let written = 0;
let rotations = 0;
let fullEpisodes = 0;
let pausedUntil = 0;
let lastShip = Date.now();
const CHUNK = 2000;
let failure = '';

while (written < N || committedIndex() < N - 1) {
  // Writer: keep at most 60 000 records ahead of the committed position.
  const committed = committedIndex();
  if (written < N && written - committed < 60_000) {
    const to = Math.min(N, written + CHUNK);
    let text = '';
    for (let i = written; i < to; i++) text += `${row(i)}\n`;
    appendFileSync(log, text);
    written = to;
    // Rotate only once the watcher has committed: a file rotated away before any reader opened it
    // is out of anyone's reach (the watcher has no checkpoint naming it).
    if (Math.floor(written / ROTATE_EVERY) > rotations && written < N && committed >= 0) {
      rotations++;
      renameSync(log, join(src, `conn.log.${rotations}`));
      writeFileSync(log, `${ZEEK_HEADER}\n`);
    }
  }
  // Killer.
  if (killAt.length > 0 && committed >= killAt[0]!) {
    killAt.shift();
    // A random moment of the next 0-4 s: scoring, the alert write, the fsync or the commit.
    await sleep(rand() * 4000);
    watcher!.kill('SIGKILL');
    await watcherExit;
    await ship();
    const c = committedIndex();
    let durable = 0;
    while (durable < N && firstId[durable] !== 0) durable++;
    const ok = c < durable;
    checks.push({ at: Date.now() - t0, committed: c, durableBelow: durable, ok });
    if (!ok) failure = `checkpoint at record ${c} is ahead of durable alerts (first missing ${durable})`;
    startWatcher(model);
  }
  // Shipper: every second, unless paused; a pause now and then lets the tmpfs fill up.
  const now = Date.now();
  if (now >= pausedUntil && now - lastShip > 1000) {
    await ship();
    lastShip = now;
    if (rand() < 0.08) {
      pausedUntil = now + 15_000;
      fullEpisodes++;
    }
  }
  if (watcher!.exitCode !== null || watcher!.signalCode !== null) {
    failure = `watcher exited by itself (${watcher!.exitCode}): ${stderrTail.slice(-800)}`;
    break;
  }
  await sleep(written < N ? 20 : 200);
}
watcher!.kill('SIGTERM');
await watcherExit;
await ship();
const seconds = (Date.now() - t0) / 1000;
let lost = 0;
const lostRanges: [number, number][] = [];
for (let i = 0; i < N; i++) {
  if (firstId[i] !== 0) continue;
  lost++;
  const last = lostRanges.at(-1);
  if (last && last[1] === i - 1) last[1] = i;
  else if (lostRanges.length < 20) lostRanges.push([i, i]);
}
execFileSync('umount', [sink]);
rmSync(work, { recursive: true, force: true });

const result = {
  records: N,
  seconds: Math.round(seconds),
  recordsPerSecond: Math.round(N / seconds),
  kills: checks.length,
  rotations,
  shipperPauses: fullEpisodes,
  tmpfsMB: TMPFS_MB,
  alertRecordsRead: alertRecords,
  lost,
  lostRanges,
  duplicatesAfterDedupe: conflicting,
  replaysDeduped: replays,
  checkpointAheadOfAlerts: checks.filter((c) => !c.ok).length,
  sinkDegradedEpisodes: sinkDegraded,
  checkpointDegradedEpisodes: checkpointDegraded,
  failure: failure || null,
  checks,
};
if (process.argv.includes('--json')) console.log(JSON.stringify(result, null, 2));
else {
  const { checks: _c, ...rest } = result;
  console.log(JSON.stringify(rest));
}
process.exit(lost === 0 && conflicting === 0 && !failure ? 0 : 1);
