/**
 * Lloyd fits with Elkan's bounds (kmeans-bounded.ts) of one set of weighted rows on worker
 * threads. An elbow sweep's fits are independent once their starts are drawn and each is plain
 * JavaScript arithmetic on a small distinct set, so they spread over the cores. The rows go to
 * each worker once; a fit's result is the one lloydBounded gives on the calling thread (the same
 * code on the same float64 arithmetic).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Matrix } from '../ingest/table.ts';
import type { EncodedFit, WeightedRows } from './kmeans-encoded.ts';

/** What a worker is asked: one fit from `start`. */
export interface BoundedFitJob {
  id: number;
  start: Matrix;
  maxIter: number;
  tolAbs: number;
}

/** What a worker answers: the fit, or the message of what it threw. */
export type BoundedFitReply = { id: number; fit: EncodedFit } | { id: number; error: string };

/** Threads worth starting for `jobs` fits on this machine (one core is left to the caller's work). */
export function defaultFitThreads(jobs: number): number {
  return Math.max(1, Math.min(jobs, availableParallelism()));
}

// The worker module next to this one: JavaScript in dist/, or TypeScript run from src/, whose
// thread registers tsx itself first (tsx's hooks in the calling thread do not reach new threads).
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(FROM_SOURCE ? './lloyd-worker.ts' : './lloyd-worker.js', import.meta.url);

function startWorker(workerData: unknown): Worker {
  if (!FROM_SOURCE) return new Worker(WORKER_URL, { workerData });
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const boot = `import(${tsx}).then((t) => { t.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

interface Pending {
  job: BoundedFitJob;
  resolve(fit: EncodedFit): void;
  reject(err: Error): void;
}

export class BoundedFitPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Pending>();
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private closed = false;

  constructor(W: WeightedRows, threads: number) {
    const rows = { U: W.U, weight: W.weight };
    for (let t = 0; t < threads; t++) {
      const worker = startWorker(rows);
      worker.unref(); // never what keeps a process alive
      worker.on('message', (reply: BoundedFitReply) => this.settle(worker, reply));
      worker.on('error', (err) => this.fail(worker, err));
      worker.on('exit', (code) => {
        if (!this.closed) this.fail(worker, new Error(`a K-Means fit thread stopped (exit code ${code})`));
      });
      this.idle.push(worker);
    }
  }

  /** lloydBounded(W, start, maxIter, tolAbs) on the next free thread. */
  fit(start: Matrix, maxIter: number, tolAbs: number): Promise<EncodedFit> {
    if (this.closed) return Promise.reject(new Error('the K-Means fit pool is closed'));
    return new Promise<EncodedFit>((resolve, reject) => {
      this.queue.push({ job: { id: this.nextId++, start, maxIter, tolAbs }, resolve, reject });
      this.dispatch();
    });
  }

  /** Stops the threads; fits not yet answered are refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const refused = new Error('the K-Means fit pool was closed before this fit ended');
    for (const p of [...this.queue, ...this.busy.values()]) p.reject(refused);
    this.queue.length = 0;
    const all = [...this.idle, ...this.busy.keys()];
    this.busy.clear();
    this.idle.length = 0;
    await Promise.all(all.map((w) => w.terminate()));
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop()!;
      const p = this.queue.shift()!;
      this.busy.set(worker, p);
      worker.postMessage(p.job);
    }
  }

  private settle(worker: Worker, reply: BoundedFitReply): void {
    const p = this.busy.get(worker);
    if (!p || p.job.id !== reply.id) return;
    this.busy.delete(worker);
    this.idle.push(worker);
    if ('error' in reply) p.reject(new Error(reply.error));
    else p.resolve(reply.fit);
    this.dispatch();
  }

  private fail(worker: Worker, err: Error): void {
    const p = this.busy.get(worker);
    this.busy.delete(worker);
    const i = this.idle.indexOf(worker);
    if (i >= 0) this.idle.splice(i, 1);
    p?.reject(err);
    // With no thread left, nothing queued can run.
    if (this.idle.length === 0 && this.busy.size === 0) {
      for (const q of this.queue.splice(0)) q.reject(err);
    }
  }
}
