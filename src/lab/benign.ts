/**
 * Benign background traffic. Each client gets a bash script whose every action and pause was
 * drawn beforehand from a seeded generator (so a seed reproduces the run's plan), with a persona
 * that weights what it does: browsing pages of different sizes over HTTP and HTTPS (the intranet,
 * and sites on the lab's "internet" by public name), DNS lookups,
 * interactive ssh sessions and scp transfers, FTP downloads and uploads, mail, idle periods. The
 * poller checks for updates on a jittered fixed period. Every command has its own time limit and
 * every script a finite list of actions (and the whole script a time limit when it is started).
 */
import { Rng } from '../model/random.ts';
import { CLIENTS, INTERNET_SITES, LAB_DOMAIN, type LabHost, SERVERS } from './plan.ts';

export interface LabPaths {
  /** The run's private directory. */
  work: string;
  sshKey: string;
  /** Files in the web root, with their sizes. */
  pages: string[];
  ftpFiles: string[];
  sshFiles: string[];
}

type Action =
  | 'internet'
  | 'web'
  | 'web-multi'
  | 'dns'
  | 'ssh'
  | 'scp-up'
  | 'scp-down'
  | 'ftp-get'
  | 'ftp-put'
  | 'mail'
  | 'idle';

/** Relative weights of the actions per persona (clients cycle through them). */
const PERSONAS: Record<string, Partial<Record<Action, number>>> = {
  browser: { internet: 4, web: 6, 'web-multi': 3, dns: 3, mail: 1, idle: 1 },
  developer: { ssh: 3, 'scp-up': 2, 'scp-down': 2, web: 3, internet: 1, dns: 2, idle: 1 },
  files: { 'ftp-get': 3, 'ftp-put': 2, web: 2, internet: 1, dns: 2, idle: 1 },
  office: { mail: 3, web: 4, 'web-multi': 1, internet: 2, dns: 2, 'ftp-get': 1, idle: 2 },
  mixed: { web: 3, internet: 2, dns: 3, ssh: 1, 'ftp-get': 1, mail: 1, 'scp-down': 1, idle: 1 },
  light: { web: 2, internet: 1, dns: 2, idle: 3 },
  // remote users: their lookups happen outside the lab (no queries through its resolver)
  visitor: { web: 5, 'web-multi': 2, idle: 2 },
  'remote-admin': { ssh: 3, 'scp-down': 1, web: 1, idle: 2 },
};
/** Personas of outside users: they resolve the servers' names elsewhere (no lab lookups). */
const OUTSIDE_USERS: ReadonlySet<string> = new Set(['visitor', 'remote-admin']);
/** The persona of each visitor (VISITORS). */
export const VISITOR_PERSONAS = ['visitor', 'remote-admin'] as const;
const PERSONA_ORDER = ['browser', 'developer', 'files', 'office', 'mixed', 'light', 'browser', 'mixed'];

/** Names the clients look up: every lab name, plus some that do not exist (NXDOMAIN). */
export const LOOKUP_NAMES = [
  'www',
  'static',
  'api',
  'intranet',
  'updates',
  'ftp',
  'files',
  'ssh',
  'build',
  'mail',
  'smtp',
  'ns1',
  'wiki',
  'git',
  'ci',
  'jira',
  'printer',
  'nas',
  'backup',
  'vpn',
  'hr',
  'payroll',
  'crm',
  'cdn',
  'metrics',
  'logs',
  'chat',
  'calendar',
  'docs',
  'old-www',
  'test',
  'staging',
].map((n) => `${n}.${LAB_DOMAIN}`);
/** Names from LOOKUP_NAMES that the resolver answers (the rest are NXDOMAIN). */
export const EXTRA_RECORDS: Record<string, string> = {
  wiki: '192.0.2.10',
  git: '192.0.2.22',
  ci: '192.0.2.22',
  jira: '192.0.2.10',
  nas: '192.0.2.21',
  backup: '192.0.2.21',
  cdn: '192.0.2.10',
  docs: '192.0.2.10',
  chat: '192.0.2.10',
  metrics: '192.0.2.10',
};

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)]!;
}

function pickWeighted(rng: Rng, weights: Partial<Record<Action, number>>): Action {
  const entries = Object.entries(weights) as [Action, number][];
  const total = entries.reduce((s, [, w]) => s + w, 0);
  let r = rng.next() * total;
  for (const [a, w] of entries) {
    r -= w;
    if (r < 0) return a;
  }
  return entries[entries.length - 1]![0];
}

const SSH = (p: LabPaths) =>
  `-F /dev/null -i ${p.sshKey} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR`;
const WEB_NAMES = ['www', 'static', 'api', 'intranet', 'wiki', 'docs'];
const T = 'timeout -k 2 15';

/**
 * How a host reaches a server. Inside hosts look its lab name up through the lab resolver. Outside
 * users resolved it elsewhere: web requests still carry the name (TLS SNI, Host header) and curl
 * connects to the address without a lookup (`--connect-to`); other clients use the address.
 */
interface Reach {
  name(server: keyof typeof SERVERS, name: string): string;
  /** Extra curl options for a request to `server`. */
  curl(server: keyof typeof SERVERS): string;
}
const inside: Reach = { name: (_server, name) => `${name}.${LAB_DOMAIN}`, curl: () => '' };
const outside: Reach = {
  name: (server, name) => (server === 'web' ? `${name}.${LAB_DOMAIN}` : SERVERS[server].ip),
  curl: (server) => (server === 'web' ? ` --connect-to ::${SERVERS.web.ip}:` : ''),
};

function command(action: Action, rng: Rng, host: LabHost, i: number, p: LabPaths, reach: Reach): string {
  const at = reach.name;
  const scheme = () => (rng.next() < 0.5 ? 'https' : 'http');
  const url = () => `${scheme()}://${at('web', pick(rng, WEB_NAMES))}/${pick(rng, p.pages)}`;
  switch (action) {
    case 'internet': {
      // a page of 2 kB … 400 kB (log-uniform) from one of the sites, by its public name
      const size = Math.round(2000 * 200 ** rng.next());
      return `${T} curl -sk -o /dev/null -m 12 https://${pick(rng, INTERNET_SITES).name}/page?size=${size}`;
    }
    case 'web':
      return `${T} curl -sk${reach.curl('web')} -o /dev/null -m 12 ${url()}`;
    case 'web-multi': {
      const s = scheme();
      const name = pick(rng, WEB_NAMES);
      const n = 2 + rng.int(4);
      const urls = Array.from({ length: n }, () => `${s}://${at('web', name)}/${pick(rng, p.pages)}`);
      return `${T} curl -sk${reach.curl('web')} -m 12 ${urls.map((u) => `-o /dev/null ${u}`).join(' ')}`;
    }
    case 'dns': {
      const n = 1 + rng.int(3);
      return Array.from(
        { length: n },
        () => `${T} dig +tries=1 +time=2 +short ${pick(rng, LOOKUP_NAMES)} >/dev/null`,
      ).join('; ');
    }
    case 'ssh': {
      const pause = (0.5 + rng.next() * 3).toFixed(1);
      const cmds = [
        'uname -a',
        'uptime',
        `ls -l ${p.work}/ssh/files`,
        `cat ${p.work}/ssh/files/notes.txt`,
        'df -h /',
        'date',
      ];
      const chosen = Array.from({ length: 2 + rng.int(3) }, () => pick(rng, cmds));
      return `${T} ssh ${SSH(p)} root@${at('ssh', 'ssh')} '${chosen.join(`; sleep ${pause}; `)}' >/dev/null`;
    }
    case 'scp-up':
      return `${T} scp -q ${SSH(p)} ${p.work}/ssh/files/${pick(rng, p.sshFiles)} root@${at('ssh', 'ssh')}:${p.work}/ssh/incoming/${host.id}-${i}`;
    case 'scp-down':
      return `${T} scp -q ${SSH(p)} root@${at('ssh', 'ssh')}:${p.work}/ssh/files/${pick(rng, p.sshFiles)} ${p.work}/downloads/${host.id}-${i}`;
    case 'ftp-get':
      return rng.next() < 0.5
        ? `${T} curl -s -m 12 -o /dev/null ftp://${at('ftp', 'ftp')}/pub/${pick(rng, p.ftpFiles)}`
        : `${T} lftp -c 'set net:max-retries 1; set net:timeout 5; open ftp://${at('ftp', 'ftp')}; cls pub; cat pub/${pick(rng, p.ftpFiles)}' >/dev/null`;
    case 'ftp-put':
      return `${T} curl -s -m 12 -T ${p.work}/www/${pick(rng, p.pages)} ftp://${at('ftp', 'ftp')}/incoming/${host.id}-${i}.bin`;
    case 'mail': {
      const attach = rng.next() < 0.3 ? ` --attach @${p.work}/www/${pick(rng, p.pages.slice(0, 4))}` : '';
      return `${T} swaks --silent 2 --timeout 10 --server ${at('mail', 'mail')} --from ${host.id}@${LAB_DOMAIN} --to team@${LAB_DOMAIN} --header 'Subject: note ${i}' --body 'status ${i}'${attach} >/dev/null`;
    }
    case 'idle':
      return `sleep ${(2 + rng.next() * 6).toFixed(2)}`;
  }
}

/**
 * The bash script of benign client `index` (CLIENTS) for a run of `duration` seconds; `as` runs the
 * same generator for another host (an insider that also has ordinary traffic, a visitor) with a
 * persona.
 */
export function clientScript(
  index: number,
  duration: number,
  seed: number,
  p: LabPaths,
  meanGap = 0.35,
  as?: { host: LabHost; persona: keyof typeof PERSONAS },
): string {
  const host = as?.host ?? CLIENTS[index]!;
  const rng = new Rng(seed * 1009 + index + 1);
  const personaName = as?.persona ?? PERSONA_ORDER[index % PERSONA_ORDER.length]!;
  const persona = PERSONAS[personaName]!;
  const reach = OUTSIDE_USERS.has(personaName) ? outside : inside;
  const lines = ['#!/bin/bash', `# benign traffic of ${host.id} (${personaName}), seed ${seed}`];
  let planned = rng.next() * 2;
  lines.push(`sleep ${planned.toFixed(2)}`);
  for (let i = 0; planned < duration && i < 5000; i++) {
    const action = pickWeighted(rng, persona);
    lines.push(`${command(action, rng, host, i, p, reach)} || true`);
    const gap = -Math.log(1 - rng.next()) * meanGap;
    planned += gap + (action === 'idle' ? 5 : 0.3);
    lines.push(`sleep ${gap.toFixed(2)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The poller: an update check every `period` s ± 20 %. */
export function pollerScript(duration: number, seed: number, period = 10): string {
  const rng = new Rng(seed * 1009 + 999);
  const lines = ['#!/bin/bash', `# update poller, seed ${seed}`];
  for (let t = rng.next() * period; t < duration; ) {
    lines.push(`${T} curl -sk -m 8 -o /dev/null https://updates.${LAB_DOMAIN}/check.json || true`);
    const gap = period * (0.8 + 0.4 * rng.next());
    lines.push(`sleep ${gap.toFixed(2)}`);
    t += gap;
  }
  return `${lines.join('\n')}\n`;
}
