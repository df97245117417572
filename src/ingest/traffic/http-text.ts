/**
 * Character statistics of HTTP request text (a request-target, a User-Agent value) that describe
 * how much of it is syntax meant for an interpreter rather than a resource name: no keyword lists,
 * no signatures, only character classes. Pure string functions, so the packet parser (app-meta.ts)
 * and a Zeek http.log reader give the same numbers for the same text.
 *
 * Inputs are read as Latin-1 text (one character per byte) and never longer than the caller's
 * bound (the packet parser passes at most 4 KiB); every function is linear in its input.
 */

/**
 * Meta characters: quotes, angle brackets, parentheses, `;`, `$`, braces, `|`, backtick and
 * backslash — the characters that end a string or start an expression, tag, command or template
 * in SQL, HTML/JS, shells and template engines.
 */
export const META_CHARS = `'"<>();$\{}|\`\\`;
const META = new Uint8Array(256);
for (const c of META_CHARS) META[c.charCodeAt(0)] = 1;
/** The User-Agent grammar (RFC 9110 product tokens and comments) uses these: not counted there. */
const UA_GRAMMAR = new Set(['(', ')', ';']);
const UA_META = new Uint8Array(META);
for (const c of UA_GRAMMAR) UA_META[c.charCodeAt(0)] = 0;

/** Percent-decoding rounds applied before counting (double encoding `%2527` is common evasion). */
export const DECODE_ROUNDS = 2;

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  c |= 0x20;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/** One round of %XX decoding; a `%` not followed by two hex digits is kept as written. */
function decodeOnce(s: string): string {
  if (s.indexOf('%') < 0) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && i + 2 < s.length) {
      const h = hexVal(s.charCodeAt(i + 1));
      const l = hexVal(s.charCodeAt(i + 2));
      if (h >= 0 && l >= 0) {
        out += String.fromCharCode(h * 16 + l);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

/** Percent-decode up to `rounds` times (stops early when nothing changes). `+` is left alone. */
export function percentDecode(s: string, rounds = DECODE_ROUNDS): string {
  let cur = s;
  for (let r = 0; r < rounds; r++) {
    const next = decodeOnce(cur);
    if (next === cur) break;
    cur = next;
  }
  return cur;
}

function countMeta(s: string, table: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 256 && table[c]) n++;
    // path traversal: "../" or "..\"
    else if (c === 0x2e && s.charCodeAt(i + 1) === 0x2e) {
      const t = s.charCodeAt(i + 2);
      if (t === 0x2f || t === 0x5c) n++;
    }
  }
  return n;
}

/** Meta characters (META_CHARS) plus `../` / `..\` sequences in a text, as written. */
export function metaCharCount(s: string): number {
  return countMeta(s, META);
}

/** Meta characters and traversal sequences of a request-target after percent-decoding (twice). */
export function uriMetaChars(uri: string): number {
  return countMeta(percentDecode(uri), META);
}

/** Share of the raw request-target's characters that are part of a %XX escape (0 when empty). */
export function escapedRatio(uri: string): number {
  if (uri.length === 0) return 0;
  let k = 0;
  for (let i = 0; i + 2 < uri.length; i++) {
    if (
      uri.charCodeAt(i) === 0x25 &&
      hexVal(uri.charCodeAt(i + 1)) >= 0 &&
      hexVal(uri.charCodeAt(i + 2)) >= 0
    ) {
      k += 3;
      i += 2;
    }
  }
  return k / uri.length;
}

/**
 * Meta characters of a User-Agent (percent-decoded like a URI), without the parentheses and
 * semicolons its own grammar uses, plus each `://` (a URL inside the value).
 */
export function userAgentMetaChars(ua: string): number {
  const s = percentDecode(ua);
  let n = countMeta(s, UA_META);
  for (let i = s.indexOf('://'); i >= 0; i = s.indexOf('://', i + 3)) n++;
  return n;
}

const IPV4_HOST = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}(:\d{1,5})?$/;
const IPV6_HOST = /^\[[0-9a-f:.]+(%[\w.~-]+)?\](:\d{1,5})?$/i;

/**
 * The Host header value names an address (dotted IPv4 or bracketed IPv6, optionally with a
 * port; RFC 9110 §7.2) rather than a registered name: browsers and update clients name sites,
 * implants and exploit callbacks often call an address they were given.
 */
export function isAddressHost(host: string): boolean {
  const h = host.trim();
  return IPV4_HOST.test(h) || IPV6_HOST.test(h);
}
