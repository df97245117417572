/** A BoundedFitPool thread (lloyd-pool.ts): the weighted rows arrive once, then one fit per message. */
import { parentPort, workerData } from 'node:worker_threads';
import { lloydBounded } from './kmeans-bounded.ts';
import type { WeightedRows } from './kmeans-encoded.ts';
import type { BoundedFitJob, BoundedFitReply } from './lloyd-pool.ts';

const W = { ...(workerData as Pick<WeightedRows, 'U' | 'weight'>), inverse: null, n: 0 } as WeightedRows;

parentPort!.on('message', (job: BoundedFitJob) => {
  let reply: BoundedFitReply;
  try {
    reply = { id: job.id, fit: lloydBounded(W, job.start, job.maxIter, job.tolAbs) };
  } catch (err) {
    reply = { id: job.id, error: err instanceof Error ? err.message : String(err) };
  }
  const transfer = 'fit' in reply ? [reply.fit.labels.buffer, reply.fit.dist2.buffer] : [];
  parentPort!.postMessage(reply, transfer as ArrayBuffer[]);
});
