// The generic prompt-training loop: the CoOp learning-rate schedule, torch-equivalent SGD, the
// training augmentation, progress reporting, and trainPrompt itself on a tiny fake method (a linear
// classifier over fixed features) and on the real CoOp class over a tiny random CLIP: the loss falls,
// only the method's variables change, exact resume, a NaN stops the run, no tensor growth.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import type { ClipConfig } from '../../src/clip/config';
import type { RawImage } from '../../src/clip/image';
import { ClipModel } from '../../src/clip/model';
import { resize, toClipInput } from '../../src/clip/preprocess';
import { randomStateDict } from '../../src/clip/random';
import { uniform } from '../../src/random';
import { readSafetensors, TensorToWrite, writeSafetensors } from '../../src/clip/safetensors';
import { ClipTokenizer } from '../../src/clip/tokenizer';
import { CoCoOp } from '../../src/methods/cocoop';
import { CoOp } from '../../src/methods/coop';
import { ImageInput, l2normalize, PromptMethod } from '../../src/methods/method';
import { augmentImage, cropImage, flipHorizontal, randomResizedCropBox } from '../../src/train/augment';
import { consoleProgress, formatProgress, ProgressInfo } from '../../src/train/progress';
import { coopLr } from '../../src/train/schedule';
import { SGD } from '../../src/train/sgd';
import {
  batchesPerEpoch, CHECKPOINT_FILE, COOP_TRAIN_CONFIG, epochOrder, evaluatePrompt, OFFICIAL_AUGMENT, PromptTrainConfig, trainPrompt, TrainSet,
} from '../../src/train/trainer';

const CLASSES = ['red', 'green', 'blue'];
const DIM = 6;
const SIZE = 8; // image side for the pixel path of the fake method

/** A linear classifier over features (or over a fixed random projection of the pixels): one variable. */
class FakeMethod implements PromptMethod {
  readonly name = 'fake-linear';
  readonly w: tf.Variable;
  readonly proj: tf.Tensor2D;
  calls = 0;
  /** Logits become NaN once `calls` exceeds this. */
  poisonAfter = Infinity;
  private names: string[];

  constructor(classNames: readonly string[], seed: number) {
    this.names = [...classNames];
    this.w = tf.variable(tf.randomNormal([DIM, classNames.length], 0, 0.1, 'float32', seed), true);
    this.proj = tf.randomNormal([3 * SIZE * SIZE, DIM], 0, 0.05, 'float32', seed + 1) as tf.Tensor2D;
  }

  get classNames(): readonly string[] {
    return this.names;
  }

  trainableVariables(): tf.Variable[] {
    return [this.w];
  }

  logits(input: ImageInput): tf.Tensor2D {
    this.calls += 1;
    return tf.tidy(() => {
      const f = input.features ?? tf.matMul(tf.reshape(input.pixels as tf.Tensor4D, [input.pixels!.shape[0], -1]), this.proj);
      const l = tf.matMul(f, this.w) as tf.Tensor2D;
      return this.calls > this.poisonAfter ? (tf.mul(l, NaN) as tf.Tensor2D) : l;
    });
  }

  setClassNames(names: readonly string[]): void {
    this.names = [...names];
  }

  dispose(): void {
    tf.dispose([this.w, this.proj]);
  }
}

/** Separable features: class centroid + noise, `n` items with labels i % K. */
function featureSet(n: number, seed: number): TrainSet & { features: tf.Tensor2D } {
  const r = uniform(seed);
  const data = new Float32Array(n * DIM);
  for (let i = 0; i < n; i++) for (let d = 0; d < DIM; d++) data[i * DIM + d] = (d === i % CLASSES.length ? 2 : 0) + (r() - 0.5);
  return { count: n, label: (i) => i % CLASSES.length, features: tf.tensor2d(data, [n, DIM]) };
}

/** A w x h RGB image mostly of the label's colour, with seeded noise. */
function colourImage(label: number, w: number, h: number, seed: number): RawImage {
  const rgb = [[220, 30, 30], [30, 200, 30], [30, 30, 220]][label];
  const r = uniform(seed);
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = Math.max(0, Math.min(255, rgb[c] + Math.floor((r() - 0.5) * 80)));
  return { width: w, height: h, channels: 3, data };
}

function imageSet(n: number, seed: number): TrainSet {
  const images = Array.from({ length: n }, (_, i) => colourImage(i % CLASSES.length, 13 + (i % 4), 11 + (i % 3), seed + i));
  return { count: n, label: (i) => i % CLASSES.length, image: (i) => images[i] };
}

function config(over: Partial<PromptTrainConfig>): PromptTrainConfig {
  return { ...COOP_TRAIN_CONFIG, epochs: 4, batchSize: 4, lr: 0.5, augment: null, seed: 7, ...over };
}

function snapshot(t: tf.Tensor): Float32Array {
  return Float32Array.from(t.dataSync());
}

describe('prompt training: schedule, SGD, augmentation, progress', () => {
  it('coopLr: constant warm-up at 1e-5 for the first epoch, then the cosine from the full rate (hand-computed)', () => {
    const lr = (e: number) => coopLr(e, 0.002, 10);
    assert.strictEqual(lr(0), 1e-5);
    assert.strictEqual(lr(1), 0.002);
    const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-15, `${a} vs ${b}`);
    close(lr(2), 0.0019510565162951536);  // 0.001 * (1 + cos(pi / 10))
    close(lr(6), 0.001);                  // cos(pi / 2) = 0
    close(lr(10), 4.894348370484647e-5);  // 0.001 * (1 + cos(9 pi / 10)); never 0 in the last epoch
    assert.strictEqual(coopLr(1, 0.002, 10, 2, 3e-4), 3e-4, 'second warm-up epoch');
    assert.strictEqual(coopLr(2, 0.002, 10, 2, 3e-4), 0.002, 'cosine starts after the warm-up');
    assert.strictEqual(coopLr(0, 0.002, 10, 0), 0.002, 'no warm-up');
    assert.throws(() => coopLr(-1, 0.002, 10), /epoch/);
  });

  it('SGD: two steps equal torch.optim.SGD by hand (momentum 0.9, coupled weight decay 0.01, lr 0.1)', () => {
    const p = tf.variable(tf.tensor1d([1, -2]));
    const opt = new SGD([p], { momentum: 0.9, weightDecay: 0.01 });
    const g1 = tf.tensor1d([0.5, 0.25]);
    const g2 = tf.tensor1d([-1, 2]);
    opt.apply([g1], 0.1);
    // d = g + 0.01 p = [0.51, 0.23]; buf = d; p = p - 0.1 buf
    assert.ok(Math.abs(p.dataSync()[0] - 0.949) < 1e-6 && Math.abs(p.dataSync()[1] + 2.023) < 1e-6, `step 1: ${p.dataSync()}`);
    opt.apply([g2], 0.1);
    // d = g2 + 0.01 p1 = [-0.99051, 1.97977]; buf = 0.9 [0.51, 0.23] + d = [-0.53151, 2.18677]
    const want = [1.002151, -2.241677];
    p.dataSync().forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-6, `step 2: ${v} vs ${want[i]}`));
    const buf = opt.buffers[0]!.dataSync();
    assert.ok(Math.abs(buf[0] + 0.53151) < 1e-6 && Math.abs(buf[1] - 2.18677) < 1e-6, `buffer ${buf}`);

    // The state round-trips into a fresh optimiser, and a missing gradient skips the parameter.
    const state = opt.state();
    assert.strictEqual(state.step, 2);
    const q = tf.variable(tf.tensor1d(Array.from(p.dataSync())));
    const other = new SGD([q], { momentum: 0.9, weightDecay: 0.01 });
    other.loadState(state);
    opt.apply([g1], 0.1);
    other.apply([g1], 0.1);
    assert.deepStrictEqual(Array.from(q.dataSync()), Array.from(p.dataSync()));
    const before = snapshot(p);
    opt.apply([null], 0.1);
    assert.deepStrictEqual(Array.from(p.dataSync()), Array.from(before), 'no gradient, no update (no decay either)');
    opt.dispose();
    other.dispose();
    tf.dispose([p, q, g1, g2]);
  });

  it('RandomResizedCrop boxes: seeded, inside the image, torchvision fallback; flip and crop; the view is normalised like the test transform', () => {
    const boxes = (seed: number) => Array.from({ length: 20 }, (_, i) => randomResizedCropBox(40 + i, 30, uniform(seed + i)));
    assert.deepStrictEqual(boxes(3), boxes(3), 'same seed, same boxes');
    assert.notDeepStrictEqual(boxes(3), boxes(4));
    boxes(5).forEach((b, i) => {
      const w = 40 + i;
      assert.ok(b.width >= 1 && b.height >= 1 && b.left >= 0 && b.top >= 0 && b.left + b.width <= w && b.top + b.height <= 30, JSON.stringify(b));
      const area = (b.width * b.height) / (w * 30);
      assert.ok(area > 0.05 && area <= 1.05, `area fraction ${area}`);
    });
    // 100 x 1: no attempt can fit a crop of >= 90% area with ratio <= 4/3, so the centre crop clamped to ratio 4/3.
    assert.deepStrictEqual(randomResizedCropBox(100, 1, uniform(1), [0.9, 1]), { top: 0, left: 49, height: 1, width: 1 });
    // A tall image clamps to ratio 3/4: w = 30, h = round(30 / 0.75) = 40, centred.
    assert.deepStrictEqual(randomResizedCropBox(30, 100, uniform(1), [0.99, 1], [3 / 4, 3 / 4]), { top: 30, left: 0, height: 40, width: 30 });

    const img: RawImage = { width: 3, height: 2, channels: 1, data: Uint8Array.from([1, 2, 3, 4, 5, 6]) };
    assert.deepStrictEqual(Array.from(flipHorizontal(img).data), [3, 2, 1, 6, 5, 4]);
    assert.deepStrictEqual(Array.from(cropImage(img, { top: 1, left: 1, height: 1, width: 2 }).data), [5, 6]);

    const sq = colourImage(0, SIZE, SIZE, 9);
    const whole = { scale: [1, 1] as const, ratio: [1, 1] as const };
    assert.deepStrictEqual(augmentImage(sq, SIZE, uniform(1), { ...whole, flipProbability: 0 }), toClipInput(sq, { size: SIZE }));
    assert.deepStrictEqual(augmentImage(sq, SIZE, uniform(1), { ...whole, flipProbability: 1 }), toClipInput(flipHorizontal(sq), { size: SIZE }));
    const a = augmentImage(colourImage(1, 31, 23, 2), SIZE, uniform(4));
    assert.strictEqual(a.length, 3 * SIZE * SIZE);
    assert.deepStrictEqual(a, augmentImage(colourImage(1, 31, 23, 2), SIZE, uniform(4)));
    // no random crop: Dassl's Resize(INPUT.SIZE) to size x size (aspect not kept), then the flip
    const wide = colourImage(2, 19, 11, 5);
    const squashed = resize(wide, SIZE, SIZE);
    assert.deepStrictEqual(augmentImage(wide, SIZE, uniform(1), { scale: null, flipProbability: 0 }), toClipInput(squashed, { size: SIZE }));
    assert.deepStrictEqual(augmentImage(wide, SIZE, uniform(1), { scale: null, flipProbability: 1 }), toClipInput(flipHorizontal(squashed), { size: SIZE }));
    assert.deepStrictEqual(augmentImage(sq, SIZE, uniform(1), { scale: null, flipProbability: 0 }), toClipInput(sq, { size: SIZE }), 'a square image of the size: the test transform');
  });

  it('the trainer draws the views its augment config names: flip only, crop only, or none', () => {
    const m = new FakeMethod(CLASSES, 8);
    // wider than tall, so the test transform (centre crop) and a plain resize differ
    const pics = Array.from({ length: 6 }, (_, i) => colourImage(i % CLASSES.length, 13 + (i % 4), 11, 40 + i));
    const imgs: TrainSet = { count: 6, label: (i) => i % CLASSES.length, image: (i) => pics[i] };
    const test = Array.from({ length: 6 }, (_, i) => toClipInput(imgs.image!(i), { size: SIZE }));
    const squashed = Array.from({ length: 6 }, (_, i) => toClipInput(resize(imgs.image!(i), SIZE, SIZE), { size: SIZE }));
    const mirrored = Array.from({ length: 6 }, (_, i) => toClipInput(flipHorizontal(resize(imgs.image!(i), SIZE, SIZE)), { size: SIZE }));
    const seen = (augment: PromptTrainConfig['augment']) => {
      const views: Float32Array[] = [];
      const encode = (px: tf.Tensor4D) => {
        const d = px.dataSync();
        for (let b = 0; b < px.shape[0]; b++) views.push(Float32Array.from(d.subarray(b * 3 * SIZE * SIZE, (b + 1) * 3 * SIZE * SIZE)));
        return l2normalize(tf.matMul(tf.reshape(px, [px.shape[0], -1]), m.proj)) as tf.Tensor2D;
      };
      trainPrompt({ method: m, train: imgs, config: config({ epochs: 3, batchSize: 3, augment }), imageSize: SIZE, encodeImages: encode });
      const kind = (v: Float32Array) => (test.some((t) => assertSame(t, v)) ? 'test' : squashed.some((t) => assertSame(t, v)) ? 'resized' : mirrored.some((t) => assertSame(t, v)) ? 'mirror' : 'other');
      return views.map(kind);
    };
    const assertSame = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => x === b[i]);
    assert.deepStrictEqual(new Set(seen(null)), new Set(['test']));
    const plain = seen({ crop: null, flip: false });
    assert.deepStrictEqual(new Set(plain), new Set(['resized']), String(plain));
    assert.deepStrictEqual(new Set(seen({ crop: null, flip: true })), new Set(['resized', 'mirror']), 'flips about half of the views');
    const cropped = seen({ crop: [0.08, 0.3], flip: false });
    assert.ok(cropped.every((k) => k === 'other'), `random crops of at most 30% area: ${cropped}`);
    assert.throws(() => trainPrompt({ method: m, train: imgs, config: config({ augment: { crop: [0.5, 0.2], flip: true } }), imageSize: SIZE }), /augment.crop must be an area range/);
    const cached = featureSet(3, 1);
    assert.throws(() => trainPrompt({ method: m, train: cached, config: config({ augment: OFFICIAL_AUGMENT }) }), /augmentation needs train.image/);
    cached.features.dispose();
    m.dispose();
  });

  it('data order and batching: seeded permutations per epoch, drop_last = (items >= batch size)', () => {
    const o = epochOrder(10, 1, 0);
    assert.deepStrictEqual(Array.from(o).sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepStrictEqual(o, epochOrder(10, 1, 0));
    assert.notDeepStrictEqual(o, epochOrder(10, 1, 1));
    assert.notDeepStrictEqual(o, epochOrder(10, 2, 0));
    assert.strictEqual(batchesPerEpoch(10, 4), 2);
    assert.strictEqual(batchesPerEpoch(8, 4), 2);
    assert.strictEqual(batchesPerEpoch(3, 4), 1, 'fewer items than a batch: one short batch, never an empty loader');
    assert.strictEqual(batchesPerEpoch(16, 1), 16);
  });

  it('progress: in place on a TTY, every N steps otherwise, and the trainer reports each step', () => {
    const info = (step: number, epochDone = false): ProgressInfo => ({
      epoch: 2, epochs: 10, step, steps: 4, loss: 1.23456, accuracy: 0.5, lr: 0.002, stepsPerSecond: 3.5, etaSeconds: 75, epochDone,
    });
    assert.strictEqual(formatProgress(info(3)), 'epoch  2/10  step 3/4  loss 1.2346  acc 50.0%  lr 2.00e-3  3.50 steps/s  ETA 1m15s');
    const out: string[] = [];
    const tty = consoleProgress({ stream: { write: (s) => out.push(s), isTTY: true } });
    tty(info(1));
    tty(info(4, true));
    assert.ok(out[0].startsWith('\r') && !out[0].endsWith('\n') && out[1].endsWith('\n'), JSON.stringify(out));
    const lines: string[] = [];
    const plain = consoleProgress({ stream: { write: (s) => lines.push(s) }, every: 2 });
    [1, 2, 3].forEach((s) => plain(info(s)));
    plain(info(4, true));
    plain(info(1));
    assert.deepStrictEqual(lines.map((l) => l.slice(0, 24)), ['epoch  2/10  step 2/4  l', 'epoch  2/10  step 4/4  l']);

    const seen: ProgressInfo[] = [];
    const m = new FakeMethod(CLASSES, 1);
    const set = featureSet(10, 2);
    trainPrompt({ method: m, train: set, config: config({ epochs: 2 }), onProgress: (p) => seen.push(p) });
    assert.deepStrictEqual(seen.map((p) => `${p.epoch}:${p.step}/${p.steps}${p.epochDone ? '!' : ''}`), ['1:1/2', '1:2/2!', '2:1/2', '2:2/2!']);
    assert.strictEqual(seen[0].lr, 1e-5);
    assert.strictEqual(seen[2].lr, 0.5);
    m.dispose();
    set.features.dispose();
  });
});

describe('trainPrompt on a fake linear method', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-trainer-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('the loss falls on a fixed batch (cached features) and only the method variable changes', () => {
    const m = new FakeMethod(CLASSES, 3);
    const set = featureSet(6, 4);
    const proj = snapshot(m.proj);
    const feats = snapshot(set.features);
    const w0 = snapshot(m.w);
    const { history } = trainPrompt({ method: m, train: set, config: config({ epochs: 25, batchSize: 6, lr: 0.3 }) });
    assert.strictEqual(history.length, 25);
    assert.ok(history[24].loss < history[1].loss * 0.3, `loss ${history[1].loss} -> ${history[24].loss}`);
    assert.strictEqual(history[24].accuracy, 1);
    assert.notDeepStrictEqual(snapshot(m.w), w0);
    assert.deepStrictEqual(snapshot(m.proj), proj, 'the frozen projection');
    assert.deepStrictEqual(snapshot(set.features), feats, 'the cached features');
    m.dispose();
    set.features.dispose();
  });

  it('Adam at a constant rate with gradient accumulation (CSP): two batches of 2 accumulated equal one batch of 4; resumes exactly', () => {
    const set = featureSet(4, 9);
    const adam = { optimizer: 'adam' as const, schedule: 'constant' as const, lr: 0.01, weightDecay: 1e-3, epochs: 3 };
    const whole = new FakeMethod(CLASSES, 11);
    trainPrompt({ method: whole, train: set, config: config({ ...adam, batchSize: 4 }) });
    const halves = new FakeMethod(CLASSES, 11);
    const h = trainPrompt({ method: halves, train: set, config: config({ ...adam, batchSize: 2, gradAccumulation: 2 }) });
    const a = snapshot(whole.w);
    const b = snapshot(halves.w);
    a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) < 1e-6, `w[${i}]: ${x} vs ${b[i]}`));
    assert.ok(h.history.every((e) => e.lr === 0.01), 'a constant rate, no warm-up');
    // stop after one epoch, resume: the Adam moments come back from the checkpoint
    const dir = path.join(tmp, 'adam');
    const first = new FakeMethod(CLASSES, 11);
    trainPrompt({ method: first, train: set, config: config({ ...adam, batchSize: 2, gradAccumulation: 2 }), checkpointDir: dir, stopAfterEpochs: 1 });
    const again = new FakeMethod(CLASSES, 11);
    const r = trainPrompt({ method: again, train: set, config: config({ ...adam, batchSize: 2, gradAccumulation: 2 }), checkpointDir: dir });
    assert.strictEqual(r.resumedFromEpoch, 1);
    assert.deepStrictEqual(snapshot(again.w), b);
    [whole, halves, first, again].forEach((m) => m.dispose());
    set.features.dispose();
  });

  it('resumes exactly: 2 of 4 epochs, stop, resume equals 4 epochs in one go (augmented pixels, bitwise)', () => {
    const set = imageSet(10, 50);
    const cfg = config({ augment: OFFICIAL_AUGMENT, lr: 0.05 });
    const straight = new FakeMethod(CLASSES, 5);
    const a = trainPrompt({ method: straight, train: set, config: cfg, imageSize: SIZE, checkpointDir: path.join(tmp, 'straight') });

    const dir = path.join(tmp, 'resumed');
    const first = new FakeMethod(CLASSES, 5);
    const partial = trainPrompt({ method: first, train: set, config: cfg, imageSize: SIZE, checkpointDir: dir, stopAfterEpochs: 2 });
    assert.strictEqual(partial.epochsDone, 2);
    assert.strictEqual(readSafetensors(path.join(dir, CHECKPOINT_FILE)).metadata.epoch, '2');
    first.dispose();

    const second = new FakeMethod(CLASSES, 5);
    second.w.assign(tf.fill(second.w.shape, 3)); // other initial values: the trained ones must come from the checkpoint
    const lines: string[] = [];
    const b = trainPrompt({ method: second, train: set, config: cfg, imageSize: SIZE, checkpointDir: dir, log: (l) => lines.push(l) });
    assert.ok(lines.some((l) => /resumed from .* at epoch 2\/4/.test(l)), lines.join('\n'));
    assert.strictEqual(b.resumedFromEpoch, 2);
    assert.deepStrictEqual(b.history.map((h) => [h.epoch, h.lr, h.loss, h.accuracy]), a.history.map((h) => [h.epoch, h.lr, h.loss, h.accuracy]));
    assert.deepStrictEqual(snapshot(second.w), snapshot(straight.w), 'variables bitwise');
    const ca = readSafetensors(path.join(tmp, 'straight', CHECKPOINT_FILE));
    const cb = readSafetensors(path.join(dir, CHECKPOINT_FILE));
    assert.deepStrictEqual(Array.from(cb.tensors.get('optimizer.momentum.0')!.data), Array.from(ca.tensors.get('optimizer.momentum.0')!.data), 'momentum bitwise');

    // Another configuration in the same folder is refused rather than silently mixed.
    assert.throws(() => trainPrompt({ method: second, train: set, config: { ...cfg, lr: 0.01 }, imageSize: SIZE, checkpointDir: dir }), /another config/);
    // A damaged checkpoint is refused naming the file and what is wrong; a killed run's temporary file is removed.
    const f = readSafetensors(path.join(dir, CHECKPOINT_FILE));
    const tensors: Record<string, TensorToWrite> = {};
    for (const [k, t] of f.tensors) tensors[k] = { dtype: 'F32', shape: t.shape, data: t.data as Float32Array };
    for (const [key, value, message] of [['epoch', 'abc', /its epoch is "abc", not a whole number/], ['optimizer_step', '-1', /its optimizer_step is "-1"/], ['history', '[{', /its history is not valid JSON/]] as const) {
      writeSafetensors(path.join(dir, CHECKPOINT_FILE), tensors, { ...f.metadata, [key]: value });
      assert.throws(() => trainPrompt({ method: second, train: set, config: cfg, imageSize: SIZE, checkpointDir: dir }), message, key);
    }
    fs.writeFileSync(path.join(dir, `${CHECKPOINT_FILE}.tmp-999999999`), 'half');
    writeSafetensors(path.join(dir, CHECKPOINT_FILE), tensors, f.metadata);
    trainPrompt({ method: second, train: set, config: cfg, imageSize: SIZE, checkpointDir: dir });
    assert.deepStrictEqual(fs.readdirSync(dir), [CHECKPOINT_FILE]);
    straight.dispose();
    second.dispose();
  });

  it('a NaN loss stops the run naming the epoch, step and last good checkpoint, and writes nothing after it', () => {
    const m = new FakeMethod(CLASSES, 6);
    const set = featureSet(12, 7);
    const dir = path.join(tmp, 'nan');
    const ckpt = path.join(dir, CHECKPOINT_FILE);
    m.poisonAfter = 2 * 3 + 1; // 3 steps per epoch: epoch 3, step 2 goes bad
    const before = tf.memory().numTensors;
    assert.throws(
      () => trainPrompt({ method: m, train: set, config: config({ checkpointEvery: 1 }), checkpointDir: dir }),
      (e: Error) => /loss is NaN at epoch 3\/4, step 2\/3/.test(e.message) && e.message.includes(`${ckpt} (epoch 2)`),
    );
    assert.strictEqual(tf.memory().numTensors, before, 'no tensors left behind by the failed step');
    const f = readSafetensors(ckpt);
    assert.strictEqual(f.metadata.epoch, '2');
    assert.ok(Array.from(f.tensors.get('variable.0')!.data).every(Number.isFinite));
    assert.deepStrictEqual(fs.readdirSync(dir), [CHECKPOINT_FILE]);

    // Without a checkpoint folder the message says so.
    const m2 = new FakeMethod(CLASSES, 6);
    m2.poisonAfter = 0;
    assert.throws(() => trainPrompt({ method: m2, train: set, config: config({}) }), /epoch 1\/4, step 1\/3; no checkpoint folder/);
    tf.dispose([set.features]);
    m.dispose();
    m2.dispose();
  });

  it('no tensor growth across training runs (features, test transform, augmentation, encodeImages) and an evaluation', () => {
    const m = new FakeMethod(CLASSES, 8);
    const feats = featureSet(9, 1);
    const imgs = imageSet(9, 2);
    const encode = (pixels: tf.Tensor4D) => l2normalize(tf.matMul(tf.reshape(pixels, [pixels.shape[0], -1]), m.proj)) as tf.Tensor2D;
    const vars = Object.keys(tf.engine().registeredVariables).length;
    const count = () => tf.memory().numTensors;
    const before = count();
    trainPrompt({ method: m, train: feats, config: config({ epochs: 2 }) });
    trainPrompt({ method: m, train: imgs, config: config({ epochs: 2 }), imageSize: SIZE });
    trainPrompt({ method: m, train: imgs, config: config({ epochs: 2, augment: OFFICIAL_AUGMENT }), imageSize: SIZE });
    trainPrompt({ method: m, train: imgs, config: config({ epochs: 2, augment: OFFICIAL_AUGMENT }), imageSize: SIZE, encodeImages: encode });
    const ev = evaluatePrompt({ method: m, data: imgs, imageSize: SIZE, batchSize: 4 });
    evaluatePrompt({ method: m, data: feats });
    assert.strictEqual(ev.predictions.length, 9);
    assert.strictEqual(count(), before, 'tensors');
    assert.strictEqual(Object.keys(tf.engine().registeredVariables).length, vars, 'variables (optimiser buffers disposed)');
    m.dispose();
    feats.features.dispose();
  });
});

describe('trainPrompt with the real CoOp on a tiny random CLIP', () => {
  const tok = ClipTokenizer.fromMerges('#version: 0.2\nr e\nre d</w>\ng r\ngr e\ngre en</w>\nb l\nbl u\nblu e</w>\n');
  const cfg: ClipConfig = {
    embedDim: 16, imageResolution: 16, visionLayers: 1, visionWidth: 32, visionPatchSize: 8, visionHeads: 2,
    contextLength: 12, vocabSize: tok.vocabSize, transformerWidth: 32, transformerHeads: 2, transformerLayers: 1,
    textAct: 'quick_gelu', visionAct: 'quick_gelu', layerNormEps: 1e-5,
  };

  it('trains only ctx (the CLIP state dict and every other variable unchanged), the loss falls, no tensor growth', () => {
    const clip = new ClipModel(cfg, randomStateDict(cfg, 21));
    const coop = new CoOp(clip, tok, CLASSES, { nCtx: 4, seed: 3 });
    const set = imageSet(12, 70);
    const sdBefore = new Map([...clip.stateDict()].map(([k, t]) => [k, Float32Array.from(t.data)]));
    const others = Object.values(tf.engine().registeredVariables).filter((v) => v !== coop.ctx);
    const othersBefore = others.map(snapshot);
    const ctx0 = snapshot(coop.ctx);
    const tensors = tf.memory().numTensors;
    const vars = Object.keys(tf.engine().registeredVariables).length;

    const { history } = trainPrompt({
      method: coop, train: set, config: config({ epochs: 6, batchSize: 6, lr: 0.002, augment: OFFICIAL_AUGMENT }), imageSize: cfg.imageResolution,
    });
    const ev = evaluatePrompt({ method: coop, data: set, imageSize: cfg.imageResolution });

    assert.strictEqual(history.length, 6);
    assert.ok(history.every((h) => Number.isFinite(h.loss)));
    const early = history[0].loss + history[1].loss;
    const late = history[4].loss + history[5].loss;
    assert.ok(late < 0.5 * early, `training loss ${history.map((h) => h.loss.toFixed(3)).join(' ')}`);
    // the evaluation's predictions are the argmax of the method's logits on the test transform
    const px = tf.tensor4d(Float32Array.from(Array.from({ length: 12 }, (_, i) => Array.from(toClipInput(set.image!(i), { size: cfg.imageResolution }))).flat()), [12, 3, cfg.imageResolution, cfg.imageResolution]);
    const expected = tf.tidy(() => tf.argMax(coop.logits({ pixels: px }), 1).dataSync() as Int32Array);
    px.dispose();
    assert.deepStrictEqual(Array.from(ev.predictions), Array.from(expected));
    assert.strictEqual(ev.accuracy, expected.filter((p, i) => p === set.label(i)).length / 12);
    assert.notDeepStrictEqual(snapshot(coop.ctx), ctx0, 'ctx trained');
    for (const [k, t] of clip.stateDict()) assert.deepStrictEqual(t.data, sdBefore.get(k), `CLIP tensor ${k} changed`);
    others.forEach((v, i) => assert.deepStrictEqual(snapshot(v), othersBefore[i], `variable ${v.name} changed`));
    assert.strictEqual(tf.memory().numTensors, tensors, 'tensors');
    assert.strictEqual(Object.keys(tf.engine().registeredVariables).length, vars, 'variables');
    coop.dispose();
    clip.dispose();
  });

  it('CoCoOp (ctx + meta-net, batch 1, features from encodeImages) resumes bitwise after a stop', () => {
    const clip = new ClipModel(cfg, randomStateDict(cfg, 22));
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-cocoop-'));
    try {
      const set = imageSet(4, 80);
      const train = { ...config({ epochs: 3, batchSize: 1, lr: 0.002, augment: OFFICIAL_AUGMENT }), checkpointEvery: 1 };
      const encodeImages = (px: tf.Tensor4D) => l2normalize(clip.encodeImage(px));
      const run = (dir: string, stopAfterEpochs?: number) => {
        const m = new CoCoOp(clip, tok, CLASSES, { nCtx: 2, ctxInit: '', seed: 4 });
        const r = trainPrompt({ method: m, train: set, config: train, imageSize: cfg.imageResolution, encodeImages, checkpointDir: dir, stopAfterEpochs });
        const values = m.trainableVariables().map(snapshot);
        m.dispose();
        return { r, values };
      };
      const a = run(path.join(tmp, 'a'));
      run(path.join(tmp, 'b'), 1);
      const b = run(path.join(tmp, 'b'));
      assert.strictEqual(b.r.resumedFromEpoch, 1);
      assert.strictEqual(a.values.length, 5);
      assert.deepStrictEqual(b.values, a.values);
      assert.deepStrictEqual(b.r.history.map((h) => h.loss), a.r.history.map((h) => h.loss));
      const f = readSafetensors(path.join(tmp, 'b', CHECKPOINT_FILE));
      assert.deepStrictEqual([...f.tensors.keys()].sort(), [0, 1, 2, 3, 4].flatMap((i) => [`optimizer.momentum.${i}`, `variable.${i}`]).sort());
      assert.strictEqual(f.metadata.method, 'cocoop');
      assert.strictEqual(JSON.parse(f.metadata.config).batchSize, 1);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
      clip.dispose();
    }
  });
});
