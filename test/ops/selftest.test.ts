/**
 * Self-test against a real running watcher: a recorded SYN scan injected into the directory the
 * watcher follows comes out as alerts (twice in a row: the injected bytes differ each time, so
 * de-duplication cannot swallow the second run); a Zeek conn.log source gets a scan appended; a
 * pipeline broken on purpose (no watcher, an alert sink on a full file system) fails loudly.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { lastSelfTest, scanLines, uniqueCapture } from '../../src/ops/selftest.ts';
import { cli as runCli } from '../helpers/cli.ts';
import { dataFile } from '../helpers/data.ts';
import { cli, killAll, tmp, trainedModel, ZEEK_HEADER } from '../stream/helpers.ts';

const SCAN = () => dataFile('pcaps/attack/synscan.pcap');

/** A watcher following capture directory `dir` (polls every 100 ms; a file is read once 0.2 s old). */
const watchCaptures = (dir: string, alerts: string, model: string) =>
  cli(['watch', dir, '--model', model, '--alerts', alerts, '--poll-ms', '100', '--settle', '0.2']);

/** `selftest` injecting the recorded SYN scan into capture directory `dir`, plus `options`. */
const selftestScan = (dir: string, alerts: string, options: string[]) =>
  runCli(['selftest', '--source', dir, '--alerts', alerts, '--capture', SCAN(), ...options]);

describe('selftest building blocks', () => {
  it('a unique capture differs in bytes each time and keeps every original packet', () => {
    const bytes = readFileSync(SCAN());
    const a = uniqueCapture(bytes, 1);
    const b = uniqueCapture(bytes, 2);
    assert.notDeepEqual(a, b);
    assert.deepEqual(a.subarray(0, bytes.length), bytes);
    assert.throws(
      () => uniqueCapture(Buffer.from('this is a text file, certainly not a capture'), 1),
      /not a classic pcap/,
    );
  });
  it('scan lines follow the log’s own #fields order', () => {
    const line = scanLines(['ts', 'id.orig_h', 'id.resp_p', 'conn_state', 'service'], '198.18.0.1', 1000, 2);
    assert.equal(line, '1000.000000\t198.18.0.1\t1\tS0\t-\n1000.010000\t198.18.0.1\t2\tS0\t-\n');
  });
});

describe('selftest against a running watcher', () => {
  let model: string;
  let base: string;
  before(async () => {
    model = await trainedModel();
    base = tmp('selftest');
  });
  after(() => {
    killAll();
    try {
      execFileSync('umount', [join(base, 'full')], { stdio: 'ignore' });
    } catch {
      // not mounted
    }
  });

  it('passes on a healthy pipeline, twice in a row, and records the result for the Live page', async () => {
    const dir = join(base, 'captures');
    mkdirSync(dir);
    const alerts = join(base, 'alerts.jsonl');
    const w = watchCaptures(dir, alerts, model);
    for (let i = 0; i < 2; i++) {
      const r = await selftestScan(dir, alerts, [
        '--model',
        model,
        '--timeout',
        '60',
        '--min-alerts',
        '10',
        '--json',
      ]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${w.stderr()}`);
      const res = JSON.parse(r.stdout);
      assert.equal(res.passed, true);
      assert.ok(res.alertsSeen >= 10 && res.latencySeconds < 60);
      assert.ok(res.offline.flagged > 0, 'the model itself flags the scan offline');
    }
    const last = await lastSelfTest(join(base, 'selftest.jsonl'));
    assert.equal(last?.passed, true);
  });

  it('injects a scan into a followed Zeek conn.log', async () => {
    const log = join(base, 'conn.log');
    writeFileSync(log, `${ZEEK_HEADER}\n`);
    const alerts = join(base, 'zeek-alerts.jsonl');
    cli(['watch', log, '--model', model, '--alerts', alerts, '--poll-ms', '100']);
    const r = await runCli(['selftest', '--source', log, '--alerts', alerts, '--timeout', '60', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(JSON.parse(r.stdout).kind, 'zeek');
  });

  it('fails loudly when no watcher follows the source', async () => {
    const dir = join(base, 'nobody');
    mkdirSync(dir);
    const r = await selftestScan(dir, join(base, 'none.jsonl'), ['--timeout', '3']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /selftest FAILED: no alert for the injected attack within 3 s/);
    assert.match(
      r.stderr,
      /^SelfTestError: no alert for the injected attack within 3 s: is the watcher running/m,
    );
  });

  it('fails loudly when the alert sink is on a full file system, and passes once space is back', async () => {
    const full = join(base, 'full');
    mkdirSync(full);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', full]);
    const dir = join(base, 'captures-full');
    mkdirSync(dir);
    const alerts = join(full, 'alerts.jsonl');
    const w = watchCaptures(dir, alerts, model);
    // fill the file system: the watcher can no longer append alerts (it retries with backoff)
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${join(full, 'filler')}`, 'bs=1M', 'count=64'], {
        stdio: 'ignore',
      });
    } catch {
      // dd stops with ENOSPC: the point
    }
    const results = join(base, 'full-results.jsonl');
    const r = await selftestScan(dir, alerts, ['--timeout', '8', '--results', results]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /^SelfTestError: no alert for the injected attack/m);
    // space back: the batch the watcher was retrying goes through
    execFileSync('rm', ['-f', join(full, 'filler')]);
    const again = await selftestScan(dir, alerts, ['--timeout', '60', '--results', results]);
    assert.equal(again.code, 0, again.stdout + again.stderr + w.stderr());
    const lines = readFileSync(results, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => l.passed),
      [false, true],
    );
  });
});
