/**
 * Replays one saved input through its target in this process and prints the outcome as JSON:
 *   node --import tsx test/fuzz/replay.ts <target> <file[.gz]>
 * Used by regressions.test.ts for inputs that abort the whole process (marked `.isolate`).
 */
import { readFile, rm } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { runOne } from './engine.ts';
import { dataDir, type FuzzContext, scratchDir, target } from './targets.ts';

const [name, file] = process.argv.slice(2);
const t = target(name!);
const raw = await readFile(file!);
const input = file!.endsWith('.gz') ? gunzipSync(raw) : raw;
const ctx: FuzzContext = { dir: await scratchDir(`replay-${t.name}`), state: undefined };
try {
  await t.setup?.(ctx, dataDir());
  const out = await runOne(t, ctx, input, 20_000);
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await t.teardown?.(ctx);
  await rm(ctx.dir, { recursive: true, force: true });
}
