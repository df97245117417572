/**
 * tfjs engine: batched distances as tensors (‖x‖² − 2x·cᵀ + ‖c‖², one matMul per block).
 * Uses @tensorflow/tfjs-node when it is installed (native libtensorflow), else the wasm backend
 * (SIMD), else tfjs's plain cpu backend. Every block runs inside tf.tidy: no tensor leaks.
 */
import { BackendUnavailableError } from '../errors.ts';
import type { Matrix } from '../ingest/table.ts';
import { type DistanceEngine, type Nearest, rowSlice } from './engine.ts';

type Tf = typeof import('@tensorflow/tfjs');

const BLOCK_CELLS = 1 << 22;

/** Loads tfjs with the best backend available here; returns the module and the backend's name. */
export async function loadTfjs(): Promise<{ tf: Tf; backend: string }> {
  let tf: Tf;
  const moduleName = '@tensorflow/tfjs-node';
  try {
    // Optional accelerator: not a dependency, because its install downloads libtensorflow.
    tf = (await import(moduleName)) as Tf;
    await tf.ready();
    return { tf, backend: tf.getBackend() };
  } catch {
    // not installed here: fall through to wasm
  }
  try {
    tf = await import('@tensorflow/tfjs');
  } catch (err) {
    throw new BackendUnavailableError(`@tensorflow/tfjs cannot be loaded: ${(err as Error).message}`);
  }
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    if (await tf.setBackend('wasm')) {
      await tf.ready();
      return { tf, backend: 'wasm' };
    }
  } catch {
    // wasm backend unavailable: use cpu
  }
  await tf.setBackend('cpu');
  await tf.ready();
  return { tf, backend: 'cpu' };
}

export async function createTfjsEngine(): Promise<DistanceEngine & { backend: string }> {
  const { tf, backend } = await loadTfjs();

  function blockDistances(
    part: Matrix,
    c: import('@tensorflow/tfjs').Tensor2D,
    c2: import('@tensorflow/tfjs').Tensor1D,
  ) {
    const x = tf.tensor2d(part.data, [part.rows, part.cols]);
    const x2 = tf.sum(tf.square(x), 1, true);
    const xc = tf.matMul(x, c, false, true);
    return tf.relu(tf.add(tf.sub(x2, tf.mul(xc, 2)), c2)) as import('@tensorflow/tfjs').Tensor2D;
  }

  async function eachBlock(
    X: Matrix,
    C: Matrix,
    fn: (start: number, d2: import('@tensorflow/tfjs').Tensor2D) => Promise<void>,
  ) {
    const c = tf.tensor2d(C.data, [C.rows, C.cols]);
    const c2 = tf.tidy(() => tf.sum(tf.square(c), 1)) as import('@tensorflow/tfjs').Tensor1D;
    try {
      const block = Math.max(1, Math.floor(BLOCK_CELLS / Math.max(1, C.rows, C.cols)));
      for (let start = 0; start < X.rows; start += block) {
        const part = rowSlice(X, start, Math.min(X.rows, start + block));
        const d2 = tf.tidy(() => blockDistances(part, c, c2));
        try {
          await fn(start, d2);
        } finally {
          d2.dispose();
        }
      }
    } finally {
      c.dispose();
      c2.dispose();
    }
  }

  const engine: DistanceEngine & { backend: string } = {
    name: 'tfjs',
    backend,
    async nearest(X: Matrix, C: Matrix): Promise<Nearest> {
      const labels = new Int32Array(X.rows);
      const minDist2 = new Float32Array(X.rows);
      await eachBlock(X, C, async (start, d2) => {
        const [arg, min] = tf.tidy(() => [tf.argMin(d2, 1), tf.min(d2, 1)]);
        try {
          labels.set((await arg!.data()) as Int32Array, start);
          minDist2.set((await min!.data()) as Float32Array, start);
        } finally {
          arg!.dispose();
          min!.dispose();
        }
      });
      return { labels, minDist2 };
    },
    async distances(X: Matrix, C: Matrix): Promise<Float32Array> {
      const all = new Float32Array(X.rows * C.rows);
      await eachBlock(X, C, async (start, d2) => {
        all.set((await d2.data()) as Float32Array, start * C.rows);
      });
      return all;
    },
  };
  return engine;
}
