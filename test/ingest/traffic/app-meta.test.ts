/**
 * Application metadata (app-meta.ts) on real captures, checked against tshark's own dissection
 * conversation by conversation, and the parser's robustness on broken and mutated payloads.
 * NETANOMALY_DATA_DIR must point at the shared datasets: these tests fail, not skip, without it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { AppMeta, appFeatures, finishApp, observePayload } from '../../../src/ingest/traffic/app-meta.ts';
import { iterateFlows, readTraffic } from '../../../src/ingest/traffic/index.ts';
import type { Counters } from '../../../src/ingest/traffic/pcap.ts';
import { emptyFeatures, schemaMarkdownTable } from '../../../src/ingest/traffic/schema.ts';

const DATA = process.env.NETANOMALY_DATA_DIR ?? '';
const PCAPS = join(DATA, 'pcaps');

const SAMPLE = [
  'normal/dns.pcap',
  'normal/dns-exf.pcap',
  'normal/dns_long_domainname.pcap',
  'normal/skype.pcap',
  'normal/webex.pcap',
  'normal/1kxun.pcap',
  'normal/tls_2_reasms.pcapng',
  'normal/http_ipv6.pcap',
  'normal/google_ssl.pcap',
  'attack/sql_injection.pcap',
  'attack/xss.pcap',
  'attack/WebattackRCE.pcap',
  'attack/dns2tcp_tunnel.pcap',
];

const FIELDS = [
  'ip.src',
  'ipv6.src',
  'ip.dst',
  'ipv6.dst',
  'tcp.srcport',
  'udp.srcport',
  'tcp.dstport',
  'udp.dstport',
  'dns.flags.response',
  'dns.qry.name',
  'dns.qry.type',
  'dns.flags.rcode',
  'dns.count.answers',
  'dns.resp.ttl',
  'tls.handshake.type',
  'tls.handshake.extensions_server_name',
  'tls.handshake.ciphersuite',
  'tls.handshake.extension.type',
  'tls.handshake.extensions.supported_version',
  'tls.handshake.version',
  'http.request.method',
  'http.request.uri',
  'http.host',
  'http.user_agent',
  'http.response.code',
  'http.request.line',
] as const;

interface Truth {
  dnsName?: string;
  dnsType?: number;
  dnsRcode?: number;
  dnsAnswers?: number;
  dnsMinTtl?: number;
  sni?: string | null;
  ciphers?: number;
  exts?: number;
  serverVersion?: number;
  method?: string;
  uri?: string;
  host?: boolean;
  uaLen?: number;
  headers?: number;
  status?: number;
}

const SEP = '\x01';
const grease = (v: number) => (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);
const key = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`);

/** tshark's view of each conversation: the first DNS query/response, ClientHello, ServerHello, request, response. */
function tsharkTruth(file: string): Map<string, Truth> {
  const args = ['-r', file, '-T', 'fields', '-E', `aggregator=${SEP}`];
  for (const f of FIELDS) args.push('-e', f);
  args.push(
    '-Y',
    'dns || tls.handshake.type == 1 || tls.handshake.type == 2 || http.request || http.response',
  );
  const out = execFileSync('tshark', args, { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
  const truth = new Map<string, Truth>();
  for (const line of out.toString().split('\n')) {
    if (!line) continue;
    const v = Object.fromEntries(line.split('\t').map((x, i) => [FIELDS[i]!, x])) as Record<
      (typeof FIELDS)[number],
      string
    >;
    const sport = v['tcp.srcport'] || v['udp.srcport'];
    const dport = v['tcp.dstport'] || v['udp.dstport'];
    const k = key(`${v['ip.src'] || v['ipv6.src']}|${sport}`, `${v['ip.dst'] || v['ipv6.dst']}|${dport}`);
    const t = truth.get(k) ?? {};
    truth.set(k, t);
    const list = (f: (typeof FIELDS)[number]) => (v[f] ? v[f].split(SEP) : []);
    if (v['dns.qry.name'] && (sport === '53' || dport === '53') && v['udp.srcport']) {
      if (t.dnsName === undefined) {
        t.dnsName = list('dns.qry.name')[0]!.toLowerCase();
        t.dnsType = Number(list('dns.qry.type')[0]);
      }
      if (v['dns.flags.response'] === '1' && t.dnsRcode === undefined) {
        t.dnsRcode = Number(v['dns.flags.rcode']);
        t.dnsAnswers = Number(v['dns.count.answers']);
        const ttls = list('dns.resp.ttl').map(Number);
        t.dnsMinTtl = ttls.length ? Math.min(...ttls) : Number.NaN;
      }
    }
    const hs = list('tls.handshake.type');
    if (hs[0] === '1' && t.sni === undefined) {
      t.sni = v['tls.handshake.extensions_server_name']
        ? v['tls.handshake.extensions_server_name'].toLowerCase()
        : null;
      t.ciphers = list('tls.handshake.ciphersuite').filter((c) => !grease(Number(c))).length;
      t.exts = list('tls.handshake.extension.type').filter((c) => !grease(Number(c))).length;
    }
    if (hs.includes('2') && t.serverVersion === undefined) {
      const sv = list('tls.handshake.extensions.supported_version');
      t.serverVersion = Number(sv.length === 1 ? sv[0] : list('tls.handshake.version')[0]);
    }
    if (v['http.request.method'] && v['tcp.srcport'] && t.method === undefined) {
      t.method = v['http.request.method'];
      t.uri = v['http.request.uri'];
      t.host = v['http.host'] !== '';
      t.uaLen = v['http.user_agent'].length;
      t.headers = list('http.request.line').length;
    }
    if (v['http.response.code'] && v['tcp.srcport'] && t.status === undefined)
      t.status = Number(list('http.response.code')[0]);
  }
  return truth;
}

const QTYPE: Record<string, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, NULL: 10, PTR: 12, MX: 15, TXT: 16 };
Object.assign(QTYPE, { AAAA: 28, SRV: 33, HTTPS: 65, ANY: 255 });
const RCODE = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
const TLSV: Record<string, number> = { ssl3: 0x300, 'tls1.0': 0x301, 'tls1.1': 0x302, 'tls1.2': 0x303 };
TLSV['tls1.3'] = 0x304;

describe('application metadata against tshark', () => {
  test('DNS, TLS and HTTP fields agree with tshark on a sample of real flows', async () => {
    assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
    const n = {
      dns: 0,
      dnsOurs: 0,
      tls: 0,
      tlsOurs: 0,
      sh: 0,
      http: 0,
      httpOurs: 0,
      httpHeaders: 0,
      status: 0,
    };
    for (const rel of SAMPLE) {
      const file = join(PCAPS, rel);
      const truth = tsharkTruth(file);
      const seen = new Set<string>();
      for await (const fl of iterateFlows(file)) {
        const k = key(`${fl.src_ip}|${fl.src_port}`, `${fl.dst_ip}|${fl.dst_port}`);
        if (seen.has(k)) continue; // a reused 5-tuple: tshark's "first" is the first flow's
        seen.add(k);
        const t = truth.get(k);
        const where = `${rel} ${k}`;
        const f = fl.f;
        if (t?.dnsName !== undefined && fl.protocol === 'udp') {
          n.dns++;
          if (fl.info?.dns_query !== undefined) {
            n.dnsOurs++;
            assert.equal(fl.info.dns_query, t.dnsName, where);
            assert.equal(f.dns_qname_len, t.dnsName.length, where);
            assert.equal(f.dns_qname_labels, t.dnsName ? t.dnsName.split('.').length : 0, where);
            assert.equal(
              QTYPE[fl.app!.dns_qtype!] ?? 'other',
              QTYPE[fl.app!.dns_qtype!] ? t.dnsType : 'other',
              where,
            );
            if (t.dnsRcode !== undefined) {
              assert.equal(fl.app!.dns_rcode, RCODE[t.dnsRcode] ?? 'other', where);
              assert.equal(f.dns_answers, t.dnsAnswers, where);
              if (t.dnsAnswers! > 0 && t.dnsAnswers! <= 32) assert.equal(f.dns_min_ttl, t.dnsMinTtl, where);
            } else assert.equal(fl.app!.dns_rcode, 'noreply', where);
          }
        }
        if (t?.sni !== undefined) {
          n.tls++;
          if (!Number.isNaN(fl.f.tls_cipher_count!)) {
            n.tlsOurs++;
            assert.equal(fl.info?.tls_sni ?? null, t.sni, where);
            assert.equal(f.tls_sni_present, t.sni ? 1 : 0, where);
            assert.equal(f.tls_sni_len, t.sni ? t.sni.length : 0, where);
            // SSLv2-compatible hellos: tshark lists their cipher specs under another field
            if (t.ciphers! > 0) assert.equal(f.tls_cipher_count, t.ciphers, where);
            assert.equal(f.tls_extension_count, t.exts, where);
            assert.match(fl.app!.tls_fp!, /^fp\d\d$/);
          }
        }
        if (t?.serverVersion !== undefined && fl.app?.app_proto === 'tls') {
          n.sh++;
          const known = Object.values(TLSV).includes(t.serverVersion);
          assert.equal(
            fl.app.tls_version,
            known ? Object.keys(TLSV).find((k) => TLSV[k] === t.serverVersion) : 'other',
            where,
          );
        }
        if (t?.method !== undefined) {
          n.http++;
          if (fl.info?.http_uri !== undefined) {
            n.httpOurs++;
            assert.equal(fl.app!.http_method, t.method, where);
            const full = Buffer.byteLength(t.uri!, 'latin1');
            if (f.http_header_count === 0 && f.http_uri_len! < full) {
              // a request line longer than its first segment: we see the part in that segment
              assert.ok(t.uri!.startsWith(fl.info.http_uri), where);
            } else {
              assert.equal(fl.info.http_uri, t.uri!.slice(0, 256), where);
              assert.equal(f.http_uri_len, full, where);
            }
            // headers are read from the request's first segment: compare when it held them all
            if (f.http_header_count === t.headers) {
              n.httpHeaders++;
              assert.equal(f.http_host_present, t.host ? 1 : 0, where);
              assert.equal(f.http_ua_len, t.uaLen, where);
            }
            // the first response may start outside the packets we look at (then "noreply")
            if (t.status !== undefined && fl.app!.http_status !== 'noreply')
              assert.equal(fl.app!.http_status, `${String(t.status)[0]}xx`, where);
          }
        }
        if (t?.status !== undefined && fl.app?.app_proto === 'http') n.status++;
      }
    }
    process.stderr.write(`  app-meta vs tshark: ${JSON.stringify(n)}\n`);
    // enough of each protocol compared, and we find (nearly) every message tshark finds
    assert.ok(n.dns >= 30 && n.tls >= 20 && n.http >= 80 && n.sh >= 10, JSON.stringify(n));
    assert.ok(n.dnsOurs >= 0.95 * n.dns, `DNS: ${n.dnsOurs} of ${n.dns}`);
    assert.ok(n.tlsOurs >= 0.95 * n.tls, `TLS: ${n.tlsOurs} of ${n.tls}`);
    assert.ok(n.httpOurs >= 0.9 * n.http, `HTTP: ${n.httpOurs} of ${n.http}`);
    assert.ok(n.httpHeaders >= 0.8 * n.httpOurs, `HTTP headers in the first segment: ${n.httpHeaders}`);
  });

  test('flows without the protocol carry NaN / "none", never 0', async () => {
    const { table } = await readTraffic(join(PCAPS, 'attack', 'synscan.pcap'));
    for (let i = 0; i < table.nRows; i++) {
      assert.equal(table.text.app_proto![i], 'none');
      assert.equal(table.text.tls_fp![i], 'none');
      assert.ok(Number.isNaN(table.numeric.dns_qname_len![i]!));
      assert.ok(Number.isNaN(table.numeric.http_uri_len![i]!));
      assert.equal(table.numeric.first_data_1![i], 0); // no payload at all: a real 0
    }
  });
});

describe('robustness', () => {
  test('every malformed capture reads without an exception from the payload parsers', async () => {
    const dir = join(PCAPS, 'malformed');
    const files = readdirSync(dir).sort();
    assert.ok(files.length >= 20);
    let parsed = 0;
    for (const name of files) {
      try {
        const { report } = await readTraffic(join(dir, name));
        parsed += Object.entries(report.counters)
          .filter(([k]) => k.startsWith('app_'))
          .reduce((a, [, v]) => a + v, 0);
      } catch (e) {
        // only the reader's own one-line container errors may end a file, never a parser fault
        assert.equal((e as Error).name, 'ParseError', `${name}: ${(e as Error).stack}`);
        assert.ok((e as Error).message.includes(name), (e as Error).message);
      }
    }
    assert.ok(parsed > 0, 'the malformed captures exercise the counted parser failures');
  });

  test('mutated and truncated DNS, TLS and HTTP payloads never throw', () => {
    const dns = [
      0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 3, 0x77, 0x77, 0x77, 7, 0x65, 0x78, 0x61, 0x6d, 0x70,
      0x6c, 0x65, 3, 0x63, 0x6f, 0x6d, 0, 0, 1, 0, 1, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 1, 2, 3,
      4,
    ];
    const http = [...Buffer.from('GET /a?b=c HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8\r\n\r\n')];
    const hello = [
      0x16,
      3,
      1,
      0,
      60,
      1,
      0,
      0,
      56,
      3,
      3,
      ...new Array(32).fill(7),
      0,
      0,
      4,
      0x13,
      1,
      0x0a,
      0x0a,
    ];
    hello.push(1, 0, 0, 13, 0, 0, 0, 9, 0, 7, 0, 0, 4, 0x61, 0x2e, 0x62, 0x63);
    const seeds = [dns, http, hello];
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1, 2),
        fc.array(fc.tuple(fc.nat(200), fc.nat(255)), { maxLength: 8 }),
        fc.nat(120),
        fc.boolean(),
        (which, edits, cut, fwd) => {
          const b = Uint8Array.from(seeds[which]!);
          for (const [i, v] of edits) if (i < b.length) b[i] = v;
          const len = Math.min(b.length, cut + 1);
          const m = new AppMeta();
          const c: Counters = {};
          const port = which === 0 ? 53 : 443;
          for (let k = 0; k < 5; k++) observePayload(m, fwd, which === 0 ? 17 : 6, 40000, port, b, 0, len, c);
          finishApp(m, c);
          const v = emptyFeatures();
          const app = appFeatures(m, v, {});
          assert.equal(typeof app.app_proto, 'string');
          for (const x of Object.values(v)) assert.equal(typeof x, 'number');
        },
      ),
      { numRuns: 3000, seed: 15 },
    );
  });
});

test('docs/flow-schema.md carries the table generated from FLOW_SCHEMA', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'flow-schema.md'), 'utf8');
  assert.ok(doc.includes(schemaMarkdownTable()), 'regenerate the Fields table: schemaMarkdownTable()');
});
