/**
 * Every notebook runs top to bottom on the real tslab kernel (Debian's nbclient), under 3 minutes,
 * with no cell error, against the compiled typed library (dist/); model.ipynb runs a second time
 * with K changed, to show re-plotting works. The printed results of model.ipynb, pcap.ipynb and
 * detectors.ipynb are checked. Executed copies (with outputs) land in test-output/notebooks/,
 * rendered to HTML (Debian's nbconvert); headless Chromium draws every Plotly figure of those HTML
 * files and screenshots each one to test-output/screenshots/nb-<notebook>-<nn>-<title>.png.
 * The cells are typed: no `any`, and the kernel's type checker rejects a wrong call.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.ts';
import { dataDir } from '../helpers/data.ts';

interface RunLine {
  notebook: string;
  seconds: number;
  ok: boolean;
  error: string | null;
  failed: { cell: number; text: string }[];
}

interface NotebookFile {
  cells: {
    cell_type: string;
    source: string | string[];
    outputs?: {
      output_type: string;
      name?: string;
      text?: string | string[];
      data?: Record<string, unknown>;
    }[];
    execution_count?: number | null;
  }[];
}

const OUT = 'test-output/notebooks';
const SHOTS = 'test-output/screenshots';

function run(args: string[], { expectOk = true } = {}): RunLine[] {
  dataDir(); // fail, never skip, without the datasets
  // --budget is a hang guard here (no timing asserts in tests); run times are printed, and the
  // README's figures come from an unloaded run.
  const r = spawnSync('/usr/bin/python3', ['scripts/run-notebooks.py', '--budget', '600', ...args], {
    encoding: 'utf8',
    timeout: 900_000,
    env: { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: '1' },
  });
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as RunLine);
  if (expectOk) {
    for (const l of lines) assert.equal(l.error, null, `${l.notebook}: ${l.error}`);
    assert.equal(r.status, 0, r.stderr.slice(-2000));
  }
  assert.ok(lines.length > 0, `no result lines: ${r.stderr.slice(-2000)}`);
  return lines;
}

const text = (v: string | string[] | undefined): string => (Array.isArray(v) ? v.join('') : (v ?? ''));

function readNotebook(file: string): NotebookFile {
  return JSON.parse(readFileSync(file, 'utf8')) as NotebookFile;
}

function outputs(file: string): { text: string; figures: number; sliders: number } {
  const nb = readNotebook(file);
  let all = '';
  let figures = 0;
  let sliders = 0;
  for (const c of nb.cells)
    for (const o of c.outputs ?? []) {
      if (o.text) all += text(o.text);
      const h = text(o.data?.['text/html'] as string | string[] | undefined);
      if (h.includes('class="na-figure"')) figures++;
      if (h.includes('class="na-figure"') && h.includes('"sliders"')) sliders++;
      assert.ok(!/<script[^>]+src=/i.test(h), 'no external script in outputs');
    }
  return { text: all, figures, sliders };
}

/**
 * Opens an executed notebook's HTML in headless Chromium (nothing fetched from outside the file),
 * waits until every figure is drawn and screenshots each; returns the figures drawn.
 */
async function screenshotFigures(
  browser: Browser,
  html: string,
  name: string,
): Promise<{ divs: number; drawn: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
  try {
    await page.route('**/*', (route) =>
      route.request().url().startsWith('file://') ? route.continue() : route.abort(),
    );
    await page.goto(pathToFileURL(resolve(html)).href, { waitUntil: 'domcontentloaded', timeout: 120_000 });
    const divs = await page.locator('.na-figure').count();
    await page.waitForFunction(
      (n) => document.querySelectorAll('.na-figure.js-plotly-plot .main-svg').length >= n,
      divs,
      { timeout: 120_000 },
    );
    const drawn: string[] = [];
    const figs = page.locator('.na-figure');
    for (let i = 0; i < divs; i++) {
      const fig = figs.nth(i);
      const title = ((await fig.locator('.gtitle').first().textContent()) ?? '').trim();
      const slug =
        title
          .toLowerCase()
          .replace(/[^a-z0-9]+/g, '-')
          .replace(/^-|-$/g, '')
          .slice(0, 40) || 'figure';
      const file = `${SHOTS}/nb-${name}-${String(i + 1).padStart(2, '0')}-${slug}.png`;
      await fig.scrollIntoViewIfNeeded();
      await fig.screenshot({ path: file });
      drawn.push(file);
    }
    return { divs, drawn };
  } finally {
    await page.close();
  }
}

/** pcap.ipynb: the scan is caught, an unseen normal capture mostly is not, the insight cells ran. */
function checkPcapNotebook(): void {
  const { text, figures } = outputs(`${OUT}/pcap.ipynb`);
  assert.match(text, /dropbox\.pcap: \d+ packets read, \d+ decoded, \d+ skipped → \d+ flows/);
  const trained = /40 captures → (\d+) flows/.exec(text);
  assert.ok(trained && Number(trained[1]) > 500, `training flows: ${trained?.[0]}`);
  const scan = /synscan: ([\d.]+) % of (\d+) flows flagged/.exec(text);
  assert.ok(scan && Number(scan[1]) > 90 && Number(scan[2]) > 1000, `scan: ${scan?.[0]}`);
  const held = /held-out \S+: ([\d.]+) % of (\d+) flows flagged/.exec(text);
  assert.ok(held && Number(held[1]) < 10 && Number(held[2]) > 10, `held-out: ${held?.[0]}`);
  const loco = /leave-one-capture-out: (\d+) of (\d+) normal flows flagged/.exec(text);
  assert.ok(loco && Number(loco[2]) > 600 && Number(loco[1]) / Number(loco[2]) < 0.2, `loco: ${loco?.[0]}`);
  assert.match(text, /^ *\d+ probe\/scan .*\(training tag: /m, 'the scan flows profile as probe/scan');
  assert.match(text, /anomaly: true; nearest cluster \d+/);
  assert.match(text, /src_t_distinct_dst_ports/);
  assert.ok(figures >= 4, `${figures} figures`);
}

/** detectors.ipynb: original < baseline < default on KDDTest+, and per-family recall printed. */
function checkDetectorsNotebook(): void {
  const { text, figures } = outputs(`${OUT}/detectors.ipynb`);
  const m = /largest holds ([\d.]+) %/.exec(text);
  assert.ok(m && Number(m[1]) > 99, `original recipe: ${m?.[0]}`);
  const auc = (name: string): number => {
    const r = new RegExp(
      `^${name} \\(.*\\): ROC-AUC ([\\d.]+)  PR-AUC ([\\d.]+)  DR@1%FPR ([\\d.]+)`,
      'm',
    ).exec(text);
    assert.ok(r, `no metrics line for ${name}`);
    return Number(r[1]);
  };
  const [original, baseline, def] = [auc('original'), auc('baseline'), auc('default')];
  assert.ok(original < 0.9, `original ROC-AUC ${original}`);
  assert.ok(baseline > 0.95 && def > baseline, `baseline ${baseline}, default ${def}`);
  for (const f of ['dos', 'normal', 'probe', 'r2l', 'u2r'])
    assert.match(text, new RegExp(`recall ${f} +original`));
  assert.ok(figures >= 3, `${figures} figures`);
}

const notebookNames = (): string[] => readdirSync('notebooks').filter((n) => n.endsWith('.ipynb'));

describe('notebooks', () => {
  test('notebooks in git carry no outputs', () => {
    for (const name of notebookNames()) {
      const nb = readNotebook(join('notebooks', name));
      for (const c of nb.cells) {
        assert.deepEqual(c.outputs ?? [], [], `${name} has outputs`);
        assert.ok(c.execution_count == null, `${name} has execution counts`);
      }
    }
  });

  test('cells use the typed library: imports from dist/, no `any` anywhere in code', () => {
    for (const name of notebookNames()) {
      const code = readNotebook(join('notebooks', name)).cells.filter((c) => c.cell_type === 'code');
      assert.match(
        text(code[0]?.source),
        /from '\.\.\/dist\/index\.js'/,
        `${name}: first cell imports dist/`,
      );
      code.forEach((c, i) => {
        const src = text(c.source);
        assert.ok(!/\bany\b/.test(src), `${name} cell ${i} uses \`any\`: ${src.match(/.*\bany\b.*/)?.[0]}`);
        assert.ok(
          !/netanomaly\.cjs|require\(['"]danfojs/.test(src),
          `${name} cell ${i} loads the library untyped`,
        );
      });
    }
  });

  test("a wrong call in a cell is rejected by the kernel's type checker", () => {
    const dir = 'test-output/typecheck';
    mkdirSync(dir, { recursive: true });
    const cell = (source: string) => ({
      cell_type: 'code',
      metadata: {},
      outputs: [],
      execution_count: null,
      source,
    });
    const nb = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { display_name: 'TypeScript', language: 'typescript', name: 'tslab' } },
      cells: [
        cell(
          "import { AnomalyDetector, kddFieldSpecs } from '../../dist/index.js';\nconst ok = new AnomalyDetector(kddFieldSpecs(), { k: 4 });\nconsole.log('typed call ran, k =', ok.options.k);",
        ),
        cell(
          "const wrong = new AnomalyDetector(kddFieldSpecs(), { k: 'twelve' });\nconsole.log('wrong call ran');",
        ),
      ],
    };
    writeFileSync(join(dir, 'wrong-call.ipynb'), JSON.stringify(nb));
    const [line] = run(['--allow-errors', '--out', dir, join(dir, 'wrong-call.ipynb')], { expectOk: false });
    // The option `k` is a number in DetectorOptions (dist/model/detector.d.ts): compile error, not run.
    assert.deepEqual(
      line!.failed.map((f) => f.cell),
      [1],
      JSON.stringify(line),
    );
    assert.match(line!.failed[0]!.text, /Type 'string' is not assignable to type 'number'/);
    const { text: printed } = outputs(join(dir, 'wrong-call.ipynb'));
    assert.match(printed, /typed call ran, k = 4/);
    assert.doesNotMatch(printed, /wrong call ran/);
  });

  // The runner stops any cell after 170 s and any notebook after 600 s (hang guards); run times
  // are printed by the runner, not asserted.
  test('every notebook runs top to bottom, renders to HTML and draws its figures', async () => {
    const lines = run(['--html']);
    assert.ok(lines.length >= 3);
    const { text, figures, sliders } = outputs(`${OUT}/model.ipynb`);
    // The original recipe's failure is reproduced: one cluster holds nearly everything.
    const m = /largest holds ([\d.]+) %/.exec(text);
    assert.ok(m && Number(m[1]) > 99, `naive recipe: ${m?.[0]}`);
    assert.match(text, /labels are never features/);
    assert.match(text, /ROC-AUC 0\.9\d/);
    assert.match(text, /same scores after reload: true/);
    // Fitted on the DataFrame; results printed as a DataFrame (head) with the verdict column.
    assert.match(text, /rows read into a DataFrame/);
    assert.match(text, /║ *│ anomaly_score *│ cluster *│ is_anomaly *│ verdict *│ risk_score *║/);
    // The k slider, and the same K-Means on both engines agreeing.
    assert.equal(sliders, 1);
    assert.match(text, /slider: 15 values of k precomputed/);
    const agree = /assignments agree on (\d+) of (\d+) rows/.exec(text);
    assert.ok(agree && Number(agree[1]) / Number(agree[2]) > 0.99, `engines: ${agree?.[0]}`);
    assert.match(text, /^tfjs +K-Means k=\d+ on \d+ rows: [\d.]+ s/m);
    assert.ok(figures >= 11, `${figures} figures`);
    checkPcapNotebook();
    checkDetectorsNotebook();
    mkdirSync(SHOTS, { recursive: true });
    const browser = await launchChromium();
    try {
      for (const l of lines) {
        const name = l.notebook.replace(/\.ipynb$/, '');
        const { divs, drawn } = await screenshotFigures(browser, `${OUT}/${name}.html`, name);
        const inNotebook = outputs(`${OUT}/${name}.ipynb`).figures;
        assert.equal(divs, inNotebook, `${name}: every figure output is in the HTML`);
        assert.equal(drawn.length, divs, `${name}: every figure drawn`);
      }
    } finally {
      await browser.close();
    }
  });

  test('model.ipynb re-runs with another K', () => {
    const [line] = run(['--set-k', '6', 'notebooks/model.ipynb']);
    assert.ok(line?.ok);
    const { text } = outputs(`${OUT}/model-k6.ipynb`);
    assert.match(text, /k=6, threshold/);
    assert.match(text, /netanomaly-notebook-model-k6/);
  });
});
