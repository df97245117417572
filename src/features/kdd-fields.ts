/**
 * The preprocessing plan for NSL-KDD / KDD Cup 99 records: the three symbolic fields one-hot,
 * heavy-tailed counters (bytes, durations, connection counts) through log1p, rates and 0/1 flags
 * as they are. Label and difficulty are not fields.
 */
import { KDD_FEATURES } from '../ingest/kdd.ts';
import type { FieldSpec } from './preprocessor.ts';

/** Counters whose values span orders of magnitude (src_bytes reaches 1e9). */
export const KDD_LOG_FIELDS: readonly string[] = [
  'duration',
  'src_bytes',
  'dst_bytes',
  'wrong_fragment',
  'urgent',
  'hot',
  'num_failed_logins',
  'num_compromised',
  'num_root',
  'num_file_creations',
  'num_shells',
  'num_access_files',
  'num_outbound_cmds',
  'count',
  'srv_count',
  'dst_host_count',
  'dst_host_srv_count',
];

/**
 * One-hot columns hold 0 or this weight (numeric columns have unit variance). A mismatch on a
 * categorical field then costs 2·w² in squared distance; w = 2 was chosen on a validation split of
 * the training file (held-out training normals + training-file attacks; docs/detection.md).
 */
export const KDD_CATEGORICAL_WEIGHT = 2;

export function kddFieldSpecs(weights: Readonly<Record<string, number>> = {}): FieldSpec[] {
  return KDD_FEATURES.map((f) => ({
    name: f.name,
    kind: f.kind,
    transform: KDD_LOG_FIELDS.includes(f.name) ? 'log1p' : 'none',
    weight: weights[f.name] ?? (f.kind === 'categorical' ? KDD_CATEGORICAL_WEIGHT : 1),
  }));
}
