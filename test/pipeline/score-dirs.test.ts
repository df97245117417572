/**
 * `netanomaly train <captures> --format pcap --train-on all` then `netanomaly score M DIR --format
 * pcap --jsonl` on the shared attack and malformed directories, through the real CLI: exit 0,
 * every line a record with its score, flag, identity, Community ID and file, every file of the
 * directory accounted for (scored, without flows, or named as unreadable on one line), never a
 * stack or a raw RangeError; each line carries its host score and verdict, and stderr lists the
 * flagged host windows with their evidence Community IDs. The model is trained on a spread sample of the normal captures with
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
      // biome-ignore lint/suspicious/noExplicitAny: JSON records checked field by field
      const recs: any[] = [];
      for (const l of lines) {
        const rec = JSON.parse(l);
        assert.equal(typeof rec.anomaly_score, 'number', l);
        assert.ok(Number.isFinite(rec.anomaly_score), l);
        assert.equal(typeof rec.is_anomaly, 'boolean', l);
        assert.match(rec.community_id, /^1:[A-Za-z0-9+/]{27}=$/, l);
        for (const k of ['src_ip', 'dst_ip', 'protocol']) assert.equal(typeof rec[k], 'string', l);
        for (const k of ['src_port', 'dst_port', 'start_time']) assert.equal(typeof rec[k], 'number', l);
        // the host score of the record's source-host window, with the model's host verdict
        assert.ok(Number.isFinite(rec.host_score), l);
        assert.equal(typeof rec.host_is_anomaly, 'boolean', l);
        seen.add(rec.file);
        recs.push(rec);
      }
      // stderr lists the flagged host windows with their evidence (Community IDs of the host's flows)
      const head = r.stderr.match(
        /^flagged hosts: (\d+) of (\d+) host windows above the host threshold (\S+)/m,
      );
      assert.ok(head, r.stderr);
      const flaggedWindows = new Set(
        recs.filter((x) => x.host_is_anomaly).map((x) => `${x.file}|${x.src_ip}|${x.host_score}`),
      );
      assert.equal(Number(head[1]), flaggedWindows.size);
      const rows = r.stderr
        .split('\n')
        .map((x) => /^ {2}(\S+)\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s+(\S+)\s+(\d+)\s+(\d+)\s+(.*)$/.exec(x))
        .filter((m) => m !== null);
      assert.equal(rows.length, Math.min(20, flaggedWindows.size));
      for (const m of rows) {
        assert.ok(Number(m[3]) > Number(head[3]), m[0]);
        const evidence = m[6]!.split(' ');
        assert.ok(evidence.length >= 1 && Number(m[5]) <= Number(m[4]), m[0]);
        for (const cid of evidence)
          assert.ok(
            recs.some((x) => x.community_id === cid && x.src_ip === m[1] && x.host_is_anomaly),
            `${cid} is not a flow of flagged host ${m[1]}`,
          );
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
