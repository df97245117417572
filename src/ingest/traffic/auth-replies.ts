/**
 * Failed logins in plaintext line protocols, counted from the server's replies on any TCP port:
 *
 * - a reply line `530 ` (FTP: not logged in) or `535 ` (SMTP AUTH: credentials invalid); only
 *   the last line of a multi-line reply (`530-` continues) counts;
 * - POP3 `-ERR` answering the client's `PASS`, `APOP` or `AUTH <mechanism>` (a bare `AUTH` only
 *   lists mechanisms);
 * - IMAP `<tag> NO` / `<tag> BAD` answering the client's `<tag> LOGIN` / `<tag> AUTHENTICATE`;
 * - an HTTP status line `HTTP/1.x 401` or `407` answering a request that carried credentials
 *   (`Authorization` / `Proxy-Authorization`), except the NTLM and Negotiate schemes, whose first
 *   leg is always answered 401 by design; a 401 to a request without credentials is the ordinary
 *   challenge, not a failure.
 *
 * The originator is taken as the client. Both directions are read over the flow's first
 * `AUTH_PACKETS` payload packets and at most `AUTH_MAX_BYTES` bytes; a line split across segments
 * is read from the part at the start of a segment only. A flow whose first payload byte is not
 * printable ASCII (TLS, most binary protocols) is not read. Nothing throws; reads are
 * bounds-checked.
 */

/** Payload packets (both directions) read per flow. */
export const AUTH_PACKETS = 16;
/** Payload bytes (both directions) read per flow. */
export const AUTH_MAX_BYTES = 8192;

export class AuthReplies {
  failures = 0;
  packets = 0;
  bytes = 0;
  /** Stop reading: budget spent or the flow is not a text protocol. */
  done = false;
  /** Verb of the client's last command line (upper case), and its IMAP tag when it was LOGIN. */
  lastVerb = '';
  imapTag = '';
  /** The client's current HTTP request carries credentials (not an NTLM/Negotiate leg). */
  httpCredentials = false;
}

const up = (c: number) => (c >= 0x61 && c <= 0x7a ? c - 32 : c);

function wordAt(d: Uint8Array, o: number, end: number): { word: string; next: number } {
  let e = o;
  let word = '';
  while (e < end && e - o < 16 && d[e] !== 0x20 && d[e] !== 0x0d && d[e] !== 0x0a) {
    word += String.fromCharCode(up(d[e]!));
    e++;
  }
  return { word, next: e < end && d[e] === 0x20 ? e + 1 : e };
}

/** True when d[o..] starts with `s` (ASCII, case-sensitive). */
function startsWith(d: Uint8Array, o: number, end: number, s: string): boolean {
  if (o + s.length > end) return false;
  for (let i = 0; i < s.length; i++) if (d[o + i] !== s.charCodeAt(i)) return false;
  return true;
}

/** "METHOD target HTTP/1.x": an upper-case first word and the version at the end of the line. */
function isRequestLine(d: Uint8Array, o: number, end: number): boolean {
  if (d[o]! < 0x41 || d[o]! > 0x5a) return false;
  let e = o;
  while (e < end && d[e] !== 0x0a) e++;
  if (e > o && d[e - 1] === 0x0d) e--;
  return e - o > 12 && startsWith(d, e - 9, end, ' HTTP/1.');
}

function clientLine(a: AuthReplies, d: Uint8Array, o: number, end: number): void {
  const first = wordAt(d, o, end);
  if (first.word === '') return;
  const second = wordAt(d, first.next, end).word;
  if (first.word === 'AUTHORIZATION:' || first.word === 'PROXY-AUTHORIZATION:') {
    a.httpCredentials = second !== '' && second !== 'NTLM' && second !== 'NEGOTIATE';
    return;
  }
  if (isRequestLine(d, o, end)) a.httpCredentials = false; // a new request, no credentials yet
  if (second === 'LOGIN' || second === 'AUTHENTICATE') {
    a.lastVerb = second;
    a.imapTag = first.word;
  } else {
    // a bare POP3 "AUTH" lists the mechanisms (answered -ERR when there are none): no login
    a.lastVerb = first.word === 'AUTH' && second === '' ? 'AUTH-LIST' : first.word;
    a.imapTag = '';
  }
}

function serverLine(a: AuthReplies, d: Uint8Array, o: number, end: number): void {
  if (startsWith(d, o, end, '530 ') || startsWith(d, o, end, '535 ')) a.failures++;
  else if (startsWith(d, o, end, '-ERR')) {
    if (a.lastVerb === 'PASS' || a.lastVerb === 'APOP' || a.lastVerb === 'AUTH') a.failures++;
  } else if (startsWith(d, o, end, 'HTTP/1.') && o + 12 <= end && d[o + 8] === 0x20) {
    const denied = startsWith(d, o + 9, end, '401') || startsWith(d, o + 9, end, '407');
    if (denied && a.httpCredentials) a.failures++;
    a.httpCredentials = false;
  } else if (a.imapTag !== '') {
    const tag = wordAt(d, o, end);
    if (tag.word === a.imapTag) {
      const st = wordAt(d, tag.next, end).word;
      if (st === 'NO' || st === 'BAD') a.failures++;
    }
  }
}

/** Read one payload `d[off, off+len)`; `fromClient` = sent by the originator. */
export function observeAuth(
  a: AuthReplies,
  fromClient: boolean,
  d: Uint8Array,
  off: number,
  len: number,
): void {
  if (a.done) return;
  const n = Math.min(len, AUTH_MAX_BYTES - a.bytes, d.length - off);
  if (n <= 0) {
    a.done = true;
    return;
  }
  if (a.packets === 0) {
    const c = d[off]!;
    if (c < 0x20 || c > 0x7e) {
      a.done = true;
      return;
    }
  }
  a.packets++;
  a.bytes += n;
  const end = off + n;
  for (let o = off; o < end; ) {
    if (fromClient) clientLine(a, d, o, end);
    else serverLine(a, d, o, end);
    while (o < end && d[o] !== 0x0a) o++;
    o++;
  }
  if (a.packets >= AUTH_PACKETS || a.bytes >= AUTH_MAX_BYTES) a.done = true;
}
