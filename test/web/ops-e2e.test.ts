/**
 * The operations pages in real headless Chromium: a flow model, the watcher run on real captures
 * of applications the model never saw (with an alert budget and a drift reference), analyst
 * feedback, a self-test result and a drift report; the Live page shows health, budget spend,
 * self-test and suppressed alerts, and the Drift page the per-cluster comparison. Screenshots go
 * to test-output/screenshots/web-live-ops.png and web-drift.png.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { type AppServer, startApp } from '../../src/web/server.ts';
import { launchChromium } from '../helpers/browser.ts';
import { cli, hostVerdict } from '../helpers/cli.ts';
import { dataFile } from '../helpers/data.ts';
import { alertsOf, killAll, run, tmp, trainedModel } from '../stream/helpers.ts';

const SHOTS = 'test-output/screenshots';
const TRAINING = ['skype.pcap', 'telegram.pcap', 'webex.pcap', 'steam.pcap', 'zoom.pcap'];
const UNSEEN = [
  '1kxun.pcap',
  'ethereum.pcap',
  'stun_signal.pcapng',
  'mdns.pcap',
  'chrome.pcap',
  'gquic.pcap',
];

let app: AppServer;
let browser: Browser;
let model: string;

before(async () => {
  model = await trainedModel();
  const base = tmp('ops-e2e');
  const train = join(base, 'train');
  const recent = join(base, 'recent');
  await mkdir(train);
  await mkdir(recent);
  for (const f of TRAINING) await copyFile(dataFile(`pcaps/normal/${f}`), join(train, f));
  for (const f of UNSEEN) await copyFile(dataFile(`pcaps/normal/${f}`), join(recent, f));
  const drift = await cli(['drift', model, recent, '--reference', train]);
  assert.equal(drift.code, 0, drift.stderr);
  const alerts = join(base, 'alerts.jsonl');
  const w = await run([
    'watch',
    recent,
    '--model',
    model,
    '--alerts',
    alerts,
    '--once',
    '--settle',
    '0',
    '--stats-interval',
    '0.2',
    '--alert-budget',
    '10/h',
  ]);
  assert.equal(w.code, 0, w.stderr);
  await mkdir(join(base, 'no-watcher'));
  const st = await cli([
    'selftest',
    '--source',
    join(base, 'no-watcher'),
    '--alerts',
    alerts,
    '--capture',
    dataFile('pcaps/attack/synscan.pcap'),
    '--timeout',
    '1',
  ]);
  assert.equal(st.code, 1, 'no watcher follows that directory: the self-test fails');
  // the host with the most alerts is the one the analyst marks benign
  const perHost = new Map<string, number>();
  for (const a of alertsOf(alerts)) perHost.set(a.source.ip, (perHost.get(a.source.ip) ?? 0) + 1);
  const [host] = [...perHost.entries()].sort((x, y) => y[1] - x[1])[0]!;
  const fb = await hostVerdict(model, host, 'benign', 'e2e');
  assert.equal(fb.code, 0, fb.stderr);
  app = await startApp({ modelDir: model, port: 0, alertsFile: alerts, log: () => {} });
  browser = await launchChromium();
  await mkdir(SHOTS, { recursive: true });
});
after(async () => {
  await browser?.close();
  await app?.close();
  killAll();
});

describe('operations pages in Chromium', () => {
  test('Live: input health, alert budget, self-test and feedback', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    await page.goto(`${app.url}/live`);
    await page.waitForSelector('body[data-ready="live"]', { timeout: 30000 });
    const stats = (await page.textContent('#lv-stats')) ?? '';
    assert.match(stats, /input health/);
    assert.match(stats, /records\/s/);
    assert.match(stats, /alert budget\s*\d+ \/ 10 per h/);
    assert.match(stats, /self-test\s*FAILED/);
    assert.match(stats, /suppressed by feedback\s*[1-9]\d*/);
    // marking a host benign from the page hides its rows
    const before = await page.locator('#lv-table tbody tr').count();
    assert.ok(before > 0);
    await page.locator('#lv-table tbody button').first().click();
    await page.waitForFunction((n) => document.querySelectorAll('#lv-table tbody tr').length < n, before, {
      timeout: 10000,
    });
    await page.screenshot({ path: `${SHOTS}/web-live-ops.png`, fullPage: true });
    await page.close();
  });

  test('Drift: per-cluster shares with the drifted clusters and the reasons', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    await page.goto(`${app.url}/drift`);
    await page.waitForSelector('body[data-ready="drift"]', { timeout: 30000 });
    await page.waitForSelector('#fig-drift .main-svg');
    const stats = (await page.textContent('#dr-stats')) ?? '';
    assert.match(stats, /retrain\s*(suggested|not needed)/);
    assert.match(stats, /watcher \(live\)\s*(drifting|stable)/);
    assert.ok((await page.locator('#dr-table tbody tr').count()) >= 2);
    await page.screenshot({ path: `${SHOTS}/web-drift.png`, fullPage: true });
    await page.close();
  });
});
