/**
 * Capture health beside detections: the meter's arithmetic, and a real watcher run whose stats
 * records carry input rates, the last record time, loss signals (a directory of the shared
 * malformed captures is lossy) and the alert-budget spend, all valid against the stats schema.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HealthMeter } from '../../src/stream/health.ts';
import { JsonSchema, statsSchemaPath } from '../../src/stream/json-schema.ts';
import { dataDir } from '../helpers/data.ts';
import { killAll, records, run, tmp, trainedModel } from './helpers.ts';

describe('HealthMeter', () => {
  it('reports per-second rates over the interval and starts a new one', () => {
    const h = new HealthMeter(null, 0);
    h.onRecords(100, 1000);
    h.onAlerts(4, 1500);
    h.onQuarantined(2);
    const s = h.snapshot({}, 2000);
    assert.equal(s.interval_s, 2);
    assert.equal(s.records_per_s, 50);
    assert.equal(s.alerts_per_s, 2);
    assert.equal(s.last_record_at, new Date(1000).toISOString());
    assert.equal(s.lossy, false);
    assert.equal(h.snapshot({}, 3000).records_per_s, 0);
  });
  it('calls the input lossy on quarantine share, capture loss and export gaps, with reasons', () => {
    const h = new HealthMeter(null, 0);
    h.onRecords(90);
    h.onQuarantined(10);
    const s = h.snapshot({ capture_loss_pct: 3.5, export_sequence_gaps: 7 }, 1000);
    assert.equal(s.lossy, true);
    assert.equal(s.loss_reasons.length, 3);
    assert.match(
      s.loss_reasons.join('|'),
      /10\.0 % of the records .*quarantined\|capture loss 3\.50 %\|7 flow-export packets missing/,
    );
  });
  it('tracks the last hour of alerts against a budget', () => {
    const h = new HealthMeter(10, 0);
    for (let m = 0; m < 60; m++) h.onAlerts(1, m * 60_000);
    let s = h.snapshot({}, 3_600_000);
    assert.deepEqual([s.budget!.alerts_last_hour, s.budget!.over], [59, true]);
    s = h.snapshot({}, 3 * 3_600_000);
    assert.equal(s.budget!.alerts_last_hour, 0, 'old minutes drop out');
  });
});

describe('health in the watcher stats', () => {
  after(killAll);
  it('a directory of malformed captures is reported lossy; stats validate against the schema', async () => {
    const model = await trainedModel();
    const base = tmp('health');
    const dir = join(base, 'in');
    mkdirSync(dir);
    const malformed = join(dataDir(), 'pcaps', 'malformed');
    for (const f of readdirSync(malformed)) copyFileSync(join(malformed, f), join(dir, f));
    copyFileSync(join(dataDir(), 'pcaps', 'attack', 'synscan.pcap'), join(dir, 'zz-synscan.pcap'));
    const alerts = join(base, 'alerts.jsonl');
    const r = await run([
      'watch',
      dir,
      '--model',
      model,
      '--alerts',
      alerts,
      '--once',
      '--settle',
      '0',
      '--stats-interval',
      '0.1',
      '--alert-budget',
      '5/h',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const all = records(alerts);
    const stats = all.filter((x) => x.event?.dataset === 'netanomaly.stats');
    assert.ok(stats.length >= 1);
    const schema = JsonSchema.load(statsSchemaPath());
    for (const s of stats) assert.deepEqual(schema.validate(s), []);
    const inputs = stats.map((s) => s.netanomaly.stats.input);
    assert.ok(inputs.some((i) => i.records_per_s > 0));
    assert.ok(inputs.some((i) => i.last_record_at !== null));
    const warnings = all.filter((x) => x.event?.dataset === 'netanomaly.warning').map((x) => x.event.action);
    assert.ok(warnings.includes('input-lossy'), `warnings: ${warnings}`);
    assert.ok(warnings.includes('alert-budget-exceeded'), 'the scan spends far more than 5 alerts/h');
    assert.ok(inputs.some((i) => i.budget?.over === true));
  });
});
