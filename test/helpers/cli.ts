/** Runs the real CLI in a child process (as a user would), capturing its output and exit code. */
import { join } from 'node:path';
import { type ProcessResult, runProcess } from './process.ts';

export const ROOT = join(import.meta.dirname, '..', '..');

export type CliResult = ProcessResult;

/** The node arguments that run the CLI from source (cwd: ROOT). */
export const CLI_ARGS = ['--import', 'tsx', 'src/cli/main.ts'];

export function cli(
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  return runProcess(process.execPath, [...CLI_ARGS, ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    input: opts.input ?? '',
  });
}

/** The lines of stderr that are not progress lines. */
export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('['));
}

/** An analyst's verdict on a host, through the CLI (`feedback add --scope host`). */
export function hostVerdict(
  model: string,
  host: string,
  verdict: 'benign' | 'known-bad',
  who = 'analyst',
): Promise<CliResult> {
  return cli([
    'feedback',
    'add',
    model,
    '--scope',
    'host',
    '--host',
    host,
    '--verdict',
    verdict,
    '--who',
    who,
  ]);
}
