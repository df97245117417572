/** The coverage-guided mode's signal: new code and new hit-count buckets, and nothing for a repeat. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BlockCoverage } from './coverage.ts';

function branchy(x: number): number {
  let n = 0;
  if (x > 100) {
    n += 1;
  } else {
    n -= 1;
  }
  for (let i = 0; i < x % 50; i++) n++;
  return n;
}

test('block coverage: a new branch and a new loop count are gains, a repeat is not', async () => {
  const cov = new BlockCoverage(import.meta.url);
  await cov.start();
  try {
    await cov.take(); // what ran before this point
    branchy(1);
    const first = await cov.take();
    assert.ok(first.newBytes > 0 && first.newFeatures > 0, JSON.stringify(first));
    branchy(1);
    assert.deepEqual(await cov.take(), { newBytes: 0, newFeatures: 0 }, 'the same path again');
    branchy(101); // the other branch, and the loop once more often
    const other = await cov.take();
    assert.ok(other.newBytes > 0, `the x > 100 branch is new code: ${JSON.stringify(other)}`);
    branchy(140); // same branch, the loop 40 times: a new hit-count bucket, no new code
    const loop = await cov.take();
    assert.equal(loop.newBytes, 0);
    assert.ok(loop.newFeatures > 0, 'a new bucket of the loop body');
    assert.ok(cov.totals().bytes > 0 && cov.totals().scripts === 1);
  } finally {
    await cov.stop();
  }
});
