/**
 * The calibration and host-verdict options of `train` reach the model: a single real capture,
 * cut by source host instead of time, host scores per pair with the count-aware tail.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cli, errorLines } from '../helpers/cli.ts';
import { dataFile, tempDir } from '../helpers/data.ts';

describe('netanomaly train: calibration and host options', { timeout: 300_000 }, () => {
  const dir = tempDir();
  const capture = dataFile('pcaps/normal/1kxun.pcap');
  /** `train` on the capture with k = 4 and `extra` options: the exit and the --json summary. */
  const train = async (out: string, extra: string[] = []) => {
    const r = await cli([
      'train',
      capture,
      '--format',
      'pcap',
      '--train-on',
      'all',
      '--k',
      '4',
      ...extra,
      '-o',
      out,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  test('--calibration-groups, --host-aggregate, --host-scope and --field-tail are kept in the model', async () => {
    const model = join(dir, 'm');
    const s = await train(model, [
      '--calibration-groups',
      'source',
      '--host-aggregate',
      'tail',
      '--host-scope',
      'pair',
    ]);
    assert.equal(s.derived_groups?.by, 'source');
    assert.ok(s.derived_groups.groups >= 2, JSON.stringify(s.derived_groups));
    assert.equal(s.host?.aggregate, 'tail');
    assert.equal(s.host?.scope, 'pair');
    assert.ok(s.host.tail, 'the tail model is saved with the host calibration');

    const defaults = join(dir, 'd');
    const ds = await train(defaults);
    assert.equal(ds.derived_groups?.by, 'time');
    assert.equal(ds.host?.aggregate ?? 'mean', 'mean');
    assert.equal(ds.host?.topK, 3);
    assert.ok(ds.field_tail?.fields > 0, 'traffic with addresses: the per-field rarity is on by default');
    assert.equal(s.field_tail?.tails, 'both');

    const off = join(dir, 'off');
    assert.equal((await train(off, ['--field-tail', 'off'])).field_tail, undefined);
    // without the rarity part the ONNX export is exact: no --kmeans-only needed
    const e = await cli(['export', off, '--format', 'onnx', '-o', join(dir, 'off.onnx')]);
    assert.equal(e.code, 0, e.stderr);
    const refused = await cli(['export', defaults, '--format', 'onnx', '-o', join(dir, 'd.onnx')]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /kmeans-only/);
  });

  test('a bad choice is a usage error naming the option', async () => {
    const r = await cli(['train', capture, '--host-aggregate', 'median', '-o', join(dir, 'x')]);
    assert.equal(r.code, 2);
    const lines = errorLines(r.stderr).filter((l) => !l.startsWith('(run with'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /host-aggregate.*Allowed choices/);
  });
});
