/**
 * Where a fuzz target's time per input goes, and what the runner's loop costs around it: CPU µs
 * per input (process.cpuUsage, so a loaded machine's waiting is left out) of
 *   gen     input generation (fast-check sample of a batch + the mutations), the same in both loops;
 *   parser  the target alone (await t.run);
 *   old     the loop before batching: the input and its index written to the watchdog file
 *           (two positioned writes), Date.now, runOne's time limit (a timer and a race per input);
 *   new     the batched loop: two clock reads around await t.run, nothing else per input.
 * The same inputs in every loop, the three loops interleaved over --rounds, the least CPU kept.
 *
 *   node --expose-gc --import tsx scripts/fuzz-profile.ts [--n 300] [--rounds 3] [--targets a,b]
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { classify, runOne } from '../test/fuzz/engine.ts';
import { inputArbitrary } from '../test/fuzz/mutate.ts';
import {
  dataDir,
  type FuzzContext,
  type FuzzTarget,
  scratchDir,
  TARGETS,
  target,
} from '../test/fuzz/targets.ts';
import { arg, batchSeed } from './fuzz-shared.ts';

const n = Number(arg('n', '300'));
const rounds = Number(arg('rounds', '3'));
const names = arg('targets', TARGETS.map((t) => t.name).join(',')).split(',');
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function parserOnly(t: FuzzTarget, ctx: FuzzContext, inputs: Uint8Array[]): Promise<void> {
  for (const input of inputs) await t.run(input, ctx).catch(() => {});
}

async function oldLoop(t: FuzzTarget, ctx: FuzzContext, inputs: Uint8Array[], fd: number): Promise<void> {
  const index = Buffer.alloc(12);
  let busySince: number | null = null;
  for (const [i, input] of inputs.entries()) {
    index.writeDoubleLE(i, 0);
    index.writeUInt32LE(input.length, 8);
    writeSync(fd, input, 0, input.length, 12);
    writeSync(fd, index, 0, 12, 0);
    busySince = Date.now();
    await runOne(t, ctx, input, 5000);
    busySince = null;
  }
  void busySince;
}

async function newLoop(t: FuzzTarget, ctx: FuzzContext, inputs: Uint8Array[]): Promise<void> {
  let slow = 0;
  for (const input of inputs) {
    const since = performance.now();
    try {
      await t.run(input, ctx);
    } catch (err) {
      classify(err);
    }
    if (performance.now() - since > 5000) slow++;
  }
  void slow;
}

console.log(
  'CPU µs per input: gen | parser alone | parser + old loop | parser + new loop | loop cost old → new',
);
for (const name of names) {
  const t = target(name);
  const ctx: FuzzContext = { dir: await scratchDir(t.name), state: undefined };
  const data = dataDir();
  await t.setup?.(ctx, data);
  const seeds = await t.seeds(data);
  const arb = inputArbitrary(seeds, { ...t.input, generated: t.input.generated?.() });
  let c0 = cpu();
  const inputs: Uint8Array[] = [];
  for (let b = 0; b < n; b += 100)
    inputs.push(...fc.sample(arb, { seed: batchSeed(42, b / 100), numRuns: Math.min(100, n - b) }));
  const gen = (cpu() - c0) / n;
  const fd = openSync(`${ctx.dir}/current.bin`, 'w');
  await parserOnly(t, ctx, inputs.slice(0, 50)); // warm-up
  const best = {
    parser: Number.POSITIVE_INFINITY,
    old: Number.POSITIVE_INFINITY,
    new: Number.POSITIVE_INFINITY,
  };
  for (let r = 0; r < rounds; r++) {
    for (const k of ['parser', 'old', 'new'] as const) {
      c0 = cpu();
      if (k === 'parser') await parserOnly(t, ctx, inputs);
      else if (k === 'old') await oldLoop(t, ctx, inputs, fd);
      else await newLoop(t, ctx, inputs);
      best[k] = Math.min(best[k], (cpu() - c0) / n);
    }
  }
  closeSync(fd);
  const f = (x: number) => x.toFixed(0).padStart(6);
  console.log(
    `${name.padEnd(13)} ${f(gen)} | ${f(best.parser)} | ${f(best.old)} | ${f(best.new)} | ${f(best.old - best.parser)} → ${f(best.new - best.parser)}`,
  );
  await t.teardown?.(ctx);
  await rm(ctx.dir, { recursive: true, force: true });
}
process.exit(0);
