/**
 * The traffic lab end to end, as root (as CI runs it), through the real CLI: a short run with
 * every scenario finishes, leaves no namespace and no process behind, labels ≥ 99 % of the flows
 * our meter finds, and has the attack families with ≥ 20 flows each; a second run started
 * meanwhile is refused; an interrupted run (SIGINT) tears everything down; hydra's SSH guesses
 * are seen as refused logins and the clients' key logins are not; and `evaluate --lab` joins
 * every flow of a run to its label.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { iterateFlows } from '../../src/ingest/traffic/index.ts';
import { flowJoinKey, parseLabelsCsv } from '../../src/lab/labels.ts';
import { pidsInNamespaces, pidsMentioning, RUN_DIR_PREFIX } from '../../src/lab/netns.ts';
import { SCENARIOS } from '../../src/lab/scenarios.ts';
import { CLI_ARGS, cli, ROOT } from '../helpers/cli.ts';
import { tempDir } from '../helpers/data.ts';

const netnsList = () => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;

function labInodes(): number[] {
  if (!existsSync('/run/netns')) return [];
  return readdirSync('/run/netns')
    .filter((n) => n.startsWith('nalab-'))
    .map((n) => statSync(join('/run/netns', n)).ino);
}

interface Started {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  /** Resolves once the traffic phase has begun (every namespace exists). */
  traffic: Promise<void>;
}

function startLab(args: string[]): Started {
  const child = spawn(process.execPath, [...CLI_ARGS, 'lab', 'run', ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1' },
  });
  let stdout = '';
  let stderr = '';
  let onTraffic: () => void = () => {};
  const traffic = new Promise<void>((r) => {
    onTraffic = r;
  });
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
    if (stderr.includes('traffic for')) onTraffic();
  });
  const done = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done, traffic };
}

function assertNothingLeft(inodes: number[], netnsBefore: string): void {
  assert.equal(netnsList(), netnsBefore, 'ip netns list is as before');
  assert.deepEqual(pidsInNamespaces(new Set(inodes)), [], 'no process left in a lab namespace');
  assert.deepEqual(pidsMentioning(`/tmp/${RUN_DIR_PREFIX}`), [], 'no process left using a run directory');
  assert.deepEqual(
    readdirSync('/tmp').filter((d) => d.startsWith(RUN_DIR_PREFIX)),
    [],
    'the run directory is removed',
  );
  const etc = existsSync('/etc/netns') ? readdirSync('/etc/netns') : [];
  assert.deepEqual(
    etc.filter((d) => d.startsWith('nalab-')),
    [],
    'no resolv.conf of a lab host is left',
  );
}

describe('lab run, all scenarios, 70 s (root)', { timeout: 200_000 }, () => {
  const out = join(tempDir('netanomaly-lab-'), 'run');
  const netnsBefore = netnsList();
  let inodes: number[] = [];
  let result: Awaited<Started['done']>;
  let second: Awaited<ReturnType<typeof cli>>;

  before(async () => {
    assert.equal(process.getuid?.(), 0, 'the lab tests run as root (as CI does)');
    const lab = startLab(['-o', out, '--duration', '70', '--seed', '4', '--scenarios', 'all', '--json']);
    await lab.traffic;
    inodes = labInodes();
    second = await cli([
      'lab',
      'run',
      '-o',
      join(out, '..', 'second'),
      '--duration',
      '20',
      '--scenarios',
      'none',
    ]);
    result = await lab.done;
  });

  test('finishes and leaves nothing behind', () => {
    assert.equal(result.code, 0, result.stderr);
    assert.ok(inodes.length >= 20, `${inodes.length} lab namespaces seen during the run`);
    assertNothingLeft(inodes, netnsBefore);
  });

  test('a second run meanwhile is refused in one line, without touching the first', () => {
    assert.equal(second.code, 1);
    const lines = second.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('['));
    assert.equal(lines.length, 1, second.stderr);
    assert.match(lines[0]!, /^LabError: another lab run is active \(pid \d+/);
  });

  test('labels: ≥ 99 % of the meter flows labelled, the attack families with ≥ 20 flows each', () => {
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.deepEqual(JSON.parse(result.stdout), manifest);
    const rows = parseLabelsCsv(readFileSync(join(out, 'labels.csv'), 'utf8'));
    assert.equal(rows.length, manifest.flows);
    const counts: Record<string, number> = {};
    for (const r of rows) counts[r.label] = (counts[r.label] ?? 0) + 1;
    assert.deepEqual(counts, manifest.counts);
    assert.ok((rows.length - (counts.unknown ?? 0)) / rows.length >= 0.99, JSON.stringify(counts));
    const attacks = Object.entries(counts).filter(([l, n]) => l !== 'benign' && l !== 'unknown' && n >= 20);
    assert.ok(attacks.length >= 6, JSON.stringify(counts));
    for (const family of [
      'scan-syn',
      'flood-syn',
      'bruteforce-http',
      'slowloris',
      'dns-tunnel',
      'beacon-c2',
      'beacon-named',
    ]) {
      assert.ok((counts[family] ?? 0) >= 20, `${family}: ${counts[family] ?? 0} flows`);
    }
    // the implant scenarios are one flow each, like the shared captures they copy
    for (const family of ['icmp-tunnel', 'reverse-shell', 'mining']) {
      assert.ok((counts[family] ?? 0) >= 1, `${family}: ${counts[family] ?? 0} flows`);
    }
    assert.ok((counts.benign ?? 0) >= 300, `benign: ${counts.benign}`);
    assert.deepEqual(manifest.skipped, []);
    assert.equal(manifest.scenarios.length, SCENARIOS.length);
    for (const s of manifest.scenarios) assert.ok(s.end >= s.start && s.attacker_ip, s.name);
    assert.ok(statSync(join(out, 'capture.pcap')).size > 24);
    const pcapMagic = readFileSync(join(out, 'capture.pcap')).subarray(0, 4).readUInt32LE(0);
    assert.equal(pcapMagic, 0xa1b2c3d4, 'capture.pcap is pcap, not pcapng');
  });

  test("SSH logins: hydra's connections show refused passwords, the clients' key logins none", async () => {
    const rows = parseLabelsCsv(readFileSync(join(out, 'labels.csv'), 'utf8'));
    const label = new Map(rows.map((r) => [flowJoinKey(r.community_id, r.start), r.label]));
    const guesses: number[] = [];
    const logins: number[] = [];
    for await (const f of iterateFlows(join(out, 'capture.pcap'))) {
      if (f.dst_port !== 22 || f.conn_state !== 'SF') continue;
      const l = label.get(flowJoinKey(f.community_id, f.start_time));
      if (l === 'bruteforce-ssh') guesses.push(f.f.auth_failures!);
      else if (l === 'benign') logins.push(f.f.auth_failures!);
    }
    assert.ok(guesses.length >= 3, `bruteforce-ssh: ${guesses.length} completed connections`);
    // hydra opens with a connection that only lists the methods (no guess)
    assert.ok(guesses.filter((n) => n >= 1).length >= guesses.length / 2, guesses.join(','));
    assert.ok(Math.max(...guesses) >= 2, guesses.join(','));
    assert.ok(logins.length >= 1, 'benign ssh / scp sessions');
    assert.deepEqual(
      logins.filter((n) => n !== 0),
      [],
      'key logins make no failed login',
    );
  });

  test('evaluate --lab joins every flow of the run to its label and reports every scenario', async () => {
    const r = await cli(['evaluate', '--lab', out, '--test', out, '--k', '8', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const e = JSON.parse(r.stdout);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.equal(e.test.without_label, 0);
    assert.equal(e.test.flows, manifest.flows);
    assert.equal(e.test.attacks + e.test.benign + e.test.unknown, manifest.flows);
    for (const s of manifest.scenarios)
      assert.equal(e.recall_by_scenario[s.name].n, manifest.counts[s.name], s.name);
    for (const v of [
      e.roc_auc,
      e.pr_auc,
      e.dr_at_fpr['0.001'],
      e.dr_at_fpr['0.01'],
      e.dr_at_fpr['0.05'],
      e.fpr,
    ]) {
      assert.ok(v >= 0 && v <= 1);
    }
    assert.ok(e.by_time_window.length >= 2);
    assert.ok(Object.keys(e.by_source_host).length >= 10);
    // one capture: the threshold is cross-fitted over blocks of time; host windows per verdict
    assert.equal(e.calibration.mode, 'grouped');
    assert.equal(e.calibration.derived_groups.by, 'time');
    assert.ok(e.hosts.model && e.hosts['top3-mean'] && e.hosts.tail);
    for (const h of Object.values<{
      windows: number;
      benign: { n: number; detected: number };
      by_scenario: Record<string, { n: number; detected: number }>;
    }>(e.hosts)) {
      assert.ok(h.benign.detected <= h.benign.n && h.benign.n <= h.windows);
      for (const g of Object.values(h.by_scenario)) assert.ok(g.n >= 1 && g.detected <= g.n);
    }
    assert.deepEqual(e.hosts.model.by_scenario, e.hosts['top3-mean'].by_scenario);
    // the beacon report of the run, the run itself its baseline: every ranked pair is accounted for
    assert.ok(e.beacons.ranked >= e.beacons.known && e.beacons.ranked >= 2);
    for (const name of ['beacon-c2', 'beacon-named']) assert.ok(e.beacons.by_label[name], name);
    for (const g of Object.values<{ rank: number | null; pairs: number }>(e.beacons.by_label))
      assert.ok(g.pairs >= 1 && (g.rank === null || (g.rank >= 1 && g.rank <= e.beacons.ranked)));
  });

  test('beacons: with the known services allowed, the two C2 hosts are in the top 3 pairs by timing', async () => {
    const r = await cli([
      'beacons',
      join(out, 'capture.pcap'),
      '--allow',
      'updates.lab.example,192.0.2.53',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    const implants = manifest.scenarios
      .filter((s: { name: string }) => s.name === 'beacon-c2' || s.name === 'beacon-named')
      .map((s: { attacker_ip: string }) => s.attacker_ip);
    assert.equal(implants.length, 2);
    const top = report.pairs.filter((p: { known: string | null }) => p.known === null).slice(0, 3);
    for (const ip of implants)
      assert.ok(
        top.some((p: { src_ip: string }) => p.src_ip === ip),
        `${ip} not in the top 3: ${JSON.stringify(top.map((p: { src_ip: string; dst_ip: string }) => `${p.src_ip}>${p.dst_ip}`))}`,
      );
    // allowed destinations (the resolver) are marked and ranked after the others, not dropped
    const known = report.pairs.filter((p: { known: string | null }) => p.known !== null);
    assert.ok(known.length >= 1 && known.every((p: { known: string }) => p.known === 'allow'));
    assert.deepEqual(report.pairs.slice(-known.length), known);
  });
});

describe('lab run interrupted (root)', { timeout: 60_000 }, () => {
  test('SIGINT during the traffic phase tears everything down, exit 130', async () => {
    const netnsBefore = netnsList();
    const lab = startLab([
      '-o',
      join(tempDir('netanomaly-lab-'), 'run'),
      '--duration',
      '60',
      '--scenarios',
      'scan-syn',
    ]);
    await lab.traffic;
    const inodes = labInodes();
    lab.child.kill('SIGINT');
    const r = await lab.done;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /LabError: interrupted by SIGINT; the lab was torn down/);
    assertNothingLeft(inodes, netnsBefore);
  });
});

describe('lab run without root', () => {
  test('a non-root user gets one line naming the need, exit 1, and nothing is created', () => {
    const netnsBefore = netnsList();
    const r = spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        ...CLI_ARGS,
        'lab',
        'run',
        '-o',
        join(tempDir('netanomaly-lab-'), 'x'),
        '--duration',
        '30',
      ],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, HOME: '/tmp', NO_COLOR: '1' } },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.equal(
      r.stderr.trim(),
      'LabError: the traffic lab needs root (it creates network namespaces and a bridge): run it as root, e.g. with sudo',
    );
    assert.equal(netnsList(), netnsBefore);
  });
});
