import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { InputError, ParseError } from '../../src/errors.ts';
import { ATTACK_FAMILY, attackFamily, KDD_FEATURES, readKdd } from '../../src/ingest/kdd.ts';

const DATA = process.env.NETANOMALY_DATA_DIR;
function dataFile(rel: string): string {
  assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
  return join(DATA, rel);
}

const dir = mkdtempSync(join(tmpdir(), 'netanomaly-kdd-'));
let seq = 0;
function fixture(content: string | Buffer, name = `f${seq++}.txt`): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

// A real NSL-KDD record (KDDTest+ line 1), 43 fields.
const NSL_ROW =
  '0,tcp,private,REJ,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,229,10,0.00,0.00,1.00,1.00,0.04,0.06,0.00,255,10,0.04,0.06,0.00,0.00,0.00,0.00,1.00,1.00,neptune,21';
const NSL_NORMAL =
  '0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00,normal,20';
/** Replace field `i` (0-based) of a row. */
function withField(row: string, i: number, v: string): string {
  const f = row.split(',');
  f[i] = v;
  return f.join(',');
}
const idx = (name: string): number => KDD_FEATURES.findIndex((f) => f.name === name);

async function rejectsParse(p: string, re: RegExp): Promise<void> {
  await assert.rejects(readKdd(p), (e: unknown) => {
    assert.ok(e instanceof ParseError, `expected ParseError, got ${String(e)}`);
    assert.match(e.message, re);
    assert.ok(!e.message.includes('\n'), 'one-line message');
    return true;
  });
}

describe('KDD feature list and families', () => {
  test('41 features in the Field_Names.csv order, 3 categorical, 4 binary', () => {
    const names = readFileSync(dataFile('nsl-kdd/Field_Names.csv'), 'utf8')
      .trim()
      .split(/\r?\n/)
      .map((l) => l.split(',')[0]);
    assert.deepEqual(
      KDD_FEATURES.map((f) => f.name),
      names,
    );
    assert.deepEqual(
      KDD_FEATURES.filter((f) => f.kind === 'categorical').map((f) => f.name),
      ['protocol_type', 'service', 'flag'],
    );
    assert.deepEqual(
      KDD_FEATURES.filter((f) => f.binary).map((f) => f.name),
      ['land', 'logged_in', 'is_host_login', 'is_guest_login'],
    );
  });

  test('attackFamily maps names, strips the trailing dot, flags unknowns', () => {
    assert.equal(attackFamily('normal.'), 'normal');
    assert.equal(attackFamily('smurf.'), 'dos');
    assert.equal(attackFamily('portsweep'), 'probe');
    assert.equal(attackFamily('guess_passwd'), 'r2l');
    assert.equal(attackFamily('buffer_overflow.'), 'u2r');
    assert.equal(attackFamily('constructor'), 'unknown');
    assert.equal(attackFamily('not_an_attack'), 'unknown');
    for (const t of ['apache2', 'mailbomb', 'processtable', 'udpstorm'])
      assert.equal(ATTACK_FAMILY[t], 'dos');
    for (const t of ['mscan', 'saint']) assert.equal(ATTACK_FAMILY[t], 'probe');
    for (const t of ['httptunnel', 'ps', 'sqlattack', 'xterm']) assert.equal(ATTACK_FAMILY[t], 'u2r');
    for (const t of ['named', 'sendmail', 'snmpgetattack', 'snmpguess', 'worm', 'xlock', 'xsnoop']) {
      assert.equal(ATTACK_FAMILY[t], 'r2l');
    }
  });
});

describe('readKdd on the real datasets', () => {
  const cases: [string, number, 'nsl-kdd' | 'kdd99', boolean][] = [
    ['nsl-kdd/KDDTrain+_20Percent.txt', 25_192, 'nsl-kdd', true],
    ['nsl-kdd/KDDTest+.txt', 22_544, 'nsl-kdd', true],
    ['nsl-kdd/KDDTest-21.txt', 11_850, 'nsl-kdd', true],
    ['kddcup99/kddcup.data_10_percent.gz', 494_021, 'kdd99', false],
    ['kddcup99/corrected.gz', 311_029, 'kdd99', false],
  ];
  for (const [rel, rows, format, hasDifficulty] of cases) {
    test(`${rel}: ${rows} rows, format ${format}, every label known`, async () => {
      const d = await readKdd(dataFile(rel));
      assert.equal(d.table.nRows, rows);
      assert.equal(d.format, format);
      assert.equal(d.report.rowsKept, rows);
      assert.equal(d.report.rowsSkipped, 0);
      assert.equal(d.labels.length, rows);
      assert.equal(Object.keys(d.table.numeric).length, 38);
      assert.deepEqual(Object.keys(d.table.text), ['protocol_type', 'service', 'flag']);
      for (const col of Object.values(d.table.numeric)) assert.equal(col.length, rows);
      assert.equal(d.difficulty !== null, hasDifficulty);
      if (d.difficulty) assert.ok(d.difficulty.every((v) => Number.isInteger(v) && v >= 0 && v <= 21));
      assert.ok(
        d.labels.every((l) => !l.endsWith('.')),
        'trailing dots stripped',
      );
      const fam: Record<string, number> = {};
      for (const f of d.families) fam[f] = (fam[f] ?? 0) + 1;
      assert.equal(fam.unknown, undefined, 'every label maps to a family');
      for (const f of ['normal', 'dos', 'probe', 'r2l', 'u2r']) assert.ok((fam[f] ?? 0) > 0, `${f} present`);
    });
  }

  test('kddcup.data_10_percent family counts match the published ones', async () => {
    const d = await readKdd(dataFile('kddcup99/kddcup.data_10_percent.gz'));
    const fam: Record<string, number> = {};
    for (const f of d.families) fam[f] = (fam[f] ?? 0) + 1;
    assert.deepEqual(fam, { normal: 97_278, dos: 391_458, probe: 4_107, r2l: 1_126, u2r: 52 });
    assert.equal(d.labels.filter((l) => l === 'smurf').length, 280_790);
    assert.equal(d.labels.filter((l) => l === 'neptune').length, 107_201);
  });

  test('KDDTest+ family counts and first-row values equal a naive parse', async () => {
    const p = dataFile('nsl-kdd/KDDTest+.txt');
    const d = await readKdd(p);
    const fam: Record<string, number> = {};
    for (const f of d.families) fam[f] = (fam[f] ?? 0) + 1;
    assert.deepEqual(fam, { normal: 9_711, dos: 7_458, probe: 2_421, r2l: 2_754, u2r: 200 });
    // The fast number path must agree bit for bit with Number() on real rows.
    const lines = readFileSync(p, 'latin1').split('\n').slice(0, 3000);
    for (let r = 0; r < lines.length; r++) {
      const f = lines[r]!.split(',');
      for (let i = 0; i < 41; i++) {
        const feat = KDD_FEATURES[i]!;
        if (feat.kind === 'numeric')
          assert.equal(d.table.numeric[feat.name]![r], Number(f[i]), `${r}:${feat.name}`);
        else assert.equal(d.table.text[feat.name]![r], f[i]);
      }
      assert.equal(d.labels[r], f[41]);
      assert.equal(d.difficulty![r], Number(f[42]));
    }
  });
});

describe('readKdd formats and layout', () => {
  test('gzip is sniffed by magic bytes, not the extension', async () => {
    const text = `${NSL_ROW}\n${NSL_NORMAL}\n`;
    const gzAsTxt = fixture(gzipSync(text), 'gzipped.txt');
    const plainAsGz = fixture(text, 'plain.gz');
    for (const p of [gzAsTxt, plainAsGz]) {
      const d = await readKdd(p);
      assert.equal(d.table.nRows, 2);
      assert.deepEqual(d.labels, ['neptune', 'normal']);
      assert.equal(d.table.numeric.src_bytes![1], 491);
    }
  });

  test('CRLF, blank lines and a missing final newline', async () => {
    const p = fixture(`\r\n${NSL_ROW}\r\n\r\n   \r\n${NSL_NORMAL}`);
    const d = await readKdd(p);
    assert.equal(d.table.nRows, 2);
    assert.deepEqual(d.labels, ['neptune', 'normal']);
    assert.deepEqual(Array.from(d.difficulty!), [21, 20]);
    assert.equal(d.table.text.flag![1], 'SF');
  });

  test('42 columns with dotted labels = kdd99 (dot stripped); without dots = nsl-kdd, no difficulty', async () => {
    const strip = (r: string): string => r.split(',').slice(0, 42).join(',');
    const k = await readKdd(fixture(`${strip(NSL_ROW)}.\n${strip(NSL_NORMAL)}.\n`));
    assert.equal(k.format, 'kdd99');
    assert.deepEqual(k.labels, ['neptune', 'normal']);
    assert.equal(k.difficulty, null);
    const n = await readKdd(fixture(`${strip(NSL_ROW)}\n${strip(NSL_NORMAL)}\n`));
    assert.equal(n.format, 'nsl-kdd');
    assert.equal(n.difficulty, null);
  });

  test('a pipe (e.g. <(zcat file) or /dev/stdin) is read once, plain or gzip', async () => {
    const text = `${NSL_ROW}\n${NSL_NORMAL}\n`;
    for (const body of [Buffer.from(text), gzipSync(text)]) {
      const fifo = join(mkdtempSync(join(tmpdir(), 'netanomaly-fifo-')), 'in');
      execFileSync('mkfifo', [fifo]);
      const writer = new Promise<void>((resolve, reject) =>
        createWriteStream(fifo).on('error', reject).end(body, resolve),
      );
      const d = await readKdd(fifo);
      await writer;
      assert.deepEqual(d.labels, ['neptune', 'normal']);
      assert.equal(d.table.numeric.src_bytes![1], 491);
    }
  });

  test('maxRows stops early', async () => {
    const d = await readKdd(dataFile('kddcup99/corrected.gz'), { maxRows: 1000 });
    assert.equal(d.table.nRows, 1000);
    assert.equal(d.table.numeric.duration!.length, 1000);
  });

  test('decimal and exponent numbers parse exactly', async () => {
    let row = withField(NSL_NORMAL, idx('src_bytes'), '1e3');
    row = withField(row, idx('dst_bytes'), '123456789012345678');
    row = withField(row, idx('serror_rate'), '.5');
    const d = await readKdd(fixture(`${row}\n`));
    assert.equal(d.table.numeric.src_bytes![0], 1000);
    assert.equal(d.table.numeric.dst_bytes![0], Number('123456789012345678'));
    assert.equal(d.table.numeric.serror_rate![0], 0.5);
  });
});

describe('readKdd bad input', () => {
  const badRowCases: [string, string, RegExp][] = [
    [
      'wrong column count',
      NSL_ROW.split(',').slice(0, 30).join(','),
      /:2: wrong column count: expected 43, got 30/,
    ],
    ['non-numeric', withField(NSL_ROW, idx('src_bytes'), 'abc'), /:2: non-numeric value in src_bytes: "abc"/],
    [
      'hex is not a number',
      withField(NSL_ROW, idx('dst_bytes'), '0x10'),
      /:2: non-numeric value in dst_bytes/,
    ],
    ['NaN', withField(NSL_ROW, idx('duration'), 'NaN'), /:2: non-finite value in duration/],
    ['Infinity', withField(NSL_ROW, idx('count'), 'Infinity'), /:2: non-finite value in count/],
    ['huge exponent overflows', withField(NSL_ROW, idx('count'), '1e999'), /:2: non-finite value in count/],
    ['negative count', withField(NSL_ROW, idx('srv_count'), '-3'), /:2: negative value in srv_count: "-3"/],
    ['empty numeric (never 0)', withField(NSL_ROW, idx('hot'), ''), /:2: missing value in hot/],
    ['empty categorical', withField(NSL_ROW, idx('service'), ''), /:2: empty service/],
    ['blank categorical', withField(NSL_ROW, idx('flag'), '  '), /:2: empty flag/],
    ['rate above 1', withField(NSL_ROW, idx('serror_rate'), '1.5'), /:2: out-of-range value in serror_rate/],
    ['binary flag not 0/1', withField(NSL_ROW, idx('logged_in'), '2'), /:2: out-of-range value in logged_in/],
    ['empty label', withField(NSL_ROW, 41, ''), /:2: empty label/],
    ['negative difficulty', withField(NSL_ROW, 42, '-1'), /:2: negative value in difficulty/],
  ];
  for (const [name, bad, re] of badRowCases) {
    test(`fail policy: ${name} -> ParseError file:line`, async () => {
      const p = fixture(`${NSL_NORMAL}\n${bad}\n${NSL_ROW}\n`);
      await rejectsParse(p, new RegExp(`${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${re.source}`));
    });
  }

  test('skip policy drops and counts by reason; nothing becomes 0', async () => {
    const rows = [
      NSL_NORMAL,
      withField(NSL_ROW, idx('src_bytes'), 'abc'),
      withField(NSL_ROW, idx('src_bytes'), ''),
      NSL_ROW.split(',').slice(0, 10).join(','),
      withField(NSL_ROW, idx('src_bytes'), 'abc'),
      NSL_ROW,
    ];
    const d = await readKdd(fixture(rows.join('\n')), { onBadRow: 'skip' });
    assert.equal(d.table.nRows, 2);
    assert.equal(d.report.rowsRead, 6);
    assert.equal(d.report.rowsSkipped, 4);
    assert.deepEqual(d.report.reasons, {
      'non-numeric value in src_bytes': 2,
      'missing value in src_bytes': 1,
      'wrong column count': 1,
    });
    assert.deepEqual(d.report.quarantined, []);
    assert.deepEqual(Array.from(d.table.numeric.src_bytes!), [491, 0]);
    assert.deepEqual(d.labels, ['normal', 'neptune']);
  });

  test('consecutive empty labels after a valid run are each rejected (label cache)', async () => {
    const empty = withField(NSL_ROW, 41, '');
    const d = await readKdd(fixture([NSL_ROW, NSL_ROW, empty, empty, NSL_ROW].join('\n')), {
      onBadRow: 'skip',
    });
    assert.deepEqual(d.labels, ['neptune', 'neptune', 'neptune']);
    assert.deepEqual(d.report.reasons, { 'empty label': 2 });
  });

  test('quarantine keeps the first 1000 bad rows with line numbers', async () => {
    const bad = withField(NSL_ROW, idx('duration'), '-1');
    const lines = [NSL_NORMAL];
    for (let i = 0; i < 1200; i++) lines.push(bad);
    const d = await readKdd(fixture(`${lines.join('\n')}\n`), { onBadRow: 'quarantine' });
    assert.equal(d.table.nRows, 1);
    assert.equal(d.report.reasons['negative value in duration'], 1200);
    assert.equal(d.report.quarantined.length, 1000);
    assert.equal(d.report.quarantined[0]!.line, 2);
    assert.equal(d.report.quarantined[0]!.raw, bad);
    assert.match(d.report.quarantined[0]!.reason, /negative value in duration/);
  });

  test('every row bad under skip -> InputError no data rows', async () => {
    const p = fixture(`${withField(NSL_ROW, 1, '')}\n`);
    await assert.rejects(readKdd(p, { onBadRow: 'skip' }), (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.match(e.message, /no data rows/);
      return true;
    });
  });

  test('empty file -> InputError "<file>: no data rows"', async () => {
    const p = fixture('');
    await assert.rejects(
      readKdd(p),
      (e: unknown) => e instanceof InputError && e.message === `${p}: no data rows`,
    );
  });

  test('only blank lines -> InputError no data rows', async () => {
    const p = fixture('\n\r\n  \n');
    await assert.rejects(
      readKdd(p),
      (e: unknown) => e instanceof InputError && /no data rows/.test(e.message),
    );
  });

  test('empty gzip -> InputError no data rows', async () => {
    const p = fixture(gzipSync(''), 'empty.gz');
    await assert.rejects(
      readKdd(p),
      (e: unknown) => e instanceof InputError && /no data rows/.test(e.message),
    );
  });

  test('a header line of names -> ParseError, not KDD (even with skip)', async () => {
    const header = KDD_FEATURES.map((f) => f.name).join(',') + ',label,difficulty';
    const p = fixture(`${header}\n${NSL_ROW}\n`);
    await rejectsParse(p, /:1: header line found/);
    await assert.rejects(readKdd(p, { onBadRow: 'skip' }), ParseError);
  });

  test('another CSV (wrong column count on the first lines) -> ParseError not a KDD file', async () => {
    const p = fixture('a,b,c\n1,2,3\n4,5,6\n');
    await rejectsParse(p, /:1: not a KDD file: expected 42 or 43 comma-separated columns, found 3/);
  });

  test('binary junk -> ParseError', async () => {
    const junk = Buffer.alloc(4096);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919) % 256;
    await rejectsParse(fixture(junk, 'junk.bin'), /binary data, not a KDD text file/);
  });

  test('a pcap file -> ParseError', async () => {
    await rejectsParse(dataFile('pcaps/attack/synscan.pcap'), /synscan\.pcap: binary data/);
  });

  test('truncated gzip -> ParseError naming the file', async () => {
    const gz = gzipSync(`${NSL_ROW}\n`.repeat(5000));
    const p = fixture(gz.subarray(0, gz.length >> 1), 'truncated.gz');
    await rejectsParse(p, /truncated\.gz: corrupt or truncated gzip data/);
  });

  test('missing file -> InputError no such file', async () => {
    const p = join(dir, 'does-not-exist.txt');
    await assert.rejects(
      readKdd(p),
      (e: unknown) => e instanceof InputError && e.message === `${p}: no such file`,
    );
  });

  test('a directory -> InputError', async () => {
    await assert.rejects(
      readKdd(dir),
      (e: unknown) => e instanceof InputError && /is a directory/.test(e.message),
    );
  });
});

describe('readKdd reads in chunks with the same results', () => {
  /** An independent, naive parse of a (valid) KDD text: split, Number(), trim. */
  function naive(text: string) {
    const rows = text.split('\n').filter((l) => l.trim() !== '');
    const numeric: Record<string, Float64Array> = {};
    const textCols: Record<string, string[]> = {};
    for (const f of KDD_FEATURES) {
      if (f.kind === 'numeric') numeric[f.name] = new Float64Array(rows.length);
      else textCols[f.name] = new Array<string>(rows.length);
    }
    const labels = new Array<string>(rows.length);
    const difficulty = new Float64Array(rows.length);
    rows.forEach((row, r) => {
      const fields = row.replace(/\r$/, '').split(',');
      KDD_FEATURES.forEach((f, i) => {
        if (f.kind === 'numeric') numeric[f.name]![r] = Number(fields[i]);
        else textCols[f.name]![r] = fields[i]!.trim();
      });
      labels[r] = fields[41]!.trim().replace(/\.$/, '');
      difficulty[r] = fields.length === 43 ? Number(fields[42]) : 0;
    });
    return { rows: rows.length, numeric, text: textCols, labels, difficulty };
  }

  for (const [rel, gz] of [
    ['kddcup99/corrected.gz', true],
    ['nsl-kdd/KDDTest+.txt', false],
  ] as const) {
    test(`${rel}: every field of every row equals a naive parse`, async () => {
      const p = dataFile(rel);
      const raw = readFileSync(p);
      const want = naive((gz ? gunzipSync(raw) : raw).toString('latin1'));
      const d = await readKdd(p);
      assert.equal(d.table.nRows, want.rows);
      for (const [name, col] of Object.entries(want.numeric)) {
        assert.deepStrictEqual(d.table.numeric[name], col, name);
      }
      assert.deepStrictEqual(d.table.text, want.text);
      assert.deepStrictEqual(d.labels, want.labels);
      assert.deepStrictEqual(
        d.families,
        want.labels.map((l) => attackFamily(l)),
      );
      if (d.difficulty) assert.deepStrictEqual(d.difficulty, want.difficulty);
      // maxRows: the same first rows (the read stops part way through the file).
      const head = await readKdd(p, { maxRows: 20_000 });
      assert.equal(head.table.nRows, 20_000);
      for (const [name, col] of Object.entries(want.numeric)) {
        assert.deepStrictEqual(head.table.numeric[name], col.subarray(0, 20_000), name);
      }
      assert.deepStrictEqual(head.labels, want.labels.slice(0, 20_000));
    });
  }

  /**
   * About 10 MB of rows (several read chunks) with bad rows every 997 lines, and bad, blank and
   * CRLF lines wherever a line straddles a multiple of 1 MiB (reads end at multiples of 4 MiB).
   */
  function generated() {
    const lines: string[] = [];
    const bad: { line: number; reason: string; raw: string }[] = [];
    const kept: string[] = [];
    let offset = 0;
    const badKinds: [(r: string) => string, string][] = [
      [(r) => withField(r, idx('src_bytes'), 'x1'), 'non-numeric value in src_bytes: "x1"'],
      [(r) => r.split(',').slice(0, 12).join(','), 'wrong column count: expected 43, got 12'],
      [
        (r) => withField(r, idx('dst_host_rerror_rate'), '2.00'),
        'out-of-range value in dst_host_rerror_rate: "2.00"',
      ],
      [(r) => withField(r, 41, ' '), 'empty label'],
    ];
    for (let i = 0; offset < 10_000_000; i++) {
      const lineNo = lines.length + 1;
      const base = withField(i % 3 === 0 ? NSL_ROW : NSL_NORMAL, idx('src_bytes'), String(i));
      const straddles = Math.floor(offset / (1 << 20)) !== Math.floor((offset + base.length + 1) / (1 << 20));
      let line = base;
      if (straddles && i % 2 === 0) {
        const [make, reason] = badKinds[i % badKinds.length]!;
        line = make(base);
        bad.push({ line: lineNo, reason, raw: line });
      } else if (straddles) {
        line = `${base}\r`; // CRLF across a chunk end
        kept.push(base);
      } else if (i % 997 === 996) {
        const [make, reason] = badKinds[((i + 1) / 997) % badKinds.length]!;
        line = make(base);
        bad.push({ line: lineNo, reason, raw: line });
      } else kept.push(base);
      lines.push(line);
      offset += line.length + 1;
      if (i % 5000 === 4999) {
        lines.push(''); // a blank line now and then
        offset += 1;
      }
    }
    return { text: `${lines.join('\n')}\n`, bad, kept };
  }

  test('bad rows in every chunk, and across chunk ends: fail, skip, quarantine', async () => {
    const g = generated();
    assert.ok(g.bad.length > 60, `${g.bad.length} bad rows`);
    const plain = fixture(g.text, 'chunks.txt');
    const gz = fixture(gzipSync(g.text), 'chunks.gz');
    const byReason: Record<string, number> = {};
    for (const b of g.bad) {
      const reason = b.reason.replace(/: .*$/, '');
      byReason[reason] = (byReason[reason] ?? 0) + 1;
    }
    for (const p of [plain, gz]) {
      await rejectsParse(
        p,
        new RegExp(`:${g.bad[0]!.line}: ${g.bad[0]!.reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`),
      );
      const skip = await readKdd(p, { onBadRow: 'skip' });
      assert.equal(skip.table.nRows, g.kept.length);
      assert.equal(skip.report.rowsSkipped, g.bad.length);
      assert.equal(skip.report.rowsRead, g.kept.length + g.bad.length);
      assert.deepEqual(skip.report.reasons, byReason);
      assert.deepEqual(
        Array.from(skip.table.numeric.src_bytes!),
        g.kept.map((r) => Number(r.split(',')[idx('src_bytes')])),
      );
      const q = await readKdd(p, { onBadRow: 'quarantine' });
      assert.deepEqual(q.report.quarantined, g.bad);
      assert.deepStrictEqual({ ...q, report: null }, { ...skip, report: null });
    }
    const a = await readKdd(plain, { onBadRow: 'quarantine' });
    const b = await readKdd(gz, { onBadRow: 'quarantine' });
    assert.deepStrictEqual({ ...a.report, file: '' }, { ...b.report, file: '' });
    assert.deepStrictEqual(a.table, b.table);
  });

  test('fail: the first bad row is found where it straddles two chunks (4 MiB) and later ones', async () => {
    const lines: string[] = [];
    let offset = 0;
    let badLine = 0;
    while (offset < 9 << 20) {
      let line = withField(NSL_NORMAL, idx('src_bytes'), String(lines.length));
      if (badLine === 0 && offset + line.length + 1 > 4 << 20) {
        line = withField(line, idx('logged_in'), '7');
        badLine = lines.length + 1;
      } else if (offset > 6 << 20 && lines.length % 100 === 0) line = withField(line, idx('hot'), '');
      lines.push(line);
      offset += line.length + 1;
    }
    for (const p of [fixture(lines.join('\n')), fixture(gzipSync(lines.join('\n')), 'straddle.gz')]) {
      await rejectsParse(p, new RegExp(`:${badLine}: out-of-range value in logged_in: "7"$`));
    }
  });
});
