import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  aggregateHosts,
  calibrateHosts,
  flowTail,
  hostAggregation,
  hostKeys,
  scoreHosts,
  tailHostScore,
  tailProbability,
  topHosts,
} from '../../src/model/host-score.ts';
import { Rng } from '../../src/model/random.ts';

const identity = {
  src_ip: ['10.0.0.1', '10.0.0.1', '10.0.0.1', '10.0.0.1', '10.0.0.2', '10.0.0.1'],
  dst_ip: ['1.1.1.1', '1.1.1.1', '8.8.8.8', '8.8.8.8', '1.1.1.1', '1.1.1.1'],
  start_time: Float64Array.from([0, 10, 20, 30, 40, 400]),
  community_id: ['1:a', '1:b', '1:c', '1:d', '1:e', '1:f'],
};
const scores = Float64Array.from([1, 5, 3, 9, 2, 7]);

test('host windows: per source and window; pairs split by destination; groups never merge', () => {
  const k = hostKeys(identity, { windowSeconds: 300 });
  assert.equal(new Set(k).size, 3); // .1 in [0,300), .2, .1 in [300,600)
  assert.equal(new Set(hostKeys(identity, { windowSeconds: 300, scope: 'pair' })).size, 4);
  assert.equal(new Set(hostKeys(identity, { groups: [0, 0, 0, 1, 1, 1] })).size, 4);
});

test('host score = mean of the top-k flow scores, top flows as evidence', () => {
  const k = hostKeys(identity, { windowSeconds: 300 });
  const { hosts, hostOfRow } = aggregateHosts(scores, k, { topK: 3, flowThreshold: 4 });
  const h = hosts[hostOfRow[0]!]!;
  assert.equal(h.host, '10.0.0.1');
  assert.equal(h.flows, 4);
  assert.equal(h.maxScore, 9);
  assert.equal(h.hostScore, (9 + 5 + 3) / 3);
  assert.equal(h.flaggedFlows, 2);
  assert.deepEqual(h.topRows.slice(0, 2), [3, 1]);
  // a host with a single flow scores that flow
  assert.equal(hosts[hostOfRow[4]!]!.hostScore, 2);
});

test('host threshold from calibration scores, verdicts and evidence on new flows', () => {
  const calScores = Float64Array.from({ length: 200 }, (_, i) => i / 10);
  const cal = calibrateHosts(
    calScores,
    Array.from(calScores, (_, i) => `0|h${i}|0`),
    0.05,
  );
  assert.equal(cal.hosts, 200);
  assert.ok(cal.flagged <= 10, `${cal.flagged}`);
  const v = scoreHosts(scores, identity, { calibration: { ...cal, threshold: 4, windowSeconds: 300 } });
  const flagged = topHosts(v.hosts);
  assert.deepEqual(
    flagged.map((h) => h.host),
    ['10.0.0.1', '10.0.0.1'],
  );
  assert.deepEqual(flagged[0]!.evidence.slice(0, 1), ['1:f']);
  assert.equal(scoreHosts(scores, identity).hosts[0]!.isAnomaly, null);
});

describe('count-aware tail host score', () => {
  const rng = new Rng(3);
  // benign calibration: 3000 flows of 600 host windows (1..9 flows each)
  const calScores: number[] = [];
  const calKeys: string[] = [];
  for (let h = 0; h < 600; h++) {
    const n = 1 + (h % 9);
    for (let j = 0; j < n; j++) {
      calScores.push(Math.abs(rng.normal()));
      calKeys.push(`${h % 7}|10.0.${h}.1|0`);
    }
  }
  const tail = flowTail(calScores);

  test('tail probability: decreasing in the score, floor at the highest calibration score, exponential beyond', () => {
    const grid = Array.from({ length: 60 }, (_, i) => i / 10);
    const p = grid.map((s) => tailProbability(tail, s));
    for (let i = 1; i < p.length; i++) assert.ok(p[i]! <= p[i - 1]!, `p(${grid[i]}) > p(${grid[i - 1]})`);
    assert.ok(p[0]! > 0.9);
    const max = Math.max(...calScores);
    const floor = 1 / (calScores.length + 1);
    // conformal: (1 + #calibration flows at or above) / (n + 1)
    const atMax = tailProbability(tail, max);
    assert.ok(atMax >= floor && atMax <= 2.1 * floor, `${atMax}`);
    assert.ok(tailProbability(tail, max + 1) < tailProbability(tail, max));
    // the share of calibration flows above the score level of p = 0.1 is about 0.1
    const s10 = tail.scores[tail.levels.findIndex((l) => l <= 0.1)]!;
    const above = calScores.filter((v) => v >= s10).length / calScores.length;
    assert.ok(Math.abs(above - 0.1) < 0.01, `${above}`);
  });

  test('weights: a group weighing one unit moves the tail as its share of groups, not of rows', () => {
    // group 0: 1000 high scores; groups 1..99: one low score each
    const s = [...Array.from({ length: 1000 }, () => 10), ...Array.from({ length: 99 }, (_, i) => i / 100)];
    const g = Int32Array.from(s.map((_, i) => (i < 1000 ? 0 : i - 999)));
    const size = new Map<number, number>();
    for (const x of g) size.set(x, (size.get(x) ?? 0) + 1);
    const byRow = flowTail(s);
    const byGroup = flowTail(
      s,
      Array.from(g, (x) => 1 / size.get(x)!),
    );
    assert.ok(tailProbability(byRow, 10) > 0.8);
    assert.ok(tailProbability(byGroup, 10) < 0.05);
    assert.ok(tailProbability(byGroup, 11) < tailProbability(byGroup, 10));
  });

  test('one odd flow counts for more on a quiet host; many odd flows add up', () => {
    const one = tailHostScore([1e-3]);
    assert.ok(Math.abs(one - 3) < 1e-9);
    assert.ok(tailHostScore([1e-3, ...Array(99).fill(0.5)]) < one - 1); // Šidák: ≈ 100 × p
    assert.ok(tailHostScore(Array(50).fill(0.02)) > one); // 50 flows in the top 2 %
    assert.equal(tailHostScore([]), 0);
  });

  test('calibrated on benign host windows, about the target share of new benign windows is flagged', () => {
    const cal = calibrateHosts(calScores, calKeys, 0.05, { aggregate: 'tail' });
    assert.equal(cal.aggregate, 'tail');
    assert.ok(cal.tail && cal.tail.rows === calScores.length);
    assert.ok(cal.flagged <= 0.05 * cal.hosts + 1, `${cal.flagged} of ${cal.hosts}`);
    const fresh = new Rng(4);
    const s: number[] = [];
    const src: string[] = [];
    for (let h = 0; h < 2000; h++) {
      for (let j = 0; j < 1 + (h % 9); j++) {
        s.push(Math.abs(fresh.normal()));
        src.push(`10.1.${h}.1`);
      }
    }
    const v = scoreHosts(
      Float64Array.from(s),
      { src_ip: src, start_time: new Float64Array(s.length) },
      { calibration: cal },
    );
    const rate = v.hosts.filter((h) => h.isAnomaly).length / v.hosts.length;
    assert.ok(rate > 0.02 && rate < 0.09, `${rate}`);
    // aggregating with 'tail' needs the benign tail
    assert.throws(() => aggregateHosts(s, src, { aggregate: 'tail' }), /needs the benign flow tail/);
  });

  test('a calibration from before aggregate/scope existed still scores as the mean of the top k', () => {
    const cal = calibrateHosts(calScores, calKeys, 0.05);
    assert.equal(cal.aggregate, undefined);
    assert.deepEqual(hostAggregation(cal), { topK: 3, aggregate: 'mean' });
    const pair = calibrateHosts(calScores, calKeys, 0.05, { scope: 'pair' });
    const v = scoreHosts(scores, identity, { calibration: { ...pair, windowSeconds: 300 } });
    assert.equal(v.hosts.length, 4); // pairs (src > dst) per window
  });
});
