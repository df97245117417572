/**
 * The ClickHouse branches of `train --from`, `score --from … [--into TABLE]`, `export --format
 * clickhouse` and `watch --from` (thin: the work is in src/clickhouse/).
 */
import { writeFile } from 'node:fs/promises';
import { InvalidArgumentError, Option } from 'commander';
import { ClickHouseClient, parseClickHouseUrl } from '../../clickhouse/client.ts';
import { goflow2ColumnMap } from '../../clickhouse/goflow2.ts';
import type { ColumnMap } from '../../clickhouse/model-sql.ts';
import { exportClickHouseSql } from '../../clickhouse/model-sql.ts';
import { scoreIntoTable, scoreRows } from '../../clickhouse/score-in-db.ts';
import { type FollowResult, followTable } from '../../clickhouse/source.ts';
import { normalLabelCondition, trainInDatabase } from '../../clickhouse/train-in-db.ts';
import { InputError } from '../../errors.ts';
import { flowFieldSpecs } from '../../features/flow-fields.ts';
import { kddFieldSpecs } from '../../features/kdd-fields.ts';
import type { FieldSpec } from '../../features/preprocessor.ts';
import { type LoadedModel, saveModel } from '../../model/bundle.ts';
import { formatNumber } from '../progress.ts';

/** Key of the `--columns goflow2` preset in a parsed map (resolved against the model's fields). */
const PRESET = '@preset';

function parseColumnMap(value: string): ColumnMap {
  const map: Record<string, string> = {};
  const preset = /^\s*goflow2\s*(?:,|$)/.exec(value);
  if (preset) {
    map[PRESET] = 'goflow2';
    value = value.slice(preset[0].length);
    if (value.trim() === '') return map;
  }
  // A new pair starts at `,NAME=`: expressions may hold commas (multiIf(Proto = 6, 'tcp', …)).
  for (const part of value.split(/,(?=\s*[A-Za-z_][A-Za-z0-9_]*=)/)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`expected FIELD=COLUMN[,FIELD=COLUMN…], got '${part}'`);
    map[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return map;
}

/** The map with `goflow2` expanded for these fields (explicit pairs win). */
function resolveColumns(map: unknown, fields: readonly FieldSpec[]): ColumnMap | undefined {
  if (!map) return undefined;
  const { [PRESET]: preset, ...rest } = map as Record<string, string>;
  return preset === 'goflow2' ? { ...goflow2ColumnMap(fields), ...rest } : rest;
}

function parseList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function parseInts(value: string): number[] {
  if (value === 'none') return [];
  return parseList(value).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`'${s}' is not an integer >= 1`);
    return n;
  });
}

export const clickhouseOptions = {
  kmeansOnly: () =>
    new Option(
      '--kmeans-only',
      'with --from / --format clickhouse: use a model with a field tail anyway (its K-Means part alone)',
    ),
  from: (what: string) => new Option('--from <url>', what),
  into: () =>
    new Option('--into <table>', 'with --from: write the scores into this table (created if missing)'),
  table: () =>
    new Option('--table <table>', 'with --format clickhouse: the flows table the SQL reads').default('flows'),
  columns: () =>
    new Option(
      '--columns <map>',
      'ClickHouse: model field → table column or SQL expression, FIELD=COLUMN,… (default: the field names); goflow2[,FIELD=…] maps a GoFlow2 table',
    ).argParser(parseColumnMap),
  keep: () =>
    new Option(
      '--keep <columns>',
      'ClickHouse: source columns copied beside the scores (comma-separated)',
    ).argParser(parseList),
  ensembleK: () =>
    new Option(
      '--ensemble-k <list>',
      "with --from: k of the extra ensemble runs (comma-separated, or 'none')",
    ).argParser(parseInts),
  sampleRows: () =>
    new Option('--sample-rows <n>', 'with --from: rows fetched for seeding and the elbow sweep')
      .argParser((v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 10) throw new InvalidArgumentError('must be an integer >= 10');
        return n;
      })
      .default(20_000),
  maxIter: () =>
    new Option('--max-iter <n>', 'with --from: Lloyd iterations at most per run').argParser((v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be an integer >= 1');
      return n;
    }),
  labelColumn: () =>
    new Option('--label-column <name>', 'with --from and --train-on normal: the label column').default(
      'label',
    ),
};

function source(url: string): { client: ClickHouseClient; table: string; display: string } {
  const target = parseClickHouseUrl(url);
  if (!target.table) throw new InputError(`${target.display}: name the table (?table=NAME)`);
  return { client: new ClickHouseClient(target), table: target.table, display: target.display };
}

interface Progress {
  step(s: string): void;
  done(s: string): void;
}

export async function trainFromClickHouse(o: Record<string, unknown>, progress: Progress): Promise<void> {
  const { client, table, display } = source(o.from as string);
  const format = o.format as string;
  const fields = format === 'kdd99' || format === 'nsl-kdd' ? kddFieldSpecs() : flowFieldSpecs();
  const trainOn = o.trainOn as 'normal' | 'all';
  const result = await trainInDatabase({
    source: {
      client,
      table,
      ...(trainOn === 'normal' ? { where: normalLabelCondition(o.labelColumn as string) } : {}),
      ...(o.columns ? { columns: resolveColumns(o.columns, fields)! } : {}),
    },
    fields,
    sourceName: display,
    format: format === 'auto' ? 'flows' : format,
    trainOn,
    k: o.k as number | 'auto',
    sampleRows: o.sampleRows as number,
    detector: {
      targetFpr: o.targetFpr as number,
      seed: o.seed as number,
      engine: o.engine as 'auto',
      ...(o.ensembleK ? { ensembleK: o.ensembleK as number[] } : {}),
      ...(o.maxIter ? { maxIter: o.maxIter as number } : {}),
    },
    onProgress: (s) => progress.step(s),
  });
  const saved = await saveModel(o.out as string, result.detector, result.card);
  progress.done('trained in the database');
  const summary = {
    model: o.out,
    sha256: saved.sha256,
    k: result.detector.k,
    k_choice: result.card.kChoice,
    rows_used: result.card.data.rows,
    threshold: result.detector.threshold,
    target_fpr: result.detector.options.targetFpr,
    ensemble_runs: result.detector.ensembleSize,
    source: display,
  };
  if (o.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else {
    process.stdout.write(
      `model saved ${o.out}\n  k=${summary.k} (${summary.k_choice})\n  trained in ${display} on ${summary.rows_used} rows (${trainOn}), threshold ${formatNumber(summary.threshold)}\n`,
    );
  }
}

export async function scoreFromClickHouse(
  model: LoadedModel,
  o: Record<string, unknown>,
  progress: Progress,
): Promise<void> {
  const { client, table, display } = source(o.from as string);
  const common = {
    client,
    table,
    ...(o.columns ? { columns: resolveColumns(o.columns, model.file.detector.preprocessor.fields)! } : {}),
    keep: (o.keep as string[] | undefined) ?? [],
    onlyAnomalies: Boolean(o.onlyAnomalies),
    kmeansOnly: Boolean(o.kmeansOnly),
  };
  if (o.into) {
    progress.step(`scoring ${display} into ${o.into}`);
    const r = await scoreIntoTable(model.file.detector, o.into as string, common);
    progress.done(`${r.rows} rows written to ${o.into}, ${r.anomalies} anomalies`);
    return;
  }
  progress.step(`scoring ${display}`);
  const rows = await scoreRows(model.file.detector, common);
  progress.done(`${rows.length} rows scored in the database`);
  const keep = common.keep;
  const out: string[] = [];
  if (!o.jsonl) out.push([...keep, 'anomaly_score', 'is_anomaly', 'cluster'].join(','));
  for (const r of rows) {
    if (o.jsonl) {
      const rec: Record<string, unknown> = {};
      keep.forEach((k, i) => {
        rec[k] = r.keep[i];
      });
      Object.assign(rec, { anomaly_score: r.anomalyScore, is_anomaly: r.isAnomaly, cluster: r.cluster });
      out.push(JSON.stringify(rec));
    } else out.push([...r.keep, r.anomalyScore.toFixed(6), r.isAnomaly ? 1 : 0, r.cluster].join(','));
  }
  if (out.length) process.stdout.write(`${out.join('\n')}\n`);
}

export async function clickhouseExport(model: LoadedModel, o: Record<string, unknown>): Promise<void> {
  const sql = exportClickHouseSql(model.file.detector, {
    source: o.table as string,
    ...(o.columns ? { columns: resolveColumns(o.columns, model.file.detector.preprocessor.fields)! } : {}),
    keep: (o.keep as string[] | undefined) ?? [],
    origin: `${model.dir}, model.json sha256 ${model.sha256.slice(0, 12)}`,
  });
  await writeFile(o.out as string, sql);
}

/** `watch --from clickhouse://…?table=T --by COLUMN`. */
export async function watchClickHouse(
  model: LoadedModel,
  o: Record<string, unknown>,
  signal: AbortSignal,
): Promise<FollowResult> {
  const { client, table } = source(o.from as string);
  if (!o.by) throw new InputError('watch --from needs --by COLUMN (a column that grows with every insert)');
  return followTable({
    client,
    table,
    by: o.by as string,
    model,
    alerts: o.alerts as string,
    format: o.format as 'ecs' | 'eve',
    checkpoint: (o.checkpoint as string | undefined) ?? null,
    pollMs: o.pollMs as number,
    once: Boolean(o.once),
    signal,
    ...(o.columns ? { columns: resolveColumns(o.columns, model.file.detector.preprocessor.fields)! } : {}),
    onLog: (s) => process.stderr.write(`${s}\n`),
    kmeansOnly: Boolean(o.kmeansOnly),
  });
}
