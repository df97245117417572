/**
 * Network namespaces of the lab: creation of the switch and the hosts, teardown (every process in
 * them killed, then the namespaces deleted), and the clean-up of what a crashed run left behind.
 * Only names with the lab prefix are ever touched.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BRIDGE, LAB_PREFIX, LAB_SUBNETS, type LabHost, nsName, SWITCH_NS } from './plan.ts';
import { must, mustWithInput, run, sleep } from './procs.ts';

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
  try {
    rmdirSync('/etc/netns'); // only when empty: another user's entries stay
  } catch {
    // not empty, or absent
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

/**
 * Creates the lab's namespaces: the switch (a bridge without address or multicast snooping) and
 * one namespace per host, with a veth pair made inside the switch namespace (one end on the
 * bridge, the other moved straight into the host: no end is ever in the caller's namespace), the
 * host's address, on-link routes to the lab subnets (no default route), IPv6 off everywhere, and
 * a resolv.conf pointing at the lab resolver (used by `ip netns exec`). Batched: a few `ip`
 * processes per host instead of a dozen.
 */
export async function createTopology(hosts: readonly LabHost[], resolver: string): Promise<void> {
  const names = [SWITCH_NS, ...hosts.map(nsName)];
  await mustWithInput('ip', ['-batch', '-'], names.map((n) => `netns add ${n}\n`).join(''));
  const noIpv6 = ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'];
  await Promise.all(names.map((n) => must('ip', ['netns', 'exec', n, 'sysctl', '-q', '-w', ...noIpv6])));
  const sw = [`link add ${BRIDGE} type bridge mcast_snooping 0`, `link set ${BRIDGE} up`];
  for (const h of hosts) {
    sw.push(
      `link add v-${h.id} type veth peer name eth0 netns ${nsName(h)}`,
      `link set v-${h.id} master ${BRIDGE} up`,
    );
  }
  await mustWithInput('ip', ['-n', SWITCH_NS, '-batch', '-'], `${sw.join('\n')}\n`);
  await Promise.all(
    hosts.map(async (h) => {
      const ns = nsName(h);
      const cmds = [
        'link set lo up',
        `addr add ${h.ip}/32 dev eth0`,
        'link set eth0 up',
        ...LAB_SUBNETS.map((net) => `route add ${net} dev eth0`),
      ];
      await mustWithInput('ip', ['-n', ns, '-batch', '-'], `${cmds.join('\n')}\n`);
      const etc = `/etc/netns/${ns}`;
      await mkdir(etc, { recursive: true });
      await writeFile(join(etc, 'resolv.conf'), `nameserver ${resolver}\noptions timeout:2 attempts:1\n`);
    }),
  );
}
