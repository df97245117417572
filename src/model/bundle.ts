/**
 * Model bundles: a directory of plain data other tools can load, never executable code.
 *
 *   model.json     schema, vocabularies, scaling, centres, threshold, training summary, versions
 *   model.onnx     preprocessed features → distances, cluster, anomaly_score (onnx-graph.ts); the
 *                  K-Means part only: a model with a field tail (format 2) says so in `onnx.scores`
 *   (format 1: no field tail; format 2: `detector.fieldTail`, the per-field rarity part, may be
 *   present; format 3: numeric fields may carry `logUnit` / `minScale` (times as log1p(t / 0.1 ms));
 *   older bundles load and score as before)
 *   manifest.json  SHA-256 and size of every file; verified on load (tampered/truncated → refused)
 *
 * Loading checks the manifest first, then the JSON against a schema; anything off is a
 * ModelFileError naming the directory and the problem.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ModelFileError, NetanomalyError } from '../errors.ts';
import { AnomalyDetector, type DetectorState } from './detector.ts';
import { detectorGraph } from './onnx-graph.ts';

export const BUNDLE_FORMAT = 'netanomaly-model';
export const BUNDLE_VERSION = 3;

/** The oldest format that can hold `state`, so older readers keep loading what they can score. */
function formatVersionOf(state: DetectorState): number {
  const scaledLog = state.preprocessor.fields.some((f) => f.logUnit !== 1 || f.minScale > 0);
  return scaledLog ? 3 : state.fieldTail ? 2 : 1;
}
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
  /**
   * Fields of the input's schema the model does not use, and why (e.g. a Zeek conn.log has no
   * value for the packet-length statistics). Scoring ignores these columns when present.
   */
  fieldsLeftOut?: { name: string; reason: string }[];
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
  onnx: {
    file: string;
    input: string;
    outputs: string[];
    opset: number;
    /**
     * What the graph's anomaly_score is: 'detector' (the model's score) or, for a model with a
     * field tail, 'kmeans-only' (the rarity part is not in the graph: rows it flags score lower).
     */
    scores?: 'detector' | 'kmeans-only';
  };
}

/** Why exports of this model (ONNX graph, ClickHouse SQL) do not compute its score, or null when they do. */
export function exportDifference(state: DetectorState): string | null {
  return state.fieldTail
    ? "the model's per-field rarity part (field tail) is not in the ONNX graph nor the SQL: their anomaly_score is the K-Means distance alone, so rows flagged by a rare field score lower there"
    : null;
}

/**
 * Bounds for model files from strangers, checked before anything is read into memory: sizes from
 * `lstat` (the manifest's own figures must agree), JSON nesting before `JSON.parse`.
 */
export const BUNDLE_LIMITS = {
  manifestBytes: 64 * 1024,
  modelJsonBytes: 64 * 1024 * 1024,
  onnxBytes: 256 * 1024 * 1024,
  jsonDepth: 32,
  /** Centre coordinates live in the scaled feature space; beyond this, squared distances overflow. */
  maxCoordinate: 1e15,
} as const;

/** A file of the bundle: a plain name inside the directory (no path, no dot file). */
const FileName = z
  .string()
  .regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/, 'a plain file name inside the bundle');

const ManifestSchema = z.strictObject({
  format: z.literal(BUNDLE_FORMAT),
  formatVersion: z.number().int(),
  files: z
    .record(
      FileName,
      z.strictObject({
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        bytes: z.number().int().min(0).max(BUNDLE_LIMITS.onnxBytes),
      }),
    )
    .refine((f) => Object.keys(f).length <= 16, 'at most 16 files'),
});

const finite = z.number().finite();
const coordinate = finite.refine(
  (v) => Math.abs(v) <= BUNDLE_LIMITS.maxCoordinate,
  'coordinate out of range',
);

const PreprocessorStateSchema = z
  .object({
    fields: z
      .array(
        z
          .object({
            name: z.string().min(1).max(200),
            kind: z.enum(['numeric', 'categorical']),
            transform: z.enum(['none', 'log1p']),
            logUnit: finite.positive().default(1),
            minScale: finite.min(0).default(0),
            weight: finite.positive(),
          })
          .passthrough(),
      )
      .min(1),
    options: z.object({ missing: z.enum(['fail', 'impute']), scaleOneHot: z.boolean() }).passthrough(),
    vocabularies: z.record(z.string(), z.array(z.string())),
    means: z.record(z.string(), finite),
    scales: z.record(z.string(), finite.positive()),
    oneHotMeans: z.array(finite),
    oneHotScales: z.array(finite.positive()),
    constantFields: z.array(z.string()),
    categoryCounts: z.record(z.string(), z.array(finite.min(0))),
    medians: z.record(z.string(), finite),
  })
  .passthrough();

const ModelFileSchema = z
  .object({
    format: z.literal(BUNDLE_FORMAT),
    formatVersion: z.number().int(),
    detector: z
      .object({
        options: z.object({ k: z.number().int().min(1) }).passthrough(),
        preprocessor: PreprocessorStateSchema,
        runs: z
          .array(
            z
              .object({
                kmeans: z
                  .object({
                    k: z.number().int().min(1),
                    nFeatures: z.number().int().min(1),
                    centers: z.array(coordinate),
                  })
                  .passthrough(),
                scale: finite.positive(),
              })
              .passthrough(),
          )
          .min(1),
        threshold: finite,
        training: z
          .object({
            rows: finite,
            clusterSizes: z.array(finite.min(0)),
            scorePercentiles: z.array(finite),
          })
          .passthrough(),
      })
      .passthrough(),
    card: z.object({}).passthrough(),
    onnx: z.object({ file: z.literal('model.onnx') }).passthrough(),
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
  const version = formatVersionOf(state);
  const file: ModelFile = {
    format: BUNDLE_FORMAT,
    formatVersion: version,
    library: { name: 'netanomaly', version: LIBRARY_VERSION, node: process.version },
    card,
    detector: state,
    onnx: {
      file: 'model.onnx',
      input: 'features',
      outputs: ['distances', 'cluster', 'anomaly_score'],
      opset: 13,
      scores: state.fieldTail ? 'kmeans-only' : 'detector',
    },
  };
  const json = Buffer.from(JSON.stringify(file));
  await writeAtomic(join(dir, 'model.onnx'), onnxBytes);
  await writeAtomic(join(dir, 'model.json'), json);
  const manifest = {
    format: BUNDLE_FORMAT,
    formatVersion: version,
    files: {
      'model.json': { sha256: sha256(json), bytes: json.length },
      'model.onnx': { sha256: sha256(onnxBytes), bytes: onnxBytes.length },
    },
  };
  await writeAtomic(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return { detector, card, dir, sha256: manifest.files['model.json'].sha256, file };
}

/**
 * Deepest nesting of arrays and objects in JSON text (strings skipped), stopping once past
 * `limit`: checked before `JSON.parse`, so a hostile file cannot make any later recursive
 * walk (zod, structuredClone, JSON.stringify) overflow the stack.
 */
export function jsonDepth(text: string, limit: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 125 || c === 93) depth--;
  }
  return max;
}

/**
 * One file of the bundle, read only when it is a regular file (not a symlink, device or FIFO)
 * of the expected size, at most `cap` bytes: the size is checked before a byte is read, and the
 * descriptor is opened with O_NOFOLLOW so a file swapped for a symlink meanwhile is refused too.
 */
async function readBundleFile(path: string, cap: number, expected?: number): Promise<Buffer> {
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(path);
  } catch {
    throw new ModelFileError(`${path}: missing`);
  }
  if (st.isSymbolicLink())
    throw new ModelFileError(`${path}: is a symbolic link (bundle files must be regular files)`);
  if (!st.isFile()) throw new ModelFileError(`${path}: not a regular file`);
  if (st.size > cap) {
    throw new ModelFileError(`${path}: ${st.size} bytes, more than the ${cap} a model file may have`);
  }
  if (expected !== undefined && st.size !== expected) {
    throw new ModelFileError(`${path}: ${st.size} bytes, manifest says ${expected} (truncated or altered)`);
  }
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    throw new ModelFileError(`${path}: cannot be opened as a regular file`);
  }
  try {
    const size = (await fh.stat()).size;
    if (size !== st.size) throw new ModelFileError(`${path}: changed while being read`);
    const buf = Buffer.alloc(size);
    const { bytesRead } = await fh.read(buf, 0, size, 0);
    if (bytesRead !== size) throw new ModelFileError(`${path}: changed while being read`);
    return buf;
  } finally {
    await fh.close();
  }
}

/** JSON of a bundle file: bounded nesting first, then parsing. */
function parseBundleJson(path: string, bytes: Buffer, what: string): unknown {
  const text = bytes.toString('utf8');
  if (jsonDepth(text, BUNDLE_LIMITS.jsonDepth) > BUNDLE_LIMITS.jsonDepth) {
    throw new ModelFileError(
      `${path}: not a ${what} (JSON nested deeper than ${BUNDLE_LIMITS.jsonDepth} levels)`,
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ModelFileError(`${path}: not a ${what} (not valid JSON)`);
  }
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
  let manifestBytes: Buffer;
  try {
    manifestBytes = await readBundleFile(where('manifest.json'), BUNDLE_LIMITS.manifestBytes);
  } catch (err) {
    if (err instanceof ModelFileError && /: missing$/.test(err.message)) {
      throw new ModelFileError(`${dir}: not a netanomaly model (no manifest.json)`);
    }
    throw err;
  }
  const manifestJson = parseBundleJson(where('manifest.json'), manifestBytes, 'netanomaly manifest');
  const parsedManifest = ManifestSchema.safeParse(manifestJson);
  if (!parsedManifest.success) {
    throw new ModelFileError(
      `${where('manifest.json')}: not a netanomaly manifest (${issueLine(parsedManifest.error)})`,
    );
  }
  const manifest = parsedManifest.data;
  if (manifest.formatVersion > BUNDLE_VERSION) {
    throw new ModelFileError(
      `${dir}: model format ${manifest.formatVersion} is newer than this netanomaly reads (${BUNDLE_VERSION})`,
    );
  }
  if (manifest.formatVersion < 1) {
    throw new ModelFileError(
      `${dir}: model format ${manifest.formatVersion} is not a netanomaly format (1..${BUNDLE_VERSION})`,
    );
  }
  const caps: Record<string, number> = {
    'model.json': BUNDLE_LIMITS.modelJsonBytes,
    'model.onnx': BUNDLE_LIMITS.onnxBytes,
  };
  const contents: Record<string, Buffer> = {};
  for (const name of ['model.json', 'model.onnx']) {
    const entry = manifest.files[name];
    if (!entry) throw new ModelFileError(`${where('manifest.json')}: lists no ${name}`);
    const bytes = await readBundleFile(where(name), caps[name]!, entry.bytes);
    if (sha256(bytes) !== entry.sha256)
      throw new ModelFileError(`${where(name)}: SHA-256 does not match the manifest (altered)`);
    contents[name] = bytes;
  }
  const raw = parseBundleJson(where('model.json'), contents['model.json']!, 'valid model file');
  const parsed = ModelFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ModelFileError(`${where('model.json')}: not a valid model file (${issueLine(parsed.error)})`);
  }
  const file = raw as ModelFile;
  if (file.formatVersion !== manifest.formatVersion) {
    throw new ModelFileError(
      `${where('model.json')}: format ${file.formatVersion}, but the manifest says ${manifest.formatVersion}`,
    );
  }
  for (const run of file.detector.runs) {
    if (run.kmeans.centers.length !== run.kmeans.k * run.kmeans.nFeatures) {
      throw new ModelFileError(
        `${where('model.json')}: centre matrix has ${run.kmeans.centers.length} values, expected k×features`,
      );
    }
  }
  checkPreprocessor(where('model.json'), file.detector);
  let detector: AnomalyDetector;
  try {
    detector = AnomalyDetector.fromState(file.detector);
  } catch (err) {
    if (err instanceof NetanomalyError) {
      throw new ModelFileError(`${where('model.json')}: not a valid model file (${firstLine(err)})`);
    }
    throw err;
  }
  const nOutputs = detector.preprocessor.nOutputs;
  for (const run of file.detector.runs) {
    if (run.kmeans.nFeatures !== nOutputs) {
      throw new ModelFileError(
        `${where('model.json')}: a run has ${run.kmeans.nFeatures} features, the preprocessor makes ${nOutputs}`,
      );
    }
  }
  if (file.detector.runs[0]!.kmeans.k !== file.detector.options.k) {
    throw new ModelFileError(`${where('model.json')}: the primary run's k differs from options.k`);
  }
  return { detector, card: file.card, dir, sha256: manifest.files['model.json']!.sha256, file };
}

/** The preprocessor state agrees with its fields: what scoring will index must be there. */
function checkPreprocessor(path: string, state: DetectorState): void {
  const p = state.preprocessor;
  const names = new Set<string>();
  for (const f of p.fields) {
    if (names.has(f.name))
      throw new ModelFileError(`${path}: field '${f.name.slice(0, 40)}' is listed twice`);
    names.add(f.name);
    const has = (o: object) => Object.hasOwn(o, f.name);
    if (f.kind === 'categorical') {
      if (!has(p.vocabularies) || !has(p.categoryCounts)) {
        throw new ModelFileError(`${path}: categorical field '${f.name.slice(0, 40)}' has no vocabulary`);
      }
      if (p.categoryCounts[f.name]!.length !== p.vocabularies[f.name]!.length) {
        throw new ModelFileError(
          `${path}: field '${f.name.slice(0, 40)}': counts and vocabulary differ in length`,
        );
      }
    } else if (!has(p.means) || !has(p.scales) || !has(p.medians)) {
      throw new ModelFileError(
        `${path}: numeric field '${f.name.slice(0, 40)}' has no mean, scale or median`,
      );
    }
  }
  const oneHot = p.fields
    .filter((f) => f.kind === 'categorical')
    .reduce((n, f) => n + p.vocabularies[f.name]!.length + 1, 0);
  const lens = [p.oneHotMeans.length, p.oneHotScales.length];
  if (lens.some((n) => n !== 0 && n !== oneHot) || lens[0] !== lens[1]) {
    throw new ModelFileError(
      `${path}: one-hot scaling has ${lens.join('/')} values, expected 0 or ${oneHot}`,
    );
  }
}

function issueLine(error: { issues: { path: PropertyKey[]; message: string; code?: string }[] }): string {
  const i = error.issues[0];
  if (!i) return 'invalid';
  const at = i.path.map(String).join('.').slice(0, 120);
  const message = i.code === 'invalid_key' ? 'not a plain file name inside the bundle' : i.message;
  return `${at ? `${at}: ` : ''}${message.split('\n')[0]!.slice(0, 160)}`;
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
