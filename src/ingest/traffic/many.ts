/**
 * Several traffic files read as one input: every file through `readTraffic` (its own flow meter
 * and its own window state, since separate captures do not share a clock), then the rows
 * concatenated in the order of `paths`. A directory stands for its regular files sorted by name.
 * The report sums the per-file counters; identity and labels are concatenated alongside. Zeek
 * application logs beside a listed conn.log are joined to it (zeek-app.ts), not read as inputs.
 *
 * A file that cannot be read (not a capture, a corrupt header, an unreadable log) never stops the
 * others: it is counted (`files_failed`), named in one warning line, and listed in `files` with
 * its error. Only when no file at all can be read is the whole input refused.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError, NetanomalyError } from '../../errors.ts';
import { flowFieldSpecs } from '../../features/flow-fields.ts';
import { exportFieldSpecs, isExportFormat } from '../flowexport/fields.ts';
import { labelFamily } from '../kdd.ts';
import type { AnyInput } from '../read-input.ts';
import { type BadRowPolicy, concatTables } from '../table.ts';
import { emptyTrafficReport, type TrafficReport } from './common.ts';
import { type IdentityColumns, readTraffic, type TrafficOptions, type TrafficResult } from './index.ts';
import { companionLogs } from './zeek-app.ts';

/** Expand directories (their regular files, sorted by name, hidden files skipped) and keep files. */
export async function expandInputs(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(p);
    } catch {
      throw new InputError(`${p}: no such file or directory`);
    }
    if (st.isDirectory()) {
      const names = (await readdir(p)).filter((n) => !n.startsWith('.')).sort();
      for (const n of names) {
        const full = join(p, n);
        if ((await stat(full)).isFile()) out.push(full);
      }
    } else out.push(p);
  }
  if (out.length === 0) throw new InputError(`${paths.join(', ')}: no input files`);
  return out;
}

function concatF64(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** One input file of a multi-file read: the rows it contributed, or why it contributed none. */
export interface FileRange {
  path: string;
  firstRow: number;
  rows: number;
  /** Set when the file could not be read (one line, naming the file). */
  error?: string;
}

export interface ManyResult extends TrafficResult {
  /** Every file, in order, with the row range each contributed (failed files: 0 rows, `error`). */
  files: FileRange[];
}

/** One line for a file that failed: the project's message, or the unexpected error's. */
export function failureLine(path: string, err: unknown): string {
  const msg = String((err as Error)?.message ?? err).split('\n')[0]!;
  const text = msg.startsWith(path) ? msg : `${path}: ${msg}`;
  return err instanceof NetanomalyError ? text : `${text} (unexpected ${(err as Error)?.name ?? 'error'})`;
}

/**
 * The files a list of traffic inputs stands for (directories expanded), without the Zeek
 * application logs (dns.log, ssl.log, http.log, ssh.log) that lie beside a conn.log of the list:
 * those are joined to it, not read alone.
 */
export async function trafficInputFiles(
  paths: readonly string[],
  opts: Pick<TrafficOptions, 'format' | 'zeekApp'> = {},
): Promise<{ files: string[]; companions: number }> {
  const all = await expandInputs(paths);
  const joined = new Set<string>();
  if (
    opts.zeekApp !== false &&
    (opts.format === undefined || opts.format === 'auto' || opts.format === 'zeek')
  )
    for (const p of all) for (const c of Object.values(await companionLogs(p))) if (c) joined.add(c);
  return { files: all.filter((p) => !joined.has(p)), companions: joined.size };
}

/** Read several traffic files (or directories of them) as one Table. */
export async function readTrafficMany(
  paths: readonly string[],
  opts: TrafficOptions = {},
): Promise<ManyResult> {
  const { files, companions } = await trafficInputFiles(paths, opts);
  const results: TrafficResult[] = [];
  const ranges: FileRange[] = [];
  const failures: string[] = [];
  let row = 0;
  for (const path of files) {
    let r: TrafficResult;
    try {
      r = await readTraffic(path, { ...opts, report: undefined });
    } catch (err) {
      const line = failureLine(path, err);
      failures.push(line);
      ranges.push({ path, firstRow: row, rows: 0, error: line });
      continue;
    }
    results.push(r);
    ranges.push({ path, firstRow: row, rows: r.table.nRows });
    row += r.table.nRows;
  }
  if (results.length === 0) {
    throw new InputError(
      `${paths.join(', ')}: none of the ${files.length} file(s) could be read (first: ${failures[0]})`,
    );
  }
  const report: TrafficReport = emptyTrafficReport(files.join(','), opts.onBadRow ?? 'quarantine');
  report.format = results[0]!.report.format;
  report.counters.files = files.length;
  if (companions) report.counters.zeek_app_logs_joined = companions;
  if (failures.length) report.counters.files_failed = failures.length;
  // Failed files are always named (never dropped by the warning cap).
  report.warnings.push(...failures);
  for (const r of results) {
    report.rowsRead += r.report.rowsRead;
    report.rowsKept += r.report.rowsKept;
    report.rowsSkipped += r.report.rowsSkipped;
    for (const [k, v] of Object.entries(r.report.reasons)) report.reasons[k] = (report.reasons[k] ?? 0) + v;
    for (const [k, v] of Object.entries(r.report.counters))
      report.counters[k] = (report.counters[k] ?? 0) + v;
    for (const q of r.report.quarantined) if (report.quarantined.length < 1000) report.quarantined.push(q);
    for (const w of r.report.warnings)
      if (report.warnings.length < 100 + failures.length) report.warnings.push(w);
  }
  const ids = results.map((r) => r.identity);
  const identity: IdentityColumns = {
    src_ip: ids.flatMap((i) => i.src_ip),
    dst_ip: ids.flatMap((i) => i.dst_ip),
    src_port: concatF64(ids.map((i) => i.src_port)),
    dst_port: concatF64(ids.map((i) => i.dst_port)),
    protocol: ids.flatMap((i) => i.protocol),
    start_time: concatF64(ids.map((i) => i.start_time)),
    community_id: ids.flatMap((i) => i.community_id),
  };
  const labels = results.some((r) => r.labels)
    ? results.flatMap((r) => r.labels ?? new Array<string>(r.table.nRows).fill(''))
    : null;
  return { table: concatTables(results.map((r) => r.table)), identity, labels, report, files: ranges };
}

/** File index of every row: the group for grouped calibration (captures do not share a clock). */
function fileOfRow(files: ManyResult['files'], nRows: number): Int32Array {
  const out = new Int32Array(nRows);
  files.forEach((f, i) => {
    out.fill(i, f.firstRow, f.firstRow + f.rows);
  });
  return out;
}

/**
 * `readInput`-shaped reader over several traffic files: `path` may be a directory (its files sorted
 * by name) or several paths joined by the platform path delimiter is NOT supported — pass a
 * directory, or call `readTrafficMany` with a list. Usable as `trainFromFile(dir, {reader})`.
 */
export async function readInputMany(
  paths: string | readonly string[],
  format: string,
  onBadRow: BadRowPolicy,
): Promise<AnyInput & { files: ManyResult['files']; groups: Int32Array }> {
  if (!['pcap', 'zeek', 'cic', 'netflow', 'goflow2', 'auto'].includes(format)) {
    throw new InputError(
      `${String(paths)}: several files can be read only as traffic (pcap, zeek, cic), not ${format}`,
    );
  }
  const list = typeof paths === 'string' ? [paths] : paths;
  const t = await readTrafficMany(list, { format: format as TrafficOptions['format'], onBadRow });
  return {
    table: t.table,
    labels: t.labels,
    families: t.labels ? t.labels.map(labelFamily) : null,
    report: t.report,
    format: t.report.format ?? format,
    fields: isExportFormat(t.report.format) ? exportFieldSpecs() : flowFieldSpecs(),
    identity: t.identity,
    files: t.files,
    groups: fileOfRow(t.files, t.table.nRows),
  };
}
