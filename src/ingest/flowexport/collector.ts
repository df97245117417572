/**
 * The live UDP collector: export datagrams (NetFlow v5/v9, IPFIX, sFlow) on a UDP socket → flows.
 * It binds 127.0.0.1 unless told otherwise (`udp://HOST:PORT`, `netflow://HOST:PORT`, `[::1]:PORT`).
 *
 * Each datagram is decoded as it arrives (arrival = wall clock); completed flows wait in a queue
 * of at most `maxQueued` (a flood beyond it drops the oldest flows, counted `collector_flows_dropped`)
 * until `drain()`. Datagrams larger than 65,507 bytes cannot arrive; memory is bounded by the
 * queue, the template cache and the stitcher (their own bounds). `tick()` expires the stitcher on
 * the wall clock so flows complete when exports stop.
 * `savePcap(path)` writes the datagrams received so far as a pcap (raw IPv4/UDP), for replay.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { writeFile } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import { InputError } from '../../errors.ts';
import { bump, type Counters } from '../traffic/pcap.ts';
import type { ExportFlow } from './biflow.ts';
import { ExportFlowSource, type FlowExportOptions } from './index.ts';
import { exporterId } from './record.ts';

export { exporterId };

export interface ListenAddress {
  host: string;
  port: number;
}

/** `udp://HOST:PORT`, `netflow://HOST:PORT`, `HOST:PORT` or `:PORT` (host 127.0.0.1). */
export function parseListen(spec: string): ListenAddress {
  const m = /^(?:(?:udp|netflow|sflow|ipfix):\/\/)?(\[[0-9a-fA-F:.]+\]|[^:/[\]]*)?:(\d{1,5})\/?$/.exec(
    spec.trim(),
  );
  if (!m) throw new InputError(`${spec}: expected udp://HOST:PORT (e.g. udp://127.0.0.1:2055)`);
  let host = m[1] ?? '';
  if (host.startsWith('[')) host = host.slice(1, -1);
  if (host === '' || host === 'localhost') host = '127.0.0.1';
  const port = Number(m[2]);
  if (!(port >= 1 && port <= 65535)) throw new InputError(`${spec}: port must be 1..65535`);
  return { host, port };
}

export interface CollectorOptions extends FlowExportOptions {
  host?: string;
  port: number;
  /** Completed flows held until drained (default 100,000). */
  maxQueued?: number;
  /** Keep the raw datagrams (for savePcap), at most this many (default 0 = none). */
  keepDatagrams?: number;
  counters?: Counters;
}

interface Kept {
  ts: number;
  src: string;
  sport: number;
  data: Buffer;
}

export class FlowCollector {
  readonly source: ExportFlowSource;
  readonly counters: Counters;
  private queue: ExportFlow[] = [];
  private readonly maxQueued: number;
  private readonly keep: number;
  private readonly kept: Kept[] = [];
  lastDatagramAt: number | null = null;
  private constructor(
    private readonly socket: Socket,
    opts: CollectorOptions,
  ) {
    this.counters = opts.counters ?? {};
    this.source = new ExportFlowSource(this.counters, opts);
    this.maxQueued = opts.maxQueued ?? 100_000;
    this.keep = opts.keepDatagrams ?? 0;
  }

  static async start(opts: CollectorOptions): Promise<FlowCollector> {
    const host = opts.host ?? '127.0.0.1';
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', recvBufferSize: 8 * 1024 * 1024 });
    const c = new FlowCollector(socket, opts);
    socket.on('message', (msg, rinfo) => c.onMessage(msg, rinfo));
    await new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException) => {
        reject(
          new InputError(
            `udp://${host}:${opts.port}: cannot listen: ${e.code === 'EADDRINUSE' ? 'address in use' : e.message}`,
          ),
        );
      };
      socket.once('error', onError);
      socket.bind(opts.port, host, () => {
        socket.off('error', onError);
        socket.on('error', () => bump(c.counters, 'collector_socket_errors'));
        resolve();
      });
    });
    return c;
  }

  address(): ListenAddress {
    const a = this.socket.address();
    return { host: a.address, port: a.port };
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const now = Date.now() / 1000;
    this.lastDatagramAt = now;
    if (this.kept.length < this.keep)
      this.kept.push({ ts: now, src: rinfo.address, sport: rinfo.port, data: Buffer.from(msg) });
    this.enqueue(this.source.push(msg, exporterId(rinfo.address, rinfo.port), now));
  }

  private enqueue(flows: ExportFlow[]): void {
    for (const f of flows) this.queue.push(f);
    if (this.queue.length > this.maxQueued) {
      const drop = this.queue.length - this.maxQueued;
      this.queue.splice(0, drop);
      bump(this.counters, 'collector_flows_dropped', drop);
    }
  }

  /** Expire stitch groups as of the wall clock. */
  tick(now = Date.now() / 1000): void {
    this.enqueue(this.source.expire(now));
  }

  /** Completed flows so far (the queue is emptied). */
  drain(): ExportFlow[] {
    const q = this.queue;
    this.queue = [];
    return q;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Raw datagrams kept so far (keepDatagrams > 0). */
  datagrams(): readonly Kept[] {
    return this.kept;
  }

  /** Write the kept datagrams as a pcap of raw IPv4 UDP packets (exporter → our port). */
  async savePcap(path: string): Promise<number> {
    await writeFile(path, exportPcap(this.kept, this.address().port));
    return this.kept.length;
  }

  /** Stop listening; remaining groups are flushed into the queue. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
    this.enqueue(this.source.flush());
  }
}

/** A classic pcap (LINKTYPE_RAW) holding the datagrams as IPv4/UDP packets to 127.0.0.1:`dport`. */
export function exportPcap(
  datagrams: readonly { ts: number; src: string; sport: number; data: Uint8Array }[],
  dport: number,
): Buffer {
  const parts: Buffer[] = [];
  const gh = Buffer.alloc(24);
  gh.writeUInt32LE(0xa1b2c3d4, 0);
  gh.writeUInt16LE(2, 4);
  gh.writeUInt16LE(4, 6);
  gh.writeUInt32LE(262144, 16);
  gh.writeUInt32LE(101, 20);
  parts.push(gh);
  for (const d of datagrams) {
    const ipLen = 28 + d.data.length;
    const rec = Buffer.alloc(16 + 28);
    const sec = Math.floor(d.ts);
    rec.writeUInt32LE(sec, 0);
    rec.writeUInt32LE(Math.round((d.ts - sec) * 1e6) % 1e6, 4);
    rec.writeUInt32LE(ipLen, 8);
    rec.writeUInt32LE(ipLen, 12);
    const ip = 16;
    rec[ip] = 0x45;
    rec.writeUInt16BE(ipLen, ip + 2);
    rec[ip + 8] = 64;
    rec[ip + 9] = 17;
    const src = /^\d+\.\d+\.\d+\.\d+$/.test(d.src) ? d.src.split('.').map(Number) : [127, 0, 0, 1];
    for (let i = 0; i < 4; i++) rec[ip + 12 + i] = src[i]!;
    rec[ip + 16] = 127;
    rec[ip + 19] = 1;
    rec.writeUInt16BE(d.sport, ip + 20);
    rec.writeUInt16BE(dport, ip + 22);
    rec.writeUInt16BE(8 + d.data.length, ip + 24);
    parts.push(rec, Buffer.from(d.data.buffer, d.data.byteOffset, d.data.length));
  }
  return Buffer.concat(parts);
}
