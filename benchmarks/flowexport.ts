/**
 * Flow-export decoding speed: NetFlow v9 and IPFIX records per second on one core, with nfdump's
 * nfcapd (Debian) fed the same datagrams in the same run as the baseline.
 *
 * Corpus: softflowd (Debian) exports synscan.pcap and 1kxun.pcap (-v 9, then -v 10) into our
 * collector on 127.0.0.1; the datagrams it received are repeated (sequence numbers rewritten) to
 * about `records` records per version.
 * - ours: `FlowExportDecoder.decode` over the datagrams in memory, and the full path with biflow
 *   stitching (`ExportFlowSource`), best of 3, in CPU seconds of this process (user + system: JS
 *   runs on one core, and CPU time holds on a shared, loaded machine where wall time does not);
 * - nfcapd: the same datagrams sent over UDP loopback (paced so none is dropped), its CPU time
 *   (utime + stime from /proc) for the records it stored (nfdump -I), i.e. records per CPU second.
 *   nfcapd's figure includes its socket reads and file writes; ours is decoding alone (and the
 *   stitched path): the ratio says which side of the baseline we are, not a precise factor.
 *
 * Usage: NETANOMALY_DATA_DIR=../shared/datasets npx tsx benchmarks/flowexport.ts [records]
 */
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlowCollector } from '../src/ingest/flowexport/collector.ts';
import { ExportFlowSource, FlowExportDecoder } from '../src/ingest/flowexport/index.ts';

const data = process.env.NETANOMALY_DATA_DIR;
if (!data) throw new Error('set NETANOMALY_DATA_DIR');
const target = Number(process.argv[2] ?? 500_000);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function corpus(version: 9 | 10): Promise<Buffer[]> {
  const c = await FlowCollector.start({ port: 0, keepDatagrams: 100_000 });
  for (const f of ['attack/synscan.pcap', 'normal/1kxun.pcap']) {
    const dir = mkdtempSync(join(tmpdir(), 'sfd-'));
    spawnSync(
      'softflowd',
      [
        '-d',
        '-a',
        '-r',
        join(data!, 'pcaps', f),
        '-n',
        `127.0.0.1:${c.address().port}`,
        '-v',
        String(version),
        '-p',
        join(dir, 'pid'),
        '-c',
        'none',
      ],
      { stdio: 'ignore' },
    );
    rmSync(dir, { recursive: true, force: true });
  }
  await sleep(300);
  const base = c.datagrams().map((d) => Buffer.from(d.data));
  await c.close();
  return base;
}

function count(dgrams: Buffer[]): number {
  const d = new FlowExportDecoder({});
  let n = 0;
  for (const g of dgrams) n += d.decode(g, '127.0.0.1:1', 1).length;
  return n;
}

/** Repeat the base datagrams until about `target` records, rewriting sequence numbers in order. */
function repeat(base: Buffer[], version: 9 | 10): Buffer[] {
  const per = count(base);
  const times = Math.max(1, Math.round(target / per));
  const out: Buffer[] = [];
  let seq = 0;
  for (let t = 0; t < times; t++) {
    for (const b of base) {
      const x = Buffer.from(b);
      x.writeUInt32BE(seq >>> 0, version === 9 ? 12 : 8);
      seq += version === 9 ? 1 : 0;
      out.push(x);
    }
  }
  return out;
}

/** CPU seconds (user + system) of this process: the figure that holds on a loaded machine. */
function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function ours(dgrams: Buffer[]) {
  let bestDecode = Number.POSITIVE_INFINITY;
  let bestFull = Number.POSITIVE_INFINITY;
  let records = 0;
  let flows = 0;
  for (let r = 0; r < 3; r++) {
    const d = new FlowExportDecoder({});
    const out: unknown[] = [];
    let t0 = cpuNow();
    records = 0;
    for (const g of dgrams) {
      out.length = 0;
      records += d.decode(g, '127.0.0.1:1', 1, out as never).length;
    }
    bestDecode = Math.min(bestDecode, cpuNow() - t0);
    const src = new ExportFlowSource({}, { stitch: { window: 1 } });
    t0 = cpuNow();
    flows = 0;
    for (let i = 0; i < dgrams.length; i++) flows += src.push(dgrams[i]!, '127.0.0.1:1', i * 0.01).length;
    flows += src.flush().length;
    bestFull = Math.min(bestFull, cpuNow() - t0);
  }
  return { records, flows, decodeS: bestDecode, fullS: bestFull };
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]); // utime + stime (fields 14, 15)
}

async function nfcapd(dgrams: Buffer[]) {
  const dir = mkdtempSync(join(tmpdir(), 'nfcapd-bench-'));
  const s0 = createSocket('udp4');
  await new Promise<void>((r) => s0.bind(0, '127.0.0.1', () => r()));
  const port = s0.address().port;
  s0.close();
  const p = spawn('nfcapd', ['-p', String(port), '-b', '127.0.0.1', '-w', dir, '-B', String(64 << 20)], {
    stdio: 'ignore',
  });
  const closed = new Promise<void>((r) => p.on('close', () => r()));
  await sleep(800);
  const hz = 100; // USER_HZ on Linux
  const before = cpuTicks(p.pid!);
  const s = createSocket('udp4');
  const t0 = performance.now();
  for (let i = 0; i < dgrams.length; i++) {
    await new Promise<void>((r) => s.send(dgrams[i]!, port, '127.0.0.1', () => r()));
    if (i % 64 === 63) await sleep(1);
  }
  await sleep(500);
  const cpu = (cpuTicks(p.pid!) - before) / hz;
  const wall = (performance.now() - t0) / 1000;
  s.close();
  p.kill('SIGTERM');
  await closed;
  let stored = 0;
  for (const f of readdirSync(dir).filter((n) => n.startsWith('nfcapd.') && !n.includes('current'))) {
    const r = spawnSync('nfdump', ['-r', join(dir, f), '-I'], { encoding: 'utf8' });
    stored += Number(/^Flows: (\d+)/m.exec(r.stdout)?.[1] ?? 0);
  }
  rmSync(dir, { recursive: true, force: true });
  return { stored, cpu, wall };
}

const rows: string[] = [];
for (const version of [9, 10] as const) {
  const base = await corpus(version);
  const dgrams = repeat(base, version);
  const o = ours(dgrams);
  const n = await nfcapd(dgrams);
  const name = version === 9 ? 'NetFlow v9' : 'IPFIX';
  const oursRate = o.records / o.decodeS;
  const fullRate = o.records / o.fullS;
  const nfRate = n.cpu > 0 ? n.stored / n.cpu : Number.NaN;
  console.log(
    `${name}: ${dgrams.length} datagrams, ${o.records} records; ours decode ${(oursRate / 1e6).toFixed(2)} M rec/CPU-s (${o.decodeS.toFixed(3)} CPU s), ` +
      `decode+stitch ${(fullRate / 1e6).toFixed(2)} M rec/s (${o.flows} flows); nfcapd stored ${n.stored} in ${n.cpu.toFixed(2)} CPU s ` +
      `(${(nfRate / 1e6).toFixed(2)} M rec/CPU-s, wall ${n.wall.toFixed(1)} s); ours/nfcapd ${(oursRate / nfRate).toFixed(2)}×`,
  );
  rows.push(
    `| ${name} | ${o.records.toLocaleString('en')} | ${(oursRate / 1e6).toFixed(2)} M | ${(fullRate / 1e6).toFixed(2)} M | ${(nfRate / 1e6).toFixed(2)} M (${n.stored.toLocaleString('en')} stored) | ${(oursRate / nfRate).toFixed(2)}× |`,
  );
}
console.log(
  [
    '| export | records | ours: decode (rec per CPU s) | ours: decode + stitch | nfcapd (rec per CPU s) | ours / nfcapd |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n'),
);
