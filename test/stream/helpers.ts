/** Shared helpers of the watcher tests: a Zeek conn.log writer, a trained model, CLI processes. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readInputMany } from '../../src/ingest/traffic/many.ts';
import { saveModel } from '../../src/model/bundle.ts';
import { trainFromFile } from '../../src/pipeline/train.ts';

/** A JSON record inspected loosely by the tests. */
// biome-ignore lint/suspicious/noExplicitAny: records are checked field by field against the schema
export type Json = any;

export const ROOT = new URL('../../', import.meta.url).pathname;
const DATA = process.env.NETANOMALY_DATA_DIR ?? '';

export function tmp(name: string): string {
  const d = join(ROOT, 'test-output', 'stream', `${name}-${process.pid}-${Date.now()}`);
  mkdirSync(d, { recursive: true });
  return d;
}
void tmpdir;

export const ZEEK_HEADER = [
  '#separator \\x09',
  '#set_separator\t,',
  '#empty_field\t(empty)',
  '#unset_field\t-',
  '#path\tconn',
  '#open\t2026-01-01-00-00-00',
  '#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents',
  '#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]',
].join('\n');

/** Record i: a unique TCP connection whose originator port is 1024 + i (the test's record id). */
export function zeekRow(i: number): string {
  const ts = (1_700_000_000 + i * 0.01).toFixed(6);
  const sf = i % 3 !== 0;
  return [
    ts,
    `C${i.toString(36).padStart(8, '0')}`,
    `10.0.${(i >> 8) & 255}.${i & 255}`,
    String(1024 + i),
    '192.0.2.10',
    sf ? '443' : '80',
    'tcp',
    sf ? 'ssl' : '-',
    sf ? '1.250000' : '0.000000',
    sf ? '517' : '0',
    sf ? '4211' : '0',
    sf ? 'SF' : 'S0',
    '-',
    '-',
    '0',
    sf ? 'ShADadFf' : 'S',
    sf ? '12' : '1',
    sf ? '1141' : '44',
    sf ? '10' : '0',
    sf ? '4743' : '0',
    '-',
  ].join('\t');
}

export function zeekRows(from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += `${zeekRow(i)}\n`;
  return s;
}

let modelDir: string | null = null;
/** A small flow model trained on a few shared normal pcaps (k = 4). */
export async function trainedModel(): Promise<string> {
  if (modelDir && existsSync(modelDir)) return modelDir;
  if (!DATA) throw new Error('NETANOMALY_DATA_DIR must point at the shared datasets');
  const dir = join(DATA, 'pcaps', 'normal');
  const files = ['skype.pcap', 'telegram.pcap', 'webex.pcap', 'steam.pcap', 'zoom.pcap'].map((f) =>
    join(dir, f),
  );
  const r = await trainFromFile(dir, {
    format: 'pcap',
    trainOn: 'all',
    k: 4,
    reader: (_p, f, b) => readInputMany(files, f, b),
  });
  const out = join(tmp('model'), 'model');
  await saveModel(out, r.detector, r.card);
  modelDir = out;
  return out;
}

export interface Proc {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();
/** Kill every CLI process a test left running (call from `after`). */
export function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
}

export function cli(args: string[], input?: string): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  children.add(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  child.stdout!.resume();
  if (input !== undefined) child.stdin!.end(input);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stderr: () => err, exited };
}

export async function run(args: string[], input?: string): Promise<{ code: number | null; stderr: string }> {
  const p = cli(args, input);
  const r = await p.exited;
  return { code: r.code, stderr: p.stderr() };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Complete JSON lines of a file (a line still being written, or torn by a kill, is skipped). */
export function records(path: string): Json[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const out: Json[] = [];
  for (const l of text.slice(0, text.lastIndexOf('\n') + 1).split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      out.push(JSON.parse(l));
    } catch {
      tornLines++;
    }
  }
  return out;
}
/** Lines that were not valid JSON (torn by a kill -9 mid-write), over all `records` calls. */
export let tornLines = 0;

/** Flow alerts (not host alerts: event.dataset netanomaly.host). */
export function alertsOf(path: string): Json[] {
  return records(path).filter((r) => r.event?.kind === 'alert' && r.event.dataset !== 'netanomaly.host');
}

/** Host alerts (one per host window over the host threshold). */
export function hostAlertsOf(path: string): Json[] {
  return records(path).filter((r) => r.event?.kind === 'alert' && r.event.dataset === 'netanomaly.host');
}

/** Alerts per record id (originator port − 1024) after de-duplication by event.id. */
export function deliveredOnce(path: string): { perRecord: Map<number, number>; raw: number; unique: number } {
  const all = alertsOf(path);
  const byId = new Map<string, Json>();
  for (const a of all) byId.set(a.event.id, a);
  const perRecord = new Map<number, number>();
  for (const a of byId.values()) {
    const i = a.source.port - 1024;
    perRecord.set(i, (perRecord.get(i) ?? 0) + 1);
  }
  return { perRecord, raw: all.length, unique: byId.size };
}

export function assertExactlyOnce(path: string, n: number): { raw: number; unique: number } {
  const d = deliveredOnce(path);
  const missing: number[] = [];
  const twice: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = d.perRecord.get(i) ?? 0;
    if (c === 0) missing.push(i);
    if (c > 1) twice.push(i);
  }
  if (missing.length || twice.length || d.perRecord.size !== n) {
    throw new Error(
      `${path}: ${n} records expected once each; missing ${missing.length} (${missing.slice(0, 10).join(',')}), more than once ${twice.length} (${twice.slice(0, 10).join(',')}), distinct ${d.perRecord.size}`,
    );
  }
  return { raw: d.raw, unique: d.unique };
}
