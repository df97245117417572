/**
 * Community ID flow hashing, version 1 (https://github.com/corelight/community-id-spec):
 * "1:" + base64(sha1(seed(2, BE) · saddr · daddr · proto(1) · 0(1) · sport(2, BE) · dport(2, BE))),
 * with the endpoints ordered so that both directions hash the same; ICMP/ICMPv6 use type/code
 * as ports, and request/reply types are mapped to each other.
 */
import { hash } from 'node:crypto';

const ICMP4_PAIRS: Record<number, number> = {
  8: 0,
  0: 8,
  13: 14,
  14: 13,
  15: 16,
  16: 15,
  10: 9,
  9: 10,
  17: 18,
  18: 17,
};
const ICMP6_PAIRS: Record<number, number> = {
  128: 129,
  129: 128,
  133: 134,
  134: 133,
  135: 136,
  136: 135,
  130: 131,
  131: 130,
  139: 140,
  140: 139,
  144: 145,
  145: 144,
};

/**
 * ICMP "ports": [srcPort, dstPort, oneWay]. A type with a counterpart gets (type, counterpart),
 * others (type, code) and are one-way (never reordered).
 */
export function icmpPorts(proto: number, type: number, code: number): [number, number, boolean] {
  const pairs = proto === 1 ? ICMP4_PAIRS : ICMP6_PAIRS;
  const other = pairs[type];
  if (other !== undefined) return [type, other, false];
  return [type, code, true];
}

/** Parse a textual IPv4 or IPv6 address into network-order bytes; null if it is neither. */
export function ipToBytes(ip: string): Uint8Array | null {
  if (ip.includes(':')) return ipv6ToBytes(ip);
  const parts = ip.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

function ipv6ToBytes(ip: string): Uint8Array | null {
  let s = ip;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  let tail4: Uint8Array | null = null;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tail4 = ipToBytes(s.slice(lastColon + 1));
    if (!tail4) return null;
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (h: string) => (h === '' ? [] : h.split(':'));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 0) return null;
  const groups = [...head, ...new Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    const v = Number.parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  }
  if (tail4) out.set(tail4, 12);
  return out;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** ipToBytes of addresses seen lately (flows repeat hosts; read only here; cleared when full). */
const bytesOf = new Map<string, Uint8Array>();
/** Longer than any address text (IPv6 with an embedded IPv4 is 45): parsed, never cached. */
const MAX_CACHED_ADDRESS = 64;
function addressBytes(ip: string): Uint8Array | null {
  // The cache is bounded in entries, so its keys must be bounded in size (and flat, below): a
  // hostile log's kilobyte-long "addresses" would otherwise hold up to 65,536 of them (fuzz #8).
  if (ip.length > MAX_CACHED_ADDRESS) return ipToBytes(ip);
  let b: Uint8Array | null | undefined = bytesOf.get(ip);
  if (b === undefined) {
    if (bytesOf.size >= 1 << 16) bytesOf.clear();
    b = ipToBytes(ip);
    // Only addresses (ASCII) are kept, each under a flat copy of its text: `ip` is usually a slice
    // of the whole input (a log line, a file), and a sliced string keeps its parent alive, so
    // 65,536 keys would pin as many inputs (fuzz #8, second part).
    if (b) bytesOf.set(Buffer.from(ip, 'latin1').toString('latin1'), b);
  }
  return b;
}

/**
 * Community ID v1 of a flow. For ICMP/ICMPv6 pass the ICMP type as `srcPort` and the code as
 * `dstPort` (`icmpPorts` is applied here). Returns "" when an address cannot be parsed.
 */
export function communityId(
  srcIp: string | Uint8Array,
  dstIp: string | Uint8Array,
  proto: number,
  srcPort: number,
  dstPort: number,
  seed = 0,
): string {
  let sa = typeof srcIp === 'string' ? addressBytes(srcIp) : srcIp;
  let da = typeof dstIp === 'string' ? addressBytes(dstIp) : dstIp;
  if (!sa || !da || sa.length !== da.length) return '';
  const hasPorts = proto === 6 || proto === 17 || proto === 132 || proto === 1 || proto === 58;
  let sp = srcPort;
  let dp = dstPort;
  let oneWay = false;
  if (proto === 1 || proto === 58) [sp, dp, oneWay] = icmpPorts(proto, srcPort, dstPort);
  if (hasPorts && (!Number.isInteger(sp) || !Number.isInteger(dp))) return '';
  if (!oneWay) {
    const c = compareBytes(sa, da);
    if (c > 0 || (c === 0 && hasPorts && sp > dp)) {
      [sa, da] = [da, sa];
      [sp, dp] = [dp, sp];
    }
  }
  const n = 2 + sa.length * 2 + 2 + (hasPorts ? 4 : 0);
  const buf = n === 40 ? scratch40 : n === 16 ? scratch16 : Buffer.alloc(n);
  let o = buf.writeUInt16BE(seed & 0xffff, 0);
  buf.set(sa, o);
  o += sa.length;
  buf.set(da, o);
  o += da.length;
  o = buf.writeUInt8(proto & 0xff, o);
  o = buf.writeUInt8(0, o);
  if (hasPorts) {
    o = buf.writeUInt16BE(sp & 0xffff, o);
    buf.writeUInt16BE(dp & 0xffff, o);
  }
  return `1:${hash('sha1', buf, 'base64')}`;
}

/** The hashed input of IPv6 and IPv4 flows with ports (every byte is written per call). */
const scratch40 = Buffer.alloc(40);
const scratch16 = Buffer.alloc(16);
