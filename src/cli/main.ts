/**
 * The netanomaly command line. A thin shell: every command parses its options, calls the
 * library, and prints (human text, or JSON on stdout with --json / --jsonl). Progress goes to
 * stderr. Exit codes: 0 ok, 1 error (one line: `Name: message`), 2 usage.
 */
import { Command, CommanderError } from 'commander';
import { NetanomalyError } from '../errors.ts';
import { registerAppCommands } from './commands/app.ts';
import { registerBeaconCommands } from './commands/beacons.ts';
import { registerCollectCommand } from './commands/collect.ts';
import { registerCoreCommands } from './commands/core.ts';
import { registerInsightCommands } from './commands/insight.ts';
import { registerLabCommands } from './commands/lab.ts';
import { registerOpsCommands } from './commands/ops.ts';
import { registerReportCommands } from './commands/report.ts';
import { registerStreamCommands } from './commands/stream.ts';

export function buildProgram(): Command {
  const program = new Command('netanomaly')
    .description('Find anomalies in network traffic with K-Means clustering.')
    .version('0.1.0')
    .option('--debug', 'show stack traces on errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerCoreCommands(program);
  registerStreamCommands(program);
  registerAppCommands(program);
  registerInsightCommands(program);
  registerBeaconCommands(program);
  registerReportCommands(program);
  registerOpsCommands(program);
  registerLabCommands(program);
  registerCollectCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const unknown = unknownCommand(program, argv);
  if (unknown) {
    process.stderr.write(`error: unknown command '${unknown}' (run netanomaly --help for the commands)\n`);
    return 2;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      )
        return 0;
      return 2;
    }
    const debug = argv.includes('--debug');
    if (err instanceof NetanomalyError) {
      process.stderr.write(`${err.name}: ${err.message}\n`);
    } else {
      process.stderr.write(`Error: ${(err as Error)?.message ?? String(err)}\n`);
    }
    if (debug) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
    // an error may carry its own exit code (an interrupted lab run: 130)
    const own = (err as { exitCode?: unknown })?.exitCode;
    return err instanceof NetanomalyError && typeof own === 'number' ? own : 1;
  }
}

/**
 * The command word of argv when it names no command (commander would print the general help for
 * `no-such-command --help` and exit 0). `help NAME` is checked the same way.
 */
function unknownCommand(program: Command, argv: string[]): string | null {
  // The global options (--debug, -V, -h) take no value: the first other word is the command.
  const words = argv.filter((a) => !a.startsWith('-'));
  const first = words[0];
  if (first === undefined) return null;
  const known = new Set(program.commands.flatMap((c) => [c.name(), ...c.aliases()]));
  known.add('help');
  if (!known.has(first)) return first;
  if (first === 'help' && words[1] !== undefined && !known.has(words[1])) return words[1];
  return null;
}

// Run when executed directly (tsx src/cli/main.ts …).
if (process.argv[1] && /main\.ts$/.test(process.argv[1])) {
  // `netanomaly score … | head`: a closed pipe ends the output quietly, as Unix tools do.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`Error: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
