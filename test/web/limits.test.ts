/**
 * Limits that keep one client from taking the app from the others: the per-client API rate
 * (429 + Retry-After), the number of uploads scored at once, and slow clients (a request whose
 * headers trickle in, an upload that stalls) that must not hold up anyone else.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { RateLimiter } from '../../src/web/http.ts';
import { type AppServer, startApp } from '../../src/web/server.ts';
import { dataDir, scratchDir, smallModel } from '../fuzz/targets.ts';
import { testLines } from './helpers.ts';

let dir: string;
let model: string;
let line: string;

before(async () => {
  dir = await scratchDir('web-limits');
  model = await smallModel(dataDir(), dir);
  line = (await testLines('normal', 1))[0]!;
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const predict = (app: AppServer) =>
  fetch(`${app.url}/api/predict/raw`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ line }),
  });

describe('RateLimiter', () => {
  test('burst, then the rate; clients apart; idle table bounded', () => {
    const r = new RateLimiter(2, 3, 4);
    const at = (t: number, client = 'a') => r.take(client, t);
    assert.deepEqual([at(0), at(0), at(0), at(0)], [true, true, true, false]);
    assert.equal(at(0, 'b'), true, 'another client has its own bucket');
    assert.equal(at(499), false, 'half a token after 0.5 s minus 1 ms');
    assert.equal(at(500), true, 'one token after 0.5 s at 2/s');
    assert.equal(at(500), false);
    for (let i = 0; i < 50; i++) r.take(`flood-${i}`, 600);
    assert.ok((r as unknown as { buckets: Map<string, unknown> }).buckets.size <= 4);
  });
});

describe('the app under hostile clients', () => {
  let app: AppServer;
  before(async () => {
    // 0.2 requests a second, 2 at once: the third of six quick requests must be refused.
    app = await startApp({
      modelDir: model,
      port: 0,
      log: () => {},
      rateLimit: 0.2,
      rateBurst: 2,
      maxConcurrentBatches: 1,
    });
  });
  after(async () => {
    await app?.close();
  });

  test('past the rate: 429 with Retry-After and a JSON error; GETs still answered', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await predict(app);
      statuses.push(res.status);
      if (res.status === 429) {
        assert.equal(res.headers.get('retry-after'), '1');
        assert.equal((await res.json()).error.code, 'rate_limited');
      } else await res.text();
    }
    assert.deepEqual(statuses.slice(0, 2), [200, 200]);
    assert.ok(statuses.filter((s) => s === 429).length >= 3, `statuses ${statuses}`);
    assert.equal((await fetch(`${app.url}/api/model`)).status, 200);
  });

  test('one upload at a time: a second one gets 429 busy while the first stalls', async () => {
    const other = await startApp({
      modelDir: model,
      port: 0,
      log: () => {},
      rateLimit: 0,
      maxConcurrentBatches: 1,
    });
    try {
      // The first upload sends its headers and half a body, then stalls.
      const body = `${line}\n${line}\n`;
      const sock = connect(other.port, '127.0.0.1');
      await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
      sock.write(
        `POST /api/batch HTTP/1.1\r\nHost: 127.0.0.1:${other.port}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
      );
      let second: Response | null = null;
      for (let i = 0; i < 50 && second?.status !== 429; i++) {
        await new Promise((r) => setTimeout(r, 100));
        second = await fetch(`${other.url}/api/batch`, { method: 'POST', body });
        await second.text();
      }
      assert.equal(second?.status, 429);
      const answer = new Promise<string>((resolve) => {
        let got = '';
        sock.on('data', (c) => {
          got += c.toString();
          if (got.includes('"rows"')) resolve(got);
        });
      });
      sock.write(body.slice(10));
      assert.match(await answer, /^HTTP\/1\.1 200/);
      sock.destroy();
      const third = await fetch(`${other.url}/api/batch`, { method: 'POST', body });
      assert.equal(third.status, 200, 'the slot is free again');
      await third.text();
    } finally {
      await other.close();
    }
  });

  test('an upload whose client leaves is dropped after its current stage and frees its slot', async () => {
    const logs: string[] = [];
    const other = await startApp({
      modelDir: model,
      port: 0,
      log: (m) => logs.push(m),
      rateLimit: 0,
      maxConcurrentBatches: 1,
    });
    try {
      // ~17 MB of real NSL-KDD lines: reading and scoring them takes far longer than the client waits.
      const lines = await testLines('normal', 10_000);
      const chunk = `${lines.join('\n')}\n`;
      const body = chunk.repeat(Math.floor((17 * 1024 * 1024) / chunk.length));
      const sock = connect(other.port, '127.0.0.1');
      sock.on('error', () => {});
      await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
      let answered = '';
      sock.on('data', (c) => {
        answered += c.toString();
      });
      sock.write(
        `POST /api/batch HTTP/1.1\r\nHost: 127.0.0.1:${other.port}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      await new Promise<void>((resolve) => sock.end(body, () => resolve()));
      sock.destroy();
      let health: { batches_abandoned: number; batches_running: number } | null = null;
      for (let i = 0; i < 600 && health?.batches_abandoned !== 1; i++) {
        await new Promise((r) => setTimeout(r, 100));
        health = await (await fetch(`${other.url}/healthz`)).json();
      }
      assert.equal(health?.batches_abandoned, 1, `health ${JSON.stringify(health)}; log ${logs.join(' | ')}`);
      assert.equal(health?.batches_running, 0);
      assert.equal(answered, '', 'nothing is sent to a client that left');
      assert.ok(
        logs.some((m) => /POST \/api\/batch: the client left before the answer \(stopped after /.test(m)),
        logs.join(' | '),
      );
      const next = await fetch(`${other.url}/api/batch`, { method: 'POST', body: `${line}\n` });
      assert.equal(next.status, 200, 'the slot is free again');
      await next.text();
    } finally {
      await other.close();
    }
  });

  test('clients whose headers trickle in do not hold up others', async () => {
    const other = await startApp({ modelDir: model, port: 0, log: () => {}, rateLimit: 0 });
    const slow = Array.from({ length: 50 }, () => connect(other.port, '127.0.0.1'));
    try {
      await Promise.all(slow.map((s) => new Promise((r) => s.once('connect', r))));
      for (const s of slow) {
        s.on('error', () => {});
        s.write(`POST /api/predict/raw HTTP/1.1\r\nHost: 127.0.0.1:${other.port}\r\nX-a: `);
      }
      for (let i = 0; i < 5; i++) {
        const res = await predict(other);
        assert.equal(res.status, 200);
        await res.text();
      }
    } finally {
      for (const s of slow) s.destroy();
      await other.close();
    }
  });
});
