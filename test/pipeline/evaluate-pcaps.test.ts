/**
 * The real-traffic protocol on the shared captures, small enough for `make test`: 3 folds over
 * 80 benign captures (a seeded choice) and the 12 attack captures. Asserts the protocol's
 * invariants (every benign capture tested exactly once, by a model that never saw it; every
 * attack capture reported with its label) and floors well below what this run measured
 * (the full 5-fold figures are in docs/detection.md, from `benchmarks/detectors.ts`).
 * Then the train → score path on a directory: grouped calibration, host threshold, host scores.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { expandInputs, readInputMany } from '../../src/ingest/traffic/many.ts';
import { loadModel, saveModel } from '../../src/model/bundle.ts';
import { evaluatePcaps, HOST_VARIANTS } from '../../src/pipeline/evaluate-pcaps.ts';
import { scoreRecords } from '../../src/pipeline/score.ts';
import { trainFromFile } from '../../src/pipeline/train.ts';
import { tempDir } from '../helpers/data.ts';

const DATA = process.env.NETANOMALY_DATA_DIR ?? '';

test('capture-grouped cross-validation: invariants and floors (3 folds, 80 benign captures)', async () => {
  assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
  const r = await evaluatePcaps({
    benignDir: join(DATA, 'pcaps', 'normal'),
    attackDir: join(DATA, 'pcaps', 'attack'),
    folds: 3,
    seed: 0,
    maxBenignCaptures: 80,
  });
  process.stderr.write(
    `  protocol: ${JSON.stringify(Object.fromEntries(Object.entries(r.summary).map(([k, v]) => [k, +v.mean.toFixed(4)])))}\n`,
  );
  assert.equal(r.benign.captures, 80);
  assert.equal(r.per_fold.length, 3);
  // every benign capture (and flow) is in exactly one test fold; train + test = all
  assert.equal(
    r.per_fold.reduce((s, f) => s + f.test_captures, 0),
    r.benign.captures_with_flows,
  );
  assert.equal(
    r.per_fold.reduce((s, f) => s + f.test_flows, 0),
    r.benign.flows,
  );
  for (const f of r.per_fold) {
    assert.equal(f.train_flows + f.test_flows, r.benign.flows);
    assert.equal(f.train_captures + f.test_captures, r.benign.captures_with_flows);
    assert.ok(f.expected_fpr !== undefined && f.expected_fpr < 0.2);
  }
  assert.ok(r.attack && r.attack.captures === 12, 'the 12 shared attack captures');
  assert.equal(r.per_attack_capture.length, 12);
  assert.ok(r.per_attack_capture.every((a) => a.label !== '' && a.flows > 0 && a.hosts > 0));
  assert.equal(r.per_attack_capture.find((a) => a.capture === 'synscan.pcap')?.label, 'probe/syn-scan');
  // floors, far below the measured figures (the thresholds were never set on these labels)
  const s = r.summary;
  assert.ok(s.fpr_unseen_capture_mean!.mean <= 0.05, `per-capture FPR ${s.fpr_unseen_capture_mean!.mean}`);
  assert.ok(s.host_fpr_unseen!.mean <= 0.08, `host FPR ${s.host_fpr_unseen!.mean}`);
  assert.ok(s.roc_auc!.mean >= 0.75, `flow ROC-AUC ${s.roc_auc!.mean}`);
  assert.ok(s.attack_captures_detected!.max >= 1);
  // every host verdict is reported, each with its own threshold from the benign calibration only
  assert.deepEqual(
    Object.keys(r.host_variants),
    HOST_VARIANTS.map((v) => v.name),
  );
  for (const [name, v] of Object.entries(r.host_variants)) {
    assert.ok(v.benign_windows_flagged <= v.benign_windows, name);
    assert.ok(v.max_flagged_windows_one_capture <= v.benign_windows_flagged, name);
    assert.ok(v.host_fpr_unseen.mean <= 0.1, `${name}: ${v.host_fpr_unseen.mean}`);
    for (const [c, n] of Object.entries(v.detected_folds)) {
      assert.ok(n >= 1 && n <= 3 && r.per_attack_capture.some((a) => a.capture === c), `${name} ${c}`);
    }
  }
  // the model's own verdict is the top-3 mean per host: the variant of that name agrees with it
  for (const f of r.per_fold) {
    assert.equal(f.host_variants!['top3-mean']!.host_threshold, f.host_threshold);
    assert.equal(f.host_variants!['top3-mean']!.attack_captures_detected, f.attack_captures_detected);
  }
  // the same seed gives the same run
  const again = await evaluatePcaps({
    benignDir: join(DATA, 'pcaps', 'normal'),
    folds: 3,
    seed: 0,
    maxBenignCaptures: 80,
  });
  assert.deepEqual(
    again.per_fold.map((f) => [f.test_flows, f.threshold]),
    r.per_fold.map((f) => [f.test_flows, f.threshold]),
  );
});

test('train on a directory of captures: grouped threshold, host threshold, host scores in score records', async () => {
  assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
  // every 8th capture below 1 MiB (a small, fixed training set)
  const normal = (await expandInputs([join(DATA, 'pcaps', 'normal')])).filter(
    (p, i) => i % 8 === 0 && statSync(p).size < 2 ** 20,
  );
  const r = await trainFromFile(join(DATA, 'pcaps', 'normal'), {
    format: 'pcap',
    trainOn: 'all',
    k: 8,
    reader: (_p, f, b) => readInputMany(normal, f, b),
  });
  const t = r.detector.training;
  assert.equal(t.calibration, 'grouped');
  assert.ok(t.expectedFpr && t.expectedFpr.groups >= 10, 'groups = capture files');
  assert.ok(
    t.expectedFpr.groupBootstrap.low <= t.expectedFpr.fpr &&
      t.expectedFpr.fpr <= t.expectedFpr.groupBootstrap.high,
  );
  assert.ok(t.host && t.host.hosts > 10 && Number.isFinite(t.host.threshold));
  const dir = join(tempDir(), 'pcap-model');
  await saveModel(dir, r.detector, r.card);
  const model = await loadModel(dir);
  assert.deepEqual(model.detector.training.host, t.host);
  // captures carry flow identity, so the default detector has its per-field rarity part, saved
  // and scoring as before the save; the bundle says the ONNX graph lacks it. Flow times are
  // log1p(t / 0.1 ms), which needs format 3.
  assert.equal(t.fieldTail?.fields, r.detector.preprocessor.fieldSpecs().length);
  assert.equal(model.file.formatVersion, 3);
  const duration = model.detector.preprocessor.fieldSpecs().find((f) => f.name === 'duration');
  assert.deepEqual([duration?.logUnit, duration?.minScale], [1e-4, Math.LN2]);
  assert.equal(model.file.onnx.scores, 'kmeans-only');
  const attacks = (await expandInputs([join(DATA, 'pcaps', 'attack')])).filter((p) => /\.pcap(ng)?$/.test(p));
  const input = await readInputMany(attacks, 'pcap', 'quarantine');
  const { records, summary } = await scoreRecords(model, input);
  assert.deepEqual(
    [...(await model.detector.anomalyScore(input.table))],
    [...(await r.detector.anomalyScore(input.table))],
  );
  assert.ok(records.length > 2000);
  for (const rec of records) {
    assert.equal(typeof rec.host_score, 'number');
    assert.equal(typeof rec.host_is_anomaly, 'boolean');
    assert.equal(rec.host_is_anomaly, rec.host_score! > t.host.threshold);
    assert.ok(rec.community_id?.startsWith('1:'));
  }
  assert.ok(summary.hosts && summary.hosts.windows > 10);
  assert.equal(Math.min(20, summary.hosts.flagged), summary.hosts.top.length);
  for (const h of summary.hosts.top) assert.ok(h.isAnomaly && h.evidence.length > 0);
});
