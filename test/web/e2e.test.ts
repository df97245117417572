/**
 * End to end in real headless Chromium (Debian's, driven by playwright-core) against the real
 * server and a model trained here on NSL-KDD's 20 % normal rows. Screenshots of every page go to
 * test-output/screenshots/web-<page>.png.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { resolveDataset } from '../../src/ingest/datasets.ts';
import { type AppServer, startApp } from '../../src/web/server.ts';
import { launchChromium } from '../helpers/browser.ts';
import { dataDir, testLines, trainTestModel } from './helpers.ts';

const SHOTS = 'test-output/screenshots';
let app: AppServer;
let browser: Browser;
let modelDir: string;
let work: string;
const external: string[] = [];
const consoleErrors: string[] = [];

async function newPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.route('**/*', (route) => {
    const u = route.request().url();
    if (!u.startsWith(app.url)) {
      external.push(u);
      return route.abort();
    }
    return route.continue();
  });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  return page;
}

async function open(page: Page, name: string) {
  await page.goto(`${app.url}/${name}`);
  await page.waitForSelector(`body[data-ready="${name}"]`, { timeout: 30000 });
}

before(async () => {
  modelDir = await trainTestModel();
  work = await mkdtemp(join(tmpdir(), 'netanomaly-web-e2e-'));
  const alerts = join(work, 'alerts.jsonl');
  const now = Date.now();
  const lines = Array.from({ length: 40 }, (_, i) =>
    JSON.stringify({
      '@timestamp': new Date(now - (40 - i) * 20000).toISOString(),
      event: { id: `evt-${i}` },
      netanomaly: { anomaly_score: 7 + (i % 9), risk_score: 99, cluster: i % 5 },
      source: { ip: `10.0.0.${i % 7}`, port: 40000 + i },
      destination: { ip: i === 3 ? '<img src=x onerror=alert(1)>' : '192.168.1.10', port: 80 },
    }),
  );
  await writeFile(alerts, `${lines.join('\n')}\n`);
  app = await startApp({ modelDir, port: 0, alertsFile: alerts, log: () => {} });
  browser = await launchChromium();
  await mkdir(SHOTS, { recursive: true });
});
after(async () => {
  await browser?.close();
  await app?.close();
});

async function fillRecord(page: Page, line: string) {
  const parts = line.split(',');
  const schema = JSON.parse(await (await fetch(`${app.url}/api/schema`)).text()).fields as {
    name: string;
    kind: string;
    vocabulary?: string[];
  }[];
  for (const [i, f] of schema.entries()) {
    const v = parts[i]!;
    if (f.kind === 'categorical') {
      if (f.vocabulary!.includes(v)) await page.selectOption(`#f-${f.name}`, v);
      else {
        await page.selectOption(`#f-${f.name}`, '__other__');
        await page.fill(`#f-${f.name}-other`, v);
      }
    } else await page.fill(`#f-${f.name}`, v);
  }
}

describe('pages in Chromium', () => {
  test('Overview shows the model card, the LOO threshold and six charts', async () => {
    const page = await newPage();
    await open(page, 'overview');
    await page.waitForSelector('#fig-pca .main-svg');
    // elbow, the k slider, scores, ROC, PR (the training source is labelled) and the map
    assert.equal(await page.locator('.js-plotly-plot').count(), 6);
    assert.match((await page.textContent('#ov-card')) ?? '', /KDDTrain\+_20Percent/);
    assert.match((await page.textContent('#ov-stats')) ?? '', /threshold from leave-one-out training scores/);
    await page.screenshot({ path: `${SHOTS}/web-overview.png`, fullPage: true });
    await page.close();
  });

  test('Overview: the k slider starts at the model k and moving it redraws map and table', async () => {
    const page = await newPage();
    await open(page, 'overview');
    await page.waitForSelector('#fig-kslider .slider-container');
    const title = () => page.textContent('#fig-kslider .gtitle');
    const k = app.state().model.detector.k;
    assert.match((await title()) ?? '', new RegExp(`k = ${k}\\b`));
    // Drag the slider's grip to the left end: k = 2.
    const rail = page.locator('#fig-kslider .slider-rail-rect');
    await rail.scrollIntoViewIfNeeded();
    const box = (await rail.boundingBox())!;
    await page.mouse.click(box.x + 2, box.y + box.height / 2);
    await page.waitForFunction(() =>
      /k = 2\b/.test(document.querySelector('#fig-kslider .gtitle')?.textContent ?? ''),
    );
    await page.locator('#ov-kslider').screenshot({ path: `${SHOTS}/web-overview-kslider.png` });
    await page.close();
  });

  test('Clusters: tags, evidence, rename saved (and escaped)', async () => {
    const page = await newPage();
    await open(page, 'clusters');
    const k = app.state().model.detector.k;
    assert.equal(await page.locator('.cluster').count(), k);
    const first = page.locator('.cluster').first();
    await first.locator('input').first().fill('<script>window.pwned=1</script>web');
    await first.locator('button').click();
    await page.waitForSelector('.cluster[data-cluster="0"] .name:text("<script>window.pwned=1</script>web")');
    assert.equal(await page.evaluate(() => (window as any).pwned), undefined);
    const card = JSON.parse(await readFile(join(modelDir, 'model.json'), 'utf8')).card;
    assert.equal(card.clusterNames['0'].name, '<script>window.pwned=1</script>web');
    await page.screenshot({ path: `${SHOTS}/web-clusters.png`, fullPage: false });
    await page.close();
  });

  test('Predict: a neptune record is anomalous, a normal record normal', async () => {
    const page = await newPage();
    await open(page, 'predict');
    const [nep] = await testLines('neptune', 1, 'S0');
    await fillRecord(page, nep!);
    await page.click('#pf-submit');
    await page.waitForSelector('#pr-verdict[data-verdict]');
    assert.equal(await page.getAttribute('#pr-verdict', 'data-verdict'), 'anomalous');
    await page.waitForSelector('#fig-contrib .main-svg');
    await page.waitForSelector('#fig-flow-pca .main-svg');
    await page.screenshot({ path: `${SHOTS}/web-predict.png`, fullPage: false });

    const [norm] = await testLines('normal');
    await fillRecord(page, norm!);
    await page.click('#pf-submit');
    await page.waitForSelector('#pr-verdict[data-verdict="normal"]');
    await page.screenshot({ path: `${SHOTS}/web-predict-normal.png`, fullPage: false });

    // Impossible values get messages next to the field, and nothing is sent.
    await page.fill('#f-serror_rate', '1.7');
    await page.fill('#f-src_bytes', '-3');
    await page.click('#pf-submit');
    assert.match((await page.textContent('.field[data-field="serror_rate"] .err')) ?? '', /≤ 1/);
    assert.match((await page.textContent('.field[data-field="src_bytes"] .err')) ?? '', /negative/);
    await page.screenshot({ path: `${SHOTS}/web-predict-validation.png`, fullPage: false });

    // The raw-line box.
    await page.fill('#raw-line', nep!);
    await page.click('#raw-go');
    await page.waitForSelector('#raw-msg:text("scored")');
    assert.equal(await page.getAttribute('#pr-verdict', 'data-verdict'), 'anomalous');
    assert.match((await page.textContent('#pr-verdict')) ?? '', /neptune/);
    await page.fill('#raw-line', '1,2,3');
    await page.click('#raw-go');
    await page.waitForSelector('#raw-msg.error');
    assert.match((await page.textContent('#raw-msg')) ?? '', /41 features/);
    await page.close();
  });

  test('Batch: a CSV upload gives a scored table; garbage a friendly error', async () => {
    const page = await newPage();
    await open(page, 'batch');
    const src = await resolveDataset('nsl-kdd/KDDTest+', { dataDir: dataDir() });
    const names = JSON.parse(await (await fetch(`${app.url}/api/schema`)).text()).fields.map(
      (f: any) => f.name,
    );
    const rows = (await readFile(src, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .slice(0, 2000)
      .map((l) => l.split(',').slice(0, 42).join(','));
    const csv = join(work, 'flows.csv');
    await writeFile(csv, `${names.join(',')},label\n${rows.join('\n')}\n`);
    await page.setInputFiles('#bt-file', csv);
    await page.click('#bt-go');
    await page.waitForSelector('#bt-table tbody tr');
    assert.ok((await page.locator('#bt-table tbody tr').count()) >= 100);
    assert.match((await page.textContent('#bt-stats')) ?? '', /2,000/);
    assert.ok((await page.locator('#bt-clusters tbody tr').count()) >= 2);
    await page.check('#bt-only');
    const anomalies = await page.locator('#bt-table tbody tr').count();
    assert.equal(await page.locator('#bt-table tbody .pill.ok').count(), 0);
    assert.ok(anomalies > 0);
    await page.uncheck('#bt-only');
    const href = await page.getAttribute('#bt-download', 'href');
    const dl = await fetch(app.url + href!);
    assert.equal((await dl.text()).trim().split('\n').length, 2001);
    await page.screenshot({ path: `${SHOTS}/web-batch.png`, fullPage: false });

    const junk = join(work, 'flows-really.csv');
    await writeFile(junk, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]));
    await page.setInputFiles('#bt-file', junk);
    await page.click('#bt-go');
    await page.waitForSelector('#bt-msg.error');
    const msg = (await page.textContent('#bt-msg')) ?? '';
    assert.match(msg, /looks like a PNG image, not traffic data/);
    const body = (await page.textContent('body')) ?? '';
    assert.doesNotMatch(body, /\bat .+\.ts:\d+|node:internal|Traceback|stack/i);
    const noise = join(work, 'noise.txt');
    await writeFile(noise, 'lorem ipsum dolor sit amet\nconsectetur\n');
    await page.setInputFiles('#bt-file', noise);
    await page.click('#bt-go');
    await page.waitForSelector('#bt-msg.error:text("noise.txt")');
    assert.match((await page.textContent('#bt-msg')) ?? '', /could not be read: .*cannot tell the format/);
    await page.screenshot({ path: `${SHOTS}/web-batch-error.png`, fullPage: false });
    await page.close();
  });

  test('Live: follows the alert file, counts per minute, escapes data', async () => {
    const page = await newPage();
    await open(page, 'live');
    await page.waitForSelector('#lv-table tbody tr');
    assert.equal(await page.locator('#lv-table tbody tr').count(), 40);
    assert.ok((await page.textContent('#lv-table')!)!.includes('<img src=x onerror=alert(1)>'));
    assert.equal(await page.locator('#lv-table img').count(), 0);
    await page.waitForSelector('#fig-live .main-svg');
    await page.screenshot({ path: `${SHOTS}/web-live.png`, fullPage: true });
    await page.close();
  });

  test('nothing was fetched from outside, no CSP violations', () => {
    assert.deepEqual(external, []);
    const csp = consoleErrors.filter((e) => /Content Security Policy/i.test(e));
    assert.deepEqual(csp, []);
  });
});

describe('netanomaly app (the CLI)', () => {
  test('listens on 127.0.0.1 by default and answers /healthz', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'app', '--model', modelDir, '--port', '0'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`no listening line: ${out}`)), 60000);
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const r = await fetch(`${url}/healthz`);
      assert.equal(r.status, 200);
      assert.equal(((await r.json()) as { status: string }).status, 'ok');
    } finally {
      child.kill('SIGTERM');
    }
  });
});
