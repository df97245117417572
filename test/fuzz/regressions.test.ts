/**
 * Every input a fuzzer once broke a parser with (test/fuzz/regressions/<target>/*.bin[.gz]) goes
 * through its target again and must end in a parsed result or a project error. An input whose
 * bug is still open in a file owned elsewhere has a <id>.todo beside it naming it: node:test
 * reports it as todo (it does not fail the run); delete the .todo with the fix.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import { runOne, savedFindings } from './engine.ts';
import { dataDir, type FuzzContext, scratchDir, target } from './targets.ts';

const findings = await savedFindings();

describe('fuzz regressions', () => {
  const contexts = new Map<string, Promise<FuzzContext>>();
  after(async () => {
    for (const [name, c] of contexts) {
      const ctx = await c;
      await target(name).teardown?.(ctx);
      await rm(ctx.dir, { recursive: true, force: true });
    }
  });
  const context = (name: string): Promise<FuzzContext> => {
    let c = contexts.get(name);
    if (!c) {
      c = (async () => {
        const ctx: FuzzContext = { dir: await scratchDir(name), state: undefined };
        await target(name).setup?.(ctx, dataDir());
        return ctx;
      })();
      contexts.set(name, c);
    }
    return c;
  };
  test('the corpus is there', () => {
    assert.ok(findings.length > 0);
  });
  for (const f of findings) {
    test(`${f.file} (${f.input.length} bytes)`, f.todo ? { todo: f.todo } : {}, async () => {
      const out = await runOne(target(f.target), await context(f.target), f.input, 20_000);
      assert.notEqual(out.kind, 'finding', out.kind === 'finding' ? out.error : '');
    });
  }
});
