/**
 * Scoring where the flows live: the model's SQL (model-sql.ts) over a table, its results
 * written into another table (`INSERT … SELECT`, the work done on every shard of a Distributed
 * source) or returned as rows.
 */
import { InputError } from '../errors.ts';
import { exportDifference } from '../model/bundle.ts';
import type { DetectorState } from '../model/detector.ts';
import { type ClickHouseClient, quoteIdent } from './client.ts';
import { type ColumnMap, modelBlockSettings, scoreQuery, sqlModel } from './model-sql.ts';
import { checkSourceColumns } from './train-in-db.ts';

export interface ScoreInDatabaseOptions {
  client: ClickHouseClient;
  /** Source table (`db.table` or `table`). */
  table: string;
  where?: string;
  columns?: ColumnMap;
  /** Source columns copied beside the scores (e.g. an id, the flow identity). */
  keep?: readonly string[];
  /** Only rows above the threshold (alerts). */
  onlyAnomalies?: boolean;
  /** Score a model whose per-field rarity SQL cannot compute with its K-Means part alone. */
  kmeansOnly?: boolean;
}

/** A model the SQL does not score exactly is refused unless its K-Means part alone is asked for. */
export function checkSqlExact(state: DetectorState, kmeansOnly = false): void {
  const differs = exportDifference(state);
  if (differs && !kmeansOnly)
    throw new InputError(
      `${differs}; retrain with --field-tail off, or pass --kmeans-only to score that part alone`,
    );
}

/** Settings of scoring queries: small blocks (18.16 materialises every centre per row of a block). */
function scoringSettings(state: DetectorState): { max_block_size: number } {
  return modelBlockSettings(sqlModel(state));
}

function query(state: DetectorState, opts: ScoreInDatabaseOptions, withDistance = false): string {
  checkSqlExact(state, opts.kmeansOnly);
  return scoreQuery(sqlModel(state), opts.table, {
    keep: opts.keep ?? [],
    ...(opts.columns ? { columns: opts.columns } : {}),
    ...(opts.where ? { where: opts.where } : {}),
    onlyAnomalies: opts.onlyAnomalies ?? false,
    withDistance,
  });
}

/**
 * Scores the source into `into` (created when missing: the kept columns with their source types,
 * then anomaly_score Float64, cluster Int32, is_anomaly UInt8; MergeTree). Returns the rows written.
 */
export async function scoreIntoTable(
  state: DetectorState,
  into: string,
  opts: ScoreInDatabaseOptions,
): Promise<{ rows: number; anomalies: number }> {
  checkSqlExact(state, opts.kmeansOnly);
  const keep = opts.keep ?? [];
  await checkSourceColumns(
    { client: opts.client, table: opts.table, ...(opts.columns ? { columns: opts.columns } : {}) },
    state.preprocessor.fields,
    [...keep],
  );
  const types = new Map((await opts.client.columns(opts.table)).map((c) => [c.name, c.type]));
  const defs = [
    ...keep.map((k) => `${quoteIdent(k)} ${types.get(k)!}`),
    'anomaly_score Float64',
    'cluster Int32',
    'is_anomaly UInt8',
  ];
  await opts.client.exec(
    `CREATE TABLE IF NOT EXISTS ${into} (${defs.join(', ')}) ENGINE = MergeTree ORDER BY tuple()`,
  );
  const have = new Set((await opts.client.columns(into)).map((c) => c.name));
  for (const c of [...keep, 'anomaly_score', 'cluster', 'is_anomaly']) {
    if (!have.has(c))
      throw new InputError(`${opts.client.target.display}: table ${into} has no column '${c}'`);
  }
  const count = async () => {
    const [r] = await opts.client.rows(`SELECT count(), sum(is_anomaly) FROM ${into}`);
    return { rows: Number(r![0]), anomalies: Number(r![1]) };
  };
  const before = await count();
  const cols = [...keep, 'anomaly_score', 'cluster', 'is_anomaly'].map(quoteIdent).join(', ');
  await opts.client.exec(`INSERT INTO ${into} (${cols}) ${query(state, opts)}`, scoringSettings(state));
  const now = await count();
  return { rows: now.rows - before.rows, anomalies: now.anomalies - before.anomalies };
}

export interface ScoredDbRow {
  keep: string[];
  anomalyScore: number;
  cluster: number;
  isAnomaly: boolean;
  distance: number;
}

/** Scores of the source rows, returned (for printing, alerts, comparisons). */
export async function scoreRows(
  state: DetectorState,
  opts: ScoreInDatabaseOptions & { orderBy?: string },
): Promise<ScoredDbRow[]> {
  checkSqlExact(state, opts.kmeansOnly);
  const keep = opts.keep ?? [];
  await checkSourceColumns(
    { client: opts.client, table: opts.table, ...(opts.columns ? { columns: opts.columns } : {}) },
    state.preprocessor.fields,
    [...keep],
  );
  const sql = query(state, opts, true) + (opts.orderBy ? ` ORDER BY ${opts.orderBy}` : '');
  const rows = await opts.client.rows(sql, scoringSettings(state));
  const n = keep.length;
  return rows.map((r) => ({
    keep: r.slice(0, n),
    anomalyScore: Number(r[n]),
    cluster: Number(r[n + 1]),
    isAnomaly: r[n + 2] === '1',
    distance: Number(r[n + 3]),
  }));
}
