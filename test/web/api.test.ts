import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { resolveDataset } from '../../src/ingest/datasets.ts';
import { type AppServer, startApp } from '../../src/web/server.ts';
import { dataDir, testLines, trainTestModel } from './helpers.ts';

let app: AppServer;
let modelDir: string;
let alerts: string;
const logs: string[] = [];

const upload = (body: BodyInit): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/octet-stream' },
  body,
});
const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});
async function call(path: string, init?: RequestInit) {
  const res = await fetch(app.url + path, init);
  const text = await res.text();
  let body: any = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers, text };
}
function assertNoTrace(text: string) {
  assert.doesNotMatch(text, /\bat [\w.<>]+ \(|node:internal|\.ts:\d+|Error: .*\n\s+at /);
}

before(async () => {
  modelDir = await trainTestModel();
  const dir = await mkdtemp(join(tmpdir(), 'netanomaly-web-alerts-'));
  alerts = join(dir, 'alerts.jsonl');
  app = await startApp({
    modelDir,
    port: 0,
    alertsFile: alerts,
    log: (l) => logs.push(l),
    maxUploadBytes: 2 * 1024 * 1024,
    maxRows: 5000,
  });
});
after(async () => {
  await app?.close();
});

describe('GET endpoints', () => {
  test('healthz, model, schema, clusters', async () => {
    const h = await call('/healthz');
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'ok');
    assert.match(h.headers.get('content-security-policy')!, /default-src 'self'/);
    const m = await call('/api/model');
    assert.equal(m.status, 200);
    assert.equal(m.body.k, app.state().model.detector.k);
    assert.ok(m.body.threshold > 0);
    assert.ok(m.body.figures.elbow.data.length >= 1);
    assert.ok(m.body.figures.pca.data.length >= 2);
    assert.ok(m.body.figures.scores.data.length >= 1);
    assert.ok(m.body.figures.roc.data.length >= 1, 'the sampled training source is labelled');
    assert.equal(m.body.training.calibration, 'loo');
    assert.equal(m.body.sample.rows, 4000);
    const s = await call('/api/schema');
    assert.equal(s.body.fields.length, 41);
    const service = s.body.fields.find((f: any) => f.name === 'service');
    assert.ok(service.vocabulary.includes('http'));
    assert.equal(s.body.fields.find((f: any) => f.name === 'serror_rate').max, 1);
    assert.equal(s.body.fields.find((f: any) => f.name === 'logged_in').binary, true);
    assert.equal(s.body.raw_line_fields.length, 41);
    assert.deepEqual(s.body.raw_line_fields.slice(0, 4), ['duration', 'protocol_type', 'service', 'flag']);
    const c = await call('/api/clusters');
    assert.equal(c.body.clusters.length, m.body.k);
    for (const p of c.body.clusters) {
      assert.ok(p.tags.length >= 1);
      assert.ok(p.evidence.length >= 1);
    }
    assert.ok(
      c.body.clusters.some((p: any) => p.tags[0] === 'normal'),
      'a normal-tagged cluster',
    );
  });

  test('unknown paths and methods', async () => {
    assert.equal((await call('/api/nope')).status, 404);
    assert.equal((await call('/nope')).status, 404);
    assert.equal((await call('/api/predict')).status, 405);
    assert.equal((await call('/api/model', { method: 'DELETE' })).status, 405);
    assert.equal((await call('/api/batch/00000000-0000-0000-0000-000000000000.csv')).status, 404);
  });

  test('page shell and local plotly are served, nothing external', async () => {
    const p = await call('/predict');
    assert.equal(p.status, 200);
    assert.doesNotMatch(p.text, /https?:\/\/(?!www\.w3)/);
    const plotly = await fetch(`${app.url}/static/plotly.js`);
    assert.equal(plotly.status, 200);
    assert.ok((await plotly.arrayBuffer()).byteLength > 1_000_000);
  });
});

describe('POST /api/predict', () => {
  test('a neptune record is anomalous, a normal one normal', async () => {
    const [nep] = await testLines('neptune', 1, 'S0');
    const parts = nep!.split(',');
    const schema = (await call('/api/schema')).body.fields as { name: string; kind: string }[];
    const flow: Record<string, unknown> = {};
    schema.forEach((f, i) => {
      flow[f.name] = f.kind === 'numeric' ? Number(parts[i]) : parts[i];
    });
    const r = await call('/api/predict', json({ flow }));
    assert.equal(r.status, 200);
    assert.equal(r.body.verdict, 'anomalous');
    assert.ok(r.body.anomaly_score > r.body.threshold);
    assert.ok(r.body.explanation.top_fields.length >= 3);
    const shares = r.body.explanation.top_fields.map((c: any) => c.share);
    assert.ok(shares.every((s: number, i: number) => i === 0 || s <= shares[i - 1]));
    assert.ok(Number.isFinite(r.body.pca.x) && Number.isFinite(r.body.pca.y));
    assert.deepEqual(r.body.figures.flow_marker.x, [r.body.pca.x]);
    const cf = r.body.explanation.counterfactual;
    assert.ok(cf.changes.length >= 1 && cf.cluster !== undefined, JSON.stringify(cf));
    assert.equal(r.body.risk_score, 100);
    const raw = await call('/api/predict/raw', json({ line: nep }));
    assert.equal(raw.status, 200);
    assert.equal(raw.body.label, 'neptune');
    assert.ok(Math.abs(raw.body.anomaly_score - r.body.anomaly_score) < 1e-9);
    const [norm] = await testLines('normal');
    const n = await call('/api/predict/raw', json({ line: norm }));
    assert.equal(n.body.verdict, 'normal');
  });

  test('partial flows are filled with training defaults and say so', async () => {
    const r = await call('/api/predict', json({ flow: { service: 'http', src_bytes: 230 } }));
    assert.equal(r.status, 200);
    assert.ok(r.body.filled_with_defaults.includes('dst_bytes'));
    assert.ok(!r.body.filled_with_defaults.includes('service'));
    const o = await call('/api/predict', json({ flow: { service: '__other__' } }));
    assert.deepEqual(o.body.unknown_categories, ['service']);
  });

  const bad: [string, string | object, number, string?][] = [
    ['NaN as a string', { flow: { src_bytes: 'NaN' } }, 422, 'flow.src_bytes'],
    ['1e999', '{"flow":{"src_bytes":1e999}}', 422, 'flow.src_bytes'],
    ['bare NaN (not JSON)', '{"flow":{"src_bytes":NaN}}', 400],
    ['negative count', { flow: { src_bytes: -1 } }, 422, 'flow.src_bytes'],
    ['rate above 1', { flow: { serror_rate: 1.5 } }, 422, 'flow.serror_rate'],
    ['flag not 0/1', { flow: { logged_in: 0.5 } }, 422, 'flow.logged_in'],
    ['number for a category', { flow: { service: 7 } }, 422, 'flow.service'],
    ['unknown field', { flow: { evil: 1 } }, 422, 'flow.evil'],
    ['unknown top-level key', { flow: {}, debug: true }, 422, 'debug'],
    ['array body', [1, 2], 422],
    ['string body', '"hi"', 422],
    ['null flow', { flow: null }, 422, 'flow'],
    ['huge number', { flow: { src_bytes: 1e300 } }, 422, 'flow.src_bytes'],
    ['empty body', '', 400],
  ];
  for (const [name, body, status, path] of bad) {
    test(`bad body: ${name} → ${status}`, async () => {
      const r = await call('/api/predict', json(body));
      assert.equal(r.status, status, r.text);
      if (path)
        assert.ok(
          r.body.error.issues.some((i: any) => i.path === path),
          JSON.stringify(r.body),
        );
      assertNoTrace(r.text);
    });
  }

  test('wrong content type → 415; huge body → 413 before parsing; chunked too', async () => {
    const t = await call('/api/predict', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{}',
    });
    assert.equal(t.status, 415);
    const big = JSON.stringify({ flow: { service: 'x'.repeat(200_000) } });
    assert.equal((await call('/api/predict', json(big))).status, 413);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        `${app.url}/api/predict`,
        { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 100; i++) req.write('x'.repeat(1024));
      req.end();
    });
    assert.equal(status, 413);
  });

  test('raw lines: wrong column count, bad numbers, non-string → 422', async () => {
    for (const line of [
      '1,2,3',
      '0,tcp,http,SF,abc' + ',0'.repeat(36),
      `0,tcp,http,SF,1e999${',0'.repeat(36)}`,
      `0,tcp,http,SF,-5${',0'.repeat(36)}`,
    ]) {
      const r = await call('/api/predict/raw', json({ line }));
      assert.equal(r.status, 422, line);
      assert.equal(r.body.error.issues[0].path, 'line');
    }
    assert.equal((await call('/api/predict/raw', json({ line: 5 }))).status, 422);
    assert.equal((await call('/api/predict/raw', json({ line: 'a\nb' }))).status, 422);
  });
});

describe('POST /api/batch', () => {
  test('a KDDTest+ slice is scored, summarised and downloadable', async () => {
    const path = await resolveDataset('nsl-kdd/KDDTest+', { dataDir: dataDir() });
    const text = (await readFile(path, 'utf8')).split('\n').slice(0, 3000).join('\n');
    const r = await call('/api/batch?top=50', upload(text));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.rows, 3000);
    assert.equal(r.body.format, 'nsl-kdd');
    assert.equal(r.body.top.length, 50);
    assert.ok(r.body.top[0].anomaly_score >= r.body.top[49].anomaly_score);
    assert.ok(r.body.anomalies > 0);
    const perCluster = r.body.per_cluster.reduce((a: number, c: any) => a + c.rows, 0);
    assert.equal(perCluster, 3000);
    const csv = await call(r.body.download);
    assert.equal(csv.status, 200);
    assert.equal(csv.text.trim().split('\n').length, 3001);
    assert.match(csv.text.split('\n')[0]!, /^row,anomaly_score,risk_score,is_anomaly,cluster/);
  });

  test('a CSV with a header (KDD column names) is sniffed by content', async () => {
    const [line] = await testLines('neptune', 1, 'S0');
    const names = (await call('/api/schema')).body.fields.map((f: any) => f.name);
    const csv = `${names.join(',')},label\n${line!.split(',').slice(0, 42).join(',')}\n`;
    const r = await call('/api/batch', upload(csv));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.rows, 1);
    assert.equal(r.body.top[0].label, 'neptune');
  });

  const garbage: [string, Buffer | string, number][] = [
    ['binary noise', Buffer.from([0, 1, 2, 3, 255, 254, 0, 9, 8, 7]), 422],
    ['a PDF', Buffer.from('%PDF-1.7\n%âãÏÓ\n1 0 obj'), 415],
    ['a ZIP', Buffer.from([0x50, 0x4b, 0x03, 0x04, 1, 2, 3]), 415],
    ['a pickle', Buffer.from([0x80, 0x04, 0x95, 0x10]), 415],
    ['prose', 'hello world, this is not data\nreally not\n', 422],
    ['broken gzip', Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]), 422],
    ['csv without model fields', 'a,b,c\n1,2,3\n4,5,6\n', 422],
    ['empty', '', 422],
  ];
  for (const [name, body, status] of garbage) {
    test(`garbage upload: ${name} → ${status}, friendly, no trace`, async () => {
      const r = await call('/api/batch', upload(body as BodyInit));
      assert.equal(r.status, status, r.text);
      assert.ok(r.body.error.message.length > 10);
      assert.doesNotMatch(r.body.error.message, /netanomaly-upload-|\/tmp\//);
      assertNoTrace(r.text);
    });
  }

  test('over the size cap → 413; over the row cap → 413', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 0x41);
    assert.equal((await call('/api/batch', { method: 'POST', body: big })).status, 413);
    const line =
      '0,udp,private,SF,1,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,1,0,0,0,0,1,0,0,1,1,1,0,1,0,0,0,0,0,normal,1';
    const many = await call('/api/batch', {
      method: 'POST',
      body: Array.from({ length: 5001 }, () => line).join('\n'),
    });
    assert.equal(many.status, 413, many.text);
    assert.match(many.body.error.message, /5001 rows; the limit is 5000/);
  });

  test('a __proto__ key neither crashes nor pollutes', async () => {
    const r = await call('/api/predict', json('{"flow":{"__proto__":{"polluted":1}}}'));
    assert.ok(r.status === 200 || r.status === 422, r.text);
    assert.equal(({} as any).polluted, undefined);
  });
});

describe('POST /api/clusters/:id/name', () => {
  test('rename saves to the bundle and swaps the model atomically', async () => {
    const before = app.state();
    const predicting = Array.from({ length: 30 }, () =>
      call('/api/predict', json({ flow: { service: 'http' } })),
    );
    const r = await call(
      '/api/clusters/0/name',
      json({ name: '  web <b>browsing</b>\u0007 ', note: 'checked by hand' }),
    );
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.cluster.name, 'web <b>browsing</b>');
    const results = await Promise.all(predicting);
    assert.ok(results.every((x) => x.status === 200));
    assert.notEqual(app.state(), before);
    const card = JSON.parse(await readFile(join(modelDir, 'model.json'), 'utf8')).card;
    assert.equal(card.clusterNames['0'].name, 'web <b>browsing</b>');
    const c = await call('/api/clusters');
    assert.equal(c.body.clusters[0].name, 'web <b>browsing</b>');
    assert.equal(c.body.clusters[0].note, 'checked by hand');
    const p = await call('/api/predict', json({ flow: {} }));
    assert.equal(p.status, 200);
  });

  test('bad renames → 4xx', async () => {
    assert.equal((await call('/api/clusters/999/name', json({ name: 'x' }))).status, 404);
    assert.equal((await call('/api/clusters/-1/name', json({ name: 'x' }))).status, 404);
    assert.equal((await call('/api/clusters/abc/name', json({ name: 'x' }))).status, 404);
    assert.equal((await call('/api/clusters/0/name', json({ name: '' }))).status, 422);
    assert.equal((await call('/api/clusters/0/name', json({ name: 'x'.repeat(61) }))).status, 422);
    assert.equal((await call('/api/clusters/0/name', json({ name: 'x', extra: 1 }))).status, 422);
    assert.equal((await call('/api/clusters/0/name', json({ name: '\u0001\u0002' }))).status, 422);
    assert.equal((await call('/api/clusters/0/name', { method: 'GET' })).status, 405);
  });
});

describe('GET /api/alerts', () => {
  test('follows the alert file: tail, counts per minute, bad lines counted', async () => {
    const missing = await call('/api/alerts');
    assert.equal(missing.body.available, false);
    assert.equal(missing.body.configured, true);
    const lines = [
      {
        '@timestamp': '2024-05-01T10:00:05Z',
        event: { id: 'a1' },
        netanomaly: { anomaly_score: 9.5 },
        source: { ip: '10.0.0.1', port: 5555 },
        destination: { ip: '10.0.0.2', port: 80 },
      },
      {
        '@timestamp': '2024-05-01T10:00:40Z',
        'event.id': 'a2',
        'netanomaly.anomaly_score': 12,
        'source.ip': '10.0.0.3',
        'destination.ip': '<script>',
      },
      { '@timestamp': '2024-05-01T10:01:10Z', event: { id: 'a3' }, netanomaly: { anomaly_score: 7 } },
    ];
    await writeFile(alerts, `${lines.map((l) => JSON.stringify(l)).join('\n')}\nnot json\n`);
    const r = await call('/api/alerts');
    assert.equal(r.status, 200);
    assert.equal(r.body.alerts.length, 3);
    assert.equal(r.body.alerts[0].id, 'a3');
    assert.equal(r.body.alerts[1].dst, '<script>');
    assert.equal(r.body.alerts[2].src, '10.0.0.1:5555');
    assert.equal(r.body.badLines, 1);
    assert.deepEqual(r.body.perMinute, [
      { minute: '2024-05-01T10:00', count: 2 },
      { minute: '2024-05-01T10:01', count: 1 },
    ]);
    await appendFile(alerts, '{"@timestamp":"2024-05-01T10:02:00Z","event":{"id":"a4"}');
    const partial = await call('/api/alerts');
    assert.equal(partial.body.alerts[0].id, 'a3', 'a line without its newline waits');
  });
});

describe('safety', () => {
  test('foreign Host and cross-site Origin are refused', async () => {
    const host = await new Promise<number>((resolve) => {
      const req = httpRequest(`${app.url}/api/model`, { headers: { host: 'evil.example:80' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.end();
    });
    assert.equal(host, 403);
    const r = await call('/api/predict', {
      ...json({ flow: {} }),
      headers: { 'content-type': 'application/json', origin: 'http://evil.example' },
    });
    assert.equal(r.status, 403);
  });

  test('an internal error shows a reference, not a trace; details in the log', async () => {
    const st = app.state();
    const orig = st.predict;
    (st as any).predict = () => Promise.reject(new TypeError('boom at secret place'));
    try {
      const r = await call('/api/predict', json({ flow: {} }));
      assert.equal(r.status, 500);
      assert.doesNotMatch(r.text, /boom|secret|TypeError/);
      assert.match(r.body.error.message, /reference [0-9a-f]{8}/);
      assert.ok(logs.some((l) => l.includes('boom at secret place')));
    } finally {
      (st as any).predict = orig;
    }
  });

  test('a non-loopback bind needs the token', async () => {
    const open = await startApp({
      modelDir,
      host: '0.0.0.0',
      port: 0,
      token: 'sekrit-token-123',
      log: () => {},
    });
    try {
      const base = `http://127.0.0.1:${open.port}`;
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      assert.equal((await fetch(`${base}/api/model`)).status, 401);
      assert.equal((await fetch(`${base}/overview`)).status, 401);
      assert.equal(
        (await fetch(`${base}/api/model`, { headers: { authorization: 'Bearer wrong' } })).status,
        401,
      );
      assert.equal(
        (await fetch(`${base}/api/model`, { headers: { authorization: 'Bearer sekrit-token-123' } })).status,
        200,
      );
      const login = await fetch(`${base}/predict?token=sekrit-token-123`, { redirect: 'manual' });
      assert.equal(login.status, 303);
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      assert.match(login.headers.get('set-cookie')!, /HttpOnly; SameSite=Strict/);
      assert.equal((await fetch(`${base}/api/schema`, { headers: { cookie } })).status, 200);
    } finally {
      await open.close();
    }
  });
});
