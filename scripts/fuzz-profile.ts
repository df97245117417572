/**
 * Where a fuzz target's time per input goes, as the runner spends it (one process, no IPC):
 * input generation (fast-check sample + mutation), saving the current input for the watchdog,
 * the time-limit wrapper (runOne) and the parser itself (t.run alone), in µs per input.
 *
 *   node --expose-gc --import tsx scripts/fuzz-profile.ts [--n 500] [--targets a,b]
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import fc from 'fast-check';
import { runOne } from '../test/fuzz/engine.ts';
import { inputArbitrary } from '../test/fuzz/mutate.ts';
import { dataDir, scratchDir, TARGETS, target } from '../test/fuzz/targets.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
}
const n = Number(arg('n', '500'));
const names = arg('targets', TARGETS.map((t) => t.name).join(',')).split(',');
const us = (ns: bigint) => Number(ns / 1000n) / n;
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

for (const name of names) {
  const t = target(name);
  const ctx = { dir: await scratchDir(t.name), state: undefined };
  const data = dataDir();
  await t.setup?.(ctx, data);
  const seeds = await t.seeds(data);
  const arb = inputArbitrary(seeds, { ...t.input, generated: t.input.generated?.() });
  let t0 = process.hrtime.bigint();
  const inputs: Uint8Array[] = [];
  for (let b = 0; b < n; b += 100)
    inputs.push(...fc.sample(arb, { seed: 42 + b, numRuns: Math.min(100, n - b) }));
  const gen = process.hrtime.bigint() - t0;
  const fd = openSync(`${ctx.dir}/current.bin`, 'w');
  const index = Buffer.alloc(12);
  t0 = process.hrtime.bigint();
  for (const [i, input] of inputs.entries()) {
    index.writeDoubleLE(i, 0);
    index.writeUInt32LE(input.length, 8);
    writeSync(fd, input, 0, input.length, 12);
    writeSync(fd, index, 0, 12, 0);
  }
  const save = process.hrtime.bigint() - t0;
  closeSync(fd);
  // warm-up, then the parser alone, then through runOne (the parser + the time-limit wrapper)
  for (const input of inputs.slice(0, 50)) await t.run(input, ctx).catch(() => {});
  t0 = process.hrtime.bigint();
  let c0 = cpu();
  for (const input of inputs) await t.run(input, ctx).catch(() => {});
  const parse = process.hrtime.bigint() - t0;
  const parseCpu = (cpu() - c0) / n;
  t0 = process.hrtime.bigint();
  c0 = cpu();
  for (const input of inputs) await runOne(t, ctx, input, 5000);
  const wrapped = process.hrtime.bigint() - t0;
  const mean = inputs.reduce((s, b) => s + b.length, 0) / n;
  console.log(
    `${name.padEnd(13)} bytes ${Math.round(mean).toString().padStart(7)}  gen ${us(gen).toFixed(0).padStart(6)}  save ${us(save).toFixed(0).padStart(5)}  parser ${us(parse).toFixed(0).padStart(6)} (cpu ${parseCpu.toFixed(0)})  runOne ${us(wrapped).toFixed(0).padStart(6)}  µs/input`,
  );
  await t.teardown?.(ctx);
  await rm(ctx.dir, { recursive: true, force: true });
}
process.exit(0);
