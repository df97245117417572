/**
 * The UDP payload of a captured frame (export datagrams in a pcap): Ethernet (with VLAN tags),
 * Linux SLL/SLL2, raw IP, BSD null/loopback → IPv4 (unfragmented) / IPv6 → UDP. Anything else is
 * counted under a reason and skipped.
 */
import { ipv6String, LINKTYPE } from '../traffic/decode.ts';
import { bump, type Counters } from '../traffic/pcap.ts';
import { ipv4, u16 } from './record.ts';

export interface UdpDatagram {
  src: string;
  sport: number;
  dport: number;
  payload: Uint8Array;
}

export function udpPayload(linktype: number, d: Uint8Array, counters: Counters): UdpDatagram | null {
  let o = 0;
  let ethertype = -1;
  if (linktype === LINKTYPE.ETHERNET) {
    if (d.length < 14) return skip(counters, 'export_frame_truncated');
    ethertype = u16(d, 12);
    o = 14;
    while ((ethertype === 0x8100 || ethertype === 0x88a8) && d.length >= o + 4) {
      ethertype = u16(d, o + 2);
      o += 4;
    }
  } else if (linktype === LINKTYPE.LINUX_SLL) {
    if (d.length < 16) return skip(counters, 'export_frame_truncated');
    ethertype = u16(d, 14);
    o = 16;
  } else if (linktype === LINKTYPE.LINUX_SLL2) {
    if (d.length < 20) return skip(counters, 'export_frame_truncated');
    ethertype = u16(d, 0);
    o = 20;
  } else if (linktype === LINKTYPE.NULL || linktype === LINKTYPE.LOOP) {
    if (d.length < 5) return skip(counters, 'export_frame_truncated');
    o = 4;
    ethertype = d[4]! >> 4 === 6 ? 0x86dd : 0x0800;
  } else if (
    linktype === LINKTYPE.RAW ||
    linktype === LINKTYPE.RAW_OLD_12 ||
    linktype === LINKTYPE.RAW_OLD_14 ||
    linktype === LINKTYPE.IPV4 ||
    linktype === LINKTYPE.IPV6
  ) {
    if (d.length < 1) return skip(counters, 'export_frame_truncated');
    ethertype = d[0]! >> 4 === 6 ? 0x86dd : 0x0800;
  } else return skip(counters, `export_unsupported_linktype_${linktype}`);
  let src: string;
  let p: number;
  let end: number;
  if (ethertype === 0x0800) {
    if (d.length < o + 20 || d[o]! >> 4 !== 4) return skip(counters, 'export_frame_not_ip');
    const ihl = (d[o]! & 15) * 4;
    const total = u16(d, o + 2);
    if ((u16(d, o + 6) & 0x3fff) !== 0) return skip(counters, 'export_ip_fragments');
    if (d[o + 9] !== 17) return skip(counters, 'export_frame_not_udp');
    src = ipv4(d, o + 12);
    p = o + ihl;
    end = Math.min(d.length, o + (total || d.length - o));
  } else if (ethertype === 0x86dd) {
    if (d.length < o + 40) return skip(counters, 'export_frame_not_ip');
    if (d[o + 6] !== 17) return skip(counters, 'export_frame_not_udp');
    src = ipv6String(d, o + 8);
    p = o + 40;
    end = Math.min(d.length, p + u16(d, o + 4));
  } else return skip(counters, 'export_frame_not_ip');
  if (end < p + 8) return skip(counters, 'export_frame_truncated');
  const udpLen = u16(d, p + 4);
  const stop = udpLen >= 8 ? Math.min(end, p + udpLen) : end;
  if (stop < p + udpLen) bump(counters, 'export_datagrams_snapped');
  return { src, sport: u16(d, p), dport: u16(d, p + 2), payload: d.subarray(p + 8, stop) };
}

function skip(counters: Counters, reason: string): null {
  bump(counters, reason);
  return null;
}
