/**
 * One fuzz target in a worker thread: generates inputs (seeded fast-check samples, in batches),
 * runs each through the target and reports counts. The current input is kept in shared memory
 * so the main thread can save it if the worker hangs or dies.
 */
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { runOne, saveFinding } from '../test/fuzz/engine.ts';
import { inputArbitrary } from '../test/fuzz/mutate.ts';
import { dataDir, scratchDir, target } from '../test/fuzz/targets.ts';

import { BATCH, HEADER_BYTES, SLOT, type WorkerData } from './fuzz-shared.ts';

const wd = workerData as WorkerData;
const t = target(wd.target);
const ints = new Int32Array(wd.shared, 0, HEADER_BYTES / 4);
const bytes = new Uint8Array(wd.shared, HEADER_BYTES);
const gc = (globalThis as { gc?: () => void }).gc;

const dir = await scratchDir(t.name);
const ctx = { dir, state: undefined };
const data = dataDir();
await t.setup?.(ctx, data);
const seeds = await t.seeds(data);
const arb = inputArbitrary(seeds, { ...t.input, generated: t.input.generated?.() });
const heap: number[] = [];
const signatures = new Map<string, number>();
// A rejection or exception that escapes a parser (a stray promise) kills the worker: say which.
process.on('unhandledRejection', (e) => {
  parentPort!.postMessage({ type: 'fatal', error: String((e as Error)?.stack ?? e) });
  throw e;
});
const sample = () => {
  gc?.();
  heap.push(process.memoryUsage().heapUsed);
};
sample();
let lastSample = Date.now();
let i = wd.start;
let batch = Math.floor(i / BATCH);
while (i < wd.count && Date.now() < wd.deadline) {
  const inputs = fc.sample(arb, { seed: wd.seed + batch, numRuns: BATCH });
  for (let j = i - batch * BATCH; j < inputs.length && i < wd.count; j++, i++) {
    const input = inputs[j]!;
    const n = Math.min(input.length, bytes.length);
    bytes.set(input.subarray(0, n));
    Atomics.store(ints, SLOT.inputLen, n);
    Atomics.store(ints, SLOT.busy, 1);
    const out = await runOne(t, ctx, input, wd.limitMs);
    Atomics.store(ints, SLOT.busy, 0);
    if (out.slow) Atomics.add(ints, SLOT.slow, 1);
    if (out.kind === 'parsed') Atomics.add(ints, SLOT.parsed, 1);
    else if (out.kind === 'refused') Atomics.add(ints, SLOT.refused, 1);
    else {
      Atomics.add(ints, SLOT.findings, 1);
      // The same bug found again (same error and place) is counted, and saved twice at most.
      const sig = out.error.replace(/\d+/g, 'N').slice(0, 400);
      const seen = (signatures.get(sig) ?? 0) + 1;
      signatures.set(sig, seen);
      const path = seen <= 2 ? await saveFinding(t.name, input, out.error) : null;
      parentPort!.postMessage({ type: 'finding', error: out.error, path });
    }
    Atomics.store(ints, SLOT.tried, i + 1);
  }
  batch++;
  if (Date.now() - lastSample > 30_000) {
    lastSample = Date.now();
    sample();
    parentPort!.postMessage({ type: 'heap', heap: heap.at(-1) });
  }
}
sample();
await t.teardown?.(ctx);
const { rm } = await import('node:fs/promises');
await rm(dir, { recursive: true, force: true });
parentPort!.postMessage({ type: 'done', heap });
