/**
 * One capture, no groups given: the threshold is cross-fitted over groups derived from the data
 * (blocks of start time by default, or source hosts), so it is an out-of-group quantile, the model
 * card carries the expected FPR with its intervals, and host windows are not cut by the derived
 * groups. Without flow identity (NSL-KDD) nothing changes: leave-one-out.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { type AnyInput, readInput } from '../../src/ingest/read-input.ts';
import { takeRows } from '../../src/ingest/table.ts';
import { conformalThreshold } from '../../src/model/calibration.ts';
import { AnomalyDetector, deriveGroups } from '../../src/model/detector.ts';
import { trainFromFile } from '../../src/pipeline/train.ts';
import { dataFile } from '../helpers/data.ts';

const DATA = process.env.NETANOMALY_DATA_DIR ?? '';

test('derived groups: time blocks hold equal rows in time order; sources one group each', () => {
  const start = Float64Array.from({ length: 103 }, (_, i) => (i * 7919) % 103);
  const src = Array.from(start, (t) => `10.0.0.${t % 4}`);
  const t = deriveGroups({ src_ip: src, start_time: start }, 'time', 5);
  assert.equal(t.groups, 10);
  const sizes = new Array(10).fill(0);
  for (const g of t.index) sizes[g]++;
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${sizes}`);
  // contiguous in time: every row of block b starts no later than every row of block b + 1
  for (let i = 0; i < start.length; i++)
    for (let j = 0; j < start.length; j++) if (t.index[i]! < t.index[j]!) assert.ok(start[i]! <= start[j]!);
  const s = deriveGroups({ src_ip: src, start_time: start }, 'source', 5);
  assert.equal(s.groups, 4);
  for (let i = 0; i < src.length; i++) assert.equal(s.index[i], s.index[src.indexOf(src[i]!)]);
});

test('one real capture: out-of-group threshold over time blocks, expected FPR in the card', async () => {
  assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
  const capture = join(DATA, 'pcaps', 'normal', 'gnutella.pcap');
  const r = await trainFromFile(capture, {
    format: 'pcap',
    trainOn: 'all',
    k: 8,
    detector: { ensembleK: [] },
    reader: readInput,
  });
  const id = (r.input as AnyInput).identity!;
  const tr = r.detector.training;
  assert.equal(tr.calibration, 'grouped');
  assert.deepEqual(tr.derivedGroups, { by: 'time', groups: 10 });
  const cal = r.detector.calibrationScores!;
  assert.equal(cal.scores.length, r.card.data.rows);
  // rows weigh alike for derived groups: the split-conformal quantile of the out-of-group scores
  assert.equal(r.detector.threshold, conformalThreshold(cal.scores, 0.01));
  const ex = tr.expectedFpr!;
  assert.equal(ex.groups, 10);
  assert.ok(ex.groupBootstrap.low <= ex.fpr && ex.fpr <= ex.groupBootstrap.high);
  assert.ok(ex.clopperPearson.low <= ex.fpr && ex.fpr <= ex.clopperPearson.high);
  // host windows are keyed by source and window only (derived groups are no boundary)
  assert.ok(tr.host && tr.host.hosts > 0 && tr.host.hosts <= new Set(id.src_ip).size * 10);
  // by source hosts instead: other groups, the same contract
  const bySource = await new AnomalyDetector(r.input.fields, {
    k: 8,
    ensembleK: [],
    calibrationGroups: 'source',
  }).fit(r.input.table, {
    identity: id,
  });
  assert.equal(bySource.training.derivedGroups?.by, 'source');
  // 'none' keeps leave-one-out
  const loo = await new AnomalyDetector(r.input.fields, {
    k: 8,
    ensembleK: [],
    calibrationGroups: 'none',
  }).fit(r.input.table, {
    identity: id,
  });
  assert.equal(loo.training.calibration, 'loo');
  assert.equal(loo.training.derivedGroups, undefined);
});

test('without flow identity (NSL-KDD) calibration stays leave-one-out', async () => {
  const input = await readInput(dataFile('nsl-kdd/KDDTrain+_20Percent.txt'), 'nsl-kdd', 'fail');
  const rows = Array.from({ length: 3000 }, (_, i) => i);
  const det = await new AnomalyDetector(input.fields, { k: 8, ensembleK: [] }).fit(
    takeRows(input.table, rows),
  );
  assert.equal(det.training.calibration, 'loo');
  assert.equal(det.training.derivedGroups, undefined);
});
