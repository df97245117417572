/**
 * Packet decoding: link layer (Ethernet with 802.1Q/802.1ad/QinQ tags, MPLS, PPPoE; Linux SLL and
 * SLL2; raw IPv4/IPv6; BSD null/loopback) → IPv4/IPv6 (IPv6 extension headers) → TCP/UDP/ICMP/ICMPv6.
 * Every packet that cannot be used is counted under a reason and skipped; nothing throws.
 */
import { bump, type Counters } from './pcap.ts';

export interface DecodedPacket {
  ts: number;
  ipVersion: 4 | 6;
  src: string;
  dst: string;
  /** IP protocol number of the transport (6, 17, 1, 58, ...). */
  proto: number;
  /** TCP/UDP ports; ICMP: type and code. */
  sport: number;
  dport: number;
  /** IP bytes (header + payload) from the IP length field, as on the wire. */
  ipLen: number;
  /** Transport payload bytes (IP payload minus the transport header). */
  payloadLen: number;
  /** TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80). */
  tcpFlags: number;
  /** The captured frame (a view valid only until the next packet is read); absent: no payload bytes. */
  data?: Uint8Array;
  /** Offset of the transport payload in `data`. */
  payloadOffset?: number;
  /** Payload bytes actually captured (≤ payloadLen when the capture was snapped). */
  payloadCaptured?: number;
  /** `addressHash(src)` and `addressHash(dst)` (set by the decoder from its address caches). */
  srcHash?: number;
  dstHash?: number;
}

/** A 32-bit hash of an address's text (FNV-1a, then mixed): the flow table's key material. */
export function addressHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return h ^ (h >>> 13);
}

export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  RAW_OLD_12: 12,
  RAW_OLD_14: 14,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

/**
 * Text of IPv4 addresses by their 32-bit value, with its addressHash: traffic repeats few
 * addresses over many packets, so a direct-mapped cache (65,536 slots) saves making the same
 * string per packet. `ipv4Cached` returns the slot; `v4Text[slot]`, `v4Hash[slot]` hold the result.
 */
const V4_SLOTS = 1 << 16;
const v4Value = new Int32Array(V4_SLOTS);
const v4Text: (string | undefined)[] = new Array(V4_SLOTS);
const v4Hash = new Int32Array(V4_SLOTS);

function ipv4Cached(d: Uint8Array, o: number): number {
  const v = (d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!;
  const slot = Math.imul(v ^ (v >>> 16), 0x45d9f3b) >>> 16;
  if (v4Value[slot] !== v || v4Text[slot] === undefined) {
    const s = `${d[o]}.${d[o + 1]}.${d[o + 2]}.${d[o + 3]}`;
    v4Value[slot] = v;
    v4Text[slot] = s;
    v4Hash[slot] = addressHash(s);
  }
  return slot;
}

/** Text of IPv6 addresses seen lately: a direct-mapped cache (4,096 slots) checked word by word. */
const V6_SLOTS = 4096;
const v6Words = new Int32Array(V6_SLOTS * 4);
const v6Text: (string | undefined)[] = new Array(V6_SLOTS);
const v6Hash = new Int32Array(V6_SLOTS);

/** The cache slot of the IPv6 address at d[o, o+16) (`v6Text[slot]`, `v6Hash[slot]`). */
function ipv6Cached(d: Uint8Array, o: number): number {
  const w0 = (d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!;
  const w1 = (d[o + 4]! << 24) | (d[o + 5]! << 16) | (d[o + 6]! << 8) | d[o + 7]!;
  const w2 = (d[o + 8]! << 24) | (d[o + 9]! << 16) | (d[o + 10]! << 8) | d[o + 11]!;
  const w3 = (d[o + 12]! << 24) | (d[o + 13]! << 16) | (d[o + 14]! << 8) | d[o + 15]!;
  let h = Math.imul(w0 ^ 0x9e3779b9, 0x85ebca6b) ^ w1;
  h = Math.imul(h ^ (h >>> 15), 0xc2b2ae35) ^ w2;
  h = Math.imul(h ^ (h >>> 13), 0x27d4eb2f) ^ w3;
  const slot = (h ^ (h >>> 16)) & (V6_SLOTS - 1);
  const q = slot * 4;
  if (
    v6Text[slot] !== undefined &&
    v6Words[q] === w0 &&
    v6Words[q + 1] === w1 &&
    v6Words[q + 2] === w2 &&
    v6Words[q + 3] === w3
  )
    return slot;
  const s = ipv6String(d, o);
  v6Words[q] = w0;
  v6Words[q + 1] = w1;
  v6Words[q + 2] = w2;
  v6Words[q + 3] = w3;
  v6Text[slot] = s;
  v6Hash[slot] = addressHash(s);
  return slot;
}

/** RFC 5952 text form (lower case, longest zero run compressed). */
export function ipv6String(d: Uint8Array, o: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((d[o + 2 * i]! << 8) | d[o + 2 * i + 1]!);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;

/** A DecodedPacket to decode into (decodeInto). */
export function newDecodedPacket(): DecodedPacket {
  return {
    ts: 0,
    ipVersion: 4,
    src: '',
    dst: '',
    proto: 0,
    sport: 0,
    dport: 0,
    ipLen: 0,
    payloadLen: 0,
    tcpFlags: 0,
    data: undefined,
    payloadOffset: 0,
    payloadCaptured: 0,
    srcHash: 0,
    dstHash: 0,
  };
}

/** Decode one captured frame; null (and a counter) when it carries no usable IP transport. */
export function decodePacket(
  linktype: number,
  d: Uint8Array,
  ts: number,
  counters: Counters,
): DecodedPacket | null {
  return decodeInto(linktype, d, ts, counters, newDecodedPacket());
}

/**
 * decodePacket into `out` (every field set; reused from packet to packet on the line-rate path):
 * returns `out`, or null (and a counter) when the frame carries no usable IP transport. The frame
 * is `d[b, e)` (default: all of `d`), so a reader can decode in place in its buffer; `out.data` is
 * then `d` and `out.payloadOffset` an offset in it.
 */
export function decodeInto(
  linktype: number,
  d: Uint8Array,
  ts: number,
  counters: Counters,
  out: DecodedPacket,
  b = 0,
  e = d.length,
): DecodedPacket | null {
  let o = b;
  let ethertype = -1;
  switch (linktype) {
    case LINKTYPE.ETHERNET: {
      if (e - b < 14) return skip(counters, 'truncated_link_header');
      ethertype = (d[b + 12]! << 8) | d[b + 13]!;
      o = b + 14;
      break;
    }
    case LINKTYPE.LINUX_SLL: {
      if (e - b < 16) return skip(counters, 'truncated_link_header');
      ethertype = (d[b + 14]! << 8) | d[b + 15]!;
      o = b + 16;
      break;
    }
    case LINKTYPE.LINUX_SLL2: {
      if (e - b < 20) return skip(counters, 'truncated_link_header');
      ethertype = (d[b]! << 8) | d[b + 1]!;
      o = b + 20;
      break;
    }
    case LINKTYPE.NULL:
    case LINKTYPE.LOOP: {
      if (e - b < 4) return skip(counters, 'truncated_link_header');
      // NULL: host byte order of the writer; LOOP: network order. Accept either.
      const be = ((d[b]! << 24) | (d[b + 1]! << 16) | (d[b + 2]! << 8) | d[b + 3]!) >>> 0;
      const le = ((d[b + 3]! << 24) | (d[b + 2]! << 16) | (d[b + 1]! << 8) | d[b]!) >>> 0;
      const fam = linktype === LINKTYPE.LOOP ? be : le < 256 ? le : be;
      o = b + 4;
      if (fam === 2) ethertype = ETH_IPV4;
      else if (fam === 24 || fam === 28 || fam === 30 || fam === 10) ethertype = ETH_IPV6;
      else return skip(counters, 'non_ip');
      break;
    }
    case LINKTYPE.RAW:
    case LINKTYPE.RAW_OLD_12:
    case LINKTYPE.RAW_OLD_14:
    case LINKTYPE.IPV4:
    case LINKTYPE.IPV6: {
      if (e - b < 1) return skip(counters, 'truncated_ip');
      ethertype = d[b]! >> 4 === 6 ? ETH_IPV6 : ETH_IPV4;
      break;
    }
    default:
      return skip(counters, `unsupported_linktype_${linktype}`);
  }
  // VLAN tags (802.1Q, 802.1ad, old QinQ 0x9100), PPPoE session, MPLS.
  for (let guard = 0; guard < 16; guard++) {
    if (ethertype === 0x8100 || ethertype === 0x88a8 || ethertype === 0x9100) {
      if (e < o + 4) return skip(counters, 'truncated_link_header');
      ethertype = (d[o + 2]! << 8) | d[o + 3]!;
      o += 4;
      bump(counters, 'vlan_tagged');
    } else if (ethertype === 0x8864) {
      if (e < o + 8) return skip(counters, 'truncated_link_header');
      const ppp = (d[o + 6]! << 8) | d[o + 7]!;
      o += 8;
      if (ppp === 0x0021) ethertype = ETH_IPV4;
      else if (ppp === 0x0057) ethertype = ETH_IPV6;
      else return skip(counters, 'non_ip');
    } else if (ethertype === 0x8847 || ethertype === 0x8848) {
      let bottom = false;
      while (!bottom) {
        if (e < o + 4) return skip(counters, 'truncated_link_header');
        bottom = (d[o + 2]! & 1) === 1;
        o += 4;
      }
      if (e < o + 1) return skip(counters, 'truncated_ip');
      const v = d[o]! >> 4;
      if (v === 4) ethertype = ETH_IPV4;
      else if (v === 6) ethertype = ETH_IPV6;
      else return skip(counters, 'non_ip');
    } else break;
  }
  if (ethertype === ETH_IPV4) return decodeIpv4(d, o, e, ts, counters, out);
  if (ethertype === ETH_IPV6) return decodeIpv6(d, o, e, ts, counters, out);
  return skip(counters, 'non_ip');
}

function skip(counters: Counters, reason: string): null {
  bump(counters, reason);
  return null;
}

function decodeIpv4(
  d: Uint8Array,
  o: number,
  fe: number,
  ts: number,
  counters: Counters,
  out: DecodedPacket,
): DecodedPacket | null {
  if (fe < o + 20) return skip(counters, 'truncated_ip');
  const vihl = d[o]!;
  if (vihl >> 4 !== 4) return skip(counters, 'bad_ip_header');
  const ihl = (vihl & 0x0f) * 4;
  let totalLen = (d[o + 2]! << 8) | d[o + 3]!;
  if (totalLen === 0 && fe - o >= ihl) {
    // TCP segmentation offload captures report 0; use what was captured (as Wireshark does).
    totalLen = fe - o;
    bump(counters, 'ip_len_zero');
  }
  if (ihl < 20 || totalLen < ihl) return skip(counters, 'bad_ip_header');
  if (fe < o + ihl) return skip(counters, 'truncated_ip');
  const fragField = (d[o + 6]! << 8) | d[o + 7]!;
  const fragOffset = fragField & 0x1fff;
  const moreFrags = (fragField & 0x2000) !== 0;
  if (fragOffset !== 0) return skip(counters, 'ip_fragments');
  if (moreFrags) bump(counters, 'ip_first_fragments');
  const proto = d[o + 9]!;
  const s = ipv4Cached(d, o + 12);
  const src = v4Text[s]!;
  out.srcHash = v4Hash[s]!;
  const t = ipv4Cached(d, o + 16);
  const dst = v4Text[t]!;
  out.dstHash = v4Hash[t]!;
  return decodeTransport(
    d,
    o + ihl,
    o + totalLen,
    fe,
    totalLen,
    totalLen - ihl,
    proto,
    4,
    src,
    dst,
    ts,
    counters,
    out,
  );
}

function decodeIpv6(
  d: Uint8Array,
  o: number,
  fe: number,
  ts: number,
  counters: Counters,
  out: DecodedPacket,
): DecodedPacket | null {
  if (fe < o + 40) return skip(counters, 'truncated_ip');
  if (d[o]! >> 4 !== 6) return skip(counters, 'bad_ip_header');
  const payloadLen = (d[o + 4]! << 8) | d[o + 5]!;
  let next = d[o + 6]!;
  const s = ipv6Cached(d, o + 8);
  const src = v6Text[s]!;
  out.srcHash = v6Hash[s]!;
  const t = ipv6Cached(d, o + 24);
  const dst = v6Text[t]!;
  out.dstHash = v6Hash[t]!;
  const end = o + 40 + payloadLen;
  let p = o + 40;
  // Extension headers: hop-by-hop 0, routing 43, fragment 44, destination options 60, AH 51.
  for (let guard = 0; guard < 16; guard++) {
    if (next === 0 || next === 43 || next === 60 || next === 135 || next === 139 || next === 140) {
      if (fe < p + 2) return skip(counters, 'truncated_ip');
      const n = d[p]!;
      p += (d[p + 1]! + 1) * 8;
      next = n;
    } else if (next === 44) {
      if (fe < p + 8) return skip(counters, 'truncated_ip');
      const n = d[p]!;
      const fragOffset = ((d[p + 2]! << 8) | d[p + 3]!) >> 3;
      if (fragOffset !== 0) return skip(counters, 'ip_fragments');
      if (d[p + 3]! & 1) bump(counters, 'ip_first_fragments');
      p += 8;
      next = n;
    } else if (next === 51) {
      if (fe < p + 2) return skip(counters, 'truncated_ip');
      const n = d[p]!;
      p += (d[p + 1]! + 2) * 4;
      next = n;
    } else break;
  }
  if (p > end) return skip(counters, 'bad_ip_header');
  return decodeTransport(d, p, end, fe, 40 + payloadLen, end - p, next, 6, src, dst, ts, counters, out);
}

function decodeTransport(
  d: Uint8Array,
  p: number,
  end: number,
  fe: number,
  ipLen: number,
  l4Len: number,
  proto: number,
  ipVersion: 4 | 6,
  src: string,
  dst: string,
  ts: number,
  counters: Counters,
  pkt: DecodedPacket,
): DecodedPacket | null {
  pkt.ts = ts;
  pkt.ipVersion = ipVersion;
  pkt.src = src;
  pkt.dst = dst;
  pkt.proto = proto;
  pkt.sport = 0;
  pkt.dport = 0;
  pkt.ipLen = ipLen;
  pkt.payloadLen = 0;
  pkt.tcpFlags = 0;
  pkt.data = d;
  pkt.payloadOffset = 0;
  pkt.payloadCaptured = 0;
  if (proto === 6) {
    if (l4Len < 20) return skip(counters, 'bad_transport_header');
    if (fe < p + 14) return skip(counters, 'truncated_transport');
    pkt.sport = (d[p]! << 8) | d[p + 1]!;
    pkt.dport = (d[p + 2]! << 8) | d[p + 3]!;
    const hl = (d[p + 12]! >> 4) * 4;
    if (hl < 20 || hl > l4Len) return skip(counters, 'bad_transport_header');
    pkt.tcpFlags = d[p + 13]!;
    pkt.payloadLen = l4Len - hl;
    pkt.payloadOffset = p + hl;
  } else if (proto === 17) {
    if (l4Len < 8) return skip(counters, 'bad_transport_header');
    if (fe < p + 4) return skip(counters, 'truncated_transport');
    pkt.sport = (d[p]! << 8) | d[p + 1]!;
    pkt.dport = (d[p + 2]! << 8) | d[p + 3]!;
    pkt.payloadLen = l4Len - 8;
    pkt.payloadOffset = p + 8;
  } else if (proto === 1 || proto === 58) {
    if (l4Len < 4) return skip(counters, 'bad_transport_header');
    if (fe < p + 2) return skip(counters, 'truncated_transport');
    if (proto === 1 && ipVersion !== 4) return skip(counters, 'bad_transport_header');
    pkt.sport = d[p]!;
    pkt.dport = d[p + 1]!;
    pkt.payloadLen = Math.max(l4Len - 8, 0);
    pkt.payloadOffset = p + 8; // after type, code, checksum and the 4-byte rest of header
  } else {
    return skip(counters, proto === 50 ? 'ipsec_esp' : 'unsupported_ip_protocol');
  }
  if (pkt.payloadOffset! > 0)
    pkt.payloadCaptured = Math.max(0, Math.min(pkt.payloadLen, Math.min(fe, end) - pkt.payloadOffset!));
  return pkt;
}
