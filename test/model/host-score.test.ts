import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  aggregateHosts,
  calibrateHosts,
  hostKeys,
  scoreHosts,
  topHosts,
} from '../../src/model/host-score.ts';

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
