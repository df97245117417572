/**
 * Zeek dns.log / ssl.log / http.log joined to conn.log (zeek-app.ts) on the shared real Zeek logs.
 * The join uses Community ID + time; Zeek's own uid join is the reference it must reproduce.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { emptyTrafficReport } from '../../../src/ingest/traffic/common.ts';
import { iterateFlows } from '../../../src/ingest/traffic/index.ts';
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
    for await (const f of iterateFlows(join(dir, 'conn.log'))) flows.push(f);
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
