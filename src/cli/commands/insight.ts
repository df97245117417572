/** Insight commands: profile (cluster profiles + behaviour tags), explain (one flow), label-cluster. */
import { access } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { InputError } from '../../errors.ts';
import { explainRows, type FlowExplanation } from '../../explain/explain-flow.ts';
import { type ClusterProfile, profileClusters, tagAgreement } from '../../explain/profiles.ts';
import { type AnyInput, INPUT_FORMATS, readInput } from '../../ingest/read-input.ts';
import { type LoadedModel, loadModel, updateCard } from '../../model/bundle.ts';
import { intOption } from '../options.ts';
import { bold, createProgress, formatNumber, formatTable } from '../progress.ts';

const formatOption = () =>
  new Option('--format <format>', 'input format').choices([...INPUT_FORMATS]).default('auto');

/** The data to profile: --data FILE, else the training data named in the model card. */
async function profileInput(model: LoadedModel, file: string | undefined, format: string): Promise<AnyInput> {
  if (file) return readInput(file, format, 'skip');
  const src = model.card.data.source;
  try {
    await access(src);
  } catch {
    throw new InputError(
      `${model.dir}: the training data '${src}' named in the model card is not readable here; pass --data FILE`,
    );
  }
  return readInput(src, format === 'auto' ? model.card.data.format || 'auto' : format, 'skip');
}

export function registerInsightCommands(program: Command): void {
  program
    .command('profile')
    .description('profile the clusters of a model: size, centroid, distinguishing fields, behaviour tag')
    .argument('<model>', 'model bundle directory')
    .option('--data <file>', 'data to profile (default: the training data named in the model card)')
    .addOption(formatOption())
    .option('--labels', "compare with the data's labels (evaluation only: tags never see them)")
    .option('--top <n>', 'distinguishing fields per cluster', intOption(1), 8)
    .option('--json', 'print JSON')
    .action(async (modelDir: string, o) => {
      const progress = createProgress();
      const model = await loadModel(modelDir);
      progress.step('reading the data');
      const input = await profileInput(model, o.data, o.format);
      if (o.labels && !input.labels) {
        throw new InputError(`${input.report.file}: --labels given but the input has no label column`);
      }
      progress.step(`profiling ${input.table.nRows} rows`);
      const clusters = await profileClusters(model.detector, input.table, {
        labels: o.labels ? input.labels : null,
        clusterNames: model.card.clusterNames,
        topFields: o.top,
      });
      const agreement = o.labels ? tagAgreement(clusters) : null;
      progress.done('profiled');
      if (o.json) {
        const out = {
          model: modelDir,
          data: { file: input.report.file, format: input.format, rows: input.table.nRows },
          k: model.detector.k,
          clusters,
          ...(agreement ? { agreement } : {}),
        };
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      process.stdout.write(describeProfiles(clusters, input.table.nRows, modelDir, input.report.file));
      if (agreement) {
        process.stdout.write(
          `\ntag agrees with the majority family for ${(100 * agreement.agreement).toFixed(1)}% of rows (${agreement.agreeingRows} of ${agreement.rows}; labels used only for this comparison)\n`,
        );
      }
    });

  program
    .command('explain')
    .description("explain one record's verdict: distance decomposed by field, typical values, counterfactual")
    .argument('<model>', 'model bundle directory')
    .argument('<file>', 'data holding the record')
    .addOption(formatOption())
    .requiredOption('--row <n>', 'row number (0-based, after bad rows are set aside)', intOption(0))
    .option('--top <n>', 'fields to list', intOption(1), 5)
    .option('--json', 'print JSON')
    .action(async (modelDir: string, file: string, o) => {
      const progress = createProgress();
      const model = await loadModel(modelDir);
      progress.step(`reading ${file}`);
      const input = await readInput(file, o.format, 'skip');
      progress.step('profiling clusters');
      const profiles = await profileClusters(model.detector, input.table, {
        clusterNames: model.card.clusterNames,
      });
      const [e] = await explainRows(model.detector, input.table, [o.row], { profiles, topFields: o.top });
      progress.done('explained');
      if (o.json) process.stdout.write(`${JSON.stringify(e, null, 2)}\n`);
      else process.stdout.write(describeExplanation(e!));
    });

  program
    .command('label-cluster')
    .description('name (and annotate) a cluster of a model; shown by profile, explain and the report')
    .argument('<model>', 'model bundle directory')
    .argument('<id>', 'cluster id', intOption(0))
    .argument('<name>', 'name for the cluster')
    .option('--note <text>', 'a note for the cluster')
    .action(async (modelDir: string, id: number, name: string, o) => {
      const model = await loadModel(modelDir);
      if (id >= model.detector.k) {
        throw new InputError(
          `${modelDir}: cluster ${id} does not exist (the model has clusters 0..${model.detector.k - 1})`,
        );
      }
      if (!name.trim()) throw new InputError('the cluster name is empty');
      await updateCard(modelDir, (card) => ({
        ...card,
        clusterNames: {
          ...(card.clusterNames ?? {}),
          [String(id)]: { name: name.trim(), ...(o.note ? { note: String(o.note) } : {}) },
        },
      }));
      process.stdout.write(
        `cluster ${id} of ${modelDir} is now '${name.trim()}'${o.note ? ` (${o.note})` : ''}\n`,
      );
    });
}

function describeProfiles(clusters: ClusterProfile[], rows: number, model: string, file: string): string {
  const labelled = clusters.some((c) => c.label_counts);
  const header = ['id', 'name', 'size', 'share', 'tag', 'conf', 'distinguishing (effect in std)'];
  if (labelled) header.push('majority', 'purity');
  const body = clusters.map((c) => {
    const dist = c.distinguishing
      .slice(0, 3)
      .map((f) => `${f.column}${f.direction === 'up' ? '↑' : '↓'}${Math.abs(f.effect).toFixed(1)}`)
      .join(' ');
    const r: (string | number)[] = [c.id, c.name ?? '', c.size, c.share, c.tag, c.confidence, dist];
    if (labelled) r.push(c.majority ?? '', c.purity ?? 0);
    return r;
  });
  const evidence = clusters
    .filter((c) => c.evidence.length > 0)
    .map((c) => {
      const e = c.evidence[0]!;
      const vals = e.conditions.map((x) => `${x.stat}=${formatNumber(x.value)}`).join(', ');
      return `  ${c.id} ${c.tag}: ${e.rule} (${vals})${
        c.evidence.length > 1
          ? `; also ${c.evidence
              .slice(1)
              .map((x) => x.rule)
              .join(', ')}`
          : ''
      }${c.note ? ` — note: ${c.note}` : ''}`;
    })
    .join('\n');
  return `${bold(`${model}: ${clusters.length} clusters over ${rows} rows of ${file}`)}
${formatTable(header, body)}

${bold('evidence (first rule that fired, with its values)')}
${evidence}
`;
}

function describeExplanation(e: FlowExplanation): string {
  const cf = e.counterfactual;
  const fmt = (v: number | string) => (typeof v === 'number' ? formatNumber(v) : v);
  return `${bold(`row ${e.row}: cluster ${e.cluster}${e.cluster_name ? ` '${e.cluster_name}'` : ''} (${e.cluster_tag ?? 'untagged'})`)}
  anomaly score ${formatNumber(e.anomaly_score)} (${e.is_anomaly ? 'ANOMALY' : 'normal'}, risk ${e.risk}/100)
  squared distance to the centre ${formatNumber(e.squared_distance)} (${e.decomposes}), by field:
${formatTable(
  ['field', 'contribution', 'share', 'value', 'cluster typical', ''],
  e.top_fields.map((f) => [f.field, f.contribution, f.share, fmt(f.value), fmt(f.typical), f.direction]),
)}
${
  cf
    ? `counterfactual: cluster ${cf.cluster}${cf.name ? ` '${cf.name}'` : ''} (${cf.tag}, ${cf.basis}), squared distance ${formatNumber(cf.squared_distance)}; would have to change:
${cf.changes.map((c) => `  ${c.field}: ${fmt(c.value)} → ${fmt(c.target)} (${formatNumber(c.contribution)})`).join('\n')}`
    : 'counterfactual: none (single cluster)'
}
`;
}
