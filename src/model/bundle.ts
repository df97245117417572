/**
 * Model bundles: a directory of plain data other tools can load, never executable code.
 *
 *   model.json     schema, vocabularies, scaling, centres, threshold, training summary, versions
 *   model.onnx     preprocessed features → distances, cluster, anomaly_score (onnx-graph.ts)
 *   manifest.json  SHA-256 and size of every file; verified on load (tampered/truncated → refused)
 *
 * Loading checks the manifest first, then the JSON against a schema; anything off is a
 * ModelFileError naming the directory and the problem.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ModelFileError } from '../errors.ts';
import { AnomalyDetector, type DetectorState } from './detector.ts';
import { detectorGraph } from './onnx-graph.ts';

export const BUNDLE_FORMAT = 'netanomaly-model';
export const BUNDLE_VERSION = 1;
export const LIBRARY_VERSION = '0.1.0';

/** What the bundle says about the data and the model, beside the detector's own state. */
export interface ModelCard {
  /** Where the training data came from (file, dataset id, format). */
  data: { source: string; format: string; trainOn: string; rows: number };
  /** How k was chosen (e.g. "auto: knee at 24, silhouette …" or "user: 32"). */
  kChoice: string;
  /** Evaluation figures when labels were available at training time (never used to fit). */
  evaluation?: Record<string, unknown>;
  /** Elbow sweep table, when one was run. */
  elbow?: Record<string, unknown>;
  /** Analyst feedback applied at training (`train --feedback`): its revision and what it changed. */
  feedback?: { revision: number; excludedKnownBad: number; benignMatched: number };
  /** Analyst annotations per cluster id of the first run. */
  clusterNames?: Record<string, { name: string; note?: string }>;
  createdAt: string;
}

export interface ModelFile {
  format: typeof BUNDLE_FORMAT;
  formatVersion: number;
  library: { name: 'netanomaly'; version: string; node: string };
  card: ModelCard;
  detector: DetectorState;
  onnx: { file: string; input: string; outputs: string[]; opset: number };
}

const ManifestSchema = z.object({
  format: z.literal(BUNDLE_FORMAT),
  formatVersion: z.number().int(),
  files: z.record(
    z.string(),
    z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number().int() }),
  ),
});

const ModelFileSchema = z
  .object({
    format: z.literal(BUNDLE_FORMAT),
    formatVersion: z.number().int(),
    detector: z
      .object({
        options: z.object({ k: z.number().int().min(1) }).passthrough(),
        preprocessor: z
          .object({ fields: z.array(z.object({ name: z.string() }).passthrough()).min(1) })
          .passthrough(),
        runs: z
          .array(
            z.object({
              kmeans: z.object({
                k: z.number().int().min(1),
                nFeatures: z.number().int().min(1),
                centers: z.array(z.number()),
              }),
              scale: z.number().positive(),
            }),
          )
          .min(1),
        threshold: z.number(),
      })
      .passthrough(),
    card: z.object({}).passthrough(),
  })
  .passthrough();

export interface LoadedModel {
  detector: AnomalyDetector;
  card: ModelCard;
  dir: string;
  /** SHA-256 of model.json: pins the model in alerts (`rule.version`). */
  sha256: string;
  file: ModelFile;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function writeAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}

/** Write detector + card as a bundle directory (created if needed). */
export async function saveModel(
  dir: string,
  detector: AnomalyDetector,
  card: ModelCard,
): Promise<LoadedModel> {
  await mkdir(dir, { recursive: true });
  const state = detector.toState();
  const d = detector.preprocessor.nOutputs;
  const onnxBytes = detectorGraph(d, detector.exportRuns());
  const file: ModelFile = {
    format: BUNDLE_FORMAT,
    formatVersion: BUNDLE_VERSION,
    library: { name: 'netanomaly', version: LIBRARY_VERSION, node: process.version },
    card,
    detector: state,
    onnx: {
      file: 'model.onnx',
      input: 'features',
      outputs: ['distances', 'cluster', 'anomaly_score'],
      opset: 13,
    },
  };
  const json = Buffer.from(JSON.stringify(file));
  await writeAtomic(join(dir, 'model.onnx'), onnxBytes);
  await writeAtomic(join(dir, 'model.json'), json);
  const manifest = {
    format: BUNDLE_FORMAT,
    formatVersion: BUNDLE_VERSION,
    files: {
      'model.json': { sha256: sha256(json), bytes: json.length },
      'model.onnx': { sha256: sha256(onnxBytes), bytes: onnxBytes.length },
    },
  };
  await writeAtomic(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return { detector, card, dir, sha256: manifest.files['model.json'].sha256, file };
}

/** Read and verify a bundle directory. */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const where = (name: string) => join(dir, name);
  try {
    const st = await stat(dir);
    if (!st.isDirectory())
      throw new ModelFileError(
        `${dir}: not a model directory (expected manifest.json, model.json, model.onnx)`,
      );
  } catch (err) {
    if (err instanceof ModelFileError) throw err;
    throw new ModelFileError(`${dir}: no such model directory`);
  }
  let manifestRaw: string;
  try {
    manifestRaw = await readFile(where('manifest.json'), 'utf8');
  } catch {
    throw new ModelFileError(`${dir}: not a netanomaly model (no manifest.json)`);
  }
  let manifest: z.infer<typeof ManifestSchema>;
  try {
    manifest = ManifestSchema.parse(JSON.parse(manifestRaw));
  } catch {
    throw new ModelFileError(`${where('manifest.json')}: not a netanomaly manifest`);
  }
  if (manifest.formatVersion > BUNDLE_VERSION) {
    throw new ModelFileError(
      `${dir}: model format ${manifest.formatVersion} is newer than this netanomaly reads (${BUNDLE_VERSION})`,
    );
  }
  for (const name of ['model.json', 'model.onnx']) {
    const entry = manifest.files[name];
    if (!entry) throw new ModelFileError(`${where('manifest.json')}: lists no ${name}`);
    let bytes: Buffer;
    try {
      bytes = await readFile(where(name));
    } catch {
      throw new ModelFileError(`${where(name)}: missing`);
    }
    if (bytes.length !== entry.bytes) {
      throw new ModelFileError(
        `${where(name)}: ${bytes.length} bytes, manifest says ${entry.bytes} (truncated or altered)`,
      );
    }
    if (sha256(bytes) !== entry.sha256)
      throw new ModelFileError(`${where(name)}: SHA-256 does not match the manifest (altered)`);
  }
  let file: ModelFile;
  try {
    const raw = JSON.parse(await readFile(where('model.json'), 'utf8'));
    ModelFileSchema.parse(raw);
    file = raw as ModelFile;
  } catch (err) {
    throw new ModelFileError(`${where('model.json')}: not a valid model file (${firstLine(err)})`);
  }
  for (const run of file.detector.runs) {
    if (run.kmeans.centers.length !== run.kmeans.k * run.kmeans.nFeatures) {
      throw new ModelFileError(
        `${where('model.json')}: centre matrix has ${run.kmeans.centers.length} values, expected k×features`,
      );
    }
  }
  const detector = AnomalyDetector.fromState(file.detector);
  return { detector, card: file.card, dir, sha256: manifest.files['model.json']!.sha256, file };
}

/** Rewrite only the card (e.g. cluster names) of a bundle, keeping the manifest true. */
export async function updateCard(dir: string, change: (card: ModelCard) => ModelCard): Promise<LoadedModel> {
  const model = await loadModel(dir);
  return saveModel(dir, model.detector, change(model.card));
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err)
    .split('\n')[0]!
    .slice(0, 200);
}
