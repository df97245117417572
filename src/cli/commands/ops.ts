/**
 * Operations commands: living with a deployed detector.
 *
 * - `drift MODEL DATA`: per-cluster drift against a reference profile of benign traffic
 *   (`MODEL/drift-reference.json`, built from the training data named in the card when missing).
 * - `budget MODEL DATA --alert-budget 20/h`: thresholds that fit an alert budget on benign data.
 * - `feedback MODEL add|list|remove`: analyst verdicts stored beside the model.
 * - `alerts FILE --model MODEL`: stored alerts with the feedback applied (suppressed ones counted).
 * - `selftest --source S --alerts A`: inject a recorded attack into a running watcher's source and
 *   check its alerts come out within a time limit (exit 1 when they do not); `--every` repeats.
 */
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { InputError, SelfTestError } from '../../errors.ts';
import { type AnyInput, INPUT_FORMATS, readInput } from '../../ingest/read-input.ts';
import { takeRows } from '../../ingest/table.ts';
import { type LoadedModel, loadModel } from '../../model/bundle.ts';
import { detectionRateAtFpr } from '../../model/metrics.ts';
import {
  budgetThreshold,
  groupBudgetThresholds,
  hostGroup,
  flowsPerHour as measuredFlowsPerHour,
  parseAlertBudget,
} from '../../ops/budget.ts';
import {
  buildDriftReference,
  type DriftReference,
  type DriftReport,
  measureDrift,
  parseDriftReference,
} from '../../ops/drift.ts';
import {
  addFeedback,
  applyFeedback,
  type FeedbackMatch,
  loadFeedback,
  removeFeedback,
  SCOPES,
  VERDICTS,
} from '../../ops/feedback.ts';
import { runSelfTest, type SelfTestResult } from '../../ops/selftest.ts';
import { intOption } from '../options.ts';
import { createProgress, formatNumber, formatTable } from '../progress.ts';

const REFERENCE_FILE = 'drift-reference.json';
const DRIFT_REPORT_FILE = 'drift-report.json';

const formatOption = () =>
  new Option('--format <format>', 'input format').choices([...INPUT_FORMATS]).default('auto');

function positive(value: string): number {
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw new InvalidArgumentError('must be a number > 0');
  return n;
}

function budgetOption(value: string): number {
  try {
    return parseAlertBudget(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** Benign rows of an input: its normal rows when labelled, else every row. */
function benignIndices(input: AnyInput): Int32Array {
  if (!input.families) return Int32Array.from({ length: input.table.nRows }, (_, i) => i);
  const out: number[] = [];
  input.families.forEach((f, i) => {
    if (f === 'normal' || f === 'benign') out.push(i);
  });
  return Int32Array.from(out);
}

/** The training data named in the model card, as the model saw it (normal rows when trained on them). */
async function trainingRows(model: LoadedModel) {
  const src = model.card.data.source;
  try {
    await access(src);
  } catch {
    throw new InputError(
      `${model.dir}: the training data '${src}' named in the model card is not readable here; pass --reference FILE`,
    );
  }
  const input = await readInput(src, model.card.data.format || 'auto', 'skip');
  return model.card.data.trainOn === 'normal' ? takeRows(input.table, benignIndices(input)) : input.table;
}

async function loadReference(
  model: LoadedModel,
  file: string | undefined,
  format: string,
): Promise<DriftReference> {
  const path = join(model.dir, REFERENCE_FILE);
  if (file) {
    // built once and kept beside the model: the watcher's stats then report drift against it
    const input = await readInput(file, format, 'skip');
    const ref = await buildDriftReference(model.detector, takeRows(input.table, benignIndices(input)), file);
    await writeFile(path, `${JSON.stringify(ref)}\n`);
    return ref;
  }
  try {
    return parseDriftReference(JSON.parse(await readFile(path, 'utf8')), path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const ref = await buildDriftReference(model.detector, await trainingRows(model), model.card.data.source);
  await writeFile(path, `${JSON.stringify(ref)}\n`);
  return ref;
}

function clusterNames(model: LoadedModel): Record<string, string> {
  return Object.fromEntries(Object.entries(model.card.clusterNames ?? {}).map(([id, c]) => [id, c.name]));
}

function describeDrift(r: DriftReport): string {
  const lines = [
    `${formatNumber(r.rows)} rows against a reference of ${formatNumber(r.referenceRows)}`,
    `cluster-share PSI ${r.sharePsi.toFixed(3)}, score PSI ${r.scorePsi.toFixed(3)}, ` +
      `above threshold ${(100 * r.farShare).toFixed(2)} % (reference ${(100 * r.referenceFarShare).toFixed(2)} %)`,
    '',
  ];
  const rows = r.clusters
    .filter((c) => c.status !== 'stable' || c.share > 0.01)
    .map((c) => [
      String(c.cluster) + (c.name ? ` ${c.name}` : ''),
      `${(100 * c.referenceShare).toFixed(1)} %`,
      `${(100 * c.share).toFixed(1)} %`,
      Number.isFinite(c.scorePsi) ? c.scorePsi.toFixed(3) : '—',
      Number.isFinite(c.ks) ? `${c.ks.toFixed(3)} / ${c.ksCritical.toFixed(3)}` : '—',
      c.status,
    ]);
  lines.push(formatTable(['cluster', 'ref share', 'share', 'score PSI', 'KS / crit', 'status'], rows));
  lines.push('');
  lines.push(
    r.retrain ? `retrain suggested:\n  - ${r.reasons.join('\n  - ')}` : 'no drift: no retrain needed',
  );
  return `${lines.join('\n')}\n`;
}

export function registerOpsCommands(program: Command): void {
  program
    .command('drift')
    .description(
      'per-cluster drift of DATA against benign reference traffic; suggests a retrain with its reason',
    )
    .argument('<model>', 'model bundle directory')
    .argument('<data>', 'recent traffic to check')
    .addOption(formatOption())
    .option(
      '--reference <file>',
      `benign reference data, kept as ${REFERENCE_FILE} beside the model (default: that file, else built from the training data)`,
    )
    .option('--reference-format <format>', 'format of --reference', 'auto')
    .option('--json', 'print JSON')
    .action(async (modelDir: string, data: string, o) => {
      const progress = createProgress();
      const model = await loadModel(modelDir);
      progress.step('reference profile');
      const reference = await loadReference(model, o.reference, o.referenceFormat);
      progress.step(`reading ${data}`);
      const input = await readInput(data, o.format, 'skip');
      progress.step(`measuring drift on ${input.table.nRows} rows`);
      const report = await measureDrift(model.detector, reference, input.table, clusterNames(model));
      // the latest report, for the web app's Drift page
      await writeFile(
        join(model.dir, DRIFT_REPORT_FILE),
        `${JSON.stringify({ at: new Date().toISOString(), data, ...report })}\n`,
      );
      progress.done('drift measured');
      if (o.json) process.stdout.write(`${JSON.stringify({ model: modelDir, data, ...report }, null, 2)}\n`);
      else process.stdout.write(describeDrift(report));
    });

  program
    .command('budget')
    .description('thresholds that fit an alert budget, set on benign traffic (its normal rows when labelled)')
    .argument('<model>', 'model bundle directory')
    .argument('<data>', 'held-out benign (or labelled) traffic to calibrate on')
    .addOption(formatOption())
    .requiredOption(
      '--alert-budget <n/h>',
      'alerts per hour the team can handle, e.g. 20/h or 500/d',
      budgetOption,
    )
    .addOption(
      new Option(
        '--per <scope>',
        'one budget for everything, per cluster, or per source host group (/24, /64)',
      )
        .choices(['all', 'cluster', 'host-group'])
        .default('all'),
    )
    .option('--flows-per-hour <n>', 'traffic rate (default: measured from the flow start times)', positive)
    .option('--json', 'print JSON')
    .action(async (modelDir: string, data: string, o) => {
      const progress = createProgress();
      const model = await loadModel(modelDir);
      const det = model.detector;
      progress.step(`reading ${data}`);
      const input = await readInput(data, o.format, 'skip');
      const benign = benignIndices(input);
      const rate: number = o.flowsPerHour ?? measuredFlowsPerHour(input.identity?.start_time ?? []);
      if (!Number.isFinite(rate)) {
        throw new InputError(
          `${data}: no flow start times to measure the traffic rate; pass --flows-per-hour N`,
        );
      }
      progress.step(`scoring ${input.table.nRows} rows`);
      const s = await det.evaluateRows(input.table);
      const benignScores = Float64Array.from(benign, (i) => s.anomalyScore[i]!);
      const global = budgetThreshold(Float64Array.from(benignScores).sort(), rate, o.alertBudget);
      const groups =
        o.per === 'cluster'
          ? groupBudgetThresholds(
              benignScores,
              Array.from(benign, (i) => s.cluster[i]!),
              rate,
              o.alertBudget,
            )
          : o.per === 'host-group' && input.identity
            ? groupBudgetThresholds(
                benignScores,
                Array.from(benign, (i) => hostGroup(input.identity!.src_ip[i]!)),
                rate,
                o.alertBudget,
              )
            : [];
      // The detection the budget costs, when the data is labelled (evaluation only).
      let detection: Record<string, number> | undefined;
      if (input.families && benign.length < input.table.nRows) {
        const y = input.families.map((f) => (f === 'normal' || f === 'benign' ? 0 : 1));
        let atBudget = 0;
        let atModel = 0;
        let attacks = 0;
        y.forEach((v, i) => {
          if (!v) return;
          attacks++;
          if (s.anomalyScore[i]! > global.threshold) atBudget++;
          if (s.anomalyScore[i]! > det.threshold) atModel++;
        });
        detection = {
          attacks,
          detectionAtBudget: atBudget / attacks,
          detectionAtModelThreshold: atModel / attacks,
          detectionAtBudgetFpr: detectionRateAtFpr(y, s.anomalyScore, Math.min(0.5, global.expectedFpr)),
        };
      }
      progress.done('budget set');
      const out = {
        model: modelDir,
        data,
        budgetPerHour: o.alertBudget,
        flowsPerHour: rate,
        benignRows: benign.length,
        modelThreshold: det.threshold,
        modelTargetFpr: det.options.targetFpr,
        ...global,
        ...(groups.length ? { per: o.per, groups } : {}),
        ...(detection ? { detection } : {}),
      };
      if (o.json) {
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      const lines = [
        `budget ${formatNumber(o.alertBudget)} alerts/h at ${formatNumber(Math.round(rate))} flows/h: ` +
          `threshold ${global.threshold.toFixed(4)} (model's own ${det.threshold.toFixed(4)} at FPR ${det.options.targetFpr})`,
        `expected FPR ${(100 * global.expectedFpr).toFixed(3)} %, expected ${global.expectedAlertsPerHour.toFixed(1)} alerts/h on ${formatNumber(benign.length)} benign rows`,
      ];
      if (detection) {
        lines.push(
          `detection at the budget ${(100 * detection.detectionAtBudget!).toFixed(1)} % vs ${(100 * detection.detectionAtModelThreshold!).toFixed(1)} % at the model's threshold (${formatNumber(detection.attacks!)} attack rows)`,
        );
      }
      if (groups.length) {
        lines.push('');
        lines.push(
          formatTable(
            [o.per, 'benign rows', 'flows/h', 'threshold', 'expected alerts/h'],
            groups.map((g) => [
              g.group,
              formatNumber(g.rows),
              formatNumber(Math.round(g.flowsPerHour)),
              Number.isFinite(g.threshold) ? g.threshold.toFixed(4) : 'any',
              g.expectedAlertsPerHour.toFixed(1),
            ]),
          ),
        );
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  const feedback = program
    .command('feedback')
    .description(
      'analyst verdicts (benign / known-bad) on an alert, host, cluster or rule, stored beside the model',
    );
  feedback
    .command('add')
    .argument('<model>', 'model bundle directory')
    .addOption(
      new Option('--scope <scope>', 'what the verdict is about').choices([...SCOPES]).makeOptionMandatory(),
    )
    .addOption(
      new Option('--verdict <verdict>', 'benign or known-bad').choices([...VERDICTS]).makeOptionMandatory(),
    )
    .option('--event-id <id>', 'alert scope: the alert event.id')
    .option('--host <ip>', 'host scope: either side of the flow')
    .option('--src <ip>', 'rule scope: source address')
    .option('--dst <ip>', 'rule scope: destination address')
    .option('--dst-port <port>', 'rule scope: destination port', intOption(0))
    .option('--protocol <name>', 'rule scope: tcp, udp, icmp')
    .option('--cluster <id>', 'cluster scope: cluster id', intOption(0))
    .requiredOption('--who <name>', 'who gives the verdict')
    .option('--note <text>', 'why')
    .action(async (modelDir: string, o) => {
      await loadModel(modelDir);
      const match: FeedbackMatch = {
        ...(o.eventId ? { eventId: o.eventId } : {}),
        ...(o.host ? { host: o.host } : {}),
        ...(o.src ? { srcIp: o.src } : {}),
        ...(o.dst ? { dstIp: o.dst } : {}),
        ...(o.dstPort !== undefined ? { dstPort: o.dstPort } : {}),
        ...(o.protocol ? { protocol: o.protocol } : {}),
        ...(o.cluster !== undefined ? { cluster: o.cluster } : {}),
      };
      const rule = await addFeedback(modelDir, {
        scope: o.scope,
        verdict: o.verdict,
        match,
        who: o.who,
        note: o.note,
      });
      process.stdout.write(
        `feedback rule ${rule.id}: ${rule.scope} ${JSON.stringify(rule.match)} is ${rule.verdict}\n`,
      );
    });
  feedback
    .command('list')
    .argument('<model>', 'model bundle directory')
    .option('--json', 'print JSON')
    .action(async (modelDir: string, o) => {
      const fb = await loadFeedback(modelDir);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(fb, null, 2)}\n`);
        return;
      }
      const rows = fb.rules.map((r) => [
        String(r.id),
        r.scope,
        r.verdict,
        JSON.stringify(r.match),
        `${r.who} ${r.when.slice(0, 19)}`,
        r.removed ? `removed by ${r.removed.who}` : 'active',
      ]);
      process.stdout.write(
        `revision ${fb.revision}\n${formatTable(['id', 'scope', 'verdict', 'match', 'by', 'state'], rows)}\n`,
      );
    });
  feedback
    .command('remove')
    .argument('<model>', 'model bundle directory')
    .argument('<id>', 'rule id', intOption(1))
    .requiredOption('--who <name>', 'who removes it')
    .action(async (modelDir: string, id: number, o) => {
      await removeFeedback(modelDir, id, o.who);
      process.stdout.write(`feedback rule ${id} removed (kept in the history)\n`);
    });

  program
    .command('alerts')
    .description("stored alerts (the watcher's JSON lines) with the model's feedback applied")
    .argument('<file>', 'alert file')
    .requiredOption('--model <dir>', 'model bundle directory (its feedback.json)')
    .option('--json', 'print the visible alerts as JSON lines and the counts on stderr')
    .action(async (file: string, o) => {
      const fb = await loadFeedback(o.model);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        throw new InputError(`${file}: cannot read the alert file`);
      }
      const alerts: Record<string, unknown>[] = [];
      let bad = 0;
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        try {
          const v = JSON.parse(line);
          if (!v || typeof v !== 'object' || Array.isArray(v)) bad++;
          // stats and warning records share the file: only alerts (ECS or EVE) are listed
          else if (v.event?.kind === 'alert' || v.event_type === 'alert') alerts.push(v);
        } catch {
          bad++;
        }
      }
      const { visible, counts } = applyFeedback(fb, alerts);
      const summary = { ...counts, total: alerts.length, visible: visible.length, badLines: bad };
      if (o.json) {
        for (const a of visible) process.stdout.write(`${JSON.stringify(a)}\n`);
        process.stderr.write(`${JSON.stringify(summary)}\n`);
        return;
      }
      process.stdout.write(
        `${summary.total} alerts: ${summary.visible} visible, ${summary.suppressed} suppressed by feedback, ` +
          `${summary.knownBad} confirmed known-bad${bad ? `, ${bad} bad lines` : ''} (revision ${fb.revision})\n`,
      );
    });

  program
    .command('selftest')
    .description("inject a recorded attack into a running watcher's source and check its alerts come out")
    .requiredOption('--source <path>', "the watcher's source: a directory of captures or a Zeek conn.log")
    .requiredOption('--alerts <file>', "the watcher's alert file")
    .option('--capture <pcap>', 'attack capture to inject into a directory source (classic pcap)')
    .option(
      '--model <dir>',
      "the watcher's model: also score the capture offline, to tell a model problem from a pipeline one",
    )
    .option('--timeout <s>', 'seconds to wait for the alerts', positive, 60)
    .option('--min-alerts <n>', 'alerts needed to pass', intOption(1), 1)
    .option('--every <s>', 'repeat every S seconds (until interrupted or --count runs)', positive)
    .option('--count <n>', 'with --every: number of runs', intOption(1))
    .option('--results <file>', 'results file (default: selftest.jsonl beside the alerts)')
    .option('--json', 'print each result as a JSON line')
    .action(async (o) => {
      let offline: { flows: number; flagged: number } | null = null;
      if (o.model && o.capture) {
        const model = await loadModel(o.model);
        const input = await readInput(o.capture, 'auto', 'skip');
        const s = await model.detector.evaluateRows(input.table);
        offline = { flows: input.table.nRows, flagged: s.isAnomaly.reduce((a, v) => a + v, 0) };
      }
      const runs = o.every ? (o.count ?? Number.POSITIVE_INFINITY) : 1;
      let last: SelfTestResult | null = null;
      let stop = false;
      const onSignal = () => {
        stop = true;
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        for (let i = 0; i < runs && !stop; i++) {
          if (i > 0) await new Promise((r) => setTimeout(r, o.every * 1000));
          if (stop) break;
          last = await runSelfTest({
            source: o.source,
            alerts: o.alerts,
            capture: o.capture,
            timeoutMs: o.timeout * 1000,
            minAlerts: o.minAlerts,
            results: o.results,
            offlineFlagged: offline,
          });
          if (o.json) process.stdout.write(`${JSON.stringify(last)}\n`);
          else process.stdout.write(`selftest ${last.passed ? 'PASSED' : 'FAILED'}: ${last.reason}\n`);
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      if (last && !last.passed) throw new SelfTestError(last.reason);
    });
}
