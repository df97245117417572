/**
 * The `bytes` option of the readers (content in memory, used by the fuzzers): the same parser as
 * reading the file, so the same table, labels and counts, and the same errors naming the file.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ParseError } from '../../src/errors.ts';
import { readTabular } from '../../src/ingest/input.ts';
import { KDD_FEATURES, readKdd } from '../../src/ingest/kdd.ts';
import { readTraffic } from '../../src/ingest/traffic/index.ts';
import { readPackets } from '../../src/ingest/traffic/pcap.ts';

const DATA = process.env.NETANOMALY_DATA_DIR ?? '';
const dir = await mkdtemp(join(tmpdir(), 'netanomaly-in-memory-'));
after(() => rm(dir, { recursive: true, force: true }));

/** The same file read from disk and from memory, as JSON (Float64Arrays as arrays). */
const json = (x: unknown) =>
  JSON.stringify(x, (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v));

async function both<T>(path: string, read: (path: string, bytes?: Uint8Array) => Promise<T>) {
  return { file: await read(path), memory: await read(path, await readFile(path)) };
}

describe('readers: content in memory equals the file', () => {
  test('NSL-KDD text, plain and gzip (readKdd, readTabular)', async () => {
    const lines = (await readFile(join(DATA, 'nsl-kdd/KDDTest+.txt'), 'latin1')).split('\n').slice(0, 400);
    const plain = join(dir, 'kdd.txt');
    await writeFile(plain, `${lines.join('\n')}\n`);
    const gz = join(dir, 'kdd.txt.gz');
    await writeFile(gz, gzipSync(`${lines.join('\n')}\n`));
    for (const path of [plain, gz]) {
      const r = await both(path, (p, bytes) => readKdd(p, { bytes }));
      assert.equal(r.memory.table.nRows, 400);
      assert.equal(json(r.memory.table), json(r.file.table));
      assert.deepEqual(r.memory.labels, r.file.labels);
      assert.deepEqual(r.memory.report, r.file.report);
    }
  });

  test('CSV with a header (readTabular csv)', async () => {
    const lines = (await readFile(join(DATA, 'nsl-kdd/KDDTest+.txt'), 'latin1')).split('\n').slice(0, 200);
    const names = [...KDD_FEATURES.map((f) => f.name), 'label', 'difficulty'].join(';');
    const path = join(dir, 'kdd.csv');
    await writeFile(path, `${names}\n${lines.map((l) => l.replaceAll(',', ';')).join('\n')}\n`);
    const r = await both(path, (p, bytes) => readTabular(p, { format: 'csv', bytes }));
    assert.equal(r.memory.table.nRows, 200);
    assert.equal(json(r.memory.table), json(r.file.table));
    assert.deepEqual(r.memory.labels, r.file.labels);
  });

  test('Zeek TSV and JSON, a capture (readTraffic)', async () => {
    for (const [path, format] of [
      [join(DATA, 'zeek/tsv/conn.log'), 'zeek'],
      [join(DATA, 'zeek/json/conn.log'), 'zeek'],
      [join(DATA, 'pcaps/attack/log4j-webapp-exploit.pcap'), 'pcap'],
      [join(DATA, 'pcaps/attack/mining.pcapng'), 'auto'],
    ] as const) {
      // Bytes in memory carry only themselves: the file read leaves out the app logs beside conn.log too.
      const r = await both(path, (p, bytes) => readTraffic(p, { format, bytes, zeekApp: false }));
      assert.ok(r.memory.table.nRows > 0, path);
      assert.equal(json(r.memory.table), json(r.file.table), path);
      assert.equal(json(r.memory.identity), json(r.file.identity), path);
      assert.deepEqual(r.memory.report.counters, r.file.report.counters, path);
    }
  });

  test('packets at every chunk size (readPackets)', async () => {
    const path = join(DATA, 'pcaps/attack/dns2tcp_tunnel.pcap');
    const bytes = await readFile(path);
    const ts = async (opts: { bytes?: Uint8Array; chunkSize?: number }) => {
      const out: number[] = [];
      for await (const p of readPackets(path, {}, [], opts)) out.push(p.ts, p.data.length);
      return out;
    };
    const fromFile = await ts({});
    assert.ok(fromFile.length > 0);
    for (const chunkSize of [16, 256, 4096]) assert.deepEqual(await ts({ bytes, chunkSize }), fromFile);
  });

  test('errors name the file in both forms', async () => {
    const path = join(dir, 'not-kdd.txt');
    await writeFile(path, 'a,b,c\n1,2,3\n');
    const msg = async (bytes?: Uint8Array) =>
      readKdd(path, { bytes }).then(
        () => assert.fail('parsed'),
        (e: unknown) => {
          assert.ok(e instanceof ParseError);
          return e.message;
        },
      );
    assert.equal(await msg(await readFile(path)), await msg());
    await assert.rejects(
      readTraffic(path, { format: 'pcap', bytes: new Uint8Array([1, 2]) }),
      (e: unknown) => e instanceof ParseError && e.message.startsWith(`${path}: truncated dump file`),
    );
  });
});
