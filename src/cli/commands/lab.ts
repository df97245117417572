/** `netanomaly lab run`: the traffic lab (src/lab). */
import type { Command } from 'commander';
import { LabError } from '../../lab/guard.ts';
import { runLab } from '../../lab/run.ts';
import { intOption } from '../options.ts';
import { bold, createProgress } from '../progress.ts';

export function registerLabCommands(program: Command): void {
  const lab = program
    .command('lab')
    .description('the traffic lab: labelled traffic from real servers, clients and attack tools (root)');
  lab
    .command('run')
    .description(
      'build the lab in network namespaces, run benign traffic and attack scenarios, capture and label',
    )
    .requiredOption('-o, --out <dir>', 'directory for capture.pcap, labels.csv, manifest.json')
    .option('--duration <s>', 'seconds of traffic', intOption(20), 120)
    .option('--seed <n>', 'random seed', intOption(0), 0)
    .option('--scenarios <list>', "comma-separated scenario names, 'all' or 'none'", 'all')
    .option('--json', 'print the manifest as JSON')
    .action(async (o) => {
      // a closed stderr (`lab run ... 2>&1 | head`) must not kill the run before its teardown
      process.stderr.on('error', () => {});
      const progress = createProgress();
      const choice: string[] | 'all' | 'none' =
        o.scenarios === 'all' || o.scenarios === 'none'
          ? o.scenarios
          : String(o.scenarios)
              .split(',')
              .map((s: string) => s.trim())
              .filter(Boolean);
      let result: Awaited<ReturnType<typeof runLab>>;
      try {
        result = await runLab({
          out: o.out,
          duration: o.duration,
          seed: o.seed,
          scenarios: choice,
          onProgress: (s) => progress.step(s),
        });
      } catch (err) {
        if (err instanceof LabError && /^interrupted/.test(err.message)) process.exitCode = 130;
        throw err;
      }
      const m = result.manifest;
      progress.done(`lab run done: ${m.flows} flows, ${(100 * m.labelled_share).toFixed(2)}% labelled`);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(m, null, 2)}\n`);
        return;
      }
      const counts = Object.entries(m.counts)
        .map(([k, v]) => `  ${k}: ${v}`)
        .join('\n');
      const skipped = m.skipped.map((s) => `  ${s.name}: ${s.reason}`).join('\n');
      process.stdout.write(
        `${bold(`lab run in ${result.dir}`)} (seed ${m.seed}, ${m.duration} s, ${m.capture.packets} packets)\nflows per label:\n${counts}\n${skipped ? `skipped:\n${skipped}\n` : ''}`,
      );
    });
}
