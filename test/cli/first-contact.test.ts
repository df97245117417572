/**
 * First contact with the CLI: `npx netanomaly …` prints no npm warning before its output (no
 * unknown project config in .npmrc, while package.json's allowScripts still skips
 * onnxruntime-node's GPU download), and an unknown command is refused (exit 2) even with --help.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cli, ROOT } from '../helpers/cli.ts';

describe('first contact', () => {
  test('npx netanomaly --version: the version and nothing from npm', () => {
    const r = spawnSync('npx', ['--no-install', 'netanomaly', '--version'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '0.1.0');
    assert.doesNotMatch(r.stderr, /npm warn/i);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      allowScripts?: Record<string, boolean>;
    };
    assert.equal(pkg.allowScripts?.['onnxruntime-node'], false, 'the GPU download stays skipped');
  });

  test('an unknown command exits 2 and says so, with or without --help', async () => {
    for (const args of [
      ['no-such-command', '--help'],
      ['help', 'no-such-command'],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /unknown command 'no-such-command'/);
      assert.doesNotMatch(r.stdout, /Usage:/);
    }
  });
});
