/**
 * What a lab run needs before it touches anything: root, iproute2 with `ip netns`, the tools of
 * each part (a missing server tool is fatal, a missing attack tool skips that scenario), and the
 * lock that refuses a second concurrent run.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { NetanomalyError } from '../errors.ts';

export class LabError extends NetanomalyError {
  override name = 'LabError';
  /** Exit code of the CLI for this error (130 for an interrupted run), else the default 1. */
  exitCode?: number;
}

export const DEFAULT_LOCK = '/run/netanomaly-lab.lock';

/** First directory of PATH (plus the sbin directories) holding an executable `tool`, or null. */
export function findTool(tool: string, path = process.env.PATH ?? ''): string | null {
  const dirs = [...path.split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'].filter(Boolean);
  for (const d of dirs) {
    const p = join(d, tool);
    if (existsSync(p)) return p;
  }
  return null;
}

/** The one-line reason a lab cannot run here, or null. Pure: the facts are passed in. */
export function preflightProblem(facts: { uid: number; hasIp: boolean; platform: string }): string | null {
  if (facts.platform !== 'linux')
    return `the traffic lab needs Linux network namespaces (this is ${facts.platform})`;
  if (facts.uid !== 0)
    return 'the traffic lab needs root (it creates network namespaces and a bridge): run it as root, e.g. with sudo';
  if (!facts.hasIp)
    return "the traffic lab needs iproute2's `ip` with netns support (Debian package iproute2)";
  return null;
}

/** Server-side tools: without any of them the lab cannot run at all. */
export const REQUIRED_TOOLS = [
  'ip',
  'dumpcap',
  'nginx',
  'dnsmasq',
  'sshd',
  'ssh-keygen',
  'vsftpd',
  'openssl',
  'timeout',
  'bash',
];

export function missingTools(tools: readonly string[]): string[] {
  return tools.filter((t) => findTool(t) === null);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lab lock (a file holding the owner's PID, created exclusively). A lock whose owner is
 * gone is stale and taken over; a live owner makes this throw. Returns the release function.
 */
export function acquireLock(path = DEFAULT_LOCK, pid = process.pid): () => void {
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, `${pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, 'utf8').trim() === String(pid)) rmSync(path, { force: true });
        } catch {
          // already removed
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner = Number.NaN;
      try {
        owner = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
      } catch {
        // vanished between open and read: retry
      }
      if (Number.isInteger(owner) && owner > 0 && alive(owner)) {
        throw new LabError(`another lab run is active (pid ${owner}, lock ${path}); wait for it or stop it`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new LabError(`${path}: could not take the lab lock`);
}
