/**
 * What `AnomalyDetector.fit` is told about the training rows beside the table: the group of
 * every row (the file of a directory of captures, for grouped calibration) and the flow identity
 * (for the host threshold), restricted to the rows kept for training.
 */
import type { IdentityColumns } from '../ingest/traffic/index.ts';
import type { FitOptions } from '../model/detector.ts';

export function fitContext(
  input: { groups?: ArrayLike<number> | null; identity?: IdentityColumns | null },
  keep: readonly number[] | null,
): Pick<FitOptions, 'groups' | 'identity'> {
  const pick = <T>(a: ArrayLike<T>): T[] => (keep ? keep.map((i) => a[i]!) : Array.from(a));
  const id = input.identity;
  return {
    groups: input.groups ? pick(input.groups) : null,
    identity: id
      ? { src_ip: pick(id.src_ip), dst_ip: pick(id.dst_ip), start_time: pick(id.start_time) }
      : null,
  };
}
