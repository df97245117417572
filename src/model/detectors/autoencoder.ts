/**
 * A small dense autoencoder on tfjs (d → 32 → 8 → 32 → d, ReLU, Adam, mean squared error); the
 * score is a row's reconstruction error. Seeded initialisers and a seeded, fixed row order make a
 * fit reproducible on the cpu backend (the wasm backend is used when available).
 */
import type { Matrix } from '../../ingest/table.ts';
import { loadTfjs } from '../engine-tfjs.ts';
import { Rng } from '../random.ts';
import type { MatrixScorer } from './scorer.ts';

export interface AutoencoderOptions {
  hidden?: number;
  bottleneck?: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
}

type Tf = Awaited<ReturnType<typeof loadTfjs>>['tf'];

export class Autoencoder implements MatrixScorer {
  readonly name = 'autoencoder';
  private readonly o: Required<AutoencoderOptions>;
  private tf: Tf | null = null;
  private model: import('@tensorflow/tfjs').LayersModel | null = null;

  constructor(options: AutoencoderOptions = {}) {
    this.o = {
      hidden: 32,
      bottleneck: 8,
      epochs: 40,
      batchSize: 64,
      learningRate: 1e-3,
      seed: 0,
      ...options,
    };
  }

  async fit(X: Matrix): Promise<void> {
    const { tf } = await loadTfjs();
    this.tf = tf;
    const o = this.o;
    const init = (s: number) => tf.initializers.glorotUniform({ seed: o.seed * 10 + s });
    const model = tf.sequential({
      layers: [
        tf.layers.dense({
          inputShape: [X.cols],
          units: o.hidden,
          activation: 'relu',
          kernelInitializer: init(1),
        }),
        tf.layers.dense({ units: o.bottleneck, activation: 'relu', kernelInitializer: init(2) }),
        tf.layers.dense({ units: o.hidden, activation: 'relu', kernelInitializer: init(3) }),
        tf.layers.dense({ units: X.cols, kernelInitializer: init(4) }),
      ],
    });
    model.compile({ optimizer: tf.train.adam(o.learningRate), loss: 'meanSquaredError' });
    const order = new Rng(o.seed).sample(X.rows, X.rows);
    const data = new Float32Array(X.rows * X.cols);
    order.forEach((r, j) => {
      data.set(X.data.subarray(r * X.cols, (r + 1) * X.cols), j * X.cols);
    });
    const xs = tf.tensor2d(data, [X.rows, X.cols]);
    await model.fit(xs, xs, { epochs: o.epochs, batchSize: o.batchSize, shuffle: false, verbose: 0 });
    xs.dispose();
    this.model?.dispose();
    this.model = model;
  }

  async score(X: Matrix): Promise<Float64Array> {
    const tf = this.tf!;
    const out = tf.tidy(() => {
      const xs = tf.tensor2d(X.data, [X.rows, X.cols]);
      const rec = this.model!.predict(xs) as import('@tensorflow/tfjs').Tensor;
      return rec.sub(xs).square().mean(1);
    });
    const v = Float64Array.from(await out.data());
    out.dispose();
    return v;
  }

  dispose(): void {
    this.model?.dispose();
    this.model = null;
  }
}
