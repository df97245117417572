/**
 * Throughput of the traffic reader (pcap → canonical flows with window features) over the shared
 * captures. Usage: NETANOMALY_DATA_DIR=../shared/datasets npx tsx benchmarks/traffic-ingest.ts [repeats]
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readTraffic } from '../src/ingest/traffic/index.ts';

const data = process.env.NETANOMALY_DATA_DIR;
if (!data) throw new Error('set NETANOMALY_DATA_DIR');
const dirs = ['normal', 'attack', 'malformed'].map((d) => join(data, 'pcaps', d));
const files = dirs.flatMap((d) => readdirSync(d).map((n) => join(d, n)));
const repeats = Number(process.argv[2] ?? 5);
let best = Number.POSITIVE_INFINITY;
let packets = 0;
let flows = 0;
for (let r = 0; r < repeats; r++) {
  packets = 0;
  flows = 0;
  const t0 = performance.now();
  for (const f of files) {
    const { report, table } = await readTraffic(f);
    packets += report.counters.packets ?? 0;
    flows += table.nRows;
  }
  best = Math.min(best, (performance.now() - t0) / 1000);
}
console.log(
  JSON.stringify({
    files: files.length,
    packets,
    flows,
    seconds: Number(best.toFixed(3)),
    packets_per_s: Math.round(packets / best),
    flows_per_s: Math.round(flows / best),
  }),
);
