/**
 * Reads any supported input into the same shape: tabular files (NSL-KDD, KDD Cup 99, CSV) and
 * traffic (pcap / pcapng, Zeek conn.log, CICFlowMeter CSV) into canonical flows. With format
 * 'auto' the content is sniffed, never the file name.
 */
import { stat } from 'node:fs/promises';
import { UnsupportedFormatError } from '../errors.ts';
import { flowFieldSpecs } from '../features/flow-fields.ts';
import { exportFieldSpecs, isExportFormat } from './flowexport/fields.ts';
import { type InputData, readTabular } from './input.ts';
import { labelFamily } from './kdd.ts';
import { firstLine } from './sniff.ts';
import { type BadRowPolicy, takeRows } from './table.ts';
import { type IdentityColumns, readTraffic, sniffFormat, takeIdentity } from './traffic/index.ts';
import { readInputMany } from './traffic/many.ts';

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Flow exports: a pcap of NetFlow/IPFIX/sFlow datagrams, GoFlow2 JSON lines (src/ingest/flowexport). */
const EXPORTS = ['netflow', 'goflow2'] as const;
export const INPUT_FORMATS = ['auto', 'nsl-kdd', 'kdd99', 'csv', 'pcap', 'zeek', 'cic', ...EXPORTS] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

export interface AnyInput extends InputData {
  /** Flow identity (addresses, ports, protocol, start time, Community ID) for traffic inputs. */
  identity: IdentityColumns | null;
}

export async function sniffInputFormat(path: string): Promise<Exclude<InputFormat, 'auto'>> {
  try {
    return await sniffFormat(path);
  } catch {
    // not traffic: look at the first line
  }
  const line = await firstLine(path);
  const fields = line.split(',');
  if ((fields.length === 42 || fields.length === 43) && /^(tcp|udp|icmp)$/.test(fields[1] ?? '')) {
    return fields[41]?.endsWith('.') ? 'kdd99' : 'nsl-kdd';
  }
  if (/[,;\t|]/.test(line)) return 'csv';
  throw new UnsupportedFormatError(
    `${path}: cannot tell the format from the content (not pcap, Zeek, CICFlowMeter, KDD or CSV)`,
  );
}

/**
 * Reads one input. A directory stands for its traffic files (pcap, Zeek, CIC), read one by one
 * and concatenated (each capture keeps its own flow meter and traffic windows).
 */
export async function readInput(path: string, format: string, onBadRow: BadRowPolicy): Promise<AnyInput> {
  if (!(INPUT_FORMATS as readonly string[]).includes(format)) {
    throw new UnsupportedFormatError(
      `${path}: unknown format '${format}' (one of ${INPUT_FORMATS.join(', ')})`,
    );
  }
  if (await isDirectory(path)) return readInputMany(path, format, onBadRow);
  const f = format === 'auto' ? await sniffInputFormat(path) : (format as Exclude<InputFormat, 'auto'>);
  if (f === 'pcap' || f === 'zeek' || f === 'cic' || f === 'netflow' || f === 'goflow2') {
    const t = await readTraffic(path, { format: f, onBadRow });
    return {
      table: t.table,
      labels: t.labels,
      families: t.labels ? t.labels.map(labelFamily) : null,
      report: t.report,
      format: f,
      fields: isExportFormat(f) ? exportFieldSpecs() : flowFieldSpecs(),
      identity: t.identity,
    };
  }
  return { ...(await readTabular(path, { format: f, onBadRow })), identity: null };
}

/**
 * The same input restricted to some rows (table, labels, identity and per-row groups alike), in
 * the given order. Per-file row ranges no longer hold and are dropped.
 */
export function takeInputRows(input: AnyInput, index: ArrayLike<number>): AnyInput {
  const pick = <T>(a: readonly T[]) => Array.from(index, (i) => a[i]!);
  const id = input.identity;
  const { files: _files, groups, ...rest } = input as AnyInput & { files?: unknown; groups?: Int32Array };
  return {
    ...rest,
    ...(groups ? { groups: Int32Array.from(index, (i) => groups[i]!) } : {}),
    table: takeRows(input.table, index),
    labels: input.labels ? pick(input.labels) : null,
    families: input.families ? pick(input.families) : null,
    identity: id ? takeIdentity(id, index) : null,
  };
}
