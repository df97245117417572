/**
 * `collect --listen udp://127.0.0.1:2055 [-o flows.jsonl]`: a flow-export collector (NetFlow v5/v9,
 * IPFIX, sFlow v5 on one UDP port) writing canonical biflows as JSON lines (window features set as
 * they complete). Binds 127.0.0.1 unless told otherwise. Stops on SIGINT/SIGTERM, after
 * `--duration` s, or `--max-idle` s without a datagram (once one came); then the open flows are
 * flushed and one health line (datagrams, records, sequence gaps, template misses, sampling) goes to
 * stderr. `--stats FILE` appends the export health as JSON lines every `--stats-interval` s.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { FlowCollector, parseListen } from '../../ingest/flowexport/collector.ts';
import { flowJson } from '../../ingest/flowexport/output.ts';
import { WindowState } from '../../ingest/traffic/windows.ts';

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number of seconds > 0');
  return n;
}

const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function registerCollectCommand(program: Command): void {
  program
    .command('collect')
    .description('receive NetFlow v5/v9, IPFIX and sFlow exports on a UDP port and write canonical flows')
    .requiredOption('--listen <udp://HOST:PORT>', 'where to listen (HOST defaults to 127.0.0.1)')
    .option('-o, --out <file>', 'flows as JSON lines (- for stdout)', '-')
    .option(
      '--stats <file>',
      'append export health (sequence gaps, template misses, sampling, records/s) as JSON lines',
    )
    .option('--stats-interval <s>', 'seconds between health lines', seconds, 10)
    .option('--stitch-window <s>', 'seconds a flow waits for its other direction', seconds, 10)
    .option('--max-idle <s>', 'stop after this many seconds without a datagram (once one arrived)', seconds)
    .option('--duration <s>', 'stop after this many seconds', seconds)
    .option(
      '--save-pcap <file>',
      'also write the received datagrams as a pcap (replay with --format netflow)',
    )
    .action(async (o) => {
      const { host, port } = parseListen(o.listen);
      const keep = o.savePcap ? 1_000_000 : 0;
      const collector = await FlowCollector.start({
        host,
        port,
        keepDatagrams: keep,
        stitch: { window: o.stitchWindow },
      });
      const a = collector.address();
      process.stderr.write(`collecting on udp://${a.host}:${a.port}\n`);
      let out: WriteStream | NodeJS.WriteStream = process.stdout;
      if (o.out !== '-') {
        await mkdir(dirname(o.out), { recursive: true });
        out = createWriteStream(o.out, { flags: 'a' });
      }
      const windows = new WindowState(collector.counters);
      let flows = 0;
      const write = async (list: ReturnType<FlowCollector['drain']>) => {
        if (list.length === 0) return;
        const lines: string[] = [];
        for (const f of list) {
          windows.push(f);
          lines.push(JSON.stringify(flowJson(f)));
        }
        flows += list.length;
        if (!out.write(`${lines.join('\n')}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
      };
      let stop = false;
      const onSignal = () => {
        stop = true;
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const started = Date.now();
      let lastStats = Date.now();
      const stats = async () => {
        if (!o.stats) return;
        const line = {
          time: new Date().toISOString(),
          flows,
          counters: collector.counters,
          health: collector.source.decoder.snapshot(),
        };
        await appendFile(o.stats, `${JSON.stringify(line)}\n`);
      };
      while (!stop) {
        await wait(100);
        collector.tick();
        await write(collector.drain());
        const now = Date.now();
        if (o.duration && (now - started) / 1000 >= o.duration) break;
        const idle = () =>
          collector.lastDatagramAt !== null && Date.now() / 1000 - collector.lastDatagramAt >= o.maxIdle;
        if (o.maxIdle && idle()) {
          // let the event loop read what the socket holds (a descheduled process) before deciding
          await new Promise((r) => setImmediate(r));
          await wait(50);
          if (idle()) break;
        }
        if ((now - lastStats) / 1000 >= o.statsInterval) {
          lastStats = now;
          await stats();
        }
      }
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await collector.close();
      await write(collector.drain());
      await stats();
      if (o.savePcap) await collector.savePcap(o.savePcap);
      if (out !== process.stdout) await new Promise<void>((r) => (out as WriteStream).end(r));
      const snap = collector.source.decoder.snapshot();
      const c = collector.counters;
      const lost = snap.domains
        .filter((d) => d.lost > 0)
        .map((d) => `${d.exporter}/${d.domain} v${d.version}: ${d.lost} ${d.lost_unit}`);
      process.stderr.write(
        `${flows} flows from ${snap.datagrams} datagrams (${snap.records} records) → ${o.out}; ` +
          `exporters ${snap.domains.length}, template misses ${c.template_misses ?? 0}, sequence gaps ${lost.length ? lost.join(', ') : 'none'}, ` +
          `sampling ${[...new Set(snap.domains.map((d) => d.sampling_rate))].join('/') || '-'}\n`,
      );
    });
}
