/**
 * The column map for a GoFlow2 table (`goflow2 -format=json` into ClickHouse, its v2 snake_case
 * schema: `time_flow_start_ns`, `time_flow_end_ns`, `bytes`, `packets`, `proto`, `dst_port`, …):
 * which canonical flow field each GoFlow2 column feeds, and every other field marked absent
 * (numeric: NaN, imputed with the training mean as in process; categorical: "unknown", what a
 * source without the field yields in process).
 *
 * GoFlow2 rows are unidirectional sampled flow records, not the biflows of the canonical schema:
 * `bytes`/`packets` feed the forward direction only, the backward fields stay absent. Raw counts
 * are used as stored (multiply by `sampling_rate` in the map when the exporter samples).
 */
import type { FieldSpec } from '../features/preprocessor.ts';
import { SERVICE_PORTS } from '../ingest/traffic/schema.ts';
import type { ColumnMap } from './model-sql.ts';

const PROTOCOL = `multiIf(proto = 1, 'icmp', proto = 6, 'tcp', proto = 17, 'udp', proto = 58, 'icmpv6', proto = 132, 'sctp', concat('ip-', toString(proto)))`;

/** The canonical fields a GoFlow2 table carries, as SQL over its columns (schema.ts's definitions). */
export const GOFLOW2_FIELDS: Readonly<Record<string, string>> = {
  protocol: PROTOCOL,
  port_class: `if(proto IN (6, 17, 132), multiIf(dst_port IN (${[...SERVICE_PORTS].join(', ')}), concat('p', toString(dst_port)), dst_port < 1024, 'well-known', dst_port < 49152, 'registered', 'ephemeral'), 'none')`,
  duration: '(toInt64(time_flow_end_ns) - toInt64(time_flow_start_ns)) / 1000000000',
  fwd_packets: 'packets',
  fwd_bytes: 'bytes',
  fwd_pkt_len_mean: 'if(packets > 0, bytes / packets, nan)',
};

/** The column map of a model's fields over a GoFlow2 table (absent fields as NaN or 'unknown'). */
export function goflow2ColumnMap(fields: readonly FieldSpec[]): ColumnMap {
  const map: Record<string, string> = {};
  for (const f of fields) {
    map[f.name] = GOFLOW2_FIELDS[f.name] ?? (f.kind === 'numeric' ? 'toFloat64(nan)' : "'unknown'");
  }
  return map;
}
