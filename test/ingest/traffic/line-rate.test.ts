/**
 * The line-rate packet path (readTraffic: batches of records, one reused decoded packet) gives the
 * same flows as the per-packet path (readPackets + decodePacket, a fresh object per packet) on
 * every shared capture: feature columns bit for bit, identity, labels, counters and warnings.
 * NETANOMALY_DATA_DIR must point at the shared datasets: this fails, not skips, without it.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { emptyTrafficReport, warnOnce } from '../../../src/ingest/traffic/common.ts';
import { decodePacket } from '../../../src/ingest/traffic/decode.ts';
import { FlowMeter } from '../../../src/ingest/traffic/flow-meter.ts';
import { flowsToTable, readTraffic } from '../../../src/ingest/traffic/index.ts';
import { readPacketBatches, readPackets } from '../../../src/ingest/traffic/pcap.ts';
import type { Flow } from '../../../src/ingest/traffic/schema.ts';
import { applyWindows } from '../../../src/ingest/traffic/windows.ts';

const DATA = process.env.NETANOMALY_DATA_DIR ?? '';

function captures(): string[] {
  assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
  return ['normal', 'attack', 'malformed'].flatMap((d) =>
    readdirSync(join(DATA, 'pcaps', d))
      .filter((n) => /\.(pcap|pcapng|cap)$/.test(n))
      .sort()
      .map((n) => join(DATA, 'pcaps', d, n)),
  );
}

/** The per-packet reference: small reads (records cross reads), one new object per packet. */
async function perPacket(path: string) {
  const report = emptyTrafficReport(path, 'quarantine');
  const c = report.counters;
  const meter = new FlowMeter(c);
  const flows: Flow[] = [];
  for await (const p of readPackets(path, c, report.warnings, { chunkSize: 1500 })) {
    report.rowsRead++;
    const d = decodePacket(p.linktype, p.data, p.ts, c);
    if (!d) {
      report.rowsSkipped++;
      continue;
    }
    report.rowsKept++;
    flows.push(...meter.add(d));
  }
  flows.push(...meter.flush());
  if ((c.flows ?? 0) === 0) warnOnce(report, `${path}: 0 flows extracted (${c.packets ?? 0} packets read)`);
  const sorted = applyWindows(flows, {}, c);
  return { ...flowsToTable(sorted), report };
}

const sortedKeys = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).sort());

test('readTraffic (batched reader, reused packet) equals the per-packet path on every shared capture', async () => {
  const files = captures();
  assert.ok(files.length > 400, `${files.length} captures`);
  let flows = 0;
  let packets = 0;
  for (const f of files) {
    let ref: Awaited<ReturnType<typeof perPacket>>;
    try {
      ref = await perPacket(f);
    } catch (err) {
      await assert.rejects(readTraffic(f, { format: 'pcap' }), { message: (err as Error).message });
      continue;
    }
    const got = await readTraffic(f, { format: 'pcap' });
    const name = f.slice(DATA.length);
    assert.equal(got.table.nRows, ref.table.nRows, `${name}: flows`);
    for (const [col, values] of Object.entries(ref.table.numeric)) {
      const mine = got.table.numeric[col]!;
      for (let i = 0; i < values.length; i++)
        assert.ok(Object.is(mine[i], values[i]), `${name}: ${col} row ${i}: ${mine[i]} vs ${values[i]}`);
    }
    assert.deepEqual(got.table.text, ref.table.text, `${name}: categories`);
    assert.deepEqual(got.identity, ref.identity, `${name}: identity`);
    assert.deepEqual(sortedKeys(got.report.counters), sortedKeys(ref.report.counters), `${name}: counters`);
    assert.deepEqual(got.report.warnings, ref.report.warnings, `${name}: warnings`);
    assert.equal(got.report.rowsKept, ref.report.rowsKept, `${name}: packets kept`);
    flows += got.table.nRows;
    packets += got.report.counters.packets ?? 0;
  }
  assert.ok(flows > 2000 && packets > 30_000, `${flows} flows from ${packets} packets`);
});

test('readPacketBatches: the packets of readPackets, entry by entry, for any read size', async () => {
  const files = captures().filter((_, i) => i % 25 === 0);
  for (const f of files) {
    for (const chunkSize of [64, 1 << 20]) {
      const a: string[] = [];
      const ca = {};
      for await (const p of readPackets(f, ca, []))
        a.push(`${p.ts} ${p.linktype} ${p.len} ${p.offset} ${Buffer.from(p.data).toString('hex')}`);
      const b: string[] = [];
      const cb = {};
      for await (const batch of readPacketBatches(f, cb, [], { chunkSize })) {
        for (let i = 0; i < batch.count; i++) {
          const s = batch.start[i]!;
          const data = batch.buf.subarray(s, s + batch.caplen[i]!).toString('hex');
          b.push(`${batch.ts[i]} ${batch.linktype[i]} ${batch.len[i]} ${batch.offset[i]} ${data}`);
        }
      }
      assert.deepEqual(b, a, `${f} (reads of ${chunkSize} bytes)`);
      assert.deepEqual(sortedKeys(cb), sortedKeys(ca));
    }
  }
});
