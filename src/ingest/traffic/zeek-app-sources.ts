/**
 * Which Zeek application-log column fills each application field when dns.log / ssl.log /
 * http.log / ssh.log lie beside conn.log (zeek-app.ts joins them by uid). Documentation text for the
 * `zeek` source of FLOW_SCHEMA (schema.ts); fields not listed stay NaN / "unknown" from Zeek.
 */
import type { FlowField } from './schema.ts';

const DNS = 'dns.log beside conn.log (zeek-app.ts, joined by uid):';
const SSL = 'ssl.log beside conn.log (zeek-app.ts, joined by uid):';
const HTTP = 'http.log beside conn.log (zeek-app.ts, joined by uid):';

export const ZEEK_APP_SOURCES: Readonly<Record<string, string>> = {
  app_proto:
    'dns / tls / http from the dns.log, ssl.log or http.log record of the flow (zeek-app.ts, joined by uid); none when all three logs were given and none has the flow, else unknown',
  dns_qname_len: `${DNS} query`,
  dns_qname_labels: `${DNS} query`,
  dns_qname_max_label: `${DNS} query`,
  dns_qname_entropy: `${DNS} query`,
  dns_qname_digit_ratio: `${DNS} query`,
  dns_answers: `${DNS} number of answers (NaN without rcode)`,
  dns_min_ttl: `${DNS} smallest of TTLs`,
  dns_qtype: `${DNS} qtype`,
  dns_rcode: `${DNS} rcode (unset: noreply)`,
  tls_sni_present: `${SSL} server_name`,
  tls_sni_len: `${SSL} server_name`,
  tls_version: `${SSL} version`,
  http_uri_len: `${HTTP} uri`,
  http_uri_entropy: `${HTTP} uri`,
  http_uri_meta_chars: `${HTTP} uri`,
  http_uri_escaped_ratio: `${HTTP} uri`,
  http_ua_meta_chars: `${HTTP} user_agent`,
  http_host_present: `${HTTP} host`,
  http_host_is_address: `${HTTP} host`,
  http_ua_len: `${HTTP} user_agent`,
  http_method: `${HTTP} method`,
  http_status: `${HTTP} status_code`,
  src_10m_dns_max_subdomains: 'host-behaviour.ts over the query names of the joined dns.log (NaN without it)',
  auth_failures:
    'ssh.log auth_attempts of a connection that did not log in (0 when auth_success is T), plus http.log requests answered 401/407 with a username; 0 for other flows when ssh.log or http.log was given, else NaN (zeek-app.ts)',
  src_10m_auth_failures: 'host-behaviour.ts over auth_failures (NaN without ssh.log or http.log)',
};

/** The fields with their `zeek` source filled from ZEEK_APP_SOURCES where conn.log alone has none. */
export function withZeekAppSources(fields: FlowField[]): FlowField[] {
  return fields.map((f) =>
    f.sources.zeek === undefined && ZEEK_APP_SOURCES[f.name] !== undefined
      ? { ...f, sources: { ...f.sources, zeek: ZEEK_APP_SOURCES[f.name] } }
      : f,
  );
}
