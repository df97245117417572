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

import { withZeekAppSources } from './zeek-app-sources.ts';

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

const APP_SRC = (what: string) => ({ pcap: `${what} (app-meta.ts, first payload packets)` });
const HOST_SRC = (needs: string) => ({
  pcap: 'host-behaviour.ts over the flows',
  zeek: 'host-behaviour.ts over the flows',
  cic: `host-behaviour.ts over the flows (needs Src IP and Timestamp${needs}; NaN otherwise)`,
});

/** Numeric fields of one group: rows of [name, unit, description] sharing a NaN note and sources. */
function numericGroup(
  rows: readonly (readonly [string, string, string])[],
  nanNote: string,
  sources: FlowField['sources'],
): FlowField[] {
  return rows.map(([name, unit, description]) => ({
    name,
    kind: 'numeric',
    unit,
    description: nanNote ? `${description}; ${nanNote}` : description,
    sources,
  }));
}

function hostFields(prefix: 'src_60s' | 'src_10m', scope: string): FlowField[] {
  return [
    ['count', 'flows', `flows from the same source in ${scope}, this one included`],
    ['distinct_dst_hosts', 'hosts', `distinct destination hosts of the source in ${scope}`],
    ['distinct_dst_ports', 'ports', `distinct destination ports of the source in ${scope}`],
    [
      'failed_rate',
      'ratio 0..1',
      `share of the source's flows in ${scope} that failed (conn_state S0, SH, RSTOS0, REJ, RSTRH)`,
    ],
    [
      'out_ratio',
      'ratio 0..1',
      `bytes sent / (sent + received) by the source over its flows in ${scope} (IP bytes; CIC: payload bytes)`,
    ],
    [
      'dns_queries',
      'flows',
      `DNS flows of the source in ${scope} (app_proto dns; without application data: dst_port 53)`,
    ],
  ].map(([n, unit, description]) => ({
    name: `${prefix}_${n}`,
    kind: 'numeric' as const,
    unit: unit!,
    description: description!,
    sources: HOST_SRC(''),
  }));
}

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

export const FLOW_SCHEMA: readonly FlowField[] = withZeekAppSources([
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
  // application metadata (pcap: app-meta.ts); NaN when the flow is not of that protocol
  {
    name: 'app_proto',
    kind: 'categorical',
    unit: 'name',
    description:
      'application protocol recognised in the first payload packets: dns, tls, http, none; "unknown" when the source carries no payload',
    sources: APP_SRC('DNS on ports 53/5353/5355, TLS handshake record, HTTP/1.x request or status line'),
  },
  ...numericGroup(
    [
      ['dns_qname_len', 'characters', 'length of the first DNS query name (dots included, no final dot)'],
      ['dns_qname_labels', 'labels', 'labels in the first DNS query name'],
      ['dns_qname_max_label', 'characters', 'longest label of the first DNS query name'],
      [
        'dns_qname_entropy',
        'bits/character',
        'Shannon entropy of the characters of the first DNS query name (dots excluded, lower-cased)',
      ],
      ['dns_qname_digit_ratio', 'ratio 0..1', 'share of digits among the characters of the query name'],
      ['dns_answers', 'records', 'answer count of the first DNS response; NaN without a response'],
      [
        'dns_min_ttl',
        's',
        'smallest TTL among the answers (at most 32) of the first response; NaN without a response or answers',
      ],
    ],
    'NaN unless app_proto is dns',
    APP_SRC('DNS message (UDP, or TCP with its length prefix)'),
  ),
  {
    name: 'dns_qtype',
    kind: 'categorical',
    unit: 'DNS type',
    description:
      'type of the first query: A NS CNAME SOA NULL PTR MX TXT AAAA SRV HTTPS ANY, else other; none unless app_proto is dns',
    sources: APP_SRC('DNS question'),
  },
  {
    name: 'dns_rcode',
    kind: 'categorical',
    unit: 'DNS rcode',
    description:
      'response code of the first response: NOERROR FORMERR SERVFAIL NXDOMAIN NOTIMP REFUSED, else other; noreply; none unless dns',
    sources: APP_SRC('DNS header'),
  },
  ...numericGroup(
    [
      ['tls_sni_present', 'flag 0/1', 'the ClientHello carries a server_name extension'],
      ['tls_sni_len', 'characters', 'length of the SNI host name (0 without SNI)'],
      ['tls_alpn_present', 'flag 0/1', 'the ClientHello carries an ALPN extension'],
      ['tls_cipher_count', 'suites', 'cipher suites offered by the client (GREASE values excluded)'],
      ['tls_extension_count', 'extensions', 'extensions in the ClientHello (GREASE excluded)'],
    ],
    'NaN unless a ClientHello was seen',
    APP_SRC('TLS ClientHello (reassembled across segments up to 4 KiB)'),
  ),
  {
    name: 'tls_version',
    kind: 'categorical',
    unit: 'TLS version',
    description:
      'negotiated version (ServerHello supported_versions, else its version; without a ServerHello the highest the client offers): ssl3 tls1.0 tls1.1 tls1.2 tls1.3 other; none unless tls',
    sources: APP_SRC('TLS ServerHello / ClientHello'),
  },
  {
    name: 'tls_fp',
    kind: 'categorical',
    unit: 'bucket',
    description:
      'JA4-style client fingerprint (version, sorted cipher suites, sorted extension types without SNI/ALPN, ALPN present; GREASE removed), FNV-1a hashed into 32 buckets fp00..fp31; none without a ClientHello',
    sources: APP_SRC('TLS ClientHello'),
  },
  ...numericGroup(
    [
      ['http_uri_len', 'characters', 'length of the request-target of the first request'],
      ['http_uri_entropy', 'bits/character', 'Shannon entropy of the request-target bytes'],
      ['http_host_present', 'flag 0/1', 'the request carries a Host header'],
      [
        'http_host_is_address',
        'flag 0/1',
        'the Host header names an IP address (dotted IPv4 or bracketed IPv6, optional port), not a name; 0 without a Host header (http-text.ts)',
      ],
      ['http_ua_len', 'characters', 'length of the User-Agent value (0 without one)'],
      ['http_header_count', 'headers', 'header lines of the first request seen in its first segment'],
    ],
    'NaN unless an HTTP request was seen',
    APP_SRC('HTTP/1.x request line and headers of the first request segment'),
  ),
  ...numericGroup(
    [
      [
        'http_uri_meta_chars',
        'characters',
        'meta characters \' " < > ( ) ; $ { } | ` \\ and ../ or ..\\ sequences in the request-target after percent-decoding twice (http-text.ts)',
      ],
      ['http_uri_escaped_ratio', 'ratio 0..1', 'share of the raw request-target written as %XX escapes'],
      [
        'http_ua_meta_chars',
        'characters',
        'meta characters of the User-Agent (decoded; without the ( ) ; of its grammar) plus each ://; 0 without one',
      ],
    ],
    'NaN unless an HTTP request was seen',
    APP_SRC('HTTP/1.x request line and User-Agent of the first request (http-text.ts)'),
  ),
  {
    name: 'http_method',
    kind: 'categorical',
    unit: 'method',
    description:
      'method of the first request: GET POST HEAD PUT DELETE OPTIONS CONNECT PATCH TRACE other; none',
    sources: APP_SRC('HTTP request line'),
  },
  {
    name: 'http_status',
    kind: 'categorical',
    unit: 'status class',
    description: 'class of the first response status: 1xx..5xx; noreply; none unless http',
    sources: APP_SRC('HTTP status line'),
  },
  // first packets
  ...Array.from(
    { length: 6 },
    (_, i): FlowField => ({
      name: `first_data_${i + 1}`,
      kind: 'numeric',
      unit: 'bytes (L4 payload, signed)',
      description: `payload size of the flow's packet #${i + 1} carrying payload, + from the originator, − from the responder; 0 when the flow has fewer`,
      sources: { pcap: 'per packet (flow-meter.ts)' },
    }),
  ),
  {
    name: 'resp_delay',
    kind: 'numeric',
    unit: 's',
    description: "time from the flow's first packet to the responder's first packet; NaN without a reply",
    sources: { pcap: 'packet timestamps' },
  },
  // payload content (payload-stats.ts, auth-replies.ts)
  ...numericGroup(
    [
      [
        'fwd_payload_entropy',
        'bits/byte',
        "Shannon entropy of the originator's first ≤ 1 KiB of payload (0..8)",
      ],
      [
        'bwd_payload_entropy',
        'bits/byte',
        "Shannon entropy of the responder's first ≤ 1 KiB of payload (0..8)",
      ],
      [
        'fwd_printable_ratio',
        'ratio 0..1',
        "share of printable ASCII (0x20-0x7e, tab, CR, LF) in the originator's first ≤ 1 KiB of payload",
      ],
      [
        'bwd_printable_ratio',
        'ratio 0..1',
        "share of printable ASCII in the responder's first ≤ 1 KiB of payload",
      ],
    ],
    'NaN when that direction carried no captured payload',
    { pcap: 'TCP/UDP payload, ICMP after its 8-byte header (payload-stats.ts)' },
  ),
  {
    name: 'auth_failures',
    kind: 'numeric',
    unit: 'replies',
    description:
      "server replies meaning a failed login: FTP 530, SMTP 535, POP3 -ERR after PASS, APOP or AUTH with a mechanism, IMAP NO/BAD to LOGIN/AUTHENTICATE, HTTP 401/407 to a request with Basic/Digest-like credentials (not the NTLM/Negotiate first leg); over the first 16 payload packets / 8 KiB of a TCP flow; SSH: estimated from the sizes of the encrypted server replies (ssh-auth.ts, Zeek's heuristic), the replies of the first failure's size after the none probe, over 32 replies; 0 for other flows",
    sources: { pcap: 'plaintext reply lines (auth-replies.ts); SSH encrypted reply sizes (ssh-auth.ts)' },
  },
  // host behaviour over longer windows (host-behaviour.ts)
  ...hostFields('src_60s', 'the last 60 s'),
  ...hostFields('src_10m', 'the last 10 min'),
  {
    name: 'src_10m_dns_max_subdomains',
    kind: 'numeric',
    unit: 'names',
    description:
      'most distinct query names the source asked under one base domain (last two labels; three under co.uk-like suffixes) in the last 10 min; NaN when the source carries no query names',
    sources: { pcap: 'host-behaviour.ts over the DNS query names' },
  },
  {
    name: 'src_10m_auth_failures',
    kind: 'numeric',
    unit: 'replies',
    description:
      "failed logins (auth_failures) summed over the source's flows in the last 10 min, the password-guessing signal; NaN when the input carries no login outcomes",
    sources: { pcap: 'host-behaviour.ts over auth_failures' },
  },
  ...numericGroup(
    [
      ['pair_10m_count', 'flows', 'flows from this source to this destination in the last 10 min'],
      ['pair_10m_distinct_dst_ports', 'ports', 'distinct destination ports of the pair in the last 10 min'],
      ['pair_10m_failed_rate', 'ratio 0..1', "share of the pair's flows in the last 10 min that failed"],
      [
        'pair_10m_out_ratio',
        'ratio 0..1',
        "bytes sent / (sent + received) over the pair's flows in the last 10 min",
      ],
      [
        'pair_beacon_score',
        'ratio 0..1',
        'RITA-style beacon score of the pair: mean of the timing and size scores; 0 with fewer than 4 connections in the last hour',
      ],
      [
        'pair_beacon_ts_score',
        'ratio 0..1',
        "timing regularity of the pair's last ≤ 64 connections in 1 h: mean of 1−|Bowley skew| of the intervals, 1−MAD/min(30 s, median interval), persistence min(1, span/600 s)",
      ],
      [
        'pair_beacon_ds_score',
        'ratio 0..1',
        'size regularity of the same connections (originator bytes): mean of 1−|Bowley skew|, 1−MAD/32 bytes, 1−median/65535',
      ],
    ],
    '',
    HOST_SRC(' and Dst IP'),
  ),
]);

/**
 * Numeric fields that are NaN for a flow the field does not apply to (a DNS field of a TLS flow,
 * the reply delay of an unanswered flow, the payload statistics of a direction without payload),
 * even from a source that supplies them.
 */
export const NAN_WHEN_NOT_APPLICABLE: ReadonlySet<string> = new Set(
  FLOW_SCHEMA.filter(
    (f) =>
      f.kind === 'numeric' &&
      (/^(dns|tls|http)_/.test(f.name) ||
        f.name === 'resp_delay' ||
        /^(fwd|bwd)_(payload_entropy|printable_ratio)$/.test(f.name)),
  ).map((f) => f.name),
);

export const IDENTITY_FIELDS = FLOW_SCHEMA.filter((f) => f.kind === 'identity').map((f) => f.name);
export const NUMERIC_FEATURES: readonly string[] = FLOW_SCHEMA.filter((f) => f.kind === 'numeric').map(
  (f) => f.name,
);
/** Application-layer categoricals: carried in `Flow.app`; "unknown" when a flow has none. */
export const APP_CATEGORICALS = [
  'app_proto',
  'dns_qtype',
  'dns_rcode',
  'tls_version',
  'tls_fp',
  'http_method',
  'http_status',
] as const;
export type AppCategorical = (typeof APP_CATEGORICALS)[number];
export const CATEGORICAL_FEATURES = ['protocol', 'conn_state', 'port_class', ...APP_CATEGORICALS] as const;
export type CategoricalFeature = (typeof CATEGORICAL_FEATURES)[number];

/** The value of a categorical feature of a flow ("unknown" for an application field it lacks). */
export function categoricalOf(flow: Flow, name: CategoricalFeature): string {
  if (name === 'protocol' || name === 'conn_state' || name === 'port_class') return flow[name];
  return flow.app?.[name] ?? 'unknown';
}

/** Text evidence from the application layer (never a feature; the analyst's context). */
export interface FlowAppInfo {
  dns_query?: string;
  tls_sni?: string;
  /** The full 32-bit fingerprint hash (hex) that `tls_fp` buckets. */
  tls_fingerprint?: string;
  http_host?: string;
  http_uri?: string;
  /** User-Agent of the first request, up to 256 characters. */
  http_user_agent?: string;
}

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
  /** Application categoricals (APP_CATEGORICALS); absent when the source carries no payload. */
  app?: Partial<Record<AppCategorical, string>>;
  /** Application text (query name, SNI, Host, URI); absent when the source carries no payload. */
  info?: FlowAppInfo;
}

/** A numeric-feature record with every feature set to NaN (missing). */
export function emptyFeatures(): Record<string, number> {
  return { ...EMPTY_FEATURES }; // a copy of one shape: fast to make and to read, per flow
}
const EMPTY_FEATURES: Readonly<Record<string, number>> = Object.fromEntries(
  NUMERIC_FEATURES.map((name) => [name, Number.NaN]),
);

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

/** The Markdown table of docs/flow-schema.md ("Fields"), generated from FLOW_SCHEMA. */
export function schemaMarkdownTable(): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const rows = FLOW_SCHEMA.map(
    (f) =>
      `| \`${f.name}\` | ${f.kind} | ${esc(f.unit)} | ${esc(f.description)} | ${esc(f.sources.pcap ?? '—')} | ${esc(f.sources.zeek ?? '—')} | ${esc(f.sources.cic ?? '—')} |`,
  );
  return [
    '| name | kind | unit | description | pcap | Zeek conn.log | CICFlowMeter CSV |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
