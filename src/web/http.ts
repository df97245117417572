/** Small HTTP helpers for the web server: errors with status codes, bounded body reading, replies. */
import type { EventEmitter } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues?: { path: string; message: string }[],
  ) {
    super(message);
  }
}

/** The client closed its connection before the answer: the work for it is dropped, nothing is sent. */
export class ClientGone extends Error {
  override name = 'ClientGone';
}

/**
 * A check that throws ClientGone once `res` closed before it finished (the client went away):
 * long requests call it between their stages, so an abandoned upload frees its slot early.
 */
export function clientGoneCheck(res: ServerResponse): (stage: string) => void {
  let gone = false;
  res.on('close', () => {
    if (!res.writableFinished) gone = true;
  });
  return (stage) => {
    if (gone) throw new ClientGone(`the client left before the answer (stopped after ${stage})`);
  };
}

/**
 * CSP: only 'self'. Plotly injects two fixed <style> elements (one empty, filled through CSSOM);
 * their exact hashes are allowed, nothing else inline.
 */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' 'sha256-ji27qzEtxXZW+7dun6UwjHXJ18e6WAin1VvNtkzIE/o='; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err.status === 413) res.setHeader('connection', 'close');
  if (err.status === 429) res.setHeader('retry-after', '1');
  sendJson(res, err.status, {
    error: { code: err.code, message: err.message, ...(err.issues ? { issues: err.issues } : {}) },
  });
}

/** After replying early (413), discard what the client still sends, up to a bound, then close. */
function drain(req: IncomingMessage, bound = 64 * 1024 * 1024): void {
  let seen = 0;
  req.removeAllListeners('data');
  req.on('data', (c: Buffer) => {
    seen += c.length;
    if (seen > bound) req.destroy();
  });
  req.on('error', () => {});
  req.resume();
}

function tooLarge(limit: number): HttpError {
  return new HttpError(
    413,
    'too_large',
    `the request body is larger than the limit of ${formatBytes(limit)}`,
  );
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(n % (1024 * 1024) ? 1 : 0)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} bytes`;
}

/** Declared length over the limit → 413 before a byte is read (chunked bodies are counted). */
function checkDeclaredLength(req: IncomingMessage, limit: number): void {
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    const n = Number(declared);
    if (!Number.isFinite(n) || n < 0) throw new HttpError(400, 'bad_request', 'invalid Content-Length');
    if (n > limit) {
      drain(req);
      throw tooLarge(limit);
    }
  }
}

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  checkDeclaredLength(req, limit);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        drain(req);
        reject(tooLarge(limit));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      if (done) return;
      done = true;
      reject(new HttpError(400, 'bad_request', `the request body could not be read (${e.message})`));
    });
  });
}

/** Streams the body to a file, counting bytes; over the limit → 413 and the file is incomplete. */
export async function bodyToFile(req: IncomingMessage, path: string, limit: number): Promise<number> {
  checkDeclaredLength(req, limit);
  return new Promise((resolve, reject) => {
    const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    let size = 0;
    let failed = false;
    const fail = (e: HttpError) => {
      if (failed) return;
      failed = true;
      req.unpipe(out);
      drain(req);
      closed(out).then(() => reject(e));
    };
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) fail(tooLarge(limit));
    });
    req.on('error', (e) =>
      fail(new HttpError(400, 'bad_request', `the upload could not be read (${e.message})`)),
    );
    out.on('error', (e) => fail(new HttpError(500, 'internal', `upload storage failed: ${e.message}`)));
    out.on('finish', () => {
      if (!failed) resolve(size);
    });
    req.pipe(out);
  });
}

/**
 * Destroys a file stream and resolves once its descriptor is closed. A stream destroyed while its
 * open() is still pending creates the file afterwards: whoever removes the directory next (the
 * upload cleanup) would race with it (rm failing with ENOTEMPTY: a fuzz finding, web #9).
 */
function closed(stream: EventEmitter & { closed: boolean; destroy(): void }): Promise<void> {
  return new Promise((resolve) => {
    if (stream.closed) return resolve();
    stream.once('close', () => resolve());
    stream.destroy();
  });
}

/** Decompresses the gzip file `src` into `dst`, refusing past `cap` bytes; settles once both files are closed. */
export async function gunzipCapped(src: string, dst: string, cap: number): Promise<void> {
  let n = 0;
  const gunzip = createGunzip();
  gunzip.on('data', (c: Buffer) => {
    n += c.length;
    if (n > cap)
      gunzip.destroy(
        new HttpError(413, 'too_large', `the decompressed upload is larger than ${formatBytes(cap)}`),
      );
  });
  const input = createReadStream(src);
  const out = createWriteStream(dst, { mode: 0o600 });
  try {
    await pipeline(input, gunzip, out);
  } catch (err) {
    await Promise.all([closed(input), closed(out)]);
    if (err instanceof HttpError) throw err;
    throw new HttpError(422, 'unreadable', 'the upload looks gzip-compressed but could not be decompressed');
  }
}

export function parseJson(body: Buffer): unknown {
  if (body.length === 0)
    throw new HttpError(400, 'bad_request', 'the request body is empty; send a JSON object');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'bad_json', 'the request body is not valid JSON');
  }
}

/** zod issues → [{path, message}] with dotted paths, like FastAPI's 422. */
export function zodIssues(
  error: { issues: { path: PropertyKey[]; message: string; code?: string; keys?: string[] }[] },
  prefix = '',
): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  for (const i of error.issues) {
    const base = [prefix, ...i.path.map(String)].filter(Boolean).join('.');
    if (i.code === 'unrecognized_keys' && i.keys) {
      for (const k of i.keys) out.push({ path: base ? `${base}.${k}` : k, message: 'unknown field' });
    } else out.push({ path: base || '(body)', message: i.message });
  }
  return out;
}

/**
 * Token buckets per client (its address): `perSecond` requests a second on average, `burst` at
 * once. `take` answers whether one more request may go now. Idle buckets are dropped once the
 * table passes `maxClients`, so a flood of addresses cannot grow it without bound.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    readonly perSecond: number,
    readonly burst: number,
    private readonly maxClients = 10_000,
  ) {}

  take(client: string, now = performance.now()): boolean {
    let b = this.buckets.get(client);
    if (!b) {
      if (this.buckets.size >= this.maxClients) this.prune(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(client, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private prune(now: number): void {
    const full = (this.burst / this.perSecond) * 1000;
    for (const [k, b] of this.buckets) if (now - b.at > full) this.buckets.delete(k);
    // Still full (a flood of fresh addresses): forget the oldest half.
    if (this.buckets.size >= this.maxClients) {
      let drop = this.buckets.size >> 1;
      for (const k of this.buckets.keys()) {
        if (drop-- <= 0) break;
        this.buckets.delete(k);
      }
    }
  }
}
