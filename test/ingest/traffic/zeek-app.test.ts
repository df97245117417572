/**
 * Zeek dns.log / ssl.log / http.log joined to conn.log (zeek-app.ts) on the shared real Zeek logs.
 * The join uses Community ID + time; Zeek's own uid join is the reference it must reproduce.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { emptyTrafficReport } from '../../../src/ingest/traffic/common.ts';
import { iterateFlows, readTraffic } from '../../../src/ingest/traffic/index.ts';
import { readTrafficMany } from '../../../src/ingest/traffic/many.ts';
import type { Flow } from '../../../src/ingest/traffic/schema.ts';
import { applyWindows } from '../../../src/ingest/traffic/windows.ts';
import { joinZeekApp, ZeekAppTail } from '../../../src/ingest/traffic/zeek-app.ts';

const DATA = process.env.NETANOMALY_DATA_DIR ?? '';

/** uid → record of a Zeek log, read independently of the code under test (TSV or JSON). */
function records(path: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  let fields: string[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line) continue;
    if (line.startsWith('{')) {
      const o = JSON.parse(line);
      if (!out.has(o.uid)) out.set(o.uid, o);
    } else if (line.startsWith('#fields')) fields = line.split('\t').slice(1);
    else if (!line.startsWith('#')) {
      const c = line.split('\t');
      const o = Object.fromEntries(fields.map((f, i) => [f, c[i]!]));
      if (!out.has(o.uid!)) out.set(o.uid!, o);
    }
  }
  return out;
}

for (const fmt of ['tsv', 'json'])
  test(`${fmt}: the Community-ID join finds every flow Zeek's uids link, with the logged values`, async () => {
    assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
    const dir = join(DATA, 'zeek', fmt);
    const flows: Flow[] = [];
    for await (const f of iterateFlows(join(dir, 'conn.log'), { zeekApp: false })) flows.push(f);
    const conn = records(join(dir, 'conn.log'));
    const logs = { dns: join(dir, 'dns.log'), ssl: join(dir, 'ssl.log'), http: join(dir, 'http.log') };
    const report = emptyTrafficReport('zeek');
    const joined = await joinZeekApp(flows, logs, report);
    const expect: Record<string, number> = {};
    let total = 0;
    for (const [kind, proto] of [
      ['dns', 'dns'],
      ['ssl', 'tls'],
      ['http', 'http'],
    ] as const) {
      const recs = records(logs[kind]);
      const linked = [...recs.keys()].filter((u) => conn.has(u));
      expect[proto] = linked.length;
      total += linked.length;
      const ours = flows.filter((f) => f.app?.app_proto === proto);
      assert.equal(ours.length, linked.length, `${kind}: ${ours.length} joined, Zeek links ${linked.length}`);
      // values: each joined flow carries its record's text, found by the originator's address and port
      for (const f of ours) {
        // the conn.log record of this flow (same originator and start), then its log record by uid
        const c = [...conn.values()].find(
          (x) =>
            x['id.orig_h'] === f.src_ip &&
            Number(x['id.orig_p']) === f.src_port &&
            Math.abs(Number(x.ts) - f.start_time) < 1e-5,
        );
        const r = c ? recs.get(c.uid!) : undefined;
        assert.ok(r, `${kind} ${f.src_ip}:${f.src_port}: joined to a flow Zeek did not link`);
        const val = (k: string) => (r[k] === undefined || r[k] === '-' ? undefined : String(r[k]));
        if (kind === 'dns') {
          assert.equal(f.info?.dns_query, val('query')?.toLowerCase());
          if (val('query')) assert.equal(f.f.dns_qname_len, val('query')!.length);
          else assert.ok(Number.isNaN(f.f.dns_qname_len!)); // unset in the log: NaN
        } else if (kind === 'ssl') {
          assert.equal(f.f.tls_sni_len, val('server_name')?.length ?? 0);
          assert.ok(Number.isNaN(f.f.tls_cipher_count!)); // not in ssl.log: NaN, never 0
        } else {
          assert.equal(f.info?.http_uri, val('uri')?.slice(0, 256));
          assert.equal(f.app?.http_method, val('method') ?? 'none');
        }
      }
    }
    assert.equal(joined, total);
    assert.ok(total >= 30, `only ${total} flows linked`);
    // the joined names feed the host windows: the DNS sub-domain count is defined, not NaN
    const sorted = applyWindows(flows);
    assert.ok(sorted.every((f) => Number.isFinite(f.f.src_10m_dns_max_subdomains!)));
    assert.ok(sorted.some((f) => f.f.src_10m_dns_max_subdomains! >= 1));
    process.stderr.write(`  zeek ${fmt}: ${JSON.stringify(expect)} joined of ${flows.length} flows\n`);
  });

/** Per app_proto, the rows of a read. */
function protoCounts(app: readonly string[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const a of app) c[a] = (c[a] ?? 0) + 1;
  return c;
}

for (const fmt of ['tsv', 'json'])
  test(`${fmt}: readTraffic of a conn.log joins the logs Zeek wrote beside it, by uid`, async () => {
    assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
    const dir = join(DATA, 'zeek', fmt);
    const conn = records(join(dir, 'conn.log'));
    const r = await readTraffic(join(dir, 'conn.log'), { format: 'zeek' });
    const got = protoCounts(r.table.text.app_proto!);
    for (const [kind, proto] of [
      ['dns', 'dns'],
      ['ssl', 'tls'],
      ['http', 'http'],
    ] as const) {
      const linked = [...records(join(dir, `${kind}.log`)).keys()].filter((u) => conn.has(u)).length;
      assert.equal(got[proto] ?? 0, linked, `${kind}: ${got[proto] ?? 0} rows, Zeek's uids link ${linked}`);
    }
    // all three logs given: the other flows are "none", never "unknown"
    assert.equal(got.unknown, undefined);
    assert.equal(r.report.counters.zeek_app_joined, (got.dns ?? 0) + (got.tls ?? 0) + (got.http ?? 0));
    // what Zeek does not log stays NaN, what it logs is filled
    const finite = (name: string) => Array.from(r.table.numeric[name]!).filter(Number.isFinite).length;
    assert.equal(finite('tls_cipher_count'), 0);
    assert.equal(finite('http_header_count'), 0);
    assert.equal(finite('tls_sni_len'), got.tls ?? 0);
    assert.ok(finite('dns_qname_len') > 0);
    // the same conn.log alone (another directory) joins nothing: its application fields are unknown
    const tmp = mkdtempSync(join(tmpdir(), 'zeek-app-'));
    try {
      copyFileSync(join(dir, 'conn.log'), join(tmp, 'conn.log'));
      const alone = await readTraffic(join(tmp, 'conn.log'), { format: 'zeek' });
      assert.deepEqual(protoCounts(alone.table.text.app_proto!), { unknown: alone.table.nRows });
      assert.equal(
        finite('dns_qname_len') > 0 && alone.table.numeric.dns_qname_len!.every(Number.isNaN),
        true,
      );
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

test("rotated, gzip'd names pair up; an unreadable application log is named and the rest still joins", async () => {
  assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
  const dir = join(DATA, 'zeek', 'tsv');
  const tmp = mkdtempSync(join(tmpdir(), 'zeek-app-'));
  try {
    const stem = '.2026-12-01-10-00-00.log.gz';
    for (const k of ['conn', 'dns', 'ssl'])
      writeFileSync(join(tmp, `${k}${stem}`), gzipSync(readFileSync(join(dir, `${k}.log`))));
    // Zeek's own truncated gzip of http.log stands in for the http log of this hour
    copyFileSync(join(dir, 'http.log.corrupt.gz'), join(tmp, `http${stem}`));
    const ref = await readTraffic(join(dir, 'conn.log'), { format: 'zeek' });
    const r = await readTraffic(join(tmp, `conn${stem}`), { format: 'zeek' });
    assert.equal(r.table.nRows, ref.table.nRows);
    const got = protoCounts(r.table.text.app_proto!);
    const want = protoCounts(ref.table.text.app_proto!);
    assert.equal(got.dns, want.dns);
    assert.equal(got.tls, want.tls);
    assert.ok(
      r.report.warnings.some((w) => w.includes(`http${stem}`) && w.includes('stay unknown')),
      r.report.warnings.join('\n'),
    );
    // http.log failed, so a flow no log mentions is "unknown", not "none"
    assert.equal(got.none, undefined);
    // a directory read takes the application logs as the conn.log's companions, not as inputs
    const many = await readTrafficMany([tmp], { format: 'auto' });
    assert.deepEqual(
      many.files.map((f) => f.path),
      [join(tmp, `conn${stem}`)],
    );
    assert.equal(many.report.counters.zeek_app_logs_joined, 3);
    assert.equal(protoCounts(many.table.text.app_proto!).dns, want.dns);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

/** A Zeek TSV log with the real header lines, one record per row. */
function zeekTsv(path: string, fields: string[], types: string[], rows: string[][]): string {
  return [
    '#separator \\x09',
    '#set_separator\t,',
    '#empty_field\t(empty)',
    '#unset_field\t-',
    `#path\t${path}`,
    '#open\t2026-12-06-10-00-00',
    `#fields\t${fields.join('\t')}`,
    `#types\t${types.join('\t')}`,
    ...rows.map((r) => r.join('\t')),
    '#close\t2026-12-06-11-00-00',
    '',
  ].join('\n');
}

const CONN_FIELDS = [
  'ts',
  'uid',
  'id.orig_h',
  'id.orig_p',
  'id.resp_h',
  'id.resp_p',
  'proto',
  'service',
  'duration',
  'orig_bytes',
  'resp_bytes',
  'conn_state',
  'local_orig',
  'missed_bytes',
  'history',
  'orig_pkts',
  'orig_ip_bytes',
  'resp_pkts',
  'resp_ip_bytes',
  'tunnel_parents',
];
const CONN_TYPES = [
  'time',
  'string',
  'addr',
  'port',
  'addr',
  'port',
  'enum',
  'string',
  'interval',
  'count',
  'count',
  'string',
  'bool',
  'count',
  'string',
  'count',
  'count',
  'count',
  'count',
  'set[string]',
];
const SSH_FIELDS = [
  'ts',
  'uid',
  'id.orig_h',
  'id.orig_p',
  'id.resp_h',
  'id.resp_p',
  'version',
  'auth_success',
  'auth_attempts',
  'direction',
  'client',
  'server',
  'cipher_alg',
  'mac_alg',
  'compression_alg',
  'kex_alg',
  'host_key_alg',
  'host_key',
];
const SSH_TYPES = [
  'time',
  'string',
  'addr',
  'port',
  'addr',
  'port',
  'count',
  'bool',
  'count',
  'enum',
  'string',
  'string',
  'string',
  'string',
  'string',
  'string',
  'string',
  'string',
];

test('ssh.log and http.log give login outcomes: refused SSH attempts and 401s to credentials, summed per source', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'zeek-login-'));
  try {
    const t0 = 1_796_000_000;
    const conn = (i: number, uid: string, src: string, dport: number, service: string): string[] => [
      `${t0 + i * 10}.000000`,
      uid,
      src,
      String(40_000 + i),
      '10.0.0.2',
      String(dport),
      'tcp',
      service,
      '3.5',
      '900',
      '1500',
      'SF',
      '-',
      '0',
      'ShADadFf',
      '14',
      '1632',
      '12',
      '2124',
      '(empty)',
    ];
    const ssh = (i: number, uid: string, src: string, success: string, attempts: string): string[] => [
      `${t0 + i * 10 + 0.2}`,
      uid,
      src,
      String(40_000 + i),
      '10.0.0.2',
      '22',
      '2',
      success,
      attempts,
      '-',
      'SSH-2.0-libssh_0.10.6',
      'SSH-2.0-OpenSSH_9.2p1',
      'chacha20-poly1305@openssh.com',
      'umac-64-etm@openssh.com',
      'none',
      'curve25519-sha256',
      'ssh-ed25519',
      'a1:b2',
    ];
    // a guesser (three connections refused, then one that gets in after 2 refusals), an admin
    // logging in first time, a connection Zeek could not tell, and a web client
    writeFileSync(
      join(tmp, 'conn.log'),
      zeekTsv('conn', CONN_FIELDS, CONN_TYPES, [
        conn(0, 'Cg1', '10.0.0.66', 22, 'ssh'),
        conn(1, 'Cg2', '10.0.0.66', 22, 'ssh'),
        conn(2, 'Cg3', '10.0.0.66', 22, 'ssh'),
        conn(3, 'Cg4', '10.0.0.66', 22, 'ssh'),
        conn(4, 'Ca1', '10.0.0.7', 22, 'ssh'),
        conn(5, 'Cu1', '10.0.0.8', 22, 'ssh'),
        conn(6, 'Cw1', '10.0.0.9', 80, 'http'),
        conn(7, 'Cw2', '10.0.0.9', 80, 'http'),
      ]),
    );
    writeFileSync(
      join(tmp, 'ssh.log'),
      zeekTsv('ssh', SSH_FIELDS, SSH_TYPES, [
        ssh(0, 'Cg1', '10.0.0.66', 'F', '6'),
        ssh(1, 'Cg2', '10.0.0.66', 'F', '6'),
        ssh(2, 'Cg3', '10.0.0.66', 'F', '5'),
        ssh(3, 'Cg4', '10.0.0.66', 'T', '3'),
        ssh(4, 'Ca1', '10.0.0.7', 'T', '1'),
        ssh(5, 'Cu1', '10.0.0.8', '-', '-'),
      ]),
    );
    const HTTP_FIELDS = [
      'ts',
      'uid',
      'id.orig_h',
      'id.orig_p',
      'id.resp_h',
      'id.resp_p',
      'trans_depth',
      'method',
      'host',
      'uri',
      'user_agent',
      'status_code',
      'username',
    ];
    const HTTP_TYPES = [
      'time',
      'string',
      'addr',
      'port',
      'addr',
      'port',
      'count',
      'string',
      'string',
      'string',
      'string',
      'count',
      'string',
    ];
    const req = (i: number, uid: string, depth: number, status: string, user: string): string[] => [
      `${t0 + i * 10 + 0.1 * depth}`,
      uid,
      '10.0.0.9',
      String(40_000 + i),
      '10.0.0.2',
      '80',
      String(depth),
      'GET',
      'intranet',
      '/admin/',
      'curl/8.5.0',
      status,
      user,
    ];
    writeFileSync(
      join(tmp, 'http.log'),
      zeekTsv('http', HTTP_FIELDS, HTTP_TYPES, [
        // the ordinary challenge (no credentials), then two wrong passwords, then the right one
        req(6, 'Cw1', 1, '401', '-'),
        req(6, 'Cw1', 2, '401', 'admin'),
        req(6, 'Cw1', 3, '401', 'admin'),
        req(6, 'Cw1', 4, '200', 'admin'),
        req(7, 'Cw2', 1, '200', '-'),
      ]),
    );
    const rows = new Map<string, Record<string, number>>();
    for await (const f of iterateFlows(join(tmp, 'conn.log'), { format: 'zeek' }))
      rows.set(`${f.src_ip}:${f.src_port}`, f.f as Record<string, number>);
    const at = (i: number, src: string) => rows.get(`${src}:${40_000 + i}`)!;
    // a connection without a login counts its attempts; one that got in counts 0, as from packets
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => at(i, '10.0.0.66').auth_failures),
      [6, 6, 5, 0],
    );
    assert.equal(at(4, '10.0.0.7').auth_failures, 0);
    assert.equal(at(5, '10.0.0.8').auth_failures, 0);
    // only the 401s that answered credentials are failed logins
    assert.equal(at(6, '10.0.0.9').auth_failures, 2);
    assert.equal(at(7, '10.0.0.9').auth_failures, 0);
    // summed over the source's flows of the last 10 min
    assert.equal(at(3, '10.0.0.66').src_10m_auth_failures, 17);
    assert.equal(at(4, '10.0.0.7').src_10m_auth_failures, 0);
    // app_proto stays "unknown" for the ssh flows: dns.log and ssl.log were not given
    const r = await readTraffic(join(tmp, 'conn.log'), { format: 'zeek' });
    assert.equal(r.report.counters.zeek_ssh_records, 6);
    assert.ok(r.table.text.app_proto!.slice(0, 6).every((p) => p === 'unknown'));
    // the watcher's tail of the logs beside a followed conn.log reads ssh.log too, joined by uid
    const tail = ZeekAppTail.forConn(join(tmp, 'conn.log'), emptyTrafficReport('conn.log', 'quarantine'));
    assert.ok(tail);
    tail.catchUp();
    const followed = { f: { duration: 3.5 } } as unknown as Flow;
    assert.equal(tail.index.apply(followed, 'Cg1'), true);
    assert.equal(followed.f.auth_failures, 6);
    // conn.log alone knows no login outcomes: NaN, never 0
    rmSync(join(tmp, 'ssh.log'));
    rmSync(join(tmp, 'http.log'));
    const alone = await readTraffic(join(tmp, 'conn.log'), { format: 'zeek' });
    assert.ok(alone.table.numeric.auth_failures!.every(Number.isNaN));
    assert.ok(alone.table.numeric.src_10m_auth_failures!.every(Number.isNaN));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
