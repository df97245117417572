/**
 * The lab's address plan: every host is its own network namespace (`nalab-<id>`) with one veth
 * into a Linux bridge that lives in a namespace of its own (`nalab-sw`), so nothing is attached
 * to the host's network. Addresses come from the documentation ranges (RFC 5737) and exist only
 * inside these namespaces; there is no default route anywhere, only on-link routes to the three
 * lab subnets.
 *
 * - 192.0.2.0/24 "inside": servers, benign clients, and one dedicated host per insider scenario
 *   (beaconing, exfiltration, DNS tunnelling), so an address names at most one behaviour.
 * - 198.51.100.0/24 "attackers": one address per attack scenario (exact ground truth).
 * - 203.0.113.0/24 "outside": the exfiltration drop, the C2 server, the far ends of scenarios, the
 *   remote users of the public services (visitors) and the sites the clients browse.
 */

export const LAB_PREFIX = 'nalab-';
export const SWITCH_NS = `${LAB_PREFIX}sw`;
export const BRIDGE = 'br0';
export const LAB_SUBNETS = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'] as const;
export const LAB_DOMAIN = 'lab.example';

export type HostRole = 'server' | 'client' | 'attacker' | 'insider' | 'outside';

export interface LabHost {
  /** Short id (≤ 11 characters: the switch-side veth is `v-<id>`). */
  id: string;
  ip: string;
  role: HostRole;
  /** Names in the lab zone that resolve to this host. */
  names?: string[];
}

export const SERVERS = {
  web: {
    id: 'web',
    ip: '192.0.2.10',
    role: 'server',
    names: ['www', 'static', 'api', 'intranet', 'updates'],
  },
  ftp: { id: 'ftp', ip: '192.0.2.21', role: 'server', names: ['ftp', 'files'] },
  ssh: { id: 'ssh', ip: '192.0.2.22', role: 'server', names: ['ssh', 'build'] },
  mail: { id: 'mail', ip: '192.0.2.25', role: 'server', names: ['mail', 'smtp'] },
  dns: { id: 'dns', ip: '192.0.2.53', role: 'server', names: ['ns1'] },
} as const satisfies Record<string, LabHost>;

export const CLIENTS: LabHost[] = [101, 102, 103, 104, 105, 106, 107, 108].map((n, i) => ({
  id: `c${i + 1}`,
  ip: `192.0.2.${n}`,
  role: 'client',
}));
/**
 * Remote users of the public services (a visitor of the web site, a remote administrator over
 * ssh): outside addresses that reach the servers by address, so, like an outside attacker, they
 * make no lookups through the lab resolver.
 */
export const VISITORS: LabHost[] = [
  { id: 'visitor1', ip: '203.0.113.101', role: 'client' },
  { id: 'visitor2', ip: '203.0.113.102', role: 'client' },
];
/** The host that polls for updates on a fixed period (legitimate periodic traffic). */
export const POLLER: LabHost = { id: 'poller', ip: '192.0.2.120', role: 'client' };

/**
 * Sites on "the internet" that the benign clients browse over HTTPS by public names (resolved by
 * the lab resolver): outside destinations are then not a property of attacks alone.
 */
export const INTERNET_SITES: { host: LabHost; name: string }[] = [
  'news.example.net',
  'shop.example.com',
  'cdn.example.org',
  'video.example.net',
  'docs.example.com',
  'social.example.org',
].map((name, i) => ({ host: { id: `site${i + 1}`, ip: `203.0.113.${81 + i}`, role: 'outside' }, name }));

export const OUTSIDE = {
  drop: { id: 'drop', ip: '203.0.113.50', role: 'outside' },
  c2: { id: 'cnc', ip: '203.0.113.66', role: 'outside' },
} as const satisfies Record<string, LabHost>;

/** The public name of the C2 host for the beacon that calls a name (resolved by the lab resolver). */
export const C2_NAME = 'telemetry.example.net';

export function nsName(host: Pick<LabHost, 'id'>): string {
  return `${LAB_PREFIX}${host.id}`;
}

/** Servers, clients, visitors, the outside hosts and sites: the hosts that exist whatever scenarios run. */
export function baseHosts(): LabHost[] {
  return [
    ...Object.values(SERVERS),
    ...CLIENTS,
    POLLER,
    ...VISITORS,
    ...Object.values(OUTSIDE),
    ...INTERNET_SITES.map((s) => s.host),
  ];
}
