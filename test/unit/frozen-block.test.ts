// The frozen residual block as one taped op (src/clip/frozen-block.ts): its forward equals
// residualBlock bitwise and its hand-written backward equals tfjs's autodiff of residualBlock.
import * as assert from 'assert';
import * as tf from '@tensorflow/tfjs';
import { causalMask, residualBlock, type Activation } from '../../src/clip/ops';
import { residualBlockFrozen } from '../../src/clip/frozen-block';
import { ParamReader } from '../../src/clip/params';
import { clipShapes } from '../../src/clip/random';
import { uniform } from '../../src/random';
import { relativeError } from '../helpers/compare';

/** One block's weights (OpenAI keys), random, with biases and LayerNorm weights away from 1 and 0. */
function randomBlock(d: number, heads: number, act: Activation, seed: number) {
  const r = uniform(seed, 'frozen-block');
  const shapes = clipShapes({ embedDim: 8, imageResolution: 8, visionLayers: 1, visionWidth: 8, visionPatchSize: 8, visionHeads: 1, contextLength: 4, vocabSize: 4, transformerWidth: d, transformerHeads: heads, transformerLayers: 1, textAct: act, visionAct: act, layerNormEps: 1e-5 });
  const sd = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [key, shape] of shapes) {
    if (!key.startsWith('transformer.resblocks.0.')) continue;
    const n = shape.reduce((a, b) => a * b, 1);
    const ln = /ln_\d\.weight$/.test(key);
    sd.set(key, { shape, data: Float32Array.from({ length: n }, () => (ln ? 1 : 0) + (2 * r() - 1) * (shape.length > 1 ? 1 / Math.sqrt(shape[1]) : 0.3)) });
  }
  return new ParamReader(sd, 'random block').block('transformer.resblocks.0', d, heads, act, 1e-5);
}

describe('residualBlockFrozen: one op per frozen block under a tape', () => {
  for (const act of ['quick_gelu', 'gelu'] as const) {
    for (const masked of [true, false]) {
      it(`${act}, ${masked ? 'causal mask' : 'no mask'}: forward bitwise equal, backward within 1e-5 of autodiff, nothing left behind`, () => {
        const block = randomBlock(24, 3, act, masked ? 1 : 2);
        const x = tf.randomNormal([3, 7, 24], 0, 1, 'float32', 5) as tf.Tensor3D;
        const w = tf.randomNormal([3, 7, 24], 0, 1, 'float32', 6);
        const mask = masked ? causalMask(7) : undefined;
        const loss = (f: typeof residualBlock) => (xx: tf.Tensor) => tf.sum(tf.mul(f(xx as tf.Tensor3D, block, mask), w));
        const before = tf.memory().numTensors;
        const plain = tf.tidy(() => residualBlock(x, block, mask));
        const fused = tf.tidy(() => residualBlockFrozen(x, block, mask)); // no tape: the same ops
        const gPlain = tf.grad(loss(residualBlock))(x);
        const gFused = tf.grad(loss(residualBlockFrozen))(x);
        assert.deepStrictEqual(Array.from(fused.dataSync()), Array.from(plain.dataSync()));
        const err = relativeError(gFused.dataSync(), gPlain.dataSync());
        assert.ok(err < 1e-5, `gradient: relative error ${err}`);
        assert.strictEqual(tf.memory().numTensors, before + 4, 'only the four results are new');
        tf.dispose([plain, fused, gPlain, gFused, x, w, ...(mask ? [mask] : []), ...Object.values(block).flatMap((v) => collect(v))]);
      });
    }
  }
});

function collect(o: unknown): tf.Tensor[] {
  if (o instanceof tf.Tensor) return [o];
  if (o && typeof o === 'object') return Object.values(o).flatMap(collect);
  return [];
}
