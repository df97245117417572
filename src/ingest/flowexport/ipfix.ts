/**
 * IPFIX (RFC 7011): message header, template / options-template sets (cached per exporter address
 * + observation domain; a template record with no fields withdraws it, RFC 7011 §8.1), data sets
 * with variable-length fields, enterprise elements skipped and counted, RFC 5103 reverse elements
 * (biflows) read into the record's reverse counts. Options data carries systemInitTimeMilliseconds
 * (for flowStart/EndSysUpTime) and the sampling interval. The sequence number counts data records.
 */
import { bump } from '../traffic/pcap.ts';
import { compileTemplate } from './elements.ts';
import type { DatagramDecoder, DecoderContext } from './index.ts';
import { type ExportRecord, u16, u32 } from './record.ts';
import { decodeOrBuffer, defineTemplate, forEachSet, type SetFaults } from './sets.ts';
import type { DomainState, HeaderContext, TemplateField } from './templates.ts';

export const IPFIX_HEADER = 16;
const IPFIX_SET_FAULTS: SetFaults = { badLength: 'ipfix_bad_set_length', pastEnd: 'ipfix_set_past_message' };

export const decodeIpfix: DatagramDecoder = (b, exporter, arrival, x, out) => {
  const c = x.counters;
  if (b.length < IPFIX_HEADER) {
    bump(c, 'ipfix_truncated_header');
    return;
  }
  let total = u16(b, 2);
  if (total !== b.length) {
    bump(c, total > b.length ? 'ipfix_length_past_datagram' : 'ipfix_length_short');
    if (total > b.length || total < IPFIX_HEADER) total = b.length;
  }
  const exportTime = u32(b, 4);
  const seq = u32(b, 8);
  const domain = u32(b, 12);
  const ctx: HeaderContext = { version: 10, exporter, domain, exportTime, sysUptime: Number.NaN, arrival };
  const d = x.templates.domain(exporter, domain);
  const before = out.length;
  let dataRecords = 0;
  let flowRecords = 0;
  let missed = false;
  forEachSet(b, IPFIX_HEADER, total, c, IPFIX_SET_FAULTS, (setId, body, end) => {
    if (setId === 2 || setId === 3) templates(b, body, end, setId === 3, d, x, out);
    else if (setId >= 256) {
      const decoded = decodeOrBuffer(b, body, end, setId, d, ctx, x, out);
      if (!decoded) missed = true;
      else {
        dataRecords += decoded.records;
        if (!decoded.options) flowRecords += decoded.records;
      }
    } else bump(c, 'ipfix_reserved_set');
  });
  // the sequence number counts data records; unknown sets hide their count, so resync then
  x.health.sequence(exporter, domain, '10', seq, { flow: flowRecords, all: dataRecords }, arrival);
  if (missed) x.health.resync(exporter, domain, '10');
  x.health.records(exporter, domain, '10', out.length - before, arrival);
};

function templates(
  b: Uint8Array,
  start: number,
  end: number,
  options: boolean,
  d: DomainState,
  x: DecoderContext,
  out: ExportRecord[],
): void {
  let o = start;
  while (o + 4 <= end) {
    const id = u16(b, o);
    const count = u16(b, o + 2);
    if (count === 0) {
      // withdrawal: template ID 2/3 withdraws all of that kind
      if (id === 2 || id === 3) x.templates.withdraw(d, 'all');
      else if (id >= 256) x.templates.withdraw(d, id);
      else if (id === 0)
        break; // padding
      else bump(x.counters, 'ipfix_bad_template');
      o += 4;
      continue;
    }
    let scope = 0;
    o += 4;
    if (options) {
      if (o + 2 > end) {
        bump(x.counters, 'ipfix_template_past_set');
        return;
      }
      scope = u16(b, o);
      o += 2;
      if (scope === 0 || scope > count) {
        bump(x.counters, 'ipfix_bad_template');
        return;
      }
    }
    if (id < 256) {
      bump(x.counters, 'ipfix_bad_template');
      return;
    }
    const fields: TemplateField[] = [];
    for (let i = 0; i < count; i++) {
      if (o + 4 > end) {
        bump(x.counters, 'ipfix_template_past_set');
        return;
      }
      const raw = u16(b, o);
      const length = u16(b, o + 2);
      o += 4;
      let enterprise = 0;
      if (raw & 0x8000) {
        if (o + 4 > end) {
          bump(x.counters, 'ipfix_template_past_set');
          return;
        }
        enterprise = u32(b, o);
        o += 4;
      }
      fields.push({ id: raw & 0x7fff, length, enterprise });
    }
    defineTemplate(compileTemplate(id, fields, scope, options), d, x, out);
  }
}
