/**
 * `netanomaly train <captures> --format pcap --train-on all` then `netanomaly score M DIR --format
 * pcap --jsonl` on the shared attack and malformed directories, through the real CLI: exit 0,
 * every line a record with its score, flag, identity, Community ID and file, every file of the
 * directory accounted for (scored, without flows, or named as unreadable on one line), never a
 * stack or a raw RangeError. The model is trained on a spread sample of the normal captures with
 * a fixed k (the elbow sweep over all 406 is what `train` does by default; it takes a minute).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { readInput } from '../../src/ingest/read-input.ts';
import { loadModel } from '../../src/model/bundle.ts';
import { scoreRecords } from '../../src/pipeline/score.ts';
import { cli } from '../helpers/cli.ts';
import { dataDir, dataFile, tempDir } from '../helpers/data.ts';

describe('score a directory of captures', { timeout: 300_000 }, () => {
  const dir = tempDir();
  const model = join(dir, 'model');

  before(async () => {
    const normal = join(dataDir(), 'pcaps', 'normal');
    const train = join(dir, 'normal-sample');
    mkdirSync(train);
    const names = readdirSync(normal).sort();
    for (const [i, n] of names.entries()) if (i % 8 === 0) symlinkSync(join(normal, n), join(train, n));
    const r = await cli(['train', train, '--format', 'pcap', '--train-on', 'all', '--k', '8', '-o', model]);
    assert.equal(r.code, 0, r.stderr);
  });

  for (const sub of ['attack', 'malformed']) {
    test(`${sub}: every line scored with identity and Community ID, every file reported`, async () => {
      const target = join(dataDir(), 'pcaps', sub);
      const r = await cli(['score', model, target, '--format', 'pcap', '--jsonl']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!/RangeError|\n\s+at /.test(r.stderr), r.stderr);
      const lines = r.stdout.trim().split('\n');
      const seen = new Set<string>();
      for (const l of lines) {
        const rec = JSON.parse(l);
        assert.equal(typeof rec.anomaly_score, 'number', l);
        assert.ok(Number.isFinite(rec.anomaly_score), l);
        assert.equal(typeof rec.is_anomaly, 'boolean', l);
        assert.match(rec.community_id, /^1:[A-Za-z0-9+/]{27}=$/, l);
        for (const k of ['src_ip', 'dst_ip', 'protocol']) assert.equal(typeof rec[k], 'string', l);
        for (const k of ['src_port', 'dst_port', 'start_time']) assert.equal(typeof rec[k], 'number', l);
        seen.add(rec.file);
      }
      const files = readdirSync(target).sort();
      const stderr = r.stderr.split('\n');
      for (const f of files) {
        const path = join(target, f);
        if (seen.has(path)) continue;
        const said = stderr.filter(
          (s) => s.startsWith(`skipped ${path}: `) || s === `${path}: no flows to score`,
        );
        assert.equal(said.length, 1, `${f} neither scored nor reported once:\n${r.stderr}`);
      }
      assert.ok(
        stderr.some((s) => s.startsWith(`${files.length} file(s): ${seen.size} scored, `)),
        r.stderr,
      );
      assert.ok(seen.size >= files.length - 5, `${seen.size} of ${files.length} files scored`);
    });
  }

  test('a field the model has but the input lacks is imputed and counted (pcap model, Zeek log)', async () => {
    const loaded = await loadModel(model);
    const input = await readInput(dataFile('zeek/tsv/conn.log'), 'zeek', 'fail');
    const { summary } = await scoreRecords(loaded, input);
    assert.equal(summary.rows, input.table.nRows);
    assert.equal(summary.imputed.pkt_len_min, input.table.nRows);
    assert.equal(summary.imputed.flow_iat_mean, input.table.nRows);
  });
});
