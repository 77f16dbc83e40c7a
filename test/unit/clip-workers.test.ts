// Worker threads for the frozen towers (ClipModel.startWorkers): every value and gradient equals the
// one-thread path bitwise, a CoOp step trains the same context, nothing leaks, and failures are named.
import * as assert from 'assert';
import * as tf from '@tensorflow/tfjs';
import { ClipConfig } from '../../src/clip/config';
import { ClipModel } from '../../src/clip/model';
import { TextTower } from '../../src/clip/text';
import { randomStateDict } from '../../src/clip/random';
import { defaultThreads, TowerWorkers } from '../../src/clip/workers';
import { ClipTokenizer } from '../../src/clip/tokenizer';
import { CoOp } from '../../src/methods/coop';
import { crossEntropy } from '../../src/methods/method';
import { SGD } from '../../src/train/sgd';

const common = { textAct: 'quick_gelu' as const, visionAct: 'quick_gelu' as const, layerNormEps: 1e-5 };
const VIT: ClipConfig = { ...common, embedDim: 24, imageResolution: 32, visionLayers: 2, visionWidth: 40, visionPatchSize: 8, visionHeads: 2, contextLength: 24, vocabSize: 300, transformerWidth: 48, transformerHeads: 3, transformerLayers: 2 };
const RN: ClipConfig = { ...VIT, imageResolution: 64, visionLayers: [1, 1, 1, 1], visionWidth: 8, visionPatchSize: null, visionHeads: 2 };

const same = (a: tf.Tensor, b: tf.Tensor, what: string) => {
  assert.deepStrictEqual(a.shape, b.shape, `${what}: shapes`);
  const x = a.dataSync();
  const y = b.dataSync();
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff = Math.max(diff, Math.abs(x[i] - y[i]));
  assert.strictEqual(diff, 0, `${what}: largest difference ${diff} (expected bitwise equal)`);
};

describe('ClipModel.startWorkers: the frozen towers on several threads', function () {
  this.timeout(120_000);
  const eot = [3, 9, 20, 2, 7, 15, 4]; // 7 rows of varied lengths: shares 3 + 2 + 2 on three threads

  for (const [name, config] of [['ViT', VIT], ['ModifiedResNet', RN]] as const) {
    it(`${name}: text features, their gradient and image features equal one thread's bitwise, for 2 and 3 threads`, async () => {
      const model = new ClipModel(config, randomStateDict(config, 1));
      const x = tf.randomNormal([eot.length, 22, config.transformerWidth], 0, 1, 'float32', 3) as tf.Tensor3D;
      const w = tf.randomNormal([eot.length, config.embedDim], 0, 1, 'float32', 4);
      const px = tf.randomNormal([5, 3, config.imageResolution, config.imageResolution], 0, 1, 'float32', 5) as tf.Tensor4D;
      const grad = (xx: tf.Tensor) => tf.sum(tf.mul(model.encodeTokenEmbeddings(xx as tf.Tensor3D, eot), w));
      const compute = () => [model.encodeTokenEmbeddings(x, eot), tf.grad(grad)(x), model.encodeImage(px)];
      const one = compute();
      try {
        for (const threads of [2, 3]) {
          assert.strictEqual(await model.startWorkers(threads), threads);
          assert.strictEqual(model.threads, threads);
          const before = tf.memory().numTensors;
          const many = compute();
          assert.strictEqual(tf.memory().numTensors, before + 3, 'only the three results are new tensors');
          same(many[0], one[0], `${threads} threads: text features`);
          same(many[1], one[1], `${threads} threads: gradient of the embeddings`);
          same(many[2], one[2], `${threads} threads: image features`);
          tf.dispose(many);
        }
      } finally {
        await model.stopWorkers();
        tf.dispose([...one, x, w, px]);
        model.dispose();
      }
      assert.strictEqual(model.threads, 1);
    });
  }

  it('with gradient checkpointing on each thread, a CoOp step gives the same loss, gradient and context', async () => {
    const tok = ClipTokenizer.fromMerges('#version: 0.2\ns t\nst a\nsta r</w>');
    const config: ClipConfig = { ...VIT, vocabSize: tok.vocabSize };
    const model = new ClipModel(config, randomStateDict(config, 2));
    const names = ['star', 'sat', 'tar', 'rats', 'arts', 'tsar', 'stars', 'a', 's'];
    const features = tf.tidy(() => { const f = tf.randomNormal([6, config.embedDim], 0, 1, 'float32', 6); return tf.div(f, tf.norm(f, 2, -1, true)) as tf.Tensor2D; });
    const labels = [0, 3, 8, 5, 1, 2];
    const saved = TextTower.checkpointBytes;
    const step = () => {
      const coop = new CoOp(model, tok, names, { nCtx: 4, seed: 3 });
      const vars = coop.trainableVariables();
      const sgd = new SGD(vars, { momentum: 0.9 });
      const { value, grads } = tf.variableGrads(() => crossEntropy(coop.logits({ features }), labels), vars);
      sgd.apply(vars.map((v) => grads[v.name]), 0.01);
      const out = { loss: value.dataSync()[0], grad: Array.from(grads[vars[0].name].dataSync()), ctx: Array.from(vars[0].dataSync()) };
      tf.dispose([value, ...Object.values(grads)]);
      sgd.dispose();
      coop.dispose();
      return out;
    };
    try {
      TextTower.checkpointBytes = 1; // one row per chunk on this thread (the worker keeps its default)
      const one = step();
      await model.startWorkers(2);
      const before = tf.memory().numTensors;
      const two = step();
      assert.strictEqual(tf.memory().numTensors, before, 'no tensor left behind by a training step');
      assert.strictEqual(two.loss, one.loss);
      assert.deepStrictEqual(two.grad, one.grad);
      assert.deepStrictEqual(two.ctx, one.ctx);
    } finally {
      TextTower.checkpointBytes = saved;
      await model.stopWorkers();
      features.dispose();
      model.dispose();
    }
  });

  it('a tape whose loss never reaches the features does not leave the worker waiting', async () => {
    const model = new ClipModel(VIT, randomStateDict(VIT, 4));
    const x = tf.randomNormal([4, 6, VIT.transformerWidth], 0, 1, 'float32', 7) as tf.Tensor3D;
    try {
      await model.startWorkers(2);
      const g = tf.grad((xx: tf.Tensor) => {
        model.encodeTokenEmbeddings(xx as tf.Tensor3D, [5, 5, 5, 5]); // features the loss ignores
        return tf.sum(xx);
      })(x);
      g.dispose();
      const f = model.encodeTokenEmbeddings(x, [5, 5, 5, 5]); // the next call releases the worker first
      assert.deepStrictEqual(f.shape, [4, VIT.embedDim]);
      f.dispose();
    } finally {
      await model.stopWorkers();
      x.dispose();
      model.dispose();
    }
  });

  it("a worker's failure is an error that names it; a trainable model keeps to one thread; PROMPTLAB_WORKERS is checked", async () => {
    const model = new ClipModel(VIT, randomStateDict(VIT, 5));
    const pool = await TowerWorkers.start(VIT, model.stateDict(), 2, ['text']);
    try {
      const p = pool.submit(0, 'image', new Float32Array(3 * 32 * 32), [1, 3, 32, 32], [], false, VIT.embedDim);
      assert.throws(() => p.value(), /tower worker: this worker holds no image tower/);
    } finally {
      await pool.stop();
      model.dispose();
    }
    await assert.rejects(TowerWorkers.start(VIT, new Map(), 1, ['text']), /threads must be an integer >= 2/);
    const trainable = new ClipModel(VIT, randomStateDict(VIT, 6), 'random', true);
    assert.strictEqual(await trainable.startWorkers(2), 1);
    trainable.dispose();
    const env = process.env.PROMPTLAB_WORKERS;
    try {
      process.env.PROMPTLAB_WORKERS = '3';
      assert.strictEqual(defaultThreads(), 3);
      process.env.PROMPTLAB_WORKERS = 'two';
      assert.throws(() => defaultThreads(), /PROMPTLAB_WORKERS='two' must be a positive integer/);
    } finally {
      if (env === undefined) delete process.env.PROMPTLAB_WORKERS;
      else process.env.PROMPTLAB_WORKERS = env;
    }
  });
});
