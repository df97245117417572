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
import { joinZeekApp } from '../../../src/ingest/traffic/zeek-app.ts';

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
