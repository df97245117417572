/**
 * The core commands end to end through the real CLI on the real datasets: train / score / info /
 * export on NSL-KDD, the evaluate command's JSON (issue 2's "must show" figures), exit codes and
 * one-line errors.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { cli, errorLines } from '../helpers/cli.ts';
import { dataFile, tempDir } from '../helpers/data.ts';

describe('netanomaly train / score / info / export', { timeout: 600_000 }, () => {
  const dir = tempDir();
  const model = join(dir, 'model');
  const train = dataFile('nsl-kdd/KDDTrain+_20Percent.txt');
  const testFile = dataFile('nsl-kdd/KDDTest+.txt');

  before(async () => {
    const r = await cli([
      'train',
      train,
      '--format',
      'nsl-kdd',
      '--train-on',
      'normal',
      '--k',
      '16',
      '-o',
      model,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.k, 16);
    assert.equal(summary.rows_used, 13449);
    assert.ok(summary.threshold > 0);
  });

  test('score as CSV: the header comes first, one line per record', async () => {
    const r = await cli(['score', model, testFile, '--format', 'nsl-kdd']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], 'row,anomaly_score,is_anomaly,cluster');
    assert.equal(lines.length, 22545);
    assert.match(lines[22544]!, /^22543,[0-9.]+,[01],\d+$/);
  });

  test('score --jsonl: one object per record with anomaly_score, is_anomaly, cluster', async () => {
    const r = await cli(['score', model, testFile, '--format', 'nsl-kdd', '--jsonl']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 22544);
    const first = JSON.parse(lines[0]!);
    assert.equal(typeof first.anomaly_score, 'number');
    assert.equal(typeof first.is_anomaly, 'boolean');
    assert.ok(Number.isInteger(first.cluster) && first.cluster >= 0 && first.cluster < 16);
    assert.ok(first.risk_score >= 0 && first.risk_score <= 100);
    const flagged = lines.filter((l) => JSON.parse(l).is_anomaly).length;
    assert.ok(flagged > 1000 && flagged < 22544, `${flagged} flagged`);
  });

  test('score auto-detects the format from the content', async () => {
    const small = join(dir, 'small.data');
    writeFileSync(small, readFileSync(testFile, 'utf8').split('\n').slice(0, 50).join('\n'));
    const r = await cli(['score', model, small]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 51);
    assert.equal(lines[0], 'row,anomaly_score,is_anomaly,cluster');
  });

  test('info --json and export: the ONNX file runs in onnxruntime', async () => {
    const info = await cli(['info', model, '--json']);
    assert.equal(info.code, 0, info.stderr);
    const parsed = JSON.parse(info.stdout);
    assert.equal(parsed.k, 16);
    assert.equal(parsed.fields.length, 41);
    assert.ok(!parsed.fields.includes('label'));
    const onnxPath = join(dir, 'exported.onnx');
    const ex = await cli(['export', model, '--format', 'onnx', '-o', onnxPath]);
    assert.equal(ex.code, 0, ex.stderr);
    const session = await ort.InferenceSession.create(onnxPath);
    assert.deepEqual(session.inputNames, ['features']);
    assert.deepEqual(session.outputNames, ['distances', 'cluster', 'anomaly_score']);
    const jsonPath = join(dir, 'exported.json');
    assert.equal((await cli(['export', model, '--format', 'json', '-o', jsonPath])).code, 0);
    assert.equal(JSON.parse(readFileSync(jsonPath, 'utf8')).format, 'netanomaly-model');
  });

  test('bad input: exit 1 with one line naming the file; usage errors exit 2', async () => {
    const garbage = join(dir, 'garbage.txt');
    writeFileSync(garbage, 'this is not\na dataset at all\n');
    const cases: [string[], number, RegExp][] = [
      [
        ['train', join(dir, 'missing.txt'), '--format', 'nsl-kdd', '-o', join(dir, 'm2')],
        1,
        /missing\.txt: no such file/,
      ],
      [['train', garbage, '--format', 'nsl-kdd', '-o', join(dir, 'm3')], 1, /garbage\.txt/],
      [['score', dir, testFile], 1, /not a netanomaly model/],
      [['score', model, garbage, '--format', 'nsl-kdd', '--on-bad-row', 'fail'], 1, /garbage\.txt/],
      [
        ['score', model, dataFile('pcaps/attack/synscan.pcap')],
        1,
        /SchemaError: input does not match the model's schema: 40 of its 41 fields are missing .*fwd_packets/,
      ],
      [['train', train, '--format', 'nsl-kdd', '--k', 'zero', '-o', join(dir, 'm4')], 2, /integer/],
      [['train', train, '--format', 'parquet', '-o', join(dir, 'm5')], 2, /Allowed choices/],
      [['evaluate', '--target-fpr', '2'], 2, /\(0, 0\.5\)/],
      [['no-such-command'], 2, /unknown command/],
    ];
    for (const [args, code, re] of cases) {
      const r = await cli(args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      const errors = errorLines(r.stderr).filter((l) => !l.startsWith('(run with'));
      assert.equal(errors.length, 1, `one error line expected for ${args.join(' ')}: ${r.stderr}`);
      assert.match(errors[0]!, re);
      assert.ok(!r.stderr.includes('    at '), 'no stack trace');
    }
  });
});
