/**
 * Behaviour tags for clusters: transparent, readable rules over interpretable features.
 *
 * A cluster is described by simple statistics of its rows in ORIGINAL units (`ClusterStats`:
 * mean and median of every numeric field, share of rows where it is non-zero, share of each
 * categorical value). Each rule below is a short list of conditions on those statistics with
 * fixed thresholds chosen from what the attacks are (domain knowledge of SYN floods, port scans,
 * password guessing, bulk transfers), never fitted to labels. A rule only looks at fields that
 * exist: a condition whose fields are all absent makes the rule not applicable (it cannot fire),
 * so the same rule set works for KDD-style records (count, serror_rate, flag, service, …) and for
 * canonical flows from pcap / Zeek / CICFlowMeter (src_t_count, src_t_s0_rate, conn_state,
 * fwd_bytes, …); most behaviours have one rule per vocabulary.
 *
 * Decision: every rule that fires gives its tag a strength in 0.5..1 (0.5 when the values sit on
 * the thresholds, 1 when they are far past them). The attack tag with the highest strength wins
 * (ties: the order of BEHAVIOUR_TAGS). `normal` is given only when no attack rule fires and the
 * `established-traffic` rule does; otherwise the tag is `unknown`.
 *
 * Confidence (0..1) = winning strength × (1 − ½ × best strength of a different tag) × a size
 * factor min(1, size / 20) (the statistics of tiny clusters are unreliable). For `unknown` it is
 * (1 − the largest share of conditions met by any rule) × the size factor.
 */

export const BEHAVIOUR_TAGS = [
  'dos/flood',
  'probe/scan',
  'brute-force/access',
  'exfiltration/bulk-transfer',
  'normal',
  'unknown',
] as const;
export type BehaviourTag = (typeof BEHAVIOUR_TAGS)[number];

/** Statistics of one cluster's rows in original units (what the rules read). */
export interface ClusterStats {
  size: number;
  /** Numeric field → mean over the cluster's rows (NaN ignored). */
  mean: Record<string, number>;
  /** Numeric field → median. */
  median: Record<string, number>;
  /** Numeric field → share of rows with a value other than 0. */
  nonzero: Record<string, number>;
  /** Categorical field → value → share of rows. */
  categories: Record<string, Record<string, number>>;
}

/** One statistic a condition looked at, e.g. `{stat: 'mean(serror_rate)', value: 0.98}`. */
export interface StatValue {
  stat: string;
  value: number;
}

/** A checked condition: the statistic, the comparison and whether it held. */
export interface ConditionResult extends StatValue {
  op: '>=' | '<=';
  threshold: number;
  ok: boolean;
}

/** A rule that fired, with the values that made it fire. */
export interface RuleEvidence {
  rule: string;
  tag: BehaviourTag;
  description: string;
  /** 0.5 (values on the thresholds) .. 1 (far past them). */
  strength: number;
  conditions: ConditionResult[];
}

export interface TagResult {
  tag: BehaviourTag;
  confidence: number;
  /** The rules that fired (empty for `unknown`). */
  evidence: RuleEvidence[];
  /** Best strength per tag among the rules that fired (0 when none did). */
  scores: Record<BehaviourTag, number>;
}

/** Read access to a cluster's statistics; each accessor is undefined when the field is absent. */
export class StatsView {
  constructor(readonly s: ClusterStats) {}
  mean(f: string): StatValue | undefined {
    const v = this.s.mean[f];
    return v === undefined || Number.isNaN(v) ? undefined : { stat: `mean(${f})`, value: v };
  }
  median(f: string): StatValue | undefined {
    const v = this.s.median[f];
    return v === undefined || Number.isNaN(v) ? undefined : { stat: `median(${f})`, value: v };
  }
  nonzero(f: string): StatValue | undefined {
    const v = this.s.nonzero[f];
    return v === undefined || Number.isNaN(v) ? undefined : { stat: `share(${f}≠0)`, value: v };
  }
  /** Share of rows whose categorical field takes one of `values` (a trailing `*` matches a prefix). */
  share(f: string, values: readonly string[]): StatValue | undefined {
    const c = this.s.categories[f];
    if (!c) return undefined;
    let t = 0;
    for (const [v, p] of Object.entries(c)) {
      if (values.some((w) => (w.endsWith('*') ? v.startsWith(w.slice(0, -1)) : v === w))) t += p;
    }
    const label = values.length > 3 ? `${values.slice(0, 3).join('|')}|…` : values.join('|');
    return { stat: `share(${f}∈${label})`, value: t };
  }
  /** The largest of the statistics that exist. */
  max(...stats: (StatValue | undefined)[]): StatValue | undefined {
    let best: StatValue | undefined;
    for (const s of stats) if (s && (!best || s.value > best.value)) best = s;
    return best;
  }
}

interface Condition {
  stat: StatValue | undefined;
  op: '>=' | '<=';
  threshold: number;
  /** The value at which the condition counts as fully met (strength 1). */
  full: number;
}

const ge = (stat: StatValue | undefined, threshold: number, full: number): Condition => ({
  stat,
  op: '>=',
  threshold,
  full,
});
const le = (stat: StatValue | undefined, threshold: number, full: number): Condition => ({
  stat,
  op: '<=',
  threshold,
  full,
});

export interface BehaviourRule {
  id: string;
  tag: BehaviourTag;
  /** What the rule means, with its thresholds, in words. */
  description: string;
  conditions(v: StatsView): Condition[];
}

const LOGIN_SERVICES = [
  'ftp',
  'telnet',
  'ssh',
  'pop_2',
  'pop_3',
  'imap4',
  'login',
  'shell',
  'klogin',
  'kshell',
  'exec',
];
const LOGIN_PORTS = ['p21', 'p22', 'p23', 'p110', 'p143', 'p513', 'p3389', 'p5900', 'p445'];
const NO_REPLY_STATES = ['S0', 'SH', 'RSTOS0', 'OTH'];
const REJECT_STATES = ['REJ', 'RSTR', 'RSTRH', 'RSTO', 'RSTOS0'];
const ESTABLISHED_STATES = ['SF', 'S1', 'S2', 'S3'];

/** The rule set, in the order it is documented. Thresholds are in original units. */
export const BEHAVIOUR_RULES: readonly BehaviourRule[] = [
  // ---- dos/flood -------------------------------------------------------------------------
  {
    id: 'connection-flood',
    tag: 'dos/flood',
    description:
      'SYN-flood-like (neptune): many connections to the same host in 2 s (median count ≥ 50) that are half-open or refused (SYN/REJ error rate ≥ 0.6), aimed at one host rather than spread over services (diff_srv_rate ≤ 0.3), carrying no payload (median src_bytes ≤ 10)',
    conditions: (v) => [
      ge(v.median('count'), 50, 200),
      ge(v.max(v.mean('serror_rate'), v.mean('rerror_rate'), v.mean('dst_host_serror_rate')), 0.6, 0.95),
      le(v.mean('diff_srv_rate'), 0.3, 0.05),
      le(v.median('src_bytes'), 10, 0),
    ],
  },
  {
    id: 'connection-flood (flows)',
    tag: 'dos/flood',
    description:
      'SYN flood in flow windows: a source opening many flows in the last seconds (median src_t_count ≥ 50), most without a reply (S0 rate ≥ 0.6), to the same destination port (same-port rate ≥ 0.7)',
    conditions: (v) => [
      ge(v.max(v.median('src_t_count'), v.median('src_n_count')), 50, 200),
      ge(v.max(v.mean('src_t_s0_rate'), v.mean('src_n_s0_rate')), 0.6, 0.95),
      ge(v.max(v.mean('src_t_same_dport_rate'), v.mean('src_n_same_dport_rate')), 0.7, 0.95),
    ],
  },
  {
    id: 'echo/volume flood',
    tag: 'dos/flood',
    description:
      'smurf-like flood: hundreds of connections to the same host and service in 2 s (median count and srv_count ≥ 100, same_srv_rate ≥ 0.9) with no reply payload (median dst_bytes ≤ 0)',
    conditions: (v) => [
      ge(v.median('count'), 100, 400),
      ge(v.median('srv_count'), 100, 400),
      ge(v.mean('same_srv_rate'), 0.9, 1),
      le(v.median('dst_bytes'), 0, 0),
    ],
  },
  {
    id: 'volume flood (flows)',
    tag: 'dos/flood',
    description:
      'one-way flood in flow windows: a source sending ≥ 100 flows in the last seconds (median src_t_count), ≥ 90 % to one destination port, with no bytes coming back (median bwd_bytes ≤ 0)',
    conditions: (v) => [
      ge(v.max(v.median('src_t_count'), v.median('src_n_count')), 100, 400),
      ge(v.max(v.mean('src_t_same_dport_rate'), v.mean('src_n_same_dport_rate')), 0.9, 1),
      le(v.median('bwd_bytes'), 0, 0),
    ],
  },
  {
    id: 'malformed fragments',
    tag: 'dos/flood',
    description: 'teardrop/pod-like: ≥ 30 % of the rows carry wrong fragments (wrong_fragment > 0)',
    conditions: (v) => [ge(v.nonzero('wrong_fragment'), 0.3, 0.9)],
  },
  {
    id: 'land',
    tag: 'dos/flood',
    description: 'land attack: ≥ 30 % of the rows have the same source and destination (land = 1)',
    conditions: (v) => [ge(v.nonzero('land'), 0.3, 0.9)],
  },
  // ---- probe/scan ------------------------------------------------------------------------
  {
    id: 'service scan',
    tag: 'probe/scan',
    description:
      'satan/portsweep-like: connections spread over many services (diff_srv_rate or dst_host_diff_srv_rate ≥ 0.4) with tiny payloads (median src_bytes ≤ 100)',
    conditions: (v) => [
      ge(v.max(v.mean('diff_srv_rate'), v.mean('dst_host_diff_srv_rate')), 0.4, 0.9),
      le(v.median('src_bytes'), 100, 0),
    ],
  },
  {
    id: 'rejected probes',
    tag: 'probe/scan',
    description:
      'scan answered by resets: most connections rejected (rerror_rate, dst_host_rerror_rate or dst_host_srv_rerror_rate ≥ 0.5), few per host (median count < 50, else it is a flood) and no payload (median src_bytes ≤ 100)',
    conditions: (v) => [
      ge(
        v.max(v.mean('rerror_rate'), v.mean('dst_host_rerror_rate'), v.mean('dst_host_srv_rerror_rate')),
        0.5,
        0.95,
      ),
      le(v.median('count'), 49, 1),
      le(v.median('src_bytes'), 100, 0),
    ],
  },
  {
    id: 'host sweep',
    tag: 'probe/scan',
    description:
      'ipsweep/nmap-like: the same source port reused against many hosts (dst_host_same_src_port_rate ≥ 0.5) with tiny requests (median src_bytes ≤ 64), no reply payload (median dst_bytes ≤ 0) and no login (logged_in ≤ 0.1)',
    conditions: (v) => [
      ge(v.mean('dst_host_same_src_port_rate'), 0.5, 0.95),
      le(v.median('src_bytes'), 64, 0),
      le(v.median('dst_bytes'), 0, 0),
      le(v.mean('logged_in'), 0.1, 0),
    ],
  },
  {
    id: 'port/host scan (flows)',
    tag: 'probe/scan',
    description:
      'a source touching many destination ports or hosts (median distinct ports or hosts in its window ≥ 10) with tiny flows (median fwd_bytes ≤ 200)',
    conditions: (v) => [
      ge(
        v.max(
          v.median('src_t_distinct_dst_ports'),
          v.median('src_n_distinct_dst_ports'),
          v.median('src_t_distinct_dst_hosts'),
          v.median('src_n_distinct_dst_hosts'),
        ),
        10,
        50,
      ),
      le(v.median('fwd_bytes'), 200, 0),
    ],
  },
  {
    id: 'unanswered/rejected flows',
    tag: 'probe/scan',
    description:
      'flows mostly unanswered or rejected (conn_state S0/SH/REJ/RST* share ≥ 0.6, or the source window S0 + REJ rates ≥ 0.6) spread over ports (same-port rate ≤ 0.5) and tiny (median fwd_bytes ≤ 200)',
    conditions: (v) => [
      ge(
        v.max(
          v.share('conn_state', [...NO_REPLY_STATES, ...REJECT_STATES]),
          v.mean('src_t_rej_rate'),
          v.mean('src_n_rej_rate'),
        ),
        0.6,
        0.95,
      ),
      le(v.max(v.mean('src_t_same_dport_rate'), v.mean('src_n_same_dport_rate')), 0.5, 0.05),
      le(v.median('fwd_bytes'), 200, 0),
    ],
  },
  // ---- brute-force/access ----------------------------------------------------------------
  {
    id: 'failed logins',
    tag: 'brute-force/access',
    description: 'password guessing: ≥ 5 % of the rows have failed logins (num_failed_logins > 0)',
    conditions: (v) => [ge(v.nonzero('num_failed_logins'), 0.05, 0.5)],
  },
  {
    id: 'suspicious session content',
    tag: 'brute-force/access',
    description:
      'r2l/u2r-like content: ≥ 25 % of the rows show "hot" indicators, guest logins, root shells, su attempts, shells or file creations',
    conditions: (v) => [
      ge(
        v.max(
          v.nonzero('hot'),
          v.nonzero('is_guest_login'),
          v.nonzero('root_shell'),
          v.nonzero('su_attempted'),
          v.nonzero('num_shells'),
          v.nonzero('num_file_creations'),
        ),
        0.25,
        0.9,
      ),
    ],
  },
  {
    id: 'login service with errors',
    tag: 'brute-force/access',
    description:
      'repeated access attempts: most rows go to a login service (ftp/telnet/ssh/pop/imap/rlogin ≥ 60 %) and many are reset or refused (rerror_rate or serror_rate ≥ 0.3)',
    conditions: (v) => [
      ge(v.share('service', LOGIN_SERVICES), 0.6, 0.95),
      ge(v.max(v.mean('rerror_rate'), v.mean('serror_rate')), 0.3, 0.9),
    ],
  },
  {
    id: 'repeated short login sessions (flows)',
    tag: 'brute-force/access',
    description:
      'brute force in flows: most flows go to a login port (21/22/23/110/143/513/3389/5900/445 ≥ 60 %), a source repeats them (median src_t_count ≥ 5) and they are short (median duration ≤ 5 s) and small (median fwd_bytes ≤ 5000)',
    conditions: (v) => [
      ge(v.share('port_class', LOGIN_PORTS), 0.6, 0.95),
      ge(v.max(v.median('src_t_count'), v.median('src_n_count')), 5, 30),
      le(v.median('duration'), 5, 0.5),
      le(v.median('fwd_bytes'), 5000, 500),
    ],
  },
  // ---- exfiltration/bulk-transfer --------------------------------------------------------
  {
    id: 'bulk outbound',
    tag: 'exfiltration/bulk-transfer',
    description:
      'large uploads: median bytes sent by the originator ≥ 100 kB (src_bytes or fwd_bytes) and at least 5× what came back (mean)',
    conditions: (v) => {
      const out = v.max(v.median('src_bytes'), v.median('fwd_bytes'));
      const outMean = v.max(v.mean('src_bytes'), v.mean('fwd_bytes'));
      const back = v.max(v.mean('dst_bytes'), v.mean('bwd_bytes'));
      const ratio =
        outMean && back
          ? { stat: 'mean(out bytes)/mean(back bytes)', value: outMean.value / (back.value + 1) }
          : undefined;
      return [ge(out, 1e5, 1e7), ge(ratio, 5, 100)];
    },
  },
  {
    id: 'long transfer',
    tag: 'exfiltration/bulk-transfer',
    description: 'long, data-carrying sessions: median duration ≥ 600 s with median bytes sent ≥ 10 kB',
    conditions: (v) => [
      ge(v.median('duration'), 600, 3600),
      ge(v.max(v.median('src_bytes'), v.median('fwd_bytes')), 1e4, 1e6),
    ],
  },
  // ---- normal ----------------------------------------------------------------------------
  {
    id: 'established traffic',
    tag: 'normal',
    description:
      'completed connections (flag/conn_state SF-like ≥ 60 %, or logged_in ≥ 0.6) with low error rates (SYN and REJ error rates ≤ 0.3); given only when no attack rule fires',
    conditions: (v) => [
      ge(
        v.max(v.share('flag', ['SF']), v.share('conn_state', ESTABLISHED_STATES), v.mean('logged_in')),
        0.6,
        0.95,
      ),
      le(
        v.max(
          v.mean('serror_rate'),
          v.mean('rerror_rate'),
          v.mean('src_t_s0_rate'),
          v.mean('src_t_rej_rate'),
          v.share('conn_state', [...NO_REPLY_STATES, ...REJECT_STATES]),
        ),
        0.3,
        0.02,
      ),
    ],
  },
];

function check(c: Condition): ConditionResult | null {
  if (!c.stat) return null;
  const v = c.stat.value;
  const ok = c.op === '>=' ? v >= c.threshold : v <= c.threshold;
  return { stat: c.stat.stat, value: v, op: c.op, threshold: c.threshold, ok };
}

function margin(c: Condition): number {
  const v = c.stat!.value;
  const span = c.full - c.threshold;
  if (span === 0) return 1;
  return Math.max(0, Math.min(1, (v - c.threshold) / span));
}

export interface RuleOutcome {
  rule: BehaviourRule;
  /** null when a field the rule needs is absent. */
  conditions: ConditionResult[] | null;
  fired: boolean;
  strength: number;
  /** Share of the rule's conditions that held (0 when not applicable). */
  met: number;
}

/** Evaluate one rule on a cluster's statistics. */
export function evaluateRule(rule: BehaviourRule, stats: ClusterStats): RuleOutcome {
  const conds = rule.conditions(new StatsView(stats));
  const checked = conds.map(check);
  if (checked.some((c) => c === null)) return { rule, conditions: null, fired: false, strength: 0, met: 0 };
  const results = checked as ConditionResult[];
  const fired = results.every((c) => c.ok);
  const met = results.filter((c) => c.ok).length / results.length;
  const strength = fired ? 0.5 + (0.5 * conds.reduce((t, c) => t + margin(c), 0)) / conds.length : 0;
  return { rule, conditions: results, fired, strength, met };
}

/** Tag one cluster (see the module comment for the decision and the confidence). */
export function tagCluster(
  stats: ClusterStats,
  rules: readonly BehaviourRule[] = BEHAVIOUR_RULES,
): TagResult {
  const outcomes = rules.map((r) => evaluateRule(r, stats));
  const scores = Object.fromEntries(BEHAVIOUR_TAGS.map((t) => [t, 0])) as Record<BehaviourTag, number>;
  for (const o of outcomes) if (o.fired) scores[o.rule.tag] = Math.max(scores[o.rule.tag], o.strength);
  const sizeFactor = Math.min(1, stats.size / 20);
  const attackTags = BEHAVIOUR_TAGS.filter((t) => t !== 'normal' && t !== 'unknown');
  let tag: BehaviourTag = 'unknown';
  let best = 0;
  for (const t of attackTags) {
    if (scores[t] > best) {
      best = scores[t];
      tag = t;
    }
  }
  if (tag === 'unknown' && scores.normal > 0) {
    tag = 'normal';
    best = scores.normal;
  }
  const evidence: RuleEvidence[] = outcomes
    .filter((o) => o.fired)
    .sort((a, b) => Number(b.rule.tag === tag) - Number(a.rule.tag === tag) || b.strength - a.strength)
    .map((o) => ({
      rule: o.rule.id,
      tag: o.rule.tag,
      description: o.rule.description,
      strength: round(o.strength),
      conditions: o.conditions!.map((c) => ({ ...c, value: round(c.value) })),
    }));
  let confidence: number;
  if (tag === 'unknown') {
    const nearMiss = Math.max(0, ...outcomes.map((o) => o.met));
    confidence = (1 - nearMiss) * sizeFactor;
  } else {
    let other = 0;
    for (const t of BEHAVIOUR_TAGS) if (t !== tag && t !== 'normal') other = Math.max(other, scores[t]);
    confidence = best * (1 - 0.5 * other) * sizeFactor;
  }
  return { tag, confidence: round(confidence), evidence, scores };
}

function round(v: number): number {
  return Math.abs(v) >= 1e6 ? Math.round(v) : Number(v.toPrecision(6));
}
