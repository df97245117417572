/**
 * Directories of traffic files: a file that cannot be read (not a capture, empty, a header cut
 * short) is counted and named on one line, and never stops the files after it; a directory with
 * nothing readable is one InputError. Real captures (the 1 MiB-boundary pcapng of issue 15, a
 * fuzzed pcap) sit beside the broken files.
 */
import assert from 'node:assert/strict';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { InputError } from '../../../src/errors.ts';
import { readTraffic } from '../../../src/ingest/traffic/index.ts';
import { readTrafficMany } from '../../../src/ingest/traffic/many.ts';
import { handshake, pcapFile, tmpDir, write } from './pcap-writer.ts';

const DATA = process.env.NETANOMALY_DATA_DIR ?? '';

describe('directories of captures', () => {
  test('bad files are counted, named once each, and the others are all read', async () => {
    assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
    const dir = tmpDir();
    const real = ['normal/alexa-app.pcapng', 'malformed/fuzz-2021-10-13.pcap'];
    for (const r of real) symlinkSync(join(DATA, 'pcaps', r), join(dir, r.split('/')[1]!));
    write(dir, 'a-good.pcap', pcapFile(handshake()));
    write(dir, 'b-notes.txt', 'not a capture\n');
    write(dir, 'c-empty.pcap', Buffer.alloc(0));
    write(dir, 'd-short.pcap', pcapFile([]).subarray(0, 10));
    const full = pcapFile(handshake());
    write(dir, 'e-truncated.pcap', full.subarray(0, full.length - 5));
    const r = await readTrafficMany([dir], { format: 'auto' });
    assert.equal(r.files.length, 7);
    const failed = r.files.filter((f) => f.error);
    assert.deepEqual(
      failed.map((f) => f.path.split('/').pop()),
      ['b-notes.txt', 'c-empty.pcap', 'd-short.pcap'],
    );
    for (const f of failed) {
      assert.equal(f.rows, 0);
      assert.ok(f.error!.startsWith(`${f.path}: `), f.error);
      assert.ok(!f.error!.includes('\n') && !/RangeError/.test(f.error!), f.error);
      assert.equal(r.report.warnings.filter((w) => w === f.error).length, 1, `${f.path} named once`);
    }
    assert.equal(r.report.counters.files, 7);
    assert.equal(r.report.counters.files_failed, 3);
    // the readable files give exactly what they give alone, in order
    let rows = 0;
    for (const f of r.files.filter((x) => !x.error)) {
      const alone = await readTraffic(f.path);
      assert.equal(f.rows, alone.table.nRows, f.path);
      assert.equal(f.firstRow, rows);
      rows += f.rows;
    }
    assert.equal(r.table.nRows, rows);
    assert.ok(rows > 100);
    assert.equal(r.report.counters.truncated_records, 2); // e-truncated and the fuzzed pcap
  });

  test('nothing readable: one InputError naming the first failure', async () => {
    const dir = tmpDir();
    write(dir, 'x.txt', 'hello\n');
    write(dir, 'y.pcap', Buffer.alloc(3));
    await assert.rejects(readTrafficMany([dir], { format: 'pcap' }), (err: unknown) => {
      assert.ok(err instanceof InputError);
      assert.match(
        err.message,
        /none of the 2 file\(s\) could be read \(first: .*x\.txt: unknown file format/,
      );
      return true;
    });
  });
});
