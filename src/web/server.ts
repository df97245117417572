/**
 * The netanomaly web app: a node:http server with a small JSON API and five pages (Overview,
 * Clusters, Predict, Batch, Live) built from static HTML/CSS/JS and Plotly, all served locally.
 *
 * Safe by default: binds 127.0.0.1; a non-loopback bind requires a token (401 without it);
 * Host and Origin are checked (DNS rebinding, cross-site posts); bodies and uploads are capped
 * (413 before parsing); input is validated with zod (422 with field paths); errors reach the
 * browser as one generic line while details go to the server log; CSP allows only 'self'. The
 * model is loaded once and shared read-only; a rename swaps the whole state object at once.
 */
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { z } from 'zod';
import { NetanomalyError, SchemaError } from '../errors.ts';
import { KDD_FEATURES } from '../ingest/kdd.ts';
import { readInput } from '../ingest/read-input.ts';
import { loadModel, updateCard } from '../model/bundle.ts';
import { addFeedback, type FeedbackMatch, loadFeedback, SCOPES, VERDICTS } from '../ops/feedback.ts';
import { lastSelfTest, SELFTEST_FILE } from '../ops/selftest.ts';
import { type BeaconReport, beaconReport } from '../pipeline/beacons.ts';
import { type ScoredRecord, type ScoreSummary, scoreRecords } from '../pipeline/score.ts';
import { tailAlerts } from './alerts.ts';
import {
  bodyToFile,
  ClientGone,
  clientGoneCheck,
  gunzipCapped,
  HttpError,
  parseJson,
  RateLimiter,
  readBody,
  SECURITY_HEADERS,
  sendError,
  sendJson,
  zodIssues,
} from './http.ts';
import { ModelState, parseRawKddLine } from './model-state.ts';

export interface AppOptions {
  modelDir: string;
  host?: string;
  port?: number;
  alertsFile?: string;
  /** Required for non-loopback binds; generated when absent. */
  token?: string;
  maxUploadBytes?: number;
  maxRows?: number;
  maxJsonBytes?: number;
  /** Batches kept for download (oldest dropped first). */
  maxBatches?: number;
  /** POST /api/* requests per second per client address (429 past it); 0 turns the limit off. */
  rateLimit?: number;
  /** Requests a client may send at once before the rate applies (default 2 × rateLimit). */
  rateBurst?: number;
  /** Batch uploads scored at the same time (more wait for a 429 and retry). */
  maxConcurrentBatches?: number;
  log?: (line: string) => void;
}

export interface AppServer {
  url: string;
  host: string;
  port: number;
  /** Set when the bind is not loopback: open `${url}/?token=…` once in the browser. */
  token: string | null;
  state(): ModelState;
  close(): Promise<void>;
}

const PAGES = new Set(['/', '/overview', '/clusters', '/predict', '/batch', '/live', '/drift']);
const STATIC_DIR = join(dirname(fileURLToPath(import.meta.url)), 'static');
const STATIC: Record<string, string> = {
  '/static/app.js': 'text/javascript; charset=utf-8',
  '/static/app.css': 'text/css; charset=utf-8',
  '/static/favicon.svg': 'image/svg+xml',
};

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

interface Batch {
  id: string;
  created: number;
  records: ScoredRecord[];
  format: string;
}

export async function startApp(opts: AppOptions): Promise<AppServer> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const maxUpload = opts.maxUploadBytes ?? 20 * 1024 * 1024;
  const maxRows = opts.maxRows ?? 200_000;
  const maxJson = opts.maxJsonBytes ?? 64 * 1024;
  const maxBatches = opts.maxBatches ?? 8;
  const rateLimit = opts.rateLimit ?? 100;
  const limiter = rateLimit > 0 ? new RateLimiter(rateLimit, opts.rateBurst ?? 2 * rateLimit) : null;
  const maxConcurrentBatches = opts.maxConcurrentBatches ?? 2;
  let batchesRunning = 0;
  /** Uploads whose client left before the answer: their remaining stages were skipped. */
  let batchesAbandoned = 0;
  const loopback = isLoopback(host);
  const token = loopback ? null : (opts.token ?? randomBytes(18).toString('base64url'));

  log(`[web] loading model ${opts.modelDir}`);
  let state = await ModelState.build(await loadModel(opts.modelDir), undefined, log);
  const startedAt = Date.now();
  const batches = new Map<string, Batch>();
  let renameChain: Promise<unknown> = Promise.resolve();
  let feedbackChain: Promise<unknown> = Promise.resolve();
  const assets = new Map<string, Buffer>();
  for (const path of Object.keys(STATIC)) assets.set(path, await readFile(join(STATIC_DIR, path.slice(8))));
  const indexHtml = await readFile(join(STATIC_DIR, 'index.html'));
  let plotly: { raw: Buffer; gz: Buffer } | null = null;
  const plotlyPath = createRequire(import.meta.url).resolve('plotly.js-dist');

  let port = opts.port ?? 8501;
  const allowedHosts = (): Set<string> => {
    const names = loopback ? ['127.0.0.1', 'localhost', '[::1]'] : [host.includes(':') ? `[${host}]` : host];
    const set = new Set<string>();
    for (const n of names) {
      set.add(`${n}:${port}`);
      if (port === 80) set.add(n);
    }
    return set;
  };

  const authorised = (req: IncomingMessage): boolean => {
    if (!token) return true;
    const want = Buffer.from(token);
    const candidates: string[] = [];
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) candidates.push(auth.slice(7));
    const cookie = req.headers.cookie ?? '';
    for (const part of cookie.split(';')) {
      const [k, v] = part.trim().split('=');
      if (k === 'netanomaly_token' && v) candidates.push(v);
    }
    return candidates.some((c) => {
      const got = Buffer.from(c);
      return got.length === want.length && timingSafeEqual(got, want);
    });
  };

  const current = () => state;

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const path = url.pathname;

    // Host check (DNS rebinding) and cross-site POST check.
    const hostHeader = (req.headers.host ?? '').toLowerCase();
    if (
      !allowedHosts().has(hostHeader) &&
      !(!loopback && host === '0.0.0.0') &&
      !(!loopback && host === '::')
    ) {
      throw new HttpError(403, 'bad_host', 'unexpected Host header');
    }
    if (method !== 'GET' && method !== 'HEAD') {
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `http://${hostHeader}`) {
        throw new HttpError(403, 'cross_origin', 'cross-origin requests are not accepted');
      }
    }

    if (path === '/healthz') {
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'method', 'use GET');
      const st = current();
      return sendJson(res, 200, {
        status: 'ok',
        model: st.model.sha256.slice(0, 12),
        k: st.model.detector.k,
        uptime_s: Math.round((Date.now() - startedAt) / 1000),
        batches_running: batchesRunning,
        batches_abandoned: batchesAbandoned,
      });
    }

    if (token && method === 'GET' && url.searchParams.has('token')) {
      const given = Buffer.from(url.searchParams.get('token') ?? '');
      const want = Buffer.from(token);
      if (given.length === want.length && timingSafeEqual(given, want)) {
        res.writeHead(303, {
          ...SECURITY_HEADERS,
          location: PAGES.has(path) ? path : '/',
          'set-cookie': `netanomaly_token=${token}; HttpOnly; SameSite=Strict; Path=/`,
        });
        res.end();
        return;
      }
    }
    if (!authorised(req)) throw new HttpError(401, 'unauthorised', 'this server needs its access token');

    if (PAGES.has(path) && (method === 'GET' || method === 'HEAD')) {
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-cache',
      });
      res.end(method === 'HEAD' ? undefined : indexHtml);
      return;
    }
    if (path === '/static/plotly.js' && method === 'GET') {
      if (!plotly) {
        const raw = await readFile(plotlyPath);
        plotly = { raw, gz: gzipSync(raw, { level: 6 }) };
      }
      const gz = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'content-type': 'text/javascript; charset=utf-8',
        'cache-control': 'public, max-age=86400',
        vary: 'accept-encoding',
        ...(gz ? { 'content-encoding': 'gzip' } : {}),
      });
      res.end(gz ? plotly.gz : plotly.raw);
      return;
    }
    const asset = assets.get(path);
    if (asset && method === 'GET') {
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': STATIC[path]!, 'cache-control': 'no-cache' });
      res.end(asset);
      return;
    }

    if (!path.startsWith('/api/')) throw new HttpError(404, 'not_found', 'no such page');
    const route = `${method} ${path}`;
    if (method === 'POST' && limiter && !limiter.take(req.socket.remoteAddress ?? '')) {
      drainBody(req);
      throw new HttpError(429, 'rate_limited', `more than ${rateLimit} API requests a second; retry shortly`);
    }
    const st = current();

    if (route === 'GET /api/model') return sendJson(res, 200, modelInfo(st));
    if (route === 'GET /api/schema') {
      return sendJson(res, 200, {
        fields: st.schema,
        kdd: st.kddModel,
        // Column order of a raw NSL-KDD / KDD Cup 99 record line (for /api/predict/raw).
        raw_line_fields: st.kddModel ? KDD_FEATURES.map((f) => f.name) : null,
        other: '__other__',
      });
    }
    if (route === 'GET /api/clusters') {
      return sendJson(res, 200, { k: st.model.detector.k, clusters: st.profiles });
    }
    const rename = /^\/api\/clusters\/([^/]+)\/name$/.exec(path);
    if (rename) {
      if (method !== 'POST') throw new HttpError(405, 'method', 'use POST');
      const id = Number(rename[1]);
      if (!/^\d+$/.test(rename[1]!) || id >= st.model.detector.k) {
        throw new HttpError(
          404,
          'not_found',
          `no cluster ${rename[1]!.slice(0, 20)} (clusters are 0..${st.model.detector.k - 1})`,
        );
      }
      const body = RenameSchema.safeParse(parseJson(await readJsonBody(req, maxJson)));
      if (!body.success)
        throw new HttpError(422, 'validation', 'invalid cluster name', zodIssues(body.error));
      const name = clean(body.data.name);
      const note = body.data.note === undefined ? undefined : clean(body.data.note);
      if (name === '')
        throw new HttpError(422, 'validation', 'invalid cluster name', [
          { path: 'name', message: 'empty after removing control characters' },
        ]);
      const job = renameChain.then(async () => {
        await updateCard(opts.modelDir, (card) => {
          const names = { ...(card.clusterNames ?? {}) };
          names[String(id)] = { name, ...(note ? { note } : {}) };
          return { ...card, clusterNames: names };
        });
        const reloaded = await loadModel(opts.modelDir);
        const next = await ModelState.build(reloaded, state, log);
        state = next; // one assignment: requests see the old or the new state
        return next;
      });
      renameChain = job.catch(() => {});
      let next: ModelState;
      try {
        next = await job;
      } catch (err) {
        log(`[web] rename failed: ${(err as Error).stack ?? err}`);
        throw new HttpError(
          503,
          'save_failed',
          'the name could not be saved to the model bundle (see the server log)',
        );
      }
      return sendJson(res, 200, { cluster: next.profiles[id], model: next.model.sha256.slice(0, 12) });
    }
    if (route === 'POST /api/predict') {
      const body = PredictSchema.safeParse(parseJson(await readJsonBody(req, maxJson)));
      if (!body.success) throw new HttpError(422, 'validation', 'invalid request', zodIssues(body.error));
      const flow = st.flowSchema.safeParse(body.data.flow);
      if (!flow.success)
        throw new HttpError(422, 'validation', 'invalid flow', zodIssues(flow.error, 'flow'));
      const { table, filled } = st.flowTable(flow.data);
      return sendJson(res, 200, await st.predict(table, filled));
    }
    if (route === 'POST /api/predict/raw') {
      const body = RawSchema.safeParse(parseJson(await readJsonBody(req, maxJson)));
      if (!body.success) throw new HttpError(422, 'validation', 'invalid request', zodIssues(body.error));
      if (!st.kddModel) {
        throw new HttpError(
          422,
          'not_kdd',
          'this model was not trained on NSL-KDD / KDD Cup 99 fields; raw record lines do not apply',
        );
      }
      let parsed: ReturnType<typeof parseRawKddLine>;
      try {
        parsed = parseRawKddLine(body.data.line);
      } catch (err) {
        if (err instanceof NetanomalyError) {
          throw new HttpError(422, 'validation', 'invalid record line', [
            { path: 'line', message: err.message },
          ]);
        }
        throw err;
      }
      return sendJson(res, 200, await st.predict(parsed.table, [], parsed.label));
    }
    if (route === 'POST /api/batch') {
      if (batchesRunning >= maxConcurrentBatches) {
        drainBody(req);
        throw new HttpError(429, 'busy', `${maxConcurrentBatches} uploads are being scored; retry shortly`);
      }
      batchesRunning++;
      const stillWanted = clientGoneCheck(res);
      try {
        return sendJson(res, 200, await batch(req, url, st, stillWanted));
      } catch (err) {
        // A client that left gets no error either (an upload cut short is its own doing).
        if (!(err instanceof ClientGone)) stillWanted('an error');
        throw err;
      } finally {
        batchesRunning--;
      }
    }
    const dl = /^\/api\/batch\/([0-9a-f-]{36})\.csv$/.exec(path);
    if (dl && method === 'GET') {
      const b = batches.get(dl[1]!);
      if (!b)
        throw new HttpError(404, 'not_found', 'no such batch (batches are kept in memory for a while only)');
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': `attachment; filename="netanomaly-scores-${b.id.slice(0, 8)}.csv"`,
        'cache-control': 'no-store',
      });
      res.end(recordsCsv(b.records));
      return;
    }
    if (route === 'GET /api/alerts') {
      const n = Math.min(500, Math.max(1, Number(url.searchParams.get('limit')) || 50));
      const tail = await tailAlerts(opts.alertsFile, n, undefined, await loadFeedback(opts.modelDir));
      const selftest = opts.alertsFile
        ? await lastSelfTest(join(dirname(opts.alertsFile), SELFTEST_FILE))
        : null;
      return sendJson(res, 200, { ...tail, selftest });
    }
    if (route === 'GET /api/drift') {
      let report: unknown = null;
      try {
        report = JSON.parse(await readFile(join(opts.modelDir, 'drift-report.json'), 'utf8'));
      } catch {
        report = null;
      }
      const tail = await tailAlerts(opts.alertsFile, 1);
      return sendJson(res, 200, { report, live: tail.health?.drift ?? null });
    }
    if (route === 'GET /api/feedback') return sendJson(res, 200, await loadFeedback(opts.modelDir));
    if (route === 'POST /api/feedback') {
      const body = FeedbackSchema.safeParse(parseJson(await readJsonBody(req, maxJson)));
      if (!body.success) throw new HttpError(422, 'validation', 'invalid feedback', zodIssues(body.error));
      const { note, ...rest } = body.data;
      const job = feedbackChain.then(() =>
        addFeedback(opts.modelDir, {
          ...rest,
          match: rest.match as FeedbackMatch,
          who: clean(rest.who),
          ...(note ? { note: clean(note) } : {}),
        }),
      );
      feedbackChain = job.catch(() => {});
      try {
        return sendJson(res, 201, await job);
      } catch (err) {
        if (err instanceof NetanomalyError) throw new HttpError(422, 'validation', err.message);
        throw err;
      }
    }
    const known = [
      '/api/model',
      '/api/schema',
      '/api/clusters',
      '/api/predict',
      '/api/predict/raw',
      '/api/batch',
      '/api/alerts',
      '/api/feedback',
      '/api/drift',
    ];
    if (known.includes(path)) throw new HttpError(405, 'method', `${method} is not allowed here`);
    throw new HttpError(404, 'not_found', 'no such endpoint');
  }

  async function readJsonBody(req: IncomingMessage, limit: number): Promise<Buffer> {
    const type = String(req.headers['content-type'] ?? '');
    if (!/^application\/json\b/i.test(type)) {
      throw new HttpError(415, 'media_type', 'send the body as application/json');
    }
    return readBody(req, limit);
  }

  async function batch(req: IncomingMessage, url: URL, st: ModelState, stillWanted: (stage: string) => void) {
    const top = Math.min(1000, Math.max(1, Number(url.searchParams.get('top')) || 200));
    const dir = await mkdtemp(join(tmpdir(), 'netanomaly-upload-'));
    const upload = join(dir, 'upload');
    const scrub = (m: string) =>
      m.split(dir).join('').replaceAll('/upload.txt', 'upload').replaceAll('/upload', 'upload');
    try {
      const size = await bodyToFile(req, upload, maxUpload);
      stillWanted('the upload');
      if (size === 0) throw new HttpError(422, 'empty', 'the upload is empty');
      let path = upload;
      const head = await readHead(upload, 8);
      const bad = refuseKind(head);
      if (bad) throw new HttpError(415, 'unsupported', bad);
      if (head[0] === 0x1f && head[1] === 0x8b) {
        path = join(dir, 'upload.txt');
        await gunzipCapped(upload, path, maxUpload * 10);
        stillWanted('decompressing');
      }
      let input: Awaited<ReturnType<typeof readInput>>;
      try {
        input = await readInput(path, 'auto', 'quarantine');
      } catch (err) {
        if (err instanceof NetanomalyError) {
          throw new HttpError(422, 'unreadable', `the upload could not be read: ${scrub(err.message)}`);
        }
        throw err;
      }
      stillWanted('reading');
      if (input.table.nRows > maxRows) {
        throw new HttpError(
          413,
          'too_many_rows',
          `the upload has ${input.table.nRows} rows; the limit is ${maxRows}`,
        );
      }
      let scored: Awaited<ReturnType<typeof scoreRecords>>;
      try {
        scored = await scoreRecords(st.model, input);
      } catch (err) {
        if (err instanceof SchemaError) {
          throw new HttpError(
            422,
            'schema',
            `the upload does not have the model's fields: ${scrub(err.message)}`,
          );
        }
        if (err instanceof NetanomalyError) throw new HttpError(422, 'unscorable', scrub(err.message));
        throw err;
      }
      // traffic with addresses: the pairs ranked by check-in regularity (no baseline here)
      let beacons: BeaconReport | null = null;
      if (input.identity && isTrafficFormat(input.format)) {
        beacons = await beaconReport({ inputs: [path], format: input.format });
        stillWanted('ranking beacons');
      }
      const id = randomUUID();
      batches.set(id, { id, created: Date.now(), records: scored.records, format: input.format });
      while (batches.size > maxBatches) batches.delete(batches.keys().next().value!);
      const order = scored.records
        .map((_, i) => i)
        .sort((a, b) => scored.records[b]!.anomaly_score - scored.records[a]!.anomaly_score);
      const display = displayFields(st, input.table);
      const rows = order.slice(0, top).map((i) => {
        const r = scored.records[i]!;
        const fields: Record<string, string | number> = {};
        for (const f of display) {
          const col = input.table.numeric[f] ?? input.table.text[f];
          if (col) fields[f] = col[i] as number | string;
        }
        return { ...r, verdict: r.is_anomaly ? 'anomalous' : 'normal', fields };
      });
      const names = st.profiles;
      const perCluster = Object.entries(scored.summary.perCluster)
        .map(([c, v]) => ({
          cluster: Number(c),
          ...v,
          tags: names[Number(c)]?.tags ?? [],
          name: v.name ?? names[Number(c)]?.name,
        }))
        .sort((a, b) => b.rows - a.rows);
      return {
        id,
        download: `/api/batch/${id}.csv`,
        format: input.format,
        rows: scored.summary.rows,
        anomalies: scored.summary.anomalies,
        anomaly_share: scored.summary.anomalyShare,
        threshold: scored.summary.threshold,
        ingest: {
          rows_read: input.report.rowsRead,
          rows_kept: input.report.rowsKept,
          rows_quarantined: input.report.rowsSkipped,
          reasons: input.report.reasons,
          warnings: input.report.warnings.slice(0, 20).map(scrub),
        },
        unknown_categories: scored.summary.unknownCategories,
        imputed: scored.summary.imputed,
        display_fields: display,
        top: rows,
        per_cluster: perCluster,
        hosts: hostsJson(scored.summary.hosts, st.model.detector.training.host?.windowSeconds ?? null),
        beacons: beaconsJson(beacons),
      };
    } finally {
      // Cleanup never replaces the answer: a directory that cannot be removed now is logged.
      await rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch((err: Error) =>
        log(`[web] could not remove the upload directory ${dir}: ${err.message}`),
      );
    }
  }

  const server: Server = createServer((req, res) => {
    const t0 = performance.now();
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      sendError(res, new HttpError(400, 'bad_request', 'bad URL'));
      return;
    }
    res.on('finish', () => {
      log(`[web] ${req.method} ${url.pathname} ${res.statusCode} ${(performance.now() - t0).toFixed(1)}ms`);
    });
    handle(req, res, url).catch((err: unknown) => {
      if (err instanceof ClientGone) {
        batchesAbandoned++;
        log(`[web] ${req.method} ${url.pathname}: ${err.message}`);
        return;
      }
      if (err instanceof HttpError) {
        if (err.status >= 500) log(`[web] ${req.method} ${url.pathname}: ${err.message}`);
        sendError(res, err);
        return;
      }
      const ref = randomUUID().slice(0, 8);
      log(`[web] error ${ref} on ${req.method} ${url.pathname}: ${(err as Error)?.stack ?? String(err)}`);
      sendError(
        res,
        new HttpError(
          500,
          'internal',
          `something went wrong on the server (reference ${ref}); details are in the server log`,
        ),
      );
    });
  });
  server.requestTimeout = 120_000;
  server.headersTimeout = 20_000;
  server.maxHeadersCount = 100;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8501, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}`;
  log(`[web] netanomaly app on ${url}${token ? ' (token required: open /?token=… once)' : ''}`);
  return {
    url,
    host,
    port,
    token,
    state: current,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const FeedbackSchema = z.strictObject({
  scope: z.enum(SCOPES),
  verdict: z.enum(VERDICTS),
  match: z.record(z.string(), z.union([z.string().max(200), z.number().int().min(0).max(65535)])),
  who: z.string().min(1).max(100),
  note: z.string().max(2000).optional(),
});

const RenameSchema = z.strictObject({
  name: z.string().min(1).max(60),
  note: z.string().max(500).optional(),
});
const PredictSchema = z.strictObject({ flow: z.record(z.string(), z.unknown()) });
const RawSchema = z.strictObject({ line: z.string().min(1).max(4000) });

/** A refused request's body is read and dropped (bounded), so the connection stays usable. */
function drainBody(req: IncomingMessage, bound = 1024 * 1024): void {
  let seen = 0;
  req.on('data', (c: Buffer) => {
    seen += c.length;
    if (seen > bound) req.destroy();
  });
  req.on('error', () => {});
  req.resume();
}

function clean(s: string): string {
  return (
    s
      // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
      .replace(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
  );
}

async function readHead(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Formats that are certainly not traffic data, named for a friendly message. */
function refuseKind(head: Buffer): string | null {
  const hex = head.toString('hex');
  const kinds: [string, string][] = [
    ['25504446', 'a PDF document'],
    ['504b0304', 'a ZIP archive (unzip it and upload the file inside)'],
    ['89504e47', 'a PNG image'],
    ['ffd8ff', 'a JPEG image'],
    ['47494638', 'a GIF image'],
    ['7f454c46', 'an executable (ELF)'],
    ['4d5a', 'a Windows executable'],
    ['425a68', 'a bzip2 archive (decompress it first)'],
    ['fd377a585a00', 'an xz archive (decompress it first)'],
    ['377abcaf271c', 'a 7-Zip archive'],
    ['d0cf11e0', 'an old Office document'],
    ['80', 'a Python pickle (models and pickles are never loaded)'],
  ];
  for (const [magic, what] of kinds) {
    if (hex.startsWith(magic))
      return `this file looks like ${what}, not traffic data (CSV, NSL-KDD/KDD99 text, pcap or Zeek log)`;
  }
  return null;
}

function displayFields(st: ModelState, table: { numeric: object; text: object }): string[] {
  const prefer = st.kddModel
    ? ['protocol_type', 'service', 'flag', 'src_bytes', 'dst_bytes', 'count']
    : ['protocol', 'conn_state', 'port_class', 'duration', 'fwd_bytes', 'bwd_bytes'];
  const have = (f: string) => f in table.numeric || f in table.text;
  const out = prefer.filter(have);
  if (out.length >= 3) return out;
  return st.schema
    .map((f) => f.name)
    .filter(have)
    .slice(0, 6);
}

function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`; // no spreadsheet formulas
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function recordsCsv(records: ScoredRecord[]): string {
  const cols = [
    'row',
    'anomaly_score',
    'risk_score',
    'is_anomaly',
    'cluster',
    'cluster_name',
    'label',
    'src_ip',
    'src_port',
    'dst_ip',
    'dst_port',
    'protocol',
    'start_time',
    'community_id',
  ] as const;
  const present = cols.filter((c) => records.some((r) => r[c] !== undefined));
  const lines = [present.join(',')];
  for (const r of records) lines.push(present.map((c) => csvCell(r[c])).join(','));
  return `${lines.join('\n')}\n`;
}

function modelInfo(st: ModelState) {
  const det = st.model.detector;
  const card = st.model.card;
  const elbow = card.elbow as
    | { knee?: number | null; recommended?: number; rationale?: string; mode?: string }
    | undefined;
  return {
    model: {
      dir: st.model.dir,
      sha256: st.model.sha256,
      created: card.createdAt,
      data: card.data,
      fields: st.schema.length,
    },
    k: det.k,
    k_choice: card.kChoice,
    ensemble_ks: det.exportRuns().map((r) => r.k),
    threshold: det.threshold,
    target_fpr: det.options.targetFpr,
    calibration_fpr: det.training.calibrationFpr,
    training: {
      rows: det.training.rows,
      fit_rows: det.training.fitRows,
      calibration_rows: det.training.calibrationRows,
      calibration: det.training.calibration ?? 'holdout',
    },
    elbow: elbow
      ? {
          knee: elbow.knee ?? null,
          recommended: elbow.recommended,
          rationale: elbow.rationale,
          mode: elbow.mode,
        }
      : null,
    evaluation: card.evaluation ?? null,
    sample: st.sample
      ? { source: st.sample.source, rows: st.sample.scores.length, source_rows: st.sample.sourceRows }
      : null,
    figures: st.figures,
  };
}

/**
 * The host windows of a batch for the page: the flagged ones (or, without a host threshold in the
 * model, the highest-scoring), with window, score against the threshold, flows and evidence.
 */
const TRAFFIC_FORMATS = ['pcap', 'zeek', 'cic', 'netflow', 'goflow2'] as const;
const isTrafficFormat = (f: string): f is (typeof TRAFFIC_FORMATS)[number] =>
  (TRAFFIC_FORMATS as readonly string[]).includes(f);

/** The beacon report of a batch: the ten most regular pairs, with their evidence. */
function beaconsJson(r: BeaconReport | null) {
  if (!r) return null;
  return {
    ranked: r.pairs.length,
    pairs_seen: r.pairs_seen,
    top: r.pairs.slice(0, 10).map((p) => ({
      src_ip: p.src_ip,
      dst_ip: p.dst_ip,
      dst_ports: p.dst_ports,
      names: p.names,
      connections: p.connections,
      ts_score: p.ts_score,
      ds_score: p.ds_score,
      score: p.score,
      interval_s: p.interval_s,
      interval_mad_s: p.interval_mad_s,
      bytes: p.bytes,
      evidence: p.community_ids,
    })),
  };
}

function hostsJson(hosts: ScoreSummary['hosts'], windowSeconds: number | null) {
  if (!hosts) return null;
  const iso = (t: number) => (Number.isFinite(t) ? new Date(t * 1000).toISOString() : null);
  return {
    windows: hosts.windows,
    flagged: hosts.flagged,
    threshold: hosts.threshold,
    window_seconds: windowSeconds,
    top: hosts.top.map((h) => ({
      host: h.host,
      window_start: iso(h.windowStart),
      score: h.hostScore,
      is_anomaly: h.isAnomaly,
      flows: h.flows,
      flagged_flows: h.flaggedFlows,
      max_score: h.maxScore,
      evidence: h.evidence,
    })),
  };
}
