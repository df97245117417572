/**
 * The flow-export sources end to end, with a real exporter (softflowd) on 127.0.0.1:
 * - `netanomaly collect --listen udp://127.0.0.1:PORT -o flows.jsonl` receives softflowd's IPFIX
 *   export of synscan.pcap and writes its flows;
 * - a model trained on flows from exports (softflowd over every 8th shared normal pcap, saved as a
 *   pcap of export datagrams and read with `--format netflow`) scores: `watch netflow://…` raises
 *   alerts for the scan received live (the left-out normal exports' flagged share is reported).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FlowCollector } from '../../../src/ingest/flowexport/collector.ts';
import { readInput } from '../../../src/ingest/read-input.ts';
import { readTraffic } from '../../../src/ingest/traffic/index.ts';
import { loadModel, saveModel } from '../../../src/model/bundle.ts';
import { trainFromFile } from '../../../src/pipeline/train.ts';
import { alertSchemaPath, JsonSchema, statsSchemaPath } from '../../../src/stream/json-schema.ts';
import { alertsOf, cli, killAll, records, tmp, waitFor } from '../../stream/helpers.ts';
import { DATA, freePort, sleep, softflowd, udpRxQueue } from './tools.ts';

const SCAN_FLOWS = 1994; // our pcap meter's flows of synscan.pcap (real-exporters.test.ts pairs them all)
let model = '';
let heldOut = '';

/** softflowd -v 10 over `files` into one collector; the datagrams saved as a pcap. */
async function exportsPcap(files: string[], out: string): Promise<number> {
  const c = await FlowCollector.start({ port: 0, keepDatagrams: 100_000 });
  try {
    for (const f of files) await softflowd(f, c.address().port, 10);
    await sleep(300);
    return await c.savePcap(out);
  } finally {
    await c.close();
  }
}

before(async () => {
  assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
  const dir = join(DATA, 'pcaps', 'normal');
  const pcaps = readdirSync(dir)
    .filter((f) => f.endsWith('.pcap') && !/netflow|sflow/.test(f))
    .sort()
    .map((f) => join(dir, f));
  const work = tmp('flowexport');
  const train = join(work, 'normal-exports.pcap');
  heldOut = join(work, 'heldout-exports.pcap');
  await exportsPcap(
    pcaps.filter((_, i) => i % 8 === 0),
    train,
  );
  await exportsPcap(
    pcaps.filter((_, i) => i % 8 === 4),
    heldOut,
  );
  const r = await trainFromFile(train, { format: 'netflow', trainOn: 'all', k: 4, reader: readInput });
  model = join(work, 'model');
  await saveModel(model, r.detector, r.card);
});
after(killAll);

test('collect --listen udp://127.0.0.1:PORT -o flows.jsonl writes the flows softflowd exports (IPFIX, synscan.pcap)', async () => {
  const port = await freePort();
  const out = join(tmp('collect'), 'flows.jsonl');
  const p = cli([
    'collect',
    '--listen',
    `udp://127.0.0.1:${port}`,
    '-o',
    out,
    '--max-idle',
    '1.5',
    '--stitch-window',
    '1',
  ]);
  await waitFor(() => /collecting on udp:\/\/127\.0\.0\.1:/.test(p.stderr()), 20_000, 'collect to listen');
  await softflowd(join(DATA, 'pcaps', 'attack', 'synscan.pcap'), port, 10);
  const r = await p.exited;
  assert.equal(r.code, 0, p.stderr());
  const flows = records(out);
  process.stderr.write(`  collect: ${flows.length} flows; ${p.stderr().trim().split('\n').at(-1)}\n`);
  assert.equal(flows.length, SCAN_FLOWS);
  const hosts = new Set(flows.flatMap((f) => [f.src_ip, f.dst_ip]));
  assert.deepEqual([...hosts].sort(), ['172.16.0.8', '64.13.134.52']);
  for (const f of flows) {
    assert.match(f.exporter, /^127\.0\.0\.1:\d+$/);
    assert.equal(f.export_version, '10');
    assert.equal(f.fwd_payload_bytes, null, 'exports carry no payload bytes: null (NaN), never 0');
    assert.ok(f.fwd_packets >= 1);
    assert.equal(typeof f.src_t_count, 'number');
  }
  assert.ok(flows.filter((f) => f.conn_state === 'REJ' || f.conn_state === 'S0').length > 0.9 * SCAN_FLOWS);
  assert.match(p.stderr(), /template misses 0, sequence gaps none/);
});

test('watch netflow://127.0.0.1:PORT raises alerts for the scan received live; left-out normal exports mostly pass', async () => {
  const det = (await loadModel(model)).detector;
  const normal = await readTraffic(heldOut, { format: 'netflow' });
  const hs = await det.evaluateRows(normal.table);
  const fp = hs.isAnomaly.reduce((a, v) => a + v, 0);
  const port = await freePort();
  const work = tmp('watch-netflow');
  const alerts = join(work, 'alerts.jsonl');
  const stats = join(work, 'stats.jsonl');
  const p = cli([
    'watch',
    `netflow://127.0.0.1:${port}`,
    '--model',
    model,
    '--alerts',
    alerts,
    '--stats',
    stats,
    '--stats-interval',
    '0.5',
    '--poll-ms',
    '100',
  ]);
  await waitFor(
    () => /collecting flow exports on udp:\/\/127\.0\.0\.1:/.test(p.stderr()),
    20_000,
    'watch to listen',
  );
  await softflowd(join(DATA, 'pcaps', 'attack', 'synscan.pcap'), port, 10);
  // stop the watcher only once it has read every datagram from its socket
  await waitFor(() => udpRxQueue(port) === 0, 20_000, 'the watcher to read its socket');
  await sleep(300);
  p.child.kill('SIGTERM');
  const r = await p.exited;
  assert.equal(r.code, 143, p.stderr());
  const all = alertsOf(alerts);
  const schema = JsonSchema.load(alertSchemaPath());
  for (const a of all.slice(0, 50)) assert.deepEqual(schema.validate(a), []);
  const scan = all.filter((a) => a.source.ip === '172.16.0.8' || a.destination.ip === '172.16.0.8');
  process.stderr.write(
    `  watch netflow://: ${scan.length}/${SCAN_FLOWS} scan flows alerted (${((100 * scan.length) / SCAN_FLOWS).toFixed(1)} %); ` +
      `left-out normal exports: ${fp}/${normal.table.nRows} flagged (${((100 * fp) / normal.table.nRows).toFixed(1)} %)\n`,
  );
  assert.ok(scan.length >= 0.9 * SCAN_FLOWS, `scan alerts ${scan.length}`);
  // measured 20 % with this small model (k = 4, 1/8 of the normal pcaps, no payload/IAT features in
  // exports; the flagged ones are mostly short Kerberos/LDAP bursts and long softflowd -r flows):
  // a gross sanity bound only, the figure is reported above and in docs/flow-export.md
  assert.ok(fp < 0.5 * normal.table.nRows, `left-out normal flagged ${fp}/${normal.table.nRows}`);
  for (const a of scan.slice(0, 20)) assert.equal(a.netanomaly.input.format, 'flow-export');
  const st = records(stats).filter((x) => x.event?.dataset === 'netanomaly.stats');
  assert.ok(st.length >= 1);
  const sschema = JsonSchema.load(statsSchemaPath());
  for (const x of st) assert.deepEqual(sschema.validate(x), []);
  const cap = st.at(-1).netanomaly.stats.capture;
  assert.ok(cap.packets >= 60, `datagrams ${cap.packets}`);
  assert.equal(cap.dropped, 0);
  assert.ok(cap.export.records >= 2000, JSON.stringify(cap.export).slice(0, 300));
  assert.equal(cap.export.template_misses, 0);
  assert.ok(readFileSync(alerts, 'utf8').length > 0);
});
