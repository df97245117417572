/**
 * The HTML report end to end: train a small model on NSL-KDD, write report.html with the CLI's
 * builder on KDDTest+, open it in real headless Chromium, check the figures drew, that no request
 * left file:// / data:, and save a screenshot (test-output/screenshots/report.png).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { kddFieldSpecs } from '../../src/features/kdd-fields.ts';
import { Preprocessor } from '../../src/features/preprocessor.ts';
import { takeRows } from '../../src/ingest/table.ts';
import { loadModel, saveModel } from '../../src/model/bundle.ts';
import { AnomalyDetector } from '../../src/model/detector.ts';
import { elbowSweep } from '../../src/model/select-k.ts';
import { escapeHtml, jsonForScript, renderReport } from '../../src/viz/report.ts';
import { buildReportInput } from '../../src/viz/report-data.ts';
import { launchChromium } from '../helpers/browser.ts';
import { kdd } from '../helpers/data.ts';

const OUT = resolve('test-output');

describe('report.html', () => {
  test('escapes data strings', () => {
    assert.equal(
      escapeHtml('<img src=x onerror="a">&\''),
      '&lt;img src=x onerror=&quot;a&quot;&gt;&amp;&#39;',
    );
    const j = jsonForScript({ s: '</script><script>alert(1)</script>', n: Number.NaN });
    assert.ok(!j.includes('<'));
    assert.deepEqual(JSON.parse(j), { s: '</script><script>alert(1)</script>', n: null });
  });

  test('renders in headless Chromium with no network request', async () => {
    const train = await kdd('nsl-kdd/KDDTrain+_20Percent.txt');
    const normal = train.families.flatMap((f, i) => (f === 'normal' ? [i] : []));
    const table = takeRows(train.table, normal);
    const X = new Preprocessor(kddFieldSpecs()).fit(table).transform(table).X;
    const elbow = await elbowSweep(X, { kMin: 2, kMax: 12, sampleSize: 4000, silhouetteSample: 1000 });
    const det = await new AnomalyDetector(kddFieldSpecs(), { k: elbow.recommended }).fit(table);
    const dir = join(OUT, 'viz-report-model');
    await saveModel(dir, det, {
      data: {
        source: 'KDDTrain+_20Percent <normal rows>',
        format: 'nsl-kdd',
        trainOn: 'normal',
        rows: table.nRows,
      },
      kChoice: `auto: ${elbow.rationale}`,
      elbow: { ...elbow },
      clusterNames: { '0': { name: '<b>evil</b> "name"', note: 'analyst note & <script>' } },
      createdAt: new Date().toISOString(),
    });
    const model = await loadModel(dir);
    const test_ = await kdd('nsl-kdd/KDDTest+.txt');
    const input = await buildReportInput(model, {
      data: { table: test_.table, source: 'KDDTest+.txt', labels: test_.families },
    });
    assert.ok(input.profiles && input.profiles.clusters.length === det.k);
    assert.ok(input.evaluation);
    assert.ok((input.pca?.flows.x.length ?? 0) <= 5000);
    const html = await renderReport(input);
    // Analyst strings are escaped, never live markup.
    assert.ok(!html.includes('<b>evil</b>'));
    assert.ok(html.includes('&lt;b&gt;evil&lt;/b&gt;'));
    assert.ok(!/<script[^>]+src=/i.test(html), 'no external script');
    assert.ok(!/<link[^>]+href=/i.test(html), 'no external stylesheet');
    mkdirSync(join(OUT, 'screenshots'), { recursive: true });
    const file = join(OUT, 'report.html');
    writeFileSync(file, html);

    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      await page.waitForFunction(
        () =>
          ['fig-elbow', 'fig-pca', 'fig-profiles'].every((id) => document.querySelector(`#${id} .main-svg`)),
        undefined,
        { timeout: 30000 },
      );
      for (const id of [
        'fig-elbow',
        'fig-pca',
        'fig-profiles',
        'fig-sizes',
        'fig-roc',
        'fig-pr',
        'fig-scores',
      ]) {
        const box = await page.locator(`#${id}`).boundingBox();
        assert.ok(box && box.width > 300 && box.height > 200, `${id} is drawn (${JSON.stringify(box)})`);
      }
      // The PCA map holds points; the profile table lists every cluster with a tag.
      const points = await page.evaluate(() => {
        const gd = document.getElementById('fig-pca') as unknown as { data: { x: unknown[] }[] };
        return gd.data.reduce((s, t) => s + t.x.length, 0);
      });
      assert.ok(points > 1000, `map has ${points} points`);
      const tags = await page.locator('#profiles .tag').count();
      assert.ok(tags >= det.k, `${tags} tag badges for k=${det.k}`);
      assert.deepEqual(errors, []);
      const outside = requests.filter((u) => !u.startsWith('file://') && !u.startsWith('data:'));
      assert.deepEqual(outside, [], 'no network request');
      await page.screenshot({ path: join(OUT, 'screenshots', 'report.png'), fullPage: true });
      await page.screenshot({ path: join(OUT, 'screenshots', 'report-top.png') });
    } finally {
      await browser.close();
    }
  });
});
