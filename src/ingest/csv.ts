/**
 * Byte sources (plain or gzip, sniffed by magic bytes) and a generic, schema-driven CSV reader.
 *
 * `openByteSource` is shared by every text reader (KDD, CSV, later Zeek / CIC); `readCsv` parses a
 * header-first delimited file with an RFC 4180 quote-aware splitter (quotes, doubled quotes, quoted
 * newlines) and fills a columnar Table.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { InputError, ParseError, SchemaError } from '../errors.ts';
import { type BadRowPolicy, emptyReport, type IngestReport, type Table } from './table.ts';

// ---------------------------------------------------------------------------------------------
// Byte source
// ---------------------------------------------------------------------------------------------

/** How many quarantined rows a report keeps at most. */
export const QUARANTINE_CAP = 1000;

const CHUNK = 1 << 20;

/** True when the first bytes are the gzip magic number 1f 8b. */
export function isGzipMagic(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/**
 * Opens `path` and yields its (decompressed) bytes in chunks. Gzip is recognised by its magic bytes,
 * never by the file extension. Missing files and directories are InputErrors; corrupt or truncated
 * gzip data is a ParseError naming the file.
 */
export async function* openByteSource(path: string, bytes?: Uint8Array): AsyncGenerator<Buffer> {
  if (bytes) {
    // Content in memory (`path` only names it): read once like a pipe, by the same code.
    yield* pipeChunks(path, Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)]));
    return;
  }
  const src = await openSource(path);
  if (src.kind === 'other') yield* pipeChunks(path);
  else yield* sourceChunks(path, src, CHUNK);
}

/**
 * A pipe or device (e.g. `<(zcat file)`, /dev/stdin), read once: it cannot be peeked at, so gzip
 * is recognised from the first chunk, which is then decompressed with the rest.
 */
async function* pipeChunks(
  path: string,
  raw: Readable = createReadStream(path, { highWaterMark: CHUNK }),
): AsyncGenerator<Buffer> {
  let gunzip: ReturnType<typeof createGunzip> | null = null;
  try {
    const chunks = raw[Symbol.asyncIterator]();
    const first = await chunks.next();
    if (first.done) return;
    const head = first.value as Buffer;
    if (!isGzipMagic(head)) {
      yield head;
      for await (const chunk of { [Symbol.asyncIterator]: () => chunks }) yield chunk as Buffer;
      return;
    }
    const rest = async function* () {
      yield head;
      for await (const chunk of { [Symbol.asyncIterator]: () => chunks }) yield chunk as Buffer;
    };
    gunzip = createGunzip({ chunkSize: CHUNK });
    const inflated = Readable.from(rest()).pipe(gunzip);
    for await (const chunk of inflated) yield chunk as Buffer;
  } catch (err) {
    if (gunzip && isZlibError(err)) {
      throw new ParseError(`${path}: corrupt or truncated gzip data (${(err as Error).message})`);
    }
    throw fileError(path, err);
  } finally {
    raw.destroy();
    gunzip?.destroy();
  }
}

/**
 * A file looked at by `openSource`: a regular file, plain or gzip, with its content size (for gzip,
 * the size its trailer announces: a hint, modulo 2^32 and of the last member only), or anything
 * else (a pipe, a device: read it once with `openByteSource`).
 */
export type OpenedSource =
  | { readonly kind: 'gzip' | 'plain'; readonly bytes: number }
  | { readonly kind: 'other' };

/** Looks at `path` for `sourceChunks`. Errors as `openByteSource`. */
export async function openSource(path: string): Promise<OpenedSource> {
  try {
    // stat, not open: opening and closing a named pipe would end its writer's stream.
    const st = await stat(path);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (!st.isFile()) return { kind: 'other' };
    const fh = await open(path, 'r');
    try {
      const head = Buffer.alloc(2);
      const { bytesRead } = await fh.read(head, 0, 2, 0);
      if (!isGzipMagic(head.subarray(0, bytesRead))) return { kind: 'plain', bytes: st.size };
      const trailer = Buffer.alloc(4);
      if (st.size >= 18) await fh.read(trailer, 0, 4, st.size - 4);
      return { kind: 'gzip', bytes: trailer.readUInt32LE(0) };
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw fileError(path, err);
  }
}

/**
 * The (decompressed) content of a regular file seen by `openSource`, in chunks of about `chunkSize`
 * bytes read or decompressed ahead on libuv's thread pool while the caller works on the current
 * one (larger chunks than `openByteSource`: far less per-chunk overhead). Errors as
 * `openByteSource`.
 */
export async function* sourceChunks(
  path: string,
  src: OpenedSource & { kind: 'gzip' | 'plain' },
  chunkSize: number,
): AsyncGenerator<Buffer> {
  const gz = src.kind === 'gzip';
  const raw = createReadStream(path, { highWaterMark: gz ? CHUNK : chunkSize });
  const stream = gz ? raw.pipe(createGunzip({ chunkSize })) : raw;
  if (gz) raw.on('error', (e) => stream.destroy(e));
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (err) {
    if (gz && isZlibError(err)) {
      throw new ParseError(`${path}: corrupt or truncated gzip data (${(err as Error).message})`);
    }
    throw fileError(path, err);
  } finally {
    raw.destroy();
    if (gz) stream.destroy();
  }
}

function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

function fileError(path: string, err: unknown): Error {
  const code = (err as { code?: unknown })?.code;
  if (code === 'ENOENT') return new InputError(`${path}: no such file`);
  if (code === 'EISDIR') return new InputError(`${path}: is a directory, not a file`);
  if (code === 'EACCES') return new InputError(`${path}: permission denied`);
  if (err instanceof InputError) return err;
  return new InputError(`${path}: cannot read (${(err as Error)?.message ?? String(err)})`);
}

/** True when a sample of bytes looks binary (NUL bytes or many control / invalid bytes). */
export function looksBinary(sample: Uint8Array): boolean {
  const n = Math.min(sample.length, 65536);
  if (n === 0) return false;
  let odd = 0;
  for (let i = 0; i < n; i++) {
    const c = sample[i]!;
    if (c === 0) return true;
    if ((c < 32 && c !== 9 && c !== 10 && c !== 13) || c === 127) odd++;
  }
  return odd > n * 0.01;
}

// ---------------------------------------------------------------------------------------------
// Bad-row bookkeeping shared by readers
// ---------------------------------------------------------------------------------------------

/** Records a bad row in `report` according to `policy`; throws ParseError for 'fail'. */
export function recordBadRow(
  report: IngestReport,
  policy: BadRowPolicy,
  line: number,
  reason: string,
  detail: string,
  raw: () => string,
): void {
  if (policy === 'fail') {
    throw new ParseError(`${report.file}:${line}: ${reason}${detail ? `: ${detail}` : ''}`);
  }
  report.rowsSkipped++;
  report.reasons[reason] = (report.reasons[reason] ?? 0) + 1;
  if (policy === 'quarantine' && report.quarantined.length < QUARANTINE_CAP) {
    const text = raw();
    report.quarantined.push({
      line,
      reason: detail ? `${reason}: ${detail}` : reason,
      raw: text.length > 4000 ? `${text.slice(0, 4000)}...` : text,
    });
  }
}

/** Short, printable rendering of a field value for error messages. */
export function showValue(v: string): string {
  const s = v.length > 40 ? `${v.slice(0, 40)}...` : v;
  return JSON.stringify(s);
}

/** Growable Float64Array column. */
export class NumberColumn {
  data: Float64Array;
  length = 0;
  constructor(capacity = 1024) {
    this.data = new Float64Array(capacity);
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  finish(): Float64Array {
    return this.length === this.data.length ? this.data : this.data.slice(0, this.length);
  }
}

/** Strict decimal number syntax (no hex, no empty string, no thousands separators). */
const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NAN_RE = /^(nan|-)$/i;
const INF_RE = /^[+-]?(inf|infinity)$/i;

/** Classifies a trimmed numeric field: a finite number, missing, infinite, or not a number. */
export function classifyNumber(
  s: string,
): { kind: 'number'; value: number } | { kind: 'missing' | 'infinite' | 'invalid' } {
  if (s === '' || NAN_RE.test(s)) return { kind: 'missing' };
  if (INF_RE.test(s)) return { kind: 'infinite' };
  if (!NUMBER_RE.test(s)) return { kind: 'invalid' };
  const value = Number(s);
  if (!Number.isFinite(value)) return { kind: 'infinite' };
  return { kind: 'number', value };
}

/** Levenshtein edit distance. */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

export type CsvColumnKind = 'numeric' | 'categorical' | 'label' | 'ignored';

export interface CsvColumnSpec {
  /** Name in the output table (also matched against the header). */
  readonly name: string;
  readonly kind: CsvColumnKind;
  /** Other header spellings accepted for this column. */
  readonly aliases?: readonly string[];
  /** When true, a missing column is a warning (numeric: filled with NaN; categorical: '') not an error. */
  readonly optional?: boolean;
}

export interface CsvSchema {
  readonly columns: readonly CsvColumnSpec[];
}

export interface CsvOptions {
  onBadRow?: BadRowPolicy;
  /** One of , ; \t | (or any single character); sniffed from the header line when omitted. */
  delimiter?: string;
  /** Stop after this many kept rows. */
  maxRows?: number;
  /** The content in memory instead of read from `path` (which then only names it in messages). */
  bytes?: Uint8Array;
}

export interface CsvData {
  table: Table;
  labels: string[] | null;
  report: IngestReport;
  delimiter: string;
  /** Header names as found in the file, in file order. */
  header: string[];
}

export const DELIMITER_CANDIDATES = [',', ';', '\t', '|'] as const;

const normName = (s: string): string => s.trim().toLowerCase();

/**
 * Splits one logical record starting at `start` in `text`. Returns the fields and the index just
 * past the record's line end, or null when the record is not complete in `text` (more input
 * needed). At `eof`, an unterminated quote yields `{error: 'unterminated quoted field'}`.
 */
export function splitRecord(
  text: string,
  start: number,
  delim: string,
  eof: boolean,
): { fields: string[]; next: number; newlines: number; error?: string } | null {
  const nl = text.indexOf('\n', start);
  if (nl < 0 && !eof) return null;
  const lineEnd = nl < 0 ? text.length : nl;
  const q = text.indexOf('"', start);
  if (q < 0 || q >= lineEnd) {
    // Fast path: no quotes on this line.
    let end = lineEnd;
    if (end > start && text.charCodeAt(end - 1) === 13) end--;
    return { fields: text.slice(start, end).split(delim), next: lineEnd + 1, newlines: 1 };
  }
  const fields: string[] = [];
  let i = start;
  let newlines = 0;
  let error: string | undefined;
  for (;;) {
    // at field start
    if (text[i] === '"') {
      let value = '';
      let j = i + 1;
      for (;;) {
        const k = text.indexOf('"', j);
        if (k < 0) {
          if (!eof) return null;
          return { fields, next: text.length, newlines: newlines + 1, error: 'unterminated quoted field' };
        }
        if (text[k + 1] === '"') {
          value += text.slice(j, k + 1);
          j = k + 2;
          continue;
        }
        if (k + 1 >= text.length && !eof) return null; // cannot tell yet whether the quote is doubled
        value += text.slice(j, k);
        j = k + 1;
        break;
      }
      for (let p = i; p < j; p++) if (text.charCodeAt(p) === 10) newlines++;
      fields.push(value);
      i = j;
      const c = text[i];
      if (c === delim) {
        i++;
        continue;
      }
      if (c === '\n' || c === undefined || (c === '\r' && (text[i + 1] === '\n' || i + 1 >= text.length))) {
        if (c === undefined && !eof) return null;
        const nextNl = c === '\r' ? i + 1 : i;
        return { fields, next: nextNl + 1, newlines: newlines + 1, ...(error ? { error } : {}) };
      }
      // Text after a closing quote: malformed. Skip to the end of this physical line.
      error = 'malformed quoted field';
      const e = text.indexOf('\n', i);
      if (e < 0 && !eof) return null;
      return { fields, next: e < 0 ? text.length : e + 1, newlines: newlines + 1, error };
    }
    // Unquoted field: runs to the next delimiter or line end (a stray quote inside is literal).
    const nlAt = text.indexOf('\n', i);
    if (nlAt < 0 && !eof) return null;
    const lineStop = nlAt < 0 ? text.length : nlAt;
    const d = text.indexOf(delim, i);
    if (d >= 0 && d < lineStop) {
      fields.push(text.slice(i, d));
      i = d + 1;
      continue;
    }
    let end = lineStop;
    if (end > i && text.charCodeAt(end - 1) === 13) end--;
    fields.push(text.slice(i, end));
    return { fields, next: lineStop + 1, newlines: newlines + 1, ...(error ? { error } : {}) };
  }
}

interface Binding {
  spec: CsvColumnSpec;
  index: number; // field index in the file, -1 when absent (optional)
}

/** Finds each schema column in a header; throws SchemaError for a missing required one. */
export function bindHeader(
  file: string,
  header: string[],
  schema: CsvSchema,
  report: IngestReport,
): Binding[] {
  const norm = header.map(normName);
  const used = new Set<number>();
  const bindings: Binding[] = [];
  const labels = schema.columns.filter((c) => c.kind === 'label');
  if (labels.length > 1) {
    throw new SchemaError(`${file}: schema declares ${labels.length} label columns; at most one is allowed`);
  }
  for (const spec of schema.columns) {
    const names = [spec.name, ...(spec.aliases ?? [])].map(normName);
    let index = -1;
    for (const n of names) {
      index = norm.indexOf(n);
      if (index >= 0) break;
    }
    if (index < 0) {
      if (spec.kind === 'ignored') continue;
      if (spec.optional) {
        report.warnings.push(`optional column '${spec.name}' not found; filled with missing values`);
        bindings.push({ spec, index: -1 });
        continue;
      }
      let best = '';
      let bestD = Number.POSITIVE_INFINITY;
      for (let i = 0; i < header.length; i++) {
        if (used.has(i)) continue;
        for (const n of names) {
          const d = editDistance(n, norm[i]!);
          if (d < bestD) {
            bestD = d;
            best = header[i]!.trim();
          }
        }
      }
      const hint = best ? ` (closest header: '${best}')` : '';
      throw new SchemaError(`${file}: missing required column '${spec.name}'${hint}`);
    }
    used.add(index);
    const dup = norm.indexOf(norm[index]!, index + 1);
    if (dup >= 0) {
      report.warnings.push(`duplicate header '${header[index]!.trim()}': using the first occurrence`);
      used.add(dup);
    }
    if (spec.kind !== 'ignored') bindings.push({ spec, index });
  }
  const extra = header.filter((_, i) => !used.has(i)).map((h) => h.trim());
  if (extra.length > 0) report.warnings.push(`ignored extra columns: ${extra.join(', ')}`);
  return bindings;
}

/** Picks the delimiter whose split of the header matches the most schema columns. */
export function sniffDelimiter(file: string, headerLine: string, schema: CsvSchema): string {
  const names = new Set(schema.columns.flatMap((c) => [c.name, ...(c.aliases ?? [])]).map(normName));
  let best: string | null = null;
  let bestScore = -1;
  let bestFields = 1;
  for (const d of DELIMITER_CANDIDATES) {
    const fields = splitRecord(headerLine, 0, d, true)?.fields ?? [];
    if (fields.length < 2) continue;
    const score = fields.filter((f) => names.has(normName(f))).length;
    if (score > bestScore || (score === bestScore && fields.length > bestFields)) {
      best = d;
      bestScore = score;
      bestFields = fields.length;
    }
  }
  if (best !== null) return best;
  // A single-column file is fine when that column is what the schema wants.
  const required = schema.columns.filter((c) => c.kind !== 'ignored' && !c.optional);
  if (required.length <= 1 && names.has(normName(headerLine.replace(/^"|"$/g, '')))) return ',';
  throw new ParseError(`${file}:1: cannot detect delimiter (tried , ; tab |)`);
}

/**
 * Reads a delimited text file (plain or gzip) with a header line, keeping the columns the schema
 * declares. Missing numeric values (empty, NaN, -) become NaN and are counted as `missing <col>`;
 * infinities are counted as `infinite <col>`, kept as NaN and warned about; non-numeric text, a wrong
 * field count, broken quotes or a repeated header make a bad row handled by `onBadRow`.
 */
export async function readCsv(path: string, schema: CsvSchema, opts: CsvOptions = {}): Promise<CsvData> {
  const policy = opts.onBadRow ?? 'fail';
  const maxRows = opts.maxRows ?? Number.POSITIVE_INFINITY;
  const report = emptyReport(path);
  const decoder = new StringDecoder('utf8');
  let text = '';
  let pos = 0;
  let line = 1;
  let header: string[] | null = null;
  let headerNorm = '';
  let delim = opts.delimiter ?? '';
  let bindings: Binding[] = [];
  const numCols: { name: string; col: NumberColumn; index: number }[] = [];
  const txtCols: { name: string; col: string[]; index: number }[] = [];
  let labelBinding: Binding | null = null;
  const labels: string[] = [];
  let nFields = 0;
  const infiniteWarned = new Set<string>();
  let first = true;
  let done = false;

  const handle = (fields: string[], recLine: number, raw: () => string, error?: string): void => {
    if (header === null) {
      header = fields;
      headerNorm = fields.map(normName).join('\u0000');
      nFields = fields.length;
      bindings = bindHeader(path, fields, schema, report);
      for (const b of bindings) {
        if (b.spec.kind === 'numeric')
          numCols.push({ name: b.spec.name, col: new NumberColumn(), index: b.index });
        else if (b.spec.kind === 'categorical') txtCols.push({ name: b.spec.name, col: [], index: b.index });
        else if (b.spec.kind === 'label') labelBinding = b;
      }
      return;
    }
    report.rowsRead++;
    if (error) return void recordBadRow(report, policy, recLine, error, '', raw);
    if (fields.length !== nFields) {
      if (fields.map(normName).join('\u0000') === headerNorm) {
        return void recordBadRow(report, policy, recLine, 'repeated header', '', raw);
      }
      return void recordBadRow(
        report,
        policy,
        recLine,
        'wrong column count',
        `expected ${nFields}, got ${fields.length}`,
        raw,
      );
    }
    if (fields.map(normName).join('\u0000') === headerNorm) {
      return void recordBadRow(report, policy, recLine, 'repeated header', '', raw);
    }
    const values = new Float64Array(numCols.length);
    const missing: string[] = [];
    for (let c = 0; c < numCols.length; c++) {
      const nc = numCols[c]!;
      if (nc.index < 0) {
        values[c] = Number.NaN;
        continue;
      }
      const s = fields[nc.index]!.trim();
      const r = classifyNumber(s);
      if (r.kind === 'number') values[c] = r.value;
      else if (r.kind === 'invalid') {
        return void recordBadRow(
          report,
          policy,
          recLine,
          `non-numeric value in ${nc.name}`,
          showValue(s),
          raw,
        );
      } else {
        values[c] = Number.NaN;
        missing.push(r.kind === 'missing' ? `missing ${nc.name}` : `infinite ${nc.name}`);
        if (r.kind === 'infinite' && !infiniteWarned.has(nc.name)) {
          infiniteWarned.add(nc.name);
          report.warnings.push(
            `column '${nc.name}' holds infinite values (first at line ${recLine}); treated as missing`,
          );
        }
      }
    }
    let label = '';
    if (labelBinding !== null) {
      const lb = labelBinding as Binding;
      label = lb.index >= 0 ? fields[lb.index]!.trim() : '';
      if (label === '') return void recordBadRow(report, policy, recLine, `empty ${lb.spec.name}`, '', raw);
    }
    // commit
    for (const m of missing) report.reasons[m] = (report.reasons[m] ?? 0) + 1;
    for (let c = 0; c < numCols.length; c++) numCols[c]!.col.push(values[c]!);
    for (const tc of txtCols) {
      const v = tc.index >= 0 ? fields[tc.index]!.trim() : '';
      if (v === '') report.reasons[`missing ${tc.name}`] = (report.reasons[`missing ${tc.name}`] ?? 0) + 1;
      tc.col.push(v);
    }
    if (labelBinding !== null) labels.push(label);
    report.rowsKept++;
    if (report.rowsKept >= maxRows) done = true;
  };

  const drain = (eof: boolean): void => {
    while (!done && pos < text.length) {
      if (first) {
        if (text.charCodeAt(0) === 0xfeff) pos = 1;
        first = false;
      }
      // blank line
      const c = text.charCodeAt(pos);
      if (c === 10 || (c === 13 && text.charCodeAt(pos + 1) === 10)) {
        pos += c === 10 ? 1 : 2;
        line++;
        continue;
      }
      if (header === null && !delim) {
        const nl = text.indexOf('\n', pos);
        if (nl < 0 && !eof) return;
        delim = sniffDelimiter(path, text.slice(pos, nl < 0 ? text.length : nl).replace(/\r$/, ''), schema);
      }
      const rec = splitRecord(text, pos, delim, eof);
      if (rec === null) return;
      if (rec.fields.length === 1 && rec.fields[0]!.trim() === '' && !rec.error) {
        // whitespace-only line
      } else {
        const start = pos;
        const end = Math.min(rec.next, text.length);
        handle(rec.fields, line, () => text.slice(start, end).replace(/\r?\n$/, ''), rec.error);
      }
      pos = rec.next;
      line += rec.newlines;
    }
  };

  let sniffed = false;
  for await (const chunk of openByteSource(path, opts.bytes)) {
    if (!sniffed) {
      sniffed = true;
      if (looksBinary(chunk)) throw new ParseError(`${path}: binary data, not a delimited text file`);
    }
    text = pos > 0 ? text.slice(pos) + decoder.write(chunk) : text + decoder.write(chunk);
    pos = 0;
    drain(false);
    if (done) break;
  }
  if (!done) {
    text = text.slice(pos) + decoder.end();
    pos = 0;
    drain(true);
  }
  if (header === null) throw new InputError(`${path}: no data rows (empty file)`);
  if (report.rowsKept === 0) {
    const skipped = report.rowsSkipped > 0 ? ` (${report.rowsSkipped} bad rows skipped)` : '';
    throw new InputError(`${path}: no data rows${skipped}`);
  }
  const numeric: Record<string, Float64Array> = {};
  for (const nc of numCols) numeric[nc.name] = nc.col.finish();
  const txt: Record<string, string[]> = {};
  for (const tc of txtCols) txt[tc.name] = tc.col;
  return {
    table: { nRows: report.rowsKept, numeric, text: txt },
    labels: labelBinding !== null ? labels : null,
    report,
    delimiter: delim,
    header: (header as string[]).map((h) => h.trim()),
  };
}
