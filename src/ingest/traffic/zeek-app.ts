/**
 * Zeek's application logs (dns.log, ssl.log, http.log; TSV or JSON, maybe gzip'd) feeding the same
 * application fields as the packet parser (app-meta.ts), joined to conn.log flows.
 *
 * The join key is the log's `uid` when the caller knows the flow's uid, else the Community ID of
 * the log's 5-tuple plus time: the flow with that Community ID whose [start − 1 s, start +
 * duration + 1 s] holds the log's `ts` (the earliest such flow). The first record of each log per
 * flow describes it, as the packet parser describes the first query / hello / request.
 *
 * What Zeek does not log stays NaN / "unknown": TLS cipher and extension counts, ALPN presence
 * (only the selected `next_protocol`), the fingerprint bucket (`tls_fp`; Zeek's JA3, when logged,
 * hashes other inputs than ours), HTTP header counts. A flow no given log mentions gets
 * `app_proto` "none" only when all three logs were given (else "unknown").
 *
 * Integration point: `ZeekAppIndex.load({dns, ssl, http})` once, then `index.apply(flow)` for each
 * conn.log flow before the window features are computed (readTraffic / iterateFlows for the Zeek
 * format, in index.ts / zeek.ts).
 */

import { nameStats, qtypeName, rcodeName, textEntropy } from './app-meta.ts';
import { readLines, type TrafficReport, warnOnce } from './common.ts';
import { communityId } from './community-id.ts';
import { bump } from './pcap.ts';
import { type AppCategorical, type Flow, protocolNumber } from './schema.ts';

export interface ZeekAppLogs {
  dns?: string;
  ssl?: string;
  http?: string;
}

type Value = string | number | boolean | null | Value[];
type Rec = Record<string, Value>;

/** Records of one Zeek log, TSV (with its #fields header) or JSON lines. */
async function* zeekRecords(path: string, report: TrafficReport): AsyncGenerator<Rec> {
  let fields: string[] | null = null;
  /** Columns of a container type (set[...], vector[...]): only these split on the set separator. */
  let containers: boolean[] = [];
  let sep = '\t';
  let setSep = ',';
  let unset = '-';
  let empty = '(empty)';
  let line = 0;
  for await (const raw of readLines(path)) {
    line++;
    if (raw === '') continue;
    if (raw.startsWith('{')) {
      try {
        const o = JSON.parse(raw);
        if (o && typeof o === 'object' && !Array.isArray(o)) yield o as Rec;
        else bump(report.counters, 'zeek_app_bad_lines');
      } catch {
        bump(report.counters, 'zeek_app_bad_lines');
      }
      continue;
    }
    if (raw.startsWith('#')) {
      const [k, ...rest] = raw.split(raw.startsWith('#separator') ? ' ' : sep);
      const v = rest.join(sep);
      if (k === '#separator')
        sep = v.replace(/\\x([0-9a-f]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
      else if (k === '#set_separator') setSep = v;
      else if (k === '#unset_field') unset = v;
      else if (k === '#empty_field') empty = v;
      else if (k === '#fields') fields = rest;
      else if (k === '#types') containers = rest.map((t) => /^(set|vector)\[/.test(t));
      continue;
    }
    if (!fields) {
      warnOnce(report, `${path}:${line}: no #fields header before the first record; file skipped`);
      return;
    }
    const cols = raw.split(sep);
    if (cols.length !== fields.length) {
      bump(report.counters, 'zeek_app_bad_lines');
      continue;
    }
    const r: Rec = {};
    for (let i = 0; i < fields.length; i++) {
      const c = cols[i]!;
      const many = containers[i] === true;
      if (c === unset) r[fields[i]!] = null;
      else if (c === empty) r[fields[i]!] = many ? [] : '';
      else r[fields[i]!] = many ? c.split(setSep) : c;
    }
    yield r;
  }
}

const num = (v: Value | undefined): number => {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') {
    const x = Number(v);
    return Number.isFinite(x) ? x : Number.NaN;
  }
  return Number.NaN;
};
const str = (v: Value | undefined): string | null => (typeof v === 'string' ? v : null);
const list = (v: Value | undefined): Value[] =>
  Array.isArray(v) ? v : v === null || v === undefined ? [] : [v];

const ZEEK_TLS: Record<string, string> = {
  SSLv3: 'ssl3',
  TLSv10: 'tls1.0',
  TLSv11: 'tls1.1',
  TLSv12: 'tls1.2',
  TLSv13: 'tls1.3',
};

interface Joined {
  ts: number;
  kind: 'dns' | 'ssl' | 'http';
  rec: Rec;
  used: boolean;
}

export class ZeekAppIndex {
  private readonly byUid = new Map<string, Joined[]>();
  private readonly byCid = new Map<string, Joined[]>();
  private constructor(
    private readonly given: ReadonlySet<string>,
    private readonly report: TrafficReport,
  ) {}

  /** Read the given logs (any subset of dns, ssl, http) into a join index. */
  static async load(logs: ZeekAppLogs, report: TrafficReport): Promise<ZeekAppIndex> {
    const given = new Set(
      Object.entries(logs)
        .filter(([, p]) => p)
        .map(([k]) => k),
    );
    const ix = new ZeekAppIndex(given, report);
    for (const kind of ['dns', 'ssl', 'http'] as const) {
      const path = logs[kind];
      if (!path) continue;
      for await (const rec of zeekRecords(path, report)) {
        const ts = num(rec.ts);
        const h = str(rec['id.orig_h']);
        const r = str(rec['id.resp_h']);
        const sp = num(rec['id.orig_p']);
        const dp = num(rec['id.resp_p']);
        const proto = protocolNumber(str(rec.proto) ?? (kind === 'dns' ? 'udp' : 'tcp'));
        const j: Joined = { ts, kind, rec, used: false };
        const uid = str(rec.uid);
        if (uid) push(ix.byUid, uid, j);
        if (h && r && Number.isFinite(sp) && Number.isFinite(dp) && Number.isFinite(proto))
          push(ix.byCid, communityId(h, r, proto, sp, dp), j);
        bump(report.counters, `zeek_${kind}_records`);
      }
    }
    for (const m of [ix.byUid, ix.byCid]) for (const v of m.values()) v.sort((a, b) => a.ts - b.ts);
    return ix;
  }

  /** Fill a conn.log flow's application fields from the logs; true when a record matched. */
  apply(flow: Flow, uid?: string): boolean {
    let cands: Joined[] = [];
    if (uid) cands = this.byUid.get(uid) ?? [];
    else {
      const all = this.byCid.get(flow.community_id) ?? [];
      const d = Number.isFinite(flow.f.duration) ? flow.f.duration! : 0;
      cands = all.filter((j) => !j.used && j.ts >= flow.start_time - 1 && j.ts <= flow.start_time + d + 1);
    }
    const app: Partial<Record<AppCategorical, string>> = {
      app_proto: this.given.size === 3 ? 'none' : 'unknown',
      dns_qtype: this.given.has('dns') ? 'none' : 'unknown',
      dns_rcode: this.given.has('dns') ? 'none' : 'unknown',
      tls_version: this.given.has('ssl') ? 'none' : 'unknown',
      tls_fp: this.given.has('ssl') ? 'none' : 'unknown',
      http_method: this.given.has('http') ? 'none' : 'unknown',
      http_status: this.given.has('http') ? 'none' : 'unknown',
    };
    flow.app = app;
    flow.info = flow.info ?? {};
    const first = (kind: Joined['kind']) => cands.find((j) => j.kind === kind);
    const v = flow.f;
    const dns = first('dns');
    const ssl = first('ssl');
    const http = first('http');
    const hit = dns ?? ssl ?? http;
    if (!hit) return false;
    for (const j of [dns, ssl, http]) if (j) j.used = true;
    if (dns) {
      const q = str(dns.rec.query);
      app.app_proto = 'dns';
      if (q !== null) {
        const s = nameStats(q);
        v.dns_qname_len = s.len;
        v.dns_qname_labels = s.labels;
        v.dns_qname_max_label = s.maxLabel;
        v.dns_qname_entropy = s.entropy;
        v.dns_qname_digit_ratio = s.digitRatio;
        flow.info.dns_query = q.toLowerCase();
      }
      const qt = num(dns.rec.qtype);
      app.dns_qtype = Number.isFinite(qt) ? qtypeName(qt) : 'unknown';
      const rc = num(dns.rec.rcode);
      app.dns_rcode = Number.isFinite(rc) ? rcodeName(rc) : 'noreply';
      if (Number.isFinite(rc)) {
        const answers = list(dns.rec.answers);
        const ttls = list(dns.rec.TTLs).map(num).filter(Number.isFinite);
        v.dns_answers = answers.length;
        v.dns_min_ttl = ttls.length ? Math.min(...ttls) : Number.NaN;
      }
    } else if (ssl) {
      app.app_proto = 'tls';
      const sni = str(ssl.rec.server_name);
      v.tls_sni_present = sni ? 1 : 0;
      v.tls_sni_len = sni ? sni.length : 0;
      if (sni) flow.info.tls_sni = sni.toLowerCase();
      const ver = str(ssl.rec.version);
      app.tls_version = ver ? (ZEEK_TLS[ver] ?? 'other') : 'none';
      app.tls_fp = 'unknown';
    } else if (http) {
      app.app_proto = 'http';
      const method = str(http.rec.method);
      const uri = str(http.rec.uri);
      const known = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'CONNECT', 'PATCH', 'TRACE'];
      app.http_method = method ? (known.includes(method) ? method : 'other') : 'none';
      if (uri !== null) {
        v.http_uri_len = uri.length;
        v.http_uri_entropy = textEntropy(uri);
        flow.info.http_uri = uri.slice(0, 256);
      }
      const host = str(http.rec.host);
      v.http_host_present = host ? 1 : 0;
      if (host) flow.info.http_host = host.toLowerCase();
      const ua = str(http.rec.user_agent);
      v.http_ua_len = ua ? ua.length : 0;
      const status = num(http.rec.status_code);
      app.http_status =
        Number.isFinite(status) && status >= 100 && status < 600
          ? `${Math.floor(status / 100)}xx`
          : 'noreply';
    }
    bump(this.report.counters, 'zeek_app_joined');
    return true;
  }
}

function push<K>(m: Map<K, Joined[]>, k: K, j: Joined): void {
  const a = m.get(k);
  if (a) a.push(j);
  else m.set(k, [j]);
}

/** Batch form: join the logs onto conn.log flows; returns how many flows got application data. */
export async function joinZeekApp(flows: Flow[], logs: ZeekAppLogs, report: TrafficReport): Promise<number> {
  const ix = await ZeekAppIndex.load(logs, report);
  let n = 0;
  for (const f of [...flows].sort((a, b) => a.start_time - b.start_time)) if (ix.apply(f)) n++;
  return n;
}
