/**
 * The upload helpers settle only once their file is closed: a write stream destroyed while its
 * open() is pending creates the file afterwards, and the upload cleanup that runs next then failed
 * with ENOTEMPTY, turning a 422 into a 500 (fuzz finding #9, /api/batch with a corrupt gzip body).
 */
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { gunzipCapped, HttpError } from '../../src/web/http.ts';

/**
 * The files under `dir` this process holds open right now (Linux: /proc/self/fd), read without
 * yielding so a pending close cannot finish meanwhile. Not a count of all descriptors: the runtime
 * opens its own now and then, which made a count flaky under load.
 */
function openUnder(dir: string): string[] {
  const held: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let target = '';
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      // the descriptor readdir itself used, closed since
    }
    if (target.startsWith(`${dir}/`)) held.push(target);
  }
  return held;
}

test('a corrupt gzip upload is refused (422) with its output closed before it settles', async () => {
  // the body of the fuzz finding (a mutated gzip upload: "invalid distance too far back")
  const saved = await readFile(new URL('../fuzz/regressions/web/2c6ee6a13cf7.bin', import.meta.url));
  const bad = saved.subarray(1);
  assert.throws(() => gunzipSync(bad));
  for (let i = 0; i < 50; i++) {
    const dir = await mkdtemp(join(tmpdir(), 'netanomaly-gunzip-test-'));
    await writeFile(join(dir, 'upload'), bad);
    await assert.rejects(gunzipCapped(join(dir, 'upload'), join(dir, 'upload.txt'), 1 << 20), (err) => {
      assert.ok(err instanceof HttpError && err.status === 422, String(err));
      return true;
    });
    // settled with both files closed (before the fix the output was still open here)
    assert.deepEqual(openUnder(dir), [], 'files left open when gunzipCapped settled');
    // no retries: a file still being opened would make this fail now and then
    await rm(dir, { recursive: true });
  }
});

test('a gzip upload that decompresses past the cap is refused (413) and closed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'netanomaly-gunzip-test-'));
  try {
    await writeFile(join(dir, 'upload'), gzipSync(Buffer.alloc(4 << 20)));
    await assert.rejects(gunzipCapped(join(dir, 'upload'), join(dir, 'upload.txt'), 1 << 20), /larger than/);
    assert.deepEqual(openUnder(dir), [], 'files left open');
    assert.deepEqual((await readdir(dir)).sort(), ['upload', 'upload.txt']);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('a valid gzip upload decompresses whole', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'netanomaly-gunzip-test-'));
  try {
    const text = 'a,b\n1,2\n'.repeat(1000);
    await writeFile(join(dir, 'upload'), gzipSync(Buffer.from(text)));
    await gunzipCapped(join(dir, 'upload'), join(dir, 'out'), 1 << 20);
    assert.equal(await readFile(join(dir, 'out'), 'utf8'), text);
  } finally {
    await rm(dir, { recursive: true });
  }
});
