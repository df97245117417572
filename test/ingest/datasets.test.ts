import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { InputError } from '../../src/errors.ts';
import { DATASETS, defaultCacheDir, loadDataset, resolveDataset } from '../../src/ingest/datasets.ts';

const DATA = process.env.NETANOMALY_DATA_DIR;
const tmp = (tag: string): string => mkdtempSync(join(tmpdir(), `netanomaly-ds-${tag}-`));
const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

/** A local HTTP server serving files from `root` (URL path = relative path), counting requests. */
let server: Server;
let base = '';
const served = tmp('www');
const hits: string[] = [];
before(async () => {
  assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
  // good copies
  mkdirSync(join(served, 'good/nsl-kdd'), { recursive: true });
  mkdirSync(join(served, 'good/kddcup99'), { recursive: true });
  copyFileSync(join(DATA, 'nsl-kdd/KDDTest-21.txt'), join(served, 'good/nsl-kdd/KDDTest-21.txt'));
  copyFileSync(join(DATA, 'kddcup99/corrected.gz'), join(served, 'good/kddcup99/corrected.gz'));
  // a tampered copy: one byte changed
  mkdirSync(join(served, 'bad/nsl-kdd'), { recursive: true });
  const buf = readFileSync(join(DATA, 'nsl-kdd/KDDTest-21.txt'));
  buf[100] = buf[100] === 0x30 ? 0x31 : 0x30;
  writeFileSync(join(served, 'bad/nsl-kdd/KDDTest-21.txt'), buf);
  server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    hits.push(path);
    const file = join(served, path);
    if (!file.startsWith(served) || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

describe('DATASETS catalogue', () => {
  test('checksums match the shared copies; every entry has a URL and a relative path', () => {
    assert.ok(DATA);
    for (const info of Object.values(DATASETS)) {
      assert.ok(info.urls.length > 0 && info.urls.every((u) => /^https?:\/\//.test(u)), info.id);
      assert.ok(!info.path.startsWith('/'), info.id);
      const p = join(DATA, info.path);
      if (info.sha256 !== null) {
        assert.ok(existsSync(p), `${p} exists`);
        assert.equal(sha(p), info.sha256, info.id);
      }
    }
    assert.equal(DATASETS['nsl-kdd/KDDTrain+']!.sha256, null);
    assert.match(
      DATASETS['kdd99/corrected']!.urls[0]!,
      /kdd\.ics\.uci\.edu\/databases\/kddcup99\/corrected\.gz$/,
    );
  });
});

describe('resolveDataset order', () => {
  test('explicit path wins', async () => {
    const p = join(tmp('p'), 'mine.txt');
    writeFileSync(p, 'x');
    assert.equal(await resolveDataset('nsl-kdd/KDDTest+', { path: p, dataDir: DATA! }), p);
  });

  test('explicit path that does not exist -> InputError (no fallback)', async () => {
    await assert.rejects(
      resolveDataset('nsl-kdd/KDDTest+', { path: '/nonexistent/x.txt', dataDir: DATA! }),
      (e: unknown) => e instanceof InputError && /\/nonexistent\/x\.txt: no such file/.test(e.message),
    );
  });

  test('data dir (option, then env) before cache', async () => {
    const cache = tmp('c');
    mkdirSync(join(cache, 'nsl-kdd'));
    writeFileSync(join(cache, 'nsl-kdd/KDDTest+.txt'), 'cached');
    assert.equal(
      await resolveDataset('nsl-kdd/KDDTest+', { dataDir: DATA!, cacheDir: cache }),
      join(DATA!, 'nsl-kdd/KDDTest+.txt'),
    );
    // env var is the default data dir (set by the test runner / Makefile)
    assert.equal(
      await resolveDataset('nsl-kdd/KDDTest+', { cacheDir: cache }),
      join(DATA!, 'nsl-kdd/KDDTest+.txt'),
    );
    // a data dir without the file falls through to the cache
    assert.equal(
      await resolveDataset('nsl-kdd/KDDTest+', { dataDir: tmp('empty'), cacheDir: cache, download: false }),
      join(cache, 'nsl-kdd/KDDTest+.txt'),
    );
  });

  test('cache dir defaults: NETANOMALY_CACHE_DIR, XDG_CACHE_HOME, ~/.cache', () => {
    assert.equal(defaultCacheDir({ NETANOMALY_CACHE_DIR: '/a', XDG_CACHE_HOME: '/b' }), '/a');
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/b' }), '/b/netanomaly');
    assert.match(defaultCacheDir({}), /\.cache\/netanomaly$/);
  });

  test('unknown id -> InputError listing known ids', async () => {
    await assert.rejects(
      resolveDataset('nsl-kdd/nope'),
      (e: unknown) =>
        e instanceof InputError && /unknown dataset 'nsl-kdd\/nope'; known: .*KDDTest\+/.test(e.message),
    );
  });

  test('not found anywhere and download: false -> InputError naming where it looked', async () => {
    const cache = tmp('c');
    await assert.rejects(
      resolveDataset('nsl-kdd/KDDTest-21', { dataDir: tmp('empty'), cacheDir: cache, download: false }),
      (e: unknown) =>
        e instanceof InputError && e.message.includes(cache) && /downloads are off/.test(e.message),
    );
  });
});

describe('resolveDataset download (local HTTP server)', () => {
  test('downloads into the cache, verifies SHA-256, then reuses the cached file', async () => {
    const cache = tmp('dl');
    const n0 = hits.length;
    const p = await resolveDataset('nsl-kdd/KDDTest-21', {
      dataDir: tmp('empty'),
      cacheDir: cache,
      baseUrl: `${base}/good/`,
    });
    assert.equal(p, join(cache, 'nsl-kdd/KDDTest-21.txt'));
    assert.equal(sha(p), DATASETS['nsl-kdd/KDDTest-21']!.sha256);
    assert.deepEqual(hits.slice(n0), ['/good/nsl-kdd/KDDTest-21.txt']);
    assert.deepEqual(readdirSync(join(cache, 'nsl-kdd')), ['KDDTest-21.txt'], 'no temp files left');
    await resolveDataset('nsl-kdd/KDDTest-21', {
      dataDir: tmp('empty'),
      cacheDir: cache,
      baseUrl: `${base}/good`,
    });
    assert.equal(hits.length, n0 + 1, 'second call served from the cache');
  });

  test('NETANOMALY_DATA_URL is the default base URL; loadDataset reads the gzip download', async () => {
    const cache = tmp('dl');
    const saved = process.env.NETANOMALY_DATA_URL;
    process.env.NETANOMALY_DATA_URL = `${base}/good`;
    try {
      const d = await loadDataset('kdd99/corrected', {
        dataDir: tmp('empty'),
        cacheDir: cache,
        maxRows: 500,
      });
      assert.equal(d.format, 'kdd99');
      assert.equal(d.table.nRows, 500);
    } finally {
      if (saved === undefined) delete process.env.NETANOMALY_DATA_URL;
      else process.env.NETANOMALY_DATA_URL = saved;
    }
  });

  test('a tampered download is refused: InputError with both hashes, nothing left in the cache', async () => {
    const cache = tmp('dl');
    const expected = DATASETS['nsl-kdd/KDDTest-21']!.sha256!;
    const actual = sha(join(served, 'bad/nsl-kdd/KDDTest-21.txt'));
    await assert.rejects(
      resolveDataset('nsl-kdd/KDDTest-21', {
        dataDir: tmp('empty'),
        cacheDir: cache,
        baseUrl: `${base}/bad`,
      }),
      (e: unknown) =>
        e instanceof InputError &&
        e.message.includes('nsl-kdd/KDDTest-21') &&
        e.message.includes(expected) &&
        e.message.includes(actual),
    );
    assert.deepEqual(readdirSync(join(cache, 'nsl-kdd')), []);
  });

  test('HTTP 404 -> InputError download failed', async () => {
    await assert.rejects(
      resolveDataset('nsl-kdd/KDDTest+', {
        dataDir: tmp('empty'),
        cacheDir: tmp('dl'),
        baseUrl: `${base}/good`,
      }),
      (e: unknown) => e instanceof InputError && /download failed .*HTTP 404/.test(e.message),
    );
  });

  test('unknown checksum: refused without allowUnverified, fetched with it', async () => {
    const cache = tmp('dl');
    let calls = 0;
    const fetchImpl = async (url: string): Promise<Response> => {
      calls++;
      assert.equal(url, DATASETS['nsl-kdd/KDDTrain+']!.urls[0]);
      return new Response('0,tcp,x\n');
    };
    await assert.rejects(
      resolveDataset('nsl-kdd/KDDTrain+', { dataDir: tmp('empty'), cacheDir: cache, fetchImpl }),
      (e: unknown) => e instanceof InputError && /no known SHA-256/.test(e.message),
    );
    assert.equal(calls, 0);
    const p = await resolveDataset('nsl-kdd/KDDTrain+', {
      dataDir: tmp('empty'),
      cacheDir: cache,
      fetchImpl,
      allowUnverified: true,
    });
    assert.equal(readFileSync(p, 'utf8'), '0,tcp,x\n');
  });

  test('catalogue URLs are tried in order when there is no base URL', async () => {
    const tried: string[] = [];
    const fetchImpl = async (url: string): Promise<Response> => {
      tried.push(url);
      if (tried.length === 1) return new Response('gone', { status: 503 });
      return new Response(readFileSync(join(DATA!, 'kddcup99/corrected.gz')));
    };
    const saved = process.env.NETANOMALY_DATA_URL;
    delete process.env.NETANOMALY_DATA_URL;
    try {
      const p = await resolveDataset('kdd99/corrected', {
        dataDir: tmp('empty'),
        cacheDir: tmp('dl'),
        fetchImpl,
      });
      assert.deepEqual(tried, DATASETS['kdd99/corrected']!.urls);
      assert.equal(sha(p), DATASETS['kdd99/corrected']!.sha256);
    } finally {
      if (saved !== undefined) process.env.NETANOMALY_DATA_URL = saved;
    }
  });
});
