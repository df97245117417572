/**
 * The same SQL on the embedded current engine (npm `chdb`, ClickHouse 26.x in-process) where it is
 * installed: in-database scores and Lloyd against the library, as on the 18.16 cluster. chdb is
 * not a dependency of the project (about 0.5 GB installed, docs/clickhouse.md); this file runs
 * when `chdb` resolves from the project or NETANOMALY_CHDB names an installed package directory
 * (e.g. /tmp/chdb-try/node_modules/chdb), and is skipped otherwise.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ClickHouseClient, ColumnInfo } from '../../src/clickhouse/client.ts';
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

interface Chdb {
  Session: new (path?: string) => { query(sql: string, format?: string): string; close(): void };
}

function loadChdb(): Chdb | null {
  const req = createRequire(import.meta.url);
  for (const id of [process.env.NETANOMALY_CHDB, 'chdb'].filter(Boolean) as string[]) {
    try {
      return req(id) as Chdb;
    } catch {}
  }
  return null;
}

const chdb = loadChdb();
const ROWS = 4_000;
let dir: string;
let session: InstanceType<Chdb['Session']>;
let client: ClickHouseClient;
let table: Table;
let normal: Table;

function unescapeTsv(s: string): string {
  return s.replace(/\\(.)/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c === '\\' ? '\\' : c));
}

/** The part of ClickHouseClient train-in-db uses, over a chdb session (settings are the server's). */
function chdbClient(): ClickHouseClient {
  const rows = async (sql: string) =>
    session
      .query(sql, 'TabSeparated')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split('\t').map(unescapeTsv));
  const columns = async (t: string): Promise<ColumnInfo[]> =>
    (
      await rows(
        `SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = '${t}'`,
      )
    ).map(([name, type]) => ({ name: name!, type: type! }));
  return {
    target: { display: 'chdb' },
    rows,
    columns,
    exec: async (sql: string) => void session.query(sql),
  } as unknown as ClickHouseClient;
}

/** Writes a Table as TabSeparatedWithNames (shortest round-trip floats) and creates `name` from it. */
function loadTable(name: string, t: Table, labels: string[]): void {
  const num = Object.keys(t.numeric);
  const txt = Object.keys(t.text);
  const lines = [['id', ...num, ...txt, 'label'].join('\t')];
  for (let i = 0; i < t.nRows; i++) {
    lines.push(
      [i, ...num.map((c) => String(t.numeric[c]![i])), ...txt.map((c) => t.text[c]![i]), labels[i]].join(
        '\t',
      ),
    );
  }
  const file = join(dir, `${name}.tsv`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  const schema = [
    'id UInt64',
    ...num.map((c) => `${c} Float64`),
    ...txt.map((c) => `${c} String`),
    'label String',
  ].join(', ');
  session.query(`CREATE TABLE ${name} (${schema}) ENGINE = MergeTree ORDER BY id`);
  session.query(`INSERT INTO ${name} SELECT * FROM file('${file}', 'TabSeparatedWithNames', '${schema}')`);
}

describe('the SQL on the embedded current engine (chdb)', {
  skip: chdb ? false : 'chdb is not installed',
}, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'netanomaly-chdb-'));
    session = new chdb!.Session(join(dir, 'db'));
    client = chdbClient();
    const data = await kdd('kddcup99/kddcup.data_10_percent.gz');
    const idx = Array.from({ length: ROWS }, (_, i) => Math.floor((i * data.table.nRows) / ROWS));
    table = takeRows(data.table, idx);
    const labels = idx.map((i) => data.labels[i]!);
    normal = takeRows(
      table,
      labels.flatMap((l, j) => (l === 'normal' ? [j] : [])),
    );
    loadTable('kdd', table, labels);
  });
  after(() => {
    session?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('scores equal the library on every row', async () => {
    const version = (await client.rows('SELECT version()'))[0]![0];
    const det = await new AnomalyDetector(kddFieldSpecs(), { k: 8, ensembleK: [16], engine: 'js' }).fit(
      normal,
    );
    const rows = await client.rows(
      `${scoreQuery(sqlModel(det.toState()), 'kdd', { keep: ['id'] })} ORDER BY id`,
    );
    const lib = await det.evaluateRows(table);
    assert.equal(rows.length, ROWS);
    let maxRel = 0;
    let clusters = 0;
    let verdicts = 0;
    for (const [id, score, c, a] of rows) {
      const i = Number(id);
      const want = lib.anomalyScore[i]!;
      maxRel = Math.max(maxRel, Number(score) === want ? 0 : Math.abs(Number(score) - want) / Math.abs(want));
      if (Number(c) !== lib.cluster[i]) clusters++;
      if (Number(a) !== lib.isAnomaly[i]) verdicts++;
    }
    console.log(
      `chdb ${version}: max relative difference ${maxRel.toExponential(2)}, cluster mismatches ${clusters}, verdict mismatches ${verdicts}`,
    );
    assert.ok(maxRel <= 1e-6, `max relative difference ${maxRel}`);
    assert.equal(clusters, 0);
    assert.equal(verdicts, 0);
  });

  test('Lloyd from the same initial centres ends at the library centres and inertia', async () => {
    const src: DbSource = { client, table: 'kdd', where: normalLabelCondition() };
    const { state: pre } = await fitPreprocessorInDatabase(src, kddFieldSpecs());
    const X = Preprocessor.fromState(pre).transform(normal).X;
    const init = await initialCenters(X, 6, 'k-means++', await getEngine('js'), new Rng(7));
    const km = await new KMeans({ k: 6, engine: 'js', maxIter: 5 }, init).fit(X);
    const tolAbs = 1e-4 * (await meanVarianceInDatabase(src, pre));
    const res = await lloydInDatabase(src, pre, init, { maxIter: 5, tolAbs });
    let centreRel = 0;
    const C = km.clusterCenters;
    for (let c = 0; c < 6; c++) {
      let diff = 0;
      let norm = 0;
      for (let j = 0; j < C.cols; j++) {
        diff += (res.centers.data[c * C.cols + j]! - C.data[c * C.cols + j]!) ** 2;
        norm += C.data[c * C.cols + j]! ** 2;
      }
      centreRel = Math.max(centreRel, Math.sqrt(diff / norm));
    }
    const inertiaRel = Math.abs(res.inertia - km.inertia) / km.inertia;
    console.log(
      `chdb Lloyd: ${res.nIter} iterations; centres ${centreRel.toExponential(2)}, inertia ${inertiaRel.toExponential(2)}`,
    );
    assert.equal(res.nIter, km.nIter);
    assert.ok(centreRel <= 1e-6 && inertiaRel <= 1e-6, `centres ${centreRel}, inertia ${inertiaRel}`);
  });
});
