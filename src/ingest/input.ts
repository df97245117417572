/**
 * One entry point for every tabular input the CLI and the app accept: NSL-KDD / KDD Cup 99 files
 * and generic CSV with a header (kinds inferred, KDD-named columns recognised). It returns the
 * table, labels when the input has them (never features), and the preprocessing plan that
 * suits the input.
 */
import { InputError, UnsupportedFormatError } from '../errors.ts';
import { kddFieldSpecs } from '../features/kdd-fields.ts';
import type { FieldSpec } from '../features/preprocessor.ts';
import { type CsvColumnSpec, readCsv } from './csv.ts';
import { attackFamily, KDD_FEATURES, readKdd } from './kdd.ts';
import type { BadRowPolicy, IngestReport, Table } from './table.ts';

export const TABULAR_FORMATS = ['nsl-kdd', 'kdd99', 'csv'] as const;
export type TabularFormat = (typeof TABULAR_FORMATS)[number];

export interface InputData {
  table: Table;
  /** Row labels when the input has a label column ('normal', 'neptune', …), else null. */
  labels: string[] | null;
  /** Attack family per row ('normal', 'dos', 'probe', 'r2l', 'u2r', 'unknown') when labelled. */
  families: string[] | null;
  report: IngestReport;
  format: string;
  /** The preprocessing plan suited to these columns. */
  fields: FieldSpec[];
}

export interface ReadInputOptions {
  format: TabularFormat;
  onBadRow?: BadRowPolicy;
  maxRows?: number;
  /** The content in memory instead of read from `path` (which then only names it in messages). */
  bytes?: Uint8Array;
}

const LABEL_NAMES = ['label', 'attack', 'class', 'attack_cat'];
const IGNORED_NAMES = ['difficulty', 'difficulty_level', 'lastflag'];

export async function readTabular(path: string, opts: ReadInputOptions): Promise<InputData> {
  const policy = opts.onBadRow ?? 'fail';
  if (opts.format === 'nsl-kdd' || opts.format === 'kdd99') {
    const kdd = await readKdd(path, { onBadRow: policy, maxRows: opts.maxRows, bytes: opts.bytes });
    return {
      table: kdd.table,
      labels: kdd.labels,
      families: kdd.families,
      report: kdd.report,
      format: kdd.format,
      fields: kddFieldSpecs(),
    };
  }
  if (opts.format !== 'csv') throw new UnsupportedFormatError(`${path}: unsupported format '${opts.format}'`);
  return readGenericCsv(path, policy, opts.maxRows, opts.bytes);
}

/**
 * CSV with a header. Columns named like the 41 KDD features use the KDD plan; otherwise a column
 * is numeric when every non-empty value in the first 1,000 rows parses as a number, else
 * categorical. Label-like columns (label, attack, class) are labels; difficulty is ignored.
 */
async function readGenericCsv(
  path: string,
  policy: BadRowPolicy,
  maxRows?: number,
  bytes?: Uint8Array,
): Promise<InputData> {
  const probe = await readCsv(path, { columns: [] }, { onBadRow: 'skip', maxRows: 1, bytes }).catch((err) => {
    throw err instanceof InputError ? err : new InputError(`${path}: ${(err as Error).message}`);
  });
  const header = probe.header.map((h) => h.trim());
  const lower = header.map((h) => h.toLowerCase());
  const kddNames = KDD_FEATURES.map((f) => f.name);
  const isKdd = kddNames.every((n) => lower.includes(n));
  let columns: CsvColumnSpec[];
  if (isKdd) {
    columns = KDD_FEATURES.map((f) => ({ name: f.name, kind: f.kind }));
  } else {
    const sample = await readCsv(
      path,
      { columns: header.map((name) => ({ name, kind: 'categorical' as const })) },
      { onBadRow: 'skip', maxRows: 1000, bytes },
    );
    columns = header.map((name) => {
      const l = name.toLowerCase();
      if (IGNORED_NAMES.includes(l)) return { name, kind: 'ignored' as const };
      const values = sample.table.text[name] ?? [];
      const numeric = values.every((v) => v.trim() === '' || v.trim() === '-' || Number.isFinite(Number(v)));
      return { name, kind: numeric ? ('numeric' as const) : ('categorical' as const) };
    });
  }
  // The first label-like column is the label, never a feature (it was read as text above).
  const labelIndex = lower.findIndex((h) => LABEL_NAMES.includes(h));
  if (labelIndex >= 0) {
    const name = header[labelIndex]!;
    const at = columns.findIndex((c) => c.name.toLowerCase() === name.toLowerCase());
    if (at >= 0) columns[at] = { name, kind: 'label' };
    else columns.push({ name, kind: 'label' });
  }
  columns = columns.filter(
    (c, i, all) => all.findIndex((o) => o.name.toLowerCase() === c.name.toLowerCase()) === i,
  );
  const feature = columns.filter((c) => c.kind === 'numeric' || c.kind === 'categorical');
  if (feature.length === 0) throw new InputError(`${path}: no feature columns found in the header`);
  const data = await readCsv(path, { columns }, { onBadRow: policy, maxRows, bytes });
  const labels = data.labels ? data.labels.map((l) => l.replace(/\.$/, '')) : null;
  return {
    table: data.table,
    labels,
    families: labels ? labels.map(attackFamily) : null,
    report: data.report,
    format: isKdd ? 'csv (kdd columns)' : 'csv',
    fields: isKdd ? kddFieldSpecs() : inferFieldSpecs(data.table, feature),
  };
}

/** log1p for non-negative columns whose largest value is far beyond their median (heavy tails). */
export function inferFieldSpecs(
  table: Table,
  columns: readonly { name: string; kind: string }[],
): FieldSpec[] {
  return columns.map((c) => {
    if (c.kind !== 'numeric') return { name: c.name, kind: 'categorical' };
    const col = table.numeric[c.name]!;
    const vals = Array.from(col).filter((v) => !Number.isNaN(v));
    const sorted = vals.sort((a, b) => a - b);
    const min = sorted[0] ?? 0;
    const max = sorted[sorted.length - 1] ?? 0;
    const median = sorted[sorted.length >> 1] ?? 0;
    const heavy = min >= 0 && max > 100 * (median + 1);
    return { name: c.name, kind: 'numeric', transform: heavy ? 'log1p' : 'none' };
  });
}
