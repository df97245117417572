/**
 * Line rate on one large capture (≥ 1 M packets): packets/s through our reader → flow meter →
 * window features → scores, against softflowd (pcap → NetFlow v9 to a local UDP collector) and
 * tshark (`-qz conv,tcp -z conv,udp`) on the same file in the same run. Every tool is timed in wall
 * seconds and in CPU seconds of its own process (user + system: the machine is shared, so CPU
 * seconds are the steadier figure), with its peak RSS; ours also samples its RSS every 250 ms
 * (flat = memory bounded by the open flows, not by the file).
 *
 * Ours is measured twice: streaming (`iterateFlows`, scored in blocks of 8,192 flows: what the
 * watcher does; memory stays bounded) and batch (`readTraffic` then `evaluateRows`: every flow
 * of the file in memory at once, as `netanomaly score` does).
 *
 * The capture is made by benchmarks/make-large-capture.ts when it is missing (default
 * $TMPDIR/netanomaly-large.pcap; `--lab LAB_RUN/capture.pcap` adds a traffic-lab capture once).
 *
 * `--stream-only` measures the streaming run alone (no batch run, softflowd or tshark): with a
 * heap cap (`node --max-old-space-size=256 --import tsx benchmarks/large-capture.ts --stream-only`)
 * it shows that a capture larger than the heap is read in bounded memory.
 *
 * Usage: NETANOMALY_DATA_DIR=../shared/datasets nice -n 10 npx tsx benchmarks/large-capture.ts
 *          [--capture FILE] [--packets 1200000] [--lab FILE] [--no-tshark] [--stream-only]
 * Prints one JSON object on stdout, progress on stderr.
 */
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { flowFieldSpecs } from '../src/features/flow-fields.ts';
import { flowsToTable, iterateFlows, readTraffic } from '../src/ingest/traffic/index.ts';
import { readTrafficMany } from '../src/ingest/traffic/many.ts';
import type { Flow } from '../src/ingest/traffic/schema.ts';
import { AnomalyDetector } from '../src/model/detector.ts';
import { DEFAULT_LARGE_CAPTURE, makeLargeCapture } from './make-large-capture.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : fallback;
};
const log = (s: string) => process.stderr.write(`${s}\n`);
const data = process.env.NETANOMALY_DATA_DIR;
if (!data) throw new Error('set NETANOMALY_DATA_DIR');
const capture = arg('--capture', DEFAULT_LARGE_CAPTURE);
if (!existsSync(capture)) {
  log(`writing ${capture} ...`);
  await makeLargeCapture({
    dataDir: data,
    out: capture,
    packets: Number(arg('--packets', '1200000')),
    lab: arg('--lab', '') || null,
    log,
  });
}
const fileBytes = statSync(capture).size;

interface Measured {
  wall_s: number;
  cpu_s: number;
  peak_rss_mb: number;
}

/** Wall and CPU seconds of this process while `fn` runs, with RSS sampled every 250 ms. */
async function measureOurs<T>(fn: () => Promise<T>): Promise<Measured & { rss_mb: number[]; result: T }> {
  const rss: number[] = [];
  const sample = () => rss.push(Math.round(process.memoryUsage.rss() / 2 ** 20));
  const timer = setInterval(sample, 250);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await fn();
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  clearInterval(timer);
  sample();
  return {
    wall_s: round(wall),
    cpu_s: round((c.user + c.system) / 1e6),
    peak_rss_mb: Math.max(...rss),
    rss_mb: rss,
    result,
  };
}

/** A command under /usr/bin/time: wall, user + system seconds and peak RSS of the child. */
function timed(cmd: string, argv: string[]): Promise<Measured & { exit: number }> {
  return new Promise((resolve, reject) => {
    execFile(
      '/usr/bin/time',
      ['-f', 'TIME %e %U %S %M', cmd, ...argv],
      { maxBuffer: 1 << 28 },
      (err, _stdout, stderr) => {
        const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(stderr);
        if (!m) return reject(new Error(`${cmd}: no timing (${err?.message ?? stderr.slice(-200)})`));
        resolve({
          wall_s: Number(m[1]),
          cpu_s: round(Number(m[2]) + Number(m[3])),
          peak_rss_mb: Math.round(Number(m[4]) / 1024),
          exit: err ? ((err as { code?: number }).code ?? 1) : 0,
        });
      },
    );
  });
}

const round = (x: number) => Math.round(x * 1000) / 1000;

// The model: trained on the normal shared captures (as benchmarks/traffic-ingest.ts).
const normal = await readTrafficMany([join(data, 'pcaps', 'normal')]);
const detector = await new AnomalyDetector(flowFieldSpecs(), { k: 16 }).fit(normal.table);
await detector.evaluateRows(normal.table); // warm: sessions and tables built before the clock
log(`model: ${detector.ensembleSize} runs; capture ${capture}, ${(fileBytes / 2 ** 20).toFixed(0)} MiB`);

const BLOCK = 8192;
const stream = await measureOurs(async () => {
  let packets = 0;
  let flows = 0;
  let anomalies = 0;
  const pending: Flow[] = [];
  const score = async () => {
    const { table } = flowsToTable(pending);
    const s = await detector.evaluateRows(table);
    for (let i = 0; i < s.isAnomaly.length; i++) anomalies += s.isAnomaly[i]!;
    flows += pending.length;
    pending.length = 0;
  };
  const it = iterateFlows(capture, { format: 'pcap' });
  for (;;) {
    const r = await it.next();
    if (r.done) {
      packets = r.value.counters.packets ?? 0;
      break;
    }
    pending.push(r.value);
    if (pending.length >= BLOCK) await score();
  }
  if (pending.length > 0) await score();
  return { packets, flows, anomalies };
});
const packets = stream.result.packets;
log(
  `ours, streaming: ${packets} packets → ${stream.result.flows} scored flows in ${stream.wall_s} s (${stream.cpu_s} CPU s), peak RSS ${stream.peak_rss_mb} MB`,
);

const streamOnly = args.includes('--stream-only');
if (streamOnly) {
  const rate = Math.round(packets / stream.cpu_s);
  process.stdout.write(
    `${JSON.stringify({ capture, file_mb: Math.round(fileBytes / 2 ** 20), packets, flows: stream.result.flows, heap_limit_mb: Math.round(getHeapStatistics().heap_size_limit / 2 ** 20), ours_streaming: { ...stream, result: undefined, packets_per_cpu_s: rate, rss_end_mb: stream.rss_mb.at(-1) } })}\n`,
  );
  process.exit(0);
}

const batch = await measureOurs(async () => {
  const r = await readTraffic(capture, { format: 'pcap' });
  const s = await detector.evaluateRows(r.table);
  return { flows: r.table.nRows, anomalies: s.isAnomaly.reduce((a, b) => a + b, 0) };
});
log(
  `ours, batch: ${batch.result.flows} flows in ${batch.wall_s} s (${batch.cpu_s} CPU s), peak RSS ${batch.peak_rss_mb} MB`,
);

// softflowd: NetFlow v9 datagrams to a UDP socket of ours (counted).
const sock = createSocket('udp4');
let datagrams = 0;
sock.on('message', () => datagrams++);
await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
sock.setRecvBufferSize(1 << 24);
const dir = mkdtempSync(join(tmpdir(), 'netanomaly-sfd-'));
const softflowd = await timed('softflowd', [
  '-d',
  '-a',
  '-r',
  capture,
  '-n',
  `127.0.0.1:${sock.address().port}`,
  '-v',
  '9',
  '-p',
  join(dir, 'pid'),
  '-c',
  'none',
]);
await new Promise((r) => setTimeout(r, 500));
sock.close();
rmSync(dir, { recursive: true, force: true });
log(`softflowd: ${softflowd.wall_s} s (${softflowd.cpu_s} CPU s), ${datagrams} NetFlow datagrams`);

const tshark = args.includes('--no-tshark')
  ? null
  : await timed('tshark', ['-n', '-r', capture, '-q', '-z', 'conv,tcp', '-z', 'conv,udp']);
if (tshark) log(`tshark: ${tshark.wall_s} s (${tshark.cpu_s} CPU s), peak RSS ${tshark.peak_rss_mb} MB`);

const rate = (m: Measured | null) =>
  m
    ? { packets_per_s: Math.round(packets / m.wall_s), packets_per_cpu_s: Math.round(packets / m.cpu_s) }
    : null;
const out = {
  capture,
  file_mb: Math.round(fileBytes / 2 ** 20),
  packets,
  flows: stream.result.flows,
  ours_streaming: { ...stream, result: undefined, rss_mb: stream.rss_mb, ...rate(stream) },
  ours_batch: { ...batch, result: undefined, rss_mb: undefined, ...rate(batch) },
  softflowd: { ...softflowd, datagrams, ...rate(softflowd) },
  tshark: tshark ? { ...tshark, ...rate(tshark) } : null,
  ours_streaming_vs_softflowd_cpu: round(softflowd.cpu_s / stream.cpu_s),
  ours_streaming_vs_tshark_cpu: tshark ? round(tshark.cpu_s / stream.cpu_s) : null,
};
process.stdout.write(`${JSON.stringify(out)}\n`);
