/**
 * The flagged hosts of a batch upload: /api/batch returns them (host, window, score against the
 * model's host threshold, flows, evidence Community IDs) as `score` computes them, and the Batch
 * page shows them beside the flows in real headless Chromium (Debian's, driven by
 * playwright-core); a Community ID of the evidence finds its flow in the table below. The same
 * for the beacon report of a capture (pairs ranked by check-in regularity, as `beacons` ranks them).
 */
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { readInput } from '../../src/ingest/read-input.ts';
import { loadModel } from '../../src/model/bundle.ts';
import { beaconReport } from '../../src/pipeline/beacons.ts';
import { scoreRecords } from '../../src/pipeline/score.ts';
import { type AppServer, startApp } from '../../src/web/server.ts';
import { launchChromium } from '../helpers/browser.ts';
import { trainedModel } from '../stream/helpers.ts';

const SHOTS = 'test-output/screenshots';
const DATA = process.env.NETANOMALY_DATA_DIR ?? '';
const SCAN = join(DATA, 'pcaps', 'attack', 'synscan.pcap');
/** A real capture with three regular pairs (an antivirus client's update checks). */
const POLLS = join(DATA, 'pcaps', 'normal', 'avast.pcap');

let app: AppServer;
let browser: Browser;
let modelDir: string;

before(async () => {
  assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
  modelDir = await trainedModel();
  app = await startApp({ modelDir, port: 0, log: () => {} });
  browser = await launchChromium();
  await mkdir(SHOTS, { recursive: true });
});
after(async () => {
  await browser?.close();
  await app?.close();
});

describe('batch: flagged hosts', { timeout: 120_000 }, () => {
  // biome-ignore lint/suspicious/noExplicitAny: the API's JSON, checked field by field
  let api: any;

  test('/api/batch returns the flagged host windows with evidence, as score computes them', async () => {
    const res = await fetch(`${app.url}/api/batch?top=500`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: await readFile(SCAN),
    });
    assert.equal(res.status, 200);
    api = await res.json();
    const model = await loadModel(modelDir);
    const { summary } = await scoreRecords(model, await readInput(SCAN, 'pcap', 'quarantine'));
    const want = summary.hosts!;
    assert.ok(want.flagged >= 1, 'the SYN scan has a flagged host');
    assert.equal(api.hosts.threshold, model.detector.training.host!.threshold);
    assert.equal(api.hosts.window_seconds, model.detector.training.host!.windowSeconds);
    assert.equal(api.hosts.flagged, want.flagged);
    assert.equal(api.hosts.windows, want.windows);
    assert.deepEqual(
      api.hosts.top.map((h: { host: string; evidence: string[] }) => [h.host, h.evidence]),
      want.top.map((h) => [h.host, h.evidence]),
    );
    for (const h of api.hosts.top) {
      assert.equal(h.is_anomaly, true);
      assert.ok(h.score > api.hosts.threshold && h.flagged_flows <= h.flows);
      assert.match(h.window_start, /^\d{4}-\d\d-\d\dT/);
      for (const cid of h.evidence) assert.match(cid, /^1:[A-Za-z0-9+/]{27}=$/);
    }
  });

  test('the Batch page shows them in Chromium; an evidence Community ID finds its flow', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const external: string[] = [];
    await page.route('**/*', (route) => {
      const u = route.request().url();
      if (!u.startsWith(app.url)) {
        external.push(u);
        return route.abort();
      }
      return route.continue();
    });
    await page.goto(`${app.url}/batch`);
    await page.waitForSelector('body[data-ready="batch"]', { timeout: 30_000 });
    await page.setInputFiles('#bt-file', SCAN);
    await page.click('#bt-go');
    await page.waitForSelector('#bt-hosts tbody tr');
    assert.ok(await page.isVisible('#bt-hosts-panel'));
    const rows = page.locator('#bt-hosts tbody tr');
    assert.equal(await rows.count(), api.hosts.top.length);
    const first = api.hosts.top[0];
    const cells = await rows.nth(0).locator('td').allTextContents();
    assert.equal(cells[0], first.host);
    assert.equal(cells[1], first.window_start.slice(0, 19).replace('T', ' '));
    const count = (t: string | undefined) => Number(t?.replaceAll(',', ''));
    assert.equal(count(cells[4]), first.flows);
    assert.equal(count(cells[5]), first.flagged_flows);
    assert.deepEqual(await rows.nth(0).locator('button.cid').allTextContents(), first.evidence);
    assert.match((await page.textContent('#bt-hosts-note')) ?? '', /above the host threshold/);
    await page.screenshot({ path: `${SHOTS}/web-batch-hosts.png`, fullPage: false });
    // the top piece of evidence is a row of the flows table once clicked
    await rows.nth(0).locator('button.cid').first().click();
    const flows = page.locator('#bt-table tbody tr');
    await page.waitForFunction(() => document.querySelectorAll('#bt-table tbody tr').length >= 1);
    assert.ok((await flows.count()) >= 1);
    const src = await flows.nth(0).locator('td').nth(5).textContent();
    assert.ok(src?.startsWith(`${first.host}:`), `${src} is not a flow of ${first.host}`);
    assert.deepEqual(external, []);
    await page.close();
  });
});

describe('batch: beacons', { timeout: 120_000 }, () => {
  test('/api/batch ranks the pairs of a capture as `beacons` does; the page shows them', async () => {
    const res = await fetch(`${app.url}/api/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: await readFile(POLLS),
    });
    assert.equal(res.status, 200);
    const api = await res.json();
    const want = await beaconReport({ inputs: [POLLS], format: 'pcap' });
    assert.ok(want.pairs.length >= 1);
    assert.equal(api.beacons.ranked, want.pairs.length);
    assert.deepEqual(
      api.beacons.top.map((p: { src_ip: string; dst_ip: string; ts_score: number; evidence: string[] }) => [
        p.src_ip,
        p.dst_ip,
        p.ts_score,
        p.evidence,
      ]),
      want.pairs.slice(0, 10).map((p) => [p.src_ip, p.dst_ip, p.ts_score, p.community_ids]),
    );
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${app.url}/batch`);
    await page.waitForSelector('body[data-ready="batch"]', { timeout: 30_000 });
    await page.setInputFiles('#bt-file', POLLS);
    await page.click('#bt-go');
    await page.waitForSelector('#bt-beacons tbody tr');
    assert.ok(await page.isVisible('#bt-beacons-panel'));
    const rows = page.locator('#bt-beacons tbody tr');
    assert.equal(await rows.count(), api.beacons.top.length);
    const first = api.beacons.top[0];
    const cells = await rows.nth(0).locator('td').allTextContents();
    assert.ok(cells[0]!.startsWith(`${first.src_ip} → ${first.dst_ip}`), cells[0]);
    assert.equal(Number(cells[4]!.replaceAll(',', '')), first.connections);
    assert.deepEqual(await rows.nth(0).locator('button.cid').allTextContents(), first.evidence);
    await page.screenshot({ path: `${SHOTS}/web-batch-beacons.png`, fullPage: false });
    // evidence finds its flow in the table below
    await rows.nth(0).locator('button.cid').last().click();
    await page.waitForFunction(() => document.querySelectorAll('#bt-table tbody tr').length >= 1);
    const src = await page.locator('#bt-table tbody tr').nth(0).locator('td').nth(5).textContent();
    assert.ok(src?.startsWith(`${first.src_ip}:`), `${src} is not a flow of ${first.src_ip}`);
    await page.close();
  });
});
