/**
 * `make fuzz`: the long fuzz run. Each target runs in a child process (an in-process loop over
 * seeded fast-check inputs in batches of BATCH: not one process per input, no message per
 * input); this process is the watchdog, per batch: a child silent past the watchdog limit is
 * killed, and a child that dies (a native abort, out of memory past its heap cap, an uncaught
 * rejection) likewise; either way that batch is re-run one input at a time (careful mode, each
 * input saved before it runs) to find the input that hangs or kills it, which is saved as a
 * finding, and a fast child resumes after the batch. Counts stay exact: a child's counts are
 * taken at batch boundaries and the re-run starts from there.
 *
 *   node --expose-gc --import tsx scripts/fuzz.ts [--count 1000000] [--targets a,b] [--jobs 2]
 *        [--seed 42] [--limit-ms 5000] [--hard-limit-ms 60000] [--watchdog-ms 120000]
 *        [--minutes M per target] [--deadline-minutes M for the run] [--greedy]
 *        [--out results.json] [--findings DIR]
 *
 * Prints per target: inputs tried, parsed, refused (project errors), findings (unexpected
 * exceptions, 5xx, hangs, deaths), heap after GC at the start and the end, rate.
 */
import { fork } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REGRESSIONS_DIR, saveFinding } from '../test/fuzz/engine.ts';
import {
  arg,
  BATCH,
  BATCH_MARK,
  type ChildJob,
  type ChildMessage,
  type Counts,
  runArgsError,
  type TargetsModule,
  targetsModule,
} from './fuzz-shared.ts';

const count = Number(arg('count', '1000000'));
/**
 * Cheapest targets first: with --deadline-minutes, time a target leaves unused (it reached
 * --count early) goes to the ones after it, so the dear ones (files, HTTP) come last.
 */
const CHEAP_FIRST = ['decode', 'app-meta', 'sflow', 'pcap', 'pcapng', 'ipfix', 'netflow-v5', 'netflow-v9'];
const { TARGETS } = (await import(targetsModule())) as TargetsModule;
const byCost = [...CHEAP_FIRST, ...TARGETS.map((t) => t.name).filter((n) => !CHEAP_FIRST.includes(n))];
const names = arg('targets', byCost.join(',')).split(',');
const unknown = names.filter((n) => !TARGETS.some((t) => t.name === n));
if (unknown.length > 0) {
  console.error(`[fuzz] no fuzz target ${unknown.map((n) => `'${n}'`).join(', ')} (${byCost.join(', ')})`);
  process.exit(2);
}
const jobs = Number(arg('jobs', '2'));
const seed = Number(arg('seed', '42'));
const argsError = runArgsError(seed, count);
if (argsError) {
  console.error(`[fuzz] ${argsError}`);
  process.exit(2);
}
const limitMs = Number(arg('limit-ms', '5000'));
const minutes = Number(arg('minutes', '0'));
/** A deadline for the whole run: each target gets an equal share of the time still left. */
const deadlineMinutes = Number(arg('deadline-minutes', '0'));
const runDeadline = deadlineMinutes > 0 ? Date.now() + deadlineMinutes * 60_000 : Number.POSITIVE_INFINITY;
const out = arg('out', '');
/** Where findings are saved (another directory for the harness's own tests). */
const findingsDir = arg('findings', REGRESSIONS_DIR);
/** An input past this is a finding (a time-out), even if it ends; past --limit-ms it counts as slow. */
const hardLimitMs = Number(arg('hard-limit-ms', String(Math.max(60_000, limitMs * 12))));
/** A child silent this long (wall clock: one batch in fast mode, one input in careful mode) is stopped as hung. */
const watchdogMs = Number(arg('watchdog-ms', String(Math.max(120_000, limitMs * 24))));
/** A child's start-up (module loading, seeds: softflowd replays for the export targets, setup). */
const SETUP_MS = 300_000;
/** Greedy: each target may use all the time left before the run's deadline (most targets to --count, in order). */
const greedy = process.argv.includes('--greedy');
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
  /** Batches re-run one input at a time after a fast child hung or died in them. */
  reruns: number;
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

type Ended = 'done' | 'hang' | 'died' | 'stall';

/** One child over [start, end): its counts (since its start), how it ended, and a stalled input's path. */
async function runChild(
  name: string,
  job: ChildJob,
  scratch: string,
  r: Result,
  heap: number[],
): Promise<{ ended: Ended; counts: Counts; stallPath?: string }> {
  const child = fork(new URL('./fuzz-worker.ts', import.meta.url).pathname, [], {
    execArgv: ['--import', 'tsx', '--expose-gc', `--max-old-space-size=${HEAP_CAP_MB}`],
    env: { ...process.env, NETANOMALY_FUZZ_JOB: JSON.stringify(job), NETANOMALY_FUZZ_SCRATCH: scratch },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (c) => {
    stderr = (stderr + c).slice(-2000);
  });
  let counts: Counts = { tried: job.start, parsed: 0, refused: 0, findings: 0, slow: 0 };
  let stallPath: string | undefined;
  const ended = await new Promise<Ended>((resolve) => {
    // The watchdog: fast mode reports once per batch, careful mode once per input; silence past
    // watchdogMs is a hang. Before the first message (start-up, seeds, setup) the limit is SETUP_MS.
    let heard = Date.now();
    let limit = Math.max(watchdogMs, SETUP_MS);
    let finished = false;
    const watch = setInterval(() => {
      if (Date.now() - heard > limit) {
        clearInterval(watch);
        finished = true;
        child.kill('SIGKILL');
        resolve('hang');
      }
    }, 1000);
    child.on('message', (m: ChildMessage) => {
      heard = Date.now();
      limit = watchdogMs;
      if (m.type === 'progress') counts = m.counts;
      else if (m.type === 'finding' && r.errors.length < 20) r.errors.push(m.error);
      else if (m.type === 'fatal') console.error(`[fuzz] ${name}: ${m.error}`);
      else if (m.type === 'heap') heap.push(m.heap);
      else if (m.type === 'stall' || m.type === 'done') {
        counts = m.counts;
        if (m.type === 'stall') stallPath = m.path;
        finished = true;
        clearInterval(watch);
        resolve(m.type);
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
  if (ended === 'stall')
    await new Promise((res) => (child.exitCode === null ? child.once('exit', res) : res(0)));
  return { ended, counts, stallPath };
}

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
    reruns: 0,
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
  /** Inputs before this index are re-run one at a time (the batch a fast child hung or died in). */
  let carefulEnd = 0;
  /** The fault that sent us into careful mode, until its input is found. */
  let pending: 'hang' | 'died' | null = null;
  const fault = async (kind: 'hang' | 'died', what: string, input: Uint8Array | null) => {
    const path = input ? await saveFinding(name, input, what, findingsDir) : null;
    if (r.errors.length < 20) r.errors.push(path ? `${what} (${path})` : what);
    if (kind === 'hang') r.hangs++;
    else r.deaths++;
  };
  while (start < count && Date.now() < deadline) {
    const careful = start < carefulEnd;
    const job: ChildJob = {
      target: name,
      start,
      end: careful ? carefulEnd : count,
      seed,
      limitMs,
      hardLimitMs,
      deadline: Number.isFinite(deadline) ? deadline : 8.64e15,
      careful,
      currentPath,
      findingsDir,
    };
    await rm(currentPath, { force: true });
    const { ended, counts, stallPath } = await runChild(name, job, scratch, r, heap);
    for (const k of ['parsed', 'refused', 'findings', 'slow'] as const) total[k] += counts[k];
    total.tried = counts.tried;
    start = counts.tried;
    if (ended === 'done') {
      if (careful && start >= carefulEnd && pending) {
        // The batch ran through one input at a time: the fault came from the inputs together.
        await fault(
          pending,
          `${pending === 'hang' ? 'hang' : 'death'} in the batch before input ${carefulEnd}, not reproduced one input at a time`,
          null,
        );
        pending = null;
      }
      continue;
    }
    if (ended === 'stall') {
      await fault('hang', `hang: promise still pending after ${hardLimitMs} ms`, null);
      if (r.errors.length < 20) r.errors.push(`    saved: ${stallPath}`);
      start++;
      total.tried = start;
      continue;
    }
    if (!existsSync(currentPath)) {
      await fault(
        ended,
        `the child ${ended === 'hang' ? 'hung' : 'died'} before its first input (setup)`,
        null,
      );
      pending = null;
      break;
    }
    // [index f64][length u32][input], or [batch start][BATCH_MARK] in fast mode.
    const cur = readFileSync(currentPath);
    const at = cur.length >= 12 ? cur.readDoubleLE(0) : start;
    const len = cur.length >= 12 ? cur.readUInt32LE(8) : BATCH_MARK;
    if (!careful || len === BATCH_MARK) {
      // Fast mode: re-run, one input at a time, from the last count to the end of that batch.
      r.reruns++;
      pending = ended;
      carefulEnd = Math.max(start + 1, Math.floor(at / BATCH) * BATCH + BATCH);
      continue;
    }
    const what =
      ended === 'hang' ? `hang: no progress within ${watchdogMs} ms` : 'the process died on this input';
    await fault(ended, what, cur.subarray(12, 12 + len));
    pending = null;
    // The culprit is counted as a finding (hangs/deaths); the run resumes after it.
    start = at + 1;
    total.tried = start;
  }
  if (pending) {
    await fault(
      pending,
      `${pending} in a batch whose one-at-a-time re-run did not finish before the deadline`,
      null,
    );
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
  return `${r.target.padEnd(13)} tried ${pad(r.tried.toLocaleString('en'), 10)}  parsed ${pad(r.parsed, 8)}  refused ${pad(r.refused, 8)}  unexpected ${pad(r.findings, 3)}  (hangs ${r.hangs}, deaths ${r.deaths}, slow ${r.slow}, re-runs ${r.reruns}${r.leak ? ', HEAP GROWTH' : ''})  heap ${r.heapStartMB}→${r.heapEndMB} MB  ${pad(r.rate, 6)}/s  ${r.seconds}s${r.complete ? '' : '  INCOMPLETE'}`;
}

const queue = [...names];
const results: Result[] = [];
await Promise.all(
  Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    for (let name = queue.shift(); name; name = queue.shift()) {
      // This target and those still queued share the time left, `jobs` at a time.
      const left = runDeadline - Date.now();
      const share = greedy ? left : left / Math.ceil((queue.length + 1) / jobs);
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
