/**
 * The command-line path on a real two-shard cluster: `train --from clickhouse://…` (statistics,
 * vocabularies, Lloyd and the threshold in the database), `export --format clickhouse`, the SQL
 * file run through the cluster with `clickhouse-client`, compared with `score M FILE --jsonl` on
 * the same rows. Subsets keep the test within its budget (18.16 scores a few thousand rows per
 * second here): 12,000 strided rows of KDD Cup 99 10 % to train on, the first 3,000 rows of
 * `corrected.gz` to score.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { readKdd } from '../../src/ingest/kdd.ts';
import { takeRows } from '../../src/ingest/table.ts';
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

const TRAIN_ROWS = 12_000;
const SCORE_ROWS = 3_000;
let cluster: LocalCluster;
let dir: string;
let subset: string;

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
  dir = mkdtempSync(join(tmpdir(), 'netanomaly-ch-cli-'));
  const train = await kdd('kddcup99/kddcup.data_10_percent.gz');
  const idx = Array.from({ length: TRAIN_ROWS }, (_, i) => Math.floor((i * train.table.nRows) / TRAIN_ROWS));
  const lines = gunzipSync(readFileSync(dataFile('kddcup99/corrected.gz')))
    .toString('latin1')
    .split('\n')
    .slice(0, SCORE_ROWS);
  subset = join(dir, 'corrected-head.txt');
  writeFileSync(subset, `${lines.join('\n')}\n`);
  const test = await readKdd(subset);
  assert.equal(test.table.nRows, SCORE_ROWS);
  cluster = await startCluster(2);
  const t = takeRows(train.table, idx);
  await createShardedTable(cluster, 'kdd_dist', tableColumns(t, ['label']));
  await loadRows(cluster, 'kdd_dist', t, { label: idx.map((i) => train.labels[i]!) });
  await createShardedTable(cluster, 'corrected', tableColumns(test.table, ['label']));
  await loadRows(cluster, 'corrected', test.table, { label: test.labels });
});

after(async () => {
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('CLI on a ClickHouse cluster', () => {
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
      '4',
      '--ensemble-k',
      '8',
      '--sample-rows',
      '3000',
      '--engine',
      'js',
      '-o',
      model,
      '--json',
    ]);
    assert.equal(tr.code, 0, tr.stderr);
    const summary = JSON.parse(tr.stdout);
    assert.equal(summary.k, 4);
    assert.equal(summary.ensemble_runs, 2);
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

  test('score --from … --into TABLE writes the same scores into a table', async () => {
    const model = join(dir, 'M');
    const r = await cli([
      'score',
      model,
      '--from',
      cluster.url('corrected'),
      '--into',
      'corrected_scores',
      '--keep',
      'id',
      '--only-anomalies',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sc = await cli(['score', model, subset, '--format', 'kdd99', '--jsonl', '--only-anomalies']);
    const libIds = sc.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).row as number);
    const dbIds = (await cluster.client.rows('SELECT id FROM corrected_scores ORDER BY id')).map((x) =>
      Number(x[0]),
    );
    assert.deepEqual(dbIds, libIds);
  });

  test('a missing table or column is a one-line error naming it', async () => {
    const model = join(dir, 'M');
    const missing = await cli(['score', model, '--from', cluster.url('no_such_table')]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /table default\.no_such_table does not exist/);
    await cluster.client.exec(
      'CREATE TABLE thin (id UInt64, duration Float64) ENGINE = MergeTree ORDER BY id',
    );
    const thin = await cli(['score', model, '--from', cluster.url('thin')]);
    assert.notEqual(thin.code, 0);
    assert.match(thin.stderr, /table thin: no column 'protocol_type' for field 'protocol_type'/);
    const [closed] = await freePorts(1);
    const refused = await cli(['score', model, '--from', `clickhouse://127.0.0.1:${closed}/default?table=x`]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /cannot connect to ClickHouse \(ECONNREFUSED\)/);
    for (const r of [missing, thin, refused]) {
      assert.equal(
        r.stderr
          .trim()
          .split('\n')
          .filter((l) => /Error/.test(l)).length,
        1,
        r.stderr,
      );
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });
});
