/**
 * NSL-KDD and KDD Cup 1999 connection records: the 41 feature names, the attack-family mapping and a
 * fast hand-written reader (plain or gzip) that fills Float64Array columns directly.
 */
import { InputError, ParseError } from '../errors.ts';
import { looksBinary, openByteSource, QUARANTINE_CAP, showValue } from './csv.ts';
import { type BadRowPolicy, emptyReport, type IngestReport, type Table } from './table.ts';

export interface KddFeature {
  readonly name: string;
  readonly kind: 'numeric' | 'categorical';
  /** A 0/1 flag (land, logged_in, is_host_login, is_guest_login). */
  readonly binary: boolean;
}

const NAMES = [
  'duration',
  'protocol_type',
  'service',
  'flag',
  'src_bytes',
  'dst_bytes',
  'land',
  'wrong_fragment',
  'urgent',
  'hot',
  'num_failed_logins',
  'logged_in',
  'num_compromised',
  'root_shell',
  'su_attempted',
  'num_root',
  'num_file_creations',
  'num_shells',
  'num_access_files',
  'num_outbound_cmds',
  'is_host_login',
  'is_guest_login',
  'count',
  'srv_count',
  'serror_rate',
  'srv_serror_rate',
  'rerror_rate',
  'srv_rerror_rate',
  'same_srv_rate',
  'diff_srv_rate',
  'srv_diff_host_rate',
  'dst_host_count',
  'dst_host_srv_count',
  'dst_host_same_srv_rate',
  'dst_host_diff_srv_rate',
  'dst_host_same_src_port_rate',
  'dst_host_srv_diff_host_rate',
  'dst_host_serror_rate',
  'dst_host_srv_serror_rate',
  'dst_host_rerror_rate',
  'dst_host_srv_rerror_rate',
] as const;

export const KDD_CATEGORICAL: readonly string[] = ['protocol_type', 'service', 'flag'];
export const KDD_BINARY: readonly string[] = ['land', 'logged_in', 'is_host_login', 'is_guest_login'];

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
}

// Column roles by field index.
const KIND_NUM = 0;
const KIND_CAT = 1;
const KIND_BIN = 2;
const KIND_RATE = 3;
const FIELD_KIND = new Int8Array(
  NAMES.map((n) =>
    KDD_CATEGORICAL.includes(n)
      ? KIND_CAT
      : KDD_BINARY.includes(n)
        ? KIND_BIN
        : n.endsWith('_rate')
          ? KIND_RATE
          : KIND_NUM,
  ),
);
const NUMERIC_NAMES = NAMES.filter((n) => !KDD_CATEGORICAL.includes(n));
/** Field index -> numeric slot (or categorical slot for categorical fields). */
const SLOT = new Int32Array(NAMES.length);
{
  let ni = 0;
  let ci = 0;
  for (let f = 0; f < NAMES.length; f++) SLOT[f] = FIELD_KIND[f] === KIND_CAT ? ci++ : ni++;
}
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NONFINITE_RE = /^[+-]?(nan|inf|infinity)$/i;

class BadRow {
  constructor(
    readonly reason: string,
    readonly detail: string,
  ) {}
}

/**
 * Reads an NSL-KDD (.txt, 43 columns with difficulty, or 42 without) or KDD Cup 99 (42 columns,
 * labels ending with '.') file, plain or gzip (sniffed from the magic bytes).
 * Bad rows follow `onBadRow` ('fail' by default: ParseError "<file>:<line>: <problem>").
 */
export async function readKdd(path: string, opts: ReadKddOptions = {}): Promise<KddData> {
  const policy = opts.onBadRow ?? 'fail';
  const maxRows = opts.maxRows ?? Number.POSITIVE_INFINITY;
  const report = emptyReport(path);
  const nNum = NUMERIC_NAMES.length;

  let cap = 1 << 16;
  let cols: Float64Array[] = NUMERIC_NAMES.map(() => new Float64Array(cap));
  let diff = new Float64Array(cap);
  const cats: string[][] = [[], [], []];
  const labels: string[] = [];
  const families: string[] = [];
  const interns: Map<string, string>[] = [new Map(), new Map(), new Map()];
  const labelIntern = new Map<string, { label: string; family: string }>();

  let expected = 0; // 42 or 43
  let format: 'nsl-kdd' | 'kdd99' = 'nsl-kdd';
  let n = 0;
  let lineNo = 0;
  const rowNum = new Float64Array(nNum);
  const rowCat: string[] = ['', '', ''];
  const commas = new Int32Array(64);
  // The previous row's raw categorical / label text: runs of equal values are common.
  const prevRaw: string[] = ['\u0000', '\u0000', '\u0000'];
  const prevVal: string[] = ['', '', ''];
  let prevLabelRaw = '\u0000';
  let prevLabel: { label: string; family: string } | null = null;

  const grow = (): void => {
    cap *= 2;
    cols = cols.map((c) => {
      const next = new Float64Array(cap);
      next.set(c);
      return next;
    });
    const d = new Float64Array(cap);
    d.set(diff);
    diff = d;
  };

  const parseNumber = (buf: Buffer, a: number, b: number, field: number, name: string): number => {
    let i = a;
    let m = 0;
    let digits = 0;
    let scale = 0;
    let dot = false;
    for (; i < b; i++) {
      const c = buf[i]!;
      if (c >= 48 && c <= 57) {
        m = m * 10 + (c - 48);
        digits++;
        if (dot) scale++;
      } else if (c === 46 && !dot) dot = true;
      else break;
    }
    let v: number;
    if (i === b && digits > 0 && digits <= 15) {
      v = scale === 0 ? m : m / POW10[scale]!;
    } else {
      const s = buf.toString('latin1', a, b).trim();
      if (s === '') throw new BadRow(`missing value in ${name}`, '');
      if (NONFINITE_RE.test(s)) throw new BadRow(`non-finite value in ${name}`, showValue(s));
      if (!NUMBER_RE.test(s)) throw new BadRow(`non-numeric value in ${name}`, showValue(s));
      v = Number(s);
      if (!Number.isFinite(v)) throw new BadRow(`non-finite value in ${name}`, showValue(s));
      if (v < 0) throw new BadRow(`negative value in ${name}`, showValue(s));
      v += 0; // -0 -> 0
    }
    const kind = FIELD_KIND[field];
    if (kind === KIND_BIN ? v !== 0 && v !== 1 : kind === KIND_RATE && v > 1) {
      throw new BadRow(`out-of-range value in ${name}`, showValue(buf.toString('latin1', a, b)));
    }
    return v;
  };

  const bad = (reason: string, detail: string, buf: Buffer, s: number, e: number): void => {
    if (policy === 'fail') throw new ParseError(`${path}:${lineNo}: ${reason}${detail ? `: ${detail}` : ''}`);
    report.rowsSkipped++;
    report.reasons[reason] = (report.reasons[reason] ?? 0) + 1;
    if (policy === 'quarantine' && report.quarantined.length < QUARANTINE_CAP) {
      report.quarantined.push({
        line: lineNo,
        reason: detail ? `${reason}: ${detail}` : reason,
        raw: buf.toString('latin1', s, Math.min(e, s + 4000)),
      });
    }
  };

  /** Parses one line [s, e) (no newline). Returns false when maxRows is reached. */
  const parseLine = (buf: Buffer, s: number, e: number): boolean => {
    lineNo++;
    if (e > s && buf[e - 1] === 13) e--;
    if (e - s < 4) {
      let blank = true;
      for (let i = s; i < e; i++) if (buf[i] !== 32 && buf[i] !== 9) blank = false;
      if (blank) return true;
    }
    report.rowsRead++;
    let nc = 0;
    for (let i = s; i < e; i++) {
      if (buf[i] === 44) {
        if (nc < 64) commas[nc] = i;
        nc++;
      }
    }
    if (nc + 1 !== expected) {
      bad('wrong column count', `expected ${expected}, got ${nc + 1}`, buf, s, e);
      return true;
    }
    try {
      let a = s;
      for (let f = 0; f < 41; f++) {
        const b = commas[f]!;
        if (FIELD_KIND[f] === KIND_CAT) {
          if (b === a) throw new BadRow(`empty ${NAMES[f]}`, '');
          const slot = SLOT[f]!;
          const prev = prevRaw[slot]!;
          if (sameBytes(buf, a, b, prev)) {
            rowCat[slot] = prevVal[slot]!;
            a = b + 1;
            continue;
          }
          const raw = buf.toString('latin1', a, b);
          const map = interns[slot]!;
          let v = map.get(raw);
          if (v === undefined) {
            v = raw.trim();
            if (v === '') throw new BadRow(`empty ${NAMES[f]}`, '');
            map.set(raw, v);
          }
          rowCat[slot] = v;
          prevRaw[slot] = raw;
          prevVal[slot] = v;
        } else {
          rowNum[SLOT[f]!] = parseNumber(buf, a, b, f, NAMES[f]!);
        }
        a = b + 1;
      }
      const lEnd = expected === 43 ? commas[41]! : e;
      let lab = prevLabel !== null && sameBytes(buf, a, lEnd, prevLabelRaw) ? prevLabel : null;
      if (lab === null) {
        const rawLabel = buf.toString('latin1', a, lEnd);
        lab = labelIntern.get(rawLabel) ?? null;
        if (lab === null) {
          let l = rawLabel.trim();
          if (l.endsWith('.')) l = l.slice(0, -1);
          if (l === '') throw new BadRow('empty label', '');
          lab = { label: l, family: attackFamily(l) };
          labelIntern.set(rawLabel, lab);
        }
        prevLabelRaw = rawLabel;
        prevLabel = lab;
      }
      let d = 0;
      if (expected === 43) {
        d = parseNumber(buf, lEnd + 1, e, -1, 'difficulty');
      }
      if (n === cap) grow();
      for (let k = 0; k < nNum; k++) cols[k]![n] = rowNum[k]!;
      cats[0]!.push(rowCat[0]!);
      cats[1]!.push(rowCat[1]!);
      cats[2]!.push(rowCat[2]!);
      labels.push(lab.label);
      families.push(lab.family);
      diff[n] = d;
      n++;
      report.rowsKept++;
    } catch (err) {
      if (err instanceof BadRow) {
        bad(err.reason, err.detail, buf, s, e);
        return true;
      }
      throw err;
    }
    return n < maxRows;
  };

  /** Decides the format from the first lines; throws a one-line ParseError when it is not KDD. */
  const sniff = (buf: Buffer): void => {
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
        expected = fields.length;
        const label = fields[41]!.trim();
        format = expected === 42 && label.endsWith('.') ? 'kdd99' : 'nsl-kdd';
        return;
      }
    }
    if (firstCols < 0) return; // only blank lines
    throw new ParseError(
      `${path}:${firstLine}: not a KDD file: expected 42 or 43 comma-separated columns, found ${firstCols}`,
    );
  };

  let rest: Buffer | null = null;
  let head: Buffer | null = null;
  let stopped = false;
  const feed = (chunk: Buffer): void => {
    const buf = rest !== null && rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let s = 0;
    for (;;) {
      const nl = buf.indexOf(10, s);
      if (nl < 0) break;
      if (!parseLine(buf, s, nl)) {
        stopped = true;
        return;
      }
      s = nl + 1;
    }
    rest = s < buf.length ? buf.subarray(s) : null;
  };

  for await (const chunk of openByteSource(path)) {
    if (expected === 0) {
      head = head === null ? chunk : Buffer.concat([head, chunk]);
      // wait for enough lines to sniff
      let lines = 0;
      for (let p = head.indexOf(10); p >= 0 && lines < 21; p = head.indexOf(10, p + 1)) lines++;
      if (lines < 21 && head.length < 1 << 18) continue;
      sniff(head);
      if (expected === 0) continue;
      const h = head;
      head = null;
      feed(h);
    } else feed(chunk);
    if (stopped) break;
  }
  if (!stopped) {
    if (expected === 0 && head !== null) {
      sniff(head);
      if (expected !== 0) feed(head);
    }
    const tail = rest as Buffer | null;
    if (expected !== 0 && tail !== null && tail.length > 0) parseLine(tail, 0, tail.length);
  }
  if (expected === 0) throw new InputError(`${path}: no data rows`);
  if (n === 0) {
    const skipped = report.rowsSkipped > 0 ? ` (${report.rowsSkipped} bad rows skipped)` : '';
    throw new InputError(`${path}: no data rows${skipped}`);
  }
  const numeric: Record<string, Float64Array> = {};
  const text: Record<string, string[]> = {};
  let k = 0;
  for (let f = 0; f < 41; f++) {
    if (FIELD_KIND[f] === KIND_CAT) text[NAMES[f]!] = cats[SLOT[f]!]!;
    else numeric[NAMES[f]!] = trim(cols[k++]!, n);
  }
  return {
    table: { nRows: n, numeric, text },
    labels,
    families,
    difficulty: expected === 43 ? trim(diff, n) : null,
    report,
    format,
  };
}

/** Exact-length view when little space is wasted (saves a copy of a large column), else a copy. */
function trim(a: Float64Array, n: number): Float64Array {
  if (a.length === n) return a;
  return n >= a.length * 0.75 ? a.subarray(0, n) : a.slice(0, n);
}

/** True when bytes [a, b) of buf equal the one-byte string s. */
function sameBytes(buf: Buffer, a: number, b: number, s: string): boolean {
  if (b - a !== s.length) return false;
  for (let i = 0; i < s.length; i++) if (buf[a + i] !== s.charCodeAt(i)) return false;
  return true;
}
