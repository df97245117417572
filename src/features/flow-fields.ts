/**
 * The preprocessing plan for canonical flows (pcap, Zeek, CICFlowMeter): protocol, connection
 * state and port class one-hot; counts, bytes, durations and inter-arrival times through log1p;
 * ratios (0..1) as they are.
 */
import { FLOW_SCHEMA } from '../ingest/traffic/schema.ts';
import type { FieldSpec } from './preprocessor.ts';

export function flowFieldSpecs(): FieldSpec[] {
  return FLOW_SCHEMA.filter((f) => f.kind !== 'identity').map((f) =>
    f.kind === 'categorical'
      ? { name: f.name, kind: 'categorical' }
      : { name: f.name, kind: 'numeric', transform: f.unit.startsWith('ratio') ? 'none' : 'log1p' },
  );
}
