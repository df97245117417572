/**
 * Information elements of NetFlow v9 (RFC 3954 field types) and IPFIX (RFC 7011 / IANA IPFIX
 * registry; RFC 5103 reverse elements under PEN 29305) that map onto an ExportRecord, compiled into
 * small integer kinds, and the data-record decoder shared by v9 and IPFIX.
 *
 * Enterprise-specific elements other than RFC 5103's are skipped (their length honoured) and
 * counted (`ipfix_enterprise_fields_skipped`); unknown IANA elements are skipped silently.
 */
import { ipv6String } from '../traffic/decode.ts';
import { bump, type Counters } from '../traffic/pcap.ts';
import { type ExportRecord, emptyRecord, ipv4, readUint } from './record.ts';
import type { DomainState, HeaderContext, Template, TemplateField } from './templates.ts';

export const K = {
  SKIP: 0,
  SRC4: 1,
  DST4: 2,
  SRC6: 3,
  DST6: 4,
  SPORT: 5,
  DPORT: 6,
  PROTO: 7,
  BYTES: 8,
  PKTS: 9,
  RBYTES: 10,
  RPKTS: 11,
  FLAGS: 12,
  RFLAGS: 13,
  INIF: 14,
  OUTIF: 15,
  FIRST_UP: 16,
  LAST_UP: 17,
  START_S: 18,
  END_S: 19,
  START_MS: 20,
  END_MS: 21,
  START_NTP: 22,
  END_NTP: 23,
  START_DELTA_US: 24,
  END_DELTA_US: 25,
  ICMP_TC: 26,
  ICMP_TYPE: 27,
  ICMP_CODE: 28,
  SAMPLING: 29,
  SYSINIT: 30,
  SAMPLER_ID: 31,
  ENTERPRISE: 32,
  BYTES_TOTAL: 33,
  PKTS_TOTAL: 34,
} as const;

const IANA: Record<number, number> = {
  1: K.BYTES,
  2: K.PKTS,
  4: K.PROTO,
  6: K.FLAGS,
  7: K.SPORT,
  8: K.SRC4,
  10: K.INIF,
  11: K.DPORT,
  12: K.DST4,
  14: K.OUTIF,
  21: K.LAST_UP,
  22: K.FIRST_UP,
  27: K.SRC6,
  28: K.DST6,
  32: K.ICMP_TC,
  34: K.SAMPLING,
  48: K.SAMPLER_ID,
  50: K.SAMPLING,
  85: K.BYTES_TOTAL,
  86: K.PKTS_TOTAL,
  139: K.ICMP_TC,
  150: K.START_S,
  151: K.END_S,
  152: K.START_MS,
  153: K.END_MS,
  154: K.START_NTP,
  155: K.END_NTP,
  156: K.START_NTP,
  157: K.END_NTP,
  158: K.START_DELTA_US,
  159: K.END_DELTA_US,
  160: K.SYSINIT,
  176: K.ICMP_TYPE,
  177: K.ICMP_CODE,
  178: K.ICMP_TYPE,
  179: K.ICMP_CODE,
  180: K.SPORT,
  181: K.DPORT,
  182: K.SPORT,
  183: K.DPORT,
  305: K.SAMPLING,
};

/** RFC 5103 reverse information elements (PEN 29305): the reverse of IANA element `id`. */
const REVERSE_PEN = 29305;
const REVERSE: Record<number, number> = { 1: K.RBYTES, 2: K.RPKTS, 6: K.RFLAGS, 85: K.RBYTES, 86: K.RPKTS };

const VAR = 65535;

/** Compile a template's fields into kinds and lengths; address kinds need their exact length. */
export function compileTemplate(
  id: number,
  fields: TemplateField[],
  scopeCount: number,
  options: boolean,
): Template {
  const kinds = new Uint8Array(fields.length);
  const lengths = new Uint16Array(fields.length);
  let fixed = 0;
  let min = 0;
  let variable = false;
  let enterpriseSkipped = 0;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    let k: number = K.SKIP;
    if (f.enterprise === 0) k = IANA[f.id] ?? K.SKIP;
    else if (f.enterprise === REVERSE_PEN) k = REVERSE[f.id] ?? K.SKIP;
    else {
      k = K.ENTERPRISE;
      enterpriseSkipped++;
    }
    const len = f.length;
    // an element whose length cannot hold its value is skipped rather than misread
    if ((k === K.SRC4 || k === K.DST4) && len !== 4) k = K.SKIP;
    if ((k === K.SRC6 || k === K.DST6) && len !== 16) k = K.SKIP;
    if (k !== K.SKIP && k !== K.ENTERPRISE && len > 8 && k !== K.SRC6 && k !== K.DST6) k = K.SKIP;
    kinds[i] = k;
    lengths[i] = len;
    if (len === VAR) {
      variable = true;
      min += 1;
    } else {
      fixed += len;
      min += len;
    }
  }
  return {
    id,
    fields,
    scopeCount,
    options,
    kinds,
    lengths,
    fixedLength: variable ? -1 : fixed,
    minLength: Math.max(min, 1),
    enterpriseSkipped,
  };
}

const NTP_EPOCH_OFFSET = 2208988800;

function ntpSeconds(b: Uint8Array, o: number, len: number): number {
  if (len !== 8) return Number.NaN;
  const sec = readUint(b, o, 4);
  const frac = readUint(b, o + 4, 4);
  return sec - NTP_EPOCH_OFFSET + frac / 4294967296;
}

/** v9: uptime ms of a flow → epoch s via the header's (unix secs, sysUptime), uptime wraps handled. */
function v9Time(ctx: HeaderContext, up: number): number {
  let delta = ctx.sysUptime - up; // ms before export
  if (delta < -2147483648) delta += 4294967296;
  else if (delta > 2147483648) delta -= 4294967296;
  return ctx.exportTime - delta / 1000;
}

/**
 * Decode the data records of one data set with template `t`. Returns the records (flow templates)
 * or applies option values to the domain (options templates). `end` bounds the set.
 */
export function decodeDataSet(
  b: Uint8Array,
  start: number,
  end: number,
  t: Template,
  d: DomainState,
  ctx: HeaderContext,
  counters: Counters,
  out: ExportRecord[],
): number {
  let o = start;
  let n = 0;
  const kinds = t.kinds;
  const lengths = t.lengths;
  const nf = kinds.length;
  const isIpfix = ctx.version === 10;
  while (end - o >= t.minLength) {
    if (t.fixedLength > 0 && end - o < t.fixedLength) break; // padding
    if (t.fixedLength === 0) {
      // every field has length 0: a record that takes no bytes would repeat forever
      bump(counters, 'templates_zero_length');
      break;
    }
    const recordStart = o;
    const r = t.options ? null : emptyRecord(ctx.exporter, ctx.domain, ctx.version, ctx.arrival);
    let firstUp = Number.NaN;
    let lastUp = Number.NaN;
    let icmpType = Number.NaN;
    let icmpCode = Number.NaN;
    let icmpTc = Number.NaN;
    let bytesTotal = Number.NaN;
    let pktsTotal = Number.NaN;
    let sampling = Number.NaN;
    let samplerId = Number.NaN;
    let sysInit = Number.NaN;
    let ok = true;
    for (let i = 0; i < nf; i++) {
      let len = lengths[i]!;
      if (len === VAR) {
        if (!isIpfix || o >= end) {
          ok = false;
          break;
        }
        len = b[o]!;
        o++;
        if (len === 255) {
          if (o + 2 > end) {
            ok = false;
            break;
          }
          len = (b[o]! << 8) | b[o + 1]!;
          o += 2;
        }
      }
      if (o + len > end) {
        ok = false;
        break;
      }
      const k = kinds[i]!;
      if (k !== K.SKIP) {
        if (k === K.ENTERPRISE) {
          bump(counters, 'ipfix_enterprise_fields_skipped');
        } else if (r === null) {
          // options record: only the values that steer decoding matter
          if (len <= 8) {
            const v = readUint(b, o, len);
            if (k === K.SAMPLING) sampling = v;
            else if (k === K.SYSINIT) sysInit = v;
            else if (k === K.SAMPLER_ID) samplerId = v;
          }
        } else {
          switch (k) {
            case K.SRC4:
              r.src = ipv4(b, o);
              break;
            case K.DST4:
              r.dst = ipv4(b, o);
              break;
            case K.SRC6:
              r.src = ipv6String(b, o);
              break;
            case K.DST6:
              r.dst = ipv6String(b, o);
              break;
            case K.SPORT:
              if (Number.isNaN(r.sport)) r.sport = readUint(b, o, len);
              break;
            case K.DPORT:
              if (Number.isNaN(r.dport)) r.dport = readUint(b, o, len);
              break;
            case K.PROTO:
              r.proto = readUint(b, o, len);
              break;
            case K.BYTES:
              r.bytes = readUint(b, o, len);
              break;
            case K.PKTS:
              r.packets = readUint(b, o, len);
              break;
            case K.BYTES_TOTAL:
              bytesTotal = readUint(b, o, len);
              break;
            case K.PKTS_TOTAL:
              pktsTotal = readUint(b, o, len);
              break;
            case K.RBYTES:
              r.rbytes = readUint(b, o, len);
              break;
            case K.RPKTS:
              r.rpackets = readUint(b, o, len);
              break;
            case K.FLAGS:
              r.flags = readUint(b, o, len) & 0xff;
              break;
            case K.RFLAGS:
              r.rflags = readUint(b, o, len) & 0xff;
              break;
            case K.INIF:
              r.inIf = readUint(b, o, len);
              break;
            case K.OUTIF:
              r.outIf = readUint(b, o, len);
              break;
            case K.FIRST_UP:
              firstUp = readUint(b, o, len);
              break;
            case K.LAST_UP:
              lastUp = readUint(b, o, len);
              break;
            case K.START_S:
              r.start = readUint(b, o, len);
              break;
            case K.END_S:
              r.end = readUint(b, o, len);
              break;
            case K.START_MS:
              r.start = readUint(b, o, len) / 1000;
              break;
            case K.END_MS:
              r.end = readUint(b, o, len) / 1000;
              break;
            case K.START_NTP:
              r.start = ntpSeconds(b, o, len);
              break;
            case K.END_NTP:
              r.end = ntpSeconds(b, o, len);
              break;
            case K.START_DELTA_US:
              r.start = ctx.exportTime - readUint(b, o, len) / 1e6;
              break;
            case K.END_DELTA_US:
              r.end = ctx.exportTime - readUint(b, o, len) / 1e6;
              break;
            case K.ICMP_TC:
              icmpTc = readUint(b, o, len);
              break;
            case K.ICMP_TYPE:
              icmpType = readUint(b, o, len);
              break;
            case K.ICMP_CODE:
              icmpCode = readUint(b, o, len);
              break;
            case K.SAMPLING:
              sampling = readUint(b, o, len);
              break;
            case K.SAMPLER_ID:
              samplerId = readUint(b, o, len);
              break;
          }
        }
      }
      o += len;
    }
    if (!ok) {
      bump(counters, 'records_truncated');
      break;
    }
    if (o === recordStart) break;
    n++;
    if (r === null) {
      if (sampling > 0) {
        if (!Number.isNaN(samplerId)) d.samplers.set(samplerId, sampling);
        else d.sampling = sampling;
      }
      if (!Number.isNaN(sysInit)) d.sysInitMs = sysInit;
      bump(counters, 'options_records');
      continue;
    }
    if (Number.isNaN(r.bytes)) r.bytes = bytesTotal;
    if (Number.isNaN(r.packets)) r.packets = pktsTotal;
    if (!Number.isNaN(firstUp) || !Number.isNaN(lastUp)) {
      if (isIpfix) {
        if (Number.isNaN(d.sysInitMs)) bump(counters, 'ipfix_uptime_without_init_time');
        else {
          if (!Number.isNaN(firstUp)) r.start = (d.sysInitMs + firstUp) / 1000;
          if (!Number.isNaN(lastUp)) r.end = (d.sysInitMs + lastUp) / 1000;
        }
      } else {
        if (!Number.isNaN(firstUp)) r.start = v9Time(ctx, firstUp);
        if (!Number.isNaN(lastUp)) r.end = v9Time(ctx, lastUp);
      }
    }
    // ICMP type/code: the dedicated elements, else NetFlow's habit of type*256+code in dst port
    if (r.proto === 1 || r.proto === 58) {
      if (!Number.isNaN(icmpTc)) {
        r.sport = icmpTc >> 8;
        r.dport = icmpTc & 0xff;
      } else if (!Number.isNaN(icmpType)) {
        r.sport = icmpType;
        r.dport = Number.isNaN(icmpCode) ? 0 : icmpCode;
      } else if (!Number.isNaN(r.dport)) {
        const tc = r.dport;
        r.sport = tc >> 8;
        r.dport = tc & 0xff;
      }
    }
    let rate = sampling;
    if (!(rate > 0) && !Number.isNaN(samplerId)) rate = d.samplers.get(samplerId) ?? Number.NaN;
    if (!(rate > 0)) rate = d.sampling;
    if (rate > 1) {
      r.sampling = rate;
      r.packets *= rate;
      r.bytes *= rate;
      r.rpackets *= rate;
      r.rbytes *= rate;
    }
    out.push(r);
  }
  return n;
}
