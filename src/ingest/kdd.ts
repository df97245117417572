/**
 * NSL-KDD and KDD Cup 1999 connection records: the 41 feature names, the attack-family mapping and a
 * fast hand-written reader (plain or gzip) that fills Float64Array columns directly.
 *
 * The reader reads (or gunzips) the file in 4 MiB chunks on libuv's thread pool, one chunk ahead of
 * the byte-level parser of kdd-parser.ts, which fills columns sized from the content size (no
 * string per field, no growing copies). Parallel parsing in worker threads was measured and left
 * out: on a 2-core machine it was no faster (see readKdd).
 */
import { InputError, ParseError } from '../errors.ts';
import {
  looksBinary,
  type OpenedSource,
  openByteSource,
  openSource,
  QUARANTINE_CAP,
  showValue,
  sourceChunks,
} from './csv.ts';
import {
  estimateRows,
  KDD_BINARY_NAMES,
  KDD_CATEGORICAL_NAMES,
  KDD_FIELD_NAMES,
  KddParser,
  LineFeeder,
} from './kdd-parser.ts';
import { type BadRowPolicy, emptyReport, type IngestReport, type Table } from './table.ts';

export interface KddFeature {
  readonly name: string;
  readonly kind: 'numeric' | 'categorical';
  /** A 0/1 flag (land, logged_in, is_host_login, is_guest_login). */
  readonly binary: boolean;
}

const NAMES = KDD_FIELD_NAMES;

export const KDD_CATEGORICAL: readonly string[] = KDD_CATEGORICAL_NAMES;
export const KDD_BINARY: readonly string[] = KDD_BINARY_NAMES;

/** The 41 features of NSL-KDD / KDD Cup 99, in file order. */
export const KDD_FEATURES: readonly KddFeature[] = NAMES.map((name) => ({
  name,
  kind: KDD_CATEGORICAL.includes(name) ? 'categorical' : 'numeric',
  binary: KDD_BINARY.includes(name),
}));

export type AttackFamily = 'dos' | 'probe' | 'r2l' | 'u2r';

/** Attack name -> family, for every attack in NSL-KDD (train and test) and KDD Cup 99 (train and corrected). */
export const ATTACK_FAMILY: Readonly<Record<string, AttackFamily>> = {
  // DoS
  back: 'dos',
  land: 'dos',
  neptune: 'dos',
  pod: 'dos',
  smurf: 'dos',
  teardrop: 'dos',
  apache2: 'dos',
  mailbomb: 'dos',
  processtable: 'dos',
  udpstorm: 'dos',
  // Probe
  ipsweep: 'probe',
  nmap: 'probe',
  portsweep: 'probe',
  satan: 'probe',
  mscan: 'probe',
  saint: 'probe',
  // R2L
  ftp_write: 'r2l',
  guess_passwd: 'r2l',
  imap: 'r2l',
  multihop: 'r2l',
  phf: 'r2l',
  spy: 'r2l',
  warezclient: 'r2l',
  warezmaster: 'r2l',
  named: 'r2l',
  sendmail: 'r2l',
  snmpgetattack: 'r2l',
  snmpguess: 'r2l',
  worm: 'r2l',
  xlock: 'r2l',
  xsnoop: 'r2l',
  // U2R
  buffer_overflow: 'u2r',
  loadmodule: 'u2r',
  perl: 'u2r',
  rootkit: 'u2r',
  httptunnel: 'u2r',
  ps: 'u2r',
  sqlattack: 'u2r',
  xterm: 'u2r',
};

/** Family of a label: 'normal', an attack family, or 'unknown'. A trailing dot (KDD'99) is ignored. */
export function attackFamily(label: string): 'normal' | AttackFamily | 'unknown' {
  let l = label.trim().toLowerCase();
  if (l.endsWith('.')) l = l.slice(0, -1);
  if (l === 'normal') return 'normal';
  return Object.hasOwn(ATTACK_FAMILY, l) ? ATTACK_FAMILY[l]! : 'unknown';
}

/** Family of any label: 'normal' (also 'benign', as in CIC datasets) or attackFamily(label). */
export function labelFamily(label: string): 'normal' | AttackFamily | 'unknown' {
  return /^(benign|normal)\.?$/i.test(label.trim()) ? 'normal' : attackFamily(label);
}

export interface KddData {
  /** The 41 features: 38 numeric Float64Array columns and 3 text columns. */
  table: Table;
  /** Labels with any trailing dot removed ('normal', 'neptune', ...). */
  labels: string[];
  /** attackFamily(label) for each row. */
  families: string[];
  /** NSL-KDD difficulty score (0-21) when the file has it, else null. */
  difficulty: Float64Array | null;
  report: IngestReport;
  format: 'nsl-kdd' | 'kdd99';
}

export interface ReadKddOptions {
  onBadRow?: BadRowPolicy;
  /** Stop after this many kept rows. */
  maxRows?: number;
  /** The content in memory instead of read from `path` (which then only names it in messages). */
  bytes?: Uint8Array;
}

/** Read / decompression chunk: read ahead on libuv's thread pool while a chunk is parsed. */
const CHUNK_BYTES = 4 << 20;

type Sniffed = { expected: number; format: 'nsl-kdd' | 'kdd99' };

/** Decides the format from the first lines: 42 or 43 columns, or 0 when there are only blank lines. */
function sniffKdd(path: string, buf: Buffer): Sniffed {
  if (looksBinary(buf)) throw new ParseError(`${path}: binary data, not a KDD text file`);
  let s = 0;
  let ln = 0;
  let firstCols = -1;
  let firstLine = 0;
  for (let seen = 0; seen < 20 && s < buf.length; ) {
    let nl = buf.indexOf(10, s);
    if (nl < 0) nl = buf.length;
    ln++;
    const text = buf.toString('latin1', s, nl).replace(/\r$/, '');
    s = nl + 1;
    if (text.trim() === '') continue;
    seen++;
    const fields = text.split(',');
    if (seen === 1) {
      firstCols = fields.length;
      firstLine = ln;
      const lower = fields.map((f) => f.trim().toLowerCase());
      if (lower.includes('duration') || lower.includes('protocol_type') || lower.includes('src_bytes')) {
        throw new ParseError(
          `${path}:${ln}: header line found (${showValue(text)}); KDD files have no header, not a KDD data file`,
        );
      }
    }
    if (fields.length === 42 || fields.length === 43) {
      const label = fields[41]!.trim();
      return {
        expected: fields.length,
        format: fields.length === 42 && label.endsWith('.') ? 'kdd99' : 'nsl-kdd',
      };
    }
  }
  if (firstCols < 0) return { expected: 0, format: 'nsl-kdd' }; // only blank lines
  throw new ParseError(
    `${path}:${firstLine}: not a KDD file: expected 42 or 43 comma-separated columns, found ${firstCols}`,
  );
}

/**
 * Collects the first chunks until the format can be decided (21 lines or 256 KiB, more while only
 * blank lines are seen), as the reader always did.
 */
class Sniffer {
  private head: Buffer | null = null;
  constructor(private readonly path: string) {}

  /** The head and its format once decided, else null (give more chunks, or call `end`). */
  push(chunk: Buffer): { head: Buffer; sniffed: Sniffed } | null {
    this.head = this.head === null ? chunk : Buffer.concat([this.head, chunk]);
    let lines = 0;
    for (let p = this.head.indexOf(10); p >= 0 && lines < 21; p = this.head.indexOf(10, p + 1)) lines++;
    if (lines < 21 && this.head.length < 1 << 18) return null;
    return this.decide();
  }

  /** At the end of the content: the format, or null when there are no data lines. */
  end(): { head: Buffer; sniffed: Sniffed } | null {
    return this.head === null ? null : this.decide();
  }

  private decide(): { head: Buffer; sniffed: Sniffed } | null {
    const sniffed = sniffKdd(this.path, this.head!);
    return sniffed.expected === 0 ? null : { head: this.head!, sniffed };
  }
}

/**
 * Reads an NSL-KDD (.txt, 43 columns with difficulty, or 42 without) or KDD Cup 99 (42 columns,
 * labels ending with '.') file, plain or gzip (sniffed from the magic bytes).
 * Bad rows follow `onBadRow` ('fail' by default: ParseError "<file>:<line>: <problem>").
 *
 * The content is read (or decompressed) in large chunks on libuv's thread pool, ahead of the
 * byte-level parser of kdd-parser.ts, which fills the columns directly (sized from the content size).
 *
 * Worker threads were tried (2 cores, Node 20, KDD'99 'corrected'): splitting the rows between this
 * thread and a worker, splitting the fields (both threads reading the file), and a worker preparing
 * the column arrays were each as slow or slower than this single thread, which already keeps both
 * cores partly busy (decompression runs on the thread pool) and is mostly limited by first writes
 * to fresh memory, which do not scale on such a machine.
 */
export async function readKdd(path: string, opts: ReadKddOptions = {}): Promise<KddData> {
  const policy = opts.onBadRow ?? 'fail';
  const maxRows = opts.maxRows ?? Number.POSITIVE_INFINITY;
  const src: OpenedSource = opts.bytes ? { kind: 'other' } : await openSource(path);
  const chunks =
    src.kind === 'other' ? openByteSource(path, opts.bytes) : sourceChunks(path, src, CHUNK_BYTES);
  const sniffer = new Sniffer(path);
  let sniffed: Sniffed | null = null;
  let parser: KddParser | null = null;
  let feeder: LineFeeder | null = null;
  let stopped = false;
  const begin = (head: Buffer, sn: Sniffed): boolean => {
    sniffed = sn;
    // Pages never written cost nothing; too small means growing (copies).
    const rows = estimateRows(head, src.kind === 'other' ? 0 : src.bytes);
    parser = new KddParser(sn.expected, policy, QUARANTINE_CAP, Math.min(maxRows, rows));
    feeder = new LineFeeder(parser, maxRows);
    return feeder.feed(head);
  };
  for await (const chunk of chunks) {
    if (feeder === null) {
      const s = sniffer.push(chunk);
      if (s !== null) stopped = begin(s.head, s.sniffed);
    } else stopped = (feeder as LineFeeder).feed(chunk);
    if (stopped) break;
  }
  if (feeder === null) {
    const s = sniffer.end();
    if (s === null) throw new InputError(`${path}: no data rows`);
    stopped = begin(s.head, s.sniffed);
  }
  if (!stopped) (feeder as LineFeeder | null)!.end();
  return assemble(path, parser as KddParser | null as KddParser, sniffed as Sniffed | null as Sniffed);
}

/** KddData from a parser's columns; throws the parser's failure under 'fail'. */
function assemble(path: string, p: KddParser, sniffed: Sniffed): KddData {
  const f = p.failure;
  if (f !== null) throw new ParseError(`${path}:${f.line}: ${f.reason}${f.detail ? `: ${f.detail}` : ''}`);
  const n = p.n;
  const report = emptyReport(path);
  report.rowsRead = p.rowsRead;
  report.rowsKept = n;
  report.rowsSkipped = p.rowsSkipped;
  Object.assign(report.reasons, p.reasons);
  report.quarantined.push(...p.quarantined);
  if (n === 0) {
    const skipped = report.rowsSkipped > 0 ? ` (${report.rowsSkipped} bad rows skipped)` : '';
    throw new InputError(`${path}: no data rows${skipped}`);
  }
  const decode = (codes: Int32Array, values: string[]): string[] => {
    // Sized up front and filled by index: several times faster than push for large columns.
    const out = new Array<string>(n);
    for (let i = 0; i < n; i++) out[i] = values[codes[i]!]!;
    return out;
  };
  const numeric: Record<string, Float64Array> = {};
  const text: Record<string, string[]> = {};
  let ni = 0;
  let ci = 0;
  for (const name of NAMES) {
    if (KDD_CATEGORICAL_NAMES.includes(name)) {
      const slot = ci++;
      text[name] = decode(p.catCodes[slot]!, p.catDicts[slot]!.values);
    } else {
      const k = ni++;
      numeric[name] = trim(p.cols[k]!, n);
    }
  }
  const labels = p.labelDict.values;
  return {
    table: { nRows: n, numeric, text },
    labels: decode(p.labelCodes, labels),
    families: decode(
      p.labelCodes,
      labels.map((l) => attackFamily(l)),
    ),
    difficulty: sniffed.expected === 43 ? trim(p.diff!, n) : null,
    report,
    format: sniffed.format,
  };
}

/** Exact-length view when little space is wasted (saves a copy of a large column), else a copy. */
function trim(a: Float64Array, n: number): Float64Array {
  if (a.length === n) return a;
  return n >= a.length * 0.75 ? a.subarray(0, n) : a.slice(0, n);
}
