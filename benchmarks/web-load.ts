/**
 * The web app under load, on loopback, with wrk (Debian) and slowhttptest:
 *
 *   1. throughput: POST /api/predict, /api/predict/raw, /api/batch, one at a time (wrk -d bounded):
 *      requests/s, p50 / p99, non-2xx and socket errors (must be 0);
 *   2. soak: the three endpoints at once for --soak seconds, server RSS sampled every second
 *      (median of the first and last fifth, max); each phase starts once the server scores no
 *      upload left over from the one before, and the upload wrk waits Retry-After after a 429;
 *   3. slow clients: slowhttptest slow headers (Slowloris) and slow body (R-U-Dead-Yet) while wrk
 *      measures /api/predict/raw: other users still answered, 0 errors, p99 beside the baseline;
 *   4. limits under load: with a rate limit (--rate-limit, default 10/s per client) wrk gets 429s past it;
 *      oversized bodies (100 KB JSON, 3 MB upload) are all 413, and the server answers afterwards.
 *
 *   node_modules/.bin/tsx benchmarks/web-load.ts [--model DIR] [--duration 20] [--soak 120] [--json]
 *
 * The server is the real CLI (`netanomaly app`) in its own process; without --model a model is
 * trained first with `netanomaly train` on NSL-KDD's 20 % file (NETANOMALY_DATA_DIR).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KDD_FEATURES } from '../src/ingest/kdd.ts';

const run = promisify(execFile);
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const duration = Number(arg('duration', '20'));
const soak = Number(arg('soak', '120'));
const data = process.env.NETANOMALY_DATA_DIR;
if (!data) throw new Error('NETANOMALY_DATA_DIR is not set');
const cli = ['--import', 'tsx', 'src/cli/main.ts'];
const work = await mkdtemp(join(tmpdir(), 'netanomaly-web-load-'));

let modelDir = arg('model', '');
if (!modelDir) {
  modelDir = join(work, 'model');
  await run(
    process.execPath,
    [
      ...cli,
      'train',
      join(data, 'nsl-kdd/KDDTrain+_20Percent.txt'),
      '--format',
      'nsl-kdd',
      '--k',
      '16',
      '-o',
      modelDir,
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
}

// Bodies: a real flow, a real raw line, a 200-line upload (KDDTest+), and oversized ones.
const lines = (await readFile(join(data, 'nsl-kdd/KDDTest+.txt'), 'utf8')).split('\n').filter(Boolean);
const v = lines[0]!.split(',');
const flow = Object.fromEntries(
  KDD_FEATURES.map((f, i) => [f.name, f.kind === 'categorical' ? v[i]! : Number(v[i])]),
);
const bodies = {
  predict: JSON.stringify({ flow }),
  raw: JSON.stringify({ line: lines[1] }),
  batch: `${lines.slice(0, 200).join('\n')}\n`,
  bigJson: JSON.stringify({ flow: { ...flow, pad: 'x'.repeat(100 * 1024) } }),
  bigUpload: `${lines.join('\n')}\n`.repeat(7).slice(0, 21 * 1024 * 1024),
};
for (const [k, b] of Object.entries(bodies)) await writeFile(join(work, `${k}.body`), b);

/**
 * wrk script: one method, body file and content type; counts statuses (one thread). With
 * `retryAfter`, a 429 makes the next request wait its Retry-After (the uploads: a client should);
 * without, wrk keeps hammering (the rate-limit check wants exactly that).
 */
async function script(name: string, body: string, type: string, retryAfter = false): Promise<string> {
  const path = join(work, `${name}.lua`);
  await writeFile(
    path,
    `local f = io.open("${join(work, `${body}.body`)}", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "${type}"
counts = {}
local threads = {}
local wait = 0
function setup(thread)
  table.insert(threads, thread)
end
-- A 429 carries Retry-After (seconds): with retryAfter, the next request waits that long.
function delay()
  local d = wait
  wait = 0
  return d
end
function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  if ${retryAfter} and status == 429 then wait = 1000 * (tonumber(headers["Retry-After"] or headers["retry-after"]) or 1) end
end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for s, n in pairs(t:get("counts")) do total[s] = (total[s] or 0) + n end
  end
  local parts = {}
  for s, n in pairs(total) do parts[#parts + 1] = '"' .. s .. '":' .. n end
  io.write("STATUS {" .. table.concat(parts, ",") .. "}\\n")
end
`,
  );
  return path;
}

interface WrkResult {
  rps: number;
  p50ms: number;
  p99ms: number;
  requests: number;
  statuses: Record<string, number>;
  non2xx: number;
  socketErrors: number;
}

const ms = (s: string): number => {
  const m = /([\d.]+)(us|ms|s)/.exec(s);
  if (!m) return Number.NaN;
  const x = Number(m[1]);
  return m[2] === 'us' ? x / 1000 : m[2] === 's' ? x * 1000 : x;
};

async function wrk(url: string, lua: string, seconds: number, conns: number): Promise<WrkResult> {
  // A batch of 200 rows may take seconds on a loaded machine: wrk's time-out is generous.
  const { stdout } = await run(
    'wrk',
    ['-t1', `-c${conns}`, `-d${seconds}s`, '--timeout', '30s', '--latency', '-s', lua, url],
    {
      timeout: (seconds + 60) * 1000,
    },
  );
  const num = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const statuses = JSON.parse(/STATUS (\{.*\})/.exec(stdout)?.[1] ?? '{}');
  return {
    rps: Math.round(num(/Requests\/sec:\s+([\d.]+)/)),
    p50ms: ms(/ 50%\s+(\S+)/.exec(stdout)?.[1] ?? ''),
    p99ms: ms(/ 99%\s+(\S+)/.exec(stdout)?.[1] ?? ''),
    requests: num(/(\d+) requests in/),
    statuses,
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    socketErrors: sock ? sock.slice(1).reduce((s, x) => s + Number(x), 0) : 0,
  };
}

interface Server {
  proc: ChildProcess;
  url: string;
  rss: number[];
  stop(): Promise<void>;
}

async function server(extra: string[]): Promise<Server> {
  const proc = spawn(process.execPath, [...cli, 'app', '--model', modelDir, '--port', '0', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stderr!.resume();
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c) => {
      out += c;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`app exited (${code})`)));
  });
  const rss: number[] = [];
  const timer = setInterval(async () => {
    try {
      const status = await readFile(`/proc/${proc.pid}/status`, 'utf8');
      rss.push(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
    } catch {}
  }, 1000);
  return {
    proc,
    url,
    rss,
    stop: async () => {
      clearInterval(timer);
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    },
  };
}

const predictLua = await script('predict', 'predict', 'application/json');
const rawLua = await script('raw', 'raw', 'application/json');
const batchLua = await script('batch', 'batch', 'application/octet-stream', true);
const bigJsonLua = await script('bigjson', 'bigJson', 'application/json');
const bigUploadLua = await script('bigupload', 'bigUpload', 'application/octet-stream');
const os = await import('node:os');
const report: Record<string, unknown> = {
  duration,
  soak,
  cores: os.cpus().length,
  loadavgAtStart: os.loadavg(),
};

// 1. Throughput, rate limit off.
const s1 = await server(['--rate-limit', '0']);
const throughput = {
  predict: await wrk(`${s1.url}/api/predict`, predictLua, duration, 8),
  'predict/raw': await wrk(`${s1.url}/api/predict/raw`, rawLua, duration, 8),
  batch: await wrk(`${s1.url}/api/batch`, batchLua, duration, 2),
};
report.throughput = throughput;

/**
 * Waits until the server scores no upload. wrk stops at -d with requests in flight; the server
 * still scores those uploads (their bodies are in) and they hold the upload slots (at most 2
 * scored at once): a phase started at once got 429 `busy` until they ended (the soak's 19 × 429).
 * Two probes at once both answered without 429 = both slots free.
 */
async function uploadsIdle(url: string): Promise<void> {
  const probe = async () =>
    (await fetch(`${url}/api/batch`, { method: 'POST', body: 'a,b\n1,2\n' }).then((r) => r.status)) !== 429;
  for (let i = 0; i < 600; i++) {
    if ((await Promise.all([probe(), probe()])).every(Boolean)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the upload slots stayed busy for a minute after the load stopped');
}

// 2. Soak: all three at once, RSS over the run.
await uploadsIdle(s1.url);
const rssBefore = s1.rss.length;
const soakRuns = await Promise.all([
  wrk(`${s1.url}/api/predict`, predictLua, soak, 4),
  wrk(`${s1.url}/api/predict/raw`, rawLua, soak, 4),
  wrk(`${s1.url}/api/batch`, batchLua, soak, 2),
]);
const rss = s1.rss.slice(rssBefore);
const fifth = Math.max(1, Math.floor(rss.length / 5));
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? 0;
report.soak = {
  predict: soakRuns[0],
  'predict/raw': soakRuns[1],
  batch: soakRuns[2],
  rssMB: {
    samples: rss.length,
    firstFifthMedian: Math.round(median(rss.slice(0, fifth))),
    lastFifthMedian: Math.round(median(rss.slice(-fifth))),
    max: Math.round(Math.max(...rss)),
  },
};

// 3. Slow clients beside a normal one.
const slowUrl = `${s1.url}/api/predict/raw`;
// Slow headers at the predict endpoint; slow bodies at the upload endpoint (it accepts any type;
// /api/predict* answers 415 to slowhttptest's form content type before reading the body).
const slow = async (mode: '-H' | '-B') => {
  const target = mode === '-B' ? `${s1.url}/api/batch` : slowUrl;
  const p = run(
    'slowhttptest',
    [
      mode,
      '-c',
      '400',
      '-r',
      '200',
      '-i',
      '5',
      '-l',
      String(duration + 10),
      '-s',
      '8192',
      '-u',
      target,
      '-p',
      '10',
    ],
    { timeout: (duration + 60) * 1000, maxBuffer: 16 * 1024 * 1024 },
  ).catch((e) => ({ stdout: String(e.stdout ?? ''), stderr: '' }));
  await new Promise((r) => setTimeout(r, 5000));
  const during = await wrk(slowUrl, rawLua, duration, 8);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: slowhttptest colours its report
  const out = (await p).stdout.replace(/\x1b\[[0-9;]*m/g, '');
  const all = (re: RegExp) => [...out.matchAll(re)].map((m) => m[1]!);
  const connected = all(/connected:\s+(\d+)/g).map(Number);
  return {
    during,
    slowConnectionsPeak: Math.max(0, ...connected),
    slowClosedByServer: Number(all(/closed:\s+(\d+)/g).at(-1) ?? 0),
    serviceAvailableAlways: all(/service available:\s+(\w+)/g).every((x) => x === 'YES'),
  };
};
await uploadsIdle(s1.url);
const slowHeaders = await slow('-H');
await uploadsIdle(s1.url);
report.slowClients = { slowHeaders, slowBody: await slow('-B') };
// Oversized bodies (no rate limit in the way): every one 413, before parsing.
const bigJson = await wrk(`${s1.url}/api/predict`, bigJsonLua, Math.min(duration, 10), 4);
await uploadsIdle(s1.url);
const bigUpload = await wrk(`${s1.url}/api/batch`, bigUploadLua, Math.min(duration, 10), 2);
await s1.stop();

// 4. Limits under load: default rate limit, oversized bodies.
// The rate limit is set below what this machine serves (a loaded 2-core box), so it is reached.
const rateLimit = Number(arg('rate-limit', '10'));
const s2 = await server(['--rate-limit', String(rateLimit)]);
const limited = await wrk(`${s2.url}/api/predict/raw`, rawLua, duration, 8);
const after = await fetch(`${s2.url}/api/predict/raw`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: bodies.raw,
});
report.limits = {
  rateLimited: { ...limited, acceptedPerSecond: Math.round((limited.statuses['200'] ?? 0) / duration) },
  oversizedJson: bigJson,
  oversizedUpload: bigUpload,
  answersAfterwards: after.status,
};
await s2.stop();
await rm(work, { recursive: true, force: true });

if (process.argv.includes('--json')) {
  console.log(JSON.stringify(report, null, 2));
} else {
  const row = (name: string, r: WrkResult) =>
    `${name.padEnd(26)} ${String(r.rps).padStart(6)} req/s  p50 ${r.p50ms.toFixed(1)} ms  p99 ${r.p99ms.toFixed(1)} ms  requests ${r.requests}  statuses ${JSON.stringify(r.statuses)}  socket errors ${r.socketErrors}`;
  for (const [k, r] of Object.entries(throughput)) console.log(row(`throughput ${k}`, r));
  for (const k of ['predict', 'predict/raw', 'batch'] as const)
    console.log(row(`soak ${k}`, (report.soak as Record<string, WrkResult>)[k]!));
  console.log(`soak RSS MB: ${JSON.stringify((report.soak as { rssMB: unknown }).rssMB)}`);
  const sc = report.slowClients as Record<
    string,
    {
      during: WrkResult;
      slowConnectionsPeak: number;
      slowClosedByServer: number;
      serviceAvailableAlways: boolean;
    }
  >;
  for (const [k, r] of Object.entries(sc)) {
    console.log(
      row(`raw during ${k}`, r.during),
      ` slow connections peak ${r.slowConnectionsPeak}, closed by the server ${r.slowClosedByServer}, probe always answered: ${r.serviceAvailableAlways}`,
    );
  }
  const l = report.limits as Record<string, WrkResult & { acceptedPerSecond?: number }>;
  console.log(
    row(`rate limit ${rateLimit}/s`, l.rateLimited!),
    ` accepted ${l.rateLimited!.acceptedPerSecond}/s`,
  );
  console.log(row('100 KB JSON (limit 64 KB)', l.oversizedJson!));
  console.log(row('21 MB upload (limit 20 MB)', l.oversizedUpload!));
  console.log(
    `answers afterwards: ${String(l.answersAfterwards)}; load average at start ${(report.loadavgAtStart as number[]).map((x) => x.toFixed(1))}, at the end ${os.loadavg().map((x) => x.toFixed(1))}`,
  );
}
