/**
 * `flows`, `score --jsonl` on a pcap, and `watch` on a capture directory and on stdin, as real
 * CLI processes on the shared captures.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { alertSchemaPath, JsonSchema } from '../../src/stream/json-schema.ts';
import {
  alertsOf,
  cli,
  hostAlertsOf,
  type Json,
  ROOT,
  records,
  sleep,
  tmp,
  trainedModel,
  waitFor,
} from './helpers.ts';

const DATA = process.env.NETANOMALY_DATA_DIR ?? '';
const SCAN = join(DATA, 'pcaps', 'attack', 'synscan.pcap');
const SSH = join(DATA, 'pcaps', 'normal', 'ssh.pcap');

function runSync(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    input,
    maxBuffer: 256 << 20,
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

let model = '';
before(async () => {
  assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
  model = await trainedModel();
});

describe('flows and score on a pcap', () => {
  test('flows -o .csv and .jsonl export the same canonical flows with identity', () => {
    const dir = tmp('flows');
    const a = runSync(['flows', SCAN, '-o', join(dir, 'f.csv')]);
    assert.equal(a.code, 0, a.stderr);
    const b = runSync(['flows', SCAN, '--format', 'pcap', '-o', join(dir, 'f.jsonl')]);
    assert.equal(b.code, 0, b.stderr);
    const csv = readFileSync(join(dir, 'f.csv'), 'utf8').trim().split('\n');
    const jl = readFileSync(join(dir, 'f.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Json);
    assert.equal(csv.length - 1, jl.length);
    assert.equal(jl.length, 1994);
    const header = csv[0]!.split(',');
    for (const c of [
      'src_ip',
      'dst_ip',
      'src_port',
      'dst_port',
      'protocol',
      'start_time',
      'community_id',
      'conn_state',
      'src_t_distinct_dst_ports',
    ])
      assert.ok(header.includes(c), c);
    assert.match(jl[0].community_id, /^1:[A-Za-z0-9+/]{27}=$/);
    assert.equal(jl[0].protocol, 'tcp');
    // same first row in both
    const row = csv[1]!.split(',');
    assert.equal(row[header.indexOf('community_id')], jl[0].community_id);
    assert.equal(Number(row[header.indexOf('fwd_packets')]), jl[0].fwd_packets);
    const bad = runSync(['flows', SCAN, '-o', join(dir, 'f.txt')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /OptionError: --out .*\.csv or \.jsonl/);
  });

  test('score MODEL file.pcap --format pcap --jsonl gives one object per flow with identity', () => {
    const r = runSync(['score', model, SSH, '--format', 'pcap', '--jsonl']);
    assert.equal(r.code, 0, r.stderr);
    const recs = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Json);
    assert.equal(recs.length, 2);
    for (const x of recs) {
      for (const k of [
        'anomaly_score',
        'is_anomaly',
        'cluster',
        'src_ip',
        'dst_ip',
        'src_port',
        'dst_port',
        'protocol',
        'start_time',
        'community_id',
      ])
        assert.ok(k in x, k);
      assert.equal(x.protocol, 'tcp');
      assert.ok(x.src_port === 22 || x.dst_port === 22);
      assert.match(x.community_id, /^1:/);
    }
  });
});

describe('watch: capture directory and stdin', () => {
  test('a directory: a capture is read once its size is stable, once per (path, size, hash); a non-capture is quarantined', async () => {
    const dir = tmp('pcapdir');
    const inbox = join(dir, 'inbox');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(inbox);
    const alerts = join(dir, 'alerts.jsonl');
    const args = [
      'watch',
      inbox,
      '--model',
      model,
      '--alerts',
      alerts,
      '--checkpoint',
      join(dir, 'cp.json'),
      '--min-score',
      '0',
      '--settle',
      '0.5',
      '--poll-ms',
      '50',
    ];
    const p = cli(args);
    // a capture arriving in two halves: nothing is read before it is complete and stable
    const bytes = readFileSync(SSH);
    writeFileSync(join(inbox, 'a.pcap'), bytes.subarray(0, 2000));
    await sleep(300);
    writeFileSync(join(inbox, 'a.pcap'), bytes);
    writeFileSync(join(inbox, 'notes.txt'), 'not a capture\n');
    await waitFor(() => alertsOf(alerts).length >= 2, 20_000, 'alerts of a.pcap');
    await sleep(800);
    p.child.kill('SIGTERM');
    assert.equal((await p.exited).code, 143);
    let recs = alertsOf(alerts);
    assert.equal(recs.length, 2, 'ssh.pcap has 2 flows, read once');
    assert.equal(recs[0].netanomaly.input.format, 'pcap');
    // restart: nothing is read again. The same content under another name is read, but its flows
    // carry the same event ids (ids are content-based) so no alert is added; new content alerts.
    copyFileSync(SSH, join(inbox, 'b.pcap'));
    copyFileSync(join(DATA, 'pcaps', 'normal', 'ftp.pcap'), join(inbox, 'c.pcap'));
    const q = cli(args);
    await waitFor(() => alertsOf(alerts).length >= 5, 20_000, 'alerts of c.pcap');
    await sleep(800);
    q.child.kill('SIGINT');
    assert.equal((await q.exited).code, 130);
    assert.match(q.stderr(), /read 5, parsed 5, scored 5, alerts 3, duplicates suppressed 2/);
    recs = alertsOf(alerts);
    assert.equal(recs.length, 5);
    const files = new Set(recs.map((r) => r.netanomaly.input.file));
    assert.deepEqual([...files].map((f) => f.split('/').pop()).sort(), ['a.pcap', 'c.pcap']);
    const stats = records(alerts).filter((r: Json) => r.event?.dataset === 'netanomaly.stats');
    assert.ok(stats.some((s: Json) => s.netanomaly.stats.counters.quarantined.unreadable_capture === 1));
    const schema = JsonSchema.load(alertSchemaPath());
    for (const r of recs) assert.deepEqual(schema.validate(r), []);
  });

  test('stdin JSON lines of canonical flows score exactly like `score` on the pcap', () => {
    const dir = tmp('stdin');
    const f = runSync(['flows', SCAN, '-o', '-']);
    assert.equal(f.code, 0, f.stderr);
    const alerts = join(dir, 'alerts.jsonl');
    const w = runSync(
      ['watch', '-', '--model', model, '--alerts', alerts, '--min-score', '0', '--batch', '100'],
      f.stdout,
    );
    assert.equal(w.code, 0, w.stderr);
    const s = runSync(['score', model, SCAN, '--format', 'pcap', '--jsonl']);
    const scored = s.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Json);
    const byCid = new Map<string, number[]>();
    for (const r of scored)
      byCid.set(r.community_id, [...(byCid.get(r.community_id) ?? []), r.anomaly_score]);
    const got = alertsOf(alerts);
    assert.equal(got.length, scored.length);
    for (const a of got) {
      const want = byCid.get(a.network.community_id);
      assert.ok(
        want?.some((v) => Math.abs(v - a.netanomaly.anomaly_score) < 1e-5),
        a.network.community_id,
      );
    }
    // replaying the same stdin again adds nothing (same event ids)
    const again = runSync(['watch', '-', '--model', model, '--alerts', alerts, '--min-score', '0'], f.stdout);
    assert.equal(again.code, 0);
    assert.equal(alertsOf(alerts).length, scored.length);
    // every flow alert and every host alert (host-windows.ts) of the first run
    assert.match(again.stderr, new RegExp(`duplicates suppressed ${1994 + hostAlertsOf(alerts).length}\\b`));
    assert.match(again.stderr, /alerts 0, .*host alerts 0$/m);
  });
});
