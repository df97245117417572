/**
 * Flow exports in: NetFlow v5 / v9, IPFIX and sFlow v5 datagrams → export records → canonical
 * biflows (biflow.ts), with the capture health the exports themselves reveal (health.ts).
 *
 * - `FlowExportDecoder.decode(datagram, exporter, arrival)`: one UDP payload → records (the version
 *   is read from the first bytes; nothing throws: every fault is counted).
 * - `ExportFlowSource`: decoder + stitcher, `push(datagram, …)` → completed flows.
 * - `netflowFlows(path, report)`: a pcap/pcapng of export packets (UDP payloads) → flows, for
 *   `readTraffic(path, {format: 'netflow'})`.
 * Sources: collector.ts (a UDP listener) and goflow2.ts (GoFlow2's JSON lines).
 */

import type { TrafficReport } from '../traffic/common.ts';
import { warnOnce } from '../traffic/common.ts';
import { bump, type Counters, readPackets } from '../traffic/pcap.ts';
import { type ExportFlow, Stitcher, type StitchOptions } from './biflow.ts';
import { type DomainHealth, ExportHealth } from './health.ts';
import { decodeIpfix } from './ipfix.ts';
import { decodeV5 } from './netflow-v5.ts';
import { decodeV9 } from './netflow-v9.ts';
import { type ExportRecord, exporterId, u16, u32 } from './record.ts';
import { decodeSflow, type InterfaceHealth } from './sflow.ts';
import { TemplateCache, type TemplateCacheOptions } from './templates.ts';
import { udpPayload } from './udp.ts';

export type { ExportFlow, ExportIdentity, StitchOptions } from './biflow.ts';
export type { DomainHealth } from './health.ts';
export type { ExportRecord } from './record.ts';
export type { InterfaceHealth } from './sflow.ts';

/** What the per-version decoders share. */
export interface DecoderContext {
  counters: Counters;
  templates: TemplateCache;
  health: ExportHealth;
  /** Counters of the packet decoder for sFlow's sampled headers (kept apart from capture counters). */
  sampledCounters: Counters;
  noteInterface(h: InterfaceHealth): void;
}

/** A per-version decoder: one datagram from `exporter` that arrived at `arrival` → records appended to `out`. */
export type DatagramDecoder = (
  b: Uint8Array,
  exporter: string,
  arrival: number,
  x: DecoderContext,
  out: ExportRecord[],
) => void;

export interface FlowExportOptions {
  templates?: TemplateCacheOptions;
  stitch?: StitchOptions;
  /** sFlow interfaces remembered for health (default 4096). */
  maxInterfaces?: number;
}

export interface ExportHealthSnapshot {
  datagrams: number;
  records: number;
  domains: DomainHealth[];
  interfaces: InterfaceHealth[];
  templates: number;
  /** Data sets still waiting for a template, by exporter|domain|template id. */
  waiting_for_templates: { key: string; sets: number }[];
}

export class FlowExportDecoder implements DecoderContext {
  readonly templates: TemplateCache;
  readonly health: ExportHealth;
  readonly sampledCounters: Counters = {};
  private readonly interfaces = new Map<string, InterfaceHealth>();
  private readonly maxInterfaces: number;

  constructor(
    readonly counters: Counters = {},
    opts: FlowExportOptions = {},
  ) {
    this.templates = new TemplateCache(counters, opts.templates);
    this.health = new ExportHealth(counters);
    this.maxInterfaces = opts.maxInterfaces ?? 4096;
  }

  noteInterface(h: InterfaceHealth): void {
    const key = `${h.agent}|${h.if_index}`;
    this.interfaces.delete(key);
    if (this.interfaces.size >= this.maxInterfaces)
      this.interfaces.delete(this.interfaces.keys().next().value as string);
    this.interfaces.set(key, h);
  }

  /** Decode one export datagram (a UDP payload) from `exporter`, arrived at `arrival` (epoch s). */
  decode(b: Uint8Array, exporter: string, arrival: number, out: ExportRecord[] = []): ExportRecord[] {
    const c = this.counters;
    bump(c, 'export_datagrams');
    const before = out.length;
    if (b.length < 4) {
      bump(c, 'export_datagram_too_short');
      return out;
    }
    try {
      const v = u16(b, 0);
      if (v === 5) decodeV5(b, exporter, arrival, this, out);
      else if (v === 9) decodeV9(b, exporter, arrival, this, out);
      else if (v === 10) decodeIpfix(b, exporter, arrival, this, out);
      else if (v === 0 && u32(b, 0) === 5) decodeSflow(b, exporter, arrival, this, out);
      else bump(c, 'export_unknown_version');
    } catch (e) {
      // a decoder bug must not take the collector down: count it and keep what was decoded
      bump(c, 'export_decoder_errors');
      if (process.env.NETANOMALY_DEBUG) throw e;
    }
    bump(c, 'export_records', out.length - before);
    return out;
  }

  snapshot(): ExportHealthSnapshot {
    return {
      datagrams: this.counters.export_datagrams ?? 0,
      records: this.counters.export_records ?? 0,
      domains: this.health.snapshot(),
      interfaces: [...this.interfaces.values()],
      templates: this.templates.templateCount,
      waiting_for_templates: this.templates.unresolved(),
    };
  }

  /** Fold the sampled-header decoder's counters in (prefixed `sflow_sampled_`). */
  foldSampledCounters(): void {
    for (const [k, v] of Object.entries(this.sampledCounters)) bump(this.counters, `sflow_sampled_${k}`, v);
    for (const k of Object.keys(this.sampledCounters)) delete this.sampledCounters[k];
  }
}

/** Decoder + stitcher: export datagrams in, completed canonical biflows out. */
export class ExportFlowSource {
  readonly decoder: FlowExportDecoder;
  readonly stitcher: Stitcher;
  private readonly scratch: ExportRecord[] = [];

  constructor(
    readonly counters: Counters = {},
    opts: FlowExportOptions = {},
  ) {
    this.decoder = new FlowExportDecoder(counters, opts);
    this.stitcher = new Stitcher(counters, opts.stitch);
  }

  push(datagram: Uint8Array, exporter: string, arrival: number): ExportFlow[] {
    this.scratch.length = 0;
    this.decoder.decode(datagram, exporter, arrival, this.scratch);
    const out: ExportFlow[] = [];
    for (const r of this.scratch) for (const f of this.stitcher.push(r)) out.push(f);
    if (this.scratch.length === 0) for (const f of this.stitcher.expire(arrival)) out.push(f);
    return out;
  }

  pushRecords(records: ExportRecord[]): ExportFlow[] {
    const out: ExportFlow[] = [];
    for (const r of records) for (const f of this.stitcher.push(r)) out.push(f);
    return out;
  }

  expire(now: number): ExportFlow[] {
    return this.stitcher.expire(now);
  }

  flush(): ExportFlow[] {
    this.decoder.foldSampledCounters();
    return this.stitcher.flush();
  }
}

/** Warnings for what the exports say about the capture (lost datagrams, templates that never came). */
export function healthWarnings(report: TrafficReport, snap: ExportHealthSnapshot): void {
  for (const d of snap.domains) {
    if (d.lost > 0)
      warnOnce(
        report,
        `${report.file}: exporter ${d.exporter} domain ${d.domain} (v${d.version}): ${d.lost} ${d.lost_unit} lost per its sequence numbers`,
      );
  }
  const waiting = snap.waiting_for_templates;
  if (waiting.length > 0) {
    const sets = waiting.reduce((s, w) => s + w.sets, 0);
    warnOnce(
      report,
      `${report.file}: ${sets} data set(s) never decoded: their templates never arrived (${waiting
        .slice(0, 8)
        .map((w) => w.key.split('|').pop())
        .join(', ')}${waiting.length > 8 ? ', …' : ''})`,
    );
  }
}

/** Canonical flows from a pcap/pcapng whose UDP payloads are export datagrams (`--format netflow`). */
export async function* netflowFlows(
  path: string,
  report: TrafficReport,
  opts: FlowExportOptions & { bytes?: Uint8Array } = {},
): AsyncGenerator<ExportFlow, void, undefined> {
  const c = report.counters;
  const src = new ExportFlowSource(c, opts);
  for await (const p of readPackets(path, c, report.warnings, { bytes: opts.bytes })) {
    report.rowsRead++;
    const u = udpPayload(p.linktype, p.data, c);
    if (!u) {
      report.rowsSkipped++;
      continue;
    }
    report.rowsKept++;
    yield* src.push(u.payload, exporterId(u.src, u.sport), p.ts);
  }
  yield* src.flush();
  healthWarnings(report, src.decoder.snapshot());
  if ((c.flows ?? 0) === 0)
    warnOnce(
      report,
      `${path}: 0 flows decoded (${c.export_datagrams ?? 0} export datagrams, ${c.export_records ?? 0} records)`,
    );
}
