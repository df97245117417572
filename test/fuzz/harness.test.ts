/**
 * The fuzz runner itself (scripts/fuzz.ts + fuzz-worker.ts) on a trivial target with faults
 * injected at known inputs: an exception and a process that dies (SIGKILL). The fast child dies;
 * its batch is re-run one input at a time; the culprits are saved with their exact bytes, and
 * every input is counted exactly once. (Hangs take the same re-run path after the watchdog's
 * wait; that and asynchronous hangs are checked by hand, docs/reliability.md, to keep make test short.)
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { batchSeed } from '../../scripts/fuzz-shared.ts';
import { TARGETS } from './harness-target.ts';
import { inputArbitrary } from './mutate.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('fuzz runner: a death in a batch is re-run one input at a time, saved, counted exactly', {
  timeout: 120_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'netanomaly-fuzz-harness-'));
  try {
    const out = join(dir, 'results.json');
    const code = await new Promise<number>((resolve) => {
      execFile(
        process.execPath,
        [
          '--import',
          'tsx',
          'scripts/fuzz.ts',
          ...['--count', '200', '--targets', 'echo', '--jobs', '1', '--seed', '42'],
          ...['--watchdog-ms', '60000', '--findings', join(dir, 'findings'), '--out', out],
        ],
        {
          cwd: root,
          env: {
            ...process.env,
            NETANOMALY_FUZZ_TARGETS: new URL('./harness-target.ts', import.meta.url).href,
            NETANOMALY_FUZZ_INJECT: 'throw:20,die:120',
          },
          timeout: 110_000,
        },
        (err) => resolve(err ? Number((err as { code?: number }).code ?? 1) : 0),
      );
    });
    assert.equal(code, 1, 'unexpected failures make the run exit 1');
    const [r] = JSON.parse(await readFile(out, 'utf8')).results;
    assert.equal(r.tried, 200);
    assert.equal(r.deaths, 1);
    assert.equal(r.hangs, 0);
    assert.equal(r.findings, 2, 'the exception and the death');
    assert.equal(r.parsed + r.refused + r.findings, 200, 'every input counted once');
    assert.ok(r.parsed > 0 && r.refused > 0);
    assert.equal(r.reruns, 1, 'one batch re-run one input at a time');
    // The saved inputs are the very inputs 20 and 120 (batch b of run seed 42 = batchSeed(42, b)).
    const t = TARGETS[0]!;
    const arb = inputArbitrary(await t.seeds(''), { ...t.input, generated: t.input.generated?.() });
    const want = [20, 120].map(
      (i) => fc.sample(arb, { seed: batchSeed(42, Math.floor(i / 100)), numRuns: 100 })[i % 100]!,
    );
    const saved = join(dir, 'findings', 'echo');
    const got = await Promise.all(
      (await readdir(saved)).filter((n) => n.endsWith('.bin')).map((n) => readFile(join(saved, n))),
    );
    for (const w of want) assert.ok(got.some((g) => Buffer.compare(g, Buffer.from(w)) === 0));
    assert.equal(got.length, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('fuzz runner: runs with neighbouring seeds draw different batches', async () => {
  const t = TARGETS[0]!;
  const arb = inputArbitrary(await t.seeds(''), { ...t.input, generated: t.input.generated?.() });
  const batch = (runSeed: number, b: number) =>
    fc
      .sample(arb, { seed: batchSeed(runSeed, b), numRuns: 100 })
      .map((x) => Buffer.from(x).toString('hex'))
      .join(',');
  // with seed + batch, batch 1 of seed 46 was batch 0 of seed 47: two runs, one set of inputs
  const of46 = new Set([0, 1, 2, 3].map((b) => batch(46, b)));
  for (const b of [0, 1, 2]) assert.ok(!of46.has(batch(47, b)), `batch ${b} of seed 47 is one of seed 46`);
  assert.equal(of46.size, 4);
});
