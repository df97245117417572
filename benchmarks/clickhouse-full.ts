/**
 * The must-show at full size, on a real two-shard cluster (Debian's clickhouse-server,
 * started here on 127.0.0.1 and stopped at the end):
 *
 *   KDD Cup 99 10 % (494,021 rows) across the shards as `kdd_dist`, corrected.gz (311,029 rows) as
 *   `corrected`;
 *   netanomaly train --from 'clickhouse://127.0.0.1:PORT/default?table=kdd_dist' --format kdd99 --train-on normal -o M [TRAIN_ARGS]
 *   netanomaly export M --format clickhouse --table corrected --keep id -o s.sql
 *   clickhouse-client … < s.sql          (every row of corrected, scored on both shards)
 *   netanomaly score M corrected.gz --format kdd99 --jsonl
 *
 * and compares the two on every row (relative score difference, clusters, verdicts). Exits 1 when
 * they differ by more than 1e-6 or on any cluster or verdict.
 *
 * Usage: NETANOMALY_DATA_DIR=../shared/datasets npx tsx benchmarks/clickhouse-full.ts [--keep DIR] [-- TRAIN_ARGS…]
 * (`make clickhouse-full`, TRAIN_ARGS from CH_TRAIN_ARGS). With the default ensemble (runs of k up
 * to 256) in-database training takes hours on a loaded 2-core machine; docs/clickhouse.md has the
 * measured runs.
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { modelBlockSettings, sqlModel } from '../src/clickhouse/model-sql.ts';
import { readKdd } from '../src/ingest/kdd.ts';
import { createShardedTable, loadRows, startCluster, tableColumns } from '../test/clickhouse/cluster.ts';

const argv = process.argv.slice(2);
const dashdash = argv.indexOf('--');
const trainArgs = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
const own = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
const keepDir = own.includes('--keep') ? own[own.indexOf('--keep') + 1]! : null;
const dataDir = process.env.NETANOMALY_DATA_DIR ?? '../shared/datasets';
const train10 = `${dataDir}/kddcup99/kddcup.data_10_percent.gz`;
const corrected = `${dataDir}/kddcup99/corrected.gz`;

function run(cmd: string, args: string[], stdin?: string, stdout?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = Date.now();
    const p = spawn(cmd, args, {
      stdio: [stdin ? 'pipe' : 'ignore', stdout ? 'pipe' : 'inherit', 'inherit'],
    });
    if (stdout) p.stdout!.pipe(createWriteStream(stdout));
    if (stdin) p.stdin!.end(readFileSync(stdin));
    p.on('error', reject);
    p.on('close', (code) => {
      const s = (Date.now() - t) / 1000;
      console.error(`# ${cmd} ${args.slice(0, 3).join(' ')} … exit ${code}, ${s.toFixed(1)} s`);
      code === 0 ? resolve(s) : reject(new Error(`${cmd} exited ${code}`));
    });
  });
}

const netanomaly = (args: string[], stdout?: string) =>
  run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], undefined, stdout);

async function lines(path: string): Promise<string[]> {
  const out: string[] = [];
  for await (const l of createInterface({ input: createReadStream(path) })) if (l) out.push(l);
  return out;
}

const dir = keepDir ?? mkdtempSync(join(tmpdir(), 'netanomaly-ch-full-'));
const a = await readKdd(train10);
const b = await readKdd(corrected);
const cluster = await startCluster(2);
let failed = false;
try {
  await createShardedTable(cluster, 'kdd_dist', tableColumns(a.table, ['label']));
  await loadRows(cluster, 'kdd_dist', a.table, { label: a.labels });
  await createShardedTable(cluster, 'corrected', tableColumns(b.table, ['label']));
  await loadRows(cluster, 'corrected', b.table, { label: b.labels });
  const model = join(dir, 'M');
  const tTrain = await netanomaly([
    'train',
    '--from',
    cluster.url('kdd_dist'),
    '--format',
    'kdd99',
    '--train-on',
    'normal',
    '-o',
    model,
    '--json',
    ...trainArgs,
  ]);
  const sql = join(dir, 's.sql');
  await netanomaly([
    'export',
    model,
    '--format',
    'clickhouse',
    '--table',
    'corrected',
    '--keep',
    'id',
    '-o',
    sql,
  ]);
  const tsv = join(dir, 's.tsv');
  // Rows per block as the export header advises for this model (18.16 copies every constant
  // centre array into each row of a block).
  const blockSize = modelBlockSettings(
    sqlModel(JSON.parse(readFileSync(join(model, 'model.json'), 'utf8')).detector),
  ).max_block_size;
  const tSql = await run(
    'clickhouse-client',
    [
      '--host=127.0.0.1',
      `--port=${cluster.shards[0]!.tcp}`,
      '--multiquery',
      `--max_query_size=${256 << 20}`,
      '--max_ast_elements=50000000',
      '--max_expanded_ast_elements=50000000',
      `--max_block_size=${blockSize}`,
    ],
    sql,
    tsv,
  );
  const jsonl = join(dir, 'lib.jsonl');
  const tLib = await netanomaly(['score', model, corrected, '--format', 'kdd99', '--jsonl'], jsonl);
  const r = compareOutputs(await lines(tsv), await lines(jsonl));
  console.log(
    JSON.stringify(
      {
        load_average: loadavg().map((l) => +l.toFixed(1)),
        train_s: tTrain,
        sql_s: tSql,
        score_jsonl_s: tLib,
        ...r,
        model: JSON.parse(readFileSync(join(model, 'model.json'), 'utf8')).detector.runs.map(
          (x: { kmeans: { k: number; nIter: number } }) => ({ k: x.kmeans.k, iterations: x.kmeans.nIter }),
        ),
      },
      null,
      2,
    ),
  );
  failed = !(
    r.rows === b.table.nRows &&
    r.maxRel <= 1e-6 &&
    r.clusterMismatches === 0 &&
    r.verdictMismatches === 0
  );
} finally {
  await cluster.stop();
  if (!keepDir) rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

/** s.sql's TSV (id, anomaly_score, cluster, is_anomaly) against `score --jsonl`, row by row. */
export function compareOutputs(tsv: string[], jsonl: string[]) {
  const lib = jsonl.map(
    (l) => JSON.parse(l) as { row: number; anomaly_score: number; cluster: number; is_anomaly: boolean },
  );
  let maxRel = 0;
  let clusterMismatches = 0;
  let verdictMismatches = 0;
  let anomalies = 0;
  const ids = new Set<number>();
  for (const line of tsv) {
    const [id, score, c, a] = line.split('\t');
    ids.add(Number(id));
    const want = lib[Number(id)]!;
    const got = Number(score);
    const rel =
      got === want.anomaly_score ? 0 : Math.abs(got - want.anomaly_score) / Math.abs(want.anomaly_score);
    maxRel = Math.max(maxRel, rel);
    if (Number(c) !== want.cluster) clusterMismatches++;
    if ((a === '1') !== want.is_anomaly) verdictMismatches++;
    if (a === '1') anomalies++;
  }
  return { rows: ids.size, libraryRows: lib.length, maxRel, clusterMismatches, verdictMismatches, anomalies };
}
