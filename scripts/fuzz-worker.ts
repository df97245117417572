/**
 * One fuzz target in a child process of scripts/fuzz.ts: generates inputs (seeded fast-check
 * samples of BATCH inputs: batch b is always the same inputs) and runs each through the target.
 *
 * Fast mode: nothing per input but the run itself and two clock reads (the in-worker time
 * check); the start of each batch is marked in `currentPath` (one 12-byte positioned write) and
 * counts go to the parent once per batch, at most every 250 ms. When this process hangs or dies,
 * the parent re-runs that batch in careful mode: each input written to `currentPath` (index,
 * length, bytes) before it runs and reported after it, so the input that hangs or kills the
 * process (a native abort, out of memory: what no in-process handler survives) is saved.
 *
 * An input whose promise is still pending past the hard limit while the event loop is free (an
 * asynchronous hang) is caught here: saved as a hang, reported, and this process exits so the
 * parent resumes after it. A synchronous hang is the parent's to stop (no message in time).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { classify, saveFinding } from '../test/fuzz/engine.ts';
import { inputArbitrary } from '../test/fuzz/mutate.ts';
import {
  BATCH,
  BATCH_MARK,
  batchSeed,
  type ChildJob,
  type ChildMessage,
  type Counts,
  type TargetsModule,
  targetsModule,
} from './fuzz-shared.ts';

const job = JSON.parse(process.env.NETANOMALY_FUZZ_JOB ?? '{}') as ChildJob;
const send = (m: ChildMessage) => process.send?.(m);
const { dataDir, scratchDir, target } = (await import(targetsModule())) as TargetsModule;
const t = target(job.target);
const gc = (globalThis as { gc?: () => void }).gc;

/**
 * Faults injected at given input indices to test the harness itself (never set in a real run):
 * NETANOMALY_FUZZ_INJECT="die:120,hang:250,stall:333,throw:400".
 */
const inject = new Map<number, string>(
  (process.env.NETANOMALY_FUZZ_INJECT ?? '')
    .split(',')
    .filter(Boolean)
    .map((s) => {
      const [kind, at] = s.split(':');
      return [Number(at), kind!];
    }),
);
function injected(kind: string | undefined): Promise<unknown> | null {
  if (kind === 'die') process.kill(process.pid, 'SIGKILL');
  if (kind === 'hang') for (;;);
  if (kind === 'stall') return new Promise(() => {});
  if (kind === 'throw') return Promise.reject(new TypeError('injected fault'));
  return null;
}

const dir = await scratchDir(t.name);
const ctx = { dir, state: undefined };
const data = dataDir();
await t.setup?.(ctx, data);
const seeds = await sharedSeeds();
/**
 * The target's seeds, the same for every child of one run: the first child writes them to the
 * run's scratch directory, later ones (re-runs after a hang or death) read them back. Some seeds
 * differ between two productions (softflowd's IPFIX export times), and a re-run must see the
 * very inputs the child before it saw.
 */
async function sharedSeeds(): Promise<Uint8Array[]> {
  const file = join(process.env.NETANOMALY_FUZZ_SCRATCH ?? dir, 'seeds.bin');
  try {
    const b = await readFile(file);
    const out: Uint8Array[] = [];
    for (let o = 0; o < b.length; o += 4 + b.readUInt32LE(o))
      out.push(b.subarray(o + 4, o + 4 + b.readUInt32LE(o)));
    return out;
  } catch {
    const made = await t.seeds(data);
    const parts = made.flatMap((m) => {
      const n = Buffer.alloc(4);
      n.writeUInt32LE(m.length);
      return [n, m];
    });
    await writeFile(`${file}.tmp`, Buffer.concat(parts));
    await rename(`${file}.tmp`, file);
    return made;
  }
}

const arb = inputArbitrary(seeds, { ...t.input, generated: t.input.generated?.() });
const signatures = new Map<string, number>();
process.on('unhandledRejection', (e) => {
  send({ type: 'fatal', error: String((e as Error)?.stack ?? e) });
  throw e;
});
const counts: Counts = { tried: job.start, parsed: 0, refused: 0, findings: 0, slow: 0 };
const heapSample = () => {
  gc?.();
  send({ type: 'heap', heap: process.memoryUsage().heapUsed });
};
heapSample();
let lastSample = Date.now();
const current = openSync(job.currentPath, 'w');
const header = Buffer.alloc(12);
const mark = (index: number, length: number) => {
  header.writeDoubleLE(index, 0);
  header.writeUInt32LE(length, 8);
  writeSync(current, header, 0, 12, 0);
};

// The input running now, for the asynchronous-hang check (one interval for the whole run).
let running: Uint8Array | null = null;
let since = 0;
const stallCheck = setInterval(async () => {
  const input = running;
  if (!input || performance.now() - since < job.hardLimitMs) return;
  clearInterval(stallCheck);
  const path = await saveFinding(
    t.name,
    input,
    `hang: promise still pending after ${job.hardLimitMs} ms`,
    job.findingsDir,
  );
  send({ type: 'stall', counts, path });
  process.disconnect?.();
  process.exit(0);
}, 1000);

let i = job.start;
let batch = Math.floor(i / BATCH);
let lastReport = Date.now();
while (i < job.end && Date.now() < job.deadline) {
  const inputs = fc.sample(arb, { seed: batchSeed(job.seed, batch), numRuns: BATCH });
  if (!job.careful) mark(batch * BATCH, BATCH_MARK);
  for (let j = i - batch * BATCH; j < inputs.length && i < job.end; j++, i++) {
    const input = inputs[j]!;
    if (job.careful) {
      writeSync(current, input, 0, input.length, 12);
      mark(i, input.length);
    }
    since = performance.now();
    running = input;
    let kind: 'parsed' | 'refused' | 'finding' = 'parsed';
    let error = '';
    try {
      await (injected(inject.get(i)) ?? t.run(input, ctx));
    } catch (err) {
      const out = classify(err);
      kind = out.kind === 'refused' ? 'refused' : 'finding';
      error = out.kind === 'parsed' ? '' : out.error;
    }
    running = null;
    const ms = performance.now() - since;
    if (kind !== 'finding' && ms > job.hardLimitMs) {
      kind = 'finding';
      error = `TimeOut: answered after ${Math.round(ms)} ms (hard limit ${job.hardLimitMs} ms)`;
    } else if (ms > job.limitMs) counts.slow++;
    if (kind === 'parsed') counts.parsed++;
    else if (kind === 'refused') counts.refused++;
    else {
      counts.findings++;
      // The same bug found again (same error and place) is counted, and saved twice at most.
      const sig = error.replace(/\d+/g, 'N').slice(0, 400);
      const seen = (signatures.get(sig) ?? 0) + 1;
      signatures.set(sig, seen);
      const path = seen <= 2 ? await saveFinding(t.name, input, error, job.findingsDir) : null;
      send({ type: 'finding', error, path });
    }
    counts.tried = i + 1;
    if (job.careful) send({ type: 'progress', counts });
  }
  batch++;
  if (!job.careful && Date.now() - lastReport >= 250) {
    lastReport = Date.now();
    send({ type: 'progress', counts });
  }
  if (Date.now() - lastSample > 30_000) {
    lastSample = Date.now();
    heapSample();
  }
}
clearInterval(stallCheck);
heapSample();
closeSync(current);
await t.teardown?.(ctx);
await rm(dir, { recursive: true, force: true });
send({ type: 'done', counts });
process.disconnect?.();
