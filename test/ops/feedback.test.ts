/**
 * Analyst feedback on real alerts: the watcher scores real captures of applications the flow
 * model never saw (the false positives an analyst dismisses) and writes ECS alerts; a benign
 * verdict on one host hides its alerts retroactively (CLI `alerts`, the web app's /api/alerts)
 * without touching the file, and later alerts from other hosts (a SYN scan) still show.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OptionError } from '../../src/errors.ts';
import {
  addFeedback,
  alertKey,
  applyFeedback,
  decide,
  emptyFeedback,
  loadFeedback,
  removeFeedback,
} from '../../src/ops/feedback.ts';
import { type AppServer, startApp } from '../../src/web/server.ts';
import { cli, hostVerdict } from '../helpers/cli.ts';
import { dataFile } from '../helpers/data.ts';
import { alertsOf, killAll, records, run, tmp, trainedModel } from '../stream/helpers.ts';

/** Normal captures of applications absent from the model's five training captures. */
const UNSEEN_APPS = [
  '1kxun.pcap',
  'alicloud.pcap',
  'chrome.pcap',
  'dns_ambiguous_names.pcap',
  'ethereum.pcap',
  'gquic.pcap',
  'iax.pcap',
  'mdns.pcap',
  'quic_q50.pcap',
  'rtps.pcap',
  'someip-tp.pcap',
  'stun_signal.pcapng',
  'tls_2_reasms.pcapng',
  'ultrasurf.pcap',
];

/** The watcher scores every capture in `captures` once, appending its alerts to `alerts`. */
const scoreCaptures = (captures: string, model: string, alerts: string) =>
  run(['watch', captures, '--model', model, '--alerts', alerts, '--once']);

const ecs = (id: string, src: string, dst: string, port: number, cluster = 1) => ({
  event: { kind: 'alert', id },
  source: { ip: src, port: 40000 },
  destination: { ip: dst, port },
  network: { transport: 'tcp' },
  netanomaly: { kmeans: { cluster } },
});

describe('feedback rules', () => {
  it('match alerts by event id, host, cluster and source → port rule; known-bad wins', () => {
    const fb = emptyFeedback();
    const rule = (
      id: number,
      scope: 'alert' | 'host' | 'cluster' | 'rule',
      verdict: 'benign' | 'known-bad',
      match: object,
    ) => ({
      id,
      scope,
      verdict,
      match,
      who: 't',
      when: '2026-01-01T00:00:00Z',
    });
    fb.rules.push(
      rule(1, 'host', 'benign', { host: '192.0.2.1' }),
      rule(2, 'rule', 'benign', { srcIp: '192.0.2.9', dstPort: 53 }),
    );
    fb.rules.push(
      rule(3, 'cluster', 'benign', { cluster: 7 }),
      rule(4, 'alert', 'known-bad', { eventId: 'bad' }),
    );
    assert.equal(decide(fb, alertKey(ecs('a', '192.0.2.1', '198.51.100.1', 80))).suppressed, true);
    assert.equal(
      decide(fb, alertKey(ecs('b', '198.51.100.1', '192.0.2.1', 80))).suppressed,
      true,
      'either side',
    );
    assert.equal(decide(fb, alertKey(ecs('c', '192.0.2.9', '198.51.100.1', 53))).suppressed, true);
    assert.equal(decide(fb, alertKey(ecs('d', '192.0.2.9', '198.51.100.1', 80))).suppressed, false);
    assert.equal(decide(fb, alertKey(ecs('e', '203.0.113.5', '198.51.100.1', 80, 7))).suppressed, true);
    const bad = decide(fb, alertKey(ecs('bad', '192.0.2.1', '198.51.100.1', 80)));
    assert.deepEqual([bad.suppressed, bad.knownBad], [false, true]);
    const eve = {
      event_type: 'alert',
      src_ip: '192.0.2.1',
      dest_ip: '198.51.100.1',
      dest_port: 80,
      proto: 'TCP',
    };
    assert.equal(decide(fb, alertKey(eve)).suppressed, true, 'Suricata EVE alerts too');
  });

  it('is stored beside the model with who, when and a revision; removal is kept in the history', async () => {
    const dir = tmp('feedback-store');
    const r1 = await addFeedback(dir, {
      scope: 'host',
      verdict: 'benign',
      match: { host: '192.0.2.1' },
      who: 'ana',
    });
    await addFeedback(dir, {
      scope: 'cluster',
      verdict: 'known-bad',
      match: { cluster: 3 },
      who: 'bo',
      note: 'c2',
    });
    await removeFeedback(dir, r1.id, 'cy');
    const fb = await loadFeedback(dir);
    assert.equal(fb.revision, 3);
    assert.equal(fb.rules.length, 2);
    assert.equal(fb.rules[0]!.removed?.who, 'cy');
    assert.match(fb.rules[1]!.when, /^\d{4}-\d\d-\d\dT/);
    await assert.rejects(
      addFeedback(dir, { scope: 'host', verdict: 'benign', match: { cluster: 1 }, who: 'x' }),
      OptionError,
    );
    await assert.rejects(removeFeedback(dir, 99, 'x'), /no active rule 99/);
  });
});

describe('feedback on real alerts (watcher, CLI, web app)', () => {
  let model: string;
  let alertsFile: string;
  let captures: string;
  let app: AppServer | undefined;

  before(async () => {
    model = await trainedModel();
    const dir = tmp('feedback-real');
    captures = join(dir, 'in');
    await mkdir(captures);
    for (const f of UNSEEN_APPS) await copyFile(dataFile(`pcaps/normal/${f}`), join(captures, f));
    alertsFile = join(dir, 'alerts.jsonl');
    const r = await scoreCaptures(captures, model, alertsFile);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await app?.close();
    killAll();
  });

  it('a benign host is hidden retroactively everywhere; other hosts and the file are untouched', async () => {
    // every alert in the file, flow and host alerts (a host alert has a source and no destination)
    const everyAlert = (path: string) => records(path).filter((r) => r.event?.kind === 'alert');
    const all = everyAlert(alertsFile);
    const perHost = new Map<string, number>();
    for (const a of all) perHost.set(a.source.ip, (perHost.get(a.source.ip) ?? 0) + 1);
    assert.ok(perHost.size >= 2, `alerts from ${perHost.size} hosts`);
    const [host] = [...perHost.entries()].sort((x, y) => y[1] - x[1])[0]!;
    // a host verdict covers the host on either side of the flow
    const count = all.filter((a) => a.source.ip === host || a.destination?.ip === host).length;
    const bytesBefore = await readFile(alertsFile, 'utf8');

    const add = await hostVerdict(model, host, 'benign');
    assert.equal(add.code, 0, add.stderr);

    const listed = await cli(['alerts', alertsFile, '--model', model, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const visible = listed.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const counts = JSON.parse(listed.stderr.trim().split('\n').pop()!);
    assert.equal(counts.suppressed, count);
    assert.equal(visible.length, all.length - count);
    assert.ok(visible.every((a) => a.source.ip !== host && a.destination?.ip !== host));
    assert.equal(await readFile(alertsFile, 'utf8'), bytesBefore, 'suppressed, not deleted');

    app = await startApp({ modelDir: model, port: 0, alertsFile, log: () => {} });
    const tail = await (await fetch(`${app.url}/api/alerts?limit=500`)).json();
    assert.equal(tail.suppressed, count);
    assert.ok(tail.alerts.every((a: { srcIp: string }) => a.srcIp !== host));
    assert.equal(tail.alerts.length, Math.min(500, all.length - count), 'stats records are not alerts');

    // later alerts from another host still appear (a SYN scan scored by the watcher)
    await copyFile(dataFile('pcaps/attack/synscan.pcap'), join(captures, 'synscan.pcap'));
    const again = await scoreCaptures(captures, model, alertsFile);
    assert.equal(again.code, 0, again.stderr);
    const newer = everyAlert(alertsFile).slice(all.length);
    const tail2 = await (await fetch(`${app.url}/api/alerts?limit=500`)).json();
    const fromOthers = newer.filter((a) => a.source.ip !== host && a.destination?.ip !== host);
    assert.ok(fromOthers.length > 0, 'the new capture raised alerts from other hosts');
    // the API shows the newest 500: all of them are the scan's
    const newest = new Set(fromOthers.slice(-500).map((a) => a.event.id));
    const shown = tail2.alerts;
    assert.ok(shown.length > 0 && shown.slice(0, 10).every((a: { id: string }) => newest.has(a.id)));
    const relisted = await cli(['alerts', alertsFile, '--model', model, '--json']);
    assert.equal(
      JSON.parse(relisted.stderr.trim().split('\n').pop()!).visible,
      all.length - count + fromOthers.length,
    );

    // the web app records feedback too (validated; who and when stored)
    const other = fromOthers[0]!.source.ip as string;
    const post = await fetch(`${app.url}/api/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ scope: 'host', verdict: 'benign', match: { host: other }, who: 'web' }),
    });
    assert.equal(post.status, 201);
    const bad = await fetch(`${app.url}/api/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ scope: 'host', verdict: 'benign', match: { cluster: 1 }, who: 'web' }),
    });
    assert.equal(bad.status, 422);
    const tail3 = await (await fetch(`${app.url}/api/alerts?limit=500`)).json();
    assert.ok(tail3.alerts.every((a: { srcIp: string }) => a.srcIp !== other));
    assert.equal(tail3.feedbackRevision, 2);
  });

  it('applyFeedback keeps counts per rule', async () => {
    const fb = await loadFeedback(model);
    const { counts } = applyFeedback(fb, alertsOf(alertsFile));
    assert.equal(counts.activeRules, 2);
    assert.equal(
      Object.values(counts.perRule).reduce((s, v) => s + v, 0),
      counts.suppressed,
    );
  });

  it('train --feedback leaves out the flows of known-bad hosts and keeps benign-verdict ones', async () => {
    const perHost = new Map<string, number>();
    for (const a of alertsOf(alertsFile)) perHost.set(a.source.ip, (perHost.get(a.source.ip) ?? 0) + 1);
    const [bad] = [...perHost.keys()].filter((h) => h !== '172.16.0.8');
    const add = await hostVerdict(model, bad!, 'known-bad');
    assert.equal(add.code, 0, add.stderr);
    const out = join(tmp('feedback-refit'), 'model');
    const r = await cli([
      'train',
      captures,
      '--format',
      'pcap',
      '--train-on',
      'all',
      '--k',
      '3',
      '--feedback',
      model,
      '-o',
      out,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const card = JSON.parse(await readFile(join(out, 'model.json'), 'utf8')).card;
    assert.ok(card.feedback.excludedKnownBad > 0, JSON.stringify(card.feedback));
    assert.ok(card.feedback.benignMatched > 0, 'the benign-verdict hosts are learned as normal');
    assert.equal(card.feedback.revision, 3);
  });
});
