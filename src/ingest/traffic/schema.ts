/**
 * The canonical flow schema: every traffic reader (pcap, Zeek conn.log, CICFlowMeter CSV) maps its
 * input into these fields, so a model trained on one source names the same columns and units.
 *
 * - `identity` fields describe who talked to whom; they are returned beside the Table, never as
 *   features.
 * - `numeric` fields become Float64Array columns of the Table (NaN = missing for that source).
 * - `categorical` fields become text columns of the Table.
 *
 * `sources` says which inputs supply the field and from what (the text is documentation only);
 * an input not listed yields NaN (numeric) or "unknown" (categorical).
 */

export type FieldKind = 'numeric' | 'categorical' | 'identity';
export type TrafficSource = 'pcap' | 'zeek' | 'cic';

export interface FlowField {
  readonly name: string;
  readonly kind: FieldKind;
  readonly unit: string;
  readonly description: string;
  readonly sources: Readonly<Partial<Record<TrafficSource, string>>>;
}

const ALL = (pcap: string, zeek: string, cic: string) => ({ pcap, zeek, cic });
const WINDOW_SRC = {
  pcap: 'windows.ts over the flows',
  zeek: 'windows.ts over the flows',
  cic: 'windows.ts over the flows (needs Src IP and Timestamp; NaN otherwise)',
};

function windowFields(prefix: 'src_t' | 'src_n', scope: string): FlowField[] {
  return [
    {
      name: `${prefix}_count`,
      unit: 'flows',
      description: `flows from the same source in ${scope}, this one included`,
    },
    {
      name: `${prefix}_distinct_dst_ports`,
      unit: 'ports',
      description: `distinct destination ports contacted by the source in ${scope}`,
    },
    {
      name: `${prefix}_distinct_dst_hosts`,
      unit: 'hosts',
      description: `distinct destination hosts contacted by the source in ${scope}`,
    },
    {
      name: `${prefix}_s0_rate`,
      unit: 'ratio 0..1',
      description: `share of the source's flows in ${scope} without a reply (conn_state S0, SH, RSTOS0)`,
    },
    {
      name: `${prefix}_rej_rate`,
      unit: 'ratio 0..1',
      description: `share of the source's flows in ${scope} rejected (conn_state REJ, RSTRH)`,
    },
    {
      name: `${prefix}_same_dport_rate`,
      unit: 'ratio 0..1',
      description: `share of the source's flows in ${scope} to this flow's destination port`,
    },
  ].map((f) => ({ ...f, kind: 'numeric' as const, sources: WINDOW_SRC }));
}

export const FLOW_SCHEMA: readonly FlowField[] = [
  // identity
  {
    name: 'src_ip',
    kind: 'identity',
    unit: 'address',
    description: 'originator (sender of the first packet) IPv4/IPv6 address, text',
    sources: ALL('first packet source', 'id.orig_h', 'Src IP / Source IP / src_ip'),
  },
  {
    name: 'dst_ip',
    kind: 'identity',
    unit: 'address',
    description: 'responder address, text',
    sources: ALL('first packet destination', 'id.resp_h', 'Dst IP / Destination IP / dst_ip'),
  },
  {
    name: 'src_port',
    kind: 'identity',
    unit: 'port',
    description: 'originator port (ICMP: type); NaN if unknown',
    sources: ALL('TCP/UDP header, ICMP type', 'id.orig_p', 'Src Port / Source Port / src_port'),
  },
  {
    name: 'dst_port',
    kind: 'identity',
    unit: 'port',
    description: 'responder port (ICMP: code or the paired reply type); NaN if unknown',
    sources: ALL('TCP/UDP header, ICMP code', 'id.resp_p', 'Dst Port / Destination Port / dst_port'),
  },
  {
    name: 'start_time',
    kind: 'identity',
    unit: 's (epoch)',
    description: 'timestamp of the first packet, seconds since 1970-01-01 UTC',
    sources: ALL('first packet timestamp', 'ts (epoch or ISO 8601)', 'Timestamp (day-first d/m/y or ISO)'),
  },
  {
    name: 'community_id',
    kind: 'identity',
    unit: 'text',
    description: 'Community ID v1, seed 0 ("1:<base64 sha1>"); empty if the 5-tuple is incomplete',
    sources: ALL('computed', 'community_id if logged, else computed', 'computed from the 5-tuple'),
  },
  // categorical features
  {
    name: 'protocol',
    kind: 'categorical',
    unit: 'name',
    description: 'transport protocol: tcp, udp, icmp, icmpv6 (else "ip-<number>")',
    sources: ALL('IP protocol field', 'proto', 'Protocol (number)'),
  },
  {
    name: 'conn_state',
    kind: 'categorical',
    unit: 'Zeek conn_state',
    description:
      'Zeek-style state: S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH; UDP/ICMP: S0 (no reply) or SF',
    sources: ALL(
      'derived from the TCP handshake',
      'conn_state',
      'approximated from flag counts and packet counts (see docs)',
    ),
  },
  {
    name: 'port_class',
    kind: 'categorical',
    unit: 'bucket',
    description:
      'service-ish bucket of dst_port: the port itself for a fixed list of common services ("p443"), else well-known (<1024), registered (<49152), ephemeral; "none" for ICMP/other',
    sources: ALL('dst_port', 'id.resp_p', 'Dst Port'),
  },
  // numeric features
  {
    name: 'duration',
    kind: 'numeric',
    unit: 's',
    description: 'last packet time minus first packet time',
    sources: ALL('packet timestamps', 'duration', 'Flow Duration (µs, divided by 1e6)'),
  },
  {
    name: 'fwd_packets',
    kind: 'numeric',
    unit: 'packets',
    description: 'packets from the originator',
    sources: ALL('count', 'orig_pkts', 'Total Fwd Packets / Tot Fwd Pkts / tot_fwd_pkts'),
  },
  {
    name: 'bwd_packets',
    kind: 'numeric',
    unit: 'packets',
    description: 'packets from the responder',
    sources: ALL('count', 'resp_pkts', 'Total Backward Packets / Tot Bwd Pkts / tot_bwd_pkts'),
  },
  {
    name: 'fwd_bytes',
    kind: 'numeric',
    unit: 'bytes (IP)',
    description: 'IP bytes (IP header + payload, from the IP length field) sent by the originator',
    sources: { pcap: 'IP total length', zeek: 'orig_ip_bytes' },
  },
  {
    name: 'bwd_bytes',
    kind: 'numeric',
    unit: 'bytes (IP)',
    description: 'IP bytes sent by the responder',
    sources: { pcap: 'IP total length', zeek: 'resp_ip_bytes' },
  },
  {
    name: 'fwd_payload_bytes',
    kind: 'numeric',
    unit: 'bytes (L4 payload)',
    description: 'transport payload bytes sent by the originator',
    sources: ALL(
      'IP length - IP and L4 headers',
      'orig_bytes (from TCP sequence numbers)',
      'Total Length of Fwd Packets / TotLen Fwd Pkts',
    ),
  },
  {
    name: 'bwd_payload_bytes',
    kind: 'numeric',
    unit: 'bytes (L4 payload)',
    description: 'transport payload bytes sent by the responder',
    sources: ALL(
      'IP length - IP and L4 headers',
      'resp_bytes',
      'Total Length of Bwd Packets / TotLen Bwd Pkts',
    ),
  },
  {
    name: 'flow_bytes_per_s',
    kind: 'numeric',
    unit: 'bytes/s (payload)',
    description: 'payload bytes per second; 0 when duration is 0',
    sources: ALL('derived', 'derived', 'Flow Bytes/s (Infinity/NaN: 0 at duration 0, else NaN)'),
  },
  {
    name: 'flow_packets_per_s',
    kind: 'numeric',
    unit: 'packets/s',
    description: 'packets per second; 0 when duration is 0',
    sources: ALL('derived', 'derived', 'Flow Packets/s (same rule)'),
  },
  {
    name: 'pkt_len_min',
    kind: 'numeric',
    unit: 'bytes (L4 payload)',
    description: 'smallest payload length, both directions',
    sources: { pcap: 'per packet', cic: 'Packet Length Min / Min Packet Length / Pkt Len Min' },
  },
  {
    name: 'pkt_len_max',
    kind: 'numeric',
    unit: 'bytes (L4 payload)',
    description: 'largest payload length, both directions',
    sources: { pcap: 'per packet', cic: 'Packet Length Max / Max Packet Length / Pkt Len Max' },
  },
  {
    name: 'pkt_len_mean',
    kind: 'numeric',
    unit: 'bytes (L4 payload)',
    description: 'mean payload length, both directions',
    sources: ALL('per packet', '(orig_bytes+resp_bytes)/(orig_pkts+resp_pkts)', 'Packet Length Mean'),
  },
  {
    name: 'pkt_len_std',
    kind: 'numeric',
    unit: 'bytes (L4 payload)',
    description: 'sample standard deviation (n-1) of payload length; 0 for one packet',
    sources: { pcap: 'per packet', cic: 'Packet Length Std' },
  },
  {
    name: 'fwd_pkt_len_mean',
    kind: 'numeric',
    unit: 'bytes (L4 payload)',
    description: 'mean payload length from the originator; 0 without packets',
    sources: ALL('per packet', 'orig_bytes/orig_pkts', 'Fwd Packet Length Mean'),
  },
  {
    name: 'fwd_pkt_len_max',
    kind: 'numeric',
    unit: 'bytes (L4 payload)',
    description: 'largest payload length from the originator',
    sources: { pcap: 'per packet', cic: 'Fwd Packet Length Max' },
  },
  {
    name: 'bwd_pkt_len_mean',
    kind: 'numeric',
    unit: 'bytes (L4 payload)',
    description: 'mean payload length from the responder; 0 without packets',
    sources: ALL('per packet', 'resp_bytes/resp_pkts', 'Bwd Packet Length Mean'),
  },
  {
    name: 'bwd_pkt_len_max',
    kind: 'numeric',
    unit: 'bytes (L4 payload)',
    description: 'largest payload length from the responder',
    sources: { pcap: 'per packet', cic: 'Bwd Packet Length Max' },
  },
  ...(['flow', 'fwd', 'bwd'] as const).flatMap((dir): FlowField[] =>
    (['mean', 'std', 'max', 'min'] as const).map((stat) => ({
      name: `${dir}_iat_${stat}`,
      kind: 'numeric' as const,
      unit: 's',
      description: `${stat === 'std' ? 'sample standard deviation (n-1)' : stat} of inter-arrival times ${
        dir === 'flow' ? 'of all packets' : dir === 'fwd' ? 'of originator packets' : 'of responder packets'
      }; 0 with fewer than two packets (CICFlowMeter convention)`,
      sources: {
        pcap: 'packet timestamps',
        cic: `${dir === 'flow' ? 'Flow' : dir === 'fwd' ? 'Fwd' : 'Bwd'} IAT ${stat === 'mean' ? 'Mean' : stat === 'std' ? 'Std' : stat === 'max' ? 'Max' : 'Min'} (µs / 1e6)`,
      },
    })),
  ),
  ...(
    [
      [
        'syn_count',
        'packets with SYN set (SYN and SYN-ACK)',
        'history S/s + H/h letters (lower bound)',
        'SYN Flag Count',
      ],
      ['synack_count', 'packets with SYN and ACK set', 'history h/H letters (lower bound)', ''],
      ['fin_count', 'packets with FIN set', 'history F/f letters (lower bound)', 'FIN Flag Count'],
      ['rst_count', 'packets with RST set', 'history R/r letters (lower bound)', 'RST Flag Count'],
      ['psh_count', 'packets with PSH set', '', 'PSH Flag Count'],
      ['ack_count', 'packets with ACK set', '', 'ACK Flag Count'],
      ['urg_count', 'packets with URG set', '', 'URG Flag Count'],
      ['ece_count', 'packets with ECE set', '', 'ECE Flag Count'],
      ['cwr_count', 'packets with CWR set', '', 'CWR Flag Count / CWE Flag Count'],
    ] as const
  ).map(([name, description, zeek, cic]): FlowField => {
    const sources: Partial<Record<TrafficSource, string>> = { pcap: 'TCP flags (0 for UDP/ICMP)' };
    if (zeek) sources.zeek = zeek;
    if (cic) sources.cic = cic;
    return { name, kind: 'numeric', unit: 'packets', description, sources };
  }),
  ...windowFields('src_t', 'the last T seconds (default 2 s)'),
  ...windowFields('src_n', 'the last N flows of that source (default 100)'),
];

export const IDENTITY_FIELDS = FLOW_SCHEMA.filter((f) => f.kind === 'identity').map((f) => f.name);
export const NUMERIC_FEATURES: readonly string[] = FLOW_SCHEMA.filter((f) => f.kind === 'numeric').map(
  (f) => f.name,
);
export const CATEGORICAL_FEATURES = ['protocol', 'conn_state', 'port_class'] as const;
export type CategoricalFeature = (typeof CATEGORICAL_FEATURES)[number];

/** One flow in canonical form. `f` holds every numeric feature by name (NaN = missing). */
export interface Flow {
  src_ip: string;
  dst_ip: string;
  src_port: number;
  dst_port: number;
  protocol: string;
  start_time: number;
  community_id: string;
  conn_state: string;
  port_class: string;
  /** Numeric features by name (see NUMERIC_FEATURES). */
  f: Record<string, number>;
  /** Ground-truth label when the input carries one (CIC `Label`); never a feature. */
  label?: string;
}

/** A numeric-feature record with every feature set to NaN (missing). */
export function emptyFeatures(): Record<string, number> {
  const f: Record<string, number> = {};
  for (const name of NUMERIC_FEATURES) f[name] = Number.NaN;
  return f;
}

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp' };
export function protocolName(num: number): string {
  return PROTO_NAMES[num] ?? `ip-${num}`;
}
export function protocolNumber(name: string): number {
  const n = name.toLowerCase();
  for (const [k, v] of Object.entries(PROTO_NAMES)) if (v === n) return Number(k);
  const m = /^ip-(\d+)$/.exec(n);
  return m ? Number(m[1]) : Number.NaN;
}

/** Ports that keep their own category in `port_class` (everything else is bucketed). */
export const SERVICE_PORTS: ReadonlySet<number> = new Set([
  20, 21, 22, 23, 25, 53, 67, 68, 69, 80, 88, 110, 123, 135, 137, 138, 139, 143, 161, 389, 443, 445, 465, 514,
  587, 636, 993, 995, 1433, 1900, 3306, 3389, 5060, 5353, 5900, 8080, 8443,
]);

export function portClass(protocol: string, dstPort: number): string {
  if ((protocol !== 'tcp' && protocol !== 'udp' && protocol !== 'sctp') || !Number.isFinite(dstPort))
    return 'none';
  if (SERVICE_PORTS.has(dstPort)) return `p${dstPort}`;
  if (dstPort < 1024) return 'well-known';
  if (dstPort < 49152) return 'registered';
  return 'ephemeral';
}

/** conn_state values counted as "no reply" and "rejected" by the window features. */
export const S0_STATES: ReadonlySet<string> = new Set(['S0', 'SH', 'RSTOS0']);
export const REJ_STATES: ReadonlySet<string> = new Set(['REJ', 'RSTRH']);
