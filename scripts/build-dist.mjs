#!/usr/bin/env node
// Builds the typed library into dist/ (JavaScript + .d.ts, from tsconfig.build.json) for the
// notebooks: tslab type-checks cells against dist/index.d.ts and runs dist/index.js.
// Usage: node scripts/build-dist.mjs [--if-stale]   (--if-stale: only when a src/ file is newer)
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist');
const STAMP = join(DIST, '.build-stamp');

function newest(dir) {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

const sources = Math.max(newest(join(ROOT, 'src')), statSync(join(ROOT, 'tsconfig.build.json')).mtimeMs);
if (process.argv.includes('--if-stale') && existsSync(STAMP) && statSync(STAMP).mtimeMs >= sources) {
  process.exit(0);
}
const tsc = spawnSync(
  process.execPath,
  [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
  {
    cwd: ROOT,
    stdio: 'inherit',
  },
);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
// Data files the modules read at run time.
cpSync(join(ROOT, 'src/stream/schema'), join(DIST, 'stream/schema'), { recursive: true });
// danfojs declares its types only under package.json "exports", which tslab's module resolution
// (node10) does not read: point TypeScript at them. An @types folder is never used by Node itself.
const types = join(DIST, 'node_modules/@types/danfojs');
mkdirSync(types, { recursive: true });
writeFileSync(
  join(types, 'index.d.ts'),
  "export * from '../../../../node_modules/danfojs/dist/danfojs-browser/src/index';\n",
);
writeFileSync(STAMP, `${new Date().toISOString()}\n`);
