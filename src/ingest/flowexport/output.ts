/** A canonical export flow as one flat JSON object (identity, features, export identity); NaN → null. */
import { CATEGORICAL_FEATURES, categoricalOf, IDENTITY_FIELDS, NUMERIC_FEATURES } from '../traffic/schema.ts';
import type { ExportFlow } from './biflow.ts';

export function flowJson(f: ExportFlow): Record<string, unknown> {
  const rec: Record<string, unknown> = {};
  const flow = f as unknown as Record<string, unknown>;
  for (const c of IDENTITY_FIELDS) rec[c] = flow[c];
  for (const c of CATEGORICAL_FEATURES) rec[c] = categoricalOf(f, c);
  for (const c of NUMERIC_FEATURES) rec[c] = f.f[c];
  for (const [k, v] of Object.entries(f.export)) rec[k] = v;
  for (const [k, v] of Object.entries(rec)) if (typeof v === 'number' && !Number.isFinite(v)) rec[k] = null;
  return rec;
}
