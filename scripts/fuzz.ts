/**
 * `make fuzz`: the long fuzz run. Each target runs in a child process (an in-process loop over
 * seeded fast-check inputs: not one process per input); this process is the watchdog: a child
 * stuck on one input past the watchdog limit is killed, its current input saved as a hang, and a
 * new child resumes after it. A child that dies (a native abort, out of memory past its heap cap,
 * an uncaught rejection) is a finding too, with the input it died on.
 *
 *   node --expose-gc --import tsx scripts/fuzz.ts [--count 1000000] [--targets a,b] [--jobs 2]
 *        [--seed 42] [--limit-ms 5000] [--minutes M per target] [--deadline-minutes M for the run]
 *        [--out results.json]
 *
 * Prints per target: inputs tried, parsed, refused (project errors), findings (unexpected
 * exceptions, 5xx, hangs, deaths), heap after GC at the start and the end, rate.
 */
import { fork } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveFinding } from '../test/fuzz/engine.ts';
import { TARGETS } from '../test/fuzz/targets.ts';
import type { ChildJob, ChildMessage, Counts } from './fuzz-shared.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
}

const count = Number(arg('count', '1000000'));
/**
 * Cheapest targets first: with --deadline-minutes, time a target leaves unused (it reached
 * --count early) goes to the ones after it, so the dear ones (files, HTTP) come last.
 */
const CHEAP_FIRST = ['decode', 'app-meta', 'sflow', 'pcap', 'pcapng', 'ipfix', 'netflow-v5', 'netflow-v9'];
const byCost = [...CHEAP_FIRST, ...TARGETS.map((t) => t.name).filter((n) => !CHEAP_FIRST.includes(n))];
const names = arg('targets', byCost.join(',')).split(',');
const jobs = Number(arg('jobs', '2'));
const seed = Number(arg('seed', '42'));
const limitMs = Number(arg('limit-ms', '5000'));
const minutes = Number(arg('minutes', '0'));
/** A deadline for the whole run: each target gets an equal share of the time still left. */
const deadlineMinutes = Number(arg('deadline-minutes', '0'));
const runDeadline = deadlineMinutes > 0 ? Date.now() + deadlineMinutes * 60_000 : Number.POSITIVE_INFINITY;
const out = arg('out', '');
/** A child stuck on one input this long (wall clock) is stopped as hung (synchronous loops). */
const watchdogMs = Math.max(120_000, limitMs * 24);
/** A child's heap cap: input and parser state together stay far below it, or it is a finding. */
const HEAP_CAP_MB = 768;
/** Heap growth over a run (after GC, median of the last samples vs the first) that counts as a leak. */
const GROWTH_LIMIT = 48 * 1024 * 1024;

interface Result {
  target: string;
  tried: number;
  parsed: number;
  refused: number;
  /** Inputs that passed the time limit but ended normally within the hard limit (CPU starvation). */
  slow: number;
  findings: number;
  hangs: number;
  deaths: number;
  heapStartMB: number;
  heapEndMB: number;
  leak: boolean;
  seconds: number;
  rate: number;
  complete: boolean;
  errors: string[];
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? 0;
const mb = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;

async function fuzzTarget(name: string, share: number): Promise<Result> {
  const t0 = Date.now();
  const deadline = Math.min(
    minutes > 0 ? t0 + minutes * 60_000 : Number.POSITIVE_INFINITY,
    Number.isFinite(runDeadline) ? t0 + share : Number.POSITIVE_INFINITY,
  );
  const scratch = await mkdtemp(
    join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `netanomaly-fuzz-run-${name}-`),
  );
  const currentPath = join(scratch, 'current.bin');
  const r: Result = {
    target: name,
    tried: 0,
    parsed: 0,
    refused: 0,
    slow: 0,
    findings: 0,
    hangs: 0,
    deaths: 0,
    heapStartMB: 0,
    heapEndMB: 0,
    leak: false,
    seconds: 0,
    rate: 0,
    complete: false,
    errors: [],
  };
  const total: Counts = { tried: 0, parsed: 0, refused: 0, findings: 0, slow: 0 };
  const heap: number[] = [];
  let start = 0;
  while (start < count && Date.now() < deadline) {
    const job: ChildJob = {
      target: name,
      start,
      count,
      seed,
      limitMs,
      deadline: Number.isFinite(deadline) ? deadline : 8.64e15,
      currentPath,
    };
    const child = fork(new URL('./fuzz-worker.ts', import.meta.url).pathname, [], {
      execArgv: ['--import', 'tsx', '--expose-gc', `--max-old-space-size=${HEAP_CAP_MB}`],
      env: { ...process.env, NETANOMALY_FUZZ_JOB: JSON.stringify(job), NETANOMALY_FUZZ_SCRATCH: scratch },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr!.on('data', (c) => {
      stderr = (stderr + c).slice(-2000);
    });
    let counts: Counts = { tried: start, parsed: 0, refused: 0, findings: 0, slow: 0 };
    const ended = await new Promise<'done' | 'hang' | 'died'>((resolve) => {
      let busySince: number | null = null;
      let finished = false;
      const watch = setInterval(() => {
        if (busySince !== null && Date.now() - busySince > watchdogMs) {
          clearInterval(watch);
          finished = true;
          child.kill('SIGKILL');
          resolve('hang');
        }
      }, 1000);
      child.on('message', (m: ChildMessage) => {
        if (m.type === 'progress') {
          counts = m.counts;
          busySince = m.busySince;
        } else if (m.type === 'finding' && r.errors.length < 20) r.errors.push(m.error);
        else if (m.type === 'fatal') console.error(`[fuzz] ${name}: ${m.error}`);
        else if (m.type === 'heap') heap.push(m.heap);
        else if (m.type === 'done') {
          counts = m.counts;
          finished = true;
          clearInterval(watch);
          resolve('done');
        }
      });
      child.once('exit', (code, signal) => {
        clearInterval(watch);
        if (finished) return;
        const why = `child exited (${signal ?? `code ${code}`}): ${stderr.replace(/\s+/g, ' ').slice(0, 300)}`;
        console.error(`[fuzz] ${name}: ${why}`);
        if (r.errors.length < 20) r.errors.push(why);
        resolve('died');
      });
    });
    for (const k of ['parsed', 'refused', 'findings', 'slow'] as const) total[k] += counts[k];
    if (ended === 'done') {
      total.tried = counts.tried;
      break;
    }
    // The input left in currentPath is the one that hung or killed the child.
    // [index f64][length u32][input]: written by the child before each input runs.
    const current = existsSync(currentPath) ? readFileSync(currentPath) : Buffer.alloc(0);
    const at = current.length >= 12 ? current.readDoubleLE(0) : counts.tried;
    const input = current.length >= 12 ? current.subarray(12, 12 + current.readUInt32LE(8)) : current;
    const what =
      ended === 'hang' ? `hang: no progress within ${watchdogMs} ms` : 'the process died on this input';
    const path = await saveFinding(name, input, what);
    if (r.errors.length < 20) r.errors.push(`${what} (${path})`);
    if (ended === 'hang') r.hangs++;
    else r.deaths++;
    // Inputs after the last progress report and before the fatal one ran too (not counted by kind).
    start = at + 1;
    total.tried = start;
  }
  await rm(scratch, { recursive: true, force: true });
  r.tried = total.tried;
  r.parsed = total.parsed;
  r.refused = total.refused;
  r.slow = total.slow;
  r.findings = total.findings + r.hangs + r.deaths;
  r.seconds = Math.round((Date.now() - t0) / 1000);
  r.rate = Math.round(r.tried / Math.max(1, r.seconds));
  r.complete = r.tried >= count;
  if (heap.length >= 4) {
    const first = median(heap.slice(0, Math.min(5, heap.length >> 1)));
    const last = median(heap.slice(-Math.min(5, heap.length >> 1)));
    r.heapStartMB = mb(first);
    r.heapEndMB = mb(last);
    r.leak = last - first > GROWTH_LIMIT;
    if (r.leak) r.findings++;
  }
  return r;
}

function line(r: Result): string {
  const pad = (s: string | number, n: number) => String(s).padStart(n);
  return `${r.target.padEnd(13)} tried ${pad(r.tried.toLocaleString('en'), 10)}  parsed ${pad(r.parsed, 8)}  refused ${pad(r.refused, 8)}  unexpected ${pad(r.findings, 3)}  (hangs ${r.hangs}, deaths ${r.deaths}, slow ${r.slow}${r.leak ? ', HEAP GROWTH' : ''})  heap ${r.heapStartMB}→${r.heapEndMB} MB  ${pad(r.rate, 6)}/s  ${r.seconds}s${r.complete ? '' : '  INCOMPLETE'}`;
}

const queue = [...names];
const results: Result[] = [];
await Promise.all(
  Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    for (let name = queue.shift(); name; name = queue.shift()) {
      // This target and those still queued share the time left, `jobs` at a time.
      const share = (runDeadline - Date.now()) / Math.ceil((queue.length + 1) / jobs);
      const r = await fuzzTarget(name, share);
      results.push(r);
      console.log(line(r));
      for (const e of r.errors.slice(0, 5)) console.log(`    ${e}`);
    }
  }),
);
results.sort((a, b) => names.indexOf(a.target) - names.indexOf(b.target));
console.log('\nsummary');
for (const r of results) console.log(line(r));
const bad = results.reduce((s, r) => s + r.findings, 0);
console.log(`unexpected failures: ${bad}`);
if (out) await writeFile(out, `${JSON.stringify({ count, seed, limitMs, results }, null, 2)}\n`);
process.exit(bad === 0 && results.every((r) => r.complete) ? 0 : 1);
