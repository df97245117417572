/**
 * The exported model checked by another language: README's Python snippet (numpy + onnx, Debian's
 * python3-numpy / python3-onnx), extracted from README.md and run as it is, reads model.json,
 * preprocesses KDDTest+ and must reproduce the library's anomaly scores from the centroids
 * (≤ 1e-6 relative) and verdicts; its `onnx.checker` accepts model.onnx and refuses a truncated one.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { kddFieldSpecs } from '../../src/features/kdd-fields.ts';
import { saveModel } from '../../src/model/bundle.ts';
import { AnomalyDetector } from '../../src/model/detector.ts';
import { normalRows } from '../../src/pipeline/evaluate.ts';
import { dataFile, kdd, tempDir } from '../helpers/data.ts';

/** The fenced python block between README's python-export markers. */
function readmeSnippet(): string {
  const readme = readFileSync('README.md', 'utf8');
  const m = /<!-- python-export:begin -->\n```python\n([\s\S]*?)```\n<!-- python-export:end -->/.exec(readme);
  assert.ok(m, 'README.md has no python-export snippet');
  return m[1]!;
}

const HARNESS = `
# --- test harness (appended by python-export.test.ts; not part of README) ---
expected = json.load(open(sys.argv[3]))
lib = np.array(expected["score"])
rel = np.abs(score - lib) / np.maximum(np.abs(lib), 1e-12)
print(json.dumps({"rows": len(rows), "max_rel": float(rel.max()),
                  "verdicts_differ": int((is_anomaly != np.array(expected["flag"], dtype=bool)).sum())}))
`;

function python(script: string, args: string[]) {
  return spawnSync('/usr/bin/python3', [script, ...args], { encoding: 'utf8', timeout: 300_000 });
}

describe('model export read from Python', { timeout: 600_000 }, () => {
  test("README's snippet reproduces the library's KDDTest+ scores and passes onnx.checker", async (t) => {
    const train = await kdd('nsl-kdd/KDDTrain+_20Percent.txt');
    const testFile = dataFile('nsl-kdd/KDDTest+.txt');
    const test_ = await kdd('nsl-kdd/KDDTest+.txt');
    const det = await new AnomalyDetector(kddFieldSpecs(), { k: 12, ensembleK: [24], seed: 0 }).fit(
      normalRows(train.table, train.families),
    );
    const dir = tempDir();
    const bundle = join(dir, 'model');
    await saveModel(bundle, det, {
      data: {
        source: 'nsl-kdd/KDDTrain+_20Percent',
        format: 'nsl-kdd',
        trainOn: 'normal',
        rows: det.training.rows,
      },
      kChoice: 'test: 12',
      createdAt: new Date().toISOString(),
    });
    const s = await det.evaluateRows(test_.table);
    const expected = join(dir, 'expected.json');
    writeFileSync(
      expected,
      JSON.stringify({ score: Array.from(s.anomalyScore), flag: Array.from(s.isAnomaly) }),
    );
    const script = join(dir, 'readme_snippet.py');
    writeFileSync(script, readmeSnippet() + HARNESS);

    const r = python(script, [bundle, testFile, expected]);
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      rows: number;
      max_rel: number;
      verdicts_differ: number;
    };
    assert.equal(out.rows, 22544);
    assert.ok(out.max_rel <= 1e-6, `max relative difference ${out.max_rel}`);
    t.diagnostic(`Python vs library scores: max relative difference ${out.max_rel.toExponential(2)}`);
    assert.equal(out.verdicts_differ, 0);
    assert.match(r.stdout, /22544 rows, \d+ anomalies at threshold/);

    // onnx.checker is a real check: a truncated graph is refused.
    const broken = join(dir, 'broken');
    mkdirSync(broken);
    copyFileSync(join(bundle, 'model.json'), join(broken, 'model.json'));
    const bytes = readFileSync(join(bundle, 'model.onnx'));
    writeFileSync(join(broken, 'model.onnx'), bytes.subarray(0, Math.floor(bytes.length / 2)));
    const bad = python(script, [broken, testFile, expected]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /onnx|protobuf|Error parsing|DecodeError/i);
  });
});
