import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { InputError, OptionError } from '../../src/errors.ts';
import {
  averagePrecision,
  binaryReport,
  confusionTable,
  detectionRateAtFpr,
  operatingPointAtFpr,
  prCurve,
  recallByGroup,
  rocAuc,
  rocCurve,
} from '../../src/model/metrics.ts';
import { Rng } from '../../src/model/random.ts';

/** Runs `script` in Debian's python3 with `data` (JSON) at sys.argv[1]; returns its JSON stdout. */
function python(script: string, data: unknown): unknown {
  const dir = mkdtempSync(join(tmpdir(), 'netanomaly-metrics-'));
  try {
    const input = join(dir, 'in.json');
    writeFileSync(input, JSON.stringify(data));
    const out = execFileSync('/usr/bin/python3', ['-c', script, input], {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    });
    return JSON.parse(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SKLEARN_SCALARS = `
import json, sys
import numpy as np
from sklearn.metrics import roc_auc_score, average_precision_score, precision_recall_fscore_support, accuracy_score
cases = json.load(open(sys.argv[1]))
out = []
for c in cases:
    y = np.array(c['y']); s = np.array(c['score'], dtype=np.float64); p = np.array(c['pred'])
    pr, rc, f1, _ = precision_recall_fscore_support(y, p, average='binary', zero_division=0)
    out.append({'auc': float(roc_auc_score(y, s)), 'ap': float(average_precision_score(y, s)),
                'precision': float(pr), 'recall': float(rc), 'f1': float(f1), 'accuracy': float(accuracy_score(y, p))})
print(json.dumps(out))
`;

interface Case {
  y: number[];
  score: number[];
  pred: number[];
}

/** Random labels with prevalence p and scores rounded to `decimals` (so many ties), class-shifted. */
function randomCase(rng: Rng, n: number, p: number, decimals: number, shift: number): Case {
  const y: number[] = [];
  const score: number[] = [];
  const pred: number[] = [];
  const f = 10 ** decimals;
  for (let i = 0; i < n; i++) {
    const yi = rng.next() < p ? 1 : 0;
    const s = Math.round((rng.normal() + shift * yi) * f) / f;
    y.push(yi);
    score.push(s);
    pred.push(s > 0.5 ? 1 : 0);
  }
  return { y, score, pred };
}

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tol ${tol})`);
}

describe('metrics: parity with scikit-learn', () => {
  const rng = new Rng(20240601);
  const cases: Case[] = [
    randomCase(rng, 3000, 0.3, 1, 1), // heavy ties
    randomCase(rng, 3000, 0.05, 0, 0.8), // integer scores: very heavy ties, rare positives
    randomCase(rng, 2000, 0.5, 6, 0.3), // nearly no ties
    randomCase(rng, 500, 0.9, 1, -0.5), // inverted ranking, mostly positives
    { y: [0, 1, 0, 1, 1, 0], score: [0.5, 0.5, 0.5, 0.5, 0.5, 0.5], pred: [0, 0, 0, 0, 0, 0] }, // all tied
    { y: [0, 0, 1, 1], score: [0.1, 0.4, 0.35, 0.8], pred: [0, 1, 0, 1] }, // sklearn docs example
    { y: [1, 0], score: [2, 1], pred: [1, 1] },
  ];
  const ref = python(SKLEARN_SCALARS, cases) as Array<Record<string, number>>;

  test('rocAuc and averagePrecision match roc_auc_score / average_precision_score within 1e-9', () => {
    cases.forEach((c, i) => {
      const r = ref[i]!;
      close(rocAuc(c.y, c.score), r.auc!, 1e-9, `case ${i} auc`);
      close(averagePrecision(c.y, c.score), r.ap!, 1e-9, `case ${i} ap`);
    });
    // the documented scikit-learn example values, as a sanity check on the reference itself
    close(ref[5]!.auc!, 0.75, 1e-12, 'sklearn doc auc');
    close(ref[5]!.ap!, 0.8333333333333333, 1e-12, 'sklearn doc ap');
    assert.equal(rocAuc(cases[4]!.y, cases[4]!.score), 0.5);
  });

  test('binaryReport matches precision_recall_fscore_support and accuracy_score within 1e-9', () => {
    cases.forEach((c, i) => {
      const r = ref[i]!;
      const rep = binaryReport(c.y, c.pred);
      close(rep.precision, r.precision!, 1e-9, `case ${i} precision`);
      close(rep.recall, r.recall!, 1e-9, `case ${i} recall`);
      close(rep.f1, r.f1!, 1e-9, `case ${i} f1`);
      close(rep.accuracy, r.accuracy!, 1e-9, `case ${i} accuracy`);
      assert.equal(rep.tp + rep.fp + rep.tn + rep.fn, c.y.length);
    });
    // case 4 predicts nothing: precision 0/0 and f1 -> 0 (zero_division=0), as sklearn
    assert.equal(binaryReport(cases[4]!.y, cases[4]!.pred).precision, 0);
  });

  test('rocCurve is a lossless simplification of roc_curve(drop_intermediate=False)', () => {
    const c = cases[0]!;
    const full = python(
      `import json, sys
import numpy as np
from sklearn.metrics import roc_curve
c = json.load(open(sys.argv[1]))
f, t, th = roc_curve(np.array(c['y']), np.array(c['score']), drop_intermediate=False)
print(json.dumps({'fpr': f.tolist(), 'tpr': t.tolist(), 'th': th[1:].tolist()}))`,
      c,
    ) as { fpr: number[]; tpr: number[]; th: number[] };
    const curve = rocCurve(c.y, c.score, 1_000_000);
    assert.equal(curve.thresholds[0], Number.POSITIVE_INFINITY);
    assert.deepEqual([curve.fpr[0], curve.tpr[0]], [0, 0]);
    assert.deepEqual([curve.fpr.at(-1), curve.tpr.at(-1)], [1, 1]);
    const refPoint = new Map(full.th.map((t, i) => [t, [full.fpr[i + 1]!, full.tpr[i + 1]!]]));
    for (let i = 1; i < curve.thresholds.length; i++) {
      const p = refPoint.get(curve.thresholds[i]!);
      assert.ok(p, `threshold ${curve.thresholds[i]} is one of sklearn's`);
      close(curve.fpr[i]!, p[0]!, 1e-12, 'fpr');
      close(curve.tpr[i]!, p[1]!, 1e-12, 'tpr');
    }
    assert.ok(curve.fpr.length < full.fpr.length, 'collinear points were dropped');
    let area = 0;
    for (let i = 1; i < curve.fpr.length; i++) {
      area += ((curve.fpr[i]! - curve.fpr[i - 1]!) * (curve.tpr[i]! + curve.tpr[i - 1]!)) / 2;
    }
    close(area, ref[0]!.auc!, 1e-12, 'area under the simplified curve');
  });

  test('prCurve equals precision_recall_curve reversed', () => {
    const c = cases[1]!;
    const full = python(
      `import json, sys
import numpy as np
from sklearn.metrics import precision_recall_curve
c = json.load(open(sys.argv[1]))
p, r, th = precision_recall_curve(np.array(c['y']), np.array(c['score']))
print(json.dumps({'p': p[::-1].tolist(), 'r': r[::-1].tolist(), 'th': th[::-1].tolist()}))`,
      c,
    ) as { p: number[]; r: number[]; th: number[] };
    const curve = prCurve(c.y, c.score, 1_000_000);
    assert.equal(curve.recall.length, full.r.length);
    curve.recall.forEach((v, i) => {
      close(v, full.r[i]!, 1e-12, `recall ${i}`);
    });
    curve.precision.forEach((v, i) => {
      close(v, full.p[i]!, 1e-12, `precision ${i}`);
    });
    assert.deepEqual(curve.thresholds.slice(1), full.th);
  });
});

describe('metrics: curves for plotting', () => {
  test('downsampling keeps at most maxPoints, both ends, and monotone order', () => {
    const rng = new Rng(7);
    const c = randomCase(rng, 20000, 0.2, 4, 1.2);
    const roc = rocCurve(c.y, c.score, 50);
    assert.ok(roc.fpr.length <= 50 && roc.fpr.length >= 40, `got ${roc.fpr.length} points`);
    assert.deepEqual([roc.fpr[0], roc.tpr[0], roc.fpr.at(-1), roc.tpr.at(-1)], [0, 0, 1, 1]);
    for (let i = 1; i < roc.fpr.length; i++) {
      assert.ok(roc.fpr[i]! >= roc.fpr[i - 1]! && roc.tpr[i]! >= roc.tpr[i - 1]!);
      assert.ok(roc.thresholds[i]! < roc.thresholds[i - 1]!);
    }
    const pr = prCurve(c.y, c.score, 50);
    assert.ok(pr.recall.length <= 50 && pr.recall.length >= 40);
    assert.deepEqual([pr.recall[0], pr.precision[0], pr.recall.at(-1)], [0, 1, 1]);
    close(pr.precision.at(-1)!, 0.2, 0.02, 'precision at the lowest threshold is the prevalence');
    assert.throws(() => rocCurve(c.y, c.score, 1), OptionError);
  });
});

describe('metrics: detection rate at a false-positive rate', () => {
  const normals = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const positives = [9, 9.5, 10, 11];
  const y = [...normals.map(() => 0), ...positives.map(() => 1)];
  const score = [...normals, ...positives];

  test('threshold is the (1 - fpr) order statistic of the normals; ties at it are not detected', () => {
    assert.deepEqual(operatingPointAtFpr(y, score, 0.1), {
      threshold: 9,
      detectionRate: 0.75,
      realizedFpr: 0.1,
    });
    // fpr 0 -> threshold = max normal score; only strictly higher positives count
    assert.deepEqual(operatingPointAtFpr(y, score, 0), {
      threshold: 10,
      detectionRate: 0.25,
      realizedFpr: 0,
    });
    assert.equal(detectionRateAtFpr(y, score, 0.05), 0.25); // floor(0.5) = 0 normals allowed
    assert.equal(detectionRateAtFpr(y, score, 0.2), 1); // threshold 8
    const all = operatingPointAtFpr(y, score, 1);
    assert.deepEqual(all, { threshold: Number.NEGATIVE_INFINITY, detectionRate: 1, realizedFpr: 1 });
  });

  test('ties among normals keep the realized FPR at or below the target', () => {
    const yy = [0, 0, 0, 0, 0, 1, 1];
    const ss = [1, 1, 1, 5, 5, 5, 6];
    // 1 false positive allowed: threshold 5 (the 4th smallest normal); nothing normal is above 5
    assert.deepEqual(operatingPointAtFpr(yy, ss, 0.2), { threshold: 5, detectionRate: 0.5, realizedFpr: 0 });
    // 2 allowed: t = 1 already has only the two 5s above it; allowing 3 cannot go lower than 1
    assert.deepEqual(operatingPointAtFpr(yy, ss, 0.4), { threshold: 1, detectionRate: 1, realizedFpr: 0.4 });
    assert.deepEqual(operatingPointAtFpr(yy, ss, 0.6), { threshold: 1, detectionRate: 1, realizedFpr: 0.4 });
  });

  test('floating products like 0.29 * 100 allow 29 normals, and the rule matches a brute force', () => {
    const n = Array.from({ length: 100 }, (_, i) => i);
    const yy = [...n.map(() => 0), 1];
    const ss = [...n, 70.5];
    assert.equal(operatingPointAtFpr(yy, ss, 0.29).threshold, 70);
    assert.equal(detectionRateAtFpr(yy, ss, 0.29), 1);
    assert.equal(detectionRateAtFpr(yy, ss, 0.28), 0);
    const rng = new Rng(3);
    const c = randomCase(rng, 1500, 0.3, 1, 1);
    const negs = c.score.filter((_, i) => c.y[i] === 0);
    const pos = c.score.filter((_, i) => c.y[i] === 1);
    for (const fpr of [0, 0.001, 0.01, 0.05, 0.1, 0.333, 0.5, 0.9, 1]) {
      // brute force: smallest candidate t (a normal score or -inf) with #normals > t <= fpr * nNeg
      const cands = [Number.NEGATIVE_INFINITY, ...negs].sort((a, b) => a - b);
      const t = cands.find((v) => negs.filter((s) => s > v).length <= fpr * negs.length + 1e-9)!;
      const want = pos.filter((s) => s > t).length / pos.length;
      assert.equal(detectionRateAtFpr(c.y, c.score, fpr), want, `fpr ${fpr}`);
    }
  });

  test('bad fpr is an OptionError', () => {
    assert.throws(() => detectionRateAtFpr(y, score, 1.5), OptionError);
    assert.throws(() => detectionRateAtFpr(y, score, Number.NaN), OptionError);
  });
});

describe('metrics: edge cases', () => {
  test('a missing class throws InputError for ranking metrics; AP with only positives is 1', () => {
    assert.throws(() => rocAuc([1, 1, 1], [0.1, 0.2, 0.3]), InputError);
    assert.throws(() => rocAuc([0, 0], [0.1, 0.2]), /needs both classes/);
    assert.throws(() => averagePrecision([0, 0], [0.1, 0.2]), InputError);
    assert.equal(averagePrecision([1, 1, 1], [0.3, 0.1, 0.2]), 1); // sklearn gives 1.0 too
    assert.throws(() => rocCurve([0, 0], [1, 2]), InputError);
    assert.throws(() => prCurve([0, 0], [1, 2]), InputError);
    assert.throws(() => detectionRateAtFpr([1, 1], [1, 2], 0.1), InputError);
  });

  test('bad input is an InputError naming the problem', () => {
    assert.throws(() => rocAuc([0, 1, 2], [1, 2, 3]), /y\[2\] must be 0 or 1/);
    assert.throws(() => rocAuc([0, 1], [1, Number.NaN]), /score\[1\] is not a finite number/);
    assert.throws(() => rocAuc([0, 1], [1]), /y has 2 entries but score has 1/);
    assert.throws(() => binaryReport([0, 1], [true]), InputError);
  });

  test('booleans are accepted as labels and decisions', () => {
    assert.equal(rocAuc([false, true, false, true], [1, 2, 3, 4]), 0.75);
    assert.deepEqual(binaryReport([true, false, true, false], [true, true, false, false]), {
      accuracy: 0.5,
      precision: 0.5,
      recall: 0.5,
      f1: 0.5,
      fpr: 0.5,
      tp: 1,
      fp: 1,
      tn: 1,
      fn: 1,
    });
  });

  test('binaryReport reports 0 for ratios with a zero denominator', () => {
    const r = binaryReport([0, 0, 0], [0, 0, 0]);
    assert.deepEqual(r, { accuracy: 1, precision: 0, recall: 0, f1: 0, fpr: 0, tp: 0, fp: 0, tn: 3, fn: 0 });
    assert.equal(binaryReport([], []).accuracy, 0);
  });
});

describe('metrics: groups and confusion tables', () => {
  test('recallByGroup counts detections per group with sorted keys', () => {
    const groups = ['dos', 'probe', 'dos', 'r2l', 'dos', 'probe', '__proto__'];
    const flagged = [1, 0, 1, 0, 0, 1, true];
    const r = recallByGroup(groups, flagged);
    assert.deepEqual(Object.keys(r), ['__proto__', 'dos', 'probe', 'r2l']);
    assert.deepEqual(r.dos, { n: 3, detected: 2, recall: 2 / 3 });
    assert.deepEqual(r.probe, { n: 2, detected: 1, recall: 0.5 });
    assert.deepEqual(r.r2l, { n: 1, detected: 0, recall: 0 });
    assert.deepEqual(Object.getOwnPropertyDescriptor(r, '__proto__')?.value, {
      n: 1,
      detected: 1,
      recall: 1,
    });
    assert.throws(() => recallByGroup(['a'], []), InputError);
  });

  test('confusionTable cross-tabulates two labelings', () => {
    const t = confusionTable(
      ['normal', 'dos', 'dos', 'probe', 'normal', 'dos'],
      ['0', '1', '1', '2', '0', '0'],
    );
    assert.deepEqual(t.rows, ['dos', 'normal', 'probe']);
    assert.deepEqual(t.cols, ['0', '1', '2']);
    assert.deepEqual(t.counts, [
      [1, 2, 0],
      [2, 0, 0],
      [0, 0, 1],
    ]);
    assert.throws(() => confusionTable(['a'], ['b', 'c']), InputError);
  });
});

describe('metrics: speed', () => {
  test('rocAuc, averagePrecision and detectionRateAtFpr on 500,000 scores take well under a second each', () => {
    const rng = new Rng(11);
    const n = 500_000;
    const y = new Uint8Array(n);
    const s = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = rng.next() < 0.2 ? 1 : 0;
      s[i] = Math.round((rng.normal() + y[i]!) * 1000) / 1000;
    }
    for (const [name, fn] of [
      ['rocAuc', () => rocAuc(y, s)],
      ['averagePrecision', () => averagePrecision(y, s)],
      ['detectionRateAtFpr', () => detectionRateAtFpr(y, s, 0.01)],
    ] as const) {
      const v = fn();
      assert.ok(v > 0 && v < 1, `${name} = ${v}`);
    }
    // AUC of N(1,1) vs N(0,1) is Phi(1/sqrt(2)) = 0.7602
    close(rocAuc(y, s), 0.7602, 0.005, 'binormal AUC');
  });
});
