/**
 * `netanomaly lab run`: builds the lab, runs benign traffic and the chosen attack scenarios for
 * `duration` seconds while dumpcap records the bridge, tears everything down (also on SIGINT /
 * SIGTERM or an error), then labels every flow our own meter finds in the capture.
 */

import { setMaxListeners } from 'node:events';
import { chmodSync, existsSync, rmSync, statSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { iterateFlows } from '../ingest/traffic/index.ts';
import { Rng } from '../model/random.ts';
import { clientScript, pollerScript, VISITOR_PERSONAS } from './benign.ts';
import {
  acquireLock,
  DEFAULT_LOCK,
  findTool,
  LabError,
  missingTools,
  preflightProblem,
  REQUIRED_TOOLS,
} from './guard.ts';
import { BENIGN, type LabelRow, labelFlow, labelsCsv, type ScenarioRecord } from './labels.ts';
import {
  cleanupStale,
  createTopology,
  destroyNamespaces,
  labNamespaces,
  nsInode,
  RUN_DIR_PREFIX,
} from './netns.ts';
import { baseHosts, CLIENTS, type LabHost, nsName, POLLER, SERVERS, SWITCH_NS, VISITORS } from './plan.ts';
import { type Managed, ProcessGroup, run } from './procs.ts';
import { SCENARIOS, type ScenarioSpec } from './scenarios.ts';
import { ensureSshdPrivsepDir, prepareFiles, SSHD_PRIVSEP, startServers, waitListening } from './servers.ts';

export interface LabRunOptions {
  out: string;
  duration: number;
  seed: number;
  /** Scenario names, or 'all' / 'none'. */
  scenarios: string[] | 'all' | 'none';
  lockPath?: string;
  onProgress?: (step: string) => void;
}

export interface ScenarioLog extends ScenarioRecord {
  description: string;
  exit: string;
}

export interface LabManifest {
  seed: number;
  duration: number;
  started: string;
  ended: string;
  scenarios_requested: string[];
  scenarios: ScenarioLog[];
  skipped: { name: string; reason: string }[];
  hosts: { id: string; ip: string; role: string }[];
  tool_versions: Record<string, string>;
  capture: { file: string; packets: number; bytes: number };
  flows: number;
  labelled_share: number;
  counts: Record<string, number>;
  labelling_rule: string;
}

export interface LabRunResult {
  manifest: LabManifest;
  dir: string;
  /** Network namespace inodes the run used (to prove nothing is left in them). */
  namespaceInodes: number[];
}

/** Resolves the --scenarios option against the known names. */
export function selectScenarios(choice: string[] | 'all' | 'none'): ScenarioSpec[] {
  if (choice === 'none') return [];
  if (choice === 'all') return [...SCENARIOS];
  const unknown = choice.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) {
    throw new LabError(
      `unknown scenario ${unknown.join(', ')} (known: ${SCENARIOS.map((s) => s.name).join(', ')})`,
    );
  }
  return SCENARIOS.filter((s) => choice.includes(s.name));
}

/** Start offsets and time limits (seconds) of the scenarios, drawn from the seed. */
export function schedule(
  specs: ScenarioSpec[],
  duration: number,
  seed: number,
): { spec: ScenarioSpec; at: number; limit: number }[] {
  const rng = new Rng(seed * 7 + 3);
  const order = specs.filter((s) => s.span === 'slot');
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const end = duration * 0.88;
  const out = specs
    .filter((s) => s.span === 'long')
    .map((spec) => ({ spec, at: duration * 0.06, limit: Math.max(5, end - duration * 0.06) }));
  order.forEach((spec, i) => {
    const at = duration * (0.06 + (0.6 * i) / Math.max(1, order.length)) + rng.next() * duration * 0.02;
    out.push({ spec, at, limit: Math.max(3, Math.min(spec.maxSeconds, end - at)) });
  });
  return out.sort((a, b) => a.at - b.at);
}

const VERSION_ARGS: Record<string, string[]> = {
  nginx: ['-v'],
  dnsmasq: ['--version'],
  sshd: ['-V'],
  vsftpd: ['-v'],
  dumpcap: ['--version'],
  openssl: ['version'],
  curl: ['--version'],
  dig: ['-v'],
  lftp: ['--version'],
  swaks: ['--version'],
  nmap: ['--version'],
  hping3: ['--version'],
  iodine: ['-v'],
  hydra: ['-h'],
  slowhttptest: ['-h'],
  ssh: ['-V'],
  node: ['--version'],
};

async function toolVersions(): Promise<Record<string, string>> {
  const entries = await Promise.all(
    Object.entries(VERSION_ARGS).map(async ([tool, args]) => {
      if (!findTool(tool)) return [tool, 'missing'] as const;
      const r = await run(tool === 'node' ? process.execPath : tool, args, 5000);
      const line = `${r.stdout}\n${r.stderr}`
        .split('\n')
        .map((l) => l.trim())
        .find((l) => /\d+\.\d+/.test(l));
      return [tool, line?.slice(0, 120) ?? 'unknown'] as const;
    }),
  );
  return Object.fromEntries(entries);
}

function abortable(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((res) => {
    if (signal.aborted) return res();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      res();
    }
    signal.addEventListener('abort', done);
  });
}

export const LABELLING_RULE =
  'a flow with a scenario address (each scenario has its own) at either end, overlapping its time span widened by 1 s before and 10 s after, gets that scenario; a scenario address outside its span is unknown; a flow between two base lab hosts is benign; anything else is unknown (docs/lab.md)';

export async function runLab(opts: LabRunOptions): Promise<LabRunResult> {
  const say = opts.onProgress ?? (() => {});
  const problem = preflightProblem({
    uid: process.getuid?.() ?? -1,
    hasIp: findTool('ip') !== null,
    platform: process.platform,
  });
  if (problem) throw new LabError(problem);
  const missing = missingTools(REQUIRED_TOOLS);
  if (missing.length)
    throw new LabError(
      `the traffic lab needs ${missing.join(', ')} (scripts/install-system-deps.sh installs them)`,
    );
  if (!Number.isFinite(opts.duration) || opts.duration < 20 || opts.duration > 3600)
    throw new LabError(`--duration must be between 20 and 3600 seconds, got ${opts.duration}`);
  const specs = selectScenarios(opts.scenarios);
  const out = resolve(opts.out);
  const release = acquireLock(opts.lockPath ?? DEFAULT_LOCK);
  const abort = new AbortController();
  setMaxListeners(0, abort.signal);
  let signalName: string | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    signalName ??= sig;
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const procs = new ProcessGroup();
  const namespaces: string[] = [];
  const inodes: number[] = [];
  let work = '';
  let madePrivsep = false;
  const started = new Date();
  const skipped: { name: string; reason: string }[] = [];
  const log: ScenarioLog[] = [];
  try {
    const stale = await cleanupStale();
    if (stale.namespaces.length || stale.pids.length)
      say(`cleaned a previous run: ${stale.namespaces.length} namespaces, ${stale.pids.length} processes`);
    await mkdir(out, { recursive: true });
    const capture = join(out, 'capture.pcap');
    await rm(capture, { force: true });
    work = await mkdtemp(join('/tmp', RUN_DIR_PREFIX));
    chmodSync(work, 0o755);
    say('preparing files, keys and certificates');
    const files = await prepareFiles(work);
    const versions = await toolVersions();
    const active: ScenarioSpec[] = [];
    for (const s of specs) {
      const lack = missingTools(s.needs);
      const why = lack.length ? `missing tool ${lack.join(', ')}` : (s.unavailable?.() ?? null);
      if (why) skipped.push({ name: s.name, reason: why });
      else active.push(s);
    }
    const hosts: LabHost[] = [
      ...baseHosts(),
      ...active.flatMap((s) => (s.peer ? [s.attacker, s.peer] : [s.attacker])),
    ];
    say(`creating ${hosts.length} hosts and the bridge`);
    namespaces.push(SWITCH_NS, ...hosts.map(nsName));
    await createTopology(hosts, SERVERS.dns.ip);
    for (const n of namespaces) {
      const i = nsInode(n);
      if (i !== null) inodes.push(i);
    }
    if (abort.signal.aborted) throw interrupted();
    say('starting servers');
    madePrivsep = ensureSshdPrivsepDir();
    await waitListening(await startServers(work, files, procs));
    say('starting the capture');
    const dumpcap = procs.start(
      'dumpcap',
      SWITCH_NS,
      'dumpcap',
      ['-i', 'br0', '-P', '-q', '-w', capture],
      join(work, 'logs', 'dumpcap.log'),
    );
    for (let i = 0; i < 100 && !(existsSync(capture) && statSync(capture).size >= 24); i++)
      await abortable(100, abort.signal);
    if (!existsSync(capture))
      throw new LabError(`dumpcap did not start (see ${join(work, 'logs', 'dumpcap.log')})`);
    await abortable(1000, abort.signal);
    const t0 = Date.now();
    say(
      `traffic for ${opts.duration} s: ${CLIENTS.length} clients, ${VISITORS.length} visitors, poller, ${active.length} scenarios`,
    );
    const paths = {
      work,
      sshKey: files.sshKey,
      pages: files.pages,
      ftpFiles: files.ftpFiles,
      sshFiles: files.sshFiles,
    };
    const traffic: Managed[] = [];
    /** Writes a benign script and runs it in the host's namespace for the run's duration. */
    const startBenign = async (name: string, host: LabHost, file: string, text: string) => {
      const script = join(work, 'scripts', `${file}.sh`);
      await writeFile(script, text);
      traffic.push(
        procs.start(
          name,
          nsName(host),
          'timeout',
          ['-k', '2', String(opts.duration), 'bash', script],
          join(work, 'logs', `${file}.log`),
        ),
      );
    };
    for (const [i, c] of CLIENTS.entries()) {
      await startBenign(c.id, c, c.id, clientScript(i, opts.duration, opts.seed, paths));
    }
    for (const [i, v] of VISITORS.entries()) {
      const as = { host: v, persona: VISITOR_PERSONAS[i % VISITOR_PERSONAS.length]! };
      await startBenign(v.id, v, v.id, clientScript(200 + i, opts.duration, opts.seed, paths, 0.6, as));
    }
    for (const [i, s] of active.entries()) {
      if (!s.background) continue;
      const as = { host: s.attacker, persona: s.background };
      const text = clientScript(100 + i, opts.duration, opts.seed, paths, 0.35, as);
      await startBenign(`${s.attacker.id}-benign`, s.attacker, s.attacker.id, text);
    }
    await startBenign('poller', POLLER, 'poller', pollerScript(opts.duration, opts.seed));
    const pending: Promise<void>[] = [];
    for (const { spec, at, limit } of schedule(active, opts.duration, opts.seed)) {
      pending.push(
        (async () => {
          await abortable(Math.max(0, t0 + at * 1000 - Date.now()), abort.signal);
          if (abort.signal.aborted) return;
          const dir = join(work, 'attacks', spec.name);
          await mkdir(dir, { recursive: true });
          const script = join(dir, 'run.sh');
          await writeFile(
            script,
            spec.script({ dir, work, limit, seed: opts.seed, cert: files.cert, key: files.key }),
          );
          say(
            `scenario ${spec.name} (${spec.tool}) from ${spec.attacker.ip} for at most ${Math.round(limit)} s`,
          );
          const start = Date.now() / 1000;
          const m = procs.start(
            spec.name,
            nsName(spec.attacker),
            'timeout',
            ['-k', '2', String(Math.ceil(limit)), 'bash', script],
            join(dir, 'log.txt'),
          );
          traffic.push(m);
          const r = await m.exited;
          log.push({
            name: spec.name,
            tool: spec.tool,
            attacker_ip: spec.attacker.ip,
            victims: spec.victims,
            ports: spec.ports,
            victims_only: spec.background !== undefined,
            ...(spec.peer ? { peer_ip: spec.peer.ip } : {}),
            ...(spec.names ? { names: spec.names } : {}),
            description: spec.description,
            start,
            end: Date.now() / 1000,
            exit: r.code === 124 ? 'time limit' : r.signal ? `signal ${r.signal}` : `exit ${r.code}`,
          });
        })(),
      );
    }
    await abortable(Math.max(0, t0 + opts.duration * 1000 - Date.now()), abort.signal);
    say('stopping traffic');
    await Promise.all(traffic.map((m) => procs.stop(m, 'SIGTERM', 2000)));
    await Promise.all(pending);
    if (!abort.signal.aborted) await abortable(2500, abort.signal);
    await procs.stop(dumpcap, 'SIGINT', 5000);
    if (existsSync(capture)) chmodSync(capture, 0o644); // dumpcap makes it owner-only
    if (abort.signal.aborted) throw interrupted();
    await teardown();
    say('labelling flows');
    const manifestBase = {
      seed: opts.seed,
      duration: opts.duration,
      started: started.toISOString(),
      ended: new Date().toISOString(),
    };
    const labelled = await labelCapture(
      capture,
      log,
      hosts.filter(
        (h) =>
          h.role !== 'attacker' &&
          (h.role !== 'insider' || active.some((s) => s.attacker === h && s.background)),
      ),
    );
    await writeFile(join(out, 'labels.csv'), labelsCsv(labelled.rows));
    const manifest: LabManifest = {
      ...manifestBase,
      scenarios_requested: specs.map((s) => s.name),
      scenarios: log.sort((a, b) => a.start - b.start),
      skipped,
      hosts: hosts.map((h) => ({ id: h.id, ip: h.ip, role: h.role })),
      tool_versions: versions,
      capture: { file: 'capture.pcap', packets: labelled.packets, bytes: statSync(capture).size },
      flows: labelled.rows.length,
      labelled_share: labelled.rows.length
        ? labelled.rows.filter((r) => r.label !== 'unknown').length / labelled.rows.length
        : 0,
      counts: labelled.counts,
      labelling_rule: LABELLING_RULE,
    };
    await writeFile(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    return { manifest, dir: out, namespaceInodes: inodes };
  } catch (err) {
    // whatever a signal broke on its way (a server that died, a missing file) is the interruption
    throw abort.signal.aborted ? interrupted() : err;
  } finally {
    await teardown();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    release();
  }

  function interrupted(): LabError {
    const err = new LabError(`interrupted by ${signalName ?? 'a signal'}; the lab was torn down`);
    err.exitCode = 130;
    return err;
  }

  async function teardown(): Promise<void> {
    await procs.stopAll(1500);
    const leftover = new Set([...namespaces, ...(await labNamespaces())]);
    await destroyNamespaces([...leftover]);
    namespaces.length = 0;
    if (madePrivsep) {
      rmSync(SSHD_PRIVSEP, { recursive: true, force: true });
      madePrivsep = false;
    }
    if (work) {
      await cp(join(work, 'logs'), join(out, 'logs'), { recursive: true }).catch(() => {});
      await rm(work, { recursive: true, force: true });
      work = '';
    }
  }
}

/**
 * Labels every flow the meter finds in the capture (see labels.ts for the rule), in one streaming
 * pass (the flows carry their DNS query names, which the Table does not); rows by start time.
 */
export async function labelCapture(
  capture: string,
  scenarios: readonly ScenarioRecord[],
  baseHostList: readonly LabHost[],
): Promise<{ rows: LabelRow[]; counts: Record<string, number>; packets: number }> {
  const base = new Set(baseHostList.map((h) => h.ip));
  const rows: LabelRow[] = [];
  const counts: Record<string, number> = {};
  const flows = iterateFlows(capture, { format: 'pcap' });
  let next = await flows.next();
  for (; !next.done; next = await flows.next()) {
    const f = next.value;
    const start = f.start_time;
    const end = start + (Number.isFinite(f.f.duration) ? f.f.duration! : 0);
    const dns_query = f.info?.dns_query;
    const l = labelFlow(
      { src_ip: f.src_ip, dst_ip: f.dst_ip, start, end, ...(dns_query ? { dns_query } : {}) },
      scenarios,
      base,
    );
    counts[l.label] = (counts[l.label] ?? 0) + 1;
    rows.push({
      community_id: f.community_id,
      src_ip: f.src_ip,
      src_port: f.src_port,
      dst_ip: f.dst_ip,
      dst_port: f.dst_port,
      protocol: f.protocol,
      start,
      end,
      label: l.label,
      tool: l === BENIGN ? '' : l.tool,
    });
  }
  rows.sort((a, b) => a.start - b.start); // stable: meter order among equal starts
  return {
    rows,
    counts: Object.fromEntries(Object.entries(counts).sort()),
    packets: next.value.counters.packets ?? 0,
  };
}
