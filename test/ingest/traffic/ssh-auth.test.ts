/**
 * SSH login outcomes from encrypted reply sizes (ssh-auth.ts): conversations built to RFC 4253's
 * packet layout, a real capture read end to end, and robustness on random bytes.
 * NETANOMALY_DATA_DIR must point at the shared datasets: these tests fail, not skip, without it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { iterateFlows } from '../../../src/ingest/traffic/index.ts';
import { LOGIN_REPLIES, SSH_REPLIES_MAX, SshAuth } from '../../../src/ingest/traffic/ssh-auth.ts';

const DATA = process.env.NETANOMALY_DATA_DIR ?? '';

const text = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
/** One plaintext binary packet: uint32 length, padding length, message code, payload, padding. */
function packet(code: number, payloadLen: number): Uint8Array {
  const pad = 4;
  const len = 1 + 1 + payloadLen + pad;
  const p = new Uint8Array(4 + len);
  new DataView(p.buffer).setUint32(0, len);
  p[4] = pad;
  p[5] = code;
  return p;
}
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const KEXINIT = 20;
const NEWKEYS = 21;

type Seg = [fromClient: boolean, bytes: Uint8Array];
const C = (b: Uint8Array | number): Seg => [true, typeof b === 'number' ? new Uint8Array(b) : b];
const S = (b: Uint8Array | number): Seg => [false, typeof b === 'number' ? new Uint8Array(b) : b];

/** Identification lines and key exchange up to both NEWKEYS, then the service request/accept. */
function handshake(): Seg[] {
  return [
    C(text('SSH-2.0-OpenSSH_9.2\r\n')),
    S(text('SSH-2.0-OpenSSH_9.2p1 Debian\r\n')),
    C(packet(KEXINIT, 900)),
    S(packet(KEXINIT, 1080)),
    C(packet(30, 40)),
    S(concat(packet(31, 500), packet(NEWKEYS, 0))),
    C(packet(NEWKEYS, 0)),
    C(44), // SERVICE_REQUEST, encrypted
    S(44), // SERVICE_ACCEPT
  ];
}

function run(segs: Seg[]): SshAuth {
  const a = new SshAuth();
  for (const [fromClient, b] of segs) a.observe(fromClient, b, 0, b.length);
  return a;
}

describe('SSH login outcome from encrypted reply sizes', () => {
  test('a guesser: the none probe and five refused passwords, then DISCONNECT: 5 failures', () => {
    const segs = [...handshake(), C(68), S(52)];
    for (let i = 0; i < 5; i++) segs.push(C(92), S(52));
    segs.push(C(92), S(76)); // "too many authentication failures"
    const a = run(segs);
    assert.equal(a.failures, 5);
    assert.equal(a.loggedIn, false);
  });

  test('a key login after two refused keys is no failed login', () => {
    const segs = [...handshake(), C(60), S(80), C(144), S(80), C(144), S(80), C(144), S(100)];
    segs.push(C(308), S(28), C(112), S(272)); // PK_OK, signature, SUCCESS, channel opening
    const a = run(segs);
    assert.equal(a.loggedIn, true);
    assert.equal(a.failures, 0);
    // the same conversation cut before the channel opens: the refused keys are failures
    assert.equal(run(segs.slice(0, -4)).failures, 2);
  });

  test(`a login needs ${LOGIN_REPLIES} replies after the first of another size`, () => {
    const base = [...handshake(), C(60), S(52), C(84), S(52), C(84), S(28)];
    assert.equal(run(base).failures, 1);
    assert.equal(run([...base, C(100), S(40)]).failures, 1);
    assert.equal(run([...base, C(100), S(40), C(60), S(60)]).failures, 0);
  });

  test('server segments that answer no client segment (retransmissions, split replies) are not replies', () => {
    const segs = [...handshake(), C(68), S(52), C(92), S(52), S(52), S(52), C(92), S(52)];
    assert.equal(run(segs).failures, 2);
  });

  test('server lines before its identification line; a key-exchange packet split over segments', () => {
    const kex = packet(KEXINIT, 3000);
    const segs: Seg[] = [
      C(text('SSH-2.0-libssh_0.10\r\n')),
      S(text('Welcome\r\nSSH-2.0-Open')),
      S(text('SSH_9.2\r\n')),
      C(kex.subarray(0, 1448)),
      C(kex.subarray(1448, 2896)),
      C(concat(kex.subarray(2896), packet(30, 40))),
      S(concat(packet(KEXINIT, 1000), packet(31, 500), packet(NEWKEYS, 0))),
      C(packet(NEWKEYS, 0)),
      C(44),
      S(44),
      C(68),
      S(52),
      C(92),
      S(52),
    ];
    assert.equal(run(segs).failures, 1);
  });

  test('a header split across segments or an implausible length stops reading, without a throw', () => {
    const kex = packet(KEXINIT, 100);
    const split = run([C(text('SSH-2.0-x\r\n')), C(kex.subarray(0, 3)), C(kex.subarray(3)), C(60), S(52)]);
    assert.equal(split.done, true);
    assert.equal(split.failures, 0);
    const huge = new Uint8Array(8);
    new DataView(huge.buffer).setUint32(0, 1 << 30);
    assert.equal(run([C(text('SSH-2.0-x\r\n')), C(huge)]).done, true);
    assert.equal(run([C(text('GET / HTTP/1.1\r\n'))]).done, true);
  });

  test(`reading stops after ${SSH_REPLIES_MAX} replies`, () => {
    const segs = [...handshake(), C(68), S(52)];
    for (let i = 0; i < 100; i++) segs.push(C(92), S(52));
    const a = run(segs);
    assert.equal(a.done, true);
    assert.equal(a.failures, SSH_REPLIES_MAX - 2); // the accept and the none probe are not failures
  });

  test('random segments never throw and give a count within the bounds', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.uint8Array({ maxLength: 64 })), { maxLength: 60 }),
        fc.boolean(),
        (segs, withHandshake) => {
          const a = run([...(withHandshake ? handshake() : []), ...segs]);
          assert.ok(a.failures >= 0 && a.failures <= SSH_REPLIES_MAX);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('real capture: a client that offers two refused keys before logging in made no failed login', async () => {
    // pcaps/normal/ssh.pcap: after the none probe the server refuses two key offers (same reply
    // size as the probe's), then accepts the third and the session opens its channel
    let ssh = 0;
    for await (const f of iterateFlows(join(DATA, 'pcaps', 'normal', 'ssh.pcap'))) {
      if (f.dst_port !== 22) continue;
      ssh++;
      assert.equal(f.f.auth_failures, 0);
      assert.equal(f.f.src_10m_auth_failures, 0);
    }
    assert.ok(ssh >= 1);
  });
});
