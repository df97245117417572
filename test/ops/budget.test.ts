/**
 * Alert budgets on real data: KDD Cup 99 10 % normals split into fit / calibration / a held-out
 * benign stream; the threshold for B alerts/h at a traffic rate R is set on the calibration part
 * and the alerts/hour it produces on the held-out stream must be within 20 % of the budget.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OptionError } from '../../src/errors.ts';
import { kddFieldSpecs } from '../../src/features/kdd-fields.ts';
import { takeRows } from '../../src/ingest/table.ts';
import { AnomalyDetector } from '../../src/model/detector.ts';
import { Rng } from '../../src/model/random.ts';
import {
  budgetSpend,
  budgetThreshold,
  flowsPerHour,
  groupBudgetThresholds,
  hostGroup,
  parseAlertBudget,
} from '../../src/ops/budget.ts';
import { kdd } from '../helpers/data.ts';

describe('alert budget parsing and arithmetic', () => {
  it('reads N/h, N/min, N/d and refuses the rest in one line', () => {
    assert.equal(parseAlertBudget('20/h'), 20);
    assert.equal(parseAlertBudget('1/min'), 60);
    assert.equal(parseAlertBudget('48/d'), 2);
    for (const bad of ['20', 'x/h', '0/h', '-3/h', '5/week']) {
      assert.throws(() => parseAlertBudget(bad), OptionError);
    }
  });
  it('a budget is a false-positive rate of budget / rate', () => {
    const scores = Float64Array.from({ length: 1000 }, (_, i) => i / 1000);
    const b = budgetThreshold(scores, 10_000, 100);
    assert.equal(b.expectedFpr, 0.01);
    assert.ok(Math.abs(b.expectedAlertsPerHour - 100) <= 10);
    assert.equal(budgetThreshold(scores, 50, 100).saturated, true);
  });
  it('measures the traffic rate from flow start times', () => {
    assert.equal(flowsPerHour([0, 1800, 3600]), 3);
    assert.ok(Number.isNaN(flowsPerHour([5])));
  });
  it('groups hosts by /24 and /64; per-group thresholds spend the budget in each group', () => {
    assert.equal(hostGroup('192.0.2.77'), '192.0.2.0/24');
    assert.equal(hostGroup('2001:db8:1:2:3::4'), '2001:db8:1:2::/64');
    const scores = Float64Array.from({ length: 2000 }, (_, i) => (i % 1000) / 1000 + (i < 1000 ? 0 : 5));
    const groups = Array.from({ length: 2000 }, (_, i) => (i < 1000 ? 'a' : 'b'));
    const [a, b] = groupBudgetThresholds(scores, groups, 20_000, 50);
    assert.equal(a!.group, 'a');
    assert.ok(a!.threshold < 1 && b!.threshold > 5, 'each group gets its own threshold');
    assert.equal(a!.expectedFpr, 50 / 10_000);
  });
  it('reports live spend against the budget', () => {
    const s = budgetSpend(30, 2, 20);
    assert.equal(s.alertsPerHour, 15);
    assert.equal(s.ratio, 0.75);
  });
});

describe('alert budget on a held-out benign stream (KDD Cup 99 normals)', () => {
  it('measured alerts/hour is within 20 % of the budget', async () => {
    const data = await kdd('kddcup99/kddcup.data_10_percent.gz');
    const normals = data.families.flatMap((f, i) => (f === 'normal' ? [i] : []));
    const order = Array.from(new Rng(7).sample(normals.length, normals.length), (i) => normals[i]!);
    const a = Math.floor(order.length * 0.6);
    const b = Math.floor(order.length * 0.8);
    const det = await new AnomalyDetector(kddFieldSpecs(), { k: 16, ensembleK: [32] }).fit(
      takeRows(data.table, order.slice(0, a)),
    );
    const cal = (await det.evaluateRows(takeRows(data.table, order.slice(a, b)))).anomalyScore;
    const stream = (await det.evaluateRows(takeRows(data.table, order.slice(b)))).anomalyScore;
    // the stream is read as one hour of traffic (rate = its row count per hour); budgets of a few
    // hundred alerts keep the Poisson noise of the count itself (1/√B) well inside ±20 %
    const rate = stream.length;
    for (const budget of [200, 400, 1000]) {
      const t = budgetThreshold(Float64Array.from(cal).sort(), rate, budget);
      let alerts = 0;
      for (const v of stream) if (v > t.threshold) alerts++;
      const ratio = alerts / budget;
      assert.ok(
        ratio > 0.8 && ratio < 1.2,
        `budget ${budget}/h: ${alerts} alerts/h (ratio ${ratio.toFixed(3)})`,
      );
    }
  });
});
