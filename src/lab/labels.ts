/**
 * Ground truth: a flow's label follows from the scenario log. Every scenario runs from an address
 * of its own, so the rule is:
 *
 * 1. a flow with a scenario's address at either end, overlapping that scenario's time span
 *    (widened by `before` s at the start and `after` s at the end, for clock granularity and
 *    lingering retransmissions/closes), gets the scenario's name and tool; for a scenario whose
 *    host also has ordinary traffic (`victims_only`), only its flows with a victim count, and its
 *    DNS queries for the scenario's own names (`names`, e.g. the C2 domain it calls); a
 *    scenario's own far end (`peer_ip`, e.g. a tunnel server) counts as its address;
 * 2. a flow with a scenario address outside every span of that address is `unknown`;
 * 3. a flow between two hosts of the base lab (servers, clients, poller, outside hosts) is
 *    `benign`;
 * 4. anything else (an address the lab never assigned) is `unknown`.
 */
import { InputError } from '../errors.ts';

export interface ScenarioRecord {
  name: string;
  tool: string;
  attacker_ip: string;
  victims: string[];
  ports: string;
  /** Only flows between the attacker and a victim belong to the scenario (the host has benign traffic too). */
  victims_only?: boolean;
  /** A far end the scenario brought along (a tunnel server): its flows belong to the scenario too. */
  peer_ip?: string;
  /** DNS names the scenario looks up: the attacker's queries for them belong to it too. */
  names?: string[];
  /** Epoch seconds. */
  start: number;
  end: number;
}

export interface FlowKey {
  src_ip: string;
  dst_ip: string;
  /** Epoch seconds. */
  start: number;
  end: number;
  /** The flow's DNS query name, when it is a DNS flow. */
  dns_query?: string;
}

export interface Label {
  label: string;
  tool: string;
}

export const UNKNOWN: Label = { label: 'unknown', tool: '' };
export const BENIGN: Label = { label: 'benign', tool: '' };

export function labelFlow(
  flow: FlowKey,
  scenarios: readonly ScenarioRecord[],
  baseAddresses: ReadonlySet<string>,
  slack = { before: 1, after: 10 },
): Label {
  let touchesScenario = false;
  for (const s of scenarios) {
    const own = (ip: string) => ip === s.attacker_ip || (s.peer_ip !== undefined && ip === s.peer_ip);
    const other = own(flow.src_ip) ? flow.dst_ip : own(flow.dst_ip) ? flow.src_ip : null;
    if (other === null) continue;
    const looksUp = flow.dns_query !== undefined && s.names?.includes(flow.dns_query) === true;
    if (s.victims_only && !s.victims.includes(other) && !looksUp) continue;
    touchesScenario = true;
    if (flow.start <= s.end + slack.after && flow.end >= s.start - slack.before)
      return { label: s.name, tool: s.tool };
  }
  if (touchesScenario) return UNKNOWN;
  if (baseAddresses.has(flow.src_ip) && baseAddresses.has(flow.dst_ip)) return BENIGN;
  return UNKNOWN;
}

export const LABEL_COLUMNS = [
  'community_id',
  'src_ip',
  'src_port',
  'dst_ip',
  'dst_port',
  'protocol',
  'start',
  'end',
  'label',
  'tool',
] as const;

export interface LabelRow {
  community_id: string;
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  protocol: string;
  start: number;
  end: number;
  label: string;
  tool: string;
}

/** The key that joins a labels.csv row to a flow of the meter: Community ID + start (µs). */
export function flowJoinKey(communityId: string, start: number): string {
  return `${communityId}|${start.toFixed(6)}`;
}

export function labelsCsv(rows: readonly LabelRow[]): string {
  const out = [LABEL_COLUMNS.join(',')];
  for (const r of rows) {
    out.push(
      [
        r.community_id,
        r.src_ip,
        Number.isFinite(r.src_port) ? r.src_port : '',
        r.dst_ip,
        Number.isFinite(r.dst_port) ? r.dst_port : '',
        r.protocol,
        r.start.toFixed(6),
        r.end.toFixed(6),
        r.label,
        r.tool,
      ].join(','),
    );
  }
  return `${out.join('\n')}\n`;
}

/** Parses labels.csv (the format labelsCsv writes). */
export function parseLabelsCsv(text: string, file = 'labels.csv'): LabelRow[] {
  const lines = text.split('\n').filter((l) => l !== '');
  if (lines[0] !== LABEL_COLUMNS.join(','))
    throw new InputError(`${file}: not a lab labels file (header ${lines[0] ?? 'missing'})`);
  return lines.slice(1).map((l, i) => {
    const c = l.split(',');
    if (c.length !== LABEL_COLUMNS.length)
      throw new InputError(`${file}:${i + 2}: expected ${LABEL_COLUMNS.length} fields, got ${c.length}`);
    return {
      community_id: c[0]!,
      src_ip: c[1]!,
      src_port: c[2] === '' ? Number.NaN : Number(c[2]),
      dst_ip: c[3]!,
      dst_port: c[4] === '' ? Number.NaN : Number(c[4]),
      protocol: c[5]!,
      start: Number(c[6]),
      end: Number(c[7]),
      label: c[8]!,
      tool: c[9]!,
    };
  });
}
