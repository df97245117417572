/** `netanomaly report MODEL [--data FILE --format F] --out report.html`: one self-contained HTML file. */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type Command, Option } from 'commander';
import { INPUT_FORMATS, readInput } from '../../ingest/read-input.ts';
import { loadModel } from '../../model/bundle.ts';
import { renderReport } from '../../viz/report.ts';
import { buildReportInput } from '../../viz/report-data.ts';
import { intOption } from '../options.ts';
import { createProgress } from '../progress.ts';

export function registerReportCommands(program: Command): void {
  program
    .command('report')
    .description(
      'write a self-contained HTML report of MODEL (card, elbow, traffic map, profiles, evaluation)',
    )
    .argument('<model>', 'model bundle directory')
    .option('--data <file>', "data to describe (default: the model's training file, when it still exists)")
    .addOption(
      new Option('--format <format>', 'format of --data').choices([...INPUT_FORMATS]).default('auto'),
    )
    .option('--no-labels', 'ignore labels in the data (no evaluation, no label counts)')
    .option('--max-points <n>', 'flows drawn on the traffic map at most', intOption(100), 5000)
    .option('--title <text>', 'report title')
    .requiredOption('-o, --out <file>', 'HTML file to write')
    .action(async (modelDir: string, o) => {
      const progress = createProgress();
      progress.step(`loading ${modelDir}`);
      const model = await loadModel(modelDir);
      let dataPath: string | undefined = o.data;
      let format: string = o.format;
      if (!dataPath && model.card.data?.source && existsSync(model.card.data.source)) {
        dataPath = model.card.data.source;
        if (format === 'auto' && model.card.data.format) format = model.card.data.format;
      }
      let data:
        | { table: import('../../ingest/table.ts').Table; source: string; labels?: string[] | null }
        | undefined;
      if (dataPath) {
        progress.step(`reading ${dataPath}`);
        const input = await readInput(dataPath, format, 'skip');
        data = { table: input.table, source: dataPath, labels: o.labels ? (input.labels ?? null) : null };
      }
      progress.step('computing profiles, map and scores');
      const reportInput = await buildReportInput(model, { data, maxPoints: o.maxPoints });
      if (o.title) reportInput.title = o.title;
      const html = await renderReport(reportInput);
      await mkdir(dirname(o.out), { recursive: true });
      await writeFile(o.out, html);
      progress.done(`report written to ${o.out}`);
      process.stdout.write(`${o.out}\n`);
    });
}
