/**
 * Flow-export source for the watcher: SOURCE `netflow://HOST:PORT` (NetFlow v5/v9, IPFIX, sFlow on
 * one UDP port; HOST 127.0.0.1 unless told otherwise). The collector (src/ingest/flowexport)
 * decodes datagrams as they arrive and stitches biflows; completed flows get their window features
 * (in completion order), are scored in micro-batches and their alerts appended through the
 * watcher's sink, as for a live interface (live.ts).
 *
 * Delivery: AT-MOST-ONCE (UDP has no replayable position; `--checkpoint` is ignored). On
 * SIGINT/SIGTERM the socket closes, held flows are flushed, scored and written.
 * event.id = sha256("netflow\0" + listen address + "\0" + exporter + "\0" + flow start + "\0" +
 * Community ID + "\0" + flow index in this run).
 * Stats records carry the export health (`capture`): datagrams as packets, lost export units per
 * the exporters' sequence numbers as drops, and per exporter/domain details under `export`.
 */
import { InputError } from '../errors.ts';
import { FlowCollector, parseListen } from '../ingest/flowexport/collector.ts';
import type { ExportFlow } from '../ingest/flowexport/index.ts';
import { WindowState } from '../ingest/traffic/windows.ts';
import { sha256 } from './alerts.ts';
import { FlowBatches, type LiveHost } from './live.ts';
import type { WatchResult } from './watcher.ts';

export const NETFLOW_PREFIX = 'netflow://';

const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runNetflow(h: LiveHost, stitchWindow = 5): Promise<WatchResult> {
  const source = h.opts.source;
  let addr: { host: string; port: number };
  try {
    addr = parseListen(source);
  } catch {
    throw new InputError(`${source}: expected netflow://HOST:PORT (e.g. netflow://127.0.0.1:2055)`);
  }
  if (h.opts.checkpoint)
    h.log(`${source}: UDP exports have no replayable position; --checkpoint ignored (at-most-once)`);
  const collector = await FlowCollector.start({ ...addr, stitch: { window: stitchWindow } });
  const a = collector.address();
  h.log(`${source}: collecting flow exports on udp://${a.host}:${a.port}`);
  const windows = new WindowState(collector.counters, h.opts.windows);
  h.setCapture(() => {
    const snap = collector.source.decoder.snapshot();
    const lost = snap.domains.reduce((s, d) => s + d.lost, 0);
    return {
      interface: source,
      packets: snap.datagrams,
      received: snap.datagrams,
      dropped: lost,
      loss_pct: snap.datagrams + lost === 0 ? 0 : Math.round((10_000 * lost) / (snap.datagrams + lost)) / 100,
      export: {
        records: snap.records,
        template_misses: collector.counters.template_misses ?? 0,
        templates: snap.templates,
        domains: snap.domains,
        interfaces: snap.interfaces.slice(0, 64),
      },
    } as ReturnType<Parameters<LiveHost['setCapture']>[0]>;
  });
  const batches = new FlowBatches<ExportFlow>(h, windows, (flow, index) => ({
    flow,
    eventId: sha256(
      `netflow\0${source}\0${flow.export.exporter}\0${flow.start_time}\0${flow.community_id}\0${index}`,
    ),
    input: { format: 'flow-export', file: source, offset: index },
  }));
  const signal = h.opts.signal;
  let closed = false;
  try {
    for (;;) {
      if (signal?.aborted && !closed) {
        closed = true;
        await collector.close();
      }
      if (!closed) collector.tick();
      batches.add(collector.drain());
      const sent = await batches.sendDue(closed);
      if (sent === 'refused') return h.finish('signal', false);
      if (sent === 'delivered') continue;
      if (closed && batches.waiting === 0) break;
      await h.tick();
      await wait(Math.min(h.pollMs, 100));
    }
    return h.finish('signal', true);
  } finally {
    if (!closed) await collector.close();
  }
}
