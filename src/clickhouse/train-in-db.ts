/**
 * Training where the flows live: every pass over the data is one aggregation query on a
 * ClickHouse table (on a `Distributed` table each shard aggregates its rows and the coordinator
 * merges the partial results); only a sample and per-cluster sums come back to this process.
 *
 * 1. scaling statistics and vocabularies (two passes: sums, then squared deviations, as the
 *    library's two-pass standard deviation);
 * 2. a deterministic sample (rows ordered by a hash of their fields and the seed) for the
 *    k-means++ seeding and, with k 'auto', the elbow sweep (both the library's own code);
 * 3. per ensemble run, Lloyd iterations: each one `GROUP BY` nearest centre with `count()`,
 *    `sumForEach` of the features and of the one-hot blocks, stopping on the library's rule
 *    (centre shift ≤ tol × mean feature variance, or centres unchanged);
 * 4. the run's score scale (median training distance) and the leave-one-out threshold from
 *    order statistics of in-database scores (`quantilesExact` at exact ranks).
 *
 * The result is an ordinary AnomalyDetector (built with `fromState`), saved as an ordinary bundle.
 */
import { InputError, SchemaError } from '../errors.ts';
import {
  type FieldSpec,
  fittedScale,
  Preprocessor,
  PreprocessorOptionsSchema,
  type PreprocessorState,
} from '../features/preprocessor.ts';
import type { Matrix, Table } from '../ingest/table.ts';
import type { ModelCard } from '../model/bundle.ts';
import {
  AnomalyDetector,
  type DetectorOptions,
  DetectorOptionsSchema,
  type DetectorState,
  quantileSorted,
  type RunState,
} from '../model/detector.ts';
import { type EngineName, getEngine } from '../model/engine.ts';
import { encodedCenters } from '../model/engine-encoded.ts';
import { initialCenters } from '../model/kmeans.ts';
import { Rng } from '../model/random.ts';
import { type ElbowResult, elbowSweep } from '../model/select-k.ts';
import { type ClickHouseClient, isNumericType, isTextType, quoteIdent, quoteString } from './client.ts';
import {
  blockRows,
  type ColumnMap,
  columnSql,
  distanceItems,
  featureItems,
  floatLiteral,
  SQL_NAMES,
  transformSql,
} from './model-sql.ts';

/** A table (or Distributed table) and which of its rows to use. */
export interface DbSource {
  client: ClickHouseClient;
  /** `db.table` or `table` (the client's database). */
  table: string;
  /** SQL condition selecting the rows (default: all). */
  where?: string;
  columns?: ColumnMap;
}

/** Rows whose label is normal (or benign), as the library's `labelFamily` says. */
export function normalLabelCondition(labelColumn = 'label'): string {
  return `match(toString(${quoteIdent(labelColumn)}), ${quoteString('(?i)^\\s*(normal|benign)\\.?\\s*$')})`;
}

function whereSql(src: DbSource): string {
  return src.where ? `WHERE ${src.where}` : '';
}

/**
 * Checks that every field's column exists with a usable type (numbers for numeric fields, text
 * for categorical ones): one-line SchemaErrors naming the table and the column.
 */
export async function checkSourceColumns(
  src: DbSource,
  fields: readonly FieldSpec[],
  extra: string[] = [],
): Promise<void> {
  const cols = new Map((await src.client.columns(src.table)).map((c) => [c.name, c.type]));
  const where = `${src.client.target.display} table ${src.table}`;
  for (const f of fields) {
    const mapped = src.columns?.[f.name] ?? f.name;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(mapped)) continue; // an expression: the server checks it
    const type = cols.get(mapped);
    if (type === undefined) {
      throw new SchemaError(
        `${where}: no column '${mapped}' for field '${f.name}' (map it with --columns ${f.name}=COLUMN)`,
      );
    }
    if (f.kind === 'numeric' && !isNumericType(type)) {
      throw new SchemaError(`${where}: column '${mapped}' is ${type}; field '${f.name}' needs numbers`);
    }
    if (f.kind === 'categorical' && !isTextType(type) && !isNumericType(type)) {
      throw new SchemaError(`${where}: column '${mapped}' is ${type}; field '${f.name}' needs text`);
    }
  }
  for (const c of extra) {
    if (!cols.has(c)) throw new SchemaError(`${where}: no column '${c}'`);
  }
}

/** Preprocessor statistics and vocabularies computed in the database (what `Preprocessor.fit` computes). */
export async function fitPreprocessorInDatabase(
  src: DbSource,
  fieldSpecs: readonly FieldSpec[],
): Promise<{ state: PreprocessorState; rows: number; imputed: Record<string, number> }> {
  const fields = new Preprocessor([...fieldSpecs]).fieldSpecs();
  const numeric = fields.filter((f) => f.kind === 'numeric');
  const value = (name: string) => `toFloat64(${columnSql(name, src.columns)})`;
  const transformed = (f: (typeof fields)[number]) => {
    const v = value(f.name);
    return transformSql(f, v);
  };
  const first = [
    'count()',
    ...numeric.flatMap((f) => {
      const v = value(f.name);
      return [
        `countIf(isFinite(${v}))`,
        `countIf(isInfinite(${v}))`,
        `sumIf(${transformed(f)}, isFinite(${v}))`,
        `quantileExactIf(0.5)(${v}, isFinite(${v}))`,
      ];
    }),
  ];
  const [r1] = await src.client.rows(`SELECT ${first.join(', ')} FROM ${src.table} ${whereSql(src)}`);
  const rows = Number(r1![0]);
  if (rows === 0)
    throw new InputError(`${src.client.target.display} table ${src.table}: no rows to train on`);
  const means: Record<string, number> = {};
  const scales: Record<string, number> = {};
  const medians: Record<string, number> = {};
  const constantFields: string[] = [];
  const imputed: Record<string, number> = {};
  const counts: number[] = [];
  numeric.forEach((f, t) => {
    const n = Number(r1![1 + 4 * t]);
    const inf = Number(r1![2 + 4 * t]);
    if (inf > 0)
      throw new InputError(`${src.table}: column for field '${f.name}' holds ${inf} infinite value(s)`);
    if (n === 0) throw new InputError(`${src.table}: field '${f.name}' has no value in any training row`);
    means[f.name] = Number(r1![3 + 4 * t]) / n;
    medians[f.name] = Number(r1![4 + 4 * t]);
    counts.push(n);
    if (n < rows) imputed[f.name] = rows - n;
  });
  if (numeric.length) {
    const second = numeric.map((f) => {
      const v = value(f.name);
      return `sumIf((${transformed(f)} - ${floatLiteral(means[f.name]!)}) * (${transformed(f)} - ${floatLiteral(means[f.name]!)}), isFinite(${v}))`;
    });
    const [r2] = await src.client.rows(`SELECT ${second.join(', ')} FROM ${src.table} ${whereSql(src)}`);
    numeric.forEach((f, t) => {
      const { scale, constant } = fittedScale(f, Math.sqrt(Number(r2![t]) / counts[t]!), means[f.name]!);
      scales[f.name] = scale;
      if (constant) constantFields.push(f.name);
    });
  }
  const vocabularies: Record<string, string[]> = {};
  const categoryCounts: Record<string, number[]> = {};
  const categorical = fields.filter((f) => f.kind === 'categorical');
  // Every field's value counts in one query (one pass per field, one round trip).
  const res = categorical.length
    ? await src.client.rows(
        categorical
          .map(
            (f, i) =>
              `SELECT ${i} AS na_f, toString(${columnSql(f.name, src.columns)}) AS na_v, count() FROM ${src.table} ${whereSql(src)} GROUP BY na_v`,
          )
          .join(' UNION ALL '),
      )
    : [];
  for (const [i, f] of categorical.entries()) {
    const byValue = new Map(res.filter((r) => Number(r[0]) === i).map(([, v, c]) => [v!, Number(c)]));
    const vocab = [...byValue.keys()].sort();
    vocabularies[f.name] = vocab;
    categoryCounts[f.name] = vocab.map((v) => byValue.get(v)!);
    if (vocab.length === 1) constantFields.push(f.name);
  }
  const ordered = fields.map((f) => f.name).filter((n) => constantFields.includes(n));
  return {
    state: {
      fields: [...fields],
      options: PreprocessorOptionsSchema.parse({}),
      vocabularies,
      categoryCounts,
      means,
      scales,
      medians,
      constantFields: ordered,
      oneHotMeans: [],
      oneHotScales: [],
    },
    rows,
    imputed,
  };
}

/**
 * Up to `n` rows of the source as a Table (the model's fields), picked by a hash of the row's
 * field values and the seed: the same rows on every run, spread over every shard.
 */
export async function sampleRows(
  src: DbSource,
  fields: readonly FieldSpec[],
  n: number,
  seed: number,
): Promise<Table> {
  const exprs = fields.map((f) =>
    f.kind === 'numeric'
      ? `toFloat64(${columnSql(f.name, src.columns)})`
      : `toString(${columnSql(f.name, src.columns)})`,
  );
  const rows = await src.client.rows(
    `SELECT ${exprs.join(', ')} FROM ${src.table} ${whereSql(src)} ORDER BY cityHash64(${quoteString(String(seed))}, ${exprs.join(', ')}) LIMIT ${n}`,
  );
  const numeric: Record<string, Float64Array> = {};
  const text: Record<string, string[]> = {};
  fields.forEach((f, j) => {
    if (f.kind === 'numeric') numeric[f.name] = Float64Array.from(rows, (r) => parseFloat64(r[j]!));
    else text[f.name] = rows.map((r) => r[j]!);
  });
  return { nRows: rows.length, numeric, text };
}

function parseFloat64(s: string): number {
  if (s === 'inf' || s === '+inf') return Number.POSITIVE_INFINITY;
  if (s === '-inf') return Number.NEGATIVE_INFINITY;
  return s === 'nan' || s === '-nan' ? Number.NaN : Number(s);
}

/** `WITH` list of the feature and distance aliases for one centre matrix. */
function withCenters(src: DbSource, pre: PreprocessorState, centers: Matrix, r = 0): string {
  const layout = Preprocessor.fromState(pre).encodedLayout();
  return `WITH ${[...featureItems(pre, src.columns), ...distanceItems(r, encodedCenters(centers, layout))].join(',\n  ')}`;
}

/** `max_block_size` for a query over `centres` centres (see blockRows). */
function blocks(pre: PreprocessorState, centres: number): { max_block_size: number } {
  const numeric = pre.fields.filter((f) => f.kind === 'numeric').length;
  return { max_block_size: blockRows(centres, numeric) };
}

/** Per categorical field, `sumMap` of its codes: how many rows of the group hold each code. */
function codeCountItems(pre: PreprocessorState): string[] {
  return pre.fields
    .filter((f) => f.kind === 'categorical')
    .map((_, f) => `sumMap([toUInt32(${SQL_NAMES.code(f)})], [toUInt64(1)])`);
}

/** Parses a `sumMap` result `([k1,k2],[v1,v2])` into pairs. */
function parseSumMap(s: string): [number, number][] {
  const m = /^\(\[([^\]]*)\],\[([^\]]*)\]\)$/.exec(s.trim());
  if (!m) throw new InputError(`unexpected sumMap result ${s.slice(0, 80)}`);
  const keys = m[1] ? m[1].split(',').map(Number) : [];
  const values = m[2] ? m[2].split(',').map(Number) : [];
  return keys.map((key, i) => [key, values[i]!]);
}

export interface ClusterSums {
  counts: Float64Array;
  /** Per cluster, the sum of its rows' dense feature vectors (model layout). */
  sums: Float64Array;
  /** Σ of each row's squared distance to its nearest centre. */
  inertia: number;
}

/** One Lloyd aggregation: rows grouped by nearest centre, with counts, feature sums and distances. */
export async function clusterSums(
  src: DbSource,
  pre: PreprocessorState,
  centers: Matrix,
): Promise<ClusterSums> {
  const layout = Preprocessor.fromState(pre).encodedLayout();
  const k = centers.rows;
  const d = layout.cols;
  const select = [
    SQL_NAMES.label(0),
    'count()',
    `sumForEach(${SQL_NAMES.features})`,
    ...codeCountItems(pre),
    `sum(${SQL_NAMES.min(0)})`,
  ];
  const rows = await src.client.rows(
    `${withCenters(src, pre, centers)}\nSELECT ${select.join(', ')} FROM ${src.table} ${whereSql(src)} GROUP BY ${SQL_NAMES.label(0)}`,
    blocks(pre, k),
  );
  const counts = new Float64Array(k);
  const sums = new Float64Array(k * d);
  let inertia = 0;
  const dn = layout.numericColumns.length;
  for (const row of rows) {
    const c = Number(row[0]);
    counts[c] = Number(row[1]);
    const num = parseArray(row[2]!);
    for (let t = 0; t < dn; t++) sums[c * d + layout.numericColumns[t]!] = num[t] ?? 0;
    layout.categorical.forEach((b, f) => {
      // The library sums float32 one-hot values in float64: count × weight, exactly.
      const w = Math.fround(b.weight);
      for (const [code, count] of parseSumMap(row[3 + f]!)) sums[c * d + b.offset + code - 1] = count * w;
    });
    inertia += Number(row[3 + layout.categorical.length]);
  }
  return { counts, sums, inertia };
}

function parseArray(s: string): number[] {
  const body = s.trim().replace(/^\[|\]$/g, '');
  return body === '' ? [] : body.split(',').map(parseFloat64);
}

/** The rows farthest from their nearest centre (dense feature vectors), for empty clusters. */
async function farthestRows(
  src: DbSource,
  pre: PreprocessorState,
  centers: Matrix,
  m: number,
): Promise<number[][]> {
  const layout = Preprocessor.fromState(pre).encodedLayout();
  const codes = layout.categorical.map((_, f) => SQL_NAMES.code(f));
  const rows = await src.client.rows(
    `${withCenters(src, pre, centers)}\nSELECT ${[SQL_NAMES.features, ...codes].join(', ')} FROM ${src.table} ${whereSql(src)} ORDER BY ${SQL_NAMES.min(0)} DESC LIMIT ${m}`,
    blocks(pre, centers.rows),
  );
  return rows.map((row) => {
    const x = new Array<number>(layout.cols).fill(0);
    const num = parseArray(row[0]!);
    layout.numericColumns.forEach((col, t) => {
      x[col] = num[t]!;
    });
    layout.categorical.forEach((b, f) => {
      x[b.offset + Number(row[1 + f]) - 1] = Math.fround(b.weight);
    });
    return x;
  });
}

/** Mean over the model's dense columns of each column's variance, in the database (the tolerance scale). */
export async function meanVarianceInDatabase(src: DbSource, pre: PreprocessorState): Promise<number> {
  const layout = Preprocessor.fromState(pre).encodedLayout();
  const items = featureItems(pre, src.columns);
  const x = SQL_NAMES.features;
  const rows = await src.client.rows(
    `WITH ${items.join(', ')}\nSELECT count(), sumForEach(${x}), sumForEach(arrayMap(v -> v * v, ${x})) FROM ${src.table} ${whereSql(src)}`,
  );
  const n = Number(rows[0]![0]);
  const s1 = parseArray(rows[0]![1]!);
  const s2 = parseArray(rows[0]![2]!);
  let total = 0;
  for (let t = 0; t < s1.length; t++) {
    const m = s1[t]! / n;
    total += Math.max(0, s2[t]! / n - m * m);
  }
  for (const b of layout.categorical) {
    const counts = pre.categoryCounts[b.field]!;
    const w = Math.fround(b.weight);
    for (const c of [...counts, 0]) {
      const m = (w * c) / n;
      total += Math.max(0, (w * w * c) / n - m * m);
    }
  }
  return total / layout.cols;
}

export interface LloydResult {
  centers: Matrix;
  inertia: number;
  nIter: number;
  counts: Float64Array;
  /** Median of √(squared distance to the nearest centre) over the rows: the run's score scale. */
  scale: number;
}

/**
 * Lloyd's algorithm in the database from given centres (float32, as the library keeps them):
 * per iteration one distributed aggregation, centres = sums / counts (float64, rounded to
 * float32), empty clusters moved to the rows farthest from their centre; stops when the centres
 * moved by at most `tolAbs` (squared shift, as KMeans) or after `maxIter` iterations. Then one
 * more pass gives the labels' counts and the inertia for the final centres.
 */
export async function lloydInDatabase(
  src: DbSource,
  pre: PreprocessorState,
  init: Matrix,
  opts: {
    maxIter: number;
    tolAbs: number;
    /** Rows of the source (counted when not given). */
    rows?: number;
    onIteration?: (it: number, shift: number) => void;
  },
): Promise<LloydResult> {
  const k = init.rows;
  const d = init.cols;
  let centers: Matrix = { data: Float32Array.from(init.data), rows: k, cols: d };
  let nIter = 0;
  for (let it = 0; it < opts.maxIter; it++) {
    nIter = it + 1;
    const { counts, sums } = await clusterSums(src, pre, centers);
    const next = new Float32Array(k * d);
    const empty: number[] = [];
    for (let c = 0; c < k; c++) {
      if (counts[c]! < 0.5) empty.push(c);
      else for (let j = 0; j < d; j++) next[c * d + j] = sums[c * d + j]! / counts[c]!;
    }
    if (empty.length) {
      const far = await farthestRows(src, pre, centers, empty.length);
      empty.forEach((c, e) => {
        if (far[e]) next.set(far[e]!, c * d);
      });
    }
    let shift = 0;
    for (let i = 0; i < next.length; i++) {
      const t = centers.data[i]! - next[i]!;
      shift += t * t;
    }
    centers = { data: next, rows: k, cols: d };
    opts.onIteration?.(nIter, shift);
    if (shift <= opts.tolAbs) break;
  }
  return { centers, nIter, ...(await finalPass(src, pre, centers, opts.rows)) };
}

/**
 * One pass with the final centres: rows per cluster, the inertia and the median distance (the
 * two middle order statistics, interpolated as the library's median).
 */
async function finalPass(
  src: DbSource,
  pre: PreprocessorState,
  centers: Matrix,
  rows?: number,
): Promise<{ counts: Float64Array; inertia: number; scale: number }> {
  const n =
    rows ?? Number((await src.client.rows(`SELECT count() FROM ${src.table} ${whereSql(src)}`))[0]![0]);
  const pos = (n - 1) * 0.5;
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  const levels = [lo, hi].map((r) => floatLiteral(Math.min(1, (r + 0.5) / n)));
  const m = SQL_NAMES.min(0);
  const [row] = await src.client.rows(
    `${withCenters(src, pre, centers)}\nSELECT sumMap([toUInt32(${SQL_NAMES.label(0)})], [toUInt64(1)]), sum(${m}), quantilesExact(${levels.join(', ')})(${m}) FROM ${src.table} ${whereSql(src)}`,
    blocks(pre, centers.rows),
  );
  const counts = new Float64Array(centers.rows);
  for (const [c, count] of parseSumMap(row![0]!)) counts[c] = count;
  const [a, b] = parseArray(row![2]!);
  const median = Math.sqrt(a! + (b! - a!) * (pos - lo));
  return { counts, inertia: Number(row![1]), scale: median > 0 ? median : 1 };
}

/** Values of rank `ranks` (0-based, ascending) of a per-row expression, exact (`quantilesExact` at exact ranks). */
async function orderStatistics(
  src: DbSource,
  withClause: string,
  expr: string,
  n: number,
  ranks: number[],
  settings: { max_block_size: number },
): Promise<number[]> {
  const levels = ranks.map((r) => floatLiteral(Math.min(1, (r + 0.5) / n)));
  const [row] = await src.client.rows(
    `${withClause}\nSELECT quantilesExact(${levels.join(', ')})(${expr}) FROM ${src.table} ${whereSql(src)}`,
    settings,
  );
  return parseArray(row![0]!);
}

/**
 * The leave-one-out score expression of every row (see AnomalyDetector): per run, the distance
 * to the own centre × n/(n − 1) (∞ for a singleton) or to the nearest other centre.
 */
function looItems(runs: { counts: Float64Array; scale: number }[]): string[] {
  const items: string[] = [];
  runs.forEach((run, r) => {
    const k = run.counts.length;
    const d = SQL_NAMES.dist2(r);
    const own = `(${SQL_NAMES.label(r)} + 1)`;
    const sizes = `arrayElement(${`[${Array.from(run.counts, (c) => floatLiteral(c)).join(',')}]`}, ${own})`;
    items.push(
      `arrayReduce('min', arrayMap((v, i, o, n) -> if(i = o, if(n > 1, v * n / (n - 1), inf), v), ` +
        `arrayMap(v -> sqrt(v), ${d}), arrayEnumerate(${d}), arrayResize([${own}], ${k}, ${own}), arrayResize([${sizes}], ${k}, ${sizes}))) / ${floatLiteral(run.scale)} AS na_loo${r}`,
    );
  });
  items.push(`(${runs.map((_, r) => `na_loo${r}`).join(' + ')}) / ${floatLiteral(runs.length)} AS na_loo`);
  return items;
}

export interface TrainInDatabaseOptions {
  source: DbSource;
  fields: FieldSpec[];
  /** Shown in the model card (e.g. the URL and the table). */
  sourceName: string;
  format: string;
  trainOn: 'normal' | 'all';
  k?: 'auto' | number;
  kMin?: number;
  kMax?: number;
  detector?: Omit<DetectorOptions, 'k'>;
  /** Ensemble runs whose Lloyd loops run at the same time (default 3; the same centres either way). */
  concurrentRuns?: number;
  /** Rows fetched for the k-means++ seeding and the elbow sweep (default 20,000). */
  sampleRows?: number;
  onProgress?: (step: string) => void;
}

export interface TrainInDatabaseResult {
  detector: AnomalyDetector;
  card: ModelCard;
  elbow: ElbowResult | null;
}

export async function trainInDatabase(opts: TrainInDatabaseOptions): Promise<TrainInDatabaseResult> {
  const progress = opts.onProgress ?? (() => {});
  const src = opts.source;
  progress(`checking ${opts.sourceName}`);
  await checkSourceColumns(src, opts.fields);
  progress('scaling statistics and vocabularies in the database');
  const { state: pre, rows, imputed } = await fitPreprocessorInDatabase(src, opts.fields);
  const preprocessor = Preprocessor.fromState(pre);
  const seed = opts.detector?.seed ?? 0;
  progress('sampling rows for seeding');
  const sample = await sampleRows(src, pre.fields, opts.sampleRows ?? 20_000, seed);
  const Xs = preprocessor.transform(sample).X;
  let k: number;
  let elbow: ElbowResult | null = null;
  let kChoice: string;
  if (opts.k === undefined || opts.k === 'auto') {
    const kMax = Math.min(opts.kMax ?? 30, Math.max(3, Math.floor(Xs.rows / 2)));
    elbow = await elbowSweep(Xs, { kMin: opts.kMin ?? 2, kMax, mode: 'fast', seed }, (done, total, kk) =>
      progress(`elbow sweep on the sample ${done}/${total} (k=${kk})`),
    );
    k = elbow.recommended;
    kChoice = `auto: ${elbow.rationale} (on a sample of ${Xs.rows} rows)`;
  } else {
    k = opts.k;
    kChoice = `set by the user: k=${k}`;
  }
  // in the database there are no row groups: 'auto' means leave-one-out, as in process
  const parsed = DetectorOptionsSchema.parse({ ...opts.detector, k });
  if (parsed.calibration !== 'loo' && parsed.calibration !== 'auto')
    throw new InputError('training in the database calibrates leave-one-out only');
  const options = { ...parsed, calibration: 'loo' as const };
  const shell = new AnomalyDetector(pre.fields, options);
  if (rows < k) throw new InputError(`n_samples=${rows} should be >= k=${k}`);
  const ks = shell.runKs(rows);
  const engine = await getEngine(options.engine as EngineName | 'auto');
  progress('mean feature variance (tolerance scale)');
  const tolAbs = 1e-4 * (await meanVarianceInDatabase(src, pre));
  // Seeds in order (the library's), then the runs' Lloyd loops side by side: each iteration is
  // a round trip of analysis on the coordinator and execution on the shards, so runs in flight
  // together keep the shards busy while the coordinator analyses another run's query.
  const seeded: { r: number; kr: number; init: Matrix }[] = [];
  for (const [r, kr] of ks.entries()) {
    if (distinctRows(Xs, kr) < kr) {
      if (r === 0)
        throw new InputError(`need at least k=${kr} distinct rows in the sample to seed, found fewer`);
      continue;
    }
    const seeds = new Rng(seed + 1000 * r);
    seeded.push({
      r,
      kr,
      init: await initialCenters(Xs, kr, 'k-means++', engine, new Rng(seeds.int(2 ** 31))),
    });
  }
  const fitted = await inParallel(seeded, opts.concurrentRuns ?? 3, async ({ r, kr, init }) => {
    const res = await lloydInDatabase(src, pre, init, {
      maxIter: options.maxIter,
      tolAbs,
      rows,
      onIteration: (it, shift) =>
        progress(
          `run ${r + 1}/${ks.length} (k=${kr}): Lloyd iteration ${it}, shift ${shift.toExponential(2)}`,
        ),
    });
    return {
      state: {
        kmeans: {
          k: kr,
          nFeatures: res.centers.cols,
          centers: Array.from(res.centers.data),
          inertia: res.inertia,
          nIter: res.nIter,
        },
        scale: res.scale,
      },
      counts: res.counts,
    };
  });
  const runs: { state: RunState; counts: Float64Array }[] = fitted;
  progress('leave-one-out threshold from in-database scores');
  const layout = preprocessor.encodedLayout();
  const distance = runs.flatMap((run, r) =>
    distanceItems(
      r,
      encodedCenters(
        { data: Float32Array.from(run.state.kmeans.centers), rows: run.state.kmeans.k, cols: layout.cols },
        layout,
      ),
    ),
  );
  const withLoo = `WITH ${[...featureItems(pre, src.columns), ...distance, ...looItems(runs.map((r) => ({ counts: r.counts, scale: r.state.scale })))].join(',\n  ')}`;
  const tPos = (rows - 1) * (1 - options.targetFpr);
  const tLo = Math.floor(tPos);
  const ranks = [tLo, Math.min(rows - 1, tLo + 1)];
  const pct: { lo: number; frac: number }[] = [];
  for (let p = 0; p <= 100; p++) {
    const pos = (rows - 1) * (p / 100);
    const lo = Math.floor(pos);
    pct.push({ lo, frac: pos - lo });
    ranks.push(lo, Math.min(rows - 1, lo + 1));
  }
  const allCentres = blocks(
    pre,
    runs.reduce((a, r) => a + r.state.kmeans.k, 0),
  );
  const stats = await orderStatistics(src, withLoo, 'na_loo', rows, ranks, allCentres);
  const threshold = stats[0]! + (stats[1]! - stats[0]!) * (tPos - tLo);
  const scorePercentiles = pct.map((p, i) => {
    const a = stats[2 + 2 * i]!;
    const b = stats[3 + 2 * i]!;
    return quantileSorted([a, b], p.frac);
  });
  const [above] = await src.client.rows(
    `${withLoo}\nSELECT countIf(na_loo > ${floatLiteral(threshold)}) FROM ${src.table} ${whereSql(src)}`,
    allCentres,
  );
  const state: DetectorState = {
    options,
    preprocessor: pre,
    runs: runs.map((r) => r.state),
    threshold,
    training: {
      rows,
      fitRows: rows,
      calibration: 'loo',
      calibrationRows: rows,
      clusterSizes: Array.from(runs[0]!.counts),
      scorePercentiles,
      calibrationFpr: Number(above![0]) / rows,
      transform: { rows, imputed, unknownCategories: {} },
    },
  };
  const detector = AnomalyDetector.fromState(state);
  const card: ModelCard = {
    data: { source: opts.sourceName, format: opts.format, trainOn: opts.trainOn, rows },
    kChoice,
    elbow: elbow ? { ...elbow } : undefined,
    createdAt: new Date().toISOString(),
  };
  return { detector, card, elbow };
}

/** `f` over `items` with at most `limit` calls in flight; results in the items' order. */
async function inParallel<T, R>(
  items: readonly T[],
  limit: number,
  f: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** Distinct rows of a matrix, counting up to `limit`. */
function distinctRows(X: Matrix, limit: number): number {
  const seen = new Set<string>();
  const bytes = new Uint8Array(X.data.buffer, X.data.byteOffset, X.data.byteLength);
  const w = X.cols * 4;
  for (let i = 0; i < X.rows && seen.size < limit; i++) {
    seen.add(Buffer.from(bytes.subarray(i * w, (i + 1) * w)).toString('latin1'));
  }
  return seen.size;
}
