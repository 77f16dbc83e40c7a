// Gradient checkpointing for towers whose weights train (src/clip/recompute.ts): a pretraining step
// with every block recomputed in the backward gives bitwise the loss, gradients and BatchNorm
// statistics of the plain graph, in less memory, and leaves no tensor behind.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { ClipModel } from '../../src/clip/model';
import type { ClipConfig } from '../../src/clip/config';
import { clipInitStateDict } from '../../src/clip/random';
import { recompute } from '../../src/clip/recompute';
import { TOY_RN } from '../helpers/toy-pretrain';
import { toyStep } from '../helpers/toy-step';
import { pretrainWorld } from '../../src/miniclip/pretrain';
import { MINICLIP_DIR } from '../../src/miniclip';
import { ClipTokenizer } from '../../src/clip/tokenizer';

const TOY_VIT: ClipConfig = { ...TOY_RN, visionLayers: 2, visionWidth: 32, visionPatchSize: 8, visionHeads: 2, transformerLayers: 2 };

describe('recompute: gradient checkpointing of trainable towers', () => {
  for (const [name, config] of [['ModifiedResNet (BatchNorm in training mode)', TOY_RN], ['ViT', TOY_VIT]] as const) {
    it(`${name} and the text tower: bitwise the plain step's loss, gradients and statistics, in less memory, nothing left behind`, async () => {
      const model = new ClipModel(config, clipInitStateDict(config, 4), 'init', true);
      model.setTraining(true);
      await toyStep(model, { recompute: true }); // warm-up: first allocations
      const before = tf.memory().numTensors;
      const plain = await toyStep(model, { recompute: false });
      const again = await toyStep(model, { recompute: true });
      assert.strictEqual(tf.memory().numTensors, before, 'a step leaves no tensor behind');
      assert.strictEqual(again.loss, plain.loss);
      assert.strictEqual(again.grads.length, plain.grads.length);
      again.grads.forEach((g, i) => assert.deepStrictEqual(g, plain.grads[i], `gradient ${i}`));
      // (CLIP's initialisation zeroes each bottleneck's last BatchNorm weight, so its branch gets none yet)
      const moving = plain.grads.filter((g) => g.some((v) => v !== 0)).length;
      assert.ok(moving > plain.grads.length / 2, `${moving} of ${plain.grads.length} weights get a gradient`);
      assert.deepStrictEqual(again.stats, plain.stats, 'BatchNorm statistics are recorded once, as without recomputing');
      assert.ok(again.peak < 0.8 * plain.peak, `peak bytes in tensors: ${again.peak} recomputed against ${plain.peak} kept`);
      model.dispose();
    });
  }

  it('is the plain function outside a tape and with frozen weights; a frozen input with inputGrad false gets zeros', () => {
    const w = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
    const frozen = tf.tensor2d([[0.5, -1], [2, 1]]);
    const x = tf.tensor2d([[1, -1], [0.5, 2]]);
    const f = (h: tf.Tensor2D) => tf.tanh(tf.matMul(h, w)) as tf.Tensor2D;
    const out = recompute(f, x, [w]);
    assert.deepStrictEqual(out.dataSync(), tf.tidy(() => f(x)).dataSync());
    // frozen weights only: no custom op, tfjs's own gradient
    const gFrozen = tf.grad((h: tf.Tensor) => tf.sum(recompute((hh: tf.Tensor2D) => tf.tanh(tf.matMul(hh, frozen)) as tf.Tensor2D, h as tf.Tensor2D, [frozen])))(x);
    const gRef = tf.grad((h: tf.Tensor) => tf.sum(tf.tanh(tf.matMul(h as tf.Tensor2D, frozen))))(x);
    assert.deepStrictEqual(gFrozen.dataSync(), gRef.dataSync());
    const { grads } = tf.variableGrads(() => tf.sum(recompute(f, x, [w], [], false)) as tf.Scalar, [w]);
    const ref = tf.variableGrads(() => tf.sum(f(x)) as tf.Scalar, [w]);
    assert.deepStrictEqual(grads[w.name].dataSync(), ref.grads[w.name].dataSync());
    tf.dispose([w, frozen, x, out, gFrozen, gRef, grads[w.name], ref.grads[w.name], ref.value]);
  });
});

describe('recompute: pretrainWorld --recompute', () => {
  it('on one and on two workers: the same losses and weights as without recomputing', async function () {
    this.timeout(300000);
    const vocabFile = path.join(MINICLIP_DIR, 'bpe.txt');
    const model = { ...TOY_RN, vocabSize: ClipTokenizer.fromMergesFile(vocabFile).vocabSize, contextLength: 32 };
    const train = { steps: 2, batchSize: 8, bnGroup: 4, lr: 2e-3, warmup: 1, weightDecay: 0.1, seed: 2, checkpointEvery: 100, logEvery: 100 };
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-recompute-'));
    try {
      const run = async (workers: number, recompute: boolean) => {
        const dir = path.join(tmp, `${workers}-${recompute}`);
        const m = await pretrainWorld({ model, train, dir, vocabFile, recompute }, workers, () => undefined);
        const weights = m.stateDict();
        m.dispose();
        const losses = fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss as number);
        return { losses, weights };
      };
      for (const workers of [1, 2]) {
        const plain = await run(workers, false);
        const again = await run(workers, true);
        assert.strictEqual(plain.losses.length, 2);
        assert.deepStrictEqual(again.losses, plain.losses, `${workers} worker(s): the same losses`);
        for (const [k, t] of plain.weights) assert.deepStrictEqual(again.weights.get(k)?.data, t.data, `${workers} worker(s): ${k}`);
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
