/**
 * NetFlow v5: a 24-byte header (sysUptime, unix secs/nsecs, flow sequence, engine type/id,
 * sampling mode + interval) and up to 30 fixed 48-byte IPv4 records. Flow times are uptime ms,
 * turned into epoch seconds through the header (uptime wraps handled). The flow sequence counts
 * flows. The engine type/id pair is the observation domain (type × 256 + id).
 */
import { bump } from '../traffic/pcap.ts';
import type { DatagramDecoder } from './index.ts';
import { emptyRecord, ipv4, u16, u32 } from './record.ts';

export const V5_HEADER = 24;
export const V5_RECORD = 48;

export const decodeV5: DatagramDecoder = (b, exporter, arrival, x, out) => {
  const c = x.counters;
  if (b.length < V5_HEADER) {
    bump(c, 'v5_truncated_header');
    return;
  }
  let count = u16(b, 2);
  const sysUptime = u32(b, 4);
  const exportTime = u32(b, 8) + u32(b, 12) / 1e9;
  const seq = u32(b, 16);
  const domain = b[20]! * 256 + b[21]!;
  const sampling = u16(b, 22) & 0x3fff;
  if (count === 0 || count > 30) bump(c, 'v5_bad_count');
  if (count > 30) count = 30;
  const fits = Math.floor((b.length - V5_HEADER) / V5_RECORD);
  if (fits < count) {
    bump(c, 'v5_truncated_records', count - fits);
    count = fits;
  }
  x.health.sequence(exporter, domain, '5', seq, { flow: count, all: count }, arrival);
  if (sampling > 1) x.health.sampling(exporter, domain, '5', sampling, arrival);
  const toEpoch = (up: number) => {
    let delta = sysUptime - up;
    if (delta < -2147483648) delta += 4294967296;
    else if (delta > 2147483648) delta -= 4294967296;
    return exportTime - delta / 1000;
  };
  for (let i = 0; i < count; i++) {
    const o = V5_HEADER + i * V5_RECORD;
    const r = emptyRecord(exporter, domain, 5, arrival);
    r.src = ipv4(b, o);
    r.dst = ipv4(b, o + 4);
    r.inIf = u16(b, o + 12);
    r.outIf = u16(b, o + 14);
    r.packets = u32(b, o + 16);
    r.bytes = u32(b, o + 20);
    r.start = toEpoch(u32(b, o + 24));
    r.end = toEpoch(u32(b, o + 28));
    r.sport = u16(b, o + 32);
    r.dport = u16(b, o + 34);
    r.flags = b[o + 37]!;
    r.proto = b[o + 38]!;
    if (r.proto === 1) {
      // type*256+code in the destination port
      const tc = r.dport;
      r.sport = tc >> 8;
      r.dport = tc & 0xff;
    }
    if (sampling > 1) {
      r.sampling = sampling;
      r.packets *= sampling;
      r.bytes *= sampling;
    }
    out.push(r);
  }
  x.health.records(exporter, domain, '5', count, arrival);
};
