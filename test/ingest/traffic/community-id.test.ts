/**
 * The address cache of community-id.ts is bounded in entries; its keys must be bounded in size too
 * (fuzz finding #8: the zeek target's heap grew 41 → 224 MB over 1 M inputs whose mutated
 * "addresses" were kilobytes long), and flat: an address sliced out of a large input text keeps that
 * text alive (the second part of #8: after the first fix, zeek still grew 42.7 → 213.8 MB).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { communityId } from '../../../src/ingest/traffic/community-id.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

test('long address texts are not kept by the address cache', () => {
  const pad = 'x'.repeat(3000);
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 60_000; i++) assert.equal(communityId(`10.0.${i}.1${pad}`, '10.0.0.2', 6, 1, 2), '');
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  // 60,000 cached 3 KB keys would be ~180 MB; without them the heap stays within a few MB
  assert.ok(grown < 20e6, `heap grew ${(grown / 1e6).toFixed(1)} MB`);
});

test('a cached address does not keep the text it was sliced from', () => {
  gc();
  const before = process.memoryUsage().heapUsed;
  const filler = 'y'.repeat(8192);
  for (let i = 0; i < 10_000; i++) {
    // A fresh 8 KB "log" per address; a 14-character slice of it is a V8 sliced string.
    const text = `${filler}${i}\t10.${100 + (i % 150)}.${100 + Math.floor(i / 150)}.123\t`;
    const from = text.indexOf('\t') + 1;
    const ip = text.slice(from, text.indexOf('\t', from));
    assert.notEqual(communityId(ip, '10.0.0.2', 6, 1, 2), '');
  }
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  // 10,000 pinned 8 KB texts would be ~82 MB
  assert.ok(grown < 20e6, `heap grew ${(grown / 1e6).toFixed(1)} MB`);
});

test('real addresses still give the reference Community IDs (cached or not)', () => {
  // Community ID spec example: 128.232.110.120:34855 → 66.35.250.204:80, TCP, seed 0
  const want = '1:LQU9qZlK+B5F3KDmev6m5PMibrg=';
  assert.equal(communityId('128.232.110.120', '66.35.250.204', 6, 34855, 80), want);
  assert.equal(communityId('128.232.110.120', '66.35.250.204', 6, 34855, 80), want);
});
