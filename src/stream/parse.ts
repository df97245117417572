/**
 * Turning lines into canonical flows in the watcher, with the SAME code as batch reading:
 *
 * - Zeek conn.log lines (TSV or JSON): `ZeekLineParser` keeps the header directives seen so far
 *   (`#separator`, `#fields`, …) and parses each micro-batch through `zeekFlows` (the batch reader)
 *   on a small temp file holding the current header and the batch, then maps each flow back to its
 *   line (bad rows come back as quarantined line numbers). With a `ZeekAppIndex` (the tailed
 *   dns.log / ssl.log / http.log beside conn.log) the flows get their application fields by uid.
 * - Canonical flows as JSON lines (the `netanomaly flows -o x.jsonl` shape): `parseFlowJson`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyTrafficReport } from '../ingest/traffic/common.ts';
import { communityId } from '../ingest/traffic/community-id.ts';
import {
  APP_CATEGORICALS,
  emptyFeatures,
  type Flow,
  NUMERIC_FEATURES,
  portClass,
  protocolNumber,
} from '../ingest/traffic/schema.ts';
import { zeekFlows } from '../ingest/traffic/zeek.ts';
import type { ZeekAppIndex } from '../ingest/traffic/zeek-app.ts';

export type ParsedLine<T> = { ok: true; flow: Flow; item: T } | { ok: false; reason: string; item: T };

const HEADER_ORDER = [
  '#separator',
  '#set_separator',
  '#empty_field',
  '#unset_field',
  '#path',
  '#open',
  '#fields',
  '#types',
];

export class ZeekLineParser {
  private readonly header = new Map<string, string>();
  private readonly dir = mkdtempSync(join(tmpdir(), 'netanomaly-watch-'));
  private n = 0;

  /** Is this a header/comment line? (It updates the header state; `#close` is ignored.) */
  headerLine(text: string): boolean {
    if (!text.startsWith('#')) return false;
    const key = /^#[a-z_]+/.exec(text)?.[0] ?? '#';
    if (key === '#fields') {
      this.header.delete('#types');
    }
    if (HEADER_ORDER.includes(key)) this.header.set(key, text);
    return true;
  }

  /** Parse data lines (no header lines among them) into flows, in order; bad lines get a reason. */
  async parse<T>(
    lines: readonly { text: string; item: T }[],
    file: string,
    app: ZeekAppIndex | null = null,
  ): Promise<ParsedLine<T>[]> {
    if (lines.length === 0) return [];
    const head = HEADER_ORDER.filter((k) => this.header.has(k)).map((k) => this.header.get(k)!);
    const json = lines[0]!.text.trimStart().startsWith('{');
    const pre = json ? [] : head;
    const path = join(this.dir, `batch-${this.n++ % 2}.log`);
    writeFileSync(path, `${[...pre, ...lines.map((l) => l.text)].join('\n')}\n`);
    const report = emptyTrafficReport(file, 'quarantine');
    const flows: Flow[] = [];
    for await (const f of zeekFlows(path, report, app)) flows.push(f);
    const bad = new Map<number, string>();
    for (const q of report.quarantined) bad.set(q.line - pre.length - 1, q.reason);
    const out: ParsedLine<T>[] = [];
    let k = 0;
    for (const [i, l] of lines.entries()) {
      if (l.text.trim() === '') {
        out.push({ ok: false, reason: 'empty line', item: l.item });
        continue;
      }
      const reason = bad.get(i);
      if (reason !== undefined) out.push({ ok: false, reason, item: l.item });
      else {
        const flow = flows[k++];
        if (flow) out.push({ ok: true, flow, item: l.item });
        else out.push({ ok: false, reason: 'not parsed', item: l.item });
      }
    }
    return out;
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const WINDOW_PREFIXES = ['src_t_', 'src_n_'];

/**
 * One canonical flow from a JSON object (flat: identity, categorical and numeric features by
 * name; null or absent numbers are missing). Returns the flow and whether its window features
 * were present (if not, the caller computes them).
 */
export function parseFlowJson(text: string): { flow: Flow; hasWindows: boolean } | { error: string } {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return { error: 'invalid JSON' };
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
    return { error: 'JSON line is not an object' };
  const o = obj as Record<string, unknown>;
  const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : '');
  const num = (k: string): number | null => {
    const v = o[k];
    if (v === undefined || v === null) return Number.NaN;
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
    return null;
  };
  const src_ip = str('src_ip');
  const dst_ip = str('dst_ip');
  if (!src_ip || !dst_ip) return { error: 'missing src_ip or dst_ip' };
  const sp = num('src_port');
  const dp = num('dst_port');
  let st = num('start_time');
  if (st === null && typeof o.start_time === 'string') st = Date.parse(o.start_time) / 1000;
  if (sp === null || dp === null || st === null || Number.isNaN(st))
    return { error: 'bad port or start_time' };
  const protocol = (str('protocol') || 'unknown').toLowerCase();
  const f = emptyFeatures();
  let hasWindows = false;
  for (const name of NUMERIC_FEATURES) {
    const v = num(name);
    if (v === null) return { error: `non-numeric value in ${name}` };
    f[name] = v;
    if (WINDOW_PREFIXES.some((p) => name.startsWith(p)) && !Number.isNaN(v)) hasWindows = true;
  }
  let cid = str('community_id');
  const pn = protocolNumber(protocol);
  if (!cid && Number.isFinite(pn)) cid = communityId(src_ip, dst_ip, pn, sp, dp);
  return {
    flow: {
      src_ip,
      dst_ip,
      src_port: sp,
      dst_port: dp,
      protocol,
      start_time: st,
      community_id: cid,
      conn_state: str('conn_state') || 'unknown',
      port_class: str('port_class') || portClass(protocol, dp),
      f,
      ...(APP_CATEGORICALS.some((n) => str(n))
        ? { app: Object.fromEntries(APP_CATEGORICALS.map((n) => [n, str(n) || 'unknown'])) }
        : {}),
    },
    hasWindows,
  };
}

/** The flat JSON object of a flow (the `flows -o x.jsonl` shape; NaN → null). */
export function flowToJson(flow: Flow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    src_ip: flow.src_ip,
    src_port: Number.isFinite(flow.src_port) ? flow.src_port : null,
    dst_ip: flow.dst_ip,
    dst_port: Number.isFinite(flow.dst_port) ? flow.dst_port : null,
    protocol: flow.protocol,
    start_time: flow.start_time,
    community_id: flow.community_id,
    conn_state: flow.conn_state,
    port_class: flow.port_class,
  };
  for (const name of NUMERIC_FEATURES) {
    const v = flow.f[name];
    out[name] = v === undefined || Number.isNaN(v) || !Number.isFinite(v) ? null : v;
  }
  if (flow.app) for (const n of APP_CATEGORICALS) out[n] = flow.app[n] ?? 'unknown';
  if (flow.label !== undefined) out.label = flow.label;
  return out;
}
