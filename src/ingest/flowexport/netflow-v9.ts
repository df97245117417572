/**
 * NetFlow v9 (RFC 3954): header, template and options-template flowsets (cached per exporter
 * address + source ID, templates.ts), data flowsets decoded with their template; a data flowset
 * before its template is buffered (bounded) and decoded when the template arrives.
 * Sequence numbers count export packets per source ID (health.ts).
 */
import { bump } from '../traffic/pcap.ts';
import { compileTemplate } from './elements.ts';
import type { DatagramDecoder, DecoderContext } from './index.ts';
import { type ExportRecord, u16, u32 } from './record.ts';
import { decodeOrBuffer, defineTemplate, forEachSet, type SetFaults } from './sets.ts';
import type { DomainState, HeaderContext, TemplateField } from './templates.ts';

export const V9_HEADER = 20;
const V9_SET_FAULTS: SetFaults = { badLength: 'v9_bad_flowset_length', pastEnd: 'v9_flowset_past_packet' };

/** Decode one NetFlow v9 datagram; records are appended to `out`. */
export const decodeV9: DatagramDecoder = (b, exporter, arrival, x, out) => {
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
  forEachSet(b, V9_HEADER, b.length, c, V9_SET_FAULTS, (setId, body, end) => {
    if (setId === 0) v9Templates(b, body, end, d, x, out);
    else if (setId === 1) v9OptionsTemplates(b, body, end, d, x, out);
    else if (setId >= 256) decodeOrBuffer(b, body, end, setId, d, ctx, x, out);
    else bump(c, 'v9_reserved_flowset');
  });
  x.health.records(exporter, sourceId, '9', out.length - before, arrival);
};

/** `n` v9 template fields (type, length) from `o` on: IANA elements, no enterprise. */
function v9Fields(b: Uint8Array, o: number, n: number): TemplateField[] {
  const fields: TemplateField[] = [];
  for (let i = 0; i < n; i++, o += 4) fields.push({ id: u16(b, o), length: u16(b, o + 2), enterprise: 0 });
  return fields;
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
    const fields = v9Fields(b, o, count);
    o += count * 4;
    if (fields.some((f) => f.length === 65535)) {
      bump(x.counters, 'v9_bad_template');
      continue;
    }
    defineTemplate(compileTemplate(id, fields, 0, false), d, x, out);
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
    const fields = v9Fields(b, o, (scopeLen + optLen) / 4);
    o += scopeLen + optLen;
    // scope fields use their own type space (1 system, 2 interface, ...): never decode them as elements
    for (let i = 0; i < scopeLen / 4; i++) fields[i] = { ...fields[i]!, id: 0x7fff };
    defineTemplate(compileTemplate(id, fields, scopeLen / 4, true), d, x, out);
  }
}
