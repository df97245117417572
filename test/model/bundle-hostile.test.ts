/**
 * Model bundles from strangers: a real bundle (k = 4, trained on NSL-KDD) altered the way a hostile
 * or broken one would be, with the manifest kept true so the checks past the SHA-256 are reached.
 * Each is refused with a ModelFileError naming the file and the problem, before the large file is
 * read (sizes come from lstat; nesting is checked before JSON.parse).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, open, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ModelFileError } from '../../src/errors.ts';
import { BUNDLE_LIMITS, jsonDepth, loadModel } from '../../src/model/bundle.ts';
import { dataDir, scratchDir, smallModel } from '../fuzz/targets.ts';

let base: string;
let good: string;
let n = 0;

before(async () => {
  base = await scratchDir('bundle-hostile');
  good = await smallModel(dataDir(), base);
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A copy of the good bundle; `edit` gets model.json (parsed) and may return new bytes or an object. */
async function altered(
  edit: (model: Record<string, unknown>) => unknown,
  editManifest: (m: Record<string, unknown>) => unknown = (m) => m,
): Promise<string> {
  const dir = join(base, `case-${n++}`);
  await cp(good, dir, { recursive: true });
  const model = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
  const out = edit(model) ?? model;
  const bytes = Buffer.from(typeof out === 'string' ? out : JSON.stringify(out));
  await writeFile(join(dir, 'model.json'), bytes);
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  manifest.files['model.json'] = { sha256: sha(bytes), bytes: bytes.length };
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(editManifest(manifest) ?? manifest));
  return dir;
}

async function refused(dir: string, pattern: RegExp): Promise<void> {
  await assert.rejects(loadModel(dir), (err: unknown) => {
    assert.ok(err instanceof ModelFileError, `expected ModelFileError, got ${(err as Error)?.name}: ${err}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), 'one line');
    return true;
  });
}

// biome-ignore lint/suspicious/noExplicitAny: the tests reach into model.json freely
type Json = Record<string, any>;

describe('model bundles from strangers', () => {
  test('the unaltered bundle loads and scores', async () => {
    const m = await loadModel(await altered((x) => x));
    assert.equal(m.detector.k, 4);
  });

  test('JSON nested 100 000 levels deep (model.json and manifest.json)', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    await refused(
      await altered((m) => JSON.stringify(m).replace('"card":{', `"card":{"x":${deep},`)),
      /model\.json: .*nested deeper than 32 levels/,
    );
    await refused(
      await altered(
        (m) => m,
        () => null,
      ).then(async (dir) => {
        await writeFile(join(dir, 'manifest.json'), `{"format":${'['.repeat(5000)}`);
        return dir;
      }),
      /manifest\.json: .*nested deeper/,
    );
    assert.equal(jsonDepth('{"a":"[[[[","b":[{}]}', 32), 3);
  });

  test('huge files are refused from their size, before reading', async () => {
    const dir = await altered((m) => m);
    // Sparse files: 80 MiB model.json, 1 GiB model.onnx, 10 MiB manifest (no disk, no memory).
    for (const [name, size] of [
      ['model.json', BUNDLE_LIMITS.modelJsonBytes + 16 * 1024 * 1024],
      ['model.onnx', 1024 * 1024 * 1024],
    ] as const) {
      const copy = join(base, `case-${n++}`);
      await cp(dir, copy, { recursive: true });
      const fh = await open(join(copy, name), 'r+');
      await fh.truncate(size);
      await fh.close();
      const manifest = JSON.parse(await readFile(join(copy, 'manifest.json'), 'utf8'));
      manifest.files[name].bytes = Math.min(size, BUNDLE_LIMITS.onnxBytes);
      await writeFile(join(copy, 'manifest.json'), JSON.stringify(manifest));
      await refused(copy, new RegExp(`${name.replace('.', '\\.')}: ${size} bytes, more than the`));
    }
    const fh = await open(join(dir, 'manifest.json'), 'r+');
    await fh.truncate(10 * 1024 * 1024);
    await fh.close();
    await refused(dir, /manifest\.json: 10485760 bytes, more than the 65536/);
  });

  test('Infinity, NaN and overflowing values in centres, scales and threshold', async () => {
    const put = (path: (m: Json) => void) => (m: Json) => {
      path(m);
      return m;
    };
    await refused(
      await altered((m) => JSON.stringify(m).replace(/"centers":\[([-\d.e+]+)/, '"centers":[1e999')),
      /model\.json: not a valid model file \(detector\.runs\.0\.kmeans\.centers\.0: /,
    );
    await refused(
      await altered((m) => JSON.stringify(m).replace(/"centers":\[([-\d.e+]+)/, '"centers":[NaN')),
      /model\.json: not a valid model file \(not valid JSON\)/,
    );
    await refused(
      await altered(
        put((m) => {
          m.detector.runs[0].kmeans.centers[5] = 1e200;
        }),
      ),
      /centers\.5: coordinate out of range/,
    );
    await refused(
      await altered((m) => JSON.stringify(m).replace(/"threshold":[-\d.e+]+/, '"threshold":-1e999')),
      /detector\.threshold/,
    );
    const numeric = (m: Json) => m.detector.preprocessor.fields.find((f: Json) => f.kind === 'numeric').name;
    await refused(
      await altered((m) =>
        JSON.stringify(m).replace(
          new RegExp(`"scales":\\{"${numeric(m)}":[-\\d.e+]+`),
          `"scales":{"${numeric(m)}":1e999`,
        ),
      ),
      /detector\.preprocessor\.scales\./,
    );
    await refused(
      await altered(
        put((m) => {
          m.detector.runs[0].scale = 0;
        }),
      ),
      /detector\.runs\.0\.scale/,
    );
  });

  test('a manifest naming files outside the bundle', async () => {
    for (const name of ['../../../etc/passwd', '/etc/passwd', '.hidden', 'a/b.json']) {
      await refused(
        await altered(
          (m) => m,
          (man: Json) => {
            man.files[name] = { sha256: '0'.repeat(64), bytes: 10 };
            return man;
          },
        ),
        /manifest\.json: not a netanomaly manifest \(files\..*not a plain file name inside the bundle/,
      );
    }
    await refused(
      await altered((m: Json) => {
        m.onnx.file = '../../elsewhere.onnx';
        return m;
      }),
      /onnx\.file/,
    );
  });

  test('symbolic links and special files in place of bundle files', async () => {
    const target = await altered((m) => m);
    for (const name of ['model.json', 'model.onnx', 'manifest.json']) {
      const dir = await altered((m) => m);
      await unlink(join(dir, name));
      await symlink(join(target, name), join(dir, name));
      await refused(dir, new RegExp(`${name.replace('.', '\\.')}: is a symbolic link`));
    }
    const dir = await altered((m) => m);
    await unlink(join(dir, 'model.onnx'));
    await symlink('/dev/zero', join(dir, 'model.onnx'));
    await refused(dir, /model\.onnx: is a symbolic link/);
    // A FIFO would block a plain readFile forever.
    const fifo = await altered((m) => m);
    await unlink(join(fifo, 'model.json'));
    execFileSync('mkfifo', [join(fifo, 'model.json')]);
    await refused(fifo, /model\.json: not a regular file/);
  });

  test('wrong format names and versions', async () => {
    const manifestVersion = (v: unknown) => (man: Json) => {
      man.formatVersion = v;
      return man;
    };
    await refused(
      await altered((m) => m, manifestVersion(4)),
      /model format 4 is newer than this netanomaly reads \(3\)/,
    );
    await refused(await altered((m) => m, manifestVersion(0)), /model format 0 is not a netanomaly format/);
    await refused(
      await altered((m) => m, manifestVersion('1')),
      /manifest\.json: not a netanomaly manifest \(formatVersion/,
    );
    await refused(
      await altered((m: Json) => {
        m.formatVersion = 7;
        return m;
      }),
      /model\.json: format 7, but the manifest says 1/,
    );
    await refused(
      await altered((m: Json) => {
        m.format = 'sklearn-pickle';
        return m;
      }),
      /model\.json: not a valid model file \(format: /,
    );
  });

  test('parts that disagree: features per run, vocabularies, one-hot scaling, k', async () => {
    await refused(
      await altered((m: Json) => {
        const km = m.detector.runs[0].kmeans;
        km.nFeatures -= 1;
        km.centers = km.centers.slice(0, km.k * km.nFeatures);
        return m;
      }),
      /a run has \d+ features, the preprocessor makes \d+/,
    );
    await refused(
      await altered((m: Json) => {
        const cat = m.detector.preprocessor.fields.find((f: Json) => f.kind === 'categorical').name;
        delete m.detector.preprocessor.vocabularies[cat];
        return m;
      }),
      /categorical field '.*' has no vocabulary/,
    );
    await refused(
      await altered((m: Json) => {
        m.detector.preprocessor.oneHotMeans = [0, 1];
        return m;
      }),
      /one-hot scaling has 2\/\d+ values/,
    );
    await refused(
      await altered((m: Json) => {
        m.detector.options.k = 9;
        return m;
      }),
      /primary run's k differs from options\.k/,
    );
  });
});
