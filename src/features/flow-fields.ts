/**
 * The preprocessing plan for canonical flows (pcap, Zeek, CICFlowMeter): protocol, connection
 * state and port class one-hot; counts, bytes and times through log1p; ratios (0..1) as they are.
 *
 * Times (unit 's': durations, inter-arrival times, delays, TTLs) go through log1p(t / 0.1 ms):
 * log1p of seconds is nearly linear below a second, so 1 ms and 50 ms — a LAN and a WAN round
 * trip — were almost the same value. Their scale is at least ln 2 (a factor of two in time), so a
 * timing field that barely varies in training does not weigh like a whole field in the distance.
 */
import { FLOW_SCHEMA } from '../ingest/traffic/schema.ts';
import type { FieldSpec } from './preprocessor.ts';

/** The unit times are measured in before log1p, in seconds. */
export const TIME_LOG_UNIT = 1e-4;
/** The smallest scale of a time field, in log units. */
export const TIME_MIN_SCALE = Math.LN2;

export function flowFieldSpecs(): FieldSpec[] {
  return FLOW_SCHEMA.filter((f) => f.kind !== 'identity').map((f): FieldSpec => {
    if (f.kind === 'categorical') return { name: f.name, kind: 'categorical' };
    if (f.unit.startsWith('ratio')) return { name: f.name, kind: 'numeric', transform: 'none' };
    if (f.unit === 's')
      return {
        name: f.name,
        kind: 'numeric',
        transform: 'log1p',
        logUnit: TIME_LOG_UNIT,
        minScale: TIME_MIN_SCALE,
      };
    return { name: f.name, kind: 'numeric', transform: 'log1p' };
  });
}
