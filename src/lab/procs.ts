/**
 * Processes of a lab run. Every program runs inside a lab namespace through `ip netns exec`, in
 * its own process group, with its output in a log file; the group remembers every child so that
 * teardown can stop them all (and `ip netns pids` catches anything they forked).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (no shell), with a time limit; never throws on a non-zero exit. */
export async function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<RunResult> {
  try {
    const { stdout, stderr } = await execFileP(cmd, args, {
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      maxBuffer: 16 << 20,
    });
    return { code: 0, signal: null, stdout, stderr };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & {
      code?: number | string;
      signal?: NodeJS.Signals;
      stdout?: string;
      stderr?: string;
    };
    return {
      code: typeof e.code === 'number' ? e.code : null,
      signal: e.signal ?? null,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? String(e.message),
    };
  }
}

/** Runs a command and throws with its stderr when it fails. */
export async function must(cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
  const r = await run(cmd, args, timeoutMs);
  if (r.code !== 0) {
    const why = r.stderr.trim().split('\n')[0] || `exit ${r.code ?? r.signal}`;
    throw new Error(`${cmd} ${args.join(' ')}: ${why}`);
  }
  return r.stdout;
}

/** Runs `cmd args` with `input` on stdin (e.g. `ip -batch -`); throws with its stderr when it fails. */
export function mustWithInput(cmd: string, args: string[], input: string, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else
        reject(
          new Error(`${cmd} ${args.join(' ')}: ${stderr.trim().split('\n')[0] || `exit ${code ?? signal}`}`),
        );
    });
    child.stdin!.end(input);
  });
}

export interface Managed {
  name: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export class ProcessGroup {
  readonly children: Managed[] = [];

  /** Starts `cmd args` inside namespace `ns`, stdout and stderr appended to `logFile`. */
  start(name: string, ns: string, cmd: string, args: string[], logFile: string): Managed {
    const fd = openSync(logFile, 'a');
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
      stdio: ['ignore', fd, fd],
      detached: true,
    });
    closeSync(fd); // the child has its own copy
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal }));
      child.on('error', () => resolve({ code: null, signal: null }));
    });
    const m = { name, child, exited };
    this.children.push(m);
    return m;
  }

  /** Signals one managed process group (the child and what it forked). */
  signal(m: Managed, sig: NodeJS.Signals): void {
    if (m.child.exitCode !== null || m.child.signalCode !== null || m.child.pid === undefined) return;
    try {
      process.kill(-m.child.pid, sig);
    } catch {
      // already gone
    }
  }

  /** Stops one process: `sig`, then SIGKILL after `graceMs`. */
  async stop(m: Managed, sig: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> {
    this.signal(m, sig);
    const timer = new Promise<'late'>((r) => setTimeout(() => r('late'), graceMs).unref());
    if ((await Promise.race([m.exited, timer])) === 'late') {
      this.signal(m, 'SIGKILL');
      await Promise.race([m.exited, new Promise((r) => setTimeout(r, 1000).unref())]);
    }
  }

  async stopAll(graceMs = 2000): Promise<void> {
    await Promise.all(this.children.map((m) => this.stop(m, 'SIGTERM', graceMs)));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
