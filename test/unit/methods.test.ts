// The same four checks for every prompt-learning method: output shapes, only its own variables
// train, the loss falls on a fixed batch, and no tensor growth across a training step and an
// evaluation. On a tiny random CLIP with a tiny vocabulary, so they run in seconds.
import * as assert from 'assert';
import { snapshot } from '../helpers/compare';
import * as tf from '@tensorflow/tfjs';
import { ClipConfig } from '../../src/clip/config';
import { ClipModel } from '../../src/clip/model';
import { randomStateDict } from '../../src/clip/random';
import { ClipTokenizer } from '../../src/clip/tokenizer';
import { CoOp } from '../../src/methods/coop';
import { CoCoOp } from '../../src/methods/cocoop';
import { CSP } from '../../src/methods/csp';
import { CompositionalCoOp } from '../../src/methods/czsl-coop';
import { crossEntropy, l2normalize, PromptMethod } from '../../src/methods/method';

const CFG: ClipConfig = {
  embedDim: 32, imageResolution: 16, visionLayers: 1, visionWidth: 32, visionPatchSize: 8, visionHeads: 2,
  contextLength: 24, vocabSize: 0, transformerWidth: 32, transformerHeads: 2, transformerLayers: 2,
  textAct: 'quick_gelu', visionAct: 'quick_gelu', layerNormEps: 1e-5,
};
const MERGES = '#version: 0.2\nc i\nci r\ncir c\ncirc l\ncircl e</w>\ns t\nst a\nsta r</w>\nh e\nhe a\nhea r\nhear t</w>\np h\nph o\npho t\nphot o</w>\no f</w>\nX </w>';
const CLASSES = ['circle', 'star', 'heart', 'red_star', 'big circle'];
const ATTRS = ['red', 'big'];
const OBJS = ['circle', 'star', 'heart'];
const PAIRS: [number, number][] = [[0, 0], [0, 1], [1, 1], [1, 2], [0, 2]];

interface Setup { clip: ClipModel; tok: ClipTokenizer; pixels: tf.Tensor4D; labels: number[] }

function setup(): Setup {
  const tok = ClipTokenizer.fromMerges(MERGES);
  const cfg = { ...CFG, vocabSize: tok.vocabSize };
  const clip = new ClipModel(cfg, randomStateDict(cfg, 3));
  const pixels = tf.randomNormal([6, 3, 16, 16], 0, 1, 'float32', 4) as tf.Tensor4D;
  return { clip, tok, pixels, labels: [0, 1, 2, 3, 4, 0] };
}

const METHODS: [string, (s: Setup) => PromptMethod][] = [
  ['CoOp (16 random vectors, end)', (s) => new CoOp(s.clip, s.tok, CLASSES, { nCtx: 16, seed: 1 })],
  ['CoOp (middle)', (s) => new CoOp(s.clip, s.tok, CLASSES, { nCtx: 4, classTokenPosition: 'middle', seed: 1 })],
  ['CoOp (front, class-specific)', (s) => new CoOp(s.clip, s.tok, CLASSES, { nCtx: 4, classTokenPosition: 'front', csc: true, seed: 1 })],
  ['CoOp (from "a photo of")', (s) => new CoOp(s.clip, s.tok, CLASSES, { ctxInit: 'a photo of' })],
  ['CoCoOp (from "a photo of")', (s) => new CoCoOp(s.clip, s.tok, CLASSES, { ctxInit: 'a photo of', seed: 1 })],
  ['CoCoOp (8 random vectors)', (s) => new CoCoOp(s.clip, s.tok, CLASSES, { nCtx: 8, ctxInit: '', seed: 1 })],
  // compositional: 5 (attribute, object) pairs of 2 attributes x 3 objects as the classes
  ['CSP (vocabulary dropout 0.3, training mode)', (s) => Object.assign(new CSP(s.clip, s.tok, ATTRS, OBJS, PAIRS, { attrDropout: 0.3, seed: 2 }), { training: true })],
  ['CSP (CoOp baseline: learned context, frozen vocabulary)', (s) => new CompositionalCoOp(s.clip, s.tok, ATTRS, OBJS, PAIRS)],
];

describe('prompt-learning methods: the same four checks', () => {
  let s: Setup;
  before(() => { s = setup(); });
  after(() => { s.clip.dispose(); s.pixels.dispose(); });

  for (const [name, make] of METHODS) {
    describe(name, () => {
      it('output shapes: logits [B, K] from pixels and from features, finite', () => {
        const m = make(s);
        // a dropout draw per forward would make the two paths differ: compare them deterministically
        if (m instanceof CSP) m.training = false;
        try {
          const a = m.logits({ pixels: s.pixels });
          const f = tf.tidy(() => l2normalize(s.clip.encodeImage(s.pixels)));
          const b = m.logits({ features: f });
          assert.deepStrictEqual(a.shape, [6, CLASSES.length]);
          assert.ok(a.dataSync().every(Number.isFinite));
          assert.ok(Math.max(...Array.from(tf.sub(a, b).abs().dataSync())) < 1e-5);
          if (!name.includes('class-specific')) {
            m.setClassNames([m.classNames[1], m.classNames[0]]);
            const c = m.logits({ features: f });
            assert.deepStrictEqual(c.shape, [6, 2], 'after setClassNames');
            c.dispose();
          }
          tf.dispose([a, b, f]);
        } finally {
          m.dispose();
        }
      });

      it('only its own variables train: the frozen CLIP is unchanged, its variables all get gradients', () => {
        const m = make(s);
        const before = snapshot(s.clip);
        const vars = m.trainableVariables();
        const { value, grads } = tf.variableGrads(() => crossEntropy(m.logits({ pixels: s.pixels }), s.labels), vars);
        for (const v of vars) assert.ok(tf.max(tf.abs(grads[v.name])).dataSync()[0] > 0, `${v.name} got no gradient`);
        const opt = tf.train.sgd(0.1);
        opt.applyGradients(grads);
        for (const [k, t] of snapshot(s.clip)) assert.deepStrictEqual(t, before.get(k), `CLIP weight ${k} changed`);
        assert.strictEqual(s.clip.trainableVariables().length, 0, 'the backbone is frozen');
        tf.dispose([value, ...Object.values(grads)]);
        opt.dispose();
        m.dispose();
      });

      it('the loss falls on a fixed batch', () => {
        const m = make(s);
        const opt = tf.train.adam(0.01);
        const losses: number[] = [];
        for (let i = 0; i < 15; i++) {
          const l = opt.minimize(() => crossEntropy(m.logits({ pixels: s.pixels }), s.labels), true, m.trainableVariables()) as tf.Scalar;
          losses.push(l.dataSync()[0]);
          l.dispose();
        }
        assert.ok(losses[losses.length - 1] < 0.8 * losses[0], `loss ${losses[0].toFixed(3)} -> ${losses[losses.length - 1].toFixed(3)}`);
        opt.dispose();
        m.dispose();
      });

      it('no tensor growth across a training step and an evaluation', () => {
        const m = make(s);
        const opt = tf.train.sgd(0.01);
        const step = () => {
          tf.tidy(() => { opt.minimize(() => crossEntropy(m.logits({ pixels: s.pixels }), s.labels), false, m.trainableVariables()); });
          tf.tidy(() => { m.logits({ pixels: s.pixels }).dataSync(); });
        };
        step(); // the optimiser's slots are created on the first step
        const n = tf.memory().numTensors;
        step();
        step();
        assert.strictEqual(tf.memory().numTensors, n);
        opt.dispose();
        m.dispose();
      });

      it('construction, new class names and dispose() leave no tensor behind', () => {
        const n = tf.memory().numTensors;
        const m = make(s);
        if (!name.includes('class-specific')) m.setClassNames([m.classNames[2], m.classNames[0]]);
        m.dispose();
        assert.strictEqual(tf.memory().numTensors, n);
      });
    });
  }
});

describe('prompt-learning methods: random starts are seeded', () => {
  let s: Setup;
  before(() => { s = setup(); });
  after(() => { s.clip.dispose(); s.pixels.dispose(); });
  const values = (m: PromptMethod) => m.trainableVariables().map((v) => Array.from(v.dataSync()));

  for (const [name, make] of [
    ['CoOp', (seed?: number) => new CoOp(s.clip, s.tok, CLASSES, seed === undefined ? {} : { seed })],
    ['CoCoOp', (seed?: number) => new CoCoOp(s.clip, s.tok, CLASSES, seed === undefined ? { ctxInit: '' } : { ctxInit: '', seed })],
  ] as [string, (seed?: number) => PromptMethod][]) {
    it(`${name}: two default constructions are equal (seed 0 is a seed), other seeds differ`, () => {
      const [a, b, zero, one] = [make(), make(), make(0), make(1)];
      try {
        assert.deepStrictEqual(values(a), values(b));
        assert.deepStrictEqual(values(a), values(zero));
        assert.notDeepStrictEqual(values(a), values(one));
        const ctx = values(a)[0];
        const std = Math.sqrt(ctx.reduce((t, v) => t + v * v, 0) / ctx.length);
        assert.ok(Math.abs(std - 0.02) < 0.004, `N(0, 0.02) context, std ${std}`);
      } finally {
        [a, b, zero, one].forEach((m) => m.dispose());
      }
    });
  }

  it('CoOp from token ids with the class token in the middle or front needs the names\' BPE lengths', () => {
    const ids = s.tok.tokenize(CLASSES.map((c) => `X X X X ${c.replace(/_/g, ' ')}.`), { contextLength: s.clip.config.contextLength });
    for (const pos of ['middle', 'front'] as const) {
      assert.throws(() => new CoOp(s.clip, s.tok, CLASSES, { nCtx: 4, classTokenPosition: pos }, { ids: ids.ids, shape: ids.shape }), /needs each class name's BPE length: pass promptIds.nameLens/);
    }
    const n = tf.memory().numTensors;
    const ok = new CoOp(s.clip, s.tok, CLASSES, { nCtx: 4, classTokenPosition: 'middle' }, { ids: ids.ids, shape: ids.shape, nameLens: CLASSES.map((c) => s.tok.encode(c.replace(/_/g, ' ')).length) });
    ok.dispose();
    assert.strictEqual(tf.memory().numTensors, n, 'a refused construction leaves nothing behind either');
  });
});
