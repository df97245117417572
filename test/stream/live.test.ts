/**
 * `watch iface:lo`: real dumpcap on the loopback interface, real TCP traffic to 127.0.0.1 only
 * (a node server on a free port + connection attempts to closed ports), the CLI stopped by SIGTERM.
 * Needs root (or dumpcap capabilities) and /usr/bin/dumpcap; fails, never skips, without them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readPacketStream, readPackets } from '../../src/ingest/traffic/pcap.ts';
import { alertSchemaPath, JsonSchema, statsSchemaPath } from '../../src/stream/json-schema.ts';
import { dumpcapDrops, dumpcapError } from '../../src/stream/live.ts';
import {
  alertsOf,
  cli,
  type Json,
  killAll,
  ROOT,
  records,
  run,
  tmp,
  trainedModel,
  waitFor,
} from './helpers.ts';

const DATA = process.env.NETANOMALY_DATA_DIR ?? '';
const HOST = '127.0.0.1';

let model = '';
before(async () => {
  assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
  model = await trainedModel();
});
after(killAll);

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, HOST, () => resolve((server.address() as { port: number }).port)),
  );
}

/** A port on 127.0.0.1 that nothing listens on (bound then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  const p = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

function connect(port: number, payload: string | null): Promise<void> {
  return new Promise((resolve) => {
    const c = createConnection({ host: HOST, port }, () => {
      if (payload !== null) c.end(payload);
    });
    c.on('data', () => {});
    c.on('error', () => resolve());
    c.on('close', () => resolve());
    c.setTimeout(3000, () => c.destroy());
  });
}

describe('watch iface:lo (live capture through dumpcap)', () => {
  test('captures loopback TCP, scores completed flows, writes valid alerts, exits 143 on SIGTERM', async () => {
    const dir = tmp('live');
    const alerts = join(dir, 'alerts.jsonl');
    const stats = join(dir, 'stats.jsonl');
    const server = createServer((s) => {
      s.on('data', () => {});
      s.on('end', () => s.end('pong'));
    });
    const port = await listen(server);
    const closed = await closedPort();
    const p = cli([
      'watch',
      'iface:lo',
      '--model',
      model,
      '--alerts',
      alerts,
      '--stats',
      stats,
      '--min-score',
      '0',
      '--batch',
      '16',
      '--poll-ms',
      '50',
      '--idle-timeout',
      '3',
    ]);
    try {
      await waitFor(() => /capturing with dumpcap/.test(p.stderr()), 20_000, `dumpcap start: ${p.stderr()}`);
      // bounded traffic, all to 127.0.0.1: 20 connections to the server, 50 attempts to a closed port
      for (let i = 0; i < 20; i++) await connect(port, `ping ${i}`);
      for (let i = 0; i < 50; i++) await connect(closed, null);
      // no packet follows the last attempt: only the wall-clock expiry can complete its flow
      const toPort = (a: Json, q: number) => a.destination?.port === q && a.destination?.ip === HOST;
      await waitFor(
        () => {
          const as = alertsOf(alerts);
          return (
            as.filter((a) => toPort(a, port)).length >= 20 && as.filter((a) => toPort(a, closed)).length >= 50
          );
        },
        30_000,
        `alerts for ports ${port} and ${closed}`,
      );
      p.child.kill('SIGTERM');
      const r = await p.exited;
      assert.equal(r.code, 143, p.stderr());
      assert.match(p.stderr(), /watch stopped \(signal\)/);
      const all = alertsOf(alerts);
      const schema = JsonSchema.load(alertSchemaPath());
      for (const a of all) assert.deepEqual(schema.validate(a), []);
      const server20 = all.filter((a) => toPort(a, port));
      const rej = all.filter((a) => toPort(a, closed));
      assert.equal(server20.length, 20, 'one alert per server connection');
      assert.equal(rej.length, 50, 'one alert per rejected attempt');
      for (const a of [...server20, ...rej]) {
        assert.equal(a.source.ip, HOST);
        assert.equal(a.network.transport, 'tcp');
        assert.match(a.network.community_id, /^1:[A-Za-z0-9+/]{27}=$/);
        assert.equal(a.netanomaly.input.format, 'live-capture');
        assert.equal(a.netanomaly.input.file, 'iface:lo');
      }
      assert.equal(new Set(all.map((a) => a.event.id)).size, all.length, 'event.id unique');
      // stats: capture loss reported from dumpcap's counters on the final record
      const st = records(stats).filter((x) => x.event?.dataset === 'netanomaly.stats');
      assert.ok(st.length >= 1);
      const sschema = JsonSchema.load(statsSchemaPath());
      for (const x of st) assert.deepEqual(sschema.validate(x), []);
      const last = st.at(-1).netanomaly.stats;
      assert.equal(last.capture.interface, 'lo');
      assert.ok(last.capture.packets >= 70 * 2, `packets ${last.capture.packets}`);
      assert.ok(Number.isInteger(last.capture.received) && last.capture.received >= last.capture.packets);
      assert.equal(typeof last.capture.dropped, 'number');
      assert.equal(typeof last.capture.loss_pct, 'number');
      assert.ok(last.counters.alerts >= 70);
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('a missing dumpcap and an unknown interface are one-line errors naming the interface', async () => {
    const dir = tmp('live-err');
    const missing = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'src/cli/main.ts'),
        'watch',
        'iface:lo',
        '--model',
        model,
        '--alerts',
        join(dir, 'a.jsonl'),
      ],
      { cwd: ROOT, env: { ...process.env, PATH: '/nonexistent' } },
    );
    assert.equal(missing.status, 1, missing.stderr.toString());
    assert.match(
      missing.stderr.toString(),
      /^InputError: iface:lo: cannot capture on interface lo: dumpcap not found on PATH/m,
    );
    const noIface = await run(['watch', 'iface:nosuch0', '--model', model, '--alerts', join(dir, 'b.jsonl')]);
    assert.equal(noIface.code, 1, noIface.stderr);
    assert.match(
      noIface.stderr.trim(),
      /^InputError: iface:nosuch0: cannot capture on interface nosuch0: There is no device named "nosuch0" \(No such device exists\)$/m,
    );
    const bad = await run(['watch', 'iface:a b', '--model', model, '--alerts', join(dir, 'c.jsonl')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /InputError: iface:a b: not an interface name/);
  });

  test('dumpcap report parsing: error lines and drop counters', () => {
    const perm =
      'Capturing on \'Loopback: lo\'\ndumpcap: You do not have permission to capture on device "lo".\n(socket: Operation not permitted)\nPlease check...\n';
    assert.equal(
      dumpcapError(perm),
      'You do not have permission to capture on device "lo" (socket: Operation not permitted)',
    );
    assert.equal(dumpcapError('Capturing on lo\n'), null);
    assert.deepEqual(
      dumpcapDrops(
        "Packets captured: 9\nPackets received/dropped on interface 'Loopback: lo': 12/3 (pcap:3/dumpcap:0/flushed:0/ps_ifdrop:0) (80.0%)\n",
      ),
      { received: 12, dropped: 3 },
    );
  });

  test('readPacketStream over a pipe-like stream (tiny chunks) yields exactly what readPackets does', async () => {
    for (const f of ['pcaps/normal/ssh.pcap', 'pcaps/attack/synscan.pcap']) {
      const path = join(DATA, f);
      const a: string[] = [];
      const ca = {};
      for await (const p of readPackets(path, ca, []))
        a.push(`${p.ts}|${p.len}|${Buffer.from(p.data).toString('hex')}`);
      const b: string[] = [];
      const cb = {};
      for await (const p of readPacketStream(createReadStream(path, { highWaterMark: 7 }), cb, [], path))
        b.push(`${p.ts}|${p.len}|${Buffer.from(p.data).toString('hex')}`);
      assert.ok(a.length > 0);
      assert.deepEqual(b, a);
      assert.deepEqual(cb, ca);
    }
  });
});
