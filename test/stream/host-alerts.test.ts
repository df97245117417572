/**
 * Host alerts of the watcher (host-windows.ts): real captures and a real Zeek conn.log through
 * `watch`. One alert per host window over the model's host threshold, carrying the host, window,
 * score, flagged flows and its top flows' Community IDs; the host windows `score` flags are
 * alerted; later flagged flows of the window point at the host alert; replays are de-duplicated
 * by event id; the state is bounded.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { readInput } from '../../src/ingest/read-input.ts';
import { loadModel, saveModel } from '../../src/model/bundle.ts';
import type { HostCalibration } from '../../src/model/host-score.ts';
import { scanLines } from '../../src/ops/selftest.ts';
import { scoreRecords } from '../../src/pipeline/score.ts';
import { trainFromFile } from '../../src/pipeline/train.ts';
import { HostWindows } from '../../src/stream/host-windows.ts';
import { alertSchemaPath, JsonSchema, statsSchemaPath } from '../../src/stream/json-schema.ts';
import { watch } from '../../src/stream/watcher.ts';
import { tailAlerts } from '../../src/web/alerts.ts';
import { alertsOf, hostAlertsOf, type Json, records, tmp, trainedModel } from './helpers.ts';

const DATA = process.env.NETANOMALY_DATA_DIR ?? '';
const CAPTURES = [join(DATA, 'pcaps', 'attack', 'synscan.pcap'), join(DATA, 'pcaps', 'normal', 'ftp.pcap')];

let modelDir = '';
before(async () => {
  assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
  modelDir = await trainedModel();
});

function validate(path: string): void {
  const a = JsonSchema.load(alertSchemaPath());
  const s = JsonSchema.load(statsSchemaPath());
  for (const r of records(path)) {
    const isAlert = r.event?.kind === 'alert' || r.event_type === 'alert';
    assert.deepEqual((isAlert ? a : s).validate(r), [], JSON.stringify(r).slice(0, 300));
  }
}

/** host|window-start (ISO) of every host window `score` flags in one capture. */
async function batchFlagged(
  model: Awaited<ReturnType<typeof loadModel>>,
  file: string,
): Promise<Set<string>> {
  const input = await readInput(file, 'pcap', 'quarantine');
  const { summary } = await scoreRecords(model, input);
  const out = new Set<string>();
  for (const h of summary.hosts!.top)
    out.add(`${h.host}|${new Date(h.windowStart * 1000).toISOString().slice(0, 19)}`);
  assert.ok(summary.hosts!.flagged <= 20, 'more flagged windows than topHosts lists');
  return out;
}

describe('watch: host alerts', { timeout: 120_000 }, () => {
  test('a directory of real captures: one alert per host window over the threshold, with its evidence', async () => {
    const model = await loadModel(modelDir);
    const cal = model.detector.training.host!;
    assert.ok(cal && Number.isFinite(cal.threshold), 'the test model has a host calibration');
    const dir = tmp('host-dir');
    const inbox = join(dir, 'inbox');
    mkdirSync(inbox);
    for (const c of CAPTURES) copyFileSync(c, join(inbox, c.split('/').pop()!));
    const alerts = join(dir, 'alerts.jsonl');
    const r = await watch({ source: inbox, model, alerts, once: true, settle: 0, pollMs: 20 });
    validate(alerts);
    const hosts = hostAlertsOf(alerts);
    assert.ok(hosts.length >= 1, 'the SYN scan raises a host alert');
    assert.equal(r.counters.host_alerts, hosts.length);
    // one per host window
    const keys = hosts.map(
      (h: Json) => `${h.netanomaly.input.file}|${h.source.ip}|${h.netanomaly.host.window_start}`,
    );
    assert.equal(new Set(keys).size, keys.length);
    // every window `score` flags in a capture is alerted by the watcher
    for (const c of CAPTURES) {
      const name = join(inbox, c.split('/').pop()!);
      const flagged = await batchFlagged(model, name);
      const streamed = new Set(
        hosts
          .filter((h: Json) => h.netanomaly.input.file === name)
          .map((h: Json) => `${h.source.ip}|${h.netanomaly.host.window_start.slice(0, 19)}`),
      );
      for (const k of flagged)
        assert.ok(streamed.has(k), `${c}: score flags ${k}, the watcher did not alert`);
    }
    // the evidence: that host's flows, highest first, with their Community IDs; score over threshold
    const flows = await readInput(CAPTURES[0]!, 'pcap', 'quarantine');
    const cidsOf = new Map<string, Set<string>>();
    flows.identity!.src_ip.forEach((ip, i) => {
      if (!cidsOf.has(ip)) cidsOf.set(ip, new Set());
      cidsOf.get(ip)!.add(flows.identity!.community_id[i]!);
    });
    for (const h of hosts) {
      const b = h.netanomaly.host;
      assert.equal(b.ip, h.source.ip);
      assert.ok(b.score > b.threshold);
      assert.equal(b.threshold, Math.round(cal.threshold * 1e6) / 1e6);
      assert.equal(b.window_seconds, cal.windowSeconds);
      assert.ok(b.flagged_flows <= b.flows && b.evidence.length >= 1 && b.evidence.length <= 5);
      const scores = b.evidence.map((e: Json) => e.anomaly_score);
      assert.deepEqual(
        scores,
        [...scores].sort((x: number, y: number) => y - x),
      );
      if (h.netanomaly.input.file.endsWith('synscan.pcap'))
        for (const e of b.evidence) assert.ok(cidsOf.get(b.ip)?.has(e.community_id), e.community_id);
    }
    // flow alerts of an alerted window, from the crossing on, name the host alert
    const byId = new Map(hosts.map((h: Json) => [h.event.id, h]));
    const linked = alertsOf(alerts).filter((a: Json) => a.netanomaly.host);
    for (const a of linked) {
      const h = byId.get(a.netanomaly.host.alert_id) as Json;
      assert.ok(h, 'a flow alert names a host alert that was written');
      assert.equal(h.source.ip, a.source.ip);
    }
    // the web app's Live page lists them with the host window's score
    const live = await tailAlerts(alerts, 100_000, 64 << 20);
    for (const h of hosts) {
      const row = live.alerts.find((x) => x.id === h.event.id);
      assert.ok(row, 'the Live page lists the host alert');
      assert.equal(row.score, h.netanomaly.host.score);
      assert.equal(row.srcIp, h.source.ip);
    }
    // a second run over the same captures (no checkpoint): every alert, host alerts too, is a duplicate
    const again = await watch({ source: inbox, model, alerts, once: true, settle: 0, pollMs: 20 });
    assert.equal(again.counters.host_alerts, 0);
    assert.equal(again.counters.alerts, 0);
    assert.equal(hostAlertsOf(alerts).length, hosts.length);
    // EVE (the scan capture alone): the same host alerts, validated
    const scanOnly = join(dir, 'scan-only');
    mkdirSync(scanOnly);
    copyFileSync(CAPTURES[0]!, join(scanOnly, 'synscan.pcap'));
    const scanHosts = hosts.filter((h: Json) => h.netanomaly.input.file.endsWith('synscan.pcap'));
    const eve = join(dir, 'eve.jsonl');
    const e = await watch({
      source: scanOnly,
      model,
      alerts: eve,
      format: 'eve',
      once: true,
      settle: 0,
      pollMs: 20,
    });
    validate(eve);
    const eveHosts = records(eve).filter(
      (x: Json) => x.event_type === 'alert' && x.alert.metadata.netanomaly.host?.ip,
    );
    assert.equal(eveHosts.length, scanHosts.length);
    assert.equal(e.counters.host_alerts, scanHosts.length);
    assert.deepEqual(
      eveHosts.map((x: Json) => x.alert.metadata.netanomaly.event_id).sort(),
      scanHosts.map((h: Json) => h.event.id).sort(),
    );
    // off on request
    const off = await watch({
      source: scanOnly,
      model,
      alerts: join(dir, 'off.jsonl'),
      once: true,
      settle: 0,
      pollMs: 20,
      hostWindows: false,
    });
    assert.equal(off.counters.host_alerts, 0);
    assert.equal(hostAlertsOf(join(dir, 'off.jsonl')).length, 0);
  });

  test('a real Zeek conn.log and its dns/ssl/http logs: trained on, watched (joined by uid), a scan raises a host alert', async () => {
    const dir = tmp('host-zeek');
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    for (const k of ['conn', 'dns', 'ssl', 'http'])
      copyFileSync(join(DATA, 'zeek', 'tsv', `${k}.log`), join(logs, `${k}.log`));
    const conn = join(logs, 'conn.log');
    const t = await trainFromFile(conn, { format: 'zeek', trainOn: 'all', reader: readInput });
    await saveModel(join(dir, 'm'), t.detector, t.card);
    const model = await loadModel(join(dir, 'm'));
    const cal = model.detector.training.host!;
    assert.ok(cal, 'a conn.log carries flow identity: the model has a host calibration');
    const input = await readInput(conn, 'zeek', 'quarantine');
    // the watcher joins the application logs as training did: on the training log itself its flow
    // alerts are about the calibration share, not the share a model sees without its app fields
    const plain = await watch({
      source: conn,
      model,
      alerts: join(dir, 'plain.jsonl'),
      once: true,
      pollMs: 20,
    });
    assert.equal(plain.counters.scored, input.table.nRows);
    const trainShare = model.detector.training.calibrationFpr;
    process.stderr.write(
      `  zeek conn.log: ${plain.counters.scored} flows, ${plain.counters.alerts} flow alerts (calibration share ${(100 * trainShare).toFixed(1)} %), ${plain.counters.host_windows} host windows, ${plain.counters.host_alerts} host alerts\n`,
    );
    // without the application logs the watcher saw 10 % of these flows as anomalies (36 of 360)
    assert.ok(
      plain.counters.alerts <= Math.ceil(3 * trainShare * input.table.nRows) + 2,
      `${plain.counters.alerts} flow alerts on the training log`,
    );
    // then a SYN scan from one new host, in the log's own columns, after its last record
    const text = readFileSync(conn, 'utf8');
    const fields = text
      .split('\n')
      .find((l) => l.startsWith('#fields'))!
      .split('\t')
      .slice(1);
    const lastTs = Math.max(...input.identity!.start_time.filter(Number.isFinite));
    const scanner = '198.51.100.7';
    writeFileSync(conn, text.replace(/#close[^\n]*\n?$/, '') + scanLines(fields, scanner, lastTs + 1, 60));
    const alerts = join(dir, 'alerts.jsonl');
    const r = await watch({ source: conn, model, alerts, once: true, pollMs: 20 });
    validate(alerts);
    assert.equal(r.counters.scored, input.table.nRows + 60);
    const hosts = hostAlertsOf(alerts);
    assert.equal(r.counters.host_alerts, hosts.length);
    const keys = hosts.map((h: Json) => `${h.source.ip}|${h.netanomaly.host.window_start}`);
    assert.equal(new Set(keys).size, keys.length, 'one alert per host window');
    const scan = hosts.filter((h: Json) => h.source.ip === scanner);
    assert.ok(scan.length >= 1, `no host alert for the scanner (${hosts.length} host alerts)`);
    for (const h of scan) {
      assert.ok(h.netanomaly.host.score > h.netanomaly.host.threshold);
      assert.ok(h.netanomaly.host.flows <= 60);
      assert.match(h.netanomaly.input.format, /^zeek-conn-/);
      for (const e of h.netanomaly.host.evidence) assert.match(e.community_id, /^1:/);
    }
    // later flagged scan flows of the window point at its host alert
    const linked = alertsOf(alerts).filter((a: Json) => a.source.ip === scanner && a.netanomaly.host);
    assert.ok(linked.length >= 1);
    assert.ok(linked.every((a: Json) => scan.some((h: Json) => h.event.id === a.netanomaly.host.alert_id)));
  });
});

describe('host windows: bounded state', () => {
  const cal: HostCalibration = {
    windowSeconds: 60,
    topK: 2,
    targetFpr: 0.01,
    threshold: 5,
    hosts: 0,
    flagged: 0,
  };
  const flow = (ip: string, t: number, score: number, n: number) => ({
    srcIp: ip,
    startTime: t,
    communityId: `1:${String(n).padStart(27, 'A')}=`,
    eventId: String(n).padStart(64, '0'),
    anomalyScore: score,
  });

  test('one alert at the first crossing, later flows linked; late flows counted; the cap closes the oldest', () => {
    const hw = new HostWindows(cal, 3, { maxWindows: 3, retainWindows: 1 });
    assert.equal(hw.add('s', flow('a', 0, 4, 1)).alert, null); // mean of 1: 4
    const cross = hw.add('s', flow('a', 1, 7, 2)); // mean of top 2: 5.5 > 5
    assert.ok(cross.alert);
    assert.equal(cross.alert.flows, 2);
    assert.equal(cross.alert.flaggedFlows, 2);
    assert.deepEqual(
      cross.alert.evidence.map((e) => e.anomalyScore),
      [7, 4],
    );
    const later = hw.add('s', flow('a', 2, 9, 3));
    assert.equal(later.alert, null);
    assert.equal(later.link?.eventId, cross.alert.eventId);
    // the next window of the same host alerts on its own, with another id
    const next = hw.add('s', flow('a', 61, 8, 4));
    assert.ok(next.alert && next.alert.eventId !== cross.alert.eventId);
    // window 0 is now more than one window behind window 120: closed, its flows late
    hw.add('s', flow('b', 125, 1, 5));
    assert.equal(hw.add('s', flow('a', 3, 9, 6)).alert, null);
    assert.equal(hw.counters.host_flows_late, 1);
    // the cap: a fourth open window closes the least recently updated one
    hw.add('s', flow('c', 121, 1, 7));
    hw.add('s', flow('d', 122, 1, 8));
    hw.add('s', flow('e', 123, 1, 9));
    assert.equal(hw.size, 3);
    assert.ok(hw.counters.host_windows_capped >= 1);
    // scopes do not share windows; a scope's end closes its windows (4.8 then 5.1 in one window
    // would score 4.95, under the threshold; 5.1 alone in a fresh window scores 5.1)
    assert.equal(hw.add('t', flow('a', 1, 4.8, 10)).alert, null);
    hw.endScope('t');
    assert.ok(hw.add('t', flow('a', 1, 5.1, 11)).alert, 'a fresh window after the scope ended');
  });
});

describe('host windows: kept with the checkpoint', { timeout: 120_000 }, () => {
  test('snapshot → JSON → restore goes on as if there had been no restart', () => {
    const cal: HostCalibration = {
      windowSeconds: 60,
      topK: 2,
      targetFpr: 0.01,
      threshold: 5,
      hosts: 0,
      flagged: 0,
    };
    const f = (t: number, score: number, n: number) => ({
      srcIp: 'a',
      startTime: t,
      communityId: `1:${String(n).padStart(27, 'A')}=`,
      eventId: String(n).padStart(64, '0'),
      anomalyScore: score,
    });
    const before = new HostWindows(cal, 3);
    assert.equal(before.add('s', f(0, 4, 1)).alert, null);
    const state = JSON.parse(JSON.stringify(before.snapshot()));
    const after = new HostWindows(cal, 3);
    assert.equal(after.restore(state), true);
    const cross = after.add('s', f(1, 7, 2));
    // the window held the flow of before the restart: two flows, mean of 7 and 4
    assert.equal(cross.alert?.flows, 2);
    assert.deepEqual(
      cross.alert?.evidence.map((e) => e.anomalyScore),
      [7, 4],
    );
    assert.equal(after.counters.host_windows, 0, 'a restored window is not counted as new');
    // another window length: nothing restored
    assert.equal(new HostWindows({ ...cal, windowSeconds: 300 }, 3).restore(state), false);
  });

  test('a real conn.log watched in two runs ends with the same host windows (hosts, windows, flows) as one run', async () => {
    const dir = tmp('host-checkpoint');
    const t = await trainFromFile(join(DATA, 'zeek', 'tsv', 'conn.log'), {
      format: 'zeek',
      trainOn: 'all',
      reader: readInput,
    });
    await saveModel(join(dir, 'm'), t.detector, t.card);
    const model = await loadModel(join(dir, 'm'));
    const lines = readFileSync(join(DATA, 'zeek', 'tsv', 'conn.log'), 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#close'));
    const header = lines.filter((l) => l.startsWith('#'));
    const data = lines.filter((l) => !l.startsWith('#'));
    const half = Math.floor(data.length / 2);
    const run = async (name: string, parts: string[][]) => {
      const d = join(dir, name);
      mkdirSync(d);
      const log = join(d, 'conn.log');
      const checkpoint = join(d, 'checkpoint.json');
      let text = '';
      let scored = 0;
      for (const p of parts) {
        text += `${p.join('\n')}\n`;
        writeFileSync(log, text);
        const r = await watch({
          source: log,
          model,
          alerts: join(d, 'alerts.jsonl'),
          checkpoint,
          once: true,
          pollMs: 20,
        });
        scored += r.counters.scored;
      }
      const cp = JSON.parse(readFileSync(checkpoint, 'utf8'));
      // host, window and flow count: the flow scores after the restart may differ, because the
      // flows' own traffic-window features (windows.ts) restart from the checkpoint
      return {
        scored,
        windows: cp.host_windows.windows.map((w: Json) => `${w.host}|${w.start}|${w.flows}`).sort(),
      };
    };
    const one = await run('one', [[...header, ...data]]);
    const two = await run('two', [[...header, ...data.slice(0, half)], data.slice(half)]);
    assert.equal(one.scored, data.length);
    assert.equal(two.scored, data.length);
    assert.ok(one.windows.length > 0, 'the log leaves host windows open');
    assert.deepEqual(two.windows, one.windows);
  });
});
