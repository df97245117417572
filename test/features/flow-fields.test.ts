import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  flowFieldSpecs,
  LOG_MIN_SCALE,
  RATIO_MIN_SCALE,
  TIME_LOG_UNIT,
} from '../../src/features/flow-fields.ts';
import { Preprocessor } from '../../src/features/preprocessor.ts';
import { FLOW_SCHEMA } from '../../src/ingest/traffic/schema.ts';

describe('flowFieldSpecs', () => {
  test('times in tenths of a millisecond, a scale floor for every numeric field', () => {
    const unit = new Map(FLOW_SCHEMA.map((f) => [f.name, f.unit]));
    const specs = flowFieldSpecs();
    assert.equal(specs.length, FLOW_SCHEMA.filter((f) => f.kind !== 'identity').length);
    for (const s of specs) {
      if (s.kind === 'categorical') continue;
      const u = unit.get(s.name)!;
      if (u.startsWith('ratio'))
        assert.deepEqual([s.transform, s.minScale], ['none', RATIO_MIN_SCALE], s.name);
      else {
        assert.deepEqual([s.transform, s.minScale], ['log1p', LOG_MIN_SCALE], s.name);
        assert.equal(s.logUnit, u === 's' ? TIME_LOG_UNIT : undefined, s.name);
      }
    }
    assert.ok(specs.some((s) => s.name === 'duration' && s.logUnit === TIME_LOG_UNIT));
  });

  test('a rate almost always 0 in training: one benign deviation weighs (value / 0.1)², not (value / std)²', () => {
    const n = 1000;
    const rate = new Float64Array(n);
    rate[0] = 0.5; // one training row in a thousand with rejections: std ≈ 0.016
    const spec = flowFieldSpecs().find((s) => s.name === 'src_t_rej_rate')!;
    const p = new Preprocessor([spec]).fit({ nRows: n, numeric: { src_t_rej_rate: rate }, text: {} });
    assert.equal(p.toState().scales.src_t_rej_rate, RATIO_MIN_SCALE);
    const { X } = p.transform({ nRows: 1, numeric: { src_t_rej_rate: Float64Array.of(0.16) }, text: {} });
    assert.ok(Math.abs(X.data[0]! - (0.16 - 0.0005) / RATIO_MIN_SCALE) < 1e-6);
  });
});
