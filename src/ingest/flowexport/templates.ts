/**
 * Templates of NetFlow v9 (RFC 3954) and IPFIX (RFC 7011), cached per exporter address +
 * source ID / observation domain, and the data sets that arrived before their template.
 *
 * A template is compiled into a plan: one element kind per field (elements.ts), so decoding a
 * data record is a loop over small integers. Bounds (all counted, never unbounded):
 * - `maxTemplates` templates in total (least recently used evicted: `templates_evicted`),
 * - `maxDomains` exporter+domain entries (`template_domains_evicted`),
 * - buffered data sets waiting for a template: `maxPendingSets` per template ID and
 *   `maxPendingBytes` in total (beyond: `pending_sets_dropped`).
 * A template ID defined again with the same fields is a refresh (`template_refreshes`); with other
 * fields it replaces the old one (`template_changed`). IPFIX withdrawals (field count 0) remove it
 * (`template_withdrawals`).
 */
import { bump, type Counters } from '../traffic/pcap.ts';

export interface TemplateField {
  id: number;
  /** Field length; 65535 = variable length (IPFIX). */
  length: number;
  /** Private enterprise number; 0 for IANA elements. */
  enterprise: number;
}

export interface Template {
  id: number;
  fields: TemplateField[];
  /** Options templates: how many leading fields are scope fields. */
  scopeCount: number;
  options: boolean;
  /** Element kind per field (elements.ts). */
  kinds: Uint8Array;
  lengths: Uint16Array;
  /** Bytes per record when no field is variable-length, else -1. */
  fixedLength: number;
  /** Smallest possible record size (variable fields count 1 byte): guards against zero-length loops. */
  minLength: number;
  /** Fields skipped because of an enterprise number we do not interpret. */
  enterpriseSkipped: number;
}

export interface PendingSet {
  data: Uint8Array;
  /** Header context needed to decode it later (times). */
  ctx: HeaderContext;
}

export interface HeaderContext {
  version: 9 | 10;
  exporter: string;
  domain: number;
  /** Export time, epoch seconds (header unix secs / IPFIX export time). */
  exportTime: number;
  /** v9 sysUptime in ms at export time (NaN for IPFIX). */
  sysUptime: number;
  arrival: number;
}

/** Per exporter+domain: templates and options-derived values (sampling, system init time). */
export class DomainState {
  readonly templates = new Map<number, Template>();
  readonly pending = new Map<number, PendingSet[]>();
  /** From options data: samplingInterval / samplingPacketInterval (1 = none said). */
  sampling = 1;
  /** Per sampler ID (v9 FLOW_SAMPLER_ID → interval). */
  readonly samplers = new Map<number, number>();
  /** IPFIX systemInitTimeMilliseconds (epoch ms), NaN until an options record says it. */
  sysInitMs = Number.NaN;
  constructor(
    readonly exporter: string,
    readonly domain: number,
  ) {}
}

export interface TemplateCacheOptions {
  maxTemplates?: number;
  maxDomains?: number;
  maxPendingSets?: number;
  maxPendingBytes?: number;
}

export class TemplateCache {
  private readonly domains = new Map<string, DomainState>();
  /** Insertion-ordered LRU of "domainKey|id" for the global template bound. */
  private readonly lru = new Map<string, DomainState>();
  private pendingBytes = 0;
  readonly maxTemplates: number;
  readonly maxDomains: number;
  readonly maxPendingSets: number;
  readonly maxPendingBytes: number;

  constructor(
    private readonly counters: Counters,
    opts: TemplateCacheOptions = {},
  ) {
    this.maxTemplates = opts.maxTemplates ?? 10_000;
    this.maxDomains = opts.maxDomains ?? 4096;
    this.maxPendingSets = opts.maxPendingSets ?? 32;
    this.maxPendingBytes = opts.maxPendingBytes ?? 4 * 1024 * 1024;
  }

  get templateCount(): number {
    return this.lru.size;
  }

  get pendingByteCount(): number {
    return this.pendingBytes;
  }

  domain(exporter: string, domain: number): DomainState {
    const key = `${exporter}|${domain}`;
    let d = this.domains.get(key);
    if (d) return d;
    if (this.domains.size >= this.maxDomains) {
      const [oldKey, old] = this.domains.entries().next().value as [string, DomainState];
      this.dropDomain(oldKey, old);
      bump(this.counters, 'template_domains_evicted');
    }
    d = new DomainState(exporter, domain);
    this.domains.set(key, d);
    return d;
  }

  private dropDomain(key: string, d: DomainState): void {
    this.domains.delete(key);
    for (const id of d.templates.keys()) this.lru.delete(`${key}|${id}`);
    for (const sets of d.pending.values()) for (const s of sets) this.pendingBytes -= s.data.length;
  }

  get(d: DomainState, id: number): Template | undefined {
    return d.templates.get(id);
  }

  /** Define (or refresh) a template; returns the data sets that were waiting for it. */
  set(d: DomainState, t: Template): PendingSet[] {
    const key = `${d.exporter}|${d.domain}|${t.id}`;
    const old = d.templates.get(t.id);
    if (old) {
      if (sameShape(old, t)) bump(this.counters, 'template_refreshes');
      else bump(this.counters, 'template_changed');
      this.lru.delete(key);
    } else if (this.lru.size >= this.maxTemplates) {
      const [victimKey, victim] = this.lru.entries().next().value as [string, DomainState];
      this.lru.delete(victimKey);
      victim.templates.delete(Number(victimKey.slice(victimKey.lastIndexOf('|') + 1)));
      bump(this.counters, 'templates_evicted');
    }
    d.templates.set(t.id, t);
    this.lru.set(key, d);
    bump(this.counters, t.options ? 'options_templates' : 'templates');
    const waiting = d.pending.get(t.id);
    if (!waiting) return [];
    d.pending.delete(t.id);
    for (const s of waiting) this.pendingBytes -= s.data.length;
    return waiting;
  }

  withdraw(d: DomainState, id: number | 'all'): void {
    const ids = id === 'all' ? [...d.templates.keys()] : [id];
    for (const i of ids) {
      if (d.templates.delete(i)) {
        this.lru.delete(`${d.exporter}|${d.domain}|${i}`);
        bump(this.counters, 'template_withdrawals');
      }
    }
  }

  /** Keep a data set until its template arrives (bounded); false when it had to be dropped. */
  buffer(d: DomainState, id: number, data: Uint8Array, ctx: HeaderContext): boolean {
    let list = d.pending.get(id);
    if (
      data.length > this.maxPendingBytes ||
      this.pendingBytes + data.length > this.maxPendingBytes ||
      (list && list.length >= this.maxPendingSets)
    ) {
      bump(this.counters, 'pending_sets_dropped');
      return false;
    }
    if (!list) {
      list = [];
      d.pending.set(id, list);
    }
    list.push({ data: Uint8Array.from(data), ctx });
    this.pendingBytes += data.length;
    bump(this.counters, 'pending_sets_buffered');
    return true;
  }

  /** Data sets still waiting (their templates never came), by exporter|domain|id. */
  unresolved(): { key: string; sets: number }[] {
    const out: { key: string; sets: number }[] = [];
    for (const d of this.domains.values())
      for (const [id, sets] of d.pending)
        out.push({ key: `${d.exporter}|${d.domain}|${id}`, sets: sets.length });
    return out;
  }
}

function sameShape(a: Template, b: Template): boolean {
  if (a.fields.length !== b.fields.length || a.scopeCount !== b.scopeCount) return false;
  for (let i = 0; i < a.fields.length; i++) {
    const x = a.fields[i]!;
    const y = b.fields[i]!;
    if (x.id !== y.id || x.length !== y.length || x.enterprise !== y.enterprise) return false;
  }
  return true;
}
