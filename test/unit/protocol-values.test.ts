// The experiments' numbers checked against the same numbers computed here by hand, step by step
// from the library's lower levels: zero-shot with a template ensemble, and every row of a few-shot
// run (zero-shot, CoOp's linear probe on raw features, CoOp trained on augmented views).
import * as assert from 'assert';
import * as tf from '@tensorflow/tfjs';
import type { ClassificationDataset } from '../../src/data/dataset';
import { fillTemplate } from '../../src/data/dataset';
import { sampleFewShot } from '../../src/data/protocols';
import { getWorldDataset } from '../../src/data/world-benchmarks';
import { encodeImages, zeroshotWeights } from '../../src/eval/features';
import { linearProbe } from '../../src/eval/linear-probe';
import { CoOp } from '../../src/methods/coop';
import { l2normalize } from '../../src/methods/method';
import { loadMiniClip } from '../../src/miniclip';
import { runFewshot } from '../../src/repro/fewshot';
import { runZeroshot } from '../../src/repro/zeroshot';
import { evaluatePrompt, OFFICIAL_AUGMENT, trainPrompt } from '../../src/train/trainer';

describe('experiment values, recomputed by hand', () => {
  const { model, tokenizer } = loadMiniClip();
  after(() => model.dispose());

  function testFeatures(ds: ClassificationDataset, normalize = true) {
    const items = ds.split('test');
    return encodeImages(model, items.length, (i) => ds.image(items[i], 'test'), (i) => items[i].label, { normalize });
  }

  function accuracy(features: tf.Tensor2D, weights: tf.Tensor2D, labels: Int32Array): number {
    const pred = tf.tidy(() => tf.argMax(tf.matMul(features, weights, false, true), 1).dataSync());
    return (100 * labels.filter((y, i) => pred[i] === y).length) / labels.length;
  }

  it('zero-shot ensemble: every template\'s normalised text features averaged, normalised again', function () {
    this.timeout(60000);
    const ds = getWorldDataset('world-positions', { quick: true }) as ClassificationDataset;
    assert.ok(ds.templates.length > 2, 'an ensemble of several templates');
    const rows = runZeroshot(model, tokenizer, { quick: true, datasets: ['world-positions'] });
    const test = testFeatures(ds);
    const perTemplate = ds.templates.map((t) => tf.tidy(() => {
      const batch = tokenizer.tokenize(ds.classNames.map((c) => fillTemplate(t, c)), { contextLength: model.config.contextLength });
      return l2normalize(model.encodeText(batch));
    }));
    const mean = tf.tidy(() => l2normalize(tf.mean(tf.stack(perTemplate), 0)) as tf.Tensor2D);
    const library = zeroshotWeights(model, tokenizer, ds.classNames, ds.templates);
    try {
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(library, mean))).dataSync()[0]);
      assert.ok(diff < 1e-6, `zeroshotWeights vs by hand: ${diff}`);
      const single = accuracy(test.features, perTemplate[0] as tf.Tensor2D, test.labels);
      const ensemble = accuracy(test.features, mean, test.labels);
      assert.notStrictEqual(single, ensemble, 'this benchmark tells the ensemble from its first template');
      const value = (m: string) => rows.find((r) => r.method === m)!.value;
      assert.strictEqual(value('zeroshot'), single);
      assert.strictEqual(value('zeroshot-ensemble'), ensemble);
    } finally {
      tf.dispose([...perTemplate, mean, library, test.features]);
    }
  });

  it('few-shot: zero-shot, CoOp\'s linear probe on raw features, CoOp on augmented views, each as computed by hand', function () {
    this.timeout(240000);
    const name = 'world-patterns';
    const [seed, k] = [2, 2];
    const ds = getWorldDataset(name, { quick: true }) as ClassificationDataset;
    const before = tf.memory().numTensors;
    const rows = runFewshot(model, tokenizer, { quick: true, seeds: [seed], datasets: [name], shots: [k] });
    assert.strictEqual(tf.memory().numTensors, before, 'no tensor left behind');
    const value = (m: string, metric: string) => rows.find((r) => r.method === m && r.metric === metric)!.value;

    const test = testFeatures(ds);
    const raw = testFeatures(ds, false);
    const fs = sampleFewShot(ds, k, seed);
    const enc = (items: typeof fs.train, split: 'train' | 'val') => encodeImages(model, items.length, (i) => ds.image(items[i], split), (i) => items[i].label, { normalize: false });
    const [train, val] = [enc(fs.train, 'train'), enc(fs.val, 'val')];
    const w = zeroshotWeights(model, tokenizer, ds.classNames, [ds.template]);
    const coop = new CoOp(model, tokenizer, ds.classNames, { nCtx: 16, seed });
    try {
      assert.strictEqual(value('zeroshot', 'accuracy@0'), accuracy(test.features, w, test.labels));
      const probe = linearProbe(train, val, raw);
      assert.strictEqual(value('linear-probe', `accuracy@${k}`), 100 * probe.testAccuracy);
      assert.notStrictEqual(probe.testAccuracy, probe.valAccuracy, 'val and test tell apart here');
      // CoOp: the ep100 world preset (25 epochs; a fifth in a quick run) on fresh crops and flips
      const images = fs.train.map((it) => ds.image(it, 'train'));
      trainPrompt({
        method: coop,
        train: { count: images.length, label: (i) => fs.train[i].label, image: (i) => images[i] },
        config: { epochs: 5, batchSize: 32, lr: 0.002, momentum: 0.9, weightDecay: 5e-4, warmupEpochs: 1, warmupLr: 1e-5, augment: OFFICIAL_AUGMENT, seed },
        imageSize: 64,
        encodeImages: (px) => l2normalize(model.encodeImage(px)),
      });
      const acc = 100 * evaluatePrompt({ method: coop, data: { count: test.labels.length, label: (i) => test.labels[i], features: test.features } }).accuracy;
      assert.strictEqual(value('coop', `accuracy@${k}`), acc);
    } finally {
      coop.dispose();
      tf.dispose([test.features, raw.features, train.features, val.features, w]);
    }
  });

  it('few-shot with --cached-features: CoOp on the test transform\'s normalised features, computed once', function () {
    this.timeout(120000);
    const name = 'world-shapes';
    const [seed, k] = [1, 1];
    const ds = getWorldDataset(name, { quick: true }) as ClassificationDataset;
    const rows = runFewshot(model, tokenizer, { quick: true, seeds: [seed], datasets: [name], shots: [k], cachedFeatures: true });
    const fs = sampleFewShot(ds, k, seed);
    const train = encodeImages(model, fs.train.length, (i) => ds.image(fs.train[i], 'train'), (i) => fs.train[i].label);
    const test = testFeatures(ds);
    const coop = new CoOp(model, tokenizer, ds.classNames, { nCtx: 16, seed });
    try {
      // the ep50 world preset: 13 epochs, a fifth of them in a quick run
      trainPrompt({ method: coop, train: { count: fs.train.length, label: (i) => train.labels[i], features: train.features }, config: { epochs: 3, batchSize: 32, lr: 0.002, momentum: 0.9, weightDecay: 5e-4, warmupEpochs: 1, warmupLr: 1e-5, augment: null, seed } });
      const acc = 100 * evaluatePrompt({ method: coop, data: { count: test.labels.length, label: (i) => test.labels[i], features: test.features } }).accuracy;
      assert.strictEqual(rows.find((r) => r.method === 'coop')!.value, acc);
    } finally {
      coop.dispose();
      tf.dispose([train.features, test.features]);
    }
  });
});
