/**
 * Training from a file: read it (any supported format), keep the rows to learn from, choose k
 * (a fast elbow sweep when k is 'auto'), fit the detector and describe it in a model card. The
 * model learns the fields the input carries: fields with no value in any training row are left
 * out by the preprocessor and named in the card (`fieldsLeftOut`).
 */
import { InputError } from '../errors.ts';
import { Preprocessor } from '../features/preprocessor.ts';
import { type InputData, readTabular, type TabularFormat } from '../ingest/input.ts';
import type { BadRowPolicy } from '../ingest/table.ts';
import type { ModelCard } from '../model/bundle.ts';
import { AnomalyDetector, type DetectorOptions } from '../model/detector.ts';
import { type ElbowResult, elbowSweep } from '../model/select-k.ts';
import { normalRows } from './evaluate.ts';
import { fitContext } from './fit-context.ts';

export interface TrainOptions {
  format: TabularFormat | string;
  trainOn?: 'normal' | 'all';
  k?: 'auto' | number;
  /** Range of the elbow sweep when k is 'auto'. */
  kMin?: number;
  kMax?: number;
  detector?: Omit<DetectorOptions, 'k'>;
  onBadRow?: BadRowPolicy;
  onProgress?: (step: string) => void;
  /** Reader for formats beyond the tabular ones (pcap, Zeek, CIC): returns InputData. */
  reader?: (path: string, format: string, onBadRow: BadRowPolicy) => Promise<InputData>;
}

export interface TrainResult {
  detector: AnomalyDetector;
  card: ModelCard;
  input: InputData;
  elbow: ElbowResult | null;
}

export async function trainFromFile(path: string, opts: TrainOptions): Promise<TrainResult> {
  const progress = opts.onProgress ?? (() => {});
  const onBadRow = opts.onBadRow ?? 'fail';
  progress(`reading ${path}`);
  const input = opts.reader
    ? await opts.reader(path, opts.format, onBadRow)
    : await readTabular(path, { format: opts.format as TabularFormat, onBadRow });
  const trainOn = opts.trainOn ?? 'normal';
  let table = input.table;
  if (trainOn === 'normal') {
    if (!input.families) {
      throw new InputError(
        `${path}: --train-on normal needs a label column; this input has none (use --train-on all)`,
      );
    }
    table = normalRows(input.table, input.families);
    if (table.nRows === 0) throw new InputError(`${path}: no rows labelled normal`);
  }
  let k: number;
  let elbow: ElbowResult | null = null;
  let kChoice: string;
  if (opts.k === undefined || opts.k === 'auto') {
    const pre = new Preprocessor(input.fields).fit(table);
    const { X } = pre.transform(table);
    const kMax = Math.min(opts.kMax ?? 30, Math.max(3, Math.floor(X.rows / 2)));
    elbow = await elbowSweep(
      X,
      {
        kMin: opts.kMin ?? 2,
        kMax,
        mode: 'fast',
        seed: opts.detector?.seed ?? 0,
        ...(pre.encodable ? { layout: pre.encodedLayout() } : {}),
      },
      (done, total, kk) => progress(`elbow sweep ${done}/${total} (k=${kk})`),
    );
    k = elbow.recommended;
    kChoice = `auto: ${elbow.rationale}`;
  } else {
    k = opts.k;
    kChoice = `set by the user: k=${k}`;
  }
  // groups (a directory's files) → grouped calibration; identity → a host threshold
  const keep = trainOn === 'normal' ? input.families!.flatMap((f, i) => (f === 'normal' ? [i] : [])) : null;
  const detector = await new AnomalyDetector(input.fields, { ...opts.detector, k }).fit(table, {
    onProgress: progress,
    ...fitContext(input as Parameters<typeof fitContext>[0], keep),
  });
  const leftOut = detector.preprocessor.droppedFields();
  const card: ModelCard = {
    data: { source: path, format: input.format, trainOn, rows: table.nRows },
    kChoice,
    ...(leftOut.length
      ? { fieldsLeftOut: leftOut.map((name) => ({ name, reason: 'no value in any training row' })) }
      : {}),
    elbow: elbow ? { ...elbow } : undefined,
    createdAt: new Date().toISOString(),
  };
  return { detector, card, input, elbow };
}
