/**
 * Scoring and Lloyd in a real two-shard ClickHouse cluster (Debian's clickhouse-server 18.16, two
 * processes on 127.0.0.1 started and removed here) against the library, on KDD Cup 99 10 %
 * (a strided subset of 20,000 of its 494,021 rows, attacks and normals alike: 18.16 scores a few
 * thousand rows per second on this shared machine, the full file would not fit the test budget).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ClickHouseClient } from '../../src/clickhouse/client.ts';
import { scoreQuery, sqlModel } from '../../src/clickhouse/model-sql.ts';
import {
  type DbSource,
  fitPreprocessorInDatabase,
  lloydInDatabase,
  meanVarianceInDatabase,
  normalLabelCondition,
} from '../../src/clickhouse/train-in-db.ts';
import { kddFieldSpecs } from '../../src/features/kdd-fields.ts';
import { Preprocessor } from '../../src/features/preprocessor.ts';
import { type Table, takeRows } from '../../src/ingest/table.ts';
import { AnomalyDetector } from '../../src/model/detector.ts';
import { getEngine } from '../../src/model/engine.ts';
import { initialCenters, KMeans } from '../../src/model/kmeans.ts';
import { Rng } from '../../src/model/random.ts';
import { kdd } from '../helpers/data.ts';
import { createShardedTable, type LocalCluster, loadRows, startCluster, tableColumns } from './cluster.ts';

const ROWS = 20_000;
let cluster: LocalCluster;
let table: Table;
let labels: string[];
let normal: Table;
/** Source over the Distributed table; prefer_localhost_replica=0 so both shards run (and log) their part. */
let src: DbSource;

function relDiff(a: number, b: number): number {
  return a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(b), Number.MIN_VALUE);
}

before(async () => {
  const data = await kdd('kddcup99/kddcup.data_10_percent.gz');
  const idx = Array.from({ length: ROWS }, (_, i) => Math.floor((i * data.table.nRows) / ROWS));
  table = takeRows(data.table, idx);
  labels = idx.map((i) => data.labels[i]!);
  normal = takeRows(
    table,
    labels.flatMap((l, j) => (l === 'normal' ? [j] : [])),
  );
  cluster = await startCluster(2);
  await createShardedTable(cluster, 'kdd', tableColumns(table, ['label']));
  await loadRows(cluster, 'kdd', table, { label: labels });
  const client = new ClickHouseClient(cluster.url('kdd'), { prefer_localhost_replica: 0 });
  src = { client, table: 'kdd', where: normalLabelCondition() };
});

after(async () => {
  await cluster?.stop();
});

describe('ClickHouse cluster (2 shards, 18.16)', () => {
  test('the rows are spread over both shards', async () => {
    const counts = await Promise.all(
      cluster.shards.map(async (s) => Number((await s.client.rows('SELECT count() FROM kdd_local'))[0]![0])),
    );
    assert.equal(counts[0]! + counts[1]!, ROWS);
    assert.ok(
      counts.every((c) => c > ROWS / 3),
      `rows per shard ${counts}`,
    );
    assert.equal(Number((await cluster.client.rows('SELECT count() FROM kdd'))[0]![0]), ROWS);
  });

  test('in-database scores equal the library on every row (score ≤ 1e-6 relative, same clusters and verdicts)', async () => {
    const det = await new AnomalyDetector(kddFieldSpecs(), { k: 8, ensembleK: [16, 32], engine: 'js' }).fit(
      normal,
    );
    const sql = `${scoreQuery(sqlModel(det.toState()), 'kdd', { keep: ['id'] })} ORDER BY id`;
    const rows = await src.client.rows(sql, { max_block_size: 1024 });
    assert.equal(rows.length, ROWS);
    const lib = await det.evaluateRows(table);
    const auto = await AnomalyDetector.fromState({
      ...det.toState(),
      options: { ...det.options, engine: 'auto' },
    }).evaluateRows(table);
    let maxRel = 0;
    let clusters = 0;
    let verdicts = 0;
    let autoClusters = 0;
    for (const [id, score, c, a] of rows) {
      const i = Number(id);
      maxRel = Math.max(maxRel, relDiff(Number(score), lib.anomalyScore[i]!));
      if (Number(c) !== lib.cluster[i]) clusters++;
      if (Number(a) !== lib.isAnomaly[i]) verdicts++;
      if (Number(c) !== auto.cluster[i]) autoClusters++;
    }
    console.log(
      `scores: max relative difference ${maxRel.toExponential(2)}, cluster mismatches ${clusters} (js engine), ${autoClusters} (auto engine), verdict mismatches ${verdicts}`,
    );
    assert.ok(maxRel <= 1e-6, `max relative difference ${maxRel}`);
    assert.equal(clusters, 0);
    assert.equal(verdicts, 0);
    assert.ok(lib.isAnomaly.some((v) => v === 1) && lib.isAnomaly.some((v) => v === 0));
  });

  test('Lloyd in the database from the same initial centres ends at the library centres and inertia', async () => {
    const { state: pre } = await fitPreprocessorInDatabase(src, kddFieldSpecs());
    // The in-database statistics are the library's (to rounding of the distributed sums).
    const libPre = new Preprocessor(kddFieldSpecs()).fit(normal).toState();
    let statRel = 0;
    for (const f of Object.keys(libPre.means)) {
      statRel = Math.max(
        statRel,
        relDiff(pre.means[f]!, libPre.means[f]!),
        relDiff(pre.scales[f]!, libPre.scales[f]!),
      );
    }
    assert.ok(statRel <= 1e-9, `statistics differ by ${statRel}`);
    assert.deepEqual(pre.vocabularies, libPre.vocabularies);
    const X = Preprocessor.fromState(pre).transform(normal).X;
    const k = 8;
    const init = await initialCenters(X, k, 'k-means++', await getEngine('js'), new Rng(7));
    const km = await new KMeans({ k, engine: 'js', maxIter: 100 }, init).fit(X);
    const tolAbs = 1e-4 * (await meanVarianceInDatabase(src, pre));
    const res = await lloydInDatabase(src, pre, init, { maxIter: 100, tolAbs });
    const C = km.clusterCenters;
    let centreRel = 0;
    for (let c = 0; c < k; c++) {
      let diff = 0;
      let norm = 0;
      for (let j = 0; j < C.cols; j++) {
        diff += (res.centers.data[c * C.cols + j]! - C.data[c * C.cols + j]!) ** 2;
        norm += C.data[c * C.cols + j]! ** 2;
      }
      centreRel = Math.max(centreRel, Math.sqrt(diff / norm));
    }
    const inertiaRel = relDiff(res.inertia, km.inertia);
    console.log(
      `Lloyd: ${res.nIter} iterations in the database, ${km.nIter} in process; max centre relative difference ${centreRel.toExponential(2)}, inertia ${inertiaRel.toExponential(2)}; statistics ${statRel.toExponential(2)}`,
    );
    assert.ok(centreRel <= 1e-6, `centres differ by ${centreRel}`);
    assert.ok(inertiaRel <= 1e-6, `inertia differs by ${inertiaRel}`);
    assert.ok(res.nIter > 1);

    // Every shard ran its part of the aggregation (remote queries logged on both).
    for (const s of cluster.shards) {
      await s.client.exec('SYSTEM FLUSH LOGS');
      const [row] = await s.client.rows(
        "SELECT count(), sum(read_rows) FROM system.query_log WHERE type = 2 AND is_initial_query = 0 AND query LIKE '%sumForEach%' AND query LIKE '%kdd_local%'",
      );
      const local = Number((await s.client.rows('SELECT count() FROM kdd_local'))[0]![0]);
      assert.ok(Number(row![0]) >= res.nIter, `shard on ${s.http}: ${row![0]} aggregation queries logged`);
      assert.ok(Number(row![1]) >= local * res.nIter, `shard on ${s.http} read ${row![1]} rows`);
    }
  });
});
