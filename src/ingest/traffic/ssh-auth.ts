/**
 * Failed SSH logins, estimated from the sizes of the encrypted server packets, in the way Zeek's
 * SSH analyzer decides authentication outcomes without keys (`userauth_failure_size`).
 *
 * The plaintext start of both directions is followed (identification line, then binary packets:
 * uint32 length, padding length, message code) up to each side's NEWKEYS (message 21); every TCP
 * payload segment after that is one encrypted event. After the client's first encrypted segment
 * (SERVICE_REQUEST), the server's first reply is SERVICE_ACCEPT and its next is the answer to the
 * first USERAUTH_REQUEST. Clients open with the "none" method (OpenSSH, PuTTY, libssh, hydra), so
 * that answer is a USERAUTH_FAILURE listing the methods, and every later reply of the same size is
 * another failure; the first reply of another size (PK_OK, SUCCESS, a banner, DISCONNECT) ends the
 * authentication phase. Failures = replies of the failure size − 1 (the "none" probe), counted
 * only when the connection did not log in: a login is a reply of another size followed by
 * `LOGIN_REPLIES` more server replies (the session's channel opening), so a client that offered
 * two keys before the accepted one made no failed login, while a guesser's connection that ends
 * with "too many authentication failures" made them all (Zeek's password-guessing detection
 * counts connections without success in the same way).
 *
 * Only server segments that answer a client segment count, so retransmissions and split replies
 * are ignored. A header split across segments, an implausible packet length or a flow that leaves
 * the expected shape stops reading with what was counted. Nothing throws; reads are bounds-checked.
 */

/** Encrypted server segments read per flow. */
export const SSH_REPLIES_MAX = 32;
/** Largest binary packet accepted in the plaintext phase (RFC 4253 §6.1 asks for 35000). */
const MAX_PACKET = 35000;
const MSG_NEWKEYS = 21;
/** Server replies after the first one of another size that mean the login succeeded. */
export const LOGIN_REPLIES = 2;

const BANNER = 0;
const PLAIN = 1;
const ENCRYPTED = 2;
const STOPPED = 3;

/** Per-direction parser state of the plaintext phase. */
class Side {
  phase = BANNER;
  /** The identification line continues in the next segment. */
  inLine = false;
  /** Bytes of the current binary packet still to skip in later segments. */
  skip = 0;
}

export class SshAuth {
  readonly client = new Side();
  readonly server = new Side();
  /** The client sent an encrypted segment the server has not answered yet. */
  private pending = false;
  private clientEncrypted = 0;
  private replies = 0;
  private failureSize = 0;
  private failureReplies = 0;
  /** Replies since the first one of another size (−1: none yet). */
  private afterAuth = -1;
  /** The outcome is known (or reading stopped). */
  done = false;

  /** The connection logged in (a reply of another size, then the channel opening). */
  get loggedIn(): boolean {
    return this.afterAuth >= LOGIN_REPLIES;
  }

  /** Estimated failed authentication attempts of a connection that did not log in. */
  get failures(): number {
    return this.loggedIn ? 0 : Math.max(0, this.failureReplies - 1);
  }

  private reply(len: number): void {
    if (!this.pending || this.clientEncrypted === 0) return;
    this.pending = false;
    this.replies++;
    if (this.replies === 1) return; // SERVICE_ACCEPT
    if (this.afterAuth >= 0) {
      if (++this.afterAuth >= LOGIN_REPLIES) this.done = true;
    } else if (this.failureSize === 0) {
      this.failureSize = len;
      this.failureReplies = 1;
    } else if (len === this.failureSize) this.failureReplies++;
    else this.afterAuth = 0;
    if (this.replies >= SSH_REPLIES_MAX) this.done = true;
  }

  /** Read one payload `d[off, off+len)`; `fromClient` = sent by the originator. */
  observe(fromClient: boolean, d: Uint8Array, off: number, len: number): void {
    if (this.done) return;
    const side = fromClient ? this.client : this.server;
    const end = Math.min(off + len, d.length);
    if (end <= off) return;
    if (side.phase === ENCRYPTED) {
      if (fromClient) {
        this.clientEncrypted++;
        this.pending = true;
      } else this.reply(end - off);
      return;
    }
    if (side.phase === STOPPED) return;
    let o = off;
    // lines before the identification line are allowed from the server (RFC 4253 §4.2)
    while (o < end && side.phase === BANNER) {
      const ident = side.inLine || isSshStart(d, o, end);
      if (!ident && fromClient) {
        side.phase = STOPPED; // only the server may send lines before its identification
        break;
      }
      while (o < end && d[o] !== 0x0a) o++;
      side.inLine = o === end && ident;
      if (o === end) break;
      o++;
      if (ident) side.phase = PLAIN;
    }
    while (o < end && side.phase === PLAIN) {
      if (side.skip > 0) {
        const n = Math.min(side.skip, end - o);
        side.skip -= n;
        o += n;
        continue;
      }
      if (o + 6 > end) {
        side.phase = STOPPED;
        break;
      }
      const packetLen = ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;
      if (packetLen < 5 || packetLen > MAX_PACKET) {
        side.phase = STOPPED;
        break;
      }
      if (d[o + 5] === MSG_NEWKEYS) side.phase = ENCRYPTED;
      side.skip = 4 + packetLen;
    }
    if (this.client.phase === STOPPED || this.server.phase === STOPPED) this.done = true;
  }
}

/** True when d[o..] starts with "SSH-". */
export function isSshStart(d: Uint8Array, o: number, end: number): boolean {
  return o + 4 <= end && d[o] === 0x53 && d[o + 1] === 0x53 && d[o + 2] === 0x48 && d[o + 3] === 0x2d;
}
