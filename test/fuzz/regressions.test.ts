/**
 * Every input a fuzzer once broke a parser with (test/fuzz/regressions/<target>/*.bin[.gz]) goes
 * through its target again and must end in a parsed result or a project error. An input whose
 * bug is still open in a file owned elsewhere has a <id>.todo beside it naming it: node:test
 * reports it as todo (it does not fail the run); delete the .todo with the fix.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Outcome, REGRESSIONS_DIR, runOne, savedFindings } from './engine.ts';
import { dataDir, type FuzzContext, scratchDir, target } from './targets.ts';

const findings = await savedFindings();

/** Replays an input that aborts the process (a native assertion) in a child process. */
async function isolated(name: string, file: string): Promise<Outcome> {
  const replay = fileURLToPath(new URL('./replay.ts', import.meta.url));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', replay, name, file],
      { timeout: 120_000, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        const last = stdout.trim().split('\n').at(-1) ?? '';
        if (!err && last.startsWith('{')) return resolve(JSON.parse(last) as Outcome);
        const how = err && 'signal' in err && err.signal ? `signal ${err.signal}` : `exit ${err?.code}`;
        const why =
          stderr
            .split('\n')
            .find((l) => /Assertion|Error/.test(l))
            ?.trim() ?? '';
        resolve({ kind: 'finding', error: `the process died (${how}): ${why}` });
      },
    );
  });
}

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
      const out = f.isolate
        ? await isolated(f.target, join(REGRESSIONS_DIR, f.file))
        : await runOne(target(f.target), await context(f.target), f.input, 20_000);
      assert.notEqual(out.kind, 'finding', out.kind === 'finding' ? out.error : '');
    });
  }
});
