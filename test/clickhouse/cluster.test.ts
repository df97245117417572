/**
 * netanomaly on a real two-shard ClickHouse cluster (Debian's clickhouse-server 18.16: two
 * processes on 127.0.0.1, started and removed here): in-database scores and Lloyd against the
 * library, then the command-line path (`train --from`, `export --format clickhouse` run through
 * `clickhouse-client`, `score --from --into`) against `score FILE --jsonl`.
 *
 * Subsets and small settings keep the file within its test budget (each in-database pass is a
 * distributed query of a few seconds on this shared 2-core machine under load): 6,000 strided rows
 * of KDD Cup 99 10 % (of 494,021; attacks and normals alike) across the shards, the first 2,000
 * rows of `corrected.gz` to score; Lloyd capped at 5 iterations on both sides; the CLI trains
 * k = 3 without ensemble runs for at most 4 iterations (the ensemble is scored in the first test).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { createGunzip } from 'node:zlib';
import { ClickHouseClient } from '../../src/clickhouse/client.ts';
import { scoreQuery, sqlModel } from '../../src/clickhouse/model-sql.ts';
import { scoreRows } from '../../src/clickhouse/score-in-db.ts';
import { followTable } from '../../src/clickhouse/source.ts';
import {
  type DbSource,
  fitPreprocessorInDatabase,
  lloydInDatabase,
  meanVarianceInDatabase,
  normalLabelCondition,
} from '../../src/clickhouse/train-in-db.ts';
import { kddFieldSpecs } from '../../src/features/kdd-fields.ts';
import { Preprocessor } from '../../src/features/preprocessor.ts';
import { type KddData, readKdd } from '../../src/ingest/kdd.ts';
import { type Table, takeRows } from '../../src/ingest/table.ts';
import { loadModel } from '../../src/model/bundle.ts';
import { AnomalyDetector } from '../../src/model/detector.ts';
import { getEngine } from '../../src/model/engine.ts';
import { initialCenters, KMeans } from '../../src/model/kmeans.ts';
import { Rng } from '../../src/model/random.ts';
import { cli } from '../helpers/cli.ts';
import { dataFile, kdd } from '../helpers/data.ts';
import {
  createShardedTable,
  freePorts,
  type LocalCluster,
  loadRows,
  startCluster,
  tableColumns,
} from './cluster.ts';

const ROWS = 6_000;
const SCORE_ROWS = 2_000;
/** Lloyd iterations at most, the same cap on both sides (each in-database iteration is a distributed query). */
const MAX_ITER = 5;
let cluster: LocalCluster;
let dir: string;
let subset: string;
let test2: KddData;
let table: Table;
let labels: string[];
let normal: Table;
/** Source over the Distributed table; prefer_localhost_replica=0 so both shards run (and log) their part. */
let src: DbSource;

/** The first n lines of a gzip file (stops reading there). */
async function headLines(path: string, n: number): Promise<string[]> {
  const file = createReadStream(path);
  const lines: string[] = [];
  const rl = createInterface({ input: file.pipe(createGunzip()), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of rl) {
    lines.push(line);
    if (lines.length === n) break;
  }
  rl.close();
  file.destroy();
  return lines;
}

function relDiff(a: number, b: number): number {
  return a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(b), Number.MIN_VALUE);
}

function clickhouseClient(port: number, sqlFile: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      'clickhouse-client',
      [
        '--host=127.0.0.1',
        `--port=${port}`,
        '--multiquery',
        `--max_query_size=${256 << 20}`,
        '--max_ast_elements=50000000',
        '--max_expanded_ast_elements=50000000',
        '--max_block_size=1024',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      err += d;
    });
    p.on('error', reject);
    p.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`clickhouse-client: ${err.trim()}`)),
    );
    p.stdin.end(readFileSync(sqlFile));
  });
}

before(async () => {
  const t0 = Date.now();
  dir = mkdtempSync(join(tmpdir(), 'netanomaly-ch-'));
  const data = await kdd('kddcup99/kddcup.data_10_percent.gz');
  const idx = Array.from({ length: ROWS }, (_, i) => Math.floor((i * data.table.nRows) / ROWS));
  table = takeRows(data.table, idx);
  labels = idx.map((i) => data.labels[i]!);
  normal = takeRows(
    table,
    labels.flatMap((l, j) => (l === 'normal' ? [j] : [])),
  );
  const lines = await headLines(dataFile('kddcup99/corrected.gz'), SCORE_ROWS);
  subset = join(dir, 'corrected-head.txt');
  writeFileSync(subset, `${lines.join('\n')}\n`);
  test2 = await readKdd(subset);
  assert.equal(test2.table.nRows, SCORE_ROWS);
  const t1 = Date.now();
  cluster = await startCluster(2);
  await createShardedTable(cluster, 'kdd_dist', tableColumns(table, ['label']));
  await loadRows(cluster, 'kdd_dist', table, { label: labels });
  await createShardedTable(cluster, 'corrected', tableColumns(test2.table, ['label']));
  await loadRows(cluster, 'corrected', test2.table, { label: test2.labels });
  const client = new ClickHouseClient(cluster.url('kdd_dist'), { prefer_localhost_replica: 0 });
  src = { client, table: 'kdd_dist', where: normalLabelCondition() };
  console.log(
    `set-up: reading the data ${(t1 - t0) / 1000} s, cluster start and loading ${(Date.now() - t1) / 1000} s`,
  );
});

after(async () => {
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('ClickHouse cluster (2 shards, 18.16)', () => {
  test('the rows are spread over both shards', async () => {
    const counts = await Promise.all(
      cluster.shards.map(async (s) =>
        Number((await s.client.rows('SELECT count() FROM kdd_dist_local'))[0]![0]),
      ),
    );
    assert.equal(counts[0]! + counts[1]!, ROWS);
    assert.ok(
      counts.every((c) => c > ROWS / 3),
      `rows per shard ${counts}`,
    );
    assert.equal(Number((await cluster.client.rows('SELECT count() FROM kdd_dist'))[0]![0]), ROWS);
  });

  test('in-database scores equal the library on every row (score ≤ 1e-6 relative, same clusters and verdicts)', async () => {
    const det = await new AnomalyDetector(kddFieldSpecs(), { k: 8, ensembleK: [16], engine: 'js' }).fit(
      normal,
    );
    const sql = `${scoreQuery(sqlModel(det.toState()), 'kdd_dist', { keep: ['id'] })} ORDER BY id`;
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
    const k = 6;
    const init = await initialCenters(X, k, 'k-means++', await getEngine('js'), new Rng(7));
    const km = await new KMeans({ k, engine: 'js', maxIter: MAX_ITER }, init).fit(X);
    const tolAbs = 1e-4 * (await meanVarianceInDatabase(src, pre));
    const res = await lloydInDatabase(src, pre, init, { maxIter: MAX_ITER, tolAbs });
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
        "SELECT count(), sum(read_rows) FROM system.query_log WHERE type = 2 AND is_initial_query = 0 AND query LIKE '%sumForEach%' AND query LIKE '%kdd_dist_local%'",
      );
      const local = Number((await s.client.rows('SELECT count() FROM kdd_dist_local'))[0]![0]);
      assert.ok(Number(row![0]) >= res.nIter, `shard on ${s.http}: ${row![0]} aggregation queries logged`);
      assert.ok(Number(row![1]) >= local * res.nIter, `shard on ${s.http} read ${row![1]} rows`);
    }
  });
  test('train --from clickhouse://…, export --format clickhouse: the SQL gives the scores of `score --jsonl`', async () => {
    const model = join(dir, 'M');
    const url = cluster.url('kdd_dist');
    const tr = await cli([
      'train',
      '--from',
      url,
      '--format',
      'kdd99',
      '--train-on',
      'normal',
      '--k',
      '3',
      '--ensemble-k',
      'none',
      '--max-iter',
      '4',
      '--sample-rows',
      '1000',
      '--engine',
      'js',
      '-o',
      model,
      '--json',
    ]);
    assert.equal(tr.code, 0, tr.stderr);
    const summary = JSON.parse(tr.stdout);
    assert.equal(summary.k, 3);
    assert.equal(summary.ensemble_runs, 1);
    const normals = Number(
      (await cluster.client.rows("SELECT count() FROM kdd_dist WHERE label = 'normal'"))[0]![0],
    );
    assert.equal(summary.rows_used, normals);

    const sqlFile = join(dir, 's.sql');
    const ex = await cli([
      'export',
      model,
      '--format',
      'clickhouse',
      '--table',
      'corrected',
      '--keep',
      'id',
      '-o',
      sqlFile,
    ]);
    assert.equal(ex.code, 0, ex.stderr);
    const tsv = await clickhouseClient(cluster.shards[0]!.tcp, sqlFile);
    const sqlRows = tsv
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
    assert.equal(sqlRows.length, SCORE_ROWS);

    const sc = await cli(['score', model, subset, '--format', 'kdd99', '--jsonl']);
    assert.equal(sc.code, 0, sc.stderr);
    const lib = sc.stdout
      .trim()
      .split('\n')
      .map(
        (l) => JSON.parse(l) as { row: number; anomaly_score: number; cluster: number; is_anomaly: boolean },
      );
    assert.equal(lib.length, SCORE_ROWS);
    let maxRel = 0;
    let clusters = 0;
    let verdicts = 0;
    for (const [id, score, c, a] of sqlRows) {
      const r = lib[Number(id)]!;
      assert.equal(r.row, Number(id));
      const rel =
        Math.abs(Number(score) - r.anomaly_score) / Math.max(Math.abs(r.anomaly_score), Number.MIN_VALUE);
      maxRel = Math.max(maxRel, rel);
      if (Number(c) !== r.cluster) clusters++;
      if ((a === '1') !== r.is_anomaly) verdicts++;
    }
    console.log(
      `CLI: s.sql vs score --jsonl on ${SCORE_ROWS} rows: max relative difference ${maxRel.toExponential(2)}, cluster mismatches ${clusters}, verdict mismatches ${verdicts}`,
    );
    assert.ok(maxRel <= 1e-6, `max relative difference ${maxRel}`);
    assert.equal(clusters, 0);
    assert.equal(verdicts, 0);
    assert.ok(lib.some((r) => r.is_anomaly) && lib.some((r) => !r.is_anomaly));
  });

  test('score --from … --into TABLE writes the alerts of `score --jsonl` into a table', async () => {
    const model = join(dir, 'M');
    const r = await cli([
      'score',
      model,
      '--from',
      cluster.url('corrected'),
      '--into',
      'corrected_alerts',
      '--keep',
      'id',
      '--only-anomalies',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const lib = await loadModel(model);
    const s = await lib.detector.evaluateRows(test2.table);
    const libIds = [...s.isAnomaly.keys()].filter((i) => s.isAnomaly[i] === 1);
    const dbIds = (await cluster.client.rows('SELECT id FROM corrected_alerts ORDER BY id')).map((x) =>
      Number(x[0]),
    );
    assert.ok(libIds.length > 0);
    assert.deepEqual(dbIds, libIds);
  });

  test('a missing table or column, a closed port: one-line errors naming them', async () => {
    const model = join(dir, 'M');
    const thin = await cli(['score', model, '--from', cluster.url('kdd_thin')]);
    assert.notEqual(thin.code, 0);
    assert.match(thin.stderr, /table default\.kdd_thin does not exist/);
    assert.equal(
      thin.stderr
        .trim()
        .split('\n')
        .filter((l) => /Error/.test(l)).length,
      1,
      thin.stderr,
    );
    assert.doesNotMatch(thin.stderr, /\n\s+at /);
    const state = (await loadModel(model)).file.detector;
    await cluster.client.exec(
      'CREATE TABLE kdd_thin (id UInt64, duration Float64) ENGINE = MergeTree ORDER BY id',
    );
    await assert.rejects(
      scoreRows(state, { client: cluster.client, table: 'kdd_thin' }),
      /table kdd_thin: no column 'protocol_type' for field 'protocol_type'/,
    );
    await cluster.client.exec('CREATE TABLE kdd_text (duration String) ENGINE = MergeTree ORDER BY tuple()');
    await assert.rejects(
      scoreRows(state, { client: cluster.client, table: 'kdd_text' }),
      /column 'duration' is String; field 'duration' needs numbers/,
    );
    const [closed] = await freePorts(1);
    await assert.rejects(
      scoreRows(state, {
        client: new ClickHouseClient(`clickhouse://127.0.0.1:${closed}/default`),
        table: 'x',
      }),
      /cannot connect to ClickHouse \(ECONNREFUSED\)/,
    );
  });

  test('watch --from: following a table by a monotonic column appends each new anomaly once', async () => {
    const model = await loadModel(join(dir, 'M'));
    const half = SCORE_ROWS / 2;
    const first = Int32Array.from({ length: half }, (_, i) => i);
    const second = Int32Array.from({ length: half }, (_, i) => half + i);
    await createShardedTable(cluster, 'flow_feed', tableColumns(test2.table));
    await loadRows(cluster, 'flow_feed', test2.table, {}, first);
    const alerts = join(dir, 'alerts.jsonl');
    const checkpoint = join(dir, 'feed.json');
    const follow = () =>
      followTable({
        client: cluster.client,
        table: 'flow_feed',
        by: 'id',
        model,
        alerts,
        format: 'ecs',
        checkpoint,
        once: true,
        pollMs: 10,
      });
    const a = await follow();
    await loadRows(cluster, 'flow_feed', test2.table, {}, second, half);
    const b = await follow();
    const again = await follow();
    const s = await model.detector.evaluateRows(test2.table);
    let expected = 0;
    for (const v of s.isAnomaly) expected += v;
    const lines = readFileSync(alerts, 'utf8').trim().split('\n');
    assert.equal(a.scored + b.scored, SCORE_ROWS);
    assert.equal(again.scored, 0);
    assert.equal(lines.length, expected);
    assert.equal(a.alerts + b.alerts, expected);
    assert.equal(b.position, String(SCORE_ROWS - 1));
    const rec = JSON.parse(lines[0]!);
    assert.equal(rec.event.kind, 'alert');
    assert.ok(rec.netanomaly.anomaly_score > rec.netanomaly.threshold);
  });
});
