/**
 * The upload helpers settle only once their file is closed: a write stream destroyed while its
 * open() is pending creates the file afterwards, and the upload cleanup that runs next then failed
 * with ENOTEMPTY, turning a 422 into a 500 (fuzz finding #9, /api/batch with a corrupt gzip body).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { gunzipCapped, HttpError } from '../../src/web/http.ts';

test('a corrupt gzip upload is refused (422) with its output closed before it settles', async () => {
  // the body of the fuzz finding (a mutated gzip upload: "invalid distance too far back")
  const saved = await readFile(new URL('../fuzz/regressions/web/2c6ee6a13cf7.bin', import.meta.url));
  const bad = saved.subarray(1);
  assert.throws(() => gunzipSync(bad));
  const openFiles = async () => (await readdir('/proc/self/fd')).length;
  for (let i = 0; i < 50; i++) {
    const dir = await mkdtemp(join(tmpdir(), 'netanomaly-gunzip-test-'));
    await writeFile(join(dir, 'upload'), bad);
    const before = await openFiles();
    await assert.rejects(gunzipCapped(join(dir, 'upload'), join(dir, 'upload.txt'), 1 << 20), (err) => {
      assert.ok(err instanceof HttpError && err.status === 422, String(err));
      return true;
    });
    // settled with every descriptor closed (before the fix the output was still open here)
    assert.equal(await openFiles(), before, 'descriptors left open when gunzipCapped settled');
    // no retries: a file still being opened would make this fail now and then
    await rm(dir, { recursive: true });
  }
});

test('a gzip upload that decompresses past the cap is refused (413) and closed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'netanomaly-gunzip-test-'));
  try {
    await writeFile(join(dir, 'upload'), gzipSync(Buffer.alloc(4 << 20)));
    const before = (await readdir('/proc/self/fd')).length;
    await assert.rejects(gunzipCapped(join(dir, 'upload'), join(dir, 'upload.txt'), 1 << 20), /larger than/);
    assert.equal((await readdir('/proc/self/fd')).length, before, 'descriptors left open');
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
