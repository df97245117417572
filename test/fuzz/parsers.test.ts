/**
 * The seeded fuzz subset run by `make test`: for every parser, a few hundred inputs (mutated real
 * samples and generated ones, fast-check seed 42) end in a parsed result or one of the project's
 * errors; never another exception, a 5xx, or a time-out. `make fuzz` runs the same targets long.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { runOne } from './engine.ts';
import { inputArbitrary } from './mutate.ts';
import { dataDir, type FuzzContext, scratchDir, TARGETS } from './targets.ts';

/** Inputs per target in `make test` (cheap in-memory targets get more). */
const RUNS: Record<string, number> = {
  decode: 400,
  'app-meta': 300,
  pcap: 120,
  pcapng: 80,
  'pcap-stream': 60,
  'pcap-file': 40,
  'traffic-pcap': 40,
  kdd: 80,
  csv: 60,
  zeek: 80,
  cic: 40,
  'netflow-v5': 60,
  'netflow-v9': 60,
  ipfix: 60,
  sflow: 100,
  goflow2: 60,
  bundle: 30,
  web: 60,
};
const LIMIT_MS = 10_000;
/** Parsers that never throw: every fault is a counted skip (packets, app payloads, export datagrams). */
const NEVER_REFUSED = new Set(['decode', 'app-meta', 'netflow-v5', 'netflow-v9', 'ipfix', 'sflow']);

describe('fuzz: seeded subset of every target', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  for (const t of TARGETS) {
    test(`${t.name}: ${t.calls}`, { timeout: 120_000 }, async () => {
      const data = dataDir();
      const ctx: FuzzContext = { dir: await scratchDir(t.name), state: undefined };
      dirs.push(ctx.dir);
      await t.setup?.(ctx, data);
      const counts = { parsed: 0, refused: 0 };
      try {
        const seeds = await t.seeds(data);
        // The seeds themselves first: each must parse or be refused, never a finding.
        for (const seed of seeds) {
          const out = await runOne(t, ctx, seed, LIMIT_MS);
          if (out.kind === 'finding') throw new Error(out.error);
          counts[out.kind]++;
        }
        const arb = inputArbitrary(seeds, { ...t.input, generated: t.input.generated?.() });
        await fc.assert(
          fc.asyncProperty(arb, async (input) => {
            const out = await runOne(t, ctx, input, LIMIT_MS);
            if (out.kind === 'finding') throw new Error(out.error);
            counts[out.kind]++;
          }),
          { seed: 42, numRuns: RUNS[t.name] ?? 50, endOnFailure: true },
        );
      } finally {
        await t.teardown?.(ctx);
      }
      // Both outcomes occur (seeds and mutations): inputs reach past the first validity check, and some are refused.
      assert.ok(counts.parsed > 0, `no input of ${t.name} parsed`);
      assert.ok(counts.refused > 0 || NEVER_REFUSED.has(t.name), `no input of ${t.name} refused`);
    });
  }
});
