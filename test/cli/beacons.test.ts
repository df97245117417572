/**
 * `netanomaly beacons` end to end on real inputs: a real Zeek conn.log and a directory of real
 * captures with a file that is no traffic; bad options and unreadable inputs get one line.
 * (The lab test, test/lab/run.test.ts, checks that C2 check-ins rank at the top.)
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cli, errorLines } from '../helpers/cli.ts';
import { dataFile, tempDir } from '../helpers/data.ts';

const dir = tempDir('netanomaly-beacons-');
after(() => rmSync(dir, { recursive: true, force: true }));

interface Pair {
  connections: number;
  interval_s: number;
  ts_score: number;
  score: number;
  known: string | null;
  names: string[];
  community_ids: string[];
}

test('a real Zeek conn.log: pairs with ≥ 10 connections at ≥ 1 s, most regular first, with evidence', async () => {
  const r = await cli(['beacons', dataFile('zeek/tsv/conn.log'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { pairs: Pair[]; flows: number; files: number; failures: string[] };
  assert.equal(report.files, 1);
  assert.equal(report.failures.length, 0);
  assert.ok(report.flows > 300);
  assert.ok(report.pairs.length >= 1);
  for (const p of report.pairs) {
    assert.ok(p.connections >= 10 && p.interval_s >= 1);
    assert.ok(p.ts_score >= 0 && p.ts_score <= 1 && p.score >= 0 && p.score <= 1);
    assert.ok(p.community_ids.length >= 1 && p.community_ids.every((c) => c.startsWith('1:')));
  }
  for (let i = 1; i < report.pairs.length; i++)
    assert.ok(report.pairs[i - 1]!.ts_score >= report.pairs[i]!.ts_score);
  // the text form names the pair and the columns
  const text = await cli(['beacons', dataFile('zeek/tsv/conn.log'), '--min-connections', '5']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /timing\s+sizes\s+score\s+conns/);
  assert.match(text.stdout, /→/);
});

test('a directory with a file that is no traffic: the file is named, the captures are read', async () => {
  const d = join(dir, 'mixed');
  mkdirSync(d);
  for (const name of ['normal/ssh.pcap', 'normal/http_auth.pcap'])
    copyFileSync(dataFile(`pcaps/${name}`), join(d, name.split('/')[1]!));
  writeFileSync(join(d, 'notes.txt'), 'not a capture\n');
  const r = await cli(['beacons', d, '--min-connections', '2', '--min-interval', '0', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { files: number; failures: string[]; flows: number };
  assert.equal(report.files, 3);
  assert.equal(report.failures.length, 1);
  assert.match(report.failures[0]!, /notes\.txt: /);
  assert.ok(report.flows > 0);
  assert.ok(errorLines(r.stderr).some((l) => l.startsWith('warning: ') && l.includes('notes.txt')));
});

test('bad allow-list entries, options and inputs get one line, never a stack', async () => {
  const conn = dataFile('zeek/tsv/conn.log');
  const cidr = await cli(['beacons', conn, '--allow', '10.0.0.0/40']);
  assert.equal(cidr.code, 1);
  assert.deepEqual(errorLines(cidr.stderr), ["InputError: allow-list: '10.0.0.0/40' is not an IPv4 CIDR"]);
  const missing = await cli(['beacons', conn, '--allow-file', join(dir, 'no-such-list')]);
  assert.equal(missing.code, 1);
  assert.equal(errorLines(missing.stderr).length, 1);
  assert.match(missing.stderr, /no-such-list: cannot read the allow-list/);
  const interval = await cli(['beacons', conn, '--min-interval', '-1']);
  assert.equal(interval.code, 2);
  assert.match(interval.stderr, /must be a number in \[0, 86400\]/);
  const junk = join(dir, 'junk.bin');
  writeFileSync(junk, 'garbage');
  const bad = await cli(['beacons', junk]);
  assert.equal(bad.code, 1);
  assert.equal(errorLines(bad.stderr).length, 1, bad.stderr);
  assert.match(bad.stderr, /junk\.bin/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /);
});
