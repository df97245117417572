/** The core commands: train, elbow, evaluate, score, info, export, demo. */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Command, Option } from 'commander';
import { InputError } from '../../errors.ts';
import { Preprocessor } from '../../features/preprocessor.ts';
import { INPUT_FORMATS, readInput, takeInputRows } from '../../ingest/read-input.ts';
import type { BadRowPolicy } from '../../ingest/table.ts';
import { exportDifference, type LoadedModel, loadModel, saveModel } from '../../model/bundle.ts';
import { DETECTOR_NAMES } from '../../model/detectors/index.ts';
import { elbowSweep } from '../../model/select-k.ts';
import { loadFeedback, type TrainingFilter, trainingFilter } from '../../ops/feedback.ts';
import { runDemo } from '../../pipeline/demo.ts';
import { type Evaluation, evaluateDataset, type Metrics, normalRows } from '../../pipeline/evaluate.ts';
import { evaluateLab, type LabEvaluation } from '../../pipeline/evaluate-lab.ts';
import { describePcapEvaluation, evaluatePcaps } from '../../pipeline/evaluate-pcaps.ts';
import { describeFiles, describeHosts, scoreRecords } from '../../pipeline/score.ts';
import { trainFromFile } from '../../pipeline/train.ts';
import { fprOption, intOption, kOption } from '../options.ts';
import { bold, createProgress, formatNumber, formatTable } from '../progress.ts';
import {
  clickhouseExport,
  clickhouseOptions,
  scoreFromClickHouse,
  trainFromClickHouse,
} from './clickhouse.ts';

const formatOption = () =>
  new Option('--format <format>', 'input format').choices([...INPUT_FORMATS]).default('auto');
const badRowOption = (fallback: string) =>
  new Option('--on-bad-row <policy>', 'what to do with a bad row')
    .choices(['fail', 'skip', 'quarantine'])
    .default(fallback);

export function registerCoreCommands(program: Command): void {
  program
    .command('train')
    .description('train a detector on FILE (or on a ClickHouse table: --from) and save the model bundle')
    .argument('[file]', 'training data (omit with --from)')
    .addOption(formatOption())
    .addOption(
      new Option('--train-on <rows>', 'rows to learn from').choices(['normal', 'all']).default('normal'),
    )
    .option('--k <k>', "number of clusters, or 'auto' (elbow sweep)", kOption, 'auto')
    .option('--target-fpr <rate>', 'false-positive rate the threshold aims at', fprOption, 0.01)
    .option('--seed <n>', 'random seed', intOption(0), 0)
    .addOption(
      new Option('--engine <engine>', 'distance engine')
        .choices(['auto', 'onnx', 'tfjs', 'js'])
        .default('auto'),
    )
    .addOption(badRowOption('fail'))
    .addOption(
      new Option(
        '--calibration-groups <by>',
        'how one capture or log is cut for the held-out threshold (a directory uses its files)',
      )
        .choices(['time', 'source', 'none'])
        .default('time'),
    )
    .addOption(
      new Option('--host-aggregate <how>', "host score: mean of the top flows, or a count-aware 'tail'")
        .choices(['mean', 'tail'])
        .default('mean'),
    )
    .option('--host-top-k <n>', 'flows averaged into a host score (mean)', intOption(1), 3)
    .addOption(
      new Option('--host-scope <scope>', 'score source hosts or source → destination pairs')
        .choices(['host', 'pair'])
        .default('host'),
    )
    .addOption(
      new Option(
        '--field-tail <when>',
        "per-field rarity beside the K-Means distance ('auto': for traffic with addresses; 'off' keeps ONNX/SQL exports exact)",
      )
        .choices(['auto', 'on', 'off'])
        .default('auto'),
    )
    .requiredOption('-o, --out <dir>', 'model bundle directory to write')
    .option('--json', 'print the training summary as JSON')
    .addOption(clickhouseOptions.from('train in the database: clickhouse://HOST:PORT/DB?table=T'))
    .addOption(clickhouseOptions.columns())
    .addOption(clickhouseOptions.ensembleK())
    .addOption(clickhouseOptions.sampleRows())
    .addOption(clickhouseOptions.maxIter())
    .addOption(clickhouseOptions.labelColumn())
    .option(
      '--feedback <model>',
      'analyst feedback of a model (its feedback.json): flows of known-bad hosts and rules are left out',
    )
    .action(async (file: string | undefined, o) => {
      const progress = createProgress();
      if (o.from) return trainFromClickHouse(o, progress);
      if (!file) throw new InputError('train: give a training FILE or --from clickhouse://…');
      const fb = o.feedback ? await loadFeedback(o.feedback) : null;
      let applied: TrainingFilter | null = null;
      const reader = async (path: string, format: string, onBadRow: BadRowPolicy) => {
        const input = await readInput(path, format, onBadRow);
        if (!fb) return input;
        if (!input.identity)
          throw new InputError(
            `${path}: --feedback needs flows with addresses (pcap, Zeek, CIC, flow exports)`,
          );
        applied = trainingFilter(fb, input.identity);
        return takeInputRows(input, applied.keep);
      };
      const result = await trainFromFile(file, {
        format: o.format,
        trainOn: o.trainOn,
        k: o.k,
        onBadRow: o.onBadRow,
        detector: {
          targetFpr: o.targetFpr,
          seed: o.seed,
          engine: o.engine,
          calibrationGroups: o.calibrationGroups,
          hostAggregate: o.hostAggregate,
          hostTopK: o.hostTopK,
          hostScope: o.hostScope,
          fieldTail: o.fieldTail,
        },
        reader,
        onProgress: (s) => progress.step(s),
      });
      if (applied) {
        const a = applied as TrainingFilter;
        result.card.feedback = {
          revision: a.revision,
          excludedKnownBad: a.excludedKnownBad,
          benignMatched: a.benignMatched,
        };
        progress.step(
          `feedback revision ${a.revision}: ${a.excludedKnownBad} known-bad flows left out, ${a.benignMatched} benign-verdict flows kept`,
        );
      }
      const saved = await saveModel(o.out, result.detector, result.card);
      progress.done('trained');
      const summary = {
        model: o.out,
        sha256: saved.sha256,
        k: result.detector.k,
        k_choice: result.card.kChoice,
        rows_used: result.card.data.rows,
        threshold: result.detector.threshold,
        target_fpr: result.detector.options.targetFpr,
        ensemble_runs: result.detector.ensembleSize,
        bad_rows: result.input.report.rowsSkipped,
        calibration: result.detector.training.calibration,
        ...(result.detector.training.expectedFpr
          ? { expected_fpr: result.detector.training.expectedFpr }
          : {}),
        ...(result.detector.training.host ? { host: result.detector.training.host } : {}),
        ...(result.detector.training.fieldTail ? { field_tail: result.detector.training.fieldTail } : {}),
        ...(result.detector.training.derivedGroups
          ? { derived_groups: result.detector.training.derivedGroups }
          : {}),
      };
      if (o.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      else {
        process.stdout.write(
          `${bold('model saved')} ${o.out}\n  k=${summary.k} (${summary.k_choice})\n  trained on ${summary.rows_used} rows (${o.trainOn}), threshold ${formatNumber(summary.threshold)} for ${summary.target_fpr * 100}% false positives\n`,
        );
      }
    });

  program
    .command('elbow')
    .description('sweep k, find the knee, and report silhouette / Calinski-Harabasz / Davies-Bouldin')
    .argument('<file>', 'data')
    .addOption(formatOption())
    .addOption(new Option('--train-on <rows>', 'rows to cluster').choices(['normal', 'all']).default('all'))
    .option('--k-min <k>', 'smallest k', intOption(1), 2)
    .option('--k-max <k>', 'largest k', intOption(2), 30)
    .addOption(
      new Option('--mode <mode>', 'fast (subsample) or exhaustive')
        .choices(['fast', 'exhaustive'])
        .default('fast'),
    )
    .option('--seed <n>', 'random seed', intOption(0), 0)
    .option('--json', 'print JSON')
    .action(async (file: string, o) => {
      const progress = createProgress();
      progress.step(`reading ${file}`);
      const input = await readInput(file, o.format, 'fail');
      let table = input.table;
      if (o.trainOn === 'normal') {
        if (!input.families)
          throw new InputError(`${file}: --train-on normal needs labels; use --train-on all`);
        table = normalRows(table, input.families);
      }
      const pre = new Preprocessor(input.fields).fit(table);
      const { X } = pre.transform(table);
      const result = await elbowSweep(
        X,
        {
          kMin: o.kMin,
          kMax: o.kMax,
          mode: o.mode,
          seed: o.seed,
          ...(pre.encodable ? { layout: pre.encodedLayout() } : {}),
        },
        (d, t, k) => progress.step(`k=${k} (${d}/${t})`),
      );
      progress.done('sweep done');
      if (o.json) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `${formatTable(
          ['k', 'inertia', 'silhouette', 'calinski_harabasz', 'davies_bouldin', 'seconds'],
          result.rows.map((r) => [
            r.k,
            r.inertia,
            r.silhouette,
            r.calinskiHarabasz,
            r.daviesBouldin,
            r.seconds,
          ]),
        )}\n\n${bold(`recommended k = ${result.recommended}`)}\n${result.rationale}\n`,
      );
    });

  program
    .command('evaluate')
    .description('train on a public dataset and evaluate on its test file (labels used only to report)')
    .addOption(new Option('--dataset <name>', 'dataset').choices(['nsl-kdd', 'kdd99']).default('nsl-kdd'))
    .addOption(
      new Option(
        '--test <file>',
        'NSL-KDD test file (KDDTest+ or KDDTest-21); with --lab, the test run directory',
      ),
    )
    .option(
      '--lab <dir>',
      'traffic lab: train on the flows of this (benign) run, test on the run given by --test',
    )
    .addOption(
      new Option('--train-on <rows>', 'rows to learn from').choices(['normal', 'all']).default('normal'),
    )
    .option('--k <k>', 'number of clusters of the primary run', intOption(1))
    .option('--target-fpr <rate>', 'false-positive rate the threshold aims at', fprOption, 0.01)
    .option('--seed <n>', 'random seed', intOption(0), 0)
    .option('--no-baseline', 'skip the plain K-Means baseline')
    .option('--pcaps <dir>', 'real traffic: capture-grouped cross-validation on the benign captures in DIR')
    .option('--attack <dir>', 'with --pcaps: attack captures (LABELS.tsv per capture) scored by every fold')
    .option('--folds <n>', 'with --pcaps: folds of capture files', intOption(2), 5)
    .addOption(
      new Option('--detector <name>', 'with --pcaps: detector to evaluate')
        .choices([...DETECTOR_NAMES])
        .default('kmeans'),
    )
    .option('--json', 'print JSON')
    .action(async (o, cmd: Command) => {
      const progress = createProgress();
      if (o.pcaps) {
        const r = await evaluatePcaps({
          benignDir: o.pcaps,
          attackDir: o.attack,
          folds: o.folds,
          seed: o.seed,
          detector: o.detector,
          kmeans: { targetFpr: o.targetFpr, ...(o.k ? { k: o.k } : {}) },
          onProgress: (s) => progress.step(s),
        });
        progress.done('evaluated');
        process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : describePcapEvaluation(r));
        return;
      }
      if (o.lab) {
        if (!o.test) cmd.error('error: --lab TRAIN_DIR needs --test TEST_DIR (a lab run with attacks)');
        const lab = await evaluateLab({
          train: o.lab,
          test: o.test,
          ...(o.k ? { k: o.k } : {}),
          detector: { targetFpr: o.targetFpr, seed: o.seed },
          onProgress: (s) => progress.step(s),
        });
        progress.done('evaluated');
        process.stdout.write(o.json ? `${JSON.stringify(lab, null, 2)}\n` : describeLabEvaluation(lab));
        return;
      }
      const test = o.test ?? 'KDDTest+';
      if (test !== 'KDDTest+' && test !== 'KDDTest-21')
        cmd.error(
          `error: option '--test <file>' argument '${test}' is invalid. Allowed choices are KDDTest+, KDDTest-21.`,
        );
      const result = await evaluateDataset({
        dataset: o.dataset,
        test,
        trainOn: o.trainOn,
        baseline: o.baseline,
        detector: { targetFpr: o.targetFpr, seed: o.seed, ...(o.k ? { k: o.k } : {}) },
        onProgress: (s) => progress.step(s),
      });
      progress.done('evaluated');
      if (o.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else process.stdout.write(describeEvaluation(result));
    });

  program
    .command('score')
    .description('score every record of FILE (or of a ClickHouse table: --from) with the model in DIR')
    .argument('<model>', 'model bundle directory')
    .argument('[file]', 'data to score (omit with --from)')
    .addOption(formatOption())
    .addOption(badRowOption('quarantine'))
    .option('--jsonl', 'one JSON object per record on stdout')
    .option('--only-anomalies', 'print only records flagged as anomalies')
    .addOption(clickhouseOptions.from('score in the database: clickhouse://HOST:PORT/DB?table=T'))
    .addOption(clickhouseOptions.into())
    .addOption(clickhouseOptions.columns())
    .addOption(clickhouseOptions.keep())
    .addOption(clickhouseOptions.kmeansOnly())
    .action(async (modelDir: string, file: string | undefined, o) => {
      const progress = createProgress();
      const model = await loadModel(modelDir);
      if (o.from) return scoreFromClickHouse(model, o, progress);
      if (!file) throw new InputError('score: give a FILE to score or --from clickhouse://…');
      progress.step(`reading ${file}`);
      const input = await readInput(file, o.format, o.onBadRow);
      progress.step(`scoring ${input.table.nRows} records`);
      const { records, summary } = await scoreRecords(model, input);
      progress.done(
        `${summary.rows} records scored, ${summary.anomalies} anomalies (${(100 * summary.anomalyShare).toFixed(2)}%), ${input.report.rowsSkipped} bad rows set aside`,
      );
      if (summary.files) for (const line of describeFiles(summary.files)) process.stderr.write(`${line}\n`);
      if (summary.hosts)
        for (const line of describeHosts(summary.hosts, model.detector.training.host?.windowSeconds ?? 300))
          process.stderr.write(`${line}\n`);
      if (input.identity) {
        const failed = new Set(summary.files?.map((f) => f.error));
        for (const w of input.report.warnings.filter((x) => !failed.has(x)).slice(0, 10))
          process.stderr.write(`warning: ${w}\n`);
      }
      const out: string[] = [];
      if (!o.jsonl) process.stdout.write('row,anomaly_score,is_anomaly,cluster\n');
      for (const r of records) {
        if (o.onlyAnomalies && !r.is_anomaly) continue;
        if (o.jsonl) out.push(JSON.stringify(r));
        else out.push([r.row, r.anomaly_score.toFixed(6), r.is_anomaly ? 1 : 0, r.cluster].join(','));
        if (out.length >= 8192) {
          process.stdout.write(`${out.join('\n')}\n`);
          out.length = 0;
        }
      }
      if (out.length) process.stdout.write(`${out.join('\n')}\n`);
    });

  program
    .command('info')
    .description('describe a model bundle')
    .argument('<model>', 'model bundle directory')
    .option('--json', 'print JSON')
    .action(async (modelDir: string, o) => {
      const model = await loadModel(modelDir);
      const info = describeModel(model);
      if (o.json) process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
      else {
        process.stdout.write(
          `${bold(modelDir)} (sha256 ${model.sha256.slice(0, 12)})\n` +
            `  trained on ${info.data.rows} rows of ${info.data.source} (${info.data.format}, ${info.data.trainOn})\n` +
            `  k=${info.k}: ${info.kChoice}\n  ensemble runs: ${info.ensembleKs.join(', ')}\n` +
            `  threshold ${formatNumber(info.threshold)} (target false-positive rate ${info.targetFpr})\n` +
            `  features: ${info.fields.length} fields → ${info.nFeatures} columns\n` +
            (info.fieldsLeftOut.length
              ? `  left out: ${info.fieldsLeftOut.map((f) => f.name).join(', ')} (${info.fieldsLeftOut[0]!.reason})\n`
              : '') +
            expectedFprLine(info.training),
        );
      }
    });

  program
    .command('export')
    .description(
      'write the model for other tools: ONNX (features → distances, cluster, score), JSON, or ClickHouse SQL',
    )
    .argument('<model>', 'model bundle directory')
    .addOption(
      new Option('--format <format>', 'export format')
        .choices(['onnx', 'json', 'clickhouse'])
        .default('onnx'),
    )
    .requiredOption('-o, --out <file>', 'file to write')
    .addOption(clickhouseOptions.table())
    .addOption(clickhouseOptions.columns())
    .addOption(clickhouseOptions.keep())
    .option(
      '--kmeans-only',
      'ONNX / ClickHouse: export a model with a field tail anyway (its K-Means part alone)',
    )
    .action(async (modelDir: string, o, cmd: Command) => {
      const model = await loadModel(modelDir);
      const differs = o.format === 'json' ? null : exportDifference(model.file.detector);
      if (differs && !o.kmeansOnly)
        cmd.error(`error: ${modelDir}: ${differs}; pass --kmeans-only to export that part alone`);
      if (differs) process.stderr.write(`note: ${differs}\n`);
      await mkdir(dirname(o.out), { recursive: true });
      if (o.format === 'clickhouse') await clickhouseExport(model, o);
      else if (o.format === 'onnx') await copyFile(join(modelDir, 'model.onnx'), o.out);
      else await writeFile(o.out, `${JSON.stringify(model.file, null, 2)}\n`);
      process.stderr.write(`wrote ${o.out}\n`);
    });

  program
    .command('demo')
    .description(
      'the main job on real data: NSL-KDD, choose k, train on normal rows, evaluate on KDDTest+, save the model',
    )
    .option('-o, --out <dir>', 'model bundle directory', 'models/nsl-kdd')
    .option('--json', 'print the evaluation as JSON')
    .action(async (o) => {
      const progress = createProgress();
      const result = await runDemo({ out: o.out, onProgress: (s) => progress.step(s) });
      progress.done('demo done');
      if (o.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else process.stdout.write(result.text);
    });
}

export function describeModel(model: LoadedModel) {
  const det = model.detector;
  return {
    dir: model.dir,
    sha256: model.sha256,
    data: model.card.data,
    k: det.k,
    kChoice: model.card.kChoice,
    ensembleKs: det.exportRuns().map((r) => r.k),
    threshold: det.threshold,
    targetFpr: det.options.targetFpr,
    fields: det.preprocessor.fieldSpecs().map((f) => f.name),
    fieldsLeftOut: model.card.fieldsLeftOut ?? [],
    nFeatures: det.preprocessor.nOutputs,
    training: det.training,
    evaluation: model.card.evaluation ?? null,
    createdAt: model.card.createdAt,
  };
}

/** Grouped calibration: the expected FPR on new captures with its intervals (empty otherwise). */
function expectedFprLine(t: LoadedModel['detector']['training']): string {
  const e = t.expectedFpr;
  const pct = (v: number) => `${(100 * v).toFixed(2)} %`;
  let out = '';
  if (e)
    out += `  expected FPR on new captures ${pct(e.fpr)} (${e.flagged}/${e.rows} out-of-group flows of ${e.groups} captures; 95 % capture bootstrap ${pct(e.groupBootstrap.low)}–${pct(e.groupBootstrap.high)}, Clopper-Pearson ${pct(e.clopperPearson.low)}–${pct(e.clopperPearson.high)})\n`;
  if (t.host)
    out += `  host threshold ${formatNumber(t.host.threshold)} (${t.host.windowSeconds} s windows, ${t.host.aggregate === 'tail' ? 'count-aware tail score' : `top-${t.host.topK} mean`}${t.host.scope === 'pair' ? ' per pair' : ''}; ${t.host.flagged}/${t.host.hosts} calibration host windows above)\n`;
  return out;
}

export function describeEvaluation(e: Evaluation): string {
  const row = (name: string, m: Metrics) => [
    name,
    m.k,
    m.roc_auc,
    m.pr_auc,
    m.dr_at_fpr['0.001'],
    m.dr_at_fpr['0.01'],
    m.dr_at_fpr['0.05'],
    m.fpr,
    m.f1,
  ];
  const rows = [row('netanomaly', e)];
  if (e.baseline) rows.push(row('baseline', e.baseline));
  const fam = Object.entries(e.recall_by_family)
    .map(([f, g]) => `${f} ${(100 * g.recall).toFixed(1)}% of ${g.n}`)
    .join(', ');
  return `${bold(`${e.dataset}: trained on ${e.train.used} ${e.train.train_on} rows of ${e.train.id}, tested on ${e.test.id} (${e.test.rows} rows)`)}
${formatTable(['model', 'k', 'roc_auc', 'pr_auc', 'dr@0.1%', 'dr@1%', 'dr@5%', 'fpr', 'f1'], rows)}
flagged at the threshold (target false-positive rate ${e.target_fpr}): ${fam}
`;
}

export function describeLabEvaluation(e: LabEvaluation): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const rows = Object.entries(e.recall_by_scenario).map(([name, g]) => [
    name,
    g.tool,
    g.n,
    g.detected,
    pct(g.share),
  ]);
  return `${bold(`lab: trained on ${e.train.flows} flows of ${e.train.dir} (k=${e.train.k}), tested on ${e.test.flows} flows of ${e.test.dir} (${e.test.attacks} attack, ${e.test.benign} benign)`)}
roc_auc ${formatNumber(e.roc_auc)}  pr_auc ${formatNumber(e.pr_auc)}  dr@0.1% ${formatNumber(e.dr_at_fpr['0.001'])}  dr@1% ${formatNumber(e.dr_at_fpr['0.01'])}  dr@5% ${formatNumber(e.dr_at_fpr['0.05'])}
at the model's threshold: fpr ${pct(e.fpr)}, recall ${pct(e.recall)}, precision ${pct(e.precision)}
${formatTable(['scenario', 'tool', 'flows', 'flagged', 'recall'], rows)}
${Object.entries(e.hosts ?? {})
  .map(
    ([name, h]) =>
      `host windows (${name}): benign flagged ${h.benign.detected}/${h.benign.n}, attack scenarios with a flagged window ${h.scenarios_detected}/${Object.keys(h.by_scenario).length}`,
  )
  .join('\n')}
`;
}
