/**
 * Payload-content fields (http-text.ts, payload-stats.ts, auth-replies.ts) on real captures,
 * checked against tshark's dissection with reference computations written independently here,
 * and their robustness on random bytes and text.
 * NETANOMALY_DATA_DIR must point at the shared datasets: these tests fail, not skip, without it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { AuthReplies, observeAuth } from '../../../src/ingest/traffic/auth-replies.ts';
import {
  escapedRatio,
  isAddressHost,
  metaCharCount,
  percentDecode,
  uriMetaChars,
  userAgentMetaChars,
} from '../../../src/ingest/traffic/http-text.ts';
import { iterateFlows } from '../../../src/ingest/traffic/index.ts';
import {
  observeBytes,
  PAYLOAD_SAMPLE_BYTES,
  PayloadSample,
  payloadStatsFeatures,
} from '../../../src/ingest/traffic/payload-stats.ts';
import type { Flow } from '../../../src/ingest/traffic/schema.ts';

const DATA = process.env.NETANOMALY_DATA_DIR ?? '';
const PCAPS = join(DATA, 'pcaps');

function tshark(file: string, filter: string, fields: string[]): string[][] {
  const args = ['-r', file, '-Y', filter, '-T', 'fields', '-E', 'occurrence=f'];
  for (const f of fields) args.push('-e', f);
  const out = execFileSync('tshark', args, { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
  return out
    .toString()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}

async function flowsOf(file: string): Promise<Flow[]> {
  const out: Flow[] = [];
  for await (const f of iterateFlows(file)) out.push(f);
  return out;
}

const pairKey = (a: string, ap: string | number, b: string, bp: string | number) => {
  const x = `${a}|${ap}`;
  const y = `${b}|${bp}`;
  return x < y ? `${x}|${y}` : `${y}|${x}`;
};
const flowKey = (f: Flow) => pairKey(f.src_ip, f.src_port, f.dst_ip, f.dst_port);

// ------------------------------------------------ reference computations (regular expressions)

const refDecode = (s: string) =>
  s.replace(/%([0-9a-fA-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
const refMeta = (s: string) =>
  (s.match(/['"<>();${}|`\\]/g)?.length ?? 0) + (s.match(/\.\.[/\\]/g)?.length ?? 0);
const refUaMeta = (s: string) =>
  (s.match(/['"<>${}|`\\]/g)?.length ?? 0) +
  (s.match(/\.\.[/\\]/g)?.length ?? 0) +
  (s.match(/:\/\//g)?.length ?? 0);
const refEscaped = (s: string) =>
  s.length ? (3 * (s.match(/%[0-9a-fA-F]{2}/g)?.length ?? 0)) / s.length : 0;
function refStats(bytes: number[]): { entropy: number; printable: number } {
  const b = bytes.slice(0, PAYLOAD_SAMPLE_BYTES);
  const counts = new Map<number, number>();
  for (const x of b) counts.set(x, (counts.get(x) ?? 0) + 1);
  let entropy = 0;
  for (const k of counts.values()) entropy -= (k / b.length) * Math.log2(k / b.length);
  const printable = b.filter((x) => (x >= 0x20 && x <= 0x7e) || x === 9 || x === 10 || x === 13).length;
  return { entropy, printable: printable / b.length };
}
const hexBytes = (h: string) => (h ? [...Buffer.from(h.replace(/:/g, ''), 'hex')] : []);

describe('HTTP request text', () => {
  test('string functions on known inputs', () => {
    assert.equal(percentDecode('%2527'), "'");
    assert.equal(percentDecode('%252527'), '%27', 'two rounds, not more');
    assert.equal(percentDecode('%zz%4'), '%zz%4', 'broken escapes are kept');
    assert.equal(uriMetaChars('/a?id=a%27+UNION+SELECT+%22t%22%3B--'), 4);
    assert.equal(uriMetaChars('/x?q=%3Cscript%3Ealert(1)%3C/script%3E'), 6);
    assert.equal(uriMetaChars('/static/../../etc/passwd'), 2);
    assert.equal(uriMetaChars('/index.html?lang=en&page=2'), 0);
    assert.equal(escapedRatio('%41b'), 0.75);
    const browser = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/102.0.0.0';
    assert.equal(userAgentMetaChars(browser), 0, 'the comment grammar ( ) ; is not counted');
    assert.equal(metaCharCount(browser), 5);
    assert.equal(userAgentMetaChars(['$', '{jndi:ldap://h/a}'].join('')), 4);
    for (const h of ['10.0.0.5', '10.0.0.5:8080', '[2001:db8::1]', '[fe80::1%25eth0]:80'])
      assert.equal(isAddressHost(h), true, h);
    for (const h of ['www.example.com', 'localhost:3000', '10.0.0', '300.1.1.1', '1.2.3.4.example', ''])
      assert.equal(isAddressHost(h), false, h);
  });

  test('agree with tshark and a reference on the requests of real captures', async () => {
    assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
    const files = [
      'attack/sql_injection.pcap',
      'attack/xss.pcap',
      'attack/log4j-webapp-exploit.pcap',
      'attack/emotet.pcap',
      'normal/http_ipv6.pcap',
      'normal/http_auth.pcap',
      'normal/webdav.pcap',
      'normal/quickplay.pcap',
      'normal/http_ua_splitted_in_two_pkts.pcapng',
    ];
    let compared = 0;
    let metaSeen = 0;
    let addressHosts = 0;
    for (const rel of files) {
      const file = join(PCAPS, rel);
      const first = new Map<string, { uri: string; ua: string; host: string }>();
      const rows = tshark(file, 'http.request', [
        'ip.src',
        'ipv6.src',
        'tcp.srcport',
        'ip.dst',
        'ipv6.dst',
        'tcp.dstport',
        'http.request.uri',
        'http.user_agent',
        'http.host',
      ]);
      for (const [s4, s6, sp, d4, d6, dp, uri, ua, host] of rows) {
        const k = pairKey(s4 || s6!, sp!, d4 || d6!, dp!);
        if (!first.has(k)) first.set(k, { uri: uri ?? '', ua: ua ?? '', host: host ?? '' });
      }
      const seen = new Set<string>();
      for (const fl of await flowsOf(file)) {
        const k = flowKey(fl);
        const t = first.get(k);
        if (seen.has(k) || !t || fl.app?.app_proto !== 'http' || Number.isNaN(fl.f.http_uri_len!)) continue;
        seen.add(k);
        // ASCII text whose request line was whole in the first segment
        if (!/^[\x20-\x7e]*$/.test(t.uri + t.ua) || fl.f.http_uri_len !== t.uri.length) continue;
        const where = `${rel} ${k} ${t.uri.slice(0, 80)}`;
        assert.equal(fl.f.http_uri_meta_chars, refMeta(refDecode(refDecode(t.uri))), where);
        assert.ok(Math.abs(fl.f.http_uri_escaped_ratio! - refEscaped(t.uri)) < 1e-12, where);
        if (fl.f.http_ua_len === t.ua.length) {
          assert.equal(fl.f.http_ua_meta_chars, refUaMeta(refDecode(refDecode(t.ua))), where);
          assert.equal(fl.info?.http_user_agent ?? '', t.ua.slice(0, 256), where);
        }
        const literal = /^(\d{1,3}\.){3}\d{1,3}(:\d+)?$|^\[[0-9a-f:]+\](:\d+)?$/i.test(t.host);
        assert.equal(fl.f.http_host_is_address, literal ? 1 : 0, `${where} Host ${t.host}`);
        if (literal) addressHosts++;
        compared++;
        if (fl.f.http_uri_meta_chars! > 0) metaSeen++;
      }
    }
    process.stderr.write(`  payload-content: ${compared} HTTP requests compared\n`);
    assert.ok(compared >= 30, `compared ${compared} requests`);
    assert.ok(metaSeen >= 2, 'the SQL injection and XSS requests carry meta characters');
    assert.ok(addressHosts >= 1, 'some requests name an address as Host');
  });
});

describe('payload byte statistics', () => {
  test('entropy and printable share agree with tshark bytes (ICMP tunnel, TCP, UDP DNS)', async () => {
    const cases = [
      { rel: 'attack/icmp-tunnel.pcap', filter: 'icmp.type == 0 || icmp.type == 8', payload: 'data.data' },
      { rel: 'attack/sql_injection.pcap', filter: 'tcp.len > 0 && !icmp', payload: 'tcp.payload' },
      { rel: 'normal/dns.pcap', filter: 'udp && !icmp', payload: 'udp.payload' },
    ];
    let compared = 0;
    for (const { rel, filter, payload } of cases) {
      const file = join(PCAPS, rel);
      const fields = ['frame.time_epoch', 'ip.src', 'ipv6.src', 'ip.dst', 'ipv6.dst'];
      fields.push('tcp.srcport', 'udp.srcport', 'tcp.dstport', 'udp.dstport', payload);
      const rows = tshark(file, filter, fields).map(([ts, s4, s6, d4, d6, tsp, usp, tdp, udp, hex]) => ({
        ts: Number(ts),
        src: s4 || s6!,
        sport: tsp || usp || 'icmp',
        dst: d4 || d6!,
        dport: tdp || udp || 'icmp',
        bytes: hexBytes(hex ?? ''),
      }));
      for (const fl of await flowsOf(file)) {
        const icmp = fl.protocol === 'icmp';
        const port = (p: number) => (icmp ? 'icmp' : String(p));
        const k = pairKey(fl.src_ip, port(fl.src_port), fl.dst_ip, port(fl.dst_port));
        const end = fl.start_time + fl.f.duration!;
        const mine = rows.filter(
          (r) =>
            pairKey(r.src, r.sport, r.dst, r.dport) === k &&
            r.ts >= fl.start_time - 1e-6 &&
            r.ts <= end + 1e-6,
        );
        if (mine.length === 0) continue;
        for (const dir of ['fwd', 'bwd'] as const) {
          const bytes = mine
            .filter((r) => (r.src === fl.src_ip && r.sport === port(fl.src_port)) === (dir === 'fwd'))
            .flatMap((r) => r.bytes);
          const where = `${rel} ${k} ${fl.start_time} ${dir}`;
          if (bytes.length === 0) {
            assert.ok(Number.isNaN(fl.f[`${dir}_payload_entropy`]!), where);
            continue;
          }
          const r = refStats(bytes);
          assert.ok(Math.abs(fl.f[`${dir}_payload_entropy`]! - r.entropy) < 1e-9, `${where} entropy`);
          assert.ok(Math.abs(fl.f[`${dir}_printable_ratio`]! - r.printable) < 1e-12, `${where} printable`);
          compared++;
        }
      }
    }
    assert.ok(compared >= 10, `compared ${compared} directions`);
  });

  test('random bytes: never throws, values in range, a full random sample is near 8 bits', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.uint8Array({ maxLength: 700 }), fc.nat(50)), { maxLength: 8 }),
        (packets) => {
          const s = new PayloadSample();
          let fwdBytes = 0;
          for (const [fwd, bytes, off] of packets) {
            observeBytes(s, fwd, bytes, Math.min(off, bytes.length), bytes.length); // len past the end
            if (fwd) fwdBytes += Math.max(0, bytes.length - Math.min(off, bytes.length));
          }
          const v: Record<string, number> = {};
          payloadStatsFeatures(s, v);
          const n = Math.min(fwdBytes, PAYLOAD_SAMPLE_BYTES);
          if (n === 0) assert.ok(Number.isNaN(v.fwd_payload_entropy!));
          else {
            assert.ok(
              v.fwd_payload_entropy! >= 0 && v.fwd_payload_entropy! <= Math.log2(Math.min(n, 256)) + 1e-9,
            );
            assert.ok(v.fwd_printable_ratio! >= 0 && v.fwd_printable_ratio! <= 1);
          }
        },
      ),
      { numRuns: 500, seed: 15 },
    );
    const s = new PayloadSample();
    let x = 12345;
    const rnd = Uint8Array.from({ length: 4000 }, () => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x >>> 24;
    });
    observeBytes(s, true, rnd, 0, rnd.length);
    const v: Record<string, number> = {};
    payloadStatsFeatures(s, v);
    assert.ok(v.fwd_payload_entropy! > 7.7, String(v.fwd_payload_entropy));
    assert.ok(Number.isNaN(v.bwd_payload_entropy!));
  });
});

describe('failed logins', () => {
  test('FTP 530 and HTTP 401 to credentials as tshark sees them, per flow; benign FTP and NTLM have none', async () => {
    for (const [rel, expectPositive] of [
      ['attack/ftp_failed.pcap', true],
      ['normal/ftp.pcap', false],
      ['normal/http_auth.pcap', true], // Basic credentials refused: a real failed login
      ['normal/webdav.pcap', false], // NTLM: the first leg is always answered 401
    ] as const) {
      const file = join(PCAPS, rel);
      const ends = ['ip.src', 'ipv6.src', 'tcp.srcport', 'ip.dst', 'ipv6.dst', 'tcp.dstport'];
      const credentials = new Map(
        tshark(file, 'http.request', ['frame.number', 'http.authorization', 'http.proxy_authorization']).map(
          ([n, auth, proxy]) => [n!, !/^(NTLM|Negotiate)\b/i.test(auth || proxy || 'NTLM')] as const,
        ),
      );
      const rows = tshark(
        file,
        'ftp.response.code == 530 || http.response.code == 401 || http.response.code == 407',
        [...ends, 'http.request_in'],
      ).filter(([, , , , , , requestIn]) => !requestIn || credentials.get(requestIn));
      const want = new Map<string, number>();
      for (const [s4, s6, sp, d4, d6, dp] of rows) {
        const k = pairKey(s4 || s6!, sp!, d4 || d6!, dp!);
        want.set(k, (want.get(k) ?? 0) + 1);
      }
      let total = 0;
      for (const fl of await flowsOf(file)) {
        if (fl.protocol !== 'tcp') assert.equal(fl.f.auth_failures, 0);
        else assert.equal(fl.f.auth_failures, want.get(flowKey(fl)) ?? 0, `${rel} ${flowKey(fl)}`);
        total += fl.f.auth_failures!;
      }
      assert.equal(total > 0, expectPositive, rel);
    }
  });

  const session = (lines: [boolean, string][]) => {
    const a = new AuthReplies();
    for (const [client, text] of lines) {
      const b = Buffer.from(text, 'latin1');
      observeAuth(a, client, b, 0, b.length);
    }
    return a.failures;
  };

  test('SMTP 535, POP3 -ERR after PASS, IMAP NO to LOGIN, HTTP 401 to credentials; other replies do not count', () => {
    assert.equal(
      session([
        [false, '220 mx ESMTP\r\n'],
        [true, 'AUTH LOGIN\r\n'],
        [false, '334 VXNlcm5hbWU6\r\n'],
        [true, 'dXNlcg==\r\n'],
        [false, '535-5.7.8 Username and Password not accepted.\r\n535 5.7.8 Learn more\r\n'],
      ]),
      1,
    );
    assert.equal(
      session([
        [false, '+OK POP3 ready\r\n'],
        [true, 'AUTH\r\n'],
        [false, '-ERR Unrecognized command.\r\n'], // a mechanism listing, not a login
        [true, 'USER bob\r\n'],
        [false, '-ERR no such mailbox\r\n'], // after USER: not a password failure
        [true, 'PASS x\r\n'],
        [false, '-ERR authentication failed\r\n'],
        [true, 'STAT\r\n'],
        [false, '-ERR not authenticated\r\n'],
      ]),
      1,
    );
    assert.equal(
      session([
        [false, '* OK IMAP4rev1 ready\r\n'],
        [true, 'a1 CAPABILITY\r\n'],
        [false, '* CAPABILITY IMAP4rev1\r\na1 OK done\r\n'],
        [true, 'a2 login bob secret\r\n'],
        [false, 'a2 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n'],
        [true, 'a3 LOGIN bob other\r\n'],
        [false, 'a3 OK LOGIN completed\r\n'],
      ]),
      1,
    );
    assert.equal(session([[false, 'SSH-2.0-OpenSSH_9.2\r\n']]), 0);
    const get = (auth: string) => `GET /admin/ HTTP/1.1\r\nHost: h\r\n${auth}\r\n`;
    assert.equal(
      session([
        [true, get('')], // the ordinary challenge
        [false, 'HTTP/1.1 401 Unauthorized\r\n\r\n'],
        [true, get('Authorization: Basic YWRtaW46eA==\r\n')],
        [false, 'HTTP/1.1 401 Unauthorized\r\n\r\n'], // refused: counts
        [true, get('authorization: NTLM TlRMTVNTUAABAAAA\r\n')],
        [false, 'HTTP/1.1 401 Unauthorized\r\n\r\n'], // NTLM first leg
        [true, get('Authorization: Basic YWRtaW46eQ==\r\n')],
        [false, 'HTTP/1.1 200 OK\r\n\r\n'],
      ]),
      1,
    );
    // binary first payload (a TLS record): not read at all
    assert.equal(session([[false, '\x16\x03\x01530 x\r\n']]), 0);
  });

  test('random bytes and text never throw and stay within the budget', () => {
    const text = fc.array(
      fc.constantFrom('530 ', '-ERR', 'PASS', 'a1 LOGIN', 'a1 NO', 'HTTP/1.1 401 ', '\r\n', ' ', 'x'),
      {
        maxLength: 40,
      },
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.boolean(),
            fc.oneof(
              text.map((a) => Buffer.from(a.join(''))),
              fc.uint8Array({ maxLength: 300 }),
            ),
          ),
          {
            maxLength: 30,
          },
        ),
        (packets) => {
          const a = new AuthReplies();
          for (const [client, b] of packets) observeAuth(a, client, b, 0, b.length + 7);
          assert.ok(a.packets <= 16 && a.bytes <= 8192 && a.failures >= 0 && Number.isInteger(a.failures));
        },
      ),
      { numRuns: 1000, seed: 15 },
    );
  });
});

test('http-text functions on random text: never throw, counts and ratios in range', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
      for (const n of [uriMetaChars(s), userAgentMetaChars(s), metaCharCount(s)])
        assert.ok(Number.isInteger(n) && n >= 0 && n <= 2 * s.length);
      assert.ok(escapedRatio(s) >= 0 && escapedRatio(s) <= 1);
      assert.ok(percentDecode(s).length <= s.length);
    }),
    { numRuns: 2000, seed: 15 },
  );
});
