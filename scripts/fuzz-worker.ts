/**
 * One fuzz target in a child process of scripts/fuzz.ts: generates inputs (seeded fast-check
 * samples, in batches), runs each through the target and reports counts over IPC. Each input is
 * written to `currentPath` (after its index, 8 bytes, and length, 4; one open descriptor) before it runs, so the parent can save it when this process hangs or
 * dies (a native abort, out of memory) - things no in-process handler survives.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import fc from 'fast-check';
import { runOne, saveFinding } from '../test/fuzz/engine.ts';
import { inputArbitrary } from '../test/fuzz/mutate.ts';
import { dataDir, scratchDir, target } from '../test/fuzz/targets.ts';
import { BATCH, type ChildJob, type ChildMessage, type Counts } from './fuzz-shared.ts';

const job = JSON.parse(process.env.NETANOMALY_FUZZ_JOB ?? '{}') as ChildJob;
const send = (m: ChildMessage) => process.send?.(m);
const t = target(job.target);
const gc = (globalThis as { gc?: () => void }).gc;

const dir = await scratchDir(t.name);
const ctx = { dir, state: undefined };
const data = dataDir();
await t.setup?.(ctx, data);
const seeds = await t.seeds(data);
const arb = inputArbitrary(seeds, { ...t.input, generated: t.input.generated?.() });
const signatures = new Map<string, number>();
process.on('unhandledRejection', (e) => {
  send({ type: 'fatal', error: String((e as Error)?.stack ?? e) });
  throw e;
});
const counts: Counts = { tried: job.start, parsed: 0, refused: 0, findings: 0, slow: 0 };
let busySince: number | null = null;
const progress = setInterval(() => send({ type: 'progress', counts, busySince }), 500);
const heapSample = () => {
  gc?.();
  send({ type: 'heap', heap: process.memoryUsage().heapUsed });
};
heapSample();
let lastSample = Date.now();
// One descriptor for the whole run: each input costs two positioned writes, not a file rewrite.
const current = openSync(job.currentPath, 'w');
const index = Buffer.alloc(12);
let i = job.start;
let batch = Math.floor(i / BATCH);
while (i < job.count && Date.now() < job.deadline) {
  const inputs = fc.sample(arb, { seed: job.seed + batch, numRuns: BATCH });
  for (let j = i - batch * BATCH; j < inputs.length && i < job.count; j++, i++) {
    const input = inputs[j]!;
    index.writeDoubleLE(i, 0);
    index.writeUInt32LE(input.length, 8);
    writeSync(current, input, 0, input.length, 12);
    writeSync(current, index, 0, 12, 0);
    busySince = Date.now();
    const out = await runOne(t, ctx, input, job.limitMs);
    busySince = null;
    if (out.slow) counts.slow++;
    if (out.kind === 'parsed') counts.parsed++;
    else if (out.kind === 'refused') counts.refused++;
    else {
      counts.findings++;
      // The same bug found again (same error and place) is counted, and saved twice at most.
      const sig = out.error.replace(/\d+/g, 'N').slice(0, 400);
      const seen = (signatures.get(sig) ?? 0) + 1;
      signatures.set(sig, seen);
      const path = seen <= 2 ? await saveFinding(t.name, input, out.error) : null;
      send({ type: 'finding', error: out.error, path });
    }
    counts.tried = i + 1;
  }
  batch++;
  if (Date.now() - lastSample > 30_000) {
    lastSample = Date.now();
    heapSample();
  }
}
heapSample();
clearInterval(progress);
closeSync(current);
await t.teardown?.(ctx);
await rm(dir, { recursive: true, force: true });
send({ type: 'done', counts });
process.disconnect?.();
