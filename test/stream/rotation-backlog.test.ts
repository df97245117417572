/**
 * A reader more than one rotation behind (found by benchmarks/watcher-soak.ts: 38,000 of 120,000
 * records lost with the alert disk filling up and two rotations while the watcher caught up).
 * The tailer finished the file it had open, then jumped to the live path: a file rotated in
 * between (conn.log.2 here) was never read, and nothing said so. Now the files rotated after the
 * finished one are read first.
 */
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FileTailer } from '../../src/stream/tailer.ts';
import { tmp } from './helpers.ts';

const lines = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `${tag}${i}`).join('\n') + '\n';

test('two rotations while the reader is behind: every line of every file is read', () => {
  const dir = tmp('rotation-backlog');
  const log = join(dir, 'conn.log');
  writeFileSync(log, lines('a', 100));
  const t = new FileTailer(log);
  t.start(null);
  const seen: string[] = [];
  seen.push(...t.poll(10).lines.map((l) => l.text));
  renameSync(log, join(dir, 'conn.log.1'));
  writeFileSync(log, lines('b', 100));
  renameSync(log, join(dir, 'conn.log.2'));
  writeFileSync(log, lines('c', 100));
  for (let i = 0; i < 100; i++) seen.push(...t.poll(50).lines.map((l) => l.text));
  t.close();
  const missing = ['a', 'b', 'c'].flatMap((tag) =>
    Array.from({ length: 100 }, (_, i) => `${tag}${i}`).filter((x) => !seen.includes(x)),
  );
  assert.deepEqual(missing, []);
});
