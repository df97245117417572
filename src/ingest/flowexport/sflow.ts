/**
 * sFlow v5 (sflow.org sflow_version_5.txt): datagram header (agent address, sub-agent ID,
 * sequence, uptime), flow samples and expanded flow samples whose raw packet header record goes
 * through our own packet decoder (decode.ts) and becomes one record standing for `sampling_rate`
 * packets (packets = rate, bytes = IP length × rate, times = the datagram's arrival, as sFlow
 * carries no flow times); counter samples (generic interface counters) kept as interface health.
 * Other enterprise/format records are skipped and counted.
 */
import { decodePacket, ipv6String, LINKTYPE } from '../traffic/decode.ts';
import { bump, type Counters } from '../traffic/pcap.ts';
import type { DatagramDecoder, DecoderContext } from './index.ts';
import { type ExportRecord, emptyRecord, ipv4, readUint, u32 } from './record.ts';

export interface InterfaceHealth {
  agent: string;
  if_index: number;
  if_speed: number;
  if_status: number;
  in_octets: number;
  in_packets: number;
  in_discards: number;
  in_errors: number;
  out_octets: number;
  out_packets: number;
  out_discards: number;
  out_errors: number;
  last_seen: number;
}

export const decodeSflow: DatagramDecoder = (b, source, arrival, x, out) => {
  const c = x.counters;
  if (b.length < 28) {
    bump(c, 'sflow_truncated_header');
    return;
  }
  const addrType = u32(b, 4);
  let o = 8;
  let agent: string;
  if (addrType === 1) {
    agent = ipv4(b, o);
    o += 4;
  } else if (addrType === 2) {
    if (b.length < 8 + 16 + 16) {
      bump(c, 'sflow_truncated_header');
      return;
    }
    agent = ipv6String(b, o);
    o += 16;
  } else {
    bump(c, 'sflow_bad_agent_address');
    agent = source;
  }
  if (o + 16 > b.length) {
    bump(c, 'sflow_truncated_header');
    return;
  }
  const subAgent = u32(b, o);
  const seq = u32(b, o + 4);
  const nSamples = u32(b, o + 12);
  o += 16;
  x.health.sequence(agent, subAgent, 'sflow', seq, null, arrival);
  const before = out.length;
  forEachStructure(b, o, b.length, nSamples, c, SAMPLE_FAULTS, (tag, body, len) => {
    const end = body + len;
    const enterprise = tag >>> 12;
    const format = tag & 0xfff;
    if (enterprise !== 0) bump(c, 'sflow_enterprise_samples_skipped');
    else if (format === 1 || format === 3)
      flowSample(b, body, end, format === 3, agent, subAgent, arrival, x, out);
    else if (format === 2 || format === 4) counterSample(b, body, end, format === 4, agent, arrival, x);
    else bump(c, 'sflow_unknown_sample_format');
  });
  x.health.records(agent, subAgent, 'sflow', out.length - before, arrival);
};

function flowSample(
  b: Uint8Array,
  start: number,
  end: number,
  expanded: boolean,
  agent: string,
  subAgent: number,
  arrival: number,
  x: DecoderContext,
  out: ExportRecord[],
): void {
  const c = x.counters;
  const head = expanded ? 44 : 32;
  if (end - start < head) {
    bump(c, 'sflow_truncated_sample');
    return;
  }
  let o = start + 4;
  o += expanded ? 8 : 4; // source id
  const rate = u32(b, o);
  o += 12; // rate, pool, drops
  let inIf: number;
  let outIf: number;
  if (expanded) {
    inIf = u32(b, o + 4);
    outIf = u32(b, o + 12);
    o += 16;
  } else {
    inIf = u32(b, o);
    outIf = u32(b, o + 4) & 0x3fffffff;
    o += 8;
  }
  const nRecords = u32(b, o);
  o += 4;
  if (rate > 0) x.health.sampling(agent, subAgent, 'sflow', rate, arrival);
  forEachStructure(b, o, end, nRecords, c, RECORD_FAULTS, (tag, at, len) => {
    if (tag === 1 && len >= 16) {
      const proto = u32(b, at);
      const hdrLen = u32(b, at + 12);
      if (hdrLen > len - 16) bump(c, 'sflow_record_past_sample');
      else {
        const linktype = proto === 1 ? LINKTYPE.ETHERNET : proto === 11 || proto === 12 ? LINKTYPE.RAW : -1;
        if (linktype < 0) bump(c, `sflow_header_protocol_${proto}`);
        else {
          const p = decodePacket(linktype, b.subarray(at + 16, at + 16 + hdrLen), arrival, x.sampledCounters);
          if (!p) bump(c, 'sflow_sampled_headers_not_decoded');
          else {
            const r = emptyRecord(agent, subAgent, 'sflow', arrival);
            r.src = p.src;
            r.dst = p.dst;
            r.sport = p.sport;
            r.dport = p.dport;
            r.proto = p.proto;
            r.start = arrival;
            r.end = arrival;
            const k = rate > 0 ? rate : 1;
            r.sampling = k;
            r.packets = k;
            r.bytes = p.ipLen * k;
            r.flags = p.proto === 6 ? p.tcpFlags : 0;
            r.inIf = inIf;
            r.outIf = outIf;
            out.push(r);
          }
        }
      }
    } else if (tag !== 1) bump(c, 'sflow_flow_records_skipped');
  });
}

function counterSample(
  b: Uint8Array,
  start: number,
  end: number,
  expanded: boolean,
  agent: string,
  arrival: number,
  x: DecoderContext,
): void {
  const c = x.counters;
  const o = start + (expanded ? 16 : 12);
  if (o > end) {
    bump(c, 'sflow_truncated_sample');
    return;
  }
  const nRecords = u32(b, o - 4);
  forEachStructure(b, o, end, nRecords, c, RECORD_FAULTS, (tag, at, len) => {
    if (tag === 1 && len >= 88) {
      const ifIndex = u32(b, at);
      const h: InterfaceHealth = {
        agent,
        if_index: ifIndex,
        if_speed: readUint(b, at + 8, 8),
        if_status: u32(b, at + 20),
        in_octets: readUint(b, at + 24, 8),
        in_packets: u32(b, at + 32) + u32(b, at + 36) + u32(b, at + 40),
        in_discards: u32(b, at + 44),
        in_errors: u32(b, at + 48),
        out_octets: readUint(b, at + 56, 8),
        out_packets: u32(b, at + 64) + u32(b, at + 68) + u32(b, at + 72),
        out_discards: u32(b, at + 76),
        out_errors: u32(b, at + 80),
        last_seen: arrival,
      };
      x.noteInterface(h);
      bump(c, 'sflow_counter_records');
    } else bump(c, 'sflow_counter_records_skipped');
  });
}

/** Counter names for a list of sFlow structures that stops early. */
interface StructureFaults {
  /** Too few bytes left for a structure's tag and length. */
  truncated: string;
  /** A structure's body running past its container. */
  pastEnd: string;
}
const SAMPLE_FAULTS: StructureFaults = {
  truncated: 'sflow_truncated_sample',
  pastEnd: 'sflow_sample_past_datagram',
};
const RECORD_FAULTS: StructureFaults = {
  truncated: 'sflow_truncated_record',
  pastEnd: 'sflow_record_past_sample',
};

/**
 * Visit `count` sFlow structures (samples in a datagram, records in a sample: a 32-bit tag, a
 * 32-bit length, the body) from `start` on: tag, the body's offset and length. The walk stops, counted,
 * at a structure whose header or body would run past `end`.
 */
function forEachStructure(
  b: Uint8Array,
  start: number,
  end: number,
  count: number,
  counters: Counters,
  faults: StructureFaults,
  visit: (tag: number, body: number, length: number) => void,
): void {
  let o = start;
  for (let i = 0; i < count; i++) {
    if (o + 8 > end) {
      bump(counters, faults.truncated);
      return;
    }
    const tag = u32(b, o);
    const len = u32(b, o + 4);
    o += 8;
    if (len > end - o) {
      bump(counters, faults.pastEnd);
      return;
    }
    visit(tag, o, len);
    o += len;
  }
}
