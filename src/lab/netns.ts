/**
 * Network namespaces of the lab: creation of the switch and the hosts, teardown (every process in
 * them killed, then the namespaces deleted), and the clean-up of what a crashed run left behind.
 * Only names with the lab prefix are ever touched.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BRIDGE, LAB_PREFIX, LAB_SUBNETS, type LabHost, nsName, SWITCH_NS } from './plan.ts';
import { must, run, sleep } from './procs.ts';

/** Names of the existing lab namespaces (`ip netns list`, prefix filtered). */
export async function labNamespaces(prefix = LAB_PREFIX): Promise<string[]> {
  const r = await run('ip', ['netns', 'list']);
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(prefix));
}

/** Inode of a namespace (what /proc/PID/ns/net points to), or null. */
export function nsInode(name: string): number | null {
  try {
    return statSync(`/run/netns/${name}`).ino;
  } catch {
    return null;
  }
}

/** PIDs of every process whose network namespace is one of `inodes` (scans /proc). */
export function pidsInNamespaces(inodes: ReadonlySet<number>): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const m = /^net:\[(\d+)\]$/.exec(readlinkSync(`/proc/${entry}/ns/net`));
      if (m && inodes.has(Number(m[1]))) out.push(Number(entry));
    } catch {
      // process gone or not ours to read
    }
  }
  return out;
}

/** PIDs whose command line mentions `marker` (the run's private directory), with their descendants. */
export function pidsMentioning(marker: string): number[] {
  const marked = new Set<number>();
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const pid = Number(entry);
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) marked.add(pid);
      const ppid = Number(/^\d+ \(.*\) \S+ (\d+)/s.exec(readFileSync(`/proc/${entry}/stat`, 'utf8'))?.[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      // gone
    }
  }
  const out = new Set<number>();
  const stack = [...marked];
  while (stack.length) {
    const pid = stack.pop()!;
    if (out.has(pid)) continue;
    out.add(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return [...out];
}

function killAll(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // gone
    }
  }
}

/** Kills every process in the given namespaces (TERM, then KILL) and deletes them. */
export async function destroyNamespaces(names: string[]): Promise<void> {
  const inodes = new Set(names.map(nsInode).filter((i): i is number => i !== null));
  for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
    const pids = pidsInNamespaces(inodes);
    if (pids.length === 0) break;
    killAll(pids, sig);
    for (let i = 0; i < 20 && pidsInNamespaces(inodes).length > 0; i++) await sleep(100);
  }
  for (const name of names) {
    await run('ip', ['netns', 'del', name]);
    rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
  }
}

/** Private directories of lab runs start with this (their processes are found by it). */
export const RUN_DIR_PREFIX = 'nalab-run-';

/**
 * Removes what a previous run left behind: lab namespaces (and every process in them), processes
 * that still mention a lab run directory, and those directories. Returns what it cleaned.
 */
export async function cleanupStale(
  tmp = '/tmp',
  prefix = LAB_PREFIX,
): Promise<{ namespaces: string[]; pids: number[] }> {
  const namespaces = await labNamespaces(prefix);
  await destroyNamespaces(namespaces);
  const pids = pidsMentioning(join(tmp, RUN_DIR_PREFIX));
  killAll(pids, 'SIGKILL');
  if (prefix === LAB_PREFIX && existsSync(tmp)) {
    for (const d of readdirSync(tmp)) {
      if (d.startsWith(RUN_DIR_PREFIX)) rmSync(join(tmp, d), { recursive: true, force: true });
    }
  }
  return { namespaces, pids };
}

/** Creates the switch namespace with its bridge (IPv6 off, no address, no multicast snooping). */
export async function createSwitch(): Promise<void> {
  await must('ip', ['netns', 'add', SWITCH_NS]);
  await quietIpv6(SWITCH_NS);
  await must('ip', ['-n', SWITCH_NS, 'link', 'add', BRIDGE, 'type', 'bridge', 'mcast_snooping', '0']);
  await must('ip', ['-n', SWITCH_NS, 'link', 'set', BRIDGE, 'up']);
}

async function quietIpv6(ns: string): Promise<void> {
  for (const k of ['all', 'default']) {
    await must('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${k}.disable_ipv6=1`]);
  }
}

/**
 * Creates one host: its namespace, a veth pair made inside the switch namespace (one end on the
 * bridge, the other moved straight into the host), its addresses and on-link routes to the lab
 * subnets, and a resolv.conf pointing at the lab resolver (used by `ip netns exec`).
 */
export async function createHost(host: LabHost, resolver: string): Promise<void> {
  const ns = nsName(host);
  await must('ip', ['netns', 'add', ns]);
  await quietIpv6(ns);
  const peer = `v-${host.id}`;
  await must('ip', [
    '-n',
    SWITCH_NS,
    'link',
    'add',
    peer,
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'netns',
    ns,
  ]);
  await must('ip', ['-n', SWITCH_NS, 'link', 'set', peer, 'master', BRIDGE, 'up']);
  await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  await must('ip', ['-n', ns, 'addr', 'add', `${host.ip}/32`, 'dev', 'eth0']);
  await must('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  for (const net of LAB_SUBNETS) await must('ip', ['-n', ns, 'route', 'add', net, 'dev', 'eth0']);
  const etc = `/etc/netns/${ns}`;
  await mkdir(etc, { recursive: true });
  await writeFile(join(etc, 'resolv.conf'), `nameserver ${resolver}\noptions timeout:2 attempts:1\n`);
}
