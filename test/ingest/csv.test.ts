import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { InputError, ParseError, SchemaError } from '../../src/errors.ts';
import { type CsvSchema, editDistance, readCsv, splitRecord } from '../../src/ingest/csv.ts';
import { KDD_FEATURES } from '../../src/ingest/kdd.ts';

const dir = mkdtempSync(join(tmpdir(), 'netanomaly-csv-'));
let seq = 0;
function fixture(content: string | Buffer, name = `f${seq++}.csv`): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

const SCHEMA: CsvSchema = {
  columns: [
    { name: 'src_bytes', kind: 'numeric', aliases: ['Bytes Sent'] },
    { name: 'duration', kind: 'numeric' },
    { name: 'proto', kind: 'categorical', aliases: ['protocol'] },
    { name: 'label', kind: 'label' },
    { name: 'note', kind: 'ignored' },
  ],
};
const HEADER = 'duration,src_bytes,proto,label';

async function rejectsWith(
  p: Promise<unknown>,
  cls: new (...a: never[]) => Error,
  re: RegExp,
): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    assert.match((e as Error).message, re);
    assert.ok(!(e as Error).message.includes('\n'), 'one-line message');
    return true;
  });
}

describe('readCsv: good input', () => {
  test('columns by name in any order, case-insensitive, trimmed, aliases; extras warned once', async () => {
    const p = fixture(
      ' PROTOCOL ,Label,Bytes Sent, Duration ,extra1,extra2\ntcp,normal,10,1.5,x,y\nudp,smurf,20,0,x,y\n',
    );
    const d = await readCsv(p, SCHEMA);
    assert.equal(d.table.nRows, 2);
    assert.deepEqual(Array.from(d.table.numeric.src_bytes!), [10, 20]);
    assert.deepEqual(Array.from(d.table.numeric.duration!), [1.5, 0]);
    assert.deepEqual(d.table.text.proto, ['tcp', 'udp']);
    assert.deepEqual(d.labels, ['normal', 'smurf']);
    assert.deepEqual(d.report.warnings, ['ignored extra columns: extra1, extra2']);
    assert.equal(d.delimiter, ',');
  });

  test('no label column -> labels null', async () => {
    const d = await readCsv(fixture('a,b\n1,2\n'), { columns: [{ name: 'a', kind: 'numeric' }] });
    assert.equal(d.labels, null);
    assert.deepEqual(Array.from(d.table.numeric.a!), [1]);
  });

  for (const [name, delim] of [
    ['semicolon', ';'],
    ['tab', '\t'],
    ['pipe', '|'],
  ] as const) {
    test(`delimiter sniffed: ${name}`, async () => {
      const p = fixture(`${HEADER.split(',').join(delim)}\n1${delim}2${delim}tcp${delim}normal\n`);
      const d = await readCsv(p, SCHEMA);
      assert.equal(d.delimiter, delim);
      assert.equal(d.table.numeric.src_bytes![0], 2);
    });
  }

  test('semicolon file with decimal commas in quotes is not mis-sniffed as comma', async () => {
    const d = await readCsv(fixture('duration;src_bytes;proto;label\n1;2;"a,b";normal\n'), SCHEMA);
    assert.equal(d.delimiter, ';');
    assert.deepEqual(d.table.text.proto, ['a,b']);
  });

  test('UTF-8 BOM, CRLF, blank lines, no final newline', async () => {
    const p = fixture(`\ufeff${HEADER}\r\n1,2,tcp,normal\r\n\r\n3,4,udp,neptune`);
    const d = await readCsv(p, SCHEMA);
    assert.equal(d.table.nRows, 2);
    assert.deepEqual(d.header, ['duration', 'src_bytes', 'proto', 'label']);
    assert.deepEqual(d.labels, ['normal', 'neptune']);
  });

  test('RFC 4180 quotes: delimiters, doubled quotes, quoted newlines (line numbers kept)', async () => {
    const p = fixture(
      `${HEADER}\n1,2,"tcp, ""fast""",normal\n3,4,"multi\r\nline",normal\n5,6,udp,\n7,8,"a""b",normal\n`,
    );
    const d = await readCsv(p, SCHEMA, { onBadRow: 'quarantine' });
    assert.deepEqual(d.table.text.proto, ['tcp, "fast"', 'multi\r\nline', 'a"b']);
    assert.equal(d.report.quarantined[0]!.line, 5, 'line after a quoted newline counts both physical lines');
  });

  test('splitRecord waits for more input inside a quote and at a possible doubled quote', () => {
    assert.equal(splitRecord('a,"b\n', 0, ',', false), null);
    assert.equal(splitRecord('a,"b"', 0, ',', false), null);
    assert.deepEqual(splitRecord('a,"b"', 0, ',', true)?.fields, ['a', 'b']);
    assert.deepEqual(splitRecord('"x"",y",z\n', 0, ',', false)?.fields, ['x",y', 'z']);
  });

  test('gzip sniffed by magic bytes', async () => {
    const p = fixture(gzipSync(`${HEADER}\n1,2,tcp,normal\n`), 'data.csv');
    assert.equal((await readCsv(p, SCHEMA)).table.nRows, 1);
  });

  test('missing values: empty, NaN, - -> NaN, counted per column, row kept', async () => {
    const p = fixture(`${HEADER}\n,2,tcp,normal\nNaN,-,udp,normal\n1,nan,,normal\n`);
    const d = await readCsv(p, SCHEMA);
    assert.equal(d.table.nRows, 3);
    assert.ok(Number.isNaN(d.table.numeric.duration![0]!));
    assert.ok(Number.isNaN(d.table.numeric.src_bytes![1]!));
    assert.equal(d.report.reasons['missing duration'], 2);
    assert.equal(d.report.reasons['missing src_bytes'], 2);
    assert.equal(d.report.reasons['missing proto'], 1);
    assert.equal(d.report.rowsSkipped, 0);
  });

  test('Infinity / inf -> NaN, counted, one warning per column', async () => {
    const p = fixture(`${HEADER}\nInfinity,2,tcp,normal\n-inf,3,tcp,normal\n1,INF,tcp,normal\n`);
    const d = await readCsv(p, SCHEMA);
    assert.equal(d.table.nRows, 3);
    assert.ok(Number.isNaN(d.table.numeric.duration![1]!));
    assert.equal(d.report.reasons['infinite duration'], 2);
    assert.equal(d.report.reasons['infinite src_bytes'], 1);
    assert.equal(d.report.warnings.filter((w) => w.includes("'duration'")).length, 1);
    assert.equal(d.report.warnings.length, 2);
  });

  test('optional missing column is NaN-filled with a warning', async () => {
    const d = await readCsv(fixture('a\n1\n'), {
      columns: [
        { name: 'a', kind: 'numeric' },
        { name: 'b', kind: 'numeric', optional: true },
      ],
    });
    assert.ok(Number.isNaN(d.table.numeric.b![0]!));
    assert.match(d.report.warnings[0]!, /optional column 'b'/);
  });

  test('duplicate header names: first one used, warned', async () => {
    const d = await readCsv(fixture('duration,src_bytes,proto,label,duration\n1,2,tcp,normal,9\n'), SCHEMA);
    assert.equal(d.table.numeric.duration![0], 1);
    assert.ok(d.report.warnings.some((w) => /duplicate header 'duration'/.test(w)));
  });

  test('the NSL-KDD field list can drive readCsv on a headed KDD-like CSV', async () => {
    const schema: CsvSchema = {
      columns: KDD_FEATURES.slice(0, 5).map((f) => ({ name: f.name, kind: f.kind })),
    };
    const d = await readCsv(
      fixture('duration,protocol_type,service,flag,src_bytes\n0,tcp,http,SF,181\n'),
      schema,
    );
    assert.equal(d.table.numeric.src_bytes![0], 181);
    assert.equal(d.table.text.service![0], 'http');
  });

  test('editDistance', () => {
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('', 'abc'), 3);
  });
});

describe('readCsv: bad input', () => {
  test('missing required column -> SchemaError naming it and the closest header', async () => {
    const p = fixture('duration,src_byte,proto,label\n1,2,tcp,normal\n');
    await rejectsWith(
      readCsv(p, SCHEMA),
      SchemaError,
      /missing required column 'src_bytes' \(closest header: 'src_byte'\)/,
    );
  });

  test('cannot detect delimiter', async () => {
    await rejectsWith(
      readCsv(fixture('duration src_bytes proto\n1 2 tcp\n'), SCHEMA),
      ParseError,
      /:1: cannot detect delimiter/,
    );
  });

  test('non-numeric text -> ParseError file:line (fail)', async () => {
    const p = fixture(`${HEADER}\n1,2,tcp,normal\n1,abc,tcp,normal\n`);
    await rejectsWith(readCsv(p, SCHEMA), ParseError, /f\d+\.csv:3: non-numeric value in src_bytes: "abc"/);
  });

  test('hex and thousands-separated numbers are not numbers', async () => {
    const p = fixture(`${HEADER}\n0x10,2,tcp,normal\n"1,234",2,tcp,normal\n`);
    const d = await readCsv(p, SCHEMA, { onBadRow: 'skip' }).catch((e: Error) => e);
    assert.ok(d instanceof InputError && /no data rows \(2 bad rows skipped\)/.test(d.message));
  });

  test("unquoted '1,234' -> wrong column count", async () => {
    const p = fixture(`${HEADER}\n1,234,5,tcp,normal\n`);
    await rejectsWith(readCsv(p, SCHEMA), ParseError, /:2: wrong column count: expected 4, got 5/);
  });

  test('too few fields -> wrong column count', async () => {
    await rejectsWith(readCsv(fixture(`${HEADER}\n1,2\n`), SCHEMA), ParseError, /:2: wrong column count/);
  });

  test('header repeated mid-file -> bad row "repeated header"', async () => {
    const p = fixture(`${HEADER}\n1,2,tcp,normal\n${HEADER}\n3,4,udp,normal\n`);
    await rejectsWith(readCsv(p, SCHEMA), ParseError, /:3: repeated header/);
    const d = await readCsv(p, SCHEMA, { onBadRow: 'skip' });
    assert.equal(d.table.nRows, 2);
    assert.deepEqual(d.report.reasons, { 'repeated header': 1 });
  });

  test('empty file -> InputError no data rows', async () => {
    await rejectsWith(readCsv(fixture(''), SCHEMA), InputError, /no data rows/);
  });

  test('header only -> InputError no data rows', async () => {
    const p = fixture(`${HEADER}\n\n`);
    await assert.rejects(
      readCsv(p, SCHEMA),
      (e: unknown) => e instanceof InputError && e.message === `${p}: no data rows`,
    );
  });

  test('unterminated quote at end of file -> bad row', async () => {
    const p = fixture(`${HEADER}\n1,2,tcp,normal\n3,4,"udp,normal\n5,6,tcp,normal\n`);
    await rejectsWith(readCsv(p, SCHEMA), ParseError, /:3: unterminated quoted field/);
  });

  test('text after a closing quote -> bad row "malformed quoted field"', async () => {
    const p = fixture(`${HEADER}\n1,2,"tcp"x,normal\n3,4,udp,normal\n`);
    await rejectsWith(readCsv(p, SCHEMA), ParseError, /:2: malformed quoted field/);
    const d = await readCsv(p, SCHEMA, { onBadRow: 'skip' });
    assert.deepEqual(d.table.text.proto, ['udp']);
  });

  test('empty label -> bad row', async () => {
    await rejectsWith(readCsv(fixture(`${HEADER}\n1,2,tcp, \n`), SCHEMA), ParseError, /:2: empty label/);
  });

  test('binary junk -> ParseError', async () => {
    const junk = Buffer.alloc(2048, 0);
    junk.write('duration,src_bytes', 0);
    await rejectsWith(readCsv(fixture(junk), SCHEMA), ParseError, /binary data/);
  });

  test('schema with two label columns -> SchemaError', async () => {
    const schema: CsvSchema = {
      columns: [
        { name: 'a', kind: 'label' },
        { name: 'b', kind: 'label' },
      ],
    };
    await rejectsWith(readCsv(fixture('a,b\nx,y\n'), schema), SchemaError, /2 label columns/);
  });

  test('quarantine keeps raw rows and reasons; skip counts only', async () => {
    const p = fixture(`${HEADER}\n1,abc,tcp,normal\n1,2,tcp,normal\n1,2\n`);
    const q = await readCsv(p, SCHEMA, { onBadRow: 'quarantine' });
    assert.equal(q.table.nRows, 1);
    assert.deepEqual(q.report.reasons, { 'non-numeric value in src_bytes': 1, 'wrong column count': 1 });
    assert.deepEqual(
      q.report.quarantined.map((r) => [r.line, r.raw]),
      [
        [2, '1,abc,tcp,normal'],
        [4, '1,2'],
      ],
    );
    const s = await readCsv(p, SCHEMA, { onBadRow: 'skip' });
    assert.equal(s.report.rowsSkipped, 2);
    assert.equal(s.report.quarantined.length, 0);
  });

  test('missing file -> InputError', async () => {
    await rejectsWith(readCsv(join(dir, 'nope.csv'), SCHEMA), InputError, /nope\.csv: no such file/);
  });
});
