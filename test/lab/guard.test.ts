/**
 * The lab lock (a second concurrent run is refused, a dead owner's lock is taken over) and the
 * clean-up of a crashed run (real namespaces with a real process in them, as root).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { acquireLock } from '../../src/lab/guard.ts';
import { cleanupStale, labNamespaces, RUN_DIR_PREFIX } from '../../src/lab/netns.ts';
import { tempDir } from '../helpers/data.ts';

describe('lab lock', () => {
  test('a live owner refuses a second run; release frees the lock', () => {
    const lock = join(tempDir(), 'lab.lock');
    const release = acquireLock(lock);
    assert.equal(readFileSync(lock, 'utf8').trim(), String(process.pid));
    assert.throws(() => acquireLock(lock), {
      name: 'LabError',
      message: new RegExp(`another lab run is active \\(pid ${process.pid}`),
    });
    release();
    assert.equal(existsSync(lock), false);
    acquireLock(lock)();
  });

  test('a lock left by a dead process is taken over', () => {
    const lock = join(tempDir(), 'lab.lock');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    writeFileSync(lock, `${dead.stdout}\n`);
    const release = acquireLock(lock);
    assert.equal(readFileSync(lock, 'utf8').trim(), String(process.pid));
    release();
  });
});

describe('stale clean-up (root)', () => {
  test('namespaces and processes of a crashed run are removed, nothing else', async () => {
    assert.equal(process.getuid?.(), 0, 'the lab tests run as root (as CI does)');
    const tmp = tempDir();
    const prefix = `nalabt${process.pid}-`;
    const ns = `${prefix}host`;
    assert.equal(spawnSync('ip', ['netns', 'add', ns]).status, 0);
    // a process inside the namespace, as a server of a crashed run would be
    const inNs = spawn('ip', ['netns', 'exec', ns, 'sleep', '300'], { stdio: 'ignore', detached: true });
    // a process outside any lab namespace that still uses a run directory
    const runDir = join(tmp, `${RUN_DIR_PREFIX}crashed`);
    mkdirSync(runDir);
    const byDir = spawn('bash', ['-c', 'sleep 300; true', join(runDir, 'marker')], {
      stdio: 'ignore',
      detached: true,
    });
    const bystander = spawn('sleep', ['300'], { stdio: 'ignore', detached: true });
    const gone = (p: ReturnType<typeof spawn>) => new Promise((r) => p.on('exit', r));
    const inNsGone = gone(inNs);
    const byDirGone = gone(byDir);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await labNamespaces(prefix), [ns]);
    const cleaned = await cleanupStale(tmp, prefix);
    assert.deepEqual(cleaned.namespaces, [ns]);
    assert.ok(cleaned.pids.includes(byDir.pid!));
    await Promise.all([inNsGone, byDirGone]);
    assert.deepEqual(await labNamespaces(prefix), []);
    assert.equal(bystander.exitCode, null, 'an unrelated process is left alone');
    process.kill(bystander.pid!, 'SIGKILL');
  });
});
