/**
 * The public datasets netanomaly knows, and how to find one: an explicit path, the data directory
 * (NETANOMALY_DATA_DIR), the user cache, or a download from a public source verified by SHA-256.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { InputError } from '../errors.ts';
import { type KddData, type ReadKddOptions, readKdd } from './kdd.ts';

export interface DatasetInfo {
  readonly id: string;
  /** Path relative to a data directory / cache directory (same layout as ../shared/datasets). */
  readonly path: string;
  readonly rows: number;
  /** Lower-case hex SHA-256 of the file as distributed, or null when not known for certain. */
  readonly sha256: string | null;
  /** Public download URLs, tried in order. */
  readonly urls: readonly string[];
  readonly description: string;
}

const UCI_KDD = 'http://kdd.ics.uci.edu/databases/kddcup99';
const UCI_ML = 'https://archive.ics.uci.edu/ml/machine-learning-databases/kddcup99-mld';
/** A widely used public mirror of the NSL-KDD text files (the UNB site needs a form). */
const NSL_MIRROR = 'https://raw.githubusercontent.com/defcom17/NSL_KDD/master';

export const DATASETS: Readonly<Record<string, DatasetInfo>> = {
  'nsl-kdd/KDDTrain+_20Percent': {
    id: 'nsl-kdd/KDDTrain+_20Percent',
    path: 'nsl-kdd/KDDTrain+_20Percent.txt',
    rows: 25_192,
    sha256: '7ea86479faab5ca2190b7f18b4982fb058ce5bf2b46e0e1017d0d9ef90f9c16e',
    urls: [`${NSL_MIRROR}/KDDTrain%2B_20Percent.txt`],
    description: 'NSL-KDD: the official 20 % subset of the training set',
  },
  'nsl-kdd/KDDTrain+': {
    id: 'nsl-kdd/KDDTrain+',
    path: 'nsl-kdd/KDDTrain+.txt',
    rows: 125_973,
    sha256: null,
    urls: [`${NSL_MIRROR}/KDDTrain%2B.txt`],
    description: 'NSL-KDD: the full training set (checksum not recorded; download needs allowUnverified)',
  },
  'nsl-kdd/KDDTest+': {
    id: 'nsl-kdd/KDDTest+',
    path: 'nsl-kdd/KDDTest+.txt',
    rows: 22_544,
    sha256: 'fa46b0935342616aa83b7c2578db355b6a7aaabbc492248172c7a1e8b7ab8f84',
    urls: [`${NSL_MIRROR}/KDDTest%2B.txt`],
    description: 'NSL-KDD: the official test set',
  },
  'nsl-kdd/KDDTest-21': {
    id: 'nsl-kdd/KDDTest-21',
    path: 'nsl-kdd/KDDTest-21.txt',
    rows: 11_850,
    sha256: '746993ac9e25868827cacf09eab450050a2a1056e1ce48a1ad39f5dc801d531d',
    urls: [`${NSL_MIRROR}/KDDTest-21.txt`],
    description: 'NSL-KDD: the harder part of KDDTest+',
  },
  'kdd99/kddcup.data_10_percent': {
    id: 'kdd99/kddcup.data_10_percent',
    path: 'kddcup99/kddcup.data_10_percent.gz',
    rows: 494_021,
    sha256: '7bfaa8cef1350f72842018c32893e2fa4539d57efbb22f998eb74ecefc3da3b4',
    urls: [`${UCI_KDD}/kddcup.data_10_percent.gz`, `${UCI_ML}/kddcup.data_10_percent.gz`],
    description: 'KDD Cup 1999: the 10 % training set (gzip)',
  },
  'kdd99/corrected': {
    id: 'kdd99/corrected',
    path: 'kddcup99/corrected.gz',
    rows: 311_029,
    sha256: '74f0daef49b242badc09f2adbd457dea6a45b4f77177efbd11216d333651044b',
    urls: [`${UCI_KDD}/corrected.gz`, `${UCI_ML}/corrected.gz`],
    description: 'KDD Cup 1999: the labelled test set (gzip)',
  },
};

type FetchLike = (url: string, init?: { signal?: AbortSignal }) => Promise<Response>;

export interface ResolveOptions {
  /** Use this file, whatever the id says. */
  path?: string;
  /** Data directory with the shared layout; default $NETANOMALY_DATA_DIR. */
  dataDir?: string;
  /** Download cache; default $NETANOMALY_CACHE_DIR, $XDG_CACHE_HOME/netanomaly, ~/.cache/netanomaly. */
  cacheDir?: string;
  /** Download from `${baseUrl}/${relative path}` instead of the catalogue URLs; default $NETANOMALY_DATA_URL. */
  baseUrl?: string;
  /** Allow a download when the file is found nowhere (default true). */
  download?: boolean;
  /** Download a dataset whose SHA-256 is not known (default false). */
  allowUnverified?: boolean;
  fetchImpl?: FetchLike;
}

/** The user cache directory for downloads. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NETANOMALY_CACHE_DIR) return env.NETANOMALY_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'netanomaly');
  return join(homedir(), '.cache', 'netanomaly');
}

export function datasetInfo(id: string): DatasetInfo {
  if (!Object.hasOwn(DATASETS, id)) {
    throw new InputError(`unknown dataset '${id}'; known: ${Object.keys(DATASETS).join(', ')}`);
  }
  return DATASETS[id]!;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * Finds the file of dataset `id`: `opts.path`, then the data directory, then the cache, then a
 * download into the cache (temp file, SHA-256 verified, renamed). Returns the file path.
 */
export async function resolveDataset(id: string, opts: ResolveOptions = {}): Promise<string> {
  const info = datasetInfo(id);
  if (opts.path !== undefined) {
    if (await isFile(opts.path)) return opts.path;
    throw new InputError(`${opts.path}: no such file (given for dataset ${id})`);
  }
  const looked: string[] = [];
  const dataDir = opts.dataDir ?? process.env.NETANOMALY_DATA_DIR;
  if (dataDir) {
    const p = join(dataDir, info.path);
    if (await isFile(p)) return p;
    looked.push(p);
  }
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const cached = join(cacheDir, info.path);
  if (await isFile(cached)) return cached;
  looked.push(cached);
  if (opts.download === false) {
    throw new InputError(`dataset ${id} not found (looked in ${looked.join(', ')}) and downloads are off`);
  }
  const baseUrl = opts.baseUrl ?? process.env.NETANOMALY_DATA_URL;
  const urls = baseUrl
    ? [`${baseUrl.replace(/\/+$/, '')}/${info.path.split('/').map(encodeURIComponent).join('/')}`]
    : info.urls;
  await download(info, urls, cached, opts);
  return cached;
}

async function download(
  info: DatasetInfo,
  urls: readonly string[],
  dest: string,
  opts: ResolveOptions,
): Promise<void> {
  if (info.sha256 === null && !opts.allowUnverified) {
    throw new InputError(
      `dataset ${info.id}: no known SHA-256, refusing to download it unverified (pass allowUnverified, or place the file at ${dest})`,
    );
  }
  const fetchImpl: FetchLike = opts.fetchImpl ?? ((url, init) => fetch(url, init));
  await mkdir(dirname(dest), { recursive: true });
  const failures: string[] = [];
  for (const url of urls) {
    const tmp = `${dest}.part-${process.pid}-${randomBytes(4).toString('hex')}`;
    let got: string;
    try {
      const res = await fetchImpl(url);
      if (!res.ok || res.body === null) {
        failures.push(`${url}: HTTP ${res.status}`);
        continue;
      }
      const hash = createHash('sha256');
      const out = createWriteStream(tmp);
      const done = new Promise<void>((resolve, reject) => {
        out.on('finish', () => resolve());
        out.on('error', reject);
      });
      done.catch(() => {}); // observed below; avoid an unhandled rejection while streaming
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      for (;;) {
        const { value, done: end } = await reader.read();
        if (end) break;
        hash.update(value);
        if (!out.write(value)) await new Promise<void>((r) => out.once('drain', () => r()));
      }
      out.end();
      await done;
      got = hash.digest('hex');
    } catch (err) {
      await unlink(tmp).catch(() => {});
      failures.push(`${url}: ${(err as Error)?.message ?? String(err)}`);
      continue;
    }
    if (info.sha256 !== null && got !== info.sha256) {
      await unlink(tmp).catch(() => {});
      throw new InputError(
        `dataset ${info.id}: SHA-256 mismatch for download from ${url}: expected ${info.sha256}, got ${got}; file discarded`,
      );
    }
    await rename(tmp, dest);
    return;
  }
  throw new InputError(`dataset ${info.id}: download failed (${failures.join('; ')})`);
}

/** resolveDataset + readKdd. */
export async function loadDataset(id: string, opts: ResolveOptions & ReadKddOptions = {}): Promise<KddData> {
  const path = await resolveDataset(id, opts);
  return readKdd(path, {
    ...(opts.onBadRow ? { onBadRow: opts.onBadRow } : {}),
    ...(opts.maxRows ? { maxRows: opts.maxRows } : {}),
  });
}
