/**
 * The preprocessing plan for canonical flows (pcap, Zeek, CICFlowMeter): protocol, connection
 * state and port class one-hot; counts, bytes and times through log1p; ratios (0..1) as they are.
 *
 * Times (unit 's': durations, inter-arrival times, delays, TTLs) go through log1p(t / 0.1 ms):
 * log1p of seconds is nearly linear below a second, so 1 ms and 50 ms (a LAN and a WAN round
 * trip) were almost the same value.
 *
 * Every numeric field has a floor under its fitted scale: a factor of two (ln 2) for log1p
 * fields, a tenth of the range for ratios. Standard scaling divides by the training spread, so a
 * field (nearly) constant in training — a rejection rate that is almost always 0 — made any
 * benign deviation in it outweigh every other field (a P2P host's 16 % rejected connections:
 * 70 % of its distance). The per-field rarity (model/field-tail.ts) still sees such values.
 */
import { FLOW_SCHEMA } from '../ingest/traffic/schema.ts';
import type { FieldSpec } from './preprocessor.ts';

/** The unit times are measured in before log1p, in seconds. */
export const TIME_LOG_UNIT = 1e-4;
/** The smallest scale of a log1p field, in log units: a factor of two. */
export const LOG_MIN_SCALE = Math.LN2;
/** The smallest scale of a ratio (0..1) field. */
export const RATIO_MIN_SCALE = 0.1;

export function flowFieldSpecs(): FieldSpec[] {
  return FLOW_SCHEMA.filter((f) => f.kind !== 'identity').map((f): FieldSpec => {
    if (f.kind === 'categorical') return { name: f.name, kind: 'categorical' };
    if (f.unit.startsWith('ratio'))
      return { name: f.name, kind: 'numeric', transform: 'none', minScale: RATIO_MIN_SCALE };
    return {
      name: f.name,
      kind: 'numeric',
      transform: 'log1p',
      minScale: LOG_MIN_SCALE,
      ...(f.unit === 's' ? { logUnit: TIME_LOG_UNIT } : {}),
    };
  });
}
