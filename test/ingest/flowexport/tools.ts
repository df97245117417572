/**
 * Real exporters and decoders for the flow-export tests (Debian softflowd and nfdump, started and
 * stopped here; every socket on 127.0.0.1): softflowd replaying a capture into a UDP port, our
 * collector receiving it, nfcapd receiving a replay of the same datagrams and nfdump printing them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExportFlow } from '../../../src/ingest/flowexport/biflow.ts';
import { FlowCollector } from '../../../src/ingest/flowexport/collector.ts';
import type { Counters } from '../../../src/ingest/traffic/pcap.ts';
import { type ProcessResult, runProcess } from '../../helpers/process.ts';

export const DATA = process.env.NETANOMALY_DATA_DIR ?? '';
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A UDP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

/** Run a command to its end (bounded by `timeoutMs`, then killed); stdout, stderr, exit code. */
export function run(
  cmd: string,
  args: string[],
  timeoutMs = 60_000,
  env: NodeJS.ProcessEnv = {},
): Promise<ProcessResult> {
  return runProcess(cmd, args, { env: { ...process.env, TZ: 'UTC', ...env }, timeoutMs });
}

/**
 * softflowd reading a capture and exporting to 127.0.0.1:port (-a: flow times from the capture,
 * -c none: no control socket, so it exits at the end of the file; -d: foreground). In -r mode
 * softflowd expires no flow by time: every flow ends at the end of the file.
 */
export async function softflowd(
  pcap: string,
  port: number,
  version: 5 | 9 | 10,
  extra: string[] = [],
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sfd-'));
  try {
    const r = await run(
      'softflowd',
      [
        '-d',
        '-a',
        '-r',
        pcap,
        '-n',
        `127.0.0.1:${port}`,
        '-v',
        String(version),
        '-p',
        join(dir, 'pid'),
        '-c',
        'none',
        ...extra,
      ],
      60_000,
    );
    if (r.code !== 0) throw new Error(`softflowd exited ${r.code}: ${r.stderr.slice(-500)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Collected {
  flows: ExportFlow[];
  counters: Counters;
  collector: FlowCollector;
}

/** softflowd exporting `pcap` into our collector; flows once the exports stop (stitch window 1 s). */
export async function exportInto(
  pcap: string,
  version: 5 | 9 | 10,
  extra: string[] = [],
  keep = 100_000,
): Promise<Collected> {
  const counters: Counters = {};
  const collector = await FlowCollector.start({
    port: 0,
    keepDatagrams: keep,
    counters,
    stitch: { window: 1 },
  });
  await softflowd(pcap, collector.address().port, version, extra);
  // the last datagrams are in flight on loopback: wait until nothing came for 300 ms
  const port = collector.address().port;
  const busy = () =>
    (udpRxQueue(port) ?? 0) > 0 ||
    collector.lastDatagramAt === null ||
    Date.now() / 1000 - collector.lastDatagramAt < 0.3;
  for (let i = 0; i < 100 && busy(); i++) await sleep(100);
  await collector.close();
  return { flows: collector.drain(), counters, collector };
}

/** The receive queue (bytes) of the UDP socket bound to 127.0.0.1:port, or null while none is bound. */
export function udpRxQueue(port: number): number | null {
  const hex = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === hex) return Number.parseInt(f[4]!.split(':')[1]!, 16);
  }
  return null;
}

/** Replay datagrams to nfcapd (127.0.0.1) and return nfdump's JSON records of what it stored. */
export async function nfdumpDecode(
  datagrams: readonly { data: Uint8Array }[],
): Promise<Record<string, unknown>[]> {
  const dir = mkdtempSync(join(tmpdir(), 'nfcapd-'));
  const port = await freePort();
  const nfcapd = spawn('nfcapd', ['-p', String(port), '-b', '127.0.0.1', '-w', dir, '-B', String(8 << 20)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TZ: 'UTC' },
  });
  let err = '';
  nfcapd.stderr.on('data', (d) => {
    err += d;
  });
  const closed = new Promise<void>((r) => nfcapd.on('close', () => r()));
  try {
    // nfcapd prints no readiness signal: wait until its socket is bound
    for (let i = 0; udpRxQueue(port) === null; i++) {
      if (i > 200 || nfcapd.exitCode !== null)
        throw new Error(`nfcapd did not bind 127.0.0.1:${port}: ${err.slice(-300)}`);
      await sleep(50);
    }
    const s = createSocket('udp4');
    for (let i = 0; i < datagrams.length; i++) {
      const d = datagrams[i]!.data;
      await new Promise<void>((r, j) => s.send(d, port, '127.0.0.1', (e) => (e ? j(e) : r())));
      if (i % 16 === 15) await sleep(2); // loopback socket buffers: do not outrun nfcapd
    }
    s.close();
    // and until it has read every datagram from its socket before stopping it
    for (let i = 0; (udpRxQueue(port) ?? 0) > 0 && i < 200; i++) await sleep(50);
    await sleep(200);
    nfcapd.kill('SIGTERM');
    await closed;
    const files = readdirSync(dir).filter((f) => f.startsWith('nfcapd.') && !f.includes('current'));
    if (files.length === 0) throw new Error(`nfcapd wrote no file: ${err.slice(-500)}`);
    const out: Record<string, unknown>[] = [];
    for (const f of files.sort()) {
      const r = spawnSync('nfdump', ['-r', join(dir, f), '-o', 'json'], {
        encoding: 'utf8',
        env: { ...process.env, TZ: 'UTC' },
        maxBuffer: 256 << 20,
      });
      if (r.status !== 0) throw new Error(`nfdump failed: ${r.stderr}`);
      const text = r.stdout.trim();
      if (text) out.push(...(JSON.parse(text) as Record<string, unknown>[]));
    }
    return out;
  } finally {
    if (nfcapd.exitCode === null) {
      nfcapd.kill('SIGKILL');
      await closed;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
