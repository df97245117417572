/**
 * Zeek's application logs (dns.log, ssl.log, http.log, ssh.log; TSV or JSON, maybe gzip'd) feeding
 * the same application fields as the packet parser (app-meta.ts), joined to conn.log flows.
 *
 * The join key is the log's `uid` when the caller knows the flow's uid, else the Community ID of
 * the log's 5-tuple plus time: the flow with that Community ID whose [start − 1 s, start +
 * duration + 1 s] holds the log's `ts` (the earliest such flow). The first record of each log per
 * flow describes it, as the packet parser describes the first query / hello / request.
 *
 * What Zeek does not log stays NaN / "unknown": TLS cipher and extension counts, ALPN presence
 * (only the selected `next_protocol`), the fingerprint bucket (`tls_fp`; Zeek's JA3, when logged,
 * hashes other inputs than ours), HTTP header counts. A flow no given log mentions gets
 * `app_proto` "none" only when dns.log, ssl.log and http.log were all given (else "unknown").
 *
 * Login outcomes (`auth_failures`), known when ssh.log or http.log was given (else NaN, so a
 * conn.log alone leaves the field out of the model): ssh.log's `auth_attempts` of a connection
 * that did not log in (`auth_success` F or unset), 0 for one that did (as the packet reader counts,
 * ssh-auth.ts: keys offered before the accepted one are attempts to Zeek, not failed logins); plus the http.log requests of the flow answered 401 / 407 that carried credentials
 * (`username` set), as the packet reader counts them (auth-replies.ts); 0 for the other flows.
 *
 * Integration: `readTraffic` / `iterateFlows` of a conn.log load the companion logs beside it
 * (`companionLogs`, or the logs given as `zeekApp`) and `zeekFlows` applies the index to every
 * flow, by its uid, before the window features are computed. An unreadable application log is
 * named in a warning and its fields stay unknown; conn.log is read all the same.
 */

import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { nameStats, qtypeName, rcodeName, textEntropy } from './app-meta.ts';
import { readLines, type TrafficReport, warnOnce } from './common.ts';
import { communityId } from './community-id.ts';
import { escapedRatio, isAddressHost, uriMetaChars, userAgentMetaChars } from './http-text.ts';
import { bump } from './pcap.ts';
import { type AppCategorical, type Flow, protocolNumber } from './schema.ts';

export interface ZeekAppLogs {
  dns?: string;
  ssl?: string;
  http?: string;
  ssh?: string;
}

/** The application logs, in the order they are read. */
export const ZEEK_APP_KINDS = ['dns', 'ssl', 'http', 'ssh'] as const;

type Value = string | number | boolean | null | Value[];
type Rec = Record<string, Value>;

/**
 * One Zeek log's lines → records, TSV (with its #fields header; header lines may come again) or
 * JSON lines. Bad lines are counted (`zeek_app_bad_lines`); a TSV record before any #fields
 * header is refused (null, with `noHeader` set).
 */
export class ZeekLogLines {
  private fields: string[] | null = null;
  /** Columns of a container type (set[...], vector[...]): only these split on the set separator. */
  private containers: boolean[] = [];
  private sep = '\t';
  private setSep = ',';
  private unset = '-';
  private empty = '(empty)';
  noHeader = false;

  constructor(private readonly report: TrafficReport) {}

  push(raw: string): Rec | null {
    if (raw === '') return null;
    if (raw.startsWith('{')) {
      try {
        const o = JSON.parse(raw);
        if (o && typeof o === 'object' && !Array.isArray(o)) return o as Rec;
      } catch {
        // counted below
      }
      bump(this.report.counters, 'zeek_app_bad_lines');
      return null;
    }
    if (raw.startsWith('#')) {
      const [k, ...rest] = raw.split(raw.startsWith('#separator') ? ' ' : this.sep);
      const v = rest.join(this.sep);
      if (k === '#separator')
        this.sep = v.replace(/\\x([0-9a-f]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
      else if (k === '#set_separator') this.setSep = v;
      else if (k === '#unset_field') this.unset = v;
      else if (k === '#empty_field') this.empty = v;
      else if (k === '#fields') this.fields = rest;
      else if (k === '#types') this.containers = rest.map((t) => /^(set|vector)\[/.test(t));
      return null;
    }
    const fields = this.fields;
    if (!fields) {
      this.noHeader = true;
      return null;
    }
    const cols = raw.split(this.sep);
    if (cols.length !== fields.length) {
      bump(this.report.counters, 'zeek_app_bad_lines');
      return null;
    }
    const r: Rec = {};
    for (let i = 0; i < fields.length; i++) {
      const c = cols[i]!;
      const many = this.containers[i] === true;
      if (c === this.unset) r[fields[i]!] = null;
      else if (c === this.empty) r[fields[i]!] = many ? [] : '';
      else r[fields[i]!] = many ? c.split(this.setSep) : c;
    }
    return r;
  }
}

/** Records of one Zeek log file. */
async function* zeekRecords(path: string, report: TrafficReport): AsyncGenerator<Rec> {
  const lines = new ZeekLogLines(report);
  let line = 0;
  for await (const raw of readLines(path)) {
    line++;
    const r = lines.push(raw);
    if (lines.noHeader) {
      warnOnce(report, `${path}:${line}: no #fields header before the first record; file skipped`);
      return;
    }
    if (r) yield r;
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
  kind: (typeof ZEEK_APP_KINDS)[number];
  rec: Rec;
  used: boolean;
}

export class ZeekAppIndex {
  private readonly byUid = new Map<string, Joined[]>();
  private readonly byCid = new Map<string, Joined[]>();
  /** uids in the order first indexed (for the streaming bound). */
  private readonly order: string[] = [];
  private constructor(
    private readonly given: Set<string>,
    private readonly report: TrafficReport,
    private readonly maxUids: number | null = null,
  ) {}

  /** An empty index for streaming (records added as their logs grow), at most `maxUids` uids. */
  static streaming(kinds: Iterable<Joined['kind']>, report: TrafficReport, maxUids: number): ZeekAppIndex {
    return new ZeekAppIndex(new Set(kinds), report, maxUids);
  }

  /** Read the given logs (any subset of dns, ssl, http, ssh) into a join index. */
  static async load(logs: ZeekAppLogs, report: TrafficReport): Promise<ZeekAppIndex> {
    const given = new Set(
      Object.entries(logs)
        .filter(([, p]) => p)
        .map(([k]) => k),
    );
    const ix = new ZeekAppIndex(given, report);
    for (const kind of ZEEK_APP_KINDS) {
      const path = logs[kind];
      if (!path) continue;
      try {
        await ix.loadOne(kind, path);
      } catch (e) {
        // an unreadable application log never stops conn.log: its fields stay unknown
        given.delete(kind);
        for (const m of [ix.byUid, ix.byCid])
          for (const [k, v] of m) {
            const kept = v.filter((j) => j.kind !== kind);
            if (kept.length) m.set(k, kept);
            else m.delete(k);
          }
        const msg = String((e as Error).message).split('\n')[0]!;
        warnOnce(report, `${msg.startsWith(path) ? msg : `${path}: ${msg}`}; its fields stay unknown`);
        bump(report.counters, 'zeek_app_logs_failed');
      }
    }
    for (const m of [ix.byUid, ix.byCid]) for (const v of m.values()) v.sort((a, b) => a.ts - b.ts);
    return ix;
  }

  /** Index the records of one application log. */
  private async loadOne(kind: Joined['kind'], path: string): Promise<void> {
    for await (const rec of zeekRecords(path, this.report)) this.addRecord(kind, rec, true);
  }

  /**
   * Index one record (by uid; by Community ID too when `byTuple`). With a bound, the oldest uids
   * are forgotten first (streaming: records wait for their conn.log line, within the bound).
   */
  addRecord(kind: Joined['kind'], rec: Rec, byTuple: boolean): void {
    const ts = num(rec.ts);
    const j: Joined = { ts, kind, rec, used: false };
    const uid = str(rec.uid);
    if (uid) {
      if (!this.byUid.has(uid)) {
        this.order.push(uid);
        if (this.maxUids !== null && this.order.length > this.maxUids) {
          this.byUid.delete(this.order.shift()!);
          bump(this.report.counters, 'zeek_app_uids_forgotten');
        }
      }
      push(this.byUid, uid, j);
    }
    if (byTuple) {
      const h = str(rec['id.orig_h']);
      const r = str(rec['id.resp_h']);
      const sp = num(rec['id.orig_p']);
      const dp = num(rec['id.resp_p']);
      const proto = protocolNumber(str(rec.proto) ?? (kind === 'dns' ? 'udp' : 'tcp'));
      if (h && r && Number.isFinite(sp) && Number.isFinite(dp) && Number.isFinite(proto))
        push(this.byCid, communityId(h, r, proto, sp, dp), j);
    }
    bump(this.report.counters, `zeek_${kind}_records`);
  }

  reportOf(): TrafficReport {
    return this.report;
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
    const allApps = this.given.has('dns') && this.given.has('ssl') && this.given.has('http');
    const app: Partial<Record<AppCategorical, string>> = {
      app_proto: allApps ? 'none' : 'unknown',
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
    const loginsKnown = this.given.has('ssh') || this.given.has('http');
    v.auth_failures = loginsKnown ? 0 : Number.NaN;
    const dns = first('dns');
    const ssl = first('ssl');
    const http = first('http');
    const ssh = first('ssh');
    const hit = dns ?? ssl ?? http ?? ssh;
    if (!hit) return false;
    for (const j of cands) if (j === dns || j === ssl || j === ssh || j.kind === 'http') j.used = true;
    v.auth_failures = loginFailures(cands, ssh);
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
        v.http_uri_meta_chars = uriMetaChars(uri);
        v.http_uri_escaped_ratio = escapedRatio(uri);
        flow.info.http_uri = uri.slice(0, 256);
      }
      const host = str(http.rec.host);
      v.http_host_present = host ? 1 : 0;
      v.http_host_is_address = host && isAddressHost(host) ? 1 : 0;
      if (host) flow.info.http_host = host.toLowerCase();
      const ua = str(http.rec.user_agent);
      v.http_ua_len = ua ? ua.length : 0;
      v.http_ua_meta_chars = ua ? userAgentMetaChars(ua) : 0;
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

/**
 * Failed logins of one flow from its joined records: ssh.log's attempts without a login, and the http.log
 * requests answered 401 / 407 that carried credentials.
 */
function loginFailures(records: readonly Joined[], ssh: Joined | undefined): number {
  let n = 0;
  if (ssh) {
    const attempts = num(ssh.rec.auth_attempts);
    const loggedIn = ssh.rec.auth_success === true || ssh.rec.auth_success === 'T';
    if (!loggedIn && Number.isFinite(attempts)) n += attempts;
  }
  for (const j of records) {
    if (j.kind !== 'http') continue;
    const status = num(j.rec.status_code);
    const user = j.rec.username;
    if ((status === 401 || status === 407) && typeof user === 'string' && user !== '') n++;
  }
  return n;
}

/**
 * The application logs beside a followed conn.log, tailed for the watcher: each `catchUp()` reads
 * what the logs gained since the last call (whole lines; a log that shrank or was replaced by
 * rotation is read again from its start) into a bounded streaming index. Zeek writes a DNS, TLS
 * or HTTP record before the conn.log line of its connection (conn.log is written when the
 * connection ends), so catching up before each batch of conn.log lines finds them. gzip'd logs
 * are not followed.
 */
export class ZeekAppTail {
  readonly index: ZeekAppIndex;
  private readonly logs: {
    kind: Joined['kind'];
    path: string;
    ino: number;
    offset: number;
    carry: string;
    lines: ZeekLogLines;
  }[];

  private constructor(logs: ZeekAppLogs, report: TrafficReport, maxUids: number) {
    const entries = ZEEK_APP_KINDS.filter((k) => logs[k]);
    this.index = ZeekAppIndex.streaming(entries, report, maxUids);
    this.logs = entries.map((kind) => ({
      kind,
      path: logs[kind]!,
      ino: -1,
      offset: 0,
      carry: '',
      lines: new ZeekLogLines(report),
    }));
  }

  /** The tail of the plain-text companion logs of `connPath`, or null when it has none. */
  static forConn(connPath: string, report: TrafficReport, maxUids = 200_000): ZeekAppTail | null {
    const name = basename(connPath);
    if (!name.startsWith('conn') || name.endsWith('.gz')) return null;
    const logs: ZeekAppLogs = {};
    for (const kind of ZEEK_APP_KINDS) {
      const p = join(dirname(connPath), `${kind}${name.slice('conn'.length)}`);
      try {
        if (statSync(p).isFile()) logs[kind] = p;
      } catch {
        // not there
      }
    }
    return Object.values(logs).some(Boolean) ? new ZeekAppTail(logs, report, maxUids) : null;
  }

  /** Read what each log gained (at most `maxBytes` per log per call). */
  catchUp(maxBytes = 16 << 20): void {
    for (const l of this.logs) {
      let fd: number | null = null;
      try {
        fd = openSync(l.path, 'r');
        const st = fstatSync(fd);
        if (st.ino !== l.ino || st.size < l.offset) {
          l.ino = st.ino;
          l.offset = 0;
          l.carry = '';
          l.lines = new ZeekLogLines(this.index.reportOf());
        }
        const n = Math.min(maxBytes, st.size - l.offset);
        if (n <= 0) continue;
        const buf = Buffer.alloc(n);
        const got = readSync(fd, buf, 0, n, l.offset);
        l.offset += got;
        const parts = (l.carry + buf.toString('utf8', 0, got)).split('\n');
        l.carry = parts.pop() ?? '';
        for (const raw of parts) {
          const rec = l.lines.push(raw.replace(/\r$/, ''));
          if (rec) this.index.addRecord(l.kind, rec, false);
        }
      } catch {
        // a log gone between rotations: read again when it is back
      } finally {
        if (fd !== null) closeSync(fd);
      }
    }
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

/**
 * The application logs Zeek writes beside a conn.log: the same directory and the same name with
 * `conn` replaced by `dns`, `ssl`, `http`, `ssh` (conn.log → dns.log; a rotated
 * conn.2026-12-01-10-00-00.log.gz → dns.2026-12-01-10-00-00.log.gz; with or without .gz). Names
 * that do not start with `conn` have none.
 */
export async function companionLogs(connPath: string): Promise<ZeekAppLogs> {
  const dir = dirname(connPath);
  const name = basename(connPath);
  if (!name.startsWith('conn')) return {};
  const rest = name.slice('conn'.length);
  const variants = rest.endsWith('.gz') ? [rest, rest.slice(0, -3)] : [rest, `${rest}.gz`];
  const out: ZeekAppLogs = {};
  for (const kind of ZEEK_APP_KINDS) {
    for (const v of variants) {
      const p = join(dir, `${kind}${v}`);
      try {
        if ((await stat(p)).isFile()) {
          out[kind] = p;
          break;
        }
      } catch {
        // not there
      }
    }
  }
  return out;
}

/**
 * The join index for a conn.log read: `false` = none, logs given = those, else (undefined / true)
 * the companion logs found beside it. Null when there is nothing to join.
 */
export async function zeekAppIndexFor(
  connPath: string,
  choice: boolean | ZeekAppLogs | undefined,
  report: TrafficReport,
): Promise<ZeekAppIndex | null> {
  if (choice === false) return null;
  const logs = typeof choice === 'object' ? choice : await companionLogs(connPath);
  if (!Object.values(logs).some(Boolean)) return null;
  return ZeekAppIndex.load(logs, report);
}
