/**
 * Scale-out benchmark on real ClickHouse servers (Debian's 18.16, started here on 127.0.0.1):
 *
 * - rows/s scored in the database (the model's SQL over a Distributed table) vs in-process
 *   (`AnomalyDetector.evaluateRows` on the same rows, already in memory);
 * - seconds per Lloyd iteration in the database (one distributed GROUP BY) vs in-process
 *   (KMeans, js and auto engines, same centres, tol 0);
 * - the same on 1 shard and on 2 shards, and on 2 shards with twice the rows.
 *
 * Usage: NETANOMALY_DATA_DIR=../shared/datasets npx tsx benchmarks/clickhouse.ts [rows] [--json]
 * Rows: a strided subset of KDD Cup 99 10 % (default 10,000). Not part of `make test`.
 */
import { ClickHouseClient } from '../src/clickhouse/client.ts';
import { modelBlockSettings, scoreQuery, sqlModel } from '../src/clickhouse/model-sql.ts';
import { clusterSums, type DbSource } from '../src/clickhouse/train-in-db.ts';
import { kddFieldSpecs } from '../src/features/kdd-fields.ts';
import { readKdd } from '../src/ingest/kdd.ts';
import { type Table, takeRows } from '../src/ingest/table.ts';
import { AnomalyDetector } from '../src/model/detector.ts';
import { getEngine } from '../src/model/engine.ts';
import { initialCenters, KMeans } from '../src/model/kmeans.ts';
import { Rng } from '../src/model/random.ts';
import { createShardedTable, loadRows, startCluster, tableColumns } from '../test/clickhouse/cluster.ts';

const args = process.argv.slice(2);
const json = args.includes('--json');
const rows = Number(args.find((a) => /^\d+$/.test(a)) ?? 10_000);
const dataDir = process.env.NETANOMALY_DATA_DIR ?? '../shared/datasets';

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

const data = await readKdd(`${dataDir}/kddcup99/kddcup.data_10_percent.gz`);
const one = strided(data.table, rows);
const two = strided(data.table, 2 * rows);
const normal = takeRows(
  data.table,
  data.families.flatMap((f, i) => (f === 'normal' ? [i] : [])).slice(0, 20_000),
);
const det = await new AnomalyDetector(kddFieldSpecs(), { k: 8, ensembleK: [16, 32] }).fit(normal);
const model = sqlModel(det.toState());
const SCORING_SETTINGS = modelBlockSettings(model);
const X = det.preprocessor.transform(one).X;
const init = await initialCenters(X, 8, 'k-means++', await getEngine('js'), new Rng(1));
const ITER = 3;

const results: Record<string, unknown>[] = [];
const c1 = await startCluster(1);
const c2 = await startCluster(2);
try {
  await createShardedTable(c1, 'b1', tableColumns(one));
  await loadRows(c1, 'b1', one);
  await createShardedTable(c2, 'b1', tableColumns(one));
  await loadRows(c2, 'b1', one);
  await createShardedTable(c2, 'b2', tableColumns(two));
  await loadRows(c2, 'b2', two);

  await det.evaluateRows(strided(one, 100)); // engine warm-up (ONNX session)
  const [tProc] = await seconds(() => det.evaluateRows(one));
  const [tProc2] = await seconds(() => det.evaluateRows(two));
  const lloydProc: Record<string, number> = {};
  for (const engine of ['js', 'auto'] as const) {
    const [t, km] = await seconds(() => new KMeans({ k: 8, engine, maxIter: ITER, tol: 0 }, init).fit(X));
    lloydProc[engine] = t / km.nIter;
  }
  for (const [name, cluster, table, n] of [
    ['1 shard', c1, 'b1', rows],
    ['2 shards', c2, 'b1', rows],
    ['2 shards, 2× rows', c2, 'b2', 2 * rows],
  ] as const) {
    const client = new ClickHouseClient(cluster.url(table));
    const sql = `SELECT count(), sum(anomaly_score), sum(is_anomaly) FROM (${scoreQuery(model, table)})`;
    const [tDb] = await seconds(() => client.rows(sql, SCORING_SETTINGS));
    // The same query over no row: parsing, analysis and shipping the query to the shards.
    const empty = `SELECT count(), sum(anomaly_score), sum(is_anomaly) FROM (${scoreQuery(model, table, { where: 'id < 0' })})`;
    const [tFixed] = await seconds(() => client.rows(empty, SCORING_SETTINGS));
    const src: DbSource = { client, table };
    await clusterSums(src, det.preprocessor.toState(), init); // warm-up
    const [tIt] = await seconds(async () => {
      for (let i = 0; i < ITER; i++) await clusterSums(src, det.preprocessor.toState(), init);
    });
    const inProcess = n === rows ? tProc : tProc2;
    results.push({
      setup: name,
      rows: n,
      db_rows_per_s: Math.round(n / tDb),
      db_fixed_s: +tFixed.toFixed(2),
      db_rows_per_s_beyond_fixed: Math.round(n / Math.max(1e-9, tDb - tFixed)),
      in_process_rows_per_s: Math.round(n / inProcess),
      db_lloyd_s_per_iteration: +(tIt / ITER).toFixed(3),
      in_process_lloyd_s_per_iteration_js: +lloydProc.js!.toFixed(4),
      in_process_lloyd_s_per_iteration_auto: +lloydProc.auto!.toFixed(4),
    });
  }
} finally {
  await c1.stop();
  await c2.stop();
}
const load = (await import('node:os')).loadavg()[0]!.toFixed(1);
if (json) process.stdout.write(`${JSON.stringify({ rows, centres: 56, load, results }, null, 2)}\n`);
else {
  process.stdout.write(
    `KDD Cup 99 10 %, ${rows} strided rows, model k=8 + ensemble 16, 32 (56 centres); Lloyd k=8; load average ${load}\n`,
  );
  process.stdout.write(
    '| setup | rows | scored in DB, rows/s | DB query over 0 rows, s | DB rows/s beyond that | in-process, rows/s | Lloyd in DB, s/iteration | in-process js / auto, s/iteration |\n|---|---|---|---|---|---|---|---|\n',
  );
  for (const r of results) {
    process.stdout.write(
      `| ${r.setup} | ${r.rows} | ${r.db_rows_per_s} | ${r.db_fixed_s} | ${r.db_rows_per_s_beyond_fixed} | ${r.in_process_rows_per_s} | ${r.db_lloyd_s_per_iteration} | ${r.in_process_lloyd_s_per_iteration_js} / ${r.in_process_lloyd_s_per_iteration_auto} |\n`,
    );
  }
}
