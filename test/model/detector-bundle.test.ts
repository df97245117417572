import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { ModelFileError, NotFittedError } from '../../src/errors.ts';
import { kddFieldSpecs } from '../../src/features/kdd-fields.ts';
import { type Table, takeRows } from '../../src/ingest/table.ts';
import { loadModel, saveModel, updateCard } from '../../src/model/bundle.ts';
import { AnomalyDetector } from '../../src/model/detector.ts';
import { kdd, tempDir } from '../helpers/data.ts';

const card = () => ({
  data: { source: 'KDDTrain+_20Percent', format: 'nsl-kdd', trainOn: 'normal', rows: 0 },
  kChoice: 'test',
  createdAt: new Date(0).toISOString(),
});

let detector: AnomalyDetector;
let test200: Table;
let dir: string;

before(async () => {
  const train = await kdd('nsl-kdd/KDDTrain+_20Percent.txt');
  const normals = takeRows(
    train.table,
    train.families.flatMap((f, i) => (f === 'normal' ? [i] : [])),
  );
  detector = await new AnomalyDetector(kddFieldSpecs(), { k: 16, ensembleK: [24], seed: 3 }).fit(normals);
  const t = await kdd('nsl-kdd/KDDTest+.txt');
  test200 = takeRows(
    t.table,
    Array.from({ length: 200 }, (_, i) => i * 100),
  );
  dir = join(tempDir(), 'model');
  await saveModel(dir, detector, card());
});

describe('AnomalyDetector', () => {
  test('keeps the scikit-learn outlier contract and one score direction', async () => {
    const a = await detector.anomalyScore(test200);
    const s = await detector.scoreSamples(test200);
    const d = await detector.decisionFunction(test200);
    const p = await detector.predict(test200);
    for (let i = 0; i < a.length; i++) {
      assert.equal(s[i], -a[i]!);
      assert.ok(Math.abs(d[i]! - (s[i]! - detector.offset)) < 1e-12);
      assert.equal(p[i], d[i]! < 0 ? -1 : 1);
    }
    assert.ok(p.includes(-1) && p.includes(1));
  });

  test('threshold comes from held-out training rows at the target false-positive rate', () => {
    const t = detector.training;
    assert.ok(t.calibrationRows > 1000);
    assert.ok(Math.abs(t.calibrationFpr - 0.01) < 0.005, `calibration fpr ${t.calibrationFpr}`);
    assert.equal(
      t.clusterSizes.reduce((x, y) => x + y, 0),
      t.fitRows,
    );
  });

  test('unseen categories go to the unknown slot and are counted', async () => {
    const t: Table = {
      ...test200,
      text: { ...test200.text, service: test200.text.service!.map((v, i) => (i < 3 ? 'never-seen' : v)) },
    };
    const vocab = new Set(detector.preprocessor.toState().vocabularies.service);
    const expected = t.text.service!.filter((v) => !vocab.has(v)).length;
    const r = await detector.evaluateRows(t);
    assert.ok(expected >= 3);
    assert.equal(r.report.unknownCategories.service, expected);
  });

  test('before fit: NotFittedError', async () => {
    const fresh = new AnomalyDetector(kddFieldSpecs(), { k: 4 });
    await assert.rejects(fresh.anomalyScore(test200), NotFittedError);
  });
});

describe('model bundle', () => {
  test('round trip gives identical scores', async () => {
    const loaded = await loadModel(dir);
    assert.deepEqual(
      Array.from(await loaded.detector.anomalyScore(test200)),
      Array.from(await detector.anomalyScore(test200)),
    );
    assert.equal(loaded.detector.threshold, detector.threshold);
    assert.match(loaded.sha256, /^[0-9a-f]{64}$/);
  });

  test('ONNX model scores like the library (within 1e-4), same clusters', async () => {
    const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
    const { X } = detector.preprocessor.transform(test200);
    const out = await session.run({ features: new ort.Tensor('float32', X.data, [X.rows, X.cols]) });
    const lib = await detector.evaluateRows(test200);
    const score = out.anomaly_score!.data as Float32Array;
    const cluster = out.cluster!.data as BigInt64Array;
    for (let i = 0; i < X.rows; i++) {
      assert.ok(
        Math.abs(score[i]! - lib.anomalyScore[i]!) <= 1e-4 * Math.max(1, lib.anomalyScore[i]!),
        `row ${i}`,
      );
      assert.equal(Number(cluster[i]), lib.cluster[i]);
    }
    assert.deepEqual(out.distances!.dims, [X.rows, detector.k]);
  });

  test('ONNX stays finite on huge byte counts and zeros', async () => {
    const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
    const t = takeRows(test200, [0, 1, 2]);
    t.numeric.src_bytes![0] = 1e12;
    t.numeric.dst_bytes![1] = 1e18;
    for (const f of Object.keys(t.numeric)) t.numeric[f]![2] = 0;
    const { X } = detector.preprocessor.transform(t);
    const out = await session.run({ features: new ort.Tensor('float32', X.data, [X.rows, X.cols]) });
    const lib = await detector.evaluateRows(t);
    (out.anomaly_score!.data as Float32Array).forEach((v, i) => {
      assert.ok(Number.isFinite(v));
      assert.ok(Math.abs(v - lib.anomalyScore[i]!) <= 1e-4 * Math.max(1, lib.anomalyScore[i]!));
    });
  });

  test('tampered, truncated, missing or foreign bundles are refused with one line', async () => {
    const base = tempDir();
    const copy = (name: string) => {
      const d = join(base, name);
      cpSync(dir, d, { recursive: true });
      return d;
    };
    const tampered = copy('tampered');
    const json = readFileSync(join(tampered, 'model.json'), 'utf8').replace(
      '"threshold":',
      '"threshold":1e9,"x":',
    );
    writeFileSync(join(tampered, 'model.json'), json);
    const truncated = copy('truncated');
    truncateSync(join(truncated, 'model.onnx'), 10);
    const noManifest = join(base, 'empty');
    mkdirSync(noManifest);
    const pickle = join(base, 'model.pkl');
    writeFileSync(pickle, 'not a model');
    const cases: [string, RegExp][] = [
      [tampered, /(SHA-256 does not match|bytes, manifest says)/],
      [truncated, /truncated or altered/],
      [noManifest, /not a netanomaly model/],
      [pickle, /not a model directory/],
      [join(base, 'nope'), /no such model directory/],
    ];
    for (const [path, re] of cases) {
      await assert.rejects(
        loadModel(path),
        (e: Error) => e instanceof ModelFileError && re.test(e.message) && !e.message.includes('\n'),
      );
    }
  });

  test('cluster names are stored in the card and keep the manifest valid', async () => {
    const d = join(tempDir(), 'named');
    cpSync(dir, d, { recursive: true });
    await updateCard(d, (c) => ({ ...c, clusterNames: { '3': { name: 'web browsing', note: 'checked' } } }));
    const m = await loadModel(d);
    assert.equal(m.card.clusterNames?.['3']?.name, 'web browsing');
  });
});
