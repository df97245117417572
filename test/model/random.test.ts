import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OptionError } from '../../src/errors.ts';
import { Rng } from '../../src/model/random.ts';

describe('Rng', () => {
  test('the core is xoshiro128** (reference outputs for state 1, 2, 3, 4)', () => {
    const rng = new Rng(0);
    Object.assign(rng, { s0: 1, s1: 2, s2: 3, s3: 4 });
    const u32 = (rng as unknown as { u32(): number }).u32.bind(rng);
    assert.deepEqual(
      Array.from({ length: 5 }, () => u32()),
      [11520, 0, 5927040, 70819200, 2031721883],
    );
  });

  test('same seed, same stream; different seeds differ; values in [0, 1)', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xa = Array.from({ length: 1000 }, () => a.next());
    const xb = Array.from({ length: 1000 }, () => b.next());
    const xc = Array.from({ length: 1000 }, () => c.next());
    assert.deepEqual(xa, xb);
    assert.notDeepEqual(xa, xc);
    assert.ok(xa.every((v) => v >= 0 && v < 1));
    assert.notDeepEqual(
      Array.from({ length: 5 }, () => new Rng(2 ** 32 + 5).next()),
      Array.from({ length: 5 }, () => new Rng(5).next()),
    );
  });

  test('uniform, int, normal moments on 200,000 draws', () => {
    const rng = new Rng(1);
    const n = 200_000;
    let sum = 0;
    let sumN = 0;
    let sumN2 = 0;
    const counts = new Array(7).fill(0);
    for (let i = 0; i < n; i++) {
      sum += rng.next();
      const z = rng.normal();
      sumN += z;
      sumN2 += z * z;
      counts[rng.int(7)]++;
    }
    assert.ok(Math.abs(sum / n - 0.5) < 0.005);
    assert.ok(Math.abs(sumN / n) < 0.01);
    assert.ok(Math.abs(sumN2 / n - 1) < 0.02);
    for (const c of counts) assert.ok(Math.abs(c / n - 1 / 7) < 0.005, `int(7) bucket ${c}`);
    assert.throws(() => rng.int(0), OptionError);
  });

  test('shuffle is an in-place permutation; sample draws k distinct indices', () => {
    const rng = new Rng(9);
    const a = Array.from({ length: 50 }, (_, i) => i);
    const out = rng.shuffle(a);
    assert.equal(out, a);
    assert.deepEqual(
      [...a].sort((x, y) => x - y),
      Array.from({ length: 50 }, (_, i) => i),
    );
    assert.notDeepEqual(
      a,
      Array.from({ length: 50 }, (_, i) => i),
    );
    const s = rng.sample(1000, 300);
    assert.equal(s.length, 300);
    assert.equal(new Set(s).size, 300);
    assert.ok(s.every((v) => v >= 0 && v < 1000));
    assert.equal(rng.sample(5, 5).slice().sort().join(), '0,1,2,3,4');
    assert.equal(rng.sample(5, 0).length, 0);
    assert.throws(() => rng.sample(5, 6), OptionError);
    // the sparse path (n above 2^20) is distinct and in range too
    const big = new Rng(3).sample(10_000_000, 2000);
    assert.equal(new Set(big).size, 2000);
    assert.ok(big.every((v) => v >= 0 && v < 10_000_000));
  });
});
