/**
 * `watch --from clickhouse://…`: follows a flows table by a monotonic column (an insertion time,
 * a sequence number): each poll scores, in the database, the rows past the last position seen
 * (up to the column's current maximum) and appends an alert per anomaly to the alert file, in
 * the watcher's ECS or EVE shape, through the same durable, de-duplicating sink. The position is
 * committed to the checkpoint file only after the alerts are written, so a restart replays at
 * most one poll (and the sink drops the repeated alerts by id).
 *
 * Rows written later with a value at or below a position already passed are not seen: the column
 * must grow with every insert.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { InputError } from '../errors.ts';
import { IDENTITY_FIELDS } from '../ingest/traffic/schema.ts';
import type { LoadedModel } from '../model/bundle.ts';
import { clusterName } from '../pipeline/score.ts';
import { type AlertFormat, ecsAlert, eveAlert, type ScoredFlowInfo, sha256 } from '../stream/alerts.ts';
import { AlertSink } from '../stream/sink.ts';
import { type ClickHouseClient, isNumericType, quoteIdent, quoteString } from './client.ts';
import type { ColumnMap } from './model-sql.ts';
import { checkSqlExact, scoreRows } from './score-in-db.ts';

export interface FollowTableOptions {
  client: ClickHouseClient;
  table: string;
  /** The monotonic column. */
  by: string;
  model: LoadedModel;
  alerts: string;
  format: AlertFormat;
  columns?: ColumnMap;
  checkpoint?: string | null;
  pollMs?: number;
  /** Stop when a poll finds nothing new. */
  once?: boolean;
  signal?: AbortSignal;
  onLog?: (line: string) => void;
  /** Follow with a model's K-Means part alone when SQL cannot compute the rest (score-in-db.ts). */
  kmeansOnly?: boolean;
}

export interface FollowResult {
  polls: number;
  scored: number;
  alerts: number;
  duplicatesSuppressed: number;
  /** The last position committed (text form of the column's value), or null. */
  position: string | null;
}

function readCheckpoint(path: string, table: string, by: string): string | null {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  try {
    const c = JSON.parse(raw) as { table?: string; by?: string; position?: string };
    if (c.table !== table || c.by !== by) {
      throw new InputError(`${path}: checkpoint is for ${c.table}.${c.by}, not ${table}.${by}`);
    }
    return c.position ?? null;
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${path}: not a netanomaly checkpoint (invalid JSON)`);
  }
}

function writeCheckpoint(path: string, table: string, by: string, position: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify({ table, by, position })}\n`);
  renameSync(tmp, path);
}

export async function followTable(opts: FollowTableOptions): Promise<FollowResult> {
  const { client, table, by, model } = opts;
  checkSqlExact(model.file.detector, opts.kmeansOnly);
  const cols = new Map((await client.columns(table)).map((c) => [c.name, c.type]));
  const type = cols.get(by);
  if (type === undefined)
    throw new InputError(`${client.target.display}: table ${table} has no column '${by}'`);
  const literal = (v: string) => (isNumericType(type) ? v : quoteString(v));
  const identity = IDENTITY_FIELDS.filter((f) => cols.has(f));
  const keep = [by, ...identity.filter((f) => f !== by)];
  const sink = new AlertSink(opts.alerts);
  const state = model.file.detector;
  const det = model.detector;
  const version = model.sha256.slice(0, 12);
  let position = opts.checkpoint ? readCheckpoint(opts.checkpoint, table, by) : null;
  const result: FollowResult = { polls: 0, scored: 0, alerts: 0, duplicatesSuppressed: 0, position };
  const col = quoteIdent(by);
  while (!opts.signal?.aborted) {
    result.polls++;
    const [top] = await client.rows(`SELECT toString(max(${col})), count() FROM ${table}`);
    const max = top![1] === '0' ? null : top![0]!;
    const fresh = max !== null && (position === null || max !== position);
    if (fresh) {
      const where = `${col} <= ${literal(max!)}${position === null ? '' : ` AND ${col} > ${literal(position)}`}`;
      const rows = await scoreRows(state, {
        client,
        table,
        where,
        kmeansOnly: opts.kmeansOnly ?? false,
        keep,
        onlyAnomalies: false,
        ...(opts.columns ? { columns: opts.columns } : {}),
      });
      result.scored += rows.length;
      const records = rows
        .filter((r) => r.isAnomaly)
        .map((r) => {
          const v = (name: string) => r.keep[keep.indexOf(name)];
          const num = (name: string) => (v(name) === undefined ? Number.NaN : Number(v(name)));
          const name = clusterName(model, r.cluster);
          const info: ScoredFlowInfo = {
            eventId: sha256(`${table}\t${r.keep.join('\t')}`).slice(0, 32),
            startTime: num('start_time'),
            srcIp: v('src_ip') ?? '',
            srcPort: num('src_port'),
            dstIp: v('dst_ip') ?? '',
            dstPort: num('dst_port'),
            protocol: v('protocol') ?? '',
            communityId: v('community_id') ?? '',
            anomalyScore: r.anomalyScore,
            riskScore: Math.min(100, det.riskScore(r.anomalyScore)),
            threshold: det.threshold,
            cluster: r.cluster,
            ...(name ? { clusterName: name } : {}),
            distance: r.distance,
            topFields: [],
            input: { format: 'clickhouse', file: `${client.target.display} ${table}`, offset: 0 },
          };
          return opts.format === 'eve' ? eveAlert(info, { version }) : ecsAlert(info, { version });
        });
      result.alerts += sink.append(records);
      result.duplicatesSuppressed = sink.duplicatesSuppressed;
      position = max;
      result.position = position;
      if (opts.checkpoint) writeCheckpoint(opts.checkpoint, table, by, position!);
      opts.onLog?.(
        `${table}: ${rows.length} new rows scored up to ${by} = ${position}, ${records.length} alerts`,
      );
    } else if (opts.once) break;
    if (opts.once && fresh) continue;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, opts.pollMs ?? 1000);
      opts.signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });
  }
  return result;
}
