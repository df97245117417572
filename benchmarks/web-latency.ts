/**
 * Latency of single predictions over HTTP on loopback: p50 / p99 of POST /api/predict (and of
 * /api/predict/raw) against a real server, bounded loop, printed as JSON.
 *
 *   node_modules/.bin/tsx benchmarks/web-latency.ts [--model DIR] [--n 2000]
 *
 * Without --model, trains a model on NSL-KDD's 20 % normal rows (NETANOMALY_DATA_DIR) first.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveDataset } from '../src/ingest/datasets.ts';
import { saveModel } from '../src/model/bundle.ts';
import { trainFromFile } from '../src/pipeline/train.ts';
import { startApp } from '../src/web/server.ts';

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const n = Math.min(20000, Number(arg('n') ?? 2000));
let modelDir = arg('model');
if (!modelDir) {
  const path = await resolveDataset('nsl-kdd/KDDTrain+_20Percent');
  const t = await trainFromFile(path, { format: 'nsl-kdd', trainOn: 'normal', k: 16 });
  modelDir = await mkdtemp(join(tmpdir(), 'netanomaly-bench-'));
  await saveModel(modelDir, t.detector, t.card);
}
const app = await startApp({ modelDir, host: '127.0.0.1', port: 0, log: () => {} });
const test = await resolveDataset('nsl-kdd/KDDTest+');
const lines = (await readFile(test, 'utf8')).split('\n').filter(Boolean).slice(0, 500);
const names = app.state().schema.map((f) => f.name);
const kinds = app.state().schema.map((f) => f.kind);
const flows = lines.map((l) => {
  const p = l.split(',');
  return Object.fromEntries(names.map((name, i) => [name, kinds[i] === 'numeric' ? Number(p[i]) : p[i]]));
});

async function run(path: string, body: (i: number) => unknown) {
  const times: number[] = [];
  for (let i = 0; i < 100; i++) await post(path, body(i)); // warm-up
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await post(path, body(i));
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const q = (p: number) =>
    Number(times[Math.min(times.length - 1, Math.floor(p * times.length))]!.toFixed(2));
  return { requests: n, p50_ms: q(0.5), p90_ms: q(0.9), p99_ms: q(0.99), max_ms: q(1 - 1e-9) };
}
async function post(path: string, body: unknown) {
  const r = await fetch(app.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}`);
  await r.arrayBuffer();
}
const predict = await run('/api/predict', (i) => ({ flow: flows[i % flows.length] }));
const raw = await run('/api/predict/raw', (i) => ({ line: lines[i % lines.length] }));
await app.close();
process.stdout.write(
  `${JSON.stringify({ benchmark: 'web-latency', transport: 'HTTP/1.1 keep-alive over loopback (fetch)', k: app.state().model.detector.k, predict, predict_raw: raw, node: process.version }, null, 2)}\n`,
);
