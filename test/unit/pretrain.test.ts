// Training a CLIP from scratch: trainable convolutions on every backend, state-dict round trip,
// the contrastive loss falling, exact resume, and no tensor growth across steps.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { conv2d } from '../../src/clip/conv';
import { ClipModel } from '../../src/clip/model';
import { clipInitStateDict } from '../../src/clip/random';
import { checkpointModel, pretrain, PretrainConfig, rankShare } from '../../src/train/pretrain';
import { runWorkers } from '../../src/train/workers';
import { TOY_RN, toySource, toyTokenize } from '../helpers/toy-pretrain';
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

const RN = TOY_RN;
const tokenize = toyTokenize;

function config(steps: number): PretrainConfig {
  return { steps, batchSize: 8, lr: 3e-3, warmup: 2, weightDecay: 0.1, seed: 1, checkpointEvery: 2, logEvery: 100 };
}

describe('pretraining a CLIP', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-pretrain-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

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

  it('data-parallel on 2 worker threads: the same step as one worker with the same BatchNorm groups (within 1e-5)', async function () {
    this.timeout(120000);
    const train = { ...config(1), bnGroup: 4, checkpointEvery: 100 };
    const solo = pretrain({ model: RN, train, source: toySource(32), tokenize, dir: path.join(tmp, 'solo') });
    const helper = path.join(__dirname, '..', 'helpers', 'toy-pretrain.ts');
    const dir = path.join(tmp, 'dp');
    const ranks = await runWorkers<{ dir: string; train: PretrainConfig }, { weights: Record<string, Float32Array>; losses: number[] }>(helper, 'toyRank', 2, { dir, train }, { capacity: 1 << 20 });
    // every replica ends identical; rank 0 wrote the checkpoint
    for (const k of Object.keys(ranks[0].weights)) assert.deepStrictEqual(ranks[1].weights[k], ranks[0].weights[k], `replicas differ at ${k}`);
    ranks[0].losses.forEach((l, i) => assert.ok(Math.abs(l - solo.history[i].loss) < 1e-5, `step ${i + 1}: loss ${l} vs ${solo.history[i].loss}`));
    let worst = 0;
    for (const [k, t] of solo.model.stateDict()) {
      const w = ranks[0].weights[k];
      for (let i = 0; i < t.data.length; i++) worst = Math.max(worst, Math.abs(w[i] - t.data[i]));
    }
    assert.ok(worst < 1e-5, `largest weight difference after one step ${worst}`);
    const fromCheckpoint = checkpointModel(dir);
    for (const [k, t] of fromCheckpoint.stateDict()) assert.deepStrictEqual(Float32Array.from(t.data), ranks[0].weights[k], k);
    fromCheckpoint.dispose();
    solo.model.dispose();
  });

  it('data-parallel: workers must share whole BatchNorm groups; a failing worker stops the others and names itself', async function () {
    this.timeout(60000);
    assert.throws(() => rankShare({ ...config(1), bnGroup: 8 }, 0, 2), /2 workers cannot share 1 BatchNorm group\(s\) of 8 images evenly/);
    assert.throws(() => rankShare({ ...config(1), bnGroup: 3 }, 0, 1), /the BatchNorm group \(3\) must divide the batch size \(8\)/);
    assert.deepStrictEqual(rankShare({ ...config(1), bnGroup: 2 }, 1, 2), { from: 4, to: 8, group: 2 });
    const helper = path.join(__dirname, '..', 'helpers', 'toy-pretrain.ts');
    await assert.rejects(runWorkers(helper, 'failingRank', 2, null, { capacity: 4 }), /worker 1 of 2: rank 1 broke on purpose/);
  });
});
