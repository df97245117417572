import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { countLines, estimateRows, KddParser, LineFeeder } from '../../src/ingest/kdd-parser.ts';
import type { BadRowPolicy } from '../../src/ingest/table.ts';

// Real NSL-KDD records (KDDTest+ lines 1 and 2 style), 43 fields.
const ROW =
  '0,tcp,private,REJ,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,229,10,0.00,0.00,1.00,1.00,0.04,0.06,0.00,255,10,0.04,0.06,0.00,0.00,0.00,0.00,1.00,1.00,neptune,21';
const NORMAL =
  '0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00,normal,20';
const withField = (row: string, i: number, v: string): string => {
  const f = row.split(',');
  f[i] = v;
  return f.join(',');
};

/** Every kind of line the parser distinguishes, fast and slow ones, CRLF, blank, unterminated. */
const TRICKY = [
  NORMAL,
  `${ROW}\r`, // CRLF
  '',
  '   ', // short whitespace line: blank
  '     ', // long whitespace line: a row with the wrong column count
  withField(ROW, 4, '1e3'), // valid, slow path
  withField(ROW, 5, ' 17 '), // valid, slow path (trimmed)
  withField(ROW, 1, ' udp '), // categorical with spaces
  withField(ROW, 41, ' smurf. '), // label with spaces and a dot
  withField(ROW, 4, 'abc'),
  withField(ROW, 24, '1.50'),
  withField(ROW, 6, '2'),
  withField(ROW, 2, ''),
  withField(ROW, 41, '.'),
  withField(ROW, 42, '-1'),
  withField(ROW, 42, '3.5'), // fractional difficulty: kept
  ROW.split(',').slice(0, 20).join(','),
  `${ROW},extra`,
  `${ROW}\rx`, // a CR that does not end the line
  NORMAL,
  `${ROW}\r`, // final line without LF, ending with CR
].join('\n');

interface Result {
  n: number;
  line: number;
  rowsRead: number;
  rowsSkipped: number;
  reasons: Record<string, number>;
  quarantined: unknown[];
  failure: unknown;
  cols: number[][];
  diff: number[] | null;
  cats: string[][];
  labels: string[];
}

function result(p: KddParser): Result {
  return {
    n: p.n,
    line: p.line,
    rowsRead: p.rowsRead,
    rowsSkipped: p.rowsSkipped,
    reasons: { ...p.reasons },
    quarantined: [...p.quarantined],
    failure: p.failure,
    cols: p.cols.map((c) => Array.from(c.subarray(0, p.n))),
    diff: p.diff === null ? null : Array.from(p.diff.subarray(0, p.n)),
    cats: p.catCodes.map((c, k) => Array.from(c.subarray(0, p.n), (x) => p.catDicts[k]!.values[x]!)),
    labels: Array.from(p.labelCodes.subarray(0, p.n), (x) => p.labelDict.values[x]!),
  };
}

/** Parses `text` fed as the given pieces. */
function parsePieces(text: Buffer, cuts: number[], policy: BadRowPolicy, capacity = 4): Result {
  const p = new KddParser(43, policy, 1000, capacity);
  const feeder = new LineFeeder(p);
  let at = 0;
  for (const cut of [...cuts, text.length]) {
    if (feeder.feed(text.subarray(at, cut))) break;
    at = cut;
  }
  feeder.end();
  return result(p);
}

describe('KddParser + LineFeeder', () => {
  const text = Buffer.from(TRICKY, 'latin1');

  test('one piece: the expected rows, reasons and line numbers', () => {
    const r = parsePieces(text, [], 'quarantine');
    assert.equal(r.line, 21);
    assert.equal(r.rowsRead, 19); // 21 lines, 2 blank
    assert.equal(r.n, 9);
    assert.deepEqual(r.reasons, {
      'wrong column count': 3,
      'non-numeric value in src_bytes': 1,
      'out-of-range value in serror_rate': 1,
      'out-of-range value in land': 1,
      'empty service': 1,
      'empty label': 1,
      'negative value in difficulty': 1,
      'non-numeric value in difficulty': 1,
    });
    assert.deepEqual(
      r.quarantined.map((q) => (q as { line: number }).line),
      [5, 10, 11, 12, 13, 14, 15, 17, 18, 19],
    );
    assert.deepEqual(r.labels, [
      'normal',
      'neptune',
      'neptune',
      'neptune',
      'neptune',
      'smurf',
      'neptune',
      'normal',
      'neptune',
    ]);
    assert.deepEqual(r.cols[1]!.slice(0, 4), [491, 0, 1000, 0]); // src_bytes, '1e3'
    assert.equal(r.cols[2]![3], 17); // dst_bytes ' 17 '
    assert.deepEqual(r.cats[0], ['tcp', 'tcp', 'tcp', 'tcp', 'udp', 'tcp', 'tcp', 'tcp', 'tcp']);
    assert.deepEqual(r.diff, [20, 21, 21, 21, 21, 21, 3.5, 20, 21]);
  });

  for (const policy of ['fail', 'skip', 'quarantine'] as const) {
    test(`${policy}: the same result whatever the piece boundaries`, () => {
      const whole = parsePieces(text, [], policy);
      for (let cut = 1; cut < text.length; cut++) {
        assert.deepEqual(parsePieces(text, [cut], policy), whole, `cut at ${cut}`);
      }
      // Many small pieces, including pieces without any newline.
      for (const size of [1, 2, 3, 7, 50, 97, 200]) {
        const cuts: number[] = [];
        for (let at = size; at < text.length; at += size) cuts.push(at);
        assert.deepEqual(parsePieces(text, cuts, policy, 1), whole, `pieces of ${size}`);
      }
    });
  }

  test('fail stops at the first bad line', () => {
    const r = parsePieces(text, [1000], 'fail');
    assert.deepEqual(r.failure, { line: 5, reason: 'wrong column count', detail: 'expected 43, got 1' });
    assert.equal(r.n, 2);
  });

  test('maxRows stops right after that many kept rows, across pieces', () => {
    const rows = Buffer.from(`${Array(50).fill(NORMAL).join('\n')}\n`);
    for (const cut of [0, 10, 150, 1234]) {
      const p = new KddParser(43, 'fail', 1000, 4);
      const feeder = new LineFeeder(p, 7);
      if (!feeder.feed(rows.subarray(0, cut))) feeder.feed(rows.subarray(cut));
      feeder.end();
      assert.equal(p.n, 7);
      assert.equal(p.line, 7);
    }
  });

  test('countLines and estimateRows', () => {
    assert.equal(countLines(Buffer.from('a\nb\nc'), 0, 5), 3);
    assert.equal(countLines(Buffer.from('a\nb\n'), 0, 4), 2);
    assert.equal(countLines(Buffer.from('a\nb\n'), 2, 4), 1);
    const head = Buffer.from(`${Array(100).fill(NORMAL).join('\n')}\n`);
    const est = estimateRows(head, head.length * 10); // 1000 lines, with room
    assert.ok(est >= 1000 && est <= 1000 * 1.15 + 1025, `estimate ${est}`);
  });
});
