/**
 * The watcher as users run it: real CLI processes (`netanomaly watch`), killed with SIGKILL at
 * random points, files rotated under it (rename and copytruncate, running and stopped), lines
 * written in halves, the alert sink made unwritable. Every record alerts (`--min-score 0`), so the
 * expected alert set is known: each input record's alert must be present exactly once after
 * de-duplication by event.id, and every record must validate against the published JSON Schema.
 */
import assert from 'node:assert/strict';
import {
  appendFileSync,
  closeSync,
  copyFileSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { alertSchemaPath, JsonSchema, statsSchemaPath } from '../../src/stream/json-schema.ts';
import {
  alertsOf,
  assertExactlyOnce,
  cli,
  type Json,
  killAll,
  records,
  run,
  sleep,
  tmp,
  trainedModel,
  waitFor,
  ZEEK_HEADER,
  zeekRow,
  zeekRows,
} from './helpers.ts';

after(killAll);

let model = '';
before(async () => {
  model = await trainedModel();
});

const alertSchema = () => JsonSchema.load(alertSchemaPath());
const statsSchema = () => JsonSchema.load(statsSchemaPath());

function validateAll(path: string): { alerts: number; other: number } {
  const a = alertSchema();
  const s = statsSchema();
  let alerts = 0;
  let other = 0;
  for (const r of records(path)) {
    const kind = (r.event as { kind?: string } | undefined)?.kind ?? (r.event_type as string);
    const errs = kind === 'alert' ? a.validate(r) : s.validate(r);
    assert.deepEqual(errs, [], `${path}: ${JSON.stringify(r).slice(0, 200)}`);
    if (kind === 'alert') alerts++;
    else other++;
  }
  return { alerts, other };
}

function watchArgs(dir: string, extra: string[] = []): string[] {
  return [
    'watch',
    join(dir, 'conn.log'),
    '--model',
    model,
    '--alerts',
    join(dir, 'alerts.jsonl'),
    '--checkpoint',
    join(dir, 'cp.json'),
    '--min-score',
    '0',
    '--poll-ms',
    '50',
    ...extra,
  ];
}

const committed = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'cp.json'), 'utf8')) as { offset: number; file: { path: string } };

describe('watch: kill -9 and restart', () => {
  test('SIGKILL at random points, restart: every record alerted exactly once after dedupe by event.id', async () => {
    const dir = tmp('kill');
    const conn = join(dir, 'conn.log');
    writeFileSync(conn, `${ZEEK_HEADER}\n`);
    let n = 0;
    const kills: number[] = [];
    let rawTotal = 0;
    for (let round = 0; round < 5; round++) {
      appendFileSync(conn, zeekRows(n, n + 1500));
      n += 1500;
      const p = cli(watchArgs(dir, ['--batch', '20']));
      // kill at a random point of this round's records (mid-run, not after it)
      const before = alertsOf(join(dir, 'alerts.jsonl')).length;
      const target = before + 1 + Math.floor(Math.random() * 1400);
      kills.push(target - before);
      await waitFor(() => alertsOf(join(dir, 'alerts.jsonl')).length >= target, 30_000, `${target} alerts`);
      p.child.kill('SIGKILL');
      const r = await p.exited;
      assert.equal(r.signal, 'SIGKILL');
    }
    // final run to the end of the file
    const last = await run(watchArgs(dir, ['--batch', '20', '--once']));
    assert.equal(last.code, 0, last.stderr);
    const { raw, unique } = assertExactlyOnce(join(dir, 'alerts.jsonl'), n);
    rawTotal = raw;
    assert.equal(unique, n);
    assert.equal(committed(dir).offset, statSync(conn).size);
    validateAll(join(dir, 'alerts.jsonl'));
    process.stderr.write(
      `  killed after ${kills.join(',')} alerts of each round; ${n} records, ${rawTotal} alert lines, ${unique} unique; final run: ${/duplicates suppressed \d+/.exec(last.stderr)?.[0] ?? '?'}\n`,
    );
  });
  test('crash after the alerts were written but before the commit (old checkpoint restored): replayed, de-duplicated', async () => {
    const dir = tmp('replay');
    const conn = join(dir, 'conn.log');
    writeFileSync(conn, `${ZEEK_HEADER}\n${zeekRows(0, 500)}`);
    let r = await run(watchArgs(dir, ['--once']));
    assert.equal(r.code, 0, r.stderr);
    const oldCp = readFileSync(join(dir, 'cp.json'));
    appendFileSync(conn, zeekRows(500, 1000));
    r = await run(watchArgs(dir, ['--once']));
    assert.equal(r.code, 0, r.stderr);
    writeFileSync(join(dir, 'cp.json'), oldCp); // as if the process died right before committing
    r = await run(watchArgs(dir, ['--once', '--stats-interval', '0.1']));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /read 500, parsed 500, scored 500, alerts 0, duplicates suppressed 500/);
    const d = assertExactlyOnce(join(dir, 'alerts.jsonl'), 1000);
    assert.equal(d.raw, 1000, 'replayed alerts are not written twice');
    const stats = records(join(dir, 'alerts.jsonl')).filter(
      (x: Json) => x.event?.dataset === 'netanomaly.stats',
    );
    assert.equal(stats.at(-1).netanomaly.stats.counters.replays, 500);
  });
});

describe('watch: rotation', () => {
  test('rename rotation while running: the old file is finished by descriptor, then the new one', async () => {
    const dir = tmp('rename');
    const conn = join(dir, 'conn.log');
    writeFileSync(conn, `${ZEEK_HEADER}\n${zeekRows(0, 100)}`);
    const p = cli(watchArgs(dir));
    await waitFor(() => alertsOf(join(dir, 'alerts.jsonl')).length >= 100, 20_000, '100 alerts');
    const fd = openSync(conn, 'a'); // the writer keeps its descriptor across the rename
    renameSync(conn, `${conn}.1`);
    writeSync(fd, zeekRows(100, 150));
    closeSync(fd);
    writeFileSync(conn, `${ZEEK_HEADER}\n${zeekRows(150, 250)}`);
    await waitFor(() => alertsOf(join(dir, 'alerts.jsonl')).length >= 250, 20_000, '250 alerts');
    p.child.kill('SIGTERM');
    const r = await p.exited;
    assert.equal(r.code, 143);
    const d = assertExactlyOnce(join(dir, 'alerts.jsonl'), 250);
    assert.equal(d.raw, 250, 'no duplicates at all without a crash');
    assert.equal(committed(dir).offset, statSync(conn).size);
  });

  test('copytruncate while running: the copy’s unread tail is read, then the file from 0', async () => {
    const dir = tmp('copytrunc');
    const conn = join(dir, 'conn.log');
    writeFileSync(conn, `${ZEEK_HEADER}\n${zeekRows(0, 100)}`);
    const p = cli(watchArgs(dir, ['--poll-ms', '300']));
    await waitFor(() => alertsOf(join(dir, 'alerts.jsonl')).length >= 100, 20_000, '100 alerts');
    appendFileSync(conn, zeekRows(100, 150)); // written just before the rotation, maybe not read yet
    copyFileSync(conn, `${conn}.1`);
    truncateSync(conn, 0);
    appendFileSync(conn, `${ZEEK_HEADER.replace('00-00-00', '01-00-00')}\n${zeekRows(150, 200)}`);
    await waitFor(() => alertsOf(join(dir, 'alerts.jsonl')).length >= 200, 20_000, '200 alerts');
    p.child.kill('SIGINT');
    const r = await p.exited;
    assert.equal(r.code, 130);
    assertExactlyOnce(join(dir, 'alerts.jsonl'), 200);
  });

  for (const how of ['rename', 'copytruncate'] as const) {
    test(`${how} while the watcher is stopped: the rotated file is found and finished first`, async () => {
      const dir = tmp(`stopped-${how}`);
      const conn = join(dir, 'conn.log');
      writeFileSync(conn, `${ZEEK_HEADER}\n${zeekRows(0, 100)}`);
      let r = await run(watchArgs(dir, ['--once']));
      assert.equal(r.code, 0, r.stderr);
      appendFileSync(conn, zeekRows(100, 150)); // never seen by the watcher
      if (how === 'rename') renameSync(conn, `${conn}.1`);
      else {
        copyFileSync(conn, `${conn}.1`);
        truncateSync(conn, 0);
      }
      appendFileSync(
        conn,
        `${how === 'rename' ? '' : ''}${ZEEK_HEADER.replace('00-00-00', '02-00-00')}\n${zeekRows(150, 220)}`,
      );
      r = await run(watchArgs(dir, ['--once']));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, how === 'rename' ? /resume_rotated_by_rename/ : /resume_rotated_copy/);
      const d = assertExactlyOnce(join(dir, 'alerts.jsonl'), 220);
      assert.equal(d.raw, 220);
    });
  }
});

describe('watch: partial lines, oversize lines, sink failure, staleness', () => {
  test('a line written in two halves is one record; a line over 1 MB is quarantined', async () => {
    const dir = tmp('partial');
    const conn = join(dir, 'conn.log');
    writeFileSync(conn, `${ZEEK_HEADER}\n${zeekRows(0, 10)}`);
    const p = cli(watchArgs(dir, ['--stats-interval', '0.2']));
    await waitFor(() => alertsOf(join(dir, 'alerts.jsonl')).length >= 10, 20_000, '10 alerts');
    const row = zeekRow(10);
    appendFileSync(conn, row.slice(0, 40));
    await sleep(700);
    assert.equal(alertsOf(join(dir, 'alerts.jsonl')).length, 10, 'half a line is not a record');
    appendFileSync(conn, `${row.slice(40)}\n`);
    appendFileSync(conn, `${'x'.repeat(1_200_000)}\n${zeekRow(11)}\n`);
    await waitFor(() => alertsOf(join(dir, 'alerts.jsonl')).length >= 12, 20_000, '12 alerts');
    await sleep(500);
    p.child.kill('SIGTERM');
    assert.equal((await p.exited).code, 143);
    assertExactlyOnce(join(dir, 'alerts.jsonl'), 12);
    const stats = records(join(dir, 'alerts.jsonl')).filter(
      (r: Json) => r.event?.dataset === 'netanomaly.stats',
    );
    const lastStats = stats.at(-1) as Json;
    assert.equal(lastStats.netanomaly.stats.counters.quarantined.line_too_long, 1);
    assert.equal(lastStats.netanomaly.stats.counters.parsed, 12);
    validateAll(join(dir, 'alerts.jsonl'));
  });

  test('alert sink unwritable: no checkpoint advance, full delivery after recovery', async () => {
    const dir = tmp('sink');
    const conn = join(dir, 'conn.log');
    const sinkDir = join(dir, 'out');
    const alerts = join(sinkDir, 'alerts.jsonl');
    writeFileSync(conn, `${ZEEK_HEADER}\n${zeekRows(0, 50)}`);
    const args = watchArgs(dir);
    args[args.indexOf('--alerts') + 1] = alerts;
    const p = cli([...args, '--stats', join(dir, 'stats.jsonl'), '--stats-interval', '0.2']);
    await waitFor(() => alertsOf(alerts).length >= 50, 20_000, '50 alerts');
    await sleep(200);
    const offsetBefore = committed(dir).offset;
    assert.equal(offsetBefore, statSync(conn).size);
    // make the sink unwritable (root-proof: the directory is replaced by a plain file → ENOTDIR)
    renameSync(sinkDir, `${sinkDir}.away`);
    writeFileSync(sinkDir, 'not a directory');
    appendFileSync(conn, zeekRows(50, 120));
    await sleep(1500);
    assert.equal(
      committed(dir).offset,
      offsetBefore,
      'checkpoint must not advance while alerts cannot be written',
    );
    const degraded = records(join(dir, 'stats.jsonl')).some(
      (r: Json) => r.netanomaly?.stats?.health === 'degraded',
    );
    assert.ok(degraded, 'stats report health "degraded" while the sink fails');
    rmSync(sinkDir);
    renameSync(`${sinkDir}.away`, sinkDir);
    await waitFor(() => alertsOf(alerts).length >= 120, 20_000, '120 alerts after recovery');
    await waitFor(() => committed(dir).offset === statSync(conn).size, 5_000, 'checkpoint at the end');
    p.child.kill('SIGTERM');
    assert.equal((await p.exited).code, 143);
    const d = assertExactlyOnce(alerts, 120);
    assert.equal(d.raw, 120);
    const last = records(join(dir, 'stats.jsonl')).at(-1) as Json;
    assert.ok(last.netanomaly.stats.counters.sink_failures > 0);
    validateAll(join(dir, 'stats.jsonl'));
  });

  test('stale input gives one warning record; EVE output validates too', async () => {
    const dir = tmp('stale');
    const conn = join(dir, 'conn.log');
    writeFileSync(conn, `${ZEEK_HEADER}\n${zeekRows(0, 5)}`);
    const p = cli(watchArgs(dir, ['--format', 'eve', '--stale-after', '0.5', '--stats-interval', '0.3']));
    await waitFor(
      () => records(join(dir, 'alerts.jsonl')).some((r: Json) => r.event_type === 'netanomaly_warning'),
      20_000,
      'stale warning',
    );
    p.child.kill('SIGTERM');
    assert.equal((await p.exited).code, 143);
    const recs = records(join(dir, 'alerts.jsonl')) as Json[];
    assert.equal(
      recs.filter((r) => r.event_type === 'alert' && !r.alert.metadata.netanomaly.host?.ip).length,
      5,
    );
    assert.equal(recs.filter((r) => r.event_type === 'netanomaly_warning').length, 1);
    const stats = recs.filter((r) => r.event_type === 'stats');
    assert.ok(
      stats.some(
        (s) => s.stats.netanomaly.health === 'stale' && s.stats.netanomaly.seconds_since_last_record >= 0.5,
      ),
    );
    validateAll(join(dir, 'alerts.jsonl'));
  });

  test('a corrupt checkpoint is refused with a one-line instruction', async () => {
    const dir = tmp('badcp');
    writeFileSync(join(dir, 'conn.log'), `${ZEEK_HEADER}\n${zeekRows(0, 5)}`);
    writeFileSync(join(dir, 'cp.json'), '{"version":1,"kind":"fi');
    const r = await run(watchArgs(dir, ['--once']));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^InputError: .*cp\.json: checkpoint is corrupt.*Delete it/m);
  });
});
