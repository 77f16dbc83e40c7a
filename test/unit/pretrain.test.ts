// Training a CLIP from scratch: trainable convolutions on every backend, state-dict round trip,
// the contrastive loss falling, exact resume, and no tensor growth across steps.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { conv2d } from '../../src/clip/conv';
import { ClipConfig } from '../../src/clip/config';
import { ClipModel } from '../../src/clip/model';
import { clipInitStateDict } from '../../src/clip/random';
import { uniform } from '../../src/random';
import { ClipTokenizer } from '../../src/clip/tokenizer';
import { PairSource, pretrain, PretrainConfig } from '../../src/train/pretrain';
import { relativeError } from '../helpers/compare';

/** The same convolution from differentiable pieces only (pad, slice, concat, matMul). */
function im2colConv(x: tf.Tensor4D, w: tf.Tensor4D, stride: number, pad: number): tf.Tensor4D {
  const [n, h, wd, cin] = x.shape;
  const [k, , , cout] = w.shape;
  const xp = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]);
  const ho = Math.floor((h + 2 * pad - k) / stride) + 1;
  const wo = Math.floor((wd + 2 * pad - k) / stride) + 1;
  const cols: tf.Tensor[] = [];
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
    const rows: tf.Tensor[] = [];
    for (let y = 0; y < ho; y++) for (let z = 0; z < wo; z++) rows.push(xp.slice([0, y * stride + i, z * stride + j, 0], [n, 1, 1, cin]));
    cols.push(tf.concat(rows, 1).reshape([n * ho * wo, cin]));
  }
  const patches = tf.concat(cols, 1); // [n*ho*wo, k*k*cin]
  return tf.matMul(patches, w.reshape([k * k * cin, cout])).reshape([n, ho, wo, cout]);
}

const RN: ClipConfig = {
  embedDim: 16, imageResolution: 32, visionLayers: [1, 1, 1, 1], visionWidth: 8, visionPatchSize: null, visionHeads: 2,
  contextLength: 8, vocabSize: 520, transformerWidth: 32, transformerHeads: 2, transformerLayers: 1,
  textAct: 'quick_gelu', visionAct: 'quick_gelu', layerNormEps: 1e-5,
};

const COLOURS: [string, number[]][] = [['red', [220, 30, 30]], ['green', [30, 200, 30]], ['blue', [30, 30, 220]], ['yellow', [230, 220, 40]]];

/** Squares of four colours at random places; the caption names the colour. */
function toySource(size: number): PairSource {
  return {
    batch(step, batchSize) {
      const r = uniform(1000 + step);
      const pixels = new Float32Array(batchSize * 3 * size * size);
      const captions: string[] = [];
      for (let b = 0; b < batchSize; b++) {
        const [name, rgb] = COLOURS[b % COLOURS.length];
        captions.push(`a ${name} square`);
        const x0 = Math.floor(r() * size / 2);
        const y0 = Math.floor(r() * size / 2);
        for (let c = 0; c < 3; c++) for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
          const inside = x >= x0 && x < x0 + size / 2 && y >= y0 && y < y0 + size / 2;
          pixels[((b * 3 + c) * size + y) * size + x] = ((inside ? rgb[c] : 128) / 255 - 0.45) / 0.27;
        }
      }
      return { pixels, shape: [batchSize, 3, size, size], captions };
    },
  };
}

const toyTokenizer = ClipTokenizer.fromMerges('#version: 0.2\nr e\nre d</w>\ns q\nsq u\n');

function config(steps: number): PretrainConfig {
  return { steps, batchSize: 8, lr: 3e-3, warmup: 2, weightDecay: 0.1, seed: 1, checkpointEvery: 2, logEvery: 100 };
}

describe('pretraining a CLIP', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-pretrain-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const tokenize = (c: string[]) => toyTokenizer.tokenize(c, { contextLength: RN.contextLength, truncate: true });

  it('trainable conv2d: output and both gradients equal an im2col formulation (stride 1 and 2)', () => {
    for (const [stride, pad, k] of [[1, 1, 3], [2, 1, 3], [1, 0, 1]]) {
      const x = tf.randomNormal([2, 7, 7, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
      const w = tf.variable(tf.randomNormal([k, k, 3, 4], 0, 1, 'float32', 2));
      const f = (fn: (a: tf.Tensor4D, b: tf.Tensor4D) => tf.Tensor4D) =>
        tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(fn(a as tf.Tensor4D, b as tf.Tensor4D))))([x, w]);
      const ours = f((a, b) => conv2d(a, b, stride, pad));
      const ref = f((a, b) => im2colConv(a, b, stride, pad));
      const y1 = conv2d(x, w as tf.Tensor as tf.Tensor4D, stride, pad);
      const y2 = im2colConv(x, w as tf.Tensor as tf.Tensor4D, stride, pad);
      assert.ok(relativeError(y1.dataSync(), y2.dataSync()) < 1e-5, 'forward');
      assert.ok(relativeError(ours[0].dataSync(), ref[0].dataSync()) < 1e-5, `input gradient (stride ${stride})`);
      assert.ok(relativeError(ours[1].dataSync(), ref[1].dataSync()) < 1e-5, `filter gradient (stride ${stride})`);
      tf.dispose([x, w, ...ours, ...ref, y1, y2]);
    }
  });

  it('a trainable model writes back exactly the state dict it was built from', () => {
    const sd = clipInitStateDict(RN, 3);
    const m = new ClipModel(RN, sd, 'init', true);
    const back = m.stateDict();
    assert.deepStrictEqual([...back.keys()].sort(), [...sd.keys()].sort());
    for (const [k, t] of sd) assert.deepStrictEqual(Array.from(back.get(k)!.data), Array.from(t.data), k);
    assert.ok(m.trainableVariables().length > 0);
    m.dispose();
  });

  it('the contrastive loss falls on a fixed toy world, and running BatchNorm statistics move', () => {
    const dir = path.join(tmp, 'fall');
    const { model, history } = pretrain({ model: RN, train: { ...config(30), checkpointEvery: 100 }, source: toySource(32), tokenize, dir });
    const first = history.slice(0, 3).reduce((s, h) => s + h.loss, 0) / 3;
    const last = history.slice(-3).reduce((s, h) => s + h.loss, 0) / 3;
    assert.ok(last < first * 0.8, `loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
    const rv = model.stateDict().get('visual.bn1.running_var')!.data;
    assert.ok(Array.from(rv).some((v) => Math.abs(v - 1) > 1e-3), 'running_var never updated');
    model.dispose();
  });

  it('resumes exactly: 2 steps, stop, 2 more equals 4 steps in one go', () => {
    const a = pretrain({ model: RN, train: config(4), source: toySource(32), tokenize, dir: path.join(tmp, 'straight') });
    const partial = pretrain({ model: RN, train: config(4), source: toySource(32), tokenize, dir: path.join(tmp, 'resumed'), stopAt: 2 });
    partial.model.dispose();
    const lines: string[] = [];
    const b = pretrain({ model: RN, train: config(4), source: toySource(32), tokenize, dir: path.join(tmp, 'resumed'), log: (l) => lines.push(l) });
    assert.ok(lines.some((l) => /resumed from .* at step 2/.test(l)));
    assert.deepStrictEqual(b.history.map((h) => h.step), [3, 4]);
    assert.deepStrictEqual(b.history.map((h) => h.loss), a.history.slice(2).map((h) => h.loss));
    const sa = a.model.stateDict();
    const sb = b.model.stateDict();
    for (const [k, t] of sa) assert.deepStrictEqual(Array.from(sb.get(k)!.data), Array.from(t.data), k);
    a.model.dispose();
    b.model.dispose();
  });

  it('a training step and an evaluation leave no tensors behind', () => {
    const dir = path.join(tmp, 'leak');
    const warm = pretrain({ model: RN, train: config(1), source: toySource(32), tokenize, dir });
    warm.model.dispose();
    const before = tf.memory().numTensors;
    const run = pretrain({ model: RN, train: config(2), source: toySource(32), tokenize, dir });
    const px = tf.zeros([1, 3, 32, 32]) as tf.Tensor4D;
    run.model.encodeImage(px).dispose();
    px.dispose();
    run.model.dispose();
    assert.strictEqual(tf.memory().numTensors, before);
  });
});
