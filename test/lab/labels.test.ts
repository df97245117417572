/**
 * The lab's pure parts: the labelling rule, labels.csv round trip, the scenario schedule, the
 * seeded benign scripts, the scenario selection and the preflight message for a non-root user.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clientScript, pollerScript, VISITOR_PERSONAS } from '../../src/lab/benign.ts';
import { preflightProblem } from '../../src/lab/guard.ts';
import {
  BENIGN,
  labelFlow,
  labelsCsv,
  parseLabelsCsv,
  type ScenarioRecord,
  UNKNOWN,
} from '../../src/lab/labels.ts';
import { C2_NAME, INTERNET_SITES, LAB_DOMAIN, VISITORS } from '../../src/lab/plan.ts';
import { schedule, selectScenarios } from '../../src/lab/run.ts';
import { SCENARIOS } from '../../src/lab/scenarios.ts';

const scan: ScenarioRecord = {
  name: 'scan-syn',
  tool: 'nmap',
  attacker_ip: '198.51.100.11',
  victims: ['192.0.2.10'],
  ports: 'top 200',
  start: 1000,
  end: 1010,
};
const beacon: ScenarioRecord = {
  ...scan,
  name: 'beacon-c2',
  tool: 'curl',
  attacker_ip: '192.0.2.150',
  start: 1005,
  end: 1060,
};
const base = new Set(['192.0.2.10', '192.0.2.53', '192.0.2.101', '203.0.113.66']);

describe('labelFlow', () => {
  test('a flow from or to a scenario address inside its span gets the scenario', () => {
    assert.deepEqual(
      labelFlow(
        { src_ip: '198.51.100.11', dst_ip: '192.0.2.10', start: 1003, end: 1003.1 },
        [scan, beacon],
        base,
      ),
      {
        label: 'scan-syn',
        tool: 'nmap',
      },
    );
    // the victim answering first (e.g. a late reply) is matched by the other end
    assert.equal(
      labelFlow({ src_ip: '192.0.2.10', dst_ip: '198.51.100.11', start: 1012, end: 1012 }, [scan], base)
        .label,
      'scan-syn',
    );
    // an insider scenario talking to a base host (the C2 server) is the scenario, not benign
    assert.equal(
      labelFlow(
        { src_ip: '192.0.2.150', dst_ip: '203.0.113.66', start: 1030, end: 1031 },
        [scan, beacon],
        base,
      ).label,
      'beacon-c2',
    );
  });

  test('the span is widened by the slack and no further', () => {
    const at = (start: number, end: number) =>
      labelFlow({ src_ip: '198.51.100.11', dst_ip: '192.0.2.10', start, end }, [scan], base);
    assert.equal(at(998, 999.5).label, 'scan-syn'); // ends 0.5 s before the start: within 1 s
    assert.equal(at(1019, 1019).label, 'scan-syn'); // starts 9 s after the end: within 10 s
    assert.deepEqual(at(990, 998.5), UNKNOWN);
    assert.deepEqual(at(1021, 1022), UNKNOWN);
  });

  test('an insider with ordinary traffic: only its flows with a victim are the scenario', () => {
    const exfil: ScenarioRecord = {
      ...beacon,
      name: 'exfil-bulk',
      attacker_ip: '192.0.2.151',
      victims: ['203.0.113.50'],
      victims_only: true,
    };
    const withInsider = new Set([...base, '192.0.2.151', '203.0.113.50']);
    const flow = (dst: string, start: number) => ({
      src_ip: '192.0.2.151',
      dst_ip: dst,
      start,
      end: start + 1,
    });
    assert.equal(labelFlow(flow('203.0.113.50', 1010), [exfil], withInsider).label, 'exfil-bulk');
    assert.deepEqual(labelFlow(flow('192.0.2.53', 1010), [exfil], withInsider), BENIGN);
    assert.deepEqual(labelFlow(flow('203.0.113.50', 2000), [exfil], withInsider), UNKNOWN);
    // a beacon that calls a name: its lookups of that name are the scenario, its other lookups not
    const named: ScenarioRecord = { ...exfil, name: 'beacon-named', names: ['telemetry.example.net'] };
    const lookup = (q: string) => ({ ...flow('192.0.2.53', 1010), dns_query: q });
    assert.equal(labelFlow(lookup('telemetry.example.net'), [named], withInsider).label, 'beacon-named');
    assert.deepEqual(labelFlow(lookup('www.lab.example'), [named], withInsider), BENIGN);
    assert.deepEqual(labelFlow(flow('192.0.2.53', 1010), [named], withInsider), BENIGN);
  });

  test("a scenario's own far end (the tunnel server) counts as its address", () => {
    const tunnel: ScenarioRecord = {
      ...scan,
      name: 'dns-tunnel-iodine',
      tool: 'iodine',
      attacker_ip: '192.0.2.153',
      peer_ip: '203.0.113.53',
    };
    // the resolver forwarding a tunnel query: neither end is the tunnel client
    assert.equal(
      labelFlow({ src_ip: '192.0.2.53', dst_ip: '203.0.113.53', start: 1005, end: 1005 }, [tunnel], base)
        .label,
      'dns-tunnel-iodine',
    );
    assert.equal(
      labelFlow({ src_ip: '192.0.2.153', dst_ip: '192.0.2.53', start: 1001, end: 1009 }, [tunnel], base)
        .label,
      'dns-tunnel-iodine',
    );
  });

  test('flows between base hosts are benign; unassigned addresses are unknown', () => {
    assert.deepEqual(
      labelFlow({ src_ip: '192.0.2.101', dst_ip: '192.0.2.53', start: 1003, end: 1003 }, [scan], base),
      BENIGN,
    );
    assert.deepEqual(
      labelFlow({ src_ip: '192.0.2.101', dst_ip: '10.1.1.1', start: 1003, end: 1003 }, [scan], base),
      UNKNOWN,
    );
  });

  test('labels.csv round trip keeps every field; a wrong header is refused', () => {
    const rows = [
      {
        community_id: '1:abc+/=',
        src_ip: '198.51.100.11',
        src_port: 40000,
        dst_ip: '192.0.2.10',
        dst_port: 80,
        protocol: 'tcp',
        start: 1000.123456,
        end: 1000.5,
        label: 'scan-syn',
        tool: 'nmap',
      },
      {
        community_id: '1:x',
        src_ip: '192.0.2.101',
        src_port: 8,
        dst_ip: '192.0.2.53',
        dst_port: 0,
        protocol: 'icmp',
        start: 1,
        end: 2,
        label: 'benign',
        tool: '',
      },
    ];
    assert.deepEqual(parseLabelsCsv(labelsCsv(rows)), rows);
    assert.throws(() => parseLabelsCsv('a,b\n1,2\n', 'x.csv'), /x\.csv: not a lab labels file/);
  });
});

describe('schedule and scripts', () => {
  test('every scenario starts inside the run and ends before it does', () => {
    for (const duration of [60, 75, 180]) {
      const plan = schedule(SCENARIOS, duration, 2);
      assert.equal(plan.length, SCENARIOS.length);
      for (const p of plan) {
        assert.ok(
          p.at >= 0 && p.at + p.limit <= duration * 0.9,
          `${p.spec.name} at ${p.at} for ${p.limit} in ${duration}`,
        );
        assert.ok(p.limit >= 3);
      }
    }
    assert.deepEqual(
      schedule(SCENARIOS, 90, 5).map((p) => p.spec.name),
      schedule(SCENARIOS, 90, 5).map((p) => p.spec.name),
    );
    assert.notDeepEqual(
      schedule(SCENARIOS, 90, 5).map((p) => p.spec.name),
      schedule(SCENARIOS, 90, 6).map((p) => p.spec.name),
    );
  });

  test('benign scripts are reproducible from the seed, differ between seeds, and are finite', () => {
    const paths = {
      work: '/tmp/nalab-run-x',
      sshKey: '/tmp/k',
      pages: ['page-0.html', 'page-1.html'],
      ftpFiles: ['f'],
      sshFiles: ['b'],
    };
    const a = clientScript(0, 60, 1, paths);
    assert.equal(a, clientScript(0, 60, 1, paths));
    assert.notEqual(a, clientScript(0, 60, 2, paths));
    assert.notEqual(a, clientScript(1, 60, 1, paths));
    const commands = a.split('\n').filter((l) => l.includes('|| true'));
    assert.ok(commands.length > 20 && commands.length < 5000);
    // every network command has its own time limit
    for (const l of commands) assert.match(l, /^(timeout |sleep [\d.]+ \|\| true$)/);
    assert.ok(
      pollerScript(60, 1)
        .split('\n')
        .filter((l) => l.includes('curl')).length >= 5,
    );
  });

  test('visitors resolve outside the lab: web by name without a lookup, ssh by address; clients also browse the internet sites by name', () => {
    const paths = {
      work: '/tmp/nalab-run-x',
      sshKey: '/tmp/k',
      pages: ['page-0.html'],
      ftpFiles: ['f'],
      sshFiles: ['b'],
    };
    for (const [i, v] of VISITORS.entries()) {
      const script = clientScript(200 + i, 120, 3, paths, 0.6, { host: v, persona: VISITOR_PERSONAS[i]! });
      const commands = script.split('\n').filter((l) => l.startsWith('timeout '));
      assert.ok(commands.length >= 5, v.id);
      for (const l of commands) {
        assert.doesNotMatch(l, /example\.(net|com|org)|\bdig\b/, l);
        if (/\bcurl\b/.test(l)) {
          // the request names the site (SNI, Host) and curl connects to the address it was given
          assert.match(l, / --connect-to ::192\.0\.2\.10: /, l);
          assert.match(l, /https?:\/\/[a-z]+\.lab\.example\//, l);
        } else assert.match(l, /root@192\.0\.2\.22\b/, l);
      }
    }
    const browser = clientScript(0, 300, 1, paths);
    const sites = new Set(INTERNET_SITES.map((s) => s.name));
    const visited = [...browser.matchAll(/https:\/\/([a-z.]+)\/page\?size=(\d+)/g)];
    assert.ok(visited.length >= 5, `${visited.length} internet pages`);
    for (const [, name, size] of visited) {
      assert.ok(sites.has(name!), name);
      assert.ok(Number(size) >= 2000 && Number(size) <= 400_000, size);
    }
  });

  test('scenario scripts only target the lab ranges', () => {
    for (const s of SCENARIOS) {
      // payloads inside query strings (e.g. `host=127.0.0.1;id`) are data, not targets
      const text = s.script({ dir: '/tmp/d', work: '/tmp/w', limit: 30, seed: 1 }).replace(/\?[^'\s]*/g, '');
      const ips = text.match(/\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/g) ?? [];
      // a name is only ever one the lab resolver answers (it has no upstream)
      const names = [...text.matchAll(/https?:\/\/([a-z][a-z0-9.-]*)/g)].map((m) => m[1]!);
      for (const n of names) assert.ok(n === C2_NAME || n.endsWith(`.${LAB_DOMAIN}`), `${s.name}: ${n}`);
      assert.ok(ips.length + names.length > 0, s.name);
      // 10.99.0.0/27 is iodine's inner network: it exists only on the tunnel devices of two lab hosts
      for (const ip of ips)
        assert.match(ip, /^((192\.0\.2|198\.51\.100|203\.0\.113)\.\d+|10\.99\.0\.\d)$/, `${s.name}: ${ip}`);
    }
  });

  test('scenario selection: all, none, a list, and an unknown name', () => {
    assert.equal(selectScenarios('all').length, SCENARIOS.length);
    assert.equal(selectScenarios('none').length, 0);
    assert.deepEqual(
      selectScenarios(['flood-syn', 'scan-syn']).map((s) => s.name),
      ['scan-syn', 'flood-syn'],
    );
    assert.throws(
      () => selectScenarios(['scan-syn', 'teardrop']),
      /unknown scenario teardrop \(known: scan-syn,/,
    );
  });

  test('the preflight names the missing requirement in one line', () => {
    const msg = preflightProblem({ uid: 1000, hasIp: true, platform: 'linux' });
    assert.match(msg ?? '', /needs root/);
    assert.ok(!msg!.includes('\n'));
    assert.match(preflightProblem({ uid: 0, hasIp: false, platform: 'linux' }) ?? '', /iproute2/);
    assert.match(preflightProblem({ uid: 0, hasIp: true, platform: 'darwin' }) ?? '', /Linux/);
    assert.equal(preflightProblem({ uid: 0, hasIp: true, platform: 'linux' }), null);
  });
});
