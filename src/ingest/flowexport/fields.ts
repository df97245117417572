/**
 * The preprocessing plan for flows from exports: the canonical flow fields minus those no export
 * carries (payload bytes, packet-length and inter-arrival statistics, payload bytes/s), which are
 * NaN in every row and cannot be fitted. A model trained on pcaps scores export flows too (those
 * fields are imputed); a model trained on exports leaves them out.
 */
import { flowFieldSpecs } from '../../features/flow-fields.ts';
import type { FieldSpec } from '../../features/preprocessor.ts';
import { NEVER_IN_EXPORTS } from './biflow.ts';

export function exportFieldSpecs(): FieldSpec[] {
  return flowFieldSpecs().filter((f) => !NEVER_IN_EXPORTS.includes(f.name));
}

export function isExportFormat(format: string | null): boolean {
  return format === 'netflow' || format === 'goflow2';
}
