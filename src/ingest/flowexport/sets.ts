/**
 * What NetFlow v9 (flowsets) and IPFIX (sets) share between their message headers and their
 * records: the walk over 4-byte-headed sets, the caching of a template (which decodes the data sets
 * that were waiting for it), and a data set decoded with its template or buffered until it comes.
 */
import { bump, type Counters } from '../traffic/pcap.ts';
import { decodeDataSet } from './elements.ts';
import type { DecoderContext } from './index.ts';
import { type ExportRecord, u16 } from './record.ts';
import type { DomainState, HeaderContext, Template } from './templates.ts';

/** Counter names for the two ways a set header can be wrong (they name the version). */
export interface SetFaults {
  /** A set length under its own 4-byte header. */
  badLength: string;
  /** A set running past the end of the message. */
  pastEnd: string;
}

/**
 * Visit each set of `b[start, end)`: set ID, the body's offset and the set's end. The walk stops
 * (counted) at a bad length or a set past `end`; trailing bytes too short for a header are padding.
 */
export function forEachSet(
  b: Uint8Array,
  start: number,
  end: number,
  counters: Counters,
  faults: SetFaults,
  visit: (setId: number, body: number, setEnd: number) => void,
): void {
  let o = start;
  while (o + 4 <= end) {
    const setId = u16(b, o);
    const len = u16(b, o + 2);
    if (len < 4) {
      bump(counters, faults.badLength);
      break;
    }
    if (o + len > end) {
      bump(counters, faults.pastEnd);
      break;
    }
    visit(setId, o + 4, o + len);
    o += len;
  }
}

/** Cache a template and decode the data sets that arrived before it. */
export function defineTemplate(t: Template, d: DomainState, x: DecoderContext, out: ExportRecord[]): void {
  for (const p of x.templates.set(d, t)) {
    bump(x.counters, 'pending_sets_resolved');
    decodeDataSet(p.data, 0, p.data.length, t, d, p.ctx, x.counters, out);
  }
}

/** What a data set decoded to: its record count and whether its template is an options template. */
export interface DecodedSet {
  records: number;
  options: boolean;
}

/**
 * Decode data set `setId` (body `b[start, end)`) with its template; without one yet, count the miss
 * (counters and the domain's health) and buffer the set until the template arrives: null.
 */
export function decodeOrBuffer(
  b: Uint8Array,
  start: number,
  end: number,
  setId: number,
  d: DomainState,
  ctx: HeaderContext,
  x: DecoderContext,
  out: ExportRecord[],
): DecodedSet | null {
  const t = x.templates.get(d, setId);
  if (!t) {
    bump(x.counters, 'template_misses');
    x.health.templateMiss(ctx.exporter, ctx.domain, String(ctx.version), ctx.arrival);
    x.templates.buffer(d, setId, b.subarray(start, end), ctx);
    return null;
  }
  return { records: decodeDataSet(b, start, end, t, d, ctx, x.counters, out), options: t.options };
}
