import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { InputError, OptionError } from '../../src/errors.ts';
import { findKnee, kneeRegion } from '../../src/model/knee.ts';

// Expected knees below come from the kneed package's own test suite (tests/test_sample.py and
// kneed/data_generator.py), since kneed is not installed here; the comments name each kneed test.

const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);
const x10 = range(0, 10);

const BUMPY_Y = [
  7305.0, 6979.0, 6666.6, 6463.2, 6326.5, 6048.8, 6032.8, 5762.0, 5742.8, 5398.2, 5256.8, 5227.0, 5001.7,
  4942.0, 4854.2, 4734.6, 4558.7, 4491.1, 4411.6, 4333.0, 4234.6, 4139.1, 4056.8, 4022.5, 3868.0, 3808.3,
  3745.3, 3692.3, 3645.6, 3618.3, 3574.3, 3504.3, 3452.4, 3401.2, 3382.4, 3340.7, 3301.1, 3247.6, 3190.3,
  3180.0, 3154.2, 3089.5, 3045.6, 2989.0, 2993.6, 2941.3, 2875.6, 2866.3, 2834.1, 2785.1, 2759.7, 2763.2,
  2720.1, 2660.1, 2690.2, 2635.7, 2632.9, 2574.6, 2556.0, 2545.7, 2513.4, 2491.6, 2496.0, 2466.5, 2442.7,
  2420.5, 2381.5, 2388.1, 2340.6, 2335.0, 2318.9, 2319.0, 2308.2, 2262.2, 2235.8, 2259.3, 2221.0, 2202.7,
  2184.3, 2170.1, 2160.0, 2127.7, 2134.7, 2102.0, 2101.4, 2066.4, 2074.3, 2063.7, 2048.1, 2031.9,
];

describe('findKnee: the four curve shapes (kneed data_generator)', () => {
  test('convex decreasing (the default, an elbow) -> 2', () => {
    const r = findKnee(x10, [100, 40, 20, 15, 10, 5, 4, 3, 2, 1]);
    assert.equal(r.knee, 2);
    assert.equal(r.kneeY, 20);
    assert.equal(r.normKnee, 2 / 9);
    assert.deepEqual(r.allKnees, [2]);
  });
  test('convex increasing -> 7', () => {
    assert.equal(findKnee(x10, [1, 2, 3, 4, 5, 10, 15, 20, 40, 100], { direction: 'increasing' }).knee, 7);
  });
  test('concave increasing -> 2', () => {
    const r = findKnee(x10, [0, 60, 80, 85, 90, 95, 96, 97, 98, 99], {
      curve: 'concave',
      direction: 'increasing',
    });
    assert.equal(r.knee, 2);
    assert.equal(r.kneeY, 80);
  });
  test('concave decreasing -> 7', () => {
    assert.equal(findKnee(x10, [99, 98, 97, 96, 95, 90, 85, 80, 60, 0], { curve: 'concave' }).knee, 7);
  });
  test('truncated and rescaled variants (test_*_truncated)', () => {
    const t = (ys: number[]) => ys.slice(0, -3).map((v) => v / 10);
    const xs = t(x10);
    const ci = findKnee(xs, t([0, 60, 80, 85, 90, 95, 96, 97, 98, 99]), {
      curve: 'concave',
      direction: 'increasing',
    });
    assert.equal(ci.knee, 0.2);
    assert.equal(findKnee(xs, t([99, 98, 97, 96, 95, 90, 85, 80, 60, 0]), { curve: 'concave' }).knee, 0.4);
    assert.equal(
      findKnee(xs, t([1, 2, 3, 4, 5, 10, 15, 20, 40, 100]), { direction: 'increasing' }).knee,
      0.4,
    );
    assert.equal(findKnee(xs, t([100, 40, 20, 15, 10, 5, 4, 3, 2, 1])).knee, 0.2);
  });
});

describe('findKnee: kneed test-suite cases', () => {
  test('figure 2 of the Kneedle paper: y = 5 - 1/(x + 0.1) on linspace(0, 1, 10) -> 0.22', () => {
    const xs = range(0, 10).map((i) => i / 9);
    const r = findKnee(
      xs,
      xs.map((v) => 5 - 1 / (v + 0.1)),
      { curve: 'concave', direction: 'increasing' },
    );
    assert.ok(Math.abs(r.knee! - 2 / 9) < 1e-12, `knee ${r.knee}`);
    assert.ok(Math.abs(r.kneeY! - 1.897) / 1.897 < 0.03, `knee y ${r.kneeY}`); // test_y
  });

  test('bumpy convex decreasing: offline 26, online knees {26, 31, 41, 46, 53} ending at 53', () => {
    assert.equal(findKnee(range(0, 90), BUMPY_Y).knee, 26);
    const on = findKnee(range(0, 90), BUMPY_Y, { online: true });
    assert.deepEqual(on.allKnees, [26, 31, 41, 46, 53]);
    assert.equal(on.knee, 53);
  });

  test('flat maxima (test_flat_maxima): S = 0 -> 1, S = 1 -> 8', () => {
    const y = [
      1, 0.787701317715959, 0.7437774524158126, 0.6559297218155198, 0.5065885797950219, 0.36749633967789164,
      0.2547584187408492, 0.16251830161054173, 0.10395314787701318, 0.06734992679355783, 0.043923865300146414,
      0.027818448023426062, 0.01903367496339678, 0.013177159590043924, 0.010248901903367497,
      0.007320644216691069, 0.005856515373352855, 0.004392386530014641,
    ];
    assert.equal(findKnee(range(0, 18), y, { sensitivity: 0 }).knee, 1);
    assert.equal(findKnee(range(0, 18), y, { sensitivity: 1 }).knee, 8);
  });

  test('sine with online detection (test_sine) -> 4.5, 4.9, 7.7, 1.8', () => {
    const xs = range(0, 100).map((i) => i * 0.1); // np.arange(0, 10, 0.1) is i * 0.1
    const ys = xs.map(Math.sin);
    const combos = [
      ['decreasing', 'convex', 4.5],
      ['increasing', 'convex', 4.9],
      ['increasing', 'concave', 7.7],
      ['decreasing', 'concave', 1.8],
    ] as const;
    for (const [direction, curve, want] of combos) {
      const k = findKnee(xs, ys, { direction, curve, online: true }).knee;
      assert.ok(k !== null && Math.abs(k - want) < 1e-9, `${direction}/${curve}: ${k}`);
    }
  });

  test('sorted gamma(0.5) sample, numpy seed 23 (test_gamma_online_offline, test_sensitivity)', () => {
    const y = JSON.parse(
      execFileSync(
        '/usr/bin/python3',
        [
          '-c',
          'import json, numpy as np; np.random.seed(23); print(json.dumps(sorted(np.random.gamma(0.5, 1.0, 1000).tolist(), reverse=True)))',
        ],
        { encoding: 'utf8' },
      ),
    ) as number[];
    const xs = range(1, 1001);
    assert.equal(findKnee(xs, y).knee, 22);
    assert.equal(findKnee(xs, y, { online: true }).knee, 482);
    const bySensitivity = [3, 5, 10, 100, 200, 400].map((s) => findKnee(xs, y, { sensitivity: s }).knee);
    assert.deepEqual(bySensitivity, [137, 178, 258, 305, 482, 482]);
  });
});

describe('findKnee: no knee', () => {
  test('a straight line has no knee', () => {
    const r = findKnee(
      range(1, 11),
      range(1, 11).map((i) => 10 - i),
    );
    assert.equal(r.knee, null);
    assert.equal(r.kneeY, null);
    assert.deepEqual(r.allKnees, []);
    assert.ok(r.normalizedDifference.every((d) => Math.abs(d) < 1e-12));
    assert.equal(
      findKnee(
        range(0, 11),
        range(0, 11).map((i) => 100 - 7 * i),
      ).knee,
      null,
    );
  });
  test('three points of exp(-x/10) have no knee (test_y_no_knee)', () => {
    assert.equal(findKnee([1, 2, 3], [0.90483742, 0.81873075, 0.74081822]).knee, null);
  });
  test('a constant curve has no knee (kneed would divide by zero)', () => {
    const r = findKnee(range(0, 10), new Array(10).fill(1));
    assert.equal(r.knee, null);
    assert.deepEqual(r.maximaIndices, []);
  });
});

describe('findKnee: y = 1/x, an idealized inertia curve', () => {
  test('x = 1..10 -> 3, with the intermediate curves exposed', () => {
    // x_n = (x-1)/9, y_n = 1 - (1/x - 0.1)/0.9, d = y_n - x_n = [0, .444, .519, .5, .444, .370, ...]:
    // one maximum at index 2 (x = 3) with threshold .519 - 1/9 = .407; d stays above it at x = 4, 5
    // and drops below at x = 6, so the knee is x = 3.
    const r = findKnee(
      range(1, 11),
      range(1, 11).map((i) => 1 / i),
    );
    assert.equal(r.knee, 3);
    assert.equal(r.kneeY, 1 / 3);
    assert.deepEqual(r.maximaIndices, [2]);
    assert.equal(r.normalizedDifference.length, 10);
    assert.ok(Math.abs(r.normalizedDifference[2]! - (1 - (1 / 3 - 0.1) / 0.9 - 2 / 9)) < 1e-12);
    assert.ok(Math.abs(r.thresholds[0]! - (r.normalizedDifference[2]! - 1 / 9)) < 1e-12);
    assert.equal(r.normalizedDifference[0], 0);
  });
});

describe('kneeRegion: the k within one step of the largest Kneedle difference', () => {
  test('y = 1/x: d = [0, .444, .519, .5, .444, .370, …] is within 1/9 of .519 at x = 2…5', () => {
    const x = range(1, 11);
    assert.deepEqual(
      kneeRegion(
        x,
        x.map((i) => 1 / i),
      ),
      { first: 2, last: 5 },
    );
  });
  test('the kneed elbow (d = [0, .495, .586, .526, .465, …]) and its increasing mirror image', () => {
    assert.deepEqual(kneeRegion(x10, [100, 40, 20, 15, 10, 5, 4, 3, 2, 1]), { first: 1, last: 3 });
    assert.deepEqual(kneeRegion(x10, [1, 2, 3, 4, 5, 10, 15, 20, 40, 100], { direction: 'increasing' }), {
      first: 6,
      last: 8,
    });
  });
  test('no knee, no region', () => {
    assert.equal(kneeRegion(range(0, 10), new Array(10).fill(1)), null);
  });
});

describe('findKnee: input checks', () => {
  test('bad input throws InputError, bad options OptionError', () => {
    assert.throws(() => findKnee([1, 2], [1]), InputError);
    assert.throws(() => findKnee([1], [1]), InputError);
    assert.throws(() => findKnee([1, 1, 2], [3, 2, 1]), /strictly increasing/);
    assert.throws(() => findKnee([1, 2, 3], [3, Number.NaN, 1]), /not finite/);
    assert.throws(() => findKnee([1, 2, 3], [3, 2, 1], { sensitivity: -1 }), OptionError);
    // @ts-expect-error: a wrong curve name from untyped callers
    assert.throws(() => findKnee([1, 2, 3], [3, 2, 1], { curve: 'bad curve' }), OptionError);
  });
});
