// The freeing backward (src/clip/backprop.ts): bitwise tfjs's gradients on a pretraining step (with
// and without checkpointing) and on graphs with the awkward cases (a tensor used twice, ops with
// several outputs, gradient functions that pass dy on as a dx, branches that do not reach y, boolean
// inputs, a given dy, a second-order gradient), in less memory, leaving no tensor behind.
import * as assert from 'assert';
import * as tf from '@tensorflow/tfjs';
import { gradientsFreeing, variableGradsFreeing } from '../../src/clip/backprop';
import type { ClipConfig } from '../../src/clip/config';
import { ClipModel } from '../../src/clip/model';
import { clipInitStateDict } from '../../src/clip/random';
import { TOY_RN } from '../helpers/toy-pretrain';
import { toyStep } from '../helpers/toy-step';

const TOY_VIT: ClipConfig = { ...TOY_RN, visionLayers: 2, visionWidth: 32, visionPatchSize: 8, visionHeads: 2, transformerLayers: 2 };

describe('backprop: gradients that free as they go', () => {
  for (const [name, config] of [['ModifiedResNet (BatchNorm in training mode)', TOY_RN], ['ViT', TOY_VIT]] as const) {
    it(`a pretraining step (${name} and the text tower), plain and checkpointed: bitwise tf.variableGrads, in less memory, nothing left behind`, async () => {
      const model = new ClipModel(config, clipInitStateDict(config, 4), 'init', true);
      model.setTraining(true);
      await toyStep(model, { grads: variableGradsFreeing, recompute: false }); // warm-up: first allocations
      const before = tf.memory().numTensors;
      const ref = await toyStep(model, { recompute: false });
      for (const recompute of [false, true]) {
        const got = await toyStep(model, { grads: variableGradsFreeing, recompute });
        assert.strictEqual(tf.memory().numTensors, before, `recompute ${recompute}: a step leaves no tensor behind`);
        assert.strictEqual(got.loss, ref.loss);
        got.grads.forEach((g, i) => assert.deepStrictEqual(g, ref.grads[i], `recompute ${recompute}: gradient ${i}`));
        assert.deepStrictEqual(got.stats, ref.stats, `recompute ${recompute}: BatchNorm statistics`);
        assert.ok(got.peak < 0.8 * ref.peak, `recompute ${recompute}: peak bytes in tensors ${got.peak} against tfjs's ${ref.peak}`);
        console.log(`      recompute ${recompute}: peak ${(got.peak / 1e6).toFixed(1)} MB against tfjs's ${(ref.peak / 1e6).toFixed(1)} MB`);
      }
      model.dispose();
    });
  }

  it('the awkward graphs: bitwise tfjs, nothing left behind, the given dy kept', () => {
    const x = tf.tensor2d([[0.3, -1.2, 2], [1.5, 0.7, -0.4]]);
    const w = tf.tensor2d([[0.2, -0.5], [1.1, 0.4], [-0.8, 0.9]]);
    const table = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
    const mask = tf.tensor2d([[1, 0], [0, 1], [1, 1]], undefined, 'bool');
    // a custom op whose backward hands dy on unchanged to both of its inputs
    const passOn = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      save([a]);
      return { value: tf.add(a, b), gradFunc: (dy: tf.Tensor | tf.Tensor[]) => [dy as tf.Tensor, dy as tf.Tensor] };
    });
    const f = () => {
      const h = tf.matMul(x, w);                                   // [2, 2]
      const [p, q] = tf.split(h, 2, 1);                             // an op with two outputs
      const sq = tf.mul(p, p);                                      // a tensor used twice
      const unused = tf.exp(q);                                     // off the path to y
      const r = passOn(sq, tf.tanh(q)) as tf.Tensor;
      const t = tf.mul(table, tf.sum(h));
      const g = tf.where(mask, t, tf.mul(t, 0.1));                  // a boolean input
      void unused;
      return tf.add(tf.sum(tf.mul(r, tf.sigmoid(r))), tf.sum(tf.square(g)));
    };
    const ref = tf.tidy(() => tf.engine().gradients(f, [x, w, table], undefined, true));
    const before = tf.memory().numTensors;
    const got = gradientsFreeing(f, [x, w, table]);
    assert.strictEqual(tf.memory().numTensors, before + 4, 'only y and the three gradients are new');
    assert.deepStrictEqual(got.value.dataSync(), ref.value.dataSync());
    got.grads.forEach((g, i) => assert.deepStrictEqual((g as tf.Tensor).dataSync(), (ref.grads[i] as tf.Tensor).dataSync(), `gradient ${i}`));
    tf.dispose([got.value, ...(got.grads as tf.Tensor[])]);

    // a given dy (a custom gradient's inner backward) stays the caller's
    const dy = tf.tensor2d([[1, -2], [0.5, 3]]);
    const g2 = () => tf.tanh(tf.matMul(x, w));
    const refDy = tf.tidy(() => tf.engine().gradients(g2, [w], dy, true));
    const gotDy = gradientsFreeing(g2, [w], dy);
    assert.ok(!dy.isDisposed, 'the given dy is not disposed');
    assert.deepStrictEqual((gotDy.grads[0] as tf.Tensor).dataSync(), (refDy.grads[0] as tf.Tensor).dataSync());
    // an x that y does not depend on gets no gradient
    const none = gradientsFreeing(() => tf.sum(tf.mul(x, 2)), [x, w]);
    assert.strictEqual(none.grads[1], undefined);
    tf.dispose([refDy.value, ...refDy.grads.filter((t): t is tf.Tensor => !!t), gotDy.value, ...(gotDy.grads as tf.Tensor[]), none.value, none.grads[0] as tf.Tensor]);

    // second order: inside an outer tape it is tfjs's own backward, so the outer one can differentiate it
    const d2 = tf.grad((v: tf.Tensor) => tf.sum((gradientsFreeing(() => tf.sum(tf.mul(tf.mul(v, v), v)), [v]).grads[0] as tf.Tensor)))(x);
    const d2ref = tf.grad((v: tf.Tensor) => tf.sum(tf.grad((u: tf.Tensor) => tf.sum(tf.mul(tf.mul(u, u), u)))(v)))(x);
    assert.deepStrictEqual(d2.dataSync(), d2ref.dataSync());
    tf.dispose([x, w, table, mask, dy, d2, d2ref, ref.value, ...ref.grads.filter((t): t is tf.Tensor => !!t)]);
  });

  it('variableGradsFreeing refuses what tf.variableGrads refuses, leaving nothing behind', () => {
    const v = tf.variable(tf.tensor1d([1, 2]));
    const frozen = tf.variable(tf.tensor1d([3, 4]), false);
    const before = tf.memory().numTensors;
    assert.throws(() => variableGradsFreeing(() => tf.sum(frozen) as tf.Scalar, [frozen]), /none of the 1 variables is trainable/);
    assert.throws(() => variableGradsFreeing(() => tf.sum(frozen) as tf.Scalar, [v]), /does not depend on any of the variables/);
    assert.throws(() => variableGradsFreeing(() => tf.mul(v, 2) as unknown as tf.Scalar, [v]), /must return a scalar/);
    assert.strictEqual(tf.memory().numTensors, before);
    tf.dispose([v, frozen]);
  });
});
