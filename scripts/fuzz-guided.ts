/**
 * Coverage-guided fuzzing, and whether it pays here. For each target, two runs of the same length
 * from the same seeds with the same sequence of mutations (seeded fast-check samples): **blind**
 * mutates only the seeds (what `make fuzz` does), **guided** also mutates every input that reached
 * new code of src/ or a new hit-count bucket of a block (V8 block coverage, test/fuzz/coverage.ts),
 * as libFuzzer and AFL keep such inputs in their corpus. Printed per run: inputs, parsed / refused /
 * findings, corpus size, src/ code covered (bytes as loaded) and features, seeds only → end.
 *
 *   node --import tsx scripts/fuzz-guided.ts [--targets kdd,zeek] [--count 20000] [--seed 1]
 *        [--modes blind,guided] [--limit-ms 5000] [--out results.json] [--findings DIR]
 *
 * Each (target, mode) runs in a child process; the parent stops a child silent for 120 s (a
 * synchronous hang) and counts it. Findings are saved like `make fuzz`'s (test/fuzz/regressions).
 */
import { fork } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import fc from 'fast-check';
import { BlockCoverage } from '../test/fuzz/coverage.ts';
import { REGRESSIONS_DIR, runOne, saveFinding } from '../test/fuzz/engine.ts';
import { applyOp, MAX_INPUT, opArbitrary, TEXT_TOKENS } from '../test/fuzz/mutate.ts';
import { dataDir, scratchDir, target } from '../test/fuzz/targets.ts';
import { arg, BATCH, batchSeed, runArgsError } from './fuzz-shared.ts';

type Mode = 'blind' | 'guided';

interface RunResult {
  target: string;
  mode: Mode;
  seed: number;
  tried: number;
  parsed: number;
  refused: number;
  findings: number;
  corpus: number;
  seedBytes: number;
  seedFeatures: number;
  bytes: number;
  features: number;
  /** Covered bytes after 1 k, 2 k, 5 k, 10 k, ... inputs. */
  curve: [number, number][];
  seconds: number;
  rate: number;
  error?: string;
}

interface Job {
  target: string;
  mode: Mode;
  count: number;
  seed: number;
  limitMs: number;
  findings: string;
}

/** A run's result before its first input (and of a child that died before reporting). */
function emptyResult(job: Job, corpus: number): RunResult {
  const zero = {
    tried: 0,
    parsed: 0,
    refused: 0,
    findings: 0,
    seedBytes: 0,
    seedFeatures: 0,
    bytes: 0,
    features: 0,
  };
  return {
    target: job.target,
    mode: job.mode,
    seed: job.seed,
    ...zero,
    corpus,
    curve: [],
    seconds: 0,
    rate: 0,
  };
}

/** Most picks go to the newest corpus entries (where the frontier is), the rest are uniform. */
const RECENT = 64;
/** Corpus cap: past it, new-coverage inputs still count but are not kept. */
const MAX_CORPUS = 20_000;
const CURVE_AT = [1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000];

async function child(job: Job) {
  const send = (m: unknown) => process.send?.(m);
  const t = target(job.target);
  const ctx = { dir: await scratchDir(t.name), state: undefined };
  const data = dataDir();
  await t.setup?.(ctx, data);
  const seeds = (await t.seeds(data)).map((b) => new Uint8Array(b));
  const cov = new BlockCoverage(new URL('../src/', import.meta.url).href);
  await cov.start();
  const r = emptyResult(job, seeds.length);
  for (const s of seeds) await runOne(t, ctx, s, job.limitMs);
  await cov.take();
  ({ bytes: r.seedBytes, features: r.seedFeatures } = cov.totals());
  const corpus: Uint8Array[] = [...seeds];
  const step = fc.record({
    pick: fc.nat(),
    recent: fc.boolean(),
    ops: fc.array(opArbitrary(t.input.text, t.input.tokens ?? TEXT_TOKENS), { minLength: 1, maxLength: 6 }),
  });
  const t0 = Date.now();
  let lastReport = 0;
  for (let batch = 0; r.tried < job.count; batch++) {
    const steps = fc.sample(step, { seed: batchSeed(job.seed, batch), numRuns: BATCH });
    for (const s of steps) {
      if (r.tried >= job.count) break;
      const added = corpus.length - seeds.length;
      const from =
        s.recent && added > 0
          ? corpus[corpus.length - 1 - (s.pick % Math.min(RECENT, added))]!
          : corpus[s.pick % corpus.length]!;
      let input = s.ops.reduce((b, op) => applyOp(b, op, corpus), from);
      if (input.length > MAX_INPUT) input = input.subarray(0, MAX_INPUT);
      const out = await runOne(t, ctx, input, job.limitMs);
      r.tried++;
      if (out.kind === 'parsed') r.parsed++;
      else if (out.kind === 'refused') r.refused++;
      else {
        r.findings++;
        await saveFinding(t.name, input, out.error, job.findings);
      }
      const gain = await cov.take();
      if (job.mode === 'guided' && (gain.newBytes > 0 || gain.newFeatures > 0) && corpus.length < MAX_CORPUS)
        corpus.push(new Uint8Array(input));
      if (CURVE_AT.includes(r.tried)) r.curve.push([r.tried, cov.totals().bytes]);
      if (Date.now() - lastReport > 5_000) {
        lastReport = Date.now();
        send({ type: 'progress', tried: r.tried });
      }
    }
  }
  await cov.stop();
  ({ bytes: r.bytes, features: r.features } = cov.totals());
  r.corpus = corpus.length;
  r.seconds = Math.round((Date.now() - t0) / 1000);
  r.rate = Math.round(r.tried / Math.max(1e-3, (Date.now() - t0) / 1000));
  await t.teardown?.(ctx);
  process.send?.({ type: 'done', result: r }, () => process.exit(0));
}

async function parent() {
  const targets = arg('targets', 'kdd,csv,zeek,cic,pcap').split(',');
  const modes = arg('modes', 'blind,guided').split(',') as Mode[];
  const count = Number(arg('count', '20000'));
  const seed = Number(arg('seed', '1'));
  const limitMs = Number(arg('limit-ms', '5000'));
  const findings = arg('findings', REGRESSIONS_DIR);
  const out = arg('out', '');
  const argsError = runArgsError(seed, count);
  if (argsError) {
    console.error(`[fuzz-guided] ${argsError}`);
    process.exit(2);
  }
  for (const m of modes) {
    if (m !== 'blind' && m !== 'guided') {
      console.error(`[fuzz-guided] unknown mode '${m}' (blind, guided)`);
      process.exit(2);
    }
  }
  for (const name of targets) {
    try {
      target(name); // an unknown name fails here, before any child starts
    } catch (e) {
      console.error(`[fuzz-guided] ${(e as Error).message}`);
      process.exit(2);
    }
  }
  const results: RunResult[] = [];
  for (const name of targets) {
    for (const mode of modes) {
      const job: Job = { target: name, mode, count, seed, limitMs, findings };
      const r = await new Promise<RunResult>((resolve) => {
        const c = fork(new URL(import.meta.url).pathname, ['--child'], {
          execArgv: ['--import', 'tsx', '--max-old-space-size=2048'],
          env: { ...process.env, NETANOMALY_FUZZ_GUIDED_JOB: JSON.stringify(job) },
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        let done: RunResult | undefined;
        let heard = Date.now();
        let tried = 0;
        const watchdog = setInterval(() => {
          if (Date.now() - heard > 120_000 + (tried === 0 ? 300_000 : 0)) c.kill('SIGKILL');
        }, 5_000);
        c.on('message', (m: { type: string; tried?: number; result?: RunResult }) => {
          heard = Date.now();
          if (m.type === 'progress') tried = m.tried ?? tried;
          if (m.type === 'done') done = m.result;
        });
        c.on('exit', (code, signal) => {
          clearInterval(watchdog);
          resolve(
            done ?? {
              ...emptyResult(job, 0),
              tried,
              findings: 1,
              error: `child ended (${signal ?? `exit ${code}`}) after ${tried} inputs: a hang or a death`,
            },
          );
        });
      });
      results.push(r);
      console.log(
        `${r.target.padEnd(12)} ${r.mode.padEnd(6)} tried ${r.tried} parsed ${r.parsed} refused ${r.refused} ` +
          `findings ${r.findings} corpus ${r.corpus} src bytes ${r.seedBytes} -> ${r.bytes} ` +
          `features ${r.seedFeatures} -> ${r.features} ${r.rate}/s ${r.seconds}s${r.error ? ` ${r.error}` : ''}`,
      );
    }
  }
  if (out) await writeFile(out, `${JSON.stringify({ count, seed, results }, null, 2)}\n`);
  process.exit(results.some((r) => r.findings > 0) ? 1 : 0);
}

if (process.argv.includes('--child')) await child(JSON.parse(process.env.NETANOMALY_FUZZ_GUIDED_JOB ?? '{}'));
else await parent();
