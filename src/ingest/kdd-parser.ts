/**
 * The byte-level KDD record parser behind readKdd (kdd.ts): parses complete lines of a buffer into
 * Float64Array columns, dictionary codes for the categorical fields and the label, and bad-row
 * bookkeeping, without making a string per field. `LineFeeder` feeds it consecutive chunks of a
 * text, joining the line that straddles two chunks.
 *
 * A row takes the fast path (`fastLine`: one pass, plain decimals) when it is plainly well formed;
 * anything else goes through `slowRow`, the exact rules (the same checks, messages and order as
 * before: column count, then the fields in file order, then the label, then the difficulty).
 */
import type { BadRowPolicy } from './table.ts';

/** The 41 KDD feature names, in file order. */
export const KDD_FIELD_NAMES: readonly string[] = [
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
];
export const KDD_CATEGORICAL_NAMES: readonly string[] = ['protocol_type', 'service', 'flag'];
export const KDD_BINARY_NAMES: readonly string[] = ['land', 'logged_in', 'is_host_login', 'is_guest_login'];

/** The first bad row under the 'fail' policy; line numbers count from the parser's first line. */
export interface KddFailure {
  line: number;
  reason: string;
  detail: string;
}

export interface KddQuarantined {
  line: number;
  reason: string;
  raw: string;
}

const N_FEATURES = 41;
const N_NUM = 38;
const KIND_NUM = 0;
const KIND_CAT = 1;
const KIND_BIN = 2;
const KIND_RATE = 3;
const FIELD_KIND = new Int8Array(
  KDD_FIELD_NAMES.map((n) =>
    KDD_CATEGORICAL_NAMES.includes(n)
      ? KIND_CAT
      : KDD_BINARY_NAMES.includes(n)
        ? KIND_BIN
        : n.endsWith('_rate')
          ? KIND_RATE
          : KIND_NUM,
  ),
);
/** Field index -> numeric slot (or categorical slot for categorical fields). */
const SLOT = new Int32Array(N_FEATURES);
{
  let ni = 0;
  let ci = 0;
  for (let f = 0; f < N_FEATURES; f++) SLOT[f] = FIELD_KIND[f] === KIND_CAT ? ci++ : ni++;
}
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NONFINITE_RE = /^[+-]?(nan|inf|infinity)$/i;

/** Short, printable rendering of a field value for error messages (as showValue in csv.ts). */
function showValue(v: string): string {
  const s = v.length > 40 ? `${v.slice(0, 40)}...` : v;
  return JSON.stringify(s);
}

function latin1(buf: Uint8Array, a: number, b: number): string {
  let s = '';
  for (let i = a; i < b; i += 8192) s += String.fromCharCode(...buf.subarray(i, Math.min(b, i + 8192)));
  return s;
}

/**
 * Raw field bytes -> small integer code, without making a string per row. Each distinct raw byte
 * sequence gets a code; `values[code]` is its cleaned text (trimmed; for labels also without one
 * trailing dot), '' when the cleaned text is empty (a bad row).
 */
class ByteDict {
  readonly values: string[] = [];
  private readonly hashes: number[] = [];
  private readonly raws: Uint8Array[] = [];
  private mask = 63;
  private table = new Int32Array(64);
  constructor(private readonly isLabel: boolean) {}

  /** Code of bytes [a, b) of buf, whose hash is h (see hashBytes). */
  lookup(buf: Uint8Array, a: number, b: number, h: number): number {
    const table = this.table;
    const mask = this.mask;
    let i = h & mask;
    for (;;) {
      const slot = table[i]!;
      if (slot === 0) break;
      const code = slot - 1;
      if (this.hashes[code] === h) {
        const raw = this.raws[code]!;
        if (raw.length === b - a) {
          let same = true;
          for (let k = 0; k < raw.length; k++) {
            if (raw[k] !== buf[a + k]) {
              same = false;
              break;
            }
          }
          if (same) return code;
        }
      }
      i = (i + 1) & mask;
    }
    return this.insert(buf, a, b, h);
  }

  private insert(buf: Uint8Array, a: number, b: number, h: number): number {
    const code = this.values.length;
    const raw = new Uint8Array(b - a);
    raw.set(buf.subarray(a, b));
    let v = latin1(raw, 0, raw.length).trim();
    if (this.isLabel && v.endsWith('.')) v = v.slice(0, -1);
    this.values.push(v);
    this.hashes.push(h);
    this.raws.push(raw);
    if (this.values.length * 2 > this.mask) this.rehash();
    else this.place(code, h);
    return code;
  }

  private place(code: number, h: number): void {
    let i = h & this.mask;
    while (this.table[i] !== 0) i = (i + 1) & this.mask;
    this.table[i] = code + 1;
  }

  private rehash(): void {
    this.mask = this.mask * 2 + 1;
    this.table = new Int32Array(this.mask + 1);
    for (let c = 0; c < this.values.length; c++) this.place(c, this.hashes[c]!);
  }
}

function hashBytes(buf: Uint8Array, a: number, b: number): number {
  let h = 0;
  for (let i = a; i < b; i++) h = (Math.imul(h, 31) + buf[i]!) | 0;
  return h;
}

/** Number of lines in [start, end) of buf: newlines, plus one for a final line without one. */
export function countLines(buf: Buffer, start: number, end: number): number {
  let n = 0;
  let s = start;
  for (;;) {
    const nl = buf.indexOf(10, s);
    if (nl < 0 || nl >= end) break;
    n++;
    s = nl + 1;
  }
  return s < end ? n + 1 : n;
}

/** Rows buffered row-major before they are written to the columns (see flush). */
const STAGE_ROWS = 256;

export class KddParser {
  /** Row capacity of the column arrays. */
  cap: number;
  /** The 38 numeric columns (file order of the numeric fields), rows [0, n) filled. */
  cols: Float64Array[] = [];
  /** Difficulty column (43-column files), else null. */
  diff: Float64Array | null;
  /** Codes into catDicts[k].values for protocol_type, service, flag. */
  catCodes: Int32Array[];
  /** Codes into labelDict.values (labels without the trailing dot). */
  labelCodes: Int32Array;
  readonly catDicts = [new ByteDict(false), new ByteDict(false), new ByteDict(false)];
  readonly labelDict = new ByteDict(true);
  /** Rows kept: rows [0, n) of the arrays. */
  n = 0;
  /** Lines seen, blank ones included. */
  line = 0;
  rowsRead = 0;
  rowsSkipped = 0;
  readonly reasons: Record<string, number> = {};
  readonly quarantined: KddQuarantined[] = [];
  /** The first bad row under 'fail' (parsing stops there). */
  failure: KddFailure | null = null;
  /**
   * Numeric values of rows [flushed, n), row-major: storing each row straight into 38 columns was
   * measured ~15 % slower than staging rows and writing the columns in blocks of STAGE_ROWS.
   */
  private readonly stage = new Float64Array(STAGE_ROWS * N_NUM);
  private flushed = 0;
  /** Scratch for the slow path. */
  private readonly rowCat = new Int32Array(3);

  /**
   * @param expected 42 or 43 columns
   * @param quarantineCap how many bad rows to keep under 'quarantine'
   * @param capacity initial row capacity (grown as needed)
   */
  constructor(
    readonly expected: number,
    readonly policy: BadRowPolicy,
    readonly quarantineCap: number,
    capacity: number,
  ) {
    this.cap = Math.max(16, capacity | 0);
    for (let k = 0; k < N_NUM; k++) this.cols.push(new Float64Array(this.cap));
    this.diff = expected === 43 ? new Float64Array(this.cap) : null;
    this.catCodes = [new Int32Array(this.cap), new Int32Array(this.cap), new Int32Array(this.cap)];
    this.labelCodes = new Int32Array(this.cap);
  }

  private grow(min: number): void {
    this.flush();
    let cap = this.cap;
    while (cap < min) cap *= 2;
    const f64 = (a: Float64Array): Float64Array => {
      const next = new Float64Array(cap);
      next.set(a.subarray(0, this.n));
      return next;
    };
    const i32 = (a: Int32Array): Int32Array => {
      const next = new Int32Array(cap);
      next.set(a.subarray(0, this.n));
      return next;
    };
    this.cols = this.cols.map(f64);
    if (this.diff !== null) this.diff = f64(this.diff);
    this.catCodes = this.catCodes.map(i32);
    this.labelCodes = i32(this.labelCodes);
    this.cap = cap;
  }

  /** Writes the staged rows (at most one block, since the last flush) to the columns. */
  private flush(): void {
    const n = this.n;
    const st = this.stage;
    for (let k = 0; k < N_NUM; k++) {
      const col = this.cols[k]!;
      for (let i = this.flushed; i < n; i++) col[i] = st[(i % STAGE_ROWS) * N_NUM + k]!;
    }
    this.flushed = n;
  }

  /**
   * Parses the lines in [start, end) of buf (end at a line start or at the end of the data).
   * Stops at the first bad row under 'fail' (this.failure) or once `maxRows` rows are kept.
   * Returns true when it stopped early.
   */
  parse(buf: Buffer, start: number, end: number, maxRows = Number.POSITIVE_INFINITY): boolean {
    const stopped = this.parseLines(buf, start, end, maxRows);
    this.flush();
    return stopped;
  }

  private parseLines(buf: Buffer, start: number, end: number, maxRows: number): boolean {
    let s = start;
    while (s < end) {
      const n = this.n;
      if (n === this.cap) this.grow(n + 1);
      // Fast path: a plainly well-formed row, parsed and its line end found in one pass.
      const next = this.fastLine(buf, s, end, n);
      if (next >= 0) {
        this.line++;
        this.rowsRead++;
        this.n = n + 1;
        if (this.n % STAGE_ROWS === 0) this.flush();
        if (!(this.n < maxRows)) return true; // (as before: NaN stops after one row)
        s = next;
        continue;
      }
      let nl = buf.indexOf(10, s);
      if (nl < 0 || nl >= end) nl = end;
      this.line++;
      let e = nl;
      if (e > s && buf[e - 1] === 13) e--;
      if (e - s < 4) {
        let blank = true;
        for (let i = s; i < e; i++) if (buf[i] !== 32 && buf[i] !== 9) blank = false;
        if (blank) {
          s = nl + 1;
          continue;
        }
      }
      this.rowsRead++;
      if (this.slowRow(buf, s, e, n)) {
        this.n = n + 1;
        if (this.n % STAGE_ROWS === 0) this.flush();
        if (!(this.n < maxRows)) return true; // (as before: NaN stops after one row)
      } else if (this.failure !== null) return true;
      s = nl + 1;
    }
    return false;
  }

  /**
   * Stores the row starting at s (before `end`) at index n when it is plainly well formed: plain
   * decimals (at most 15 digits) within range, non-empty categories and label, exactly the expected
   * column count, ended by a newline (CRLF too) or `end`. Returns the start of the next line, or -1
   * (row n possibly half written) when the row needs the exact rules of slowRow.
   */
  private fastLine(buf: Buffer, s: number, end: number, n: number): number {
    const stage = this.stage;
    const row = (n % STAGE_ROWS) * N_NUM;
    let p = s;
    for (let f = 0; f < N_FEATURES; f++) {
      const kind = FIELD_KIND[f];
      if (kind === KIND_CAT) {
        const a = p;
        let h = 0;
        let c = 0;
        for (; p < end; p++) {
          c = buf[p]!;
          if (c === 44 || c === 10) break;
          h = (Math.imul(h, 31) + c) | 0;
        }
        if (p === end || c !== 44) return -1;
        const slot = SLOT[f]!;
        const dict = this.catDicts[slot]!;
        const code = dict.lookup(buf, a, p, h);
        if (dict.values[code] === '') return -1;
        this.catCodes[slot]![n] = code;
        p++;
        continue;
      }
      let v = 0;
      const d0 = buf[p]! - 48;
      if (p + 1 < end && buf[p + 1] === 44 && d0 >= 0 && d0 <= 9) {
        // "7,"
        v = d0;
        p += 2;
      } else if (p + 4 < end && buf[p + 4] === 44 && buf[p + 1] === 46 && d0 >= 0 && d0 <= 9) {
        // "0.25," (every rate in the KDD files)
        const d2 = buf[p + 2]! - 48;
        const d3 = buf[p + 3]! - 48;
        if (d2 < 0 || d2 > 9 || d3 < 0 || d3 > 9) return -1;
        v = (d0 * 100 + d2 * 10 + d3) / 100;
        p += 5;
      } else {
        const a = p;
        let m = 0;
        let c = 0;
        for (; p < end; p++) {
          c = buf[p]!;
          if (c < 48 || c > 57) break;
          m = m * 10 + (c - 48);
        }
        let digits = p - a;
        let scale = 0;
        if (p < end && c === 46) {
          p++;
          const fa = p;
          for (; p < end; p++) {
            c = buf[p]!;
            if (c < 48 || c > 57) break;
            m = m * 10 + (c - 48);
          }
          scale = p - fa;
          digits += scale;
        }
        if (p === end || c !== 44 || digits === 0 || digits > 15) return -1;
        v = scale === 0 ? m : m / POW10[scale]!;
        p++;
      }
      if (kind === KIND_BIN ? v !== 0 && v !== 1 : kind === KIND_RATE && v > 1) return -1;
      stage[row + SLOT[f]!] = v;
    }
    // label: up to a comma (the difficulty follows) or the line end
    const a = p;
    let h = 0;
    let c = 0;
    for (; p < end; p++) {
      c = buf[p]!;
      if (c === 44 || c === 10 || c === 13) break;
      h = (Math.imul(h, 31) + c) | 0;
    }
    const hasDiff = this.diff !== null;
    if (hasDiff !== (p < end && c === 44)) return -1;
    const labelEnd = p;
    if (hasDiff) {
      p++;
      const da = p;
      let m = 0;
      for (; p < end; p++) {
        c = buf[p]!;
        if (c < 48 || c > 57) break;
        m = m * 10 + (c - 48);
      }
      let digits = p - da;
      let scale = 0;
      if (p < end && c === 46) {
        p++;
        const fa = p;
        for (; p < end; p++) {
          c = buf[p]!;
          if (c < 48 || c > 57) break;
          m = m * 10 + (c - 48);
        }
        scale = p - fa;
        digits += scale;
      }
      if (digits === 0 || digits > 15) return -1;
      this.diff![n] = scale === 0 ? m : m / POW10[scale]!;
    }
    // the line end: LF, CRLF, or the end of the text (after a final CR too)
    let next = end;
    if (p < end) {
      if (buf[p] === 10) next = p + 1;
      else if (buf[p] === 13 && (p + 1 === end || buf[p + 1] === 10)) next = Math.min(p + 2, end);
      else return -1;
    }
    const code = this.labelDict.lookup(buf, a, labelEnd, h);
    if (this.labelDict.values[code] === '') return -1;
    this.labelCodes[n] = code;
    return next;
  }

  /**
   * The exact (slow) parse of row [s, e), for rows the fast path declined: stores it at index n and
   * returns true, or records it as bad and returns false.
   */
  private slowRow(buf: Buffer, s: number, e: number, n: number): boolean {
    const expected = this.expected;
    let nc = 0;
    for (let i = s; i < e; i++) if (buf[i] === 44) nc++;
    if (nc + 1 !== expected) {
      this.bad('wrong column count', `expected ${expected}, got ${nc + 1}`, buf, s, e);
      return false;
    }
    const stage = this.stage;
    const row = (n % STAGE_ROWS) * N_NUM;
    const rowCat = this.rowCat;
    let a = s;
    for (let f = 0; f < N_FEATURES; f++) {
      const b = buf.indexOf(44, a);
      if (FIELD_KIND[f] === KIND_CAT) {
        const slot = SLOT[f]!;
        const dict = this.catDicts[slot]!;
        const code = dict.lookup(buf, a, b, hashBytes(buf, a, b));
        if (dict.values[code] === '') {
          this.bad(`empty ${KDD_FIELD_NAMES[f]}`, '', buf, s, e);
          return false;
        }
        rowCat[slot] = code;
      } else {
        const v = this.number(buf, a, b, FIELD_KIND[f]!, KDD_FIELD_NAMES[f]!, s, e);
        if (v < 0) return false;
        stage[row + SLOT[f]!] = v;
      }
      a = b + 1;
    }
    let lEnd = e;
    if (expected === 43) lEnd = buf.indexOf(44, a);
    const label = this.labelDict.lookup(buf, a, lEnd, hashBytes(buf, a, lEnd));
    if (this.labelDict.values[label] === '') {
      this.bad('empty label', '', buf, s, e);
      return false;
    }
    let d = 0;
    if (expected === 43) {
      d = this.number(buf, lEnd + 1, e, -1, 'difficulty', s, e);
      if (d < 0) return false;
    }
    for (let k = 0; k < 3; k++) this.catCodes[k]![n] = rowCat[k]!;
    this.labelCodes[n] = label;
    if (this.diff !== null) this.diff[n] = d;
    return true;
  }

  /** Value of the numeric field [a, b), or -1 after recording the row as bad. */
  private number(
    buf: Buffer,
    a: number,
    b: number,
    kind: number,
    name: string,
    s: number,
    e: number,
  ): number {
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
    let v = 0;
    if (i === b && digits > 0 && digits <= 15) {
      v = scale === 0 ? m : m / POW10[scale]!;
    } else {
      const str = latin1(buf, a, b).trim();
      let problem = '';
      if (str === '') problem = 'missing value';
      else if (NONFINITE_RE.test(str)) problem = 'non-finite value';
      else if (!NUMBER_RE.test(str)) problem = 'non-numeric value';
      else {
        v = Number(str);
        if (!Number.isFinite(v)) problem = 'non-finite value';
        else if (v < 0) problem = 'negative value';
        else v += 0; // -0 -> 0
      }
      if (problem !== '') {
        this.bad(`${problem} in ${name}`, problem === 'missing value' ? '' : showValue(str), buf, s, e);
        return -1;
      }
    }
    if (kind === KIND_BIN ? v !== 0 && v !== 1 : kind === KIND_RATE && v > 1) {
      this.bad(`out-of-range value in ${name}`, showValue(latin1(buf, a, b)), buf, s, e);
      return -1;
    }
    return v;
  }

  private bad(reason: string, detail: string, buf: Buffer, s: number, e: number): void {
    if (this.policy === 'fail') {
      this.failure = { line: this.line, reason, detail };
      return;
    }
    this.rowsSkipped++;
    this.reasons[reason] = (this.reasons[reason] ?? 0) + 1;
    if (this.policy === 'quarantine' && this.quarantined.length < this.quarantineCap) {
      this.quarantined.push({
        line: this.line,
        reason: detail ? `${reason}: ${detail}` : reason,
        raw: latin1(buf, s, Math.min(e, s + 4000)),
      });
    }
  }
}

/**
 * Feeds consecutive pieces of a text to a parser, joining the line that straddles two pieces.
 * `feed` returns true once the parser stopped (a failure, or maxRows rows kept).
 */
export class LineFeeder {
  private rest: Buffer | null = null;
  private stopped = false;
  constructor(
    private readonly parser: KddParser,
    private readonly maxRows = Number.POSITIVE_INFINITY,
  ) {}

  feed(piece: Buffer): boolean {
    if (this.stopped) return true;
    let s = 0;
    if (this.rest !== null) {
      const nl = piece.indexOf(10);
      if (nl < 0) {
        this.rest = Buffer.concat([this.rest, piece]);
        return false;
      }
      const line = Buffer.concat([this.rest, piece.subarray(0, nl + 1)]);
      this.rest = null;
      if (this.parser.parse(line, 0, line.length, this.maxRows)) {
        this.stopped = true;
        return true;
      }
      s = nl + 1;
    }
    const last = piece.lastIndexOf(10);
    if (last >= s && this.parser.parse(piece, s, last + 1, this.maxRows)) {
      this.stopped = true;
      return true;
    }
    const from = Math.max(last + 1, s);
    this.rest = from < piece.length ? piece.subarray(from) : null;
    return false;
  }

  /** Parses a final line without a newline. */
  end(): void {
    if (!this.stopped && this.rest !== null) this.parser.parse(this.rest, 0, this.rest.length, this.maxRows);
    this.rest = null;
  }
}

/**
 * Row capacity for a text of `totalBytes` whose beginning is `head`: its line count scaled up, with
 * some room (pages never written cost nothing; too few rows means the columns grow by copying).
 */
export function estimateRows(head: Buffer, totalBytes: number): number {
  const lines = countLines(head, 0, head.length);
  if (head.length === 0 || lines === 0) return 1 << 16;
  return Math.ceil((lines / head.length) * Math.max(totalBytes, head.length) * 1.15) + 1024;
}
