/**
 * NetFlow v9 (RFC 3954): header, template and options-template flowsets (cached per exporter
 * address + source ID, templates.ts), data flowsets decoded with their template; a data flowset
 * before its template is buffered (bounded) and decoded when the template arrives.
 * Sequence numbers count export packets per source ID (health.ts).
 */
import { bump } from '../traffic/pcap.ts';
import { compileTemplate, decodeDataSet } from './elements.ts';
import type { DecoderContext } from './index.ts';
import { type ExportRecord, u16, u32 } from './record.ts';
import type { DomainState, HeaderContext, TemplateField } from './templates.ts';

export const V9_HEADER = 20;

/** Decode one NetFlow v9 datagram; records are appended to `out`. */
export function decodeV9(
  b: Uint8Array,
  exporter: string,
  arrival: number,
  x: DecoderContext,
  out: ExportRecord[],
): void {
  const c = x.counters;
  if (b.length < V9_HEADER) {
    bump(c, 'v9_truncated_header');
    return;
  }
  const sysUptime = u32(b, 4);
  const unixSecs = u32(b, 8);
  const seq = u32(b, 12);
  const sourceId = u32(b, 16);
  const ctx: HeaderContext = {
    version: 9,
    exporter,
    domain: sourceId,
    exportTime: unixSecs,
    sysUptime,
    arrival,
  };
  const d = x.templates.domain(exporter, sourceId);
  x.health.sequence(exporter, sourceId, '9', seq, null, arrival);
  const before = out.length;
  let o = V9_HEADER;
  while (o + 4 <= b.length) {
    const setId = u16(b, o);
    const len = u16(b, o + 2);
    if (len < 4) {
      bump(c, 'v9_bad_flowset_length');
      break;
    }
    if (o + len > b.length) {
      bump(c, 'v9_flowset_past_packet');
      break;
    }
    const end = o + len;
    if (setId === 0) v9Templates(b, o + 4, end, d, x, out);
    else if (setId === 1) v9OptionsTemplates(b, o + 4, end, d, x, out);
    else if (setId >= 256) v9Data(b, o + 4, end, setId, d, ctx, x, out);
    else bump(c, 'v9_reserved_flowset');
    o = end;
  }
  x.health.records(exporter, sourceId, '9', out.length - before, arrival);
}

function v9Data(
  b: Uint8Array,
  start: number,
  end: number,
  id: number,
  d: DomainState,
  ctx: HeaderContext,
  x: DecoderContext,
  out: ExportRecord[],
): void {
  const t = x.templates.get(d, id);
  if (!t) {
    bump(x.counters, 'template_misses');
    x.health.templateMiss(ctx.exporter, ctx.domain, '9', ctx.arrival);
    x.templates.buffer(d, id, b.subarray(start, end), ctx);
    return;
  }
  decodeDataSet(b, start, end, t, d, ctx, x.counters, out);
}

function resolvePending(
  d: DomainState,
  id: number,
  x: DecoderContext,
  out: ExportRecord[],
  waiting: ReturnType<DecoderContext['templates']['set']>,
) {
  const t = x.templates.get(d, id);
  if (!t) return;
  for (const p of waiting) {
    bump(x.counters, 'pending_sets_resolved');
    decodeDataSet(p.data, 0, p.data.length, t, d, p.ctx, x.counters, out);
  }
}

function v9Templates(
  b: Uint8Array,
  start: number,
  end: number,
  d: DomainState,
  x: DecoderContext,
  out: ExportRecord[],
) {
  let o = start;
  while (o + 4 <= end) {
    const id = u16(b, o);
    const count = u16(b, o + 2);
    o += 4;
    if (id < 256 || count === 0) {
      if (id === 0 && count === 0) break; // padding
      bump(x.counters, 'v9_bad_template');
      return;
    }
    if (o + count * 4 > end) {
      bump(x.counters, 'v9_template_past_flowset');
      return;
    }
    const fields: TemplateField[] = [];
    for (let i = 0; i < count; i++, o += 4)
      fields.push({ id: u16(b, o), length: u16(b, o + 2), enterprise: 0 });
    if (fields.some((f) => f.length === 65535)) {
      bump(x.counters, 'v9_bad_template');
      continue;
    }
    const waiting = x.templates.set(d, compileTemplate(id, fields, 0, false));
    resolvePending(d, id, x, out, waiting);
  }
}

function v9OptionsTemplates(
  b: Uint8Array,
  start: number,
  end: number,
  d: DomainState,
  x: DecoderContext,
  out: ExportRecord[],
) {
  let o = start;
  while (o + 6 <= end) {
    const id = u16(b, o);
    const scopeLen = u16(b, o + 2);
    const optLen = u16(b, o + 4);
    o += 6;
    if (id < 256 || scopeLen % 4 !== 0 || optLen % 4 !== 0 || scopeLen + optLen === 0) {
      if (id === 0) break; // padding
      bump(x.counters, 'v9_bad_options_template');
      return;
    }
    if (o + scopeLen + optLen > end) {
      bump(x.counters, 'v9_template_past_flowset');
      return;
    }
    const fields: TemplateField[] = [];
    const n = (scopeLen + optLen) / 4;
    for (let i = 0; i < n; i++, o += 4) fields.push({ id: u16(b, o), length: u16(b, o + 2), enterprise: 0 });
    // scope fields use their own type space (1 system, 2 interface, ...): never decode them as elements
    for (let i = 0; i < scopeLen / 4; i++) fields[i] = { ...fields[i]!, id: 0x7fff };
    const waiting = x.templates.set(d, compileTemplate(id, fields, scopeLen / 4, true));
    resolvePending(d, id, x, out, waiting);
  }
}

export { resolvePending };
