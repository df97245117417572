/**
 * Analyst feedback that sticks: verdicts on an alert, a host, a cluster or a rule (source →
 * destination port) stored beside the model as data (`feedback.json`), with who and when, and a
 * revision number that grows with every change. Rules are applied to new alerts and to stored
 * ones alike (suppressed alerts are hidden, never deleted; counts are kept). Removing a rule is
 * recorded too (the rule stays in the file with `removed` set), so the history can be audited.
 *
 * The model bundle itself is never rewritten by feedback: its manifest pins the model's bytes.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { InputError, OptionError } from '../errors.ts';

export const FEEDBACK_FILE = 'feedback.json';
export const FEEDBACK_VERSION = 1;

export const VERDICTS = ['benign', 'known-bad'] as const;
export type Verdict = (typeof VERDICTS)[number];
export const SCOPES = ['alert', 'host', 'cluster', 'rule'] as const;
export type Scope = (typeof SCOPES)[number];

const MatchSchema = z
  .object({
    eventId: z.string().min(1).max(200).optional(),
    /** Either side of the flow (host scope) … */
    host: z.string().min(1).max(100).optional(),
    /** … or the source / destination specifically (rule scope). */
    srcIp: z.string().min(1).max(100).optional(),
    dstIp: z.string().min(1).max(100).optional(),
    dstPort: z.number().int().min(0).max(65535).optional(),
    protocol: z.string().min(1).max(20).optional(),
    cluster: z.number().int().min(0).optional(),
  })
  .strict();
export type FeedbackMatch = z.infer<typeof MatchSchema>;

const RuleSchema = z
  .object({
    id: z.number().int().min(1),
    scope: z.enum(SCOPES),
    verdict: z.enum(VERDICTS),
    match: MatchSchema,
    who: z.string().min(1).max(100),
    when: z.string(),
    note: z.string().max(2000).optional(),
    removed: z.object({ who: z.string(), when: z.string() }).optional(),
  })
  .strict();
export type FeedbackRule = z.infer<typeof RuleSchema>;

const FileSchema = z
  .object({
    format: z.literal('netanomaly-feedback'),
    version: z.literal(FEEDBACK_VERSION),
    revision: z.number().int().min(0),
    rules: z.array(RuleSchema).max(100_000),
  })
  .strict();
export type FeedbackFile = z.infer<typeof FileSchema>;

export function emptyFeedback(): FeedbackFile {
  return { format: 'netanomaly-feedback', version: FEEDBACK_VERSION, revision: 0, rules: [] };
}

/** Feedback stored beside the model in `dir` (an empty set when there is none yet). */
export async function loadFeedback(dir: string): Promise<FeedbackFile> {
  const path = join(dir, FEEDBACK_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyFeedback();
    throw new InputError(`${path}: cannot read (${(err as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InputError(`${path}: not JSON`);
  }
  const parsed = FileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(
      `${path}: not a feedback file (${issue?.path.join('.') || 'root'}: ${issue?.message})`,
    );
  }
  return parsed.data;
}

async function saveFeedback(dir: string, fb: FeedbackFile): Promise<void> {
  const path = join(dir, FEEDBACK_FILE);
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(fb, null, 2)}\n`);
  await rename(tmp, path);
}

const REQUIRED: Record<Scope, (m: FeedbackMatch) => boolean> = {
  alert: (m) => m.eventId !== undefined,
  host: (m) => m.host !== undefined,
  cluster: (m) => m.cluster !== undefined,
  rule: (m) => m.srcIp !== undefined || m.dstIp !== undefined || m.dstPort !== undefined,
};

export interface NewRule {
  scope: Scope;
  verdict: Verdict;
  match: FeedbackMatch;
  who: string;
  note?: string;
}

/** Add a rule (validated) and save; returns the stored rule. */
export async function addFeedback(dir: string, rule: NewRule, now = new Date()): Promise<FeedbackRule> {
  const match = MatchSchema.safeParse(rule.match);
  if (!match.success) throw new OptionError(`feedback: ${match.error.issues[0]?.message ?? 'bad match'}`);
  if (!REQUIRED[rule.scope](match.data)) {
    throw new OptionError(`feedback: a '${rule.scope}' verdict needs ${describeRequired(rule.scope)}`);
  }
  const fb = await loadFeedback(dir);
  const stored: FeedbackRule = RuleSchema.parse({
    id: fb.rules.reduce((m, r) => Math.max(m, r.id), 0) + 1,
    scope: rule.scope,
    verdict: rule.verdict,
    match: match.data,
    who: rule.who,
    when: now.toISOString(),
    ...(rule.note ? { note: rule.note } : {}),
  });
  fb.rules.push(stored);
  fb.revision++;
  await saveFeedback(dir, fb);
  return stored;
}

/** Mark a rule removed (kept for the audit trail) and save. */
export async function removeFeedback(dir: string, id: number, who: string, now = new Date()): Promise<void> {
  const fb = await loadFeedback(dir);
  const rule = fb.rules.find((r) => r.id === id && !r.removed);
  if (!rule) throw new OptionError(`feedback: no active rule ${id}`);
  rule.removed = { who, when: now.toISOString() };
  fb.revision++;
  await saveFeedback(dir, fb);
}

function describeRequired(scope: Scope): string {
  return {
    alert: 'an event id',
    host: 'a host address',
    cluster: 'a cluster id',
    rule: 'a source, destination or destination port',
  }[scope];
}

/** The fields of an alert that feedback rules match on (ECS or EVE). */
export interface AlertKey {
  eventId?: string;
  srcIp?: string;
  dstIp?: string;
  dstPort?: number;
  protocol?: string;
  cluster?: number;
}

function get(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

const optStr = (v: unknown) => (typeof v === 'string' ? v : undefined);
const optNum = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Key of an ECS alert (or a Suricata EVE alert) written by the watcher. */
export function alertKey(alert: Record<string, unknown>): AlertKey {
  if (alert.event_type === 'alert') {
    const meta = get(alert, 'alert.metadata.netanomaly');
    return {
      eventId: optStr(get(meta, 'event_id')),
      srcIp: optStr(alert.src_ip),
      dstIp: optStr(alert.dest_ip),
      dstPort: optNum(alert.dest_port),
      protocol: optStr(alert.proto)?.toLowerCase(),
      cluster: optNum(get(meta, 'kmeans.cluster')),
    };
  }
  return {
    eventId: optStr(get(alert, 'event.id')),
    srcIp: optStr(get(alert, 'source.ip')),
    dstIp: optStr(get(alert, 'destination.ip')),
    dstPort: optNum(get(alert, 'destination.port')),
    protocol: optStr(get(alert, 'network.transport'))?.toLowerCase(),
    cluster: optNum(get(alert, 'netanomaly.kmeans.cluster')),
  };
}

export function ruleMatches(rule: FeedbackRule, key: AlertKey): boolean {
  if (rule.removed) return false;
  const m = rule.match;
  if (m.eventId !== undefined && m.eventId !== key.eventId) return false;
  if (m.host !== undefined && m.host !== key.srcIp && m.host !== key.dstIp) return false;
  if (m.srcIp !== undefined && m.srcIp !== key.srcIp) return false;
  if (m.dstIp !== undefined && m.dstIp !== key.dstIp) return false;
  if (m.dstPort !== undefined && m.dstPort !== key.dstPort) return false;
  if (m.protocol !== undefined && m.protocol.toLowerCase() !== key.protocol) return false;
  if (m.cluster !== undefined && m.cluster !== key.cluster) return false;
  return true;
}

export interface FeedbackDecision {
  /** A benign verdict matched (and no known-bad one): hide the alert. */
  suppressed: boolean;
  /** A known-bad verdict matched: keep it and mark it confirmed. */
  knownBad: boolean;
  ruleIds: number[];
}

/** What the active rules say about one alert. Known-bad wins over benign. */
export function decide(fb: FeedbackFile, key: AlertKey): FeedbackDecision {
  const hits = fb.rules.filter((r) => ruleMatches(r, key));
  const knownBad = hits.some((r) => r.verdict === 'known-bad');
  return { suppressed: !knownBad && hits.length > 0, knownBad, ruleIds: hits.map((r) => r.id) };
}

export interface FeedbackCounts {
  revision: number;
  activeRules: number;
  suppressed: number;
  knownBad: number;
  /** Suppressed alerts per rule id. */
  perRule: Record<string, number>;
}

/** Apply feedback to stored alerts: the visible ones (with `knownBad` marked) and the counts. */
export function applyFeedback<T extends Record<string, unknown>>(
  fb: FeedbackFile,
  alerts: readonly T[],
): { visible: (T & { feedback?: { knownBad: boolean; rules: number[] } })[]; counts: FeedbackCounts } {
  const counts: FeedbackCounts = {
    revision: fb.revision,
    activeRules: fb.rules.filter((r) => !r.removed).length,
    suppressed: 0,
    knownBad: 0,
    perRule: {},
  };
  const visible: (T & { feedback?: { knownBad: boolean; rules: number[] } })[] = [];
  for (const a of alerts) {
    const d = decide(fb, alertKey(a));
    if (d.suppressed) {
      counts.suppressed++;
      for (const id of d.ruleIds) counts.perRule[id] = (counts.perRule[id] ?? 0) + 1;
      continue;
    }
    if (d.knownBad) {
      counts.knownBad++;
      visible.push({ ...a, feedback: { knownBad: true, rules: d.ruleIds } });
    } else visible.push(a);
  }
  return { visible, counts };
}

export interface TrainingFilter {
  /** Rows to train on. */
  keep: Int32Array;
  /** Rows left out because a known-bad verdict matches them (attacks must not become "normal"). */
  excludedKnownBad: number;
  /** Rows a benign verdict matches (kept: the re-fit learns them as normal traffic). */
  benignMatched: number;
  revision: number;
}

/**
 * Feedback-aware re-fit: rows matched by a known-bad host or rule verdict are left out of the
 * training rows; rows matched by a benign one are kept and counted. Alert- and cluster-scope
 * verdicts name things that exist only after scoring, so they do not apply here.
 */
export function trainingFilter(
  fb: FeedbackFile,
  identity: {
    src_ip: readonly string[];
    dst_ip: readonly string[];
    dst_port: ArrayLike<number>;
    protocol: readonly string[];
  },
): TrainingFilter {
  const rules = fb.rules.filter((r) => !r.removed && (r.scope === 'host' || r.scope === 'rule'));
  const keep: number[] = [];
  let bad = 0;
  let benign = 0;
  const n = identity.src_ip.length;
  for (let i = 0; i < n; i++) {
    const key: AlertKey = {
      srcIp: identity.src_ip[i],
      dstIp: identity.dst_ip[i],
      dstPort: identity.dst_port[i],
      protocol: identity.protocol[i]?.toLowerCase(),
    };
    const hits = rules.filter((r) => ruleMatches(r, key));
    if (hits.some((r) => r.verdict === 'known-bad')) {
      bad++;
      continue;
    }
    if (hits.length) benign++;
    keep.push(i);
  }
  return { keep: Int32Array.from(keep), excludedKnownBad: bad, benignMatched: benign, revision: fb.revision };
}
