/**
 * Streaming and flow-export commands:
 *
 * - `flows INPUT... -o flows.csv|flows.jsonl`: canonical flows (identity + features) of captures,
 *   Zeek logs or CICFlowMeter CSVs (a directory stands for its files, sorted by name).
 * - `watch SOURCE --model DIR --alerts FILE`: the streaming watcher (src/stream/watcher.ts).
 *   SIGINT / SIGTERM: the batch in flight is finished (alerts written, checkpoint committed), a
 *   final stats record is written, exit 130 / 143.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { OptionError } from '../../errors.ts';
import { readTrafficMany } from '../../ingest/traffic/many.ts';
import { CATEGORICAL_FEATURES, IDENTITY_FIELDS, NUMERIC_FEATURES } from '../../ingest/traffic/schema.ts';
import { loadModel } from '../../model/bundle.ts';
import { parseAlertBudget } from '../../ops/budget.ts';
import { watch } from '../../stream/watcher.ts';
import { intOption } from '../options.ts';
import { createProgress } from '../progress.ts';
import { clickhouseOptions, watchClickHouse } from './clickhouse.ts';

function numberOption(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min) throw new InvalidArgumentError(`must be a number >= ${min}`);
    return n;
  };
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function registerStreamCommands(program: Command): void {
  program
    .command('flows')
    .description('export the canonical flows (identity + features) of captures, Zeek logs or CIC CSVs')
    .argument('<input...>', 'files or directories')
    .addOption(
      new Option('--format <format>', 'input format')
        .choices(['auto', 'pcap', 'zeek', 'cic', 'netflow', 'goflow2'])
        .default('auto'),
    )
    .requiredOption('-o, --out <file>', 'output: .csv or .jsonl (- for JSON lines on stdout)')
    .action(async (inputs: string[], o) => {
      const progress = createProgress();
      const out: string = o.out;
      const jsonl = out === '-' || /\.jsonl?$/i.test(out);
      if (!jsonl && !/\.csv$/i.test(out))
        throw new OptionError(`--out ${out}: use a .csv or .jsonl file name`);
      progress.step(`reading ${inputs.join(', ')}`);
      const t = await readTrafficMany(inputs, { format: o.format, onBadRow: 'quarantine' });
      const cols = [...IDENTITY_FIELDS, ...CATEGORICAL_FEATURES, ...NUMERIC_FEATURES];
      const hasLabel = t.labels !== null;
      if (out !== '-') await mkdir(dirname(out), { recursive: true });
      const stream = out === '-' ? process.stdout : createWriteStream(out);
      const write = (s: string) =>
        new Promise<void>((resolve, reject) => {
          if (stream.write(s)) resolve();
          else stream.once('drain', resolve);
          stream.once('error', reject);
        });
      if (!jsonl) await write(`${[...cols, ...(hasLabel ? ['label'] : [])].join(',')}\n`);
      const buf: string[] = [];
      for (let i = 0; i < t.table.nRows; i++) {
        const rec: Record<string, unknown> = {};
        for (const c of cols) {
          if (c in t.identity) {
            const col = t.identity[c as keyof typeof t.identity] as ArrayLike<unknown>;
            rec[c] = col[i];
          } else if (c in t.table.numeric) rec[c] = t.table.numeric[c]![i];
          else rec[c] = t.table.text[c]![i];
        }
        if (hasLabel) rec.label = t.labels![i];
        if (jsonl) {
          for (const [k, v] of Object.entries(rec))
            if (typeof v === 'number' && !Number.isFinite(v)) rec[k] = null;
          buf.push(JSON.stringify(rec));
        } else buf.push(Object.values(rec).map(csvCell).join(','));
        if (buf.length >= 4096) {
          await write(`${buf.join('\n')}\n`);
          buf.length = 0;
        }
      }
      if (buf.length) await write(`${buf.join('\n')}\n`);
      if (stream !== process.stdout)
        await new Promise<void>((r) => (stream as ReturnType<typeof createWriteStream>).end(r));
      const c = t.report.counters;
      progress.done(
        `${t.table.nRows} flows from ${t.files.length} file(s) → ${out}` +
          (c.packets !== undefined ? ` (${c.packets} packets, ${t.report.rowsSkipped} skipped)` : '') +
          (t.report.rowsSkipped && c.packets === undefined
            ? ` (${t.report.rowsSkipped} bad rows set aside)`
            : ''),
      );
      for (const f of t.files) if (f.error) process.stderr.write(`skipped ${f.error}\n`);
      for (const w of t.report.warnings.filter((w) => !t.files.some((f) => f.error === w)).slice(0, 10))
        process.stderr.write(`warning: ${w}\n`);
    });

  program
    .command('watch')
    .description(
      'score a growing Zeek conn.log, a directory where pcaps appear, flows as JSON lines on stdin (-) or a live interface (iface:NAME), and append alerts',
    )
    .argument(
      '[source]',
      'conn.log file, capture directory, - for JSON lines of canonical flows on stdin, or iface:NAME (live capture via dumpcap)',
    )
    .requiredOption('--model <dir>', 'model bundle directory (trained on flows)')
    .requiredOption('--alerts <file>', 'alert file (JSON lines, appended)')
    .addOption(new Option('--format <format>', 'alert record shape').choices(['ecs', 'eve']).default('ecs'))
    .option('--checkpoint <file>', 'checkpoint file (position committed after alerts are durable)')
    .option('--batch <n>', 'records per micro-batch (1..1000)', intOption(1), 256)
    .option('--stats-interval <s>', 'seconds between stats records', numberOption(0.1), 60)
    .option('--stale-after <s>', 'warn when no record arrived for this many seconds', numberOption(0.1), 300)
    .option(
      '--settle <s>',
      'capture directory: read a file once its size is stable this long',
      numberOption(0),
      2,
    )
    .option('--stats <file>', 'write stats and warning records here instead of the alert file')
    .option(
      '--min-score <score>',
      'alert when anomaly_score >= this instead of the model threshold (0: every record alerts, for tests and audits)',
      numberOption(0),
    )
    .option('--poll-ms <ms>', 'polling interval for files and directories', intOption(10), 200)
    .option(
      '--idle-timeout <s>',
      'live capture (iface:NAME): seconds without packets before a flow ends',
      numberOption(0.1),
      120,
    )
    .option(
      '--active-timeout <s>',
      'live capture (iface:NAME): seconds after which a long flow is cut',
      numberOption(0.1),
      1800,
    )
    .option('--once', 'stop when the source has nothing new (files, directories) instead of following it')
    .option(
      '--no-host-alerts',
      "flow alerts only: no host windows (by default one host alert per host window over the model's host threshold)",
    )
    .option(
      '--alert-budget <n/h>',
      "alerts per hour the team can handle: the stats report the last hour's spend (set the threshold with `budget` and --min-score)",
      (v: string) => {
        try {
          return parseAlertBudget(v);
        } catch (err) {
          throw new InvalidArgumentError((err as Error).message);
        }
      },
    )
    .addOption(
      clickhouseOptions.from('follow a ClickHouse table: clickhouse://HOST:PORT/DB?table=T (with --by)'),
    )
    .option('--by <column>', 'with --from: the column that grows with every insert (time or sequence)')
    .addOption(clickhouseOptions.columns())
    .addOption(clickhouseOptions.kmeansOnly())
    .action(async (source: string | undefined, o) => {
      const model = await loadModel(o.model);
      if (o.from) {
        const stop = new AbortController();
        process.once('SIGINT', () => stop.abort());
        process.once('SIGTERM', () => stop.abort());
        const r = await watchClickHouse(model, o, stop.signal);
        process.stderr.write(
          `watch stopped: ${r.polls} polls, scored ${r.scored}, alerts ${r.alerts}, duplicates suppressed ${r.duplicatesSuppressed}, position ${r.position}\n`,
        );
        return;
      }
      if (!source) throw new OptionError('watch: give a SOURCE or --from clickhouse://…');
      const ac = new AbortController();
      let code = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        code = sig === 'SIGINT' ? 130 : 143;
        process.stderr.write(`${sig}: finishing the current batch\n`);
        ac.abort();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const result = await watch({
        source,
        model,
        alerts: o.alerts,
        format: o.format,
        checkpoint: o.checkpoint ?? null,
        batch: o.batch,
        statsInterval: o.statsInterval,
        staleAfter: o.staleAfter,
        settle: o.settle,
        statsFile: o.stats ?? null,
        minScore: o.minScore ?? null,
        alertBudgetPerHour: o.alertBudget ?? null,
        pollMs: o.pollMs,
        once: Boolean(o.once),
        ...(o.hostAlerts === false ? { hostWindows: false as const } : {}),
        meter: { idleTimeout: o.idleTimeout, activeTimeout: o.activeTimeout },
        ...(source === '-' ? { stdin: process.stdin } : {}),
        signal: ac.signal,
        onLog: (s) => process.stderr.write(`${s}\n`),
      });
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      const c = result.counters;
      process.stderr.write(
        `watch stopped (${result.stopped}${result.committed ? '' : ', last batch not committed: it will be replayed'}): read ${c.read}, parsed ${c.parsed}, scored ${c.scored}, alerts ${c.alerts}, duplicates suppressed ${c.duplicates_suppressed}, quarantined ${JSON.stringify(c.quarantined)}, host alerts ${c.host_alerts}\n`,
      );
      if (code) process.exit(code);
    });
}
