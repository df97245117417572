/**
 * `make fuzz`: the long fuzz run. Each target runs in a worker thread (an in-process loop over
 * seeded fast-check inputs); this thread is the watchdog: a worker that makes no progress for
 * the time limit is stopped, its current input saved as a hang, and a new worker resumes after it.
 * A worker that dies (out of memory past its heap cap, an uncaught rejection) is a finding too.
 *
 *   node --expose-gc --import tsx scripts/fuzz.ts [--count 1000000] [--targets a,b] [--jobs 2]
 *        [--seed 42] [--limit-ms 5000] [--minutes M per target] [--out results.json]
 *
 * Prints per target: inputs tried, parsed, refused (project errors), findings (unexpected
 * exceptions, 5xx, hangs, deaths), heap after GC at the start and the end, rate.
 */
import { writeFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { saveFinding } from '../test/fuzz/engine.ts';
import { TARGETS } from '../test/fuzz/targets.ts';
import { HEADER_BYTES, SLOT, type WorkerData } from './fuzz-shared.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
}

const count = Number(arg('count', '1000000'));
const names = arg('targets', TARGETS.map((t) => t.name).join(',')).split(',');
const jobs = Number(arg('jobs', '2'));
const seed = Number(arg('seed', '42'));
const limitMs = Number(arg('limit-ms', '5000'));
const minutes = Number(arg('minutes', '0'));
const out = arg('out', '');
/** A worker stuck on one input this long (wall clock) is stopped as hung (synchronous loops). */
const watchdogMs = Math.max(120_000, limitMs * 24);
/** A worker's heap cap: input and parser state together stay far below it, or it is a finding. */
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

async function fuzzTarget(name: string): Promise<Result> {
  const t0 = Date.now();
  const deadline = minutes > 0 ? t0 + minutes * 60_000 : Number.POSITIVE_INFINITY;
  const shared = new SharedArrayBuffer(HEADER_BYTES + 16 * 1024 * 1024);
  const ints = new Int32Array(shared, 0, HEADER_BYTES / 4);
  const bytes = new Uint8Array(shared, HEADER_BYTES);
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
  const heap: number[] = [];
  let start = 0;
  while (start < count && Date.now() < deadline) {
    const wd: WorkerData = {
      entry: new URL('./fuzz-worker.ts', import.meta.url).href,
      target: name,
      start,
      count,
      seed,
      limitMs,
      deadline: Number.isFinite(deadline) ? deadline : 8.64e15,
      shared,
    };
    const worker = new Worker(new URL('./fuzz-boot.mjs', import.meta.url), {
      workerData: wd,
      resourceLimits: { maxOldGenerationSizeMb: HEAP_CAP_MB },
    });
    const ended = await new Promise<'done' | 'hang' | 'died'>((resolve) => {
      let last = Atomics.load(ints, SLOT.tried);
      let lastChange = Date.now();
      let ready = false;
      const watch = setInterval(() => {
        const now = Atomics.load(ints, SLOT.tried);
        if (now !== last) {
          last = now;
          lastChange = Date.now();
          ready = true;
        } else if (ready && Atomics.load(ints, SLOT.busy) === 1 && Date.now() - lastChange > watchdogMs) {
          clearInterval(watch);
          void worker.terminate().then(() => resolve('hang'));
        }
      }, 500);
      worker.on('message', (m: { type: string; error?: string; heap?: number | number[] }) => {
        ready = true;
        if (m.type === 'finding' && r.errors.length < 20) r.errors.push(m.error!);
        if (m.type === 'fatal') console.error(`[fuzz] ${name}: ${m.error}`);
        if (m.type === 'heap') heap.push(m.heap as number);
        if (m.type === 'done') {
          clearInterval(watch);
          resolve('done');
        }
      });
      worker.on('error', (e) => {
        clearInterval(watch);
        if (r.errors.length < 20) r.errors.push(`worker died: ${e.message}`);
        console.error(`[fuzz] ${name}: worker died: ${e.stack ?? e}`);
        resolve('died');
      });
      worker.on('exit', (code) => {
        clearInterval(watch);
        if (code !== 0) console.error(`[fuzz] ${name}: worker exited with code ${code}`);
        resolve('died');
      });
    });
    const tried = Atomics.load(ints, SLOT.tried);
    if (ended === 'done') {
      start = tried;
      break;
    }
    // The input in shared memory is the one that hung or killed the worker.
    const input = bytes.slice(0, Atomics.load(ints, SLOT.inputLen));
    const what = ended === 'hang' ? `hang: no progress within ${watchdogMs} ms` : 'worker died on this input';
    const path = await saveFinding(name, input, what);
    if (r.errors.length < 20) r.errors.push(`${what} (${path})`);
    if (ended === 'hang') r.hangs++;
    else r.deaths++;
    start = tried + 1;
    Atomics.store(ints, SLOT.tried, start);
  }
  r.tried = Atomics.load(ints, SLOT.tried);
  r.parsed = Atomics.load(ints, SLOT.parsed);
  r.refused = Atomics.load(ints, SLOT.refused);
  r.slow = Atomics.load(ints, SLOT.slow);
  r.findings = Atomics.load(ints, SLOT.findings) + r.hangs + r.deaths;
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
      const r = await fuzzTarget(name);
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
