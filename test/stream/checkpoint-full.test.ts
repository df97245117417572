/**
 * The checkpoint on a full file system (a 64 KiB tmpfs filled up): the watcher must not crash
 * with a raw ENOSPC; it holds back (alerts durable, position not committed, retried with backoff)
 * and commits once space is freed. Found by benchmarks/watcher-soak.ts's fault plan.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadModel } from '../../src/model/bundle.ts';
import { watch } from '../../src/stream/watcher.ts';
import { tmp, trainedModel, ZEEK_HEADER, zeekRows } from './helpers.ts';

const root = process.getuid?.() === 0;
let dir: string;
let full: string;

before(() => {
  if (!root) return;
  dir = tmp('checkpoint-full');
  full = join(dir, 'full');
  mkdirSync(full);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full]);
});
after(() => {
  if (!root) return;
  execFileSync('umount', [full]);
  rmSync(dir, { recursive: true, force: true });
});

test('checkpoint on a full disk: held back and retried, committed once there is space', {
  skip: !root && 'needs root to mount a small tmpfs',
}, async () => {
  const model = await loadModel(await trainedModel());
  const log = join(dir, 'conn.log');
  writeFileSync(log, `${ZEEK_HEADER}\n${zeekRows(0, 40)}`);
  const filler = join(full, 'filler');
  try {
    writeFileSync(filler, Buffer.alloc(64 * 1024));
  } catch {
    // ENOSPC once the tmpfs is full: what the filler is for
  }
  const checkpoint = join(full, 'checkpoint.json');
  const alerts = join(dir, 'alerts.jsonl');
  const logs: string[] = [];
  const ac = new AbortController();
  const running = watch({
    source: log,
    model,
    alerts,
    checkpoint,
    minScore: 0,
    pollMs: 20,
    maxBackoffMs: 100,
    signal: ac.signal,
    onLog: (l) => logs.push(l),
  });
  for (let i = 0; i < 500 && !logs.some((l) => l.startsWith('checkpoint degraded')); i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(
    logs.some((l) =>
      /^checkpoint degraded, retrying: .*checkpoint\.json: cannot write checkpoint: ENOSPC/.test(l),
    ),
    logs.join('\n'),
  );
  assert.equal(existsSync(checkpoint), false, 'nothing committed while the disk is full');
  assert.equal(readdirSync(full).filter((n) => n.endsWith('.tmp')).length, 0, 'no temp file left behind');
  assert.equal(
    readFileSync(alerts, 'utf8').trim().split('\n').length,
    40,
    'alerts durable before the commit',
  );
  rmSync(filler);
  for (let i = 0; i < 500 && !existsSync(checkpoint); i++) await new Promise((r) => setTimeout(r, 20));
  ac.abort();
  const result = await running;
  assert.ok(logs.includes('checkpoint writes recovered'));
  const cp = JSON.parse(readFileSync(checkpoint, 'utf8'));
  assert.equal(cp.offset, readFileSync(log).length, 'committed to the end of the file');
  assert.ok(result.counters.sink_failures >= 1);
});
