/**
 * The beacon report over traffic files (explain/beacons.ts): every file read as flows, one at a
 * time (streaming: memory holds the pairs' connection times, not the flows), the pairs ranked,
 * with the known pollers (destinations polled regularly) of an optional baseline of the same network and an allow-list. A file
 * that cannot be read is named and counted, and the others are still read.
 */
import { readFile } from 'node:fs/promises';
import { InputError } from '../errors.ts';
import {
  BEACON_REPORT_DEFAULTS,
  type BeaconPair,
  type BeaconRankOptions,
  BeaconTracker,
  type KnownPollers,
  knownPollers,
} from '../explain/beacons.ts';
import { iterateFlows, type TrafficOptions } from '../ingest/traffic/index.ts';
import { failureLine, trafficInputFiles } from '../ingest/traffic/many.ts';

export interface BeaconReportOptions extends Omit<BeaconRankOptions, 'known'> {
  inputs: readonly string[];
  format?: TrafficOptions['format'];
  /** Benign traffic of the same network: its beacon destinations are known pollers. */
  baseline?: readonly string[];
  /** Baseline pairs whose interval MAD is at most this share of their interval make their destinations known (default 0.25). */
  knownDispersion?: number;
  maxConnections?: number;
  maxPairs?: number;
}

export interface BeaconReport {
  pairs: BeaconPair[];
  /** Flows read, files read, and the files that failed (one line each). */
  flows: number;
  files: number;
  failures: string[];
  /** Pairs seen in all (before the connection and interval filters). */
  pairs_seen: number;
  /** Connections of pairs beyond the tracker's bound (explain/beacons.ts `maxPairs`), not scored. */
  untracked_connections: number;
  known: { addresses: string[]; names: string[]; baseline_files: number } | null;
}

/** Read `inputs` (files or directories) into a tracker; failures are named, not thrown. */
async function track(
  inputs: readonly string[],
  format: TrafficOptions['format'],
  bounds: { maxConnections?: number; maxPairs?: number },
): Promise<{ tracker: BeaconTracker; flows: number; files: number; failures: string[] }> {
  const tracker = new BeaconTracker(bounds);
  const { files } = await trafficInputFiles(inputs, { format });
  const failures: string[] = [];
  let flows = 0;
  for (const path of files) {
    try {
      for await (const flow of iterateFlows(path, { format })) {
        tracker.add(flow);
        flows++;
      }
    } catch (err) {
      failures.push(failureLine(path, err));
    }
  }
  if (failures.length === files.length)
    throw new InputError(
      `${inputs.join(', ')}: none of the ${files.length} file(s) could be read (first: ${failures[0]})`,
    );
  return { tracker, flows, files: files.length, failures };
}

/** Lines of an allow-list file: one entry per line, `#` starts a comment. */
export async function readAllowList(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new InputError(`${path}: cannot read the allow-list`);
  }
  return text
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter((l) => l !== '');
}

export async function beaconReport(opts: BeaconReportOptions): Promise<BeaconReport> {
  const rank: BeaconRankOptions = {
    minConnections: opts.minConnections,
    minInterval: opts.minInterval,
    allow: opts.allow,
  };
  let known: KnownPollers | null = null;
  let baselineFiles = 0;
  if (opts.baseline?.length) {
    const b = await track(opts.baseline, opts.format, opts);
    known = knownPollers(
      b.tracker.pairs(rank),
      opts.knownDispersion ?? BEACON_REPORT_DEFAULTS.knownDispersion,
    );
    baselineFiles = b.files;
  }
  const t = await track(opts.inputs, opts.format, opts);
  return {
    pairs: t.tracker.pairs({ ...rank, known }),
    flows: t.flows,
    files: t.files,
    failures: t.failures,
    pairs_seen: t.tracker.size,
    untracked_connections: t.tracker.untracked,
    known: known
      ? {
          addresses: [...known.addresses].sort(),
          names: [...known.names].sort(),
          baseline_files: baselineFiles,
        }
      : null,
  };
}
