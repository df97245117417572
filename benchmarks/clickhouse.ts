/**
 * Scale-out benchmark on real ClickHouse servers (Debian's 18.16, started here on 127.0.0.1):
 *
 * - rows/s scored in the database (the model's SQL over a Distributed table) vs in-process
 *   (`AnomalyDetector.evaluateRows` on the same rows, already in memory), on 1 shard, 2 shards,
 *   and 2 shards with 2× and 4× the rows;
 * - seconds per Lloyd iteration in the database (one distributed GROUP BY) vs in-process
 *   (KMeans, js and auto engines, same centres, tol 0), for k = 8, 32, 128;
 * - for every in-database query, besides the wall clock, the servers' CPU seconds from
 *   `system.query_log` (ProfileEvents UserTimeMicroseconds of the coordinator's query and of each
 *   shard's part): on a shared machine the wall clock mostly measures waiting for a core, the CPU
 *   seconds what the query costs; and the same query over no row (analysis before the first row).
 *
 * Usage: NETANOMALY_DATA_DIR=../shared/datasets nice -n 10 npx tsx benchmarks/clickhouse.ts [rows] [--json]
 * Rows: a strided subset of KDD Cup 99 10 % (default 10,000). Not part of `make test`.
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { ClickHouseClient, type Settings } from '../src/clickhouse/client.ts';
import { modelBlockSettings, scoreQuery, sqlModel } from '../src/clickhouse/model-sql.ts';
import { clusterSums } from '../src/clickhouse/train-in-db.ts';
import { kddFieldSpecs } from '../src/features/kdd-fields.ts';
import { readKdd } from '../src/ingest/kdd.ts';
import { type Matrix, type Table, takeRows } from '../src/ingest/table.ts';
import { AnomalyDetector } from '../src/model/detector.ts';
import { getEngine } from '../src/model/engine.ts';
import { initialCenters, KMeans } from '../src/model/kmeans.ts';
import { Rng } from '../src/model/random.ts';
import {
  createShardedTable,
  type LocalCluster,
  loadRows,
  startCluster,
  tableColumns,
} from '../test/clickhouse/cluster.ts';

const args = process.argv.slice(2);
const json = args.includes('--json');
const rows = Number(args.find((a) => /^\d+$/.test(a)) ?? 10_000);
const dataDir = process.env.NETANOMALY_DATA_DIR ?? '../shared/datasets';
const LLOYD_KS = [8, 32, 128];
const ITER = 2;

function strided(t: Table, n: number): Table {
  return takeRows(
    t,
    Array.from({ length: n }, (_, i) => Math.floor((i * t.nRows) / n)),
  );
}

async function seconds<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t = process.hrtime.bigint();
  const r = await f();
  return [Number(process.hrtime.bigint() - t) / 1e9, r];
}

/** Wall seconds of queries run with `query_id`s, and the servers' CPU seconds for them. */
interface Cost {
  wall: number;
  /** CPU seconds of the coordinator's query (analysis, merging). */
  coordCpu: number;
  /** CPU seconds of the busiest shard's part (the parallel critical path). */
  shardCpuMax: number;
  /** CPU seconds over all the servers. */
  cpuTotal: number;
}

/** Runs `f(settings)` `times` times with fresh query ids; the mean cost per run. */
async function measure(
  cluster: LocalCluster,
  times: number,
  f: (settings: Settings) => Promise<unknown>,
): Promise<Cost> {
  const ids: string[] = [];
  const t = process.hrtime.bigint();
  for (let i = 0; i < times; i++) {
    const id = randomUUID();
    ids.push(id);
    await f({ query_id: id });
  }
  const wall = Number(process.hrtime.bigint() - t) / 1e9 / times;
  const list = ids.map((q) => `'${q}'`).join(',');
  let coordCpu = 0;
  let shardCpuMax = 0;
  let cpuTotal = 0;
  for (const s of cluster.shards) {
    await s.client.exec('SYSTEM FLUSH LOGS');
    const res = await s.client.rows(
      `SELECT is_initial_query, sum(ProfileEvents.Values[indexOf(ProfileEvents.Names, 'UserTimeMicroseconds')]) FROM system.query_log WHERE type = 2 AND (query_id IN (${list}) OR initial_query_id IN (${list})) GROUP BY is_initial_query`,
    );
    for (const [initial, us] of res) {
      const cpu = Number(us) / 1e6 / times;
      cpuTotal += cpu;
      if (initial === '1') coordCpu += cpu;
      else shardCpuMax = Math.max(shardCpuMax, cpu);
    }
  }
  return { wall, coordCpu, shardCpuMax, cpuTotal };
}

const data = await readKdd(`${dataDir}/kddcup99/kddcup.data_10_percent.gz`);
const sets = new Map([1, 2, 4].map((m) => [m, strided(data.table, m * rows)]));
const one = sets.get(1)!;
const normal = takeRows(
  data.table,
  data.families.flatMap((f, i) => (f === 'normal' ? [i] : [])).slice(0, 20_000),
);
const det = await new AnomalyDetector(kddFieldSpecs(), { k: 8, ensembleK: [16, 32] }).fit(normal);
const model = sqlModel(det.toState());
const centres = model.runs.reduce((a, r) => a + r.centers.rows, 0);
const pre = det.preprocessor.toState();
const X = det.preprocessor.transform(one).X;
const inits = new Map<number, Matrix>();
for (const k of LLOYD_KS)
  inits.set(k, await initialCenters(X, k, 'k-means++', await getEngine('js'), new Rng(k)));
const loadStart = loadavg()[0]!;

const scoring: Record<string, unknown>[] = [];
const lloyd: Record<string, unknown>[] = [];
const c1 = await startCluster(1);
const c2 = await startCluster(2);
try {
  await createShardedTable(c1, 'b1', tableColumns(one));
  await loadRows(c1, 'b1', one);
  for (const [m, t] of sets) {
    await createShardedTable(c2, `b${m}`, tableColumns(t));
    await loadRows(c2, `b${m}`, t);
  }
  await det.evaluateRows(strided(one, 100)); // engine warm-up (ONNX session)
  const inProcess = new Map<number, number>();
  for (const [m, t] of sets) inProcess.set(m, (await seconds(() => det.evaluateRows(t)))[0]);

  const setups = [
    ['1 shard', c1, 1],
    ['2 shards', c2, 1],
    ['2 shards, 2× rows', c2, 2],
    ['2 shards, 4× rows', c2, 4],
  ] as const;
  for (const [name, cluster, m] of setups) {
    const client = new ClickHouseClient(cluster.url(`b${m}`), { prefer_localhost_replica: 0 });
    const n = m * rows;
    const q = (where?: string) =>
      `SELECT count(), sum(anomaly_score), sum(is_anomaly) FROM (${scoreQuery(model, `b${m}`, where ? { where } : {})})`;
    const full = await measure(cluster, 1, (s) => client.rows(q(), { ...modelBlockSettings(model), ...s }));
    const empty = await measure(cluster, 1, (s) =>
      client.rows(q('id < 0'), { ...modelBlockSettings(model), ...s }),
    );
    scoring.push({ setup: name, rows: n, full, empty, inProcessS: inProcess.get(m)! });
  }
  // Lloyd: per k, 2 shards × 1× rows, 1 shard × 1× rows, 2 shards × 2× rows.
  for (const k of LLOYD_KS) {
    const init = inits.get(k)!;
    const proc: Record<string, number> = {};
    for (const engine of ['js', 'auto'] as const) {
      const [t, km] = await seconds(() => new KMeans({ k, engine, maxIter: ITER, tol: 0 }, init).fit(X));
      proc[engine] = t / km.nIter;
    }
    for (const [name, cluster, m] of [
      ['1 shard', c1, 1],
      ['2 shards', c2, 1],
      ['2 shards, 2× rows', c2, 2],
    ] as const) {
      const src = (s: Settings) => ({
        client: new ClickHouseClient(cluster.url(`b${m}`), { prefer_localhost_replica: 0, ...s }),
        table: `b${m}`,
      });
      const cost = await measure(cluster, ITER, (s) => clusterSums(src(s), pre, init));
      const empty = await measure(cluster, 1, (s) => clusterSums({ ...src(s), where: '0' }, pre, init));
      lloyd.push({
        k,
        setup: name,
        rows: m * rows,
        cost,
        empty,
        inProcessJs: proc.js!,
        inProcessAuto: proc.auto!,
      });
    }
  }
} finally {
  await c1.stop();
  await c2.stop();
}
const load = [loadStart, loadavg()[0]!].map((l) => l.toFixed(1)).join(' → ');
const f = (x: number, d = 2) => x.toFixed(d);
if (json) process.stdout.write(`${JSON.stringify({ rows, centres, load, scoring, lloyd }, null, 2)}\n`);
else {
  const out: string[] = [];
  out.push(
    `KDD Cup 99 10 %, strided rows (1× = ${rows}); scoring model k=8 + ensemble 16, 32 (${centres} centres); load average ${load}`,
    '',
    '| scoring | rows | DB wall, s (rows/s) | DB CPU, s: busiest shard / coordinator / all | same query over 0 rows: wall, s / CPU all, s | in-process, s (rows/s) |',
    '|---|---|---|---|---|---|',
  );
  for (const r of scoring as { setup: string; rows: number; full: Cost; empty: Cost; inProcessS: number }[]) {
    out.push(
      `| ${r.setup} | ${r.rows} | ${f(r.full.wall)} (${Math.round(r.rows / r.full.wall)}) | ${f(r.full.shardCpuMax)} / ${f(r.full.coordCpu)} / ${f(r.full.cpuTotal)} | ${f(r.empty.wall)} / ${f(r.empty.cpuTotal)} | ${f(r.inProcessS, 3)} (${Math.round(r.rows / r.inProcessS)}) |`,
    );
  }
  out.push(
    '',
    '| Lloyd iteration | k | rows | DB wall, s | DB CPU, s: busiest shard / coordinator / all | same over 0 rows: wall, s / CPU all, s | in-process js / auto, s |',
    '|---|---|---|---|---|---|---|',
  );
  for (const r of lloyd as {
    k: number;
    setup: string;
    rows: number;
    cost: Cost;
    empty: Cost;
    inProcessJs: number;
    inProcessAuto: number;
  }[]) {
    out.push(
      `| ${r.setup} | ${r.k} | ${r.rows} | ${f(r.cost.wall)} | ${f(r.cost.shardCpuMax)} / ${f(r.cost.coordCpu)} / ${f(r.cost.cpuTotal)} | ${f(r.empty.wall)} / ${f(r.empty.cpuTotal)} | ${f(r.inProcessJs, 3)} / ${f(r.inProcessAuto, 3)} |`,
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
