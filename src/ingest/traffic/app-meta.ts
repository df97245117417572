/**
 * Application metadata from the first payload packets of a flow: DNS (UDP/TCP ports 53, 5353,
 * 5355), TLS ClientHello/ServerHello (any TCP port) and HTTP/1.x request line, headers and status
 * line (any TCP port). Parsing is defensive and bounded:
 *
 * - at most `APP_PAYLOAD_PACKETS` payload packets per flow are looked at, each at most
 *   `APP_MAX_BYTES` bytes; a ClientHello split over TCP segments is reassembled up to that bound
 *   (the only copy made, once per TLS flow);
 * - every read is bounds-checked; a message that does not parse is counted (`app_dns_malformed`,
 *   `app_tls_malformed`, `app_http_malformed`) and ignored, nothing throws;
 * - no allocation per packet: the entropy histogram is a module-level scratch array; strings are
 *   made once per flow (the query name, SNI, Host, URI prefix).
 *
 * The flow meter calls `observePayload` while a packet's bytes are still valid (the reader reuses
 * its buffer) and `appFeatures` when the flow ends.
 */
import { escapedRatio, isAddressHost, uriMetaChars, userAgentMetaChars } from './http-text.ts';
import { bump, type Counters } from './pcap.ts';
import type { AppCategorical, FlowAppInfo } from './schema.ts';

/** Payload packets per flow looked at for application metadata. */
export const APP_PAYLOAD_PACKETS = 4;
/** Bytes of one payload (or of a reassembled ClientHello) looked at. */
export const APP_MAX_BYTES = 4096;
/** Signed payload sizes recorded for the first data packets of a flow. */
export const FIRST_DATA_PACKETS = 6;
/** Ports whose UDP/TCP payload is parsed as DNS (DNS, mDNS, LLMNR). */
export const DNS_PORTS: ReadonlySet<number> = new Set([53, 5353, 5355]);
/** Buckets of the hashed TLS fingerprint (`tls_fp` = "fp00".."fp31"). */
export const TLS_FP_BUCKETS = 32;
/** Longest URI / query name kept as text (evidence for analysts; features use the full length). */
const MAX_TEXT = 256;

const NONE = 0;
const DNS = 1;
const TLS = 2;
const HTTP = 3;
const APP_NAMES = ['none', 'dns', 'tls', 'http'] as const;

/** What the parser learnt about one flow. Numbers are NaN until seen. */
export class AppMeta {
  kind = NONE;
  looked = 0;
  // DNS
  dnsQuery: string | null = null;
  dnsQtype = -1;
  dnsRcode = -1;
  dnsAnswers = Number.NaN;
  dnsMinTtl = Number.NaN;
  dnsNameLen = Number.NaN;
  dnsLabels = Number.NaN;
  dnsMaxLabel = Number.NaN;
  dnsEntropy = Number.NaN;
  dnsDigitRatio = Number.NaN;
  // TLS
  tlsClient = false;
  tlsServer = false;
  tlsSni: string | null = null;
  tlsSniLen = Number.NaN;
  tlsAlpn = Number.NaN;
  tlsCiphers = Number.NaN;
  tlsExtensions = Number.NaN;
  tlsVersion = -1;
  tlsFp = -1;
  tlsFpHex = '';
  /** ClientHello reassembly across segments (only when the first segment holds part of it). */
  helloBuf: Uint8Array | null = null;
  helloLen = 0;
  helloNeed = 0;
  helloFwd = true;
  // HTTP
  httpMethod = '';
  httpUri: string | null = null;
  httpUriLen = Number.NaN;
  httpUriEntropy = Number.NaN;
  httpHost: string | null = null;
  httpHostPresent = Number.NaN;
  httpUaLen = Number.NaN;
  httpHeaders = Number.NaN;
  httpStatus = -1;
  // HTTP text statistics (http-text.ts)
  httpUriMeta = Number.NaN;
  httpUriEscaped = Number.NaN;
  httpUa: string | null = null;
  httpUaMeta = Number.NaN;

  /** Nothing more to learn: both sides parsed, or the look budget spent. */
  get done(): boolean {
    if (this.looked >= APP_PAYLOAD_PACKETS && this.helloBuf === null) return true;
    if (this.kind === DNS) return this.dnsRcode >= 0 && this.dnsQtype >= 0;
    if (this.kind === TLS) return this.tlsClient && this.tlsServer;
    if (this.kind === HTTP) return this.httpStatus >= 0;
    return false;
  }
}

const hist = new Int32Array(256);

/** Shannon entropy (bits per character) of d[o, o+n) skipping byte `skip` (-1: none). */
function entropy(d: Uint8Array, o: number, n: number, skip: number): number {
  hist.fill(0);
  let total = 0;
  for (let i = o; i < o + n; i++) {
    const c = d[i]!;
    if (c === skip) continue;
    hist[c]!++;
    total++;
  }
  if (total === 0) return 0;
  let h = 0;
  for (let c = 0; c < 256; c++) {
    const k = hist[c]!;
    if (k) {
      const p = k / total;
      h -= p * Math.log2(p);
    }
  }
  return h;
}

function latin1(d: Uint8Array, o: number, n: number, max = MAX_TEXT): string {
  let s = '';
  const m = Math.min(n, max);
  for (let i = o; i < o + m; i++) s += String.fromCharCode(d[i]!);
  return s;
}

const u16 = (d: Uint8Array, o: number) => (d[o]! << 8) | d[o + 1]!;
const u32 = (d: Uint8Array, o: number) =>
  ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;

/**
 * Look at one payload: `d[off, off+len)` is the captured transport payload (maybe fewer bytes than
 * the packet had), `fwd` its direction.
 */
export function observePayload(
  m: AppMeta,
  fwd: boolean,
  proto: number,
  sport: number,
  dport: number,
  d: Uint8Array,
  off: number,
  len: number,
  counters: Counters,
): void {
  if (len <= 0) return;
  m.looked++;
  const n = Math.min(len, APP_MAX_BYTES);
  if (m.helloBuf !== null) {
    if (fwd === m.helloFwd) continueHello(m, d, off, n, counters);
    return;
  }
  if ((proto === 17 || proto === 6) && (m.kind === NONE || m.kind === DNS)) {
    if (DNS_PORTS.has(dport) || DNS_PORTS.has(sport)) {
      // DNS over TCP carries a two-byte length prefix.
      const o = proto === 6 ? off + 2 : off;
      const k = proto === 6 ? n - 2 : n;
      if (k >= 12) {
        if (parseDns(m, d, o, o + k)) m.kind = DNS;
        else bump(counters, 'app_dns_malformed');
      } else if (proto === 17) bump(counters, 'app_dns_malformed');
      return;
    }
  }
  if (proto !== 6) return;
  const b0 = d[off]!;
  if (b0 === 0x16 && n >= 6 && d[off + 1] === 3 && (m.kind === NONE || m.kind === TLS)) {
    const hs = d[off + 5]!;
    // the ClientHello's sender is the client whichever side sent the flow's first packet
    if (hs === 1 && !m.tlsClient) {
      const recLen = u16(d, off + 3);
      if (recLen + 5 > n && n < APP_MAX_BYTES) {
        // The ClientHello continues in the next segment(s): keep its bytes (bounded) and wait.
        m.helloNeed = Math.min(recLen + 5, APP_MAX_BYTES);
        m.helloBuf = new Uint8Array(m.helloNeed);
        m.helloBuf.set(d.subarray(off, off + Math.min(n, m.helloNeed)));
        m.helloLen = Math.min(n, m.helloNeed);
        m.helloFwd = fwd;
        m.kind = TLS;
        return;
      }
      if (parseClientHello(m, d, off, off + n)) m.kind = TLS;
      else bump(counters, 'app_tls_malformed');
    } else if (hs === 2 && !m.tlsServer) {
      if (parseServerHello(m, d, off, off + n)) m.kind = TLS;
      else bump(counters, 'app_tls_malformed');
    }
    return;
  }
  if (b0 & 0x80 && n >= 11 && d[off + 2] === 1 && m.kind === NONE && !m.tlsClient) {
    // SSLv2-compatible ClientHello (old clients, some VoIP stacks): 2-byte length, type 1
    const v = u16(d, off + 3);
    if (v === 0x0002 || v >> 8 === 3) {
      if (parseSsl2Hello(m, d, off, off + n)) m.kind = TLS;
      else bump(counters, 'app_tls_malformed');
      return;
    }
  }
  if (m.kind === NONE || m.kind === HTTP) {
    if (m.httpUri === null && b0 >= 0x41 && b0 <= 0x5a) {
      const r = parseHttpRequest(m, d, off, off + n);
      if (r === 1) m.kind = HTTP;
      else if (r < 0) bump(counters, 'app_http_malformed');
    } else if (m.httpStatus < 0 && b0 === 0x48 && n >= 12) {
      // "HTTP/1.x NNN"
      if (d[off + 1] === 0x54 && d[off + 2] === 0x54 && d[off + 3] === 0x50 && d[off + 4] === 0x2f) {
        const c = d[off + 9]! - 48;
        if (c >= 1 && c <= 5) {
          m.httpStatus = c;
          if (m.kind === NONE) m.kind = HTTP;
        } else bump(counters, 'app_http_malformed');
      }
    }
  }
}

function continueHello(m: AppMeta, d: Uint8Array, off: number, n: number, counters: Counters): void {
  const buf = m.helloBuf!;
  const k = Math.min(n, m.helloNeed - m.helloLen);
  buf.set(d.subarray(off, off + k), m.helloLen);
  m.helloLen += k;
  if (m.helloLen < m.helloNeed && m.looked < APP_PAYLOAD_PACKETS) return;
  m.helloBuf = null;
  // Parse what we have (a hello longer than the bound is parsed as far as it goes).
  if (!parseClientHello(m, buf, 0, m.helloLen)) bump(counters, 'app_tls_malformed');
}

// ---------------------------------------------------------------- DNS

/** Skip a (possibly compressed) name; the offset after it, or -1. */
function skipName(d: Uint8Array, o: number, end: number): number {
  for (let guard = 0; guard < 128 && o < end; guard++) {
    const l = d[o]!;
    if (l === 0) return o + 1;
    if ((l & 0xc0) === 0xc0) return o + 2 <= end ? o + 2 : -1;
    if (l > 63) return -1;
    o += l + 1;
  }
  return -1;
}

function parseDns(m: AppMeta, d: Uint8Array, o: number, end: number): boolean {
  const flags = u16(d, o + 2);
  const qr = flags >> 15;
  const qd = u16(d, o + 4);
  const an = u16(d, o + 6);
  if ((flags >> 11) & 0xf || qd === 0 || qd > 16) return false; // only standard queries
  let p = o + 12;
  // question name, read as written (a pointer in a question is followed, bounded)
  let nameLen = 0;
  let labels = 0;
  let maxLabel = 0;
  let digits = 0;
  let q = p;
  let after = -1;
  let jumps = 0;
  let name = '';
  hist.fill(0);
  for (let guard = 0; guard < 128; guard++) {
    if (q >= end) return false;
    const l = d[q]!;
    if (l === 0) {
      if (after < 0) after = q + 1;
      break;
    }
    if ((l & 0xc0) === 0xc0) {
      if (q + 2 > end || ++jumps > 8) return false;
      if (after < 0) after = q + 2;
      q = o + (((l & 0x3f) << 8) | d[q + 1]!);
      continue;
    }
    if (l > 63 || q + 1 + l > end) return false;
    labels++;
    if (l > maxLabel) maxLabel = l;
    if (name.length) name += '.';
    for (let i = q + 1; i <= q + l; i++) {
      let c = d[i]!;
      if (c >= 0x41 && c <= 0x5a) c += 32;
      if (c >= 0x30 && c <= 0x39) digits++;
      if (name.length < MAX_TEXT) name += String.fromCharCode(c);
    }
    nameLen += l + (labels > 1 ? 1 : 0);
    q += l + 1;
    if (nameLen > 255) return false;
  }
  if (after < 0 || after + 4 > end) return false;
  const qtype = u16(d, after);
  p = after + 4;
  if (m.dnsQuery === null) {
    m.dnsQuery = name;
    m.dnsNameLen = nameLen;
    m.dnsLabels = labels;
    m.dnsMaxLabel = maxLabel;
    const chars = nameLen - Math.max(labels - 1, 0);
    m.dnsDigitRatio = chars > 0 ? digits / chars : 0;
    m.dnsEntropy = nameEntropy(name);
  }
  if (m.dnsQtype < 0) m.dnsQtype = qtype;
  if (qr && m.dnsRcode < 0) {
    m.dnsRcode = flags & 0xf;
    m.dnsAnswers = an;
    // skip the other questions, then read each answer's TTL (bounded to 32 answers)
    for (let i = 1; i < qd && p > 0; i++) {
      p = skipName(d, p, end);
      if (p > 0) p += 4;
    }
    let minTtl = Number.POSITIVE_INFINITY;
    for (let i = 0; i < Math.min(an, 32) && p > 0; i++) {
      p = skipName(d, p, end);
      if (p < 0 || p + 10 > end) break;
      const ttl = u32(d, p + 4);
      if (ttl < minTtl && u16(d, p) !== 41) minTtl = ttl; // OPT's "TTL" holds flags
      p += 10 + u16(d, p + 8);
    }
    m.dnsMinTtl = Number.isFinite(minTtl) ? minTtl : Number.NaN;
  }
  return true;
}

function nameEntropy(name: string): number {
  hist.fill(0);
  let total = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i) & 0xff;
    if (c === 0x2e) continue;
    hist[c]!++;
    total++;
  }
  if (total === 0) return 0;
  let h = 0;
  for (let c = 0; c < 256; c++) {
    const k = hist[c]!;
    if (k) h -= (k / total) * Math.log2(k / total);
  }
  return h;
}

/** Length, labels, longest label, entropy and digit ratio of a query name given as text. */
export function nameStats(name: string): {
  len: number;
  labels: number;
  maxLabel: number;
  entropy: number;
  digitRatio: number;
} {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  const parts = n === '' ? [] : n.split('.');
  let digits = 0;
  for (let i = 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) digits++;
  }
  const chars = n.length - Math.max(parts.length - 1, 0);
  return {
    len: n.length,
    labels: parts.length,
    maxLabel: parts.reduce((m, p) => Math.max(m, p.length), 0),
    entropy: nameEntropy(n.toLowerCase()),
    digitRatio: chars > 0 ? digits / chars : 0,
  };
}

/** Entropy (bits per character) of a text, as the URI entropy of a parsed request. */
export function textEntropy(s: string): number {
  hist.fill(0);
  for (let i = 0; i < s.length; i++) hist[s.charCodeAt(i) & 0xff]!++;
  let h = 0;
  for (let c = 0; c < 256; c++) {
    const k = hist[c]!;
    if (k) h -= (k / s.length) * Math.log2(k / s.length);
  }
  return h;
}

/** DNS type names by number, for other sources of query types (Zeek dns.log). */
export function qtypeName(qtype: number): string {
  return QTYPES[qtype] ?? 'other';
}
export function rcodeName(rcode: number): string {
  return RCODES[rcode] ?? 'other';
}

/**
 * The registrable part of a query name, approximated without the public suffix list: the last two
 * labels, or three when the second-to-last is a common second-level label under a two-letter
 * country code (co.uk, com.au, ...).
 */
export function baseDomain(name: string): string {
  const parts = name.split('.');
  if (parts.length <= 2) return name;
  const tld = parts[parts.length - 1]!;
  const sld = parts[parts.length - 2]!;
  const k = tld.length === 2 && SECOND_LEVEL.has(sld) ? 3 : 2;
  return parts.slice(-k).join('.');
}
const SECOND_LEVEL = new Set(['co', 'com', 'net', 'org', 'ac', 'gov', 'edu', 'or', 'ne', 'go']);

// ---------------------------------------------------------------- TLS

const isGrease = (v: number) => (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);

/** FNV-1a over 16-bit values (the fingerprint hash; no allocation). */
function fnv16(h: number, v: number): number {
  h = Math.imul(h ^ (v >> 8), 0x01000193);
  return Math.imul(h ^ (v & 0xff), 0x01000193);
}

const sortScratch = new Uint16Array(512);

/** Hash the non-GREASE 16-bit values of d[o, o+n) (step 2), sorted (JA4-style) so order does not matter. */
function hashSorted(h: number, d: Uint8Array, o: number, n: number, count: { v: number }): number {
  let k = 0;
  for (let i = o; i + 1 < o + n && k < sortScratch.length; i += 2) {
    const v = u16(d, i);
    if (!isGrease(v)) sortScratch[k++] = v;
  }
  count.v = k;
  const view = sortScratch.subarray(0, k);
  view.sort();
  for (let i = 0; i < k; i++) h = fnv16(h, view[i]!);
  return fnv16(h, 0xffff);
}

function parseClientHello(m: AppMeta, d: Uint8Array, o: number, end: number): boolean {
  // record header (5) + handshake header (4) + version (2) + random (32) + session id
  let p = o + 5 + 4;
  if (p + 35 > end) return false;
  const legacyVersion = u16(d, p);
  p += 34;
  p += 1 + d[p]!;
  if (p + 2 > end) return false;
  const cipherBytes = u16(d, p);
  p += 2;
  if (p + cipherBytes > end || cipherBytes % 2) return false;
  const count = { v: 0 };
  let h = fnv16(0x811c9dc5, legacyVersion);
  h = hashSorted(h, d, p, cipherBytes, count);
  const ciphers = count.v;
  p += cipherBytes;
  if (p >= end) return false;
  p += 1 + d[p]!; // compression methods
  let sniLen = 0;
  let sni: string | null = null;
  let alpn = 0;
  let exts = 0;
  let maxVersion = legacyVersion;
  if (p + 2 <= end) {
    const extEnd = Math.min(end, p + 2 + u16(d, p));
    p += 2;
    // extension types (sorted, GREASE, SNI and ALPN excluded as in JA4) go into the hash
    let k = 0;
    while (p + 4 <= extEnd) {
      const type = u16(d, p);
      const len = u16(d, p + 2);
      const body = p + 4;
      if (body + len > extEnd) break;
      if (!isGrease(type)) {
        exts++;
        if (type !== 0 && type !== 16 && k < sortScratch.length) sortScratch[k++] = type;
      }
      if (type === 0 && len >= 5 && d[body + 2] === 0) {
        sniLen = Math.min(u16(d, body + 3), len - 5);
        sni = latin1(d, body + 5, sniLen).toLowerCase();
      } else if (type === 16) alpn = 1;
      else if (type === 43 && len >= 1) {
        for (let i = body + 1; i + 1 < body + 1 + d[body]! && i + 1 < body + len; i += 2) {
          const v = u16(d, i);
          if (!isGrease(v) && v > maxVersion && v <= 0x0304) maxVersion = v;
        }
      }
      p = body + len;
    }
    const view = sortScratch.subarray(0, k);
    view.sort();
    for (let i = 0; i < k; i++) h = fnv16(h, view[i]!);
  }
  h = fnv16(h, alpn);
  m.tlsClient = true;
  m.tlsSni = sni;
  m.tlsSniLen = sniLen;
  m.tlsAlpn = alpn;
  m.tlsCiphers = ciphers;
  m.tlsExtensions = exts;
  if (m.tlsVersion < 0) m.tlsVersion = maxVersion;
  m.tlsFp = (h >>> 0) % TLS_FP_BUCKETS;
  m.tlsFpHex = (h >>> 0).toString(16).padStart(8, '0');
  return true;
}

function parseSsl2Hello(m: AppMeta, d: Uint8Array, o: number, end: number): boolean {
  if (o + 11 > end) return false;
  const version = u16(d, o + 3);
  const specLen = u16(d, o + 5);
  if (specLen % 3 || o + 11 + specLen > end) return false;
  let h = fnv16(0x811c9dc5, version);
  for (let i = o + 11; i < o + 11 + specLen; i += 3) h = fnv16(fnv16(h, d[i]!), u16(d, i + 1));
  m.tlsClient = true;
  m.tlsSni = null;
  m.tlsSniLen = 0;
  m.tlsAlpn = 0;
  m.tlsCiphers = specLen / 3;
  m.tlsExtensions = 0;
  if (m.tlsVersion < 0) m.tlsVersion = version;
  m.tlsFp = (h >>> 0) % TLS_FP_BUCKETS;
  m.tlsFpHex = (h >>> 0).toString(16).padStart(8, '0');
  return true;
}

function parseServerHello(m: AppMeta, d: Uint8Array, o: number, end: number): boolean {
  let p = o + 5 + 4;
  if (p + 35 > end) return false;
  let version = u16(d, p);
  p += 34;
  p += 1 + d[p]!;
  p += 3; // cipher suite, compression
  if (p + 2 <= end) {
    const extEnd = Math.min(end, p + 2 + u16(d, p));
    p += 2;
    while (p + 4 <= extEnd) {
      const type = u16(d, p);
      const len = u16(d, p + 2);
      if (type === 43 && len === 2 && p + 6 <= extEnd) version = u16(d, p + 4);
      p += 4 + len;
    }
  }
  m.tlsServer = true;
  m.tlsVersion = version; // the negotiated version wins over the client's offer
  return true;
}

// ---------------------------------------------------------------- HTTP

const METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'CONNECT', 'PATCH', 'TRACE'];

/** 1: an HTTP request; 0: not HTTP; -1: a known method with a broken request line. */
function parseHttpRequest(m: AppMeta, d: Uint8Array, o: number, end: number): number {
  let sp = o;
  while (sp < end && sp - o < 10 && d[sp] !== 0x20) sp++;
  if (sp >= end || d[sp] !== 0x20) return 0;
  const method = latin1(d, o, sp - o);
  if (!/^[A-Z]{3,9}$/.test(method)) return 0;
  const known = METHODS.includes(method);
  const uriStart = sp + 1;
  let uriEnd = uriStart;
  while (uriEnd < end && d[uriEnd] !== 0x20 && d[uriEnd] !== 0x0d && d[uriEnd] !== 0x0a) uriEnd++;
  // "METHOD SP URI SP HTTP/"; a known method whose line is cut off by the byte bound also counts
  const versioned =
    uriEnd + 6 <= end && d[uriEnd] === 0x20 && d[uriEnd + 1] === 0x48 && d[uriEnd + 5] === 0x2f;
  if (!versioned && !(known && uriEnd === end)) return known ? -1 : 0;
  m.httpMethod = known ? method : 'other';
  m.httpUriLen = uriEnd - uriStart;
  m.httpUriEntropy = entropy(d, uriStart, uriEnd - uriStart, -1);
  const uri = latin1(d, uriStart, uriEnd - uriStart, APP_MAX_BYTES);
  m.httpUri = uri.slice(0, MAX_TEXT);
  m.httpUriMeta = uriMetaChars(uri);
  m.httpUriEscaped = escapedRatio(uri);
  let uaText = '';
  // headers: "Name: value" lines until an empty line or the end of the bytes we have
  let headers = 0;
  let host = 0;
  let ua = 0;
  let p = uriEnd;
  while (p < end && d[p] !== 0x0a) p++;
  p++;
  for (let guard = 0; guard < 100 && p < end; guard++) {
    let e = p;
    while (e < end && d[e] !== 0x0a) e++;
    const lineEnd = e > p && d[e - 1] === 0x0d ? e - 1 : e;
    if (lineEnd === p) break;
    headers++;
    let c = p;
    while (c < lineEnd && d[c] !== 0x3a) c++;
    const nameLen = c - p;
    let v = c + 1;
    while (v < lineEnd && d[v] === 0x20) v++;
    if (nameLen === 4 && lowerIs(d, p, 'host')) {
      host = 1;
      m.httpHost = latin1(d, v, lineEnd - v).toLowerCase();
    } else if (nameLen === 10 && lowerIs(d, p, 'user-agent')) {
      ua = Math.max(lineEnd - v, 0);
      uaText = latin1(d, v, ua, APP_MAX_BYTES);
    }
    p = e + 1;
  }
  m.httpHeaders = headers;
  m.httpHostPresent = host;
  m.httpUaLen = ua;
  m.httpUaMeta = userAgentMetaChars(uaText);
  if (ua > 0) m.httpUa = uaText.slice(0, MAX_TEXT);
  return 1;
}

function lowerIs(d: Uint8Array, o: number, s: string): boolean {
  for (let i = 0; i < s.length; i++) if ((d[o + i]! | 0x20) !== s.charCodeAt(i)) return false;
  return true;
}

// ---------------------------------------------------------------- features

/** At the end of a flow: parse a ClientHello still waiting for segments that never came. */
export function finishApp(m: AppMeta, counters: Counters): void {
  if (m.helloBuf === null) return;
  const buf = m.helloBuf;
  m.helloBuf = null;
  if (!parseClientHello(m, buf, 0, m.helloLen)) bump(counters, 'app_tls_malformed');
}

const QTYPES: Record<number, string> = {
  1: 'A',
  2: 'NS',
  5: 'CNAME',
  6: 'SOA',
  10: 'NULL',
  12: 'PTR',
  15: 'MX',
  16: 'TXT',
  28: 'AAAA',
  33: 'SRV',
  65: 'HTTPS',
  255: 'ANY',
};
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
const TLS_VERSIONS: Record<number, string> = {
  768: 'ssl3', // 0x0300
  769: 'tls1.0',
  770: 'tls1.1',
  771: 'tls1.2',
  772: 'tls1.3', // 0x0304
};

export type AppCategoricals = Record<AppCategorical, string>;

export const APP_CATEGORICAL_VALUES = {
  app_proto: APP_NAMES,
  dns_qtype: [...Object.values(QTYPES), 'other', 'none'],
  dns_rcode: [...RCODES, 'other', 'noreply', 'none'],
  tls_version: [...Object.values(TLS_VERSIONS), 'other', 'none'],
  http_method: [...METHODS, 'other', 'none'],
  http_status: ['1xx', '2xx', '3xx', '4xx', '5xx', 'noreply', 'none'],
} as const;

/** Fill the application fields of `v` (numeric, NaN where not applicable) and return the categoricals. */
export function appFeatures(
  m: AppMeta | null,
  v: Record<string, number>,
  info: FlowAppInfo,
): AppCategoricals {
  const c: AppCategoricals = {
    app_proto: APP_NAMES[m?.kind ?? NONE]!,
    dns_qtype: 'none',
    dns_rcode: 'none',
    tls_version: 'none',
    tls_fp: 'none',
    http_method: 'none',
    http_status: 'none',
  };
  if (!m) return c;
  if (m.kind === DNS) {
    v.dns_qname_len = m.dnsNameLen;
    v.dns_qname_labels = m.dnsLabels;
    v.dns_qname_max_label = m.dnsMaxLabel;
    v.dns_qname_entropy = m.dnsEntropy;
    v.dns_qname_digit_ratio = m.dnsDigitRatio;
    v.dns_answers = m.dnsAnswers;
    v.dns_min_ttl = m.dnsMinTtl;
    c.dns_qtype = QTYPES[m.dnsQtype] ?? 'other';
    c.dns_rcode = m.dnsRcode < 0 ? 'noreply' : (RCODES[m.dnsRcode] ?? 'other');
    if (m.dnsQuery !== null) info.dns_query = m.dnsQuery;
  } else if (m.kind === TLS) {
    if (m.tlsClient) {
      v.tls_sni_present = m.tlsSni !== null && m.tlsSniLen > 0 ? 1 : 0;
      v.tls_sni_len = m.tlsSniLen;
      v.tls_alpn_present = m.tlsAlpn;
      v.tls_cipher_count = m.tlsCiphers;
      v.tls_extension_count = m.tlsExtensions;
      c.tls_fp = `fp${String(m.tlsFp).padStart(2, '0')}`;
      info.tls_fingerprint = m.tlsFpHex;
      if (m.tlsSni) info.tls_sni = m.tlsSni;
    }
    c.tls_version = m.tlsVersion < 0 ? 'none' : (TLS_VERSIONS[m.tlsVersion] ?? 'other');
  } else if (m.kind === HTTP) {
    if (m.httpUri !== null) {
      v.http_uri_len = m.httpUriLen;
      v.http_uri_entropy = m.httpUriEntropy;
      v.http_host_present = m.httpHostPresent;
      v.http_host_is_address = m.httpHost !== null && isAddressHost(m.httpHost) ? 1 : 0;
      v.http_ua_len = m.httpUaLen;
      v.http_header_count = m.httpHeaders;
      v.http_uri_meta_chars = m.httpUriMeta;
      v.http_uri_escaped_ratio = m.httpUriEscaped;
      v.http_ua_meta_chars = m.httpUaMeta;
      c.http_method = m.httpMethod;
      info.http_uri = m.httpUri;
      if (m.httpUa !== null) info.http_user_agent = m.httpUa;
      if (m.httpHost) info.http_host = m.httpHost;
    }
    c.http_status = m.httpStatus < 0 ? 'noreply' : `${m.httpStatus}xx`;
  }
  return c;
}
