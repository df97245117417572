/**
 * A model bundle as ClickHouse SQL: the preprocessing of model.json and the distances to every
 * centre of every ensemble run, so a flows table is scored where it lives.
 *
 * Per row, exactly as the library computes it (Float64 throughout, tested ≤ 1e-6 relative):
 *
 * - numeric field: v → sign(v)·log1p(|v| / logUnit) when its transform is log1p (written
 *   `ln(1 + v)`: 18.16 has no `log1p`), minus `means[field]`, over `scales[field] / weight`, then rounded to Float32
 *   and back (the library's feature matrix is float32; rounding here keeps the same values); a
 *   non-finite value (NaN) is imputed with 0, the training mean;
 * - categorical field: its code is the 1-based position of the value in `vocabularies[field]`,
 *   unknown values the last slot; the one-hot part of ‖x − c‖² is the per-centre lookup of the
 *   encoded scorer (model/engine-encoded.ts): catBase[c] + Σ_f terms_f[code_f][c], floored at 0;
 * - per run r: squared distances to its k centres (Σ over numeric columns of (x − c)², plus the
 *   lookup), the nearest centre and its distance; `anomaly_score` = mean over runs of
 *   √(nearest d²) / scale_r; `cluster` = nearest centre of the first run (0-based);
 *   `is_anomaly` = anomaly_score > threshold.
 *
 * The per-row work sits in one SELECT level over the source table, so on a `Distributed` table
 * each shard computes its rows' scores (and, for training, its partial sums). The SQL keeps to
 * what ClickHouse 18.16 has (no log1p, no sign) and runs unchanged on current releases (chdb
 * 26.7, test/clickhouse/chdb.test.ts). Its lambdas capture no column: 18.16 loses a captured
 * column when the outer query does not select the captured alias (or when the function also
 * takes a column-derived array), so the feature vector goes in as an argument replicated k times
 * (`arrayResize([x], k, x)`).
 *
 * What made 18.16 slow, and how the SQL avoids it (docs/clickhouse.md has the figures): the
 * server pastes an alias's expression wherever the alias is used and analyses every copy, and it
 * names a literal array of up to 100 elements by its whole text, rebuilt at every enclosing node.
 * So the scoring query writes every heavy part once (scoreTupleExpr: lambda parameters stand for
 * reused values), pads short constant arrays past 100 elements (constArray), and looks the
 * categorical terms up with one `arrayElement` per field rather than k `transform`s.
 */
import { InputError } from '../errors.ts';
import type { EncodedLayout } from '../features/encoded.ts';
import { type FieldSpec, Preprocessor, type PreprocessorState } from '../features/preprocessor.ts';
import type { Matrix } from '../ingest/table.ts';
import type { DetectorState } from '../model/detector.ts';
import { type EncodedCenters, encodedCenters } from '../model/engine-encoded.ts';
import { quoteIdent, quoteString } from './client.ts';

/** Model field → table column (a plain name) or SQL expression; fields not listed use their own name. */
export type ColumnMap = Readonly<Record<string, string>>;

/** Names of the helper columns (prefixed so they never meet a user's column). */
export const SQL_NAMES = {
  features: 'na_x',
  code: (f: number) => `na_c${f}`,
  dist2: (r: number) => `na_d${r}`,
  min: (r: number) => `na_m${r}`,
  label: (r: number) => `na_l${r}`,
} as const;

/** A float literal ClickHouse reads back to the same double (shortest round trip, always a Float64). */
export function floatLiteral(v: number): string {
  if (!Number.isFinite(v)) throw new InputError(`model holds a non-finite number (${v}); cannot write SQL`);
  const s = String(v);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/** The SQL of a numeric field's transform (preprocessor `forwardValue`) applied to `v`. */
export function transformSql(f: Pick<FieldSpec, 'transform' | 'logUnit'>, v: string): string {
  if (f.transform !== 'log1p') return v;
  const x = f.logUnit === undefined || f.logUnit === 1 ? v : `(${v} / ${floatLiteral(f.logUnit)})`;
  return `if(${x} >= 0, ln(1 + ${x}), -ln(1 - ${x}))`;
}

/**
 * A constant array of `items` (SQL texts of one type) that analyses fast on 18.16: the server
 * names a literal array of up to 100 elements by its whole text, rebuilt at every enclosing
 * expression, and a longer one by a hash; shorter arrays are padded past 100 with `pad` and cut
 * back by `arrayResize` (folded once, at analysis).
 */
function constArray(items: readonly string[], pad: string): string {
  if (items.length > 100) return `[${items.join(',')}]`;
  const padded = [...items, ...new Array<string>(101 - items.length).fill(pad)];
  return `arrayResize([${padded.join(',')}], ${items.length})`;
}

function floatArray(values: ArrayLike<number>): string {
  const out = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = floatLiteral(values[i]!);
  return `[${out.join(',')}]`;
}

/** The SQL for a field's source: its mapped column (quoted) or the mapped expression (parenthesised). */
export function columnSql(field: string, columns: ColumnMap = {}): string {
  const src = columns[field] ?? field;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(src) ? quoteIdent(src) : `(${src})`;
}

/** A model's preprocessing and runs in the shapes the SQL needs. */
export interface SqlModel {
  pre: PreprocessorState;
  layout: EncodedLayout;
  runs: { centers: Matrix; encoded: EncodedCenters; scale: number }[];
  threshold: number;
}

export function sqlModel(state: DetectorState): SqlModel {
  if (state.preprocessor.options.scaleOneHot) {
    throw new InputError(
      'this model standard-scales one-hot columns (scaleOneHot); SQL export needs the default',
    );
  }
  const layout = Preprocessor.fromState(state.preprocessor).encodedLayout();
  const runs = state.runs.map((r) => {
    const centers: Matrix = {
      data: Float32Array.from(r.kmeans.centers),
      rows: r.kmeans.k,
      cols: r.kmeans.nFeatures,
    };
    return { centers, encoded: encodedCenters(centers, layout), scale: r.scale };
  });
  return { pre: state.preprocessor, layout, runs, threshold: state.threshold };
}

/**
 * Select items (`expr AS alias`) for the feature vector `na_x` (numeric fields, in field order,
 * preprocessed) and the 1-based codes `na_c{f}` of the categorical fields.
 */
export function featureItems(pre: PreprocessorState, columns: ColumnMap = {}): string[] {
  const numeric: string[] = [];
  const items: string[] = [];
  let f = 0;
  for (const field of pre.fields) {
    const col = columnSql(field.name, columns);
    if (field.kind === 'numeric') {
      const mean = pre.means[field.name]!;
      const scale = pre.scales[field.name]! / field.weight;
      const v = `toFloat64(${col})`;
      const t = transformSql(field, v);
      numeric.push(
        `toFloat64(toFloat32(if(isFinite(${v}), (${t} - ${floatLiteral(mean)}) / ${floatLiteral(scale)}, 0.0)))`,
      );
    } else {
      const vocab = pre.vocabularies[field.name]!;
      const name = SQL_NAMES.code(f++);
      const idx = `indexOf([${vocab.map(quoteString).join(',')}], toString(${col}))`;
      items.push(`if((${idx} AS ${name}_i) = 0, ${vocab.length + 1}, ${name}_i) AS ${name}`);
    }
  }
  items.unshift(`[${numeric.join(', ')}] AS ${SQL_NAMES.features}`);
  return items;
}

/**
 * Select items for one centre set (given in the model's dense layout): `na_d{r}` (squared
 * distances to its k centres), `na_m{r}` (the smallest) and `na_l{r}` (its 0-based index, the
 * first on ties as the library). Per centre: Σ_t (x_t − c_t)² over the numeric columns (summed
 * left to right as the library does) plus the categorical lookup
 * `greatest(catBase + term_0[code_0] + …, 0)` of the encoded scorer.
 */
export function distanceItems(r: number, P: EncodedCenters): string[] {
  const codes = P.layout.categorical.map((_, f) => SQL_NAMES.code(f));
  const d = SQL_NAMES.dist2(r);
  const m = SQL_NAMES.min(r);
  return [
    `${distanceExpr(P, SQL_NAMES.features, codes)} AS ${d}`,
    `arrayReduce('min', ${d}) AS ${m}`,
    `toInt32(indexOf(${d}, ${m}) - 1) AS ${SQL_NAMES.label(r)}`,
  ];
}

/**
 * The array of squared distances from the feature vector `x` (an Array(Float64) expression) with
 * categorical codes `codes` (UInt expressions) to the k centres of P. Each of `x` and `codes`
 * appears once per centre set in the text (`codes` inside k lookups: pass short names).
 */
export function distanceExpr(P: EncodedCenters, x: string, codes: readonly string[]): string {
  const k = P.k;
  const dn = P.layout.numericColumns.length;
  const nc = P.layout.categorical.length;
  const rows: string[] = [];
  for (let c = 0; c < k; c++) rows.push(floatArray(P.numeric.subarray(c * dn, (c + 1) * dn)));
  const ts = Array.from({ length: nc }, (_, f) => `t${f}`);
  // Per field, the k terms of the row's code: `arrayElement` of a constant array (one array of k
  // terms per code) at the code, a lookup per row (18.16 keeps the constant as it is; k scalar
  // `transform`s per field instead made the query 20× slower to analyse and to run).
  const lookups = P.layout.categorical.map((b, f) => {
    const terms = P.catTerms[f]!;
    const perCode: string[] = [];
    for (let j = 0; j < b.width; j++) perCode.push(floatArray(terms.subarray(j * k, (j + 1) * k)));
    return `arrayElement(${constArray(perCode, '[0.0]')}, ${codes[f]})`;
  });
  return (
    `arrayMap((${['cn', 'cb', ...ts, 'xx'].join(', ')}) -> arraySum(arrayMap((a, b) -> (a - b) * (a - b), xx, cn)) + greatest(${['cb', ...ts].join(' + ')}, 0.0), ` +
    `${constArray(rows, '[0.0]')}, ${constArray(Array.from(P.catBase, floatLiteral), '0.0')}, ${[...lookups, ''].join(', ')}arrayResize([${x}], ${k}, ${x}))`
  );
}

/**
 * One expression per row for the whole model: the tuple (anomaly_score, cluster, squared
 * distance to the cluster's centre). 18.16 pastes an alias's whole expression wherever the alias
 * is used and analyses every copy, so here every heavy part is written once: the feature vector
 * and the codes enter as arguments of an outer lambda (`na_px`, `na_pc{f}`), each run's
 * distance array as the argument of a lambda taking its minimum and that minimum's index, and the
 * runs' (minimum, index) tuples as the arguments of the lambda forming the result. No lambda
 * captures a column (see the module comment).
 */
export function scoreTupleExpr(model: SqlModel, columns: ColumnMap = {}): string {
  const items = featureItems(model.pre, columns).map((it) => it.replace(/ AS na_(x|c\d+)$/, ''));
  const nc = model.layout.categorical.length;
  const codes = Array.from({ length: nc }, (_, f) => `na_pc${f}`);
  const perRun = model.runs.map(
    (run) =>
      `[arrayMap(dd -> tuple(arrayReduce('min', dd), toInt32(indexOf(dd, arrayReduce('min', dd)) - 1)), [${distanceExpr(run.encoded, 'na_px', codes)}])[1]]`,
  );
  const ts = model.runs.map((_, r) => `na_t${r}`);
  const score = model.runs
    .map((run, r) => `sqrt(tupleElement(na_t${r}, 1)) / ${floatLiteral(run.scale)}`)
    .join(' + ');
  const result = `arrayMap((${ts.join(', ')}) -> tuple((${score}) / ${floatLiteral(model.runs.length)}, tupleElement(na_t0, 2), tupleElement(na_t0, 1)), ${perRun.join(', ')})[1]`;
  return `arrayMap((${['na_px', ...codes].join(', ')}) -> ${result}, ${items.map((it) => `[${it}]`).join(', ')})[1]`;
}

/**
 * Rows per block for a query holding `centres` centres of `cols` numeric columns: 18.16
 * materialises every constant centre array in each row of a block, so a block holds about 2 M
 * numbers per array (1,024 rows at 56 centres of KDD's 38 columns, 110 rows at 500 centres).
 */
export function blockRows(centres: number, cols: number): number {
  return Math.max(64, Math.min(65_536, Math.floor((1 << 21) / Math.max(1, centres * cols))));
}

/** `max_block_size` for scoring with a model (all its centres in one query). */
export function modelBlockSettings(model: SqlModel): { max_block_size: number } {
  const centres = model.runs.reduce((a, r) => a + r.centers.rows, 0);
  return { max_block_size: blockRows(centres, model.layout.numericColumns.length) };
}

export interface ScoreQueryOptions {
  columns?: ColumnMap;
  /** Source columns passed through beside the scores (e.g. an id, the flow identity). */
  keep?: readonly string[];
  /** A WHERE condition on the source. */
  where?: string;
  /** Only rows above the threshold. */
  onlyAnomalies?: boolean;
  /** Also `distance`: Euclidean distance to the row's cluster centre (first run). */
  withDistance?: boolean;
}

/**
 * The scoring query: `keep…, anomaly_score, cluster, is_anomaly` per row of `source` (a table,
 * possibly Distributed, or a parenthesised subquery). The inner level does the work (on the
 * shards for a Distributed table: one tuple per row, scoreTupleExpr); the outer one only takes
 * the tuple apart and compares with the threshold.
 */
export function scoreQuery(model: SqlModel, source: string, opts: ScoreQueryOptions = {}): string {
  const keep = (opts.keep ?? []).map(quoteIdent);
  const s = 'na_s';
  const outputs = [
    ...keep,
    `tupleElement(${s}, 1) AS anomaly_score`,
    `tupleElement(${s}, 2) AS cluster`,
    `toUInt8(anomaly_score > ${floatLiteral(model.threshold)}) AS is_anomaly`,
  ];
  if (opts.withDistance) outputs.push(`sqrt(tupleElement(${s}, 3)) AS distance`);
  return (
    `SELECT ${outputs.join(', ')}\nFROM (\n  SELECT ${[...keep, `${scoreTupleExpr(model, opts.columns)} AS ${s}`].join(', ')}\n  FROM ${source}` +
    (opts.where ? `\n  WHERE ${opts.where}` : '') +
    `\n)${opts.onlyAnomalies ? '\nWHERE is_anomaly = 1' : ''}`
  );
}

export interface ExportSqlOptions extends ScoreQueryOptions {
  /** Table the query reads (default `flows`). */
  source?: string;
  /** Name of the view (default `netanomaly_scores`). */
  view?: string;
  /** Table the materialized view writes into (default `netanomaly_alerts`). */
  target?: string;
  /** What the header says about the model (directory, SHA-256). */
  origin?: string;
}

/**
 * The `export --format clickhouse` file: a header, the scoring query (ends with `;`, runs as it
 * is), then commented-out view and materialized-view forms to adapt.
 */
export function exportClickHouseSql(state: DetectorState, opts: ExportSqlOptions = {}): string {
  const model = sqlModel(state);
  const source = opts.source ?? 'flows';
  const view = opts.view ?? 'netanomaly_scores';
  const target = opts.target ?? 'netanomaly_alerts';
  const keep = opts.keep ?? [];
  const query = scoreQuery(model, source, opts);
  const mapped = Object.entries(opts.columns ?? {});
  const comment = (s: string) =>
    s
      .split('\n')
      .map((l) => `-- ${l}`)
      .join('\n');
  const keepTypes = keep.map((k) => `${quoteIdent(k)} <type of ${k}>`).join(', ');
  return [
    `-- netanomaly model as ClickHouse SQL${opts.origin ? ` (${opts.origin})` : ''}`,
    `-- runs: ${model.runs.map((r) => `k=${r.centers.rows}`).join(', ')}; threshold ${model.threshold}`,
    `-- reads ${source}; fields → columns: ${mapped.length ? mapped.map(([f, c]) => `${f} ← ${c}`).join(', ') : 'canonical names (each field is the column of the same name)'}`,
    `-- needs max_query_size >= ${Math.ceil(query.length / 1024 / 1024) + 1} MiB (the centres are literals):`,
    `--   clickhouse-client --max_query_size=${(Math.ceil(query.length / 1024 / 1024) + 1) << 20} --multiquery < this.sql`,
    `-- outputs per row: ${[...keep, 'anomaly_score', 'cluster', 'is_anomaly'].join(', ')}`,
    '',
    `${query};`,
    '',
    '-- View form (scores computed when the view is read):',
    comment(`CREATE VIEW ${view} AS\n${query};`),
    '',
    `-- Materialized-view form: every block inserted into ${source} is scored on insert and its`,
    `-- anomalies appended to ${target} (create ${target} first, e.g.:`,
    `--   CREATE TABLE ${target} (${keepTypes ? `${keepTypes}, ` : ''}anomaly_score Float64, cluster Int32, is_anomaly UInt8) ENGINE = MergeTree ORDER BY tuple())`,
    comment(
      `CREATE MATERIALIZED VIEW ${view}_mv TO ${target} AS\n${scoreQuery(model, source, { ...opts, onlyAnomalies: true })};`,
    ),
    '',
  ].join('\n');
}
