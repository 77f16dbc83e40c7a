// Video prompting (src/methods/video) on a tiny random CLIP: the method checks every prompt-learning
// method passes (output shapes, only its own variables train, the loss falls on a fixed batch, no
// tensor growth across a training step and an evaluation), with per-frame features [B, T, E] as the
// input; the two prompt layouts; the classes a step scores; and errors that name the bad input.
import * as assert from 'assert';
import { snapshot } from '../helpers/compare';
import * as tf from '@tensorflow/tfjs';
import { ClipConfig } from '../../src/clip/config';
import { ClipModel } from '../../src/clip/model';
import { randomStateDict } from '../../src/clip/random';
import { ClipTokenizer } from '../../src/clip/tokenizer';
import { layoutPrompt } from '../../src/methods/video/prompts';
import { getVideoPreset, VIDEO_PRESET_NAMES } from '../../src/methods/video/presets';
import { VIDEO_ADAMW, videoLr, videoOptimizer, VideoPrompt, videoTrainStep, type VideoPromptConfig } from '../../src/methods/video/video-prompt';

const CFG: ClipConfig = {
  embedDim: 32, imageResolution: 16, visionLayers: 1, visionWidth: 32, visionPatchSize: 8, visionHeads: 2,
  contextLength: 24, vocabSize: 0, transformerWidth: 32, transformerHeads: 2, transformerLayers: 2,
  textAct: 'quick_gelu', visionAct: 'quick_gelu', layerNormEps: 1e-5,
};
const MERGES = '#version: 0.2\nc i\nci r\ncir c\ncirc l\ncircl e</w>\ns t\nst a\nsta r</w>\nh e\nhe a\nhea r\nhear t</w>\np h\nph o\npho t\nphot o</w>\no f</w>\nX </w>';
const CLASSES = ['circle', 'star', 'heart', 'red_star', 'big circle'];
const B = 6;
const T = 8;
const E = CFG.embedDim;
const LABELS = [0, 1, 2, 3, 4, 0];

interface Setup { clip: ClipModel; tok: ClipTokenizer; frames: tf.Tensor3D }

function setup(): Setup {
  const tok = ClipTokenizer.fromMerges(MERGES);
  const cfg = { ...CFG, vocabSize: tok.vocabSize };
  const clip = new ClipModel(cfg, randomStateDict(cfg, 3));
  const frames = tf.randomNormal([B, T, E], 0, 1, 'float32', 4) as tf.Tensor3D;
  return { clip, tok, frames };
}

const SMALL: Partial<VideoPromptConfig> = { prefix: 4, postfix: 4, tfmHeads: 4, numFrames: T, seed: 1 };
const VARIANTS: [string, Partial<VideoPromptConfig>][] = [
  ['official layout, 1-layer temporal transformer (the README command, scaled down)', { ...SMALL, tfmLayers: 1 }],
  ['official layout, 2 layers, raw dot product', { ...SMALL, tfmLayers: 2, featnorm: false }],
  ['paper layout, 1 layer', { ...SMALL, layout: 'paper', tfmLayers: 1 }],
  ['mean over frames (temporal off)', { ...SMALL, temporal: false }],
];

describe('video prompting: the method checks', () => {
  let s: Setup;
  before(() => { s = setup(); });
  after(() => { s.clip.dispose(); s.frames.dispose(); });

  for (const [name, config] of VARIANTS) {
    describe(name, () => {
      const make = () => new VideoPrompt(s.clip, s.tok, CLASSES, config);

      it('output shapes: logits [B, K] from frames [B, T, E], finite; features [B, E] and [K, E]; prompts [K, L, D]', () => {
        const m = make();
        try {
          const logits = m.logits(s.frames);
          assert.deepStrictEqual(logits.shape, [B, CLASSES.length]);
          assert.ok(logits.dataSync().every(Number.isFinite));
          const sub = m.logits(s.frames, [3, 1]);
          assert.deepStrictEqual(sub.shape, [B, 2]);
          const col = (t: tf.Tensor, j: number) => Array.from(tf.tidy(() => t.slice([0, j], [B, 1]).dataSync()));
          col(sub, 0).forEach((v, i) => assert.ok(Math.abs(v - col(logits, 3)[i]) < 1e-4, 'a subset of classes scores the same'));
          const v = m.videoFeatures(s.frames);
          const t = m.textFeatures();
          const p = m.promptEmbeddings();
          assert.deepStrictEqual([v.shape, t.shape, p.shape], [[B, E], [CLASSES.length, E], [CLASSES.length, CFG.contextLength, CFG.transformerWidth]]);
          m.setClassNames([CLASSES[1], CLASSES[0]]);
          const after = m.logits(s.frames);
          assert.deepStrictEqual(after.shape, [B, 2], 'after setClassNames');
          tf.dispose([logits, sub, v, t, p, after]);
        } finally {
          m.dispose();
        }
      });

      it('only its own variables train: the frozen CLIP is unchanged, its variables all get gradients', () => {
        const m = make();
        const before = snapshot(s.clip);
        const vars = m.trainableVariables();
        const d = CFG.transformerWidth;
        const layers = config.temporal === false ? 0 : config.tfmLayers ?? 1;
        const block = [[E], [E], [E, E], [E], [E, E], [E], [E, E], [E], [E, E], [E], [E], [E], [E, 4 * E], [4 * E], [4 * E, E], [E]];
        const expected = [[CFG.contextLength, d], ...(config.temporal === false ? [] : [[T, E]]), ...Array.from({ length: layers }, () => block).flat()];
        assert.deepStrictEqual(vars.map((x) => x.shape), expected, 'the prompt table, the temporal positions and each block\'s 16 tensors');
        const { value, grads } = tf.variableGrads(() => m.loss(s.frames, LABELS), vars);
        // by official parameter: the key bias's own is zero up to rounding (softmax ignores a shift of all scores); in_proj_bias's is not
        for (const [key, g] of m.gradientStateDict(grads)) assert.ok(g.data.some((x) => x !== 0), `${key} [${g.shape}] got no gradient`);
        const opt = videoOptimizer(m);
        opt.apply(vars.map((x) => grads[x.name]), 0.1);
        for (const [k, t] of snapshot(s.clip)) assert.deepStrictEqual(t, before.get(k), `CLIP weight ${k} changed`);
        assert.strictEqual(s.clip.trainableVariables().length, 0, 'the backbone is frozen');
        tf.dispose([value, ...Object.values(grads)]);
        opt.dispose();
        m.dispose();
      });

      it('the loss falls on a fixed batch (AdamW, the official optimiser)', () => {
        const m = make();
        const opt = videoOptimizer(m);
        const losses: number[] = [];
        for (let i = 0; i < 15; i++) losses.push(videoTrainStep(m, opt, s.frames, LABELS, 1e-2).loss);
        assert.ok(losses[losses.length - 1] < 0.8 * losses[0], `loss ${losses[0].toFixed(3)} -> ${losses[losses.length - 1].toFixed(3)}`);
        opt.dispose();
        m.dispose();
      });

      it('no tensor growth across a training step and an evaluation', () => {
        const m = make();
        const opt = videoOptimizer(m);
        const step = () => {
          videoTrainStep(m, opt, s.frames, LABELS, 1e-3);
          tf.tidy(() => { m.logits(s.frames).dataSync(); });
        };
        step();
        const n = tf.memory().numTensors;
        step();
        step();
        assert.strictEqual(tf.memory().numTensors, n);
        opt.dispose();
        m.dispose();
      });

      it('construction, new class names and dispose() leave no tensor behind', () => {
        const n = tf.memory().numTensors;
        const m = make();
        m.setClassNames([CLASSES[2], CLASSES[0]]);
        m.dispose();
        assert.strictEqual(tf.memory().numTensors, n);
      });
    });
  }
});

describe('video prompting: behaviour', () => {
  let s: Setup;
  before(() => { s = setup(); });
  after(() => { s.clip.dispose(); s.frames.dispose(); });

  it('prompt layouts: the official table is indexed by position (postfix rows depend on the name\'s length), the paper\'s by role', () => {
    // [SOT, n name tokens, EOT, 0...] for n = 1 and n = 3, context 12, prefix 2, postfix 3
    const plain = (n: number) => Int32Array.from({ length: 12 }, (_, j) => (j === 0 ? 98 : j <= n ? 10 + j : j === n + 1 ? 99 : 0));
    const rowsOf = (p: ReturnType<typeof layoutPrompt>) => Array.from(p.tableRow);
    const short = layoutPrompt(plain(1), 2, 3, 'official');
    const long = layoutPrompt(plain(3), 2, 3, 'official');
    assert.deepStrictEqual(Array.from(short.ids), [98, 0, 0, 11, 0, 0, 0, 99, 0, 0, 0, 0]);
    assert.deepStrictEqual([short.eot, long.eot], [7, 9]);
    assert.deepStrictEqual(rowsOf(short), [-1, 1, 2, -1, 4, 5, 6, -1, 8, 9, 10, 11], 'postfix = rows 4..6 for a 1-token name');
    assert.deepStrictEqual(rowsOf(long), [-1, 1, 2, -1, -1, -1, 6, 7, 8, -1, 10, 11], 'postfix = rows 6..8 for a 3-token name');
    const paperShort = layoutPrompt(plain(1), 2, 3, 'paper');
    const paperLong = layoutPrompt(plain(3), 2, 3, 'paper');
    assert.deepStrictEqual(rowsOf(paperShort), [-1, 1, 2, -1, 3, 4, 5, -1, -1, -1, -1, -1]);
    assert.deepStrictEqual(rowsOf(paperLong), [-1, 1, 2, -1, -1, -1, 3, 4, 5, -1, -1, -1], 'the same postfix rows 3..5 for every name');
    assert.throws(() => layoutPrompt(plain(3), 4, 4, 'official', 'long name'), /video prompt for "long name": 4 prefix \+ 3 name tokens \+ 4 postfix vectors \+ SOT and EOT need 13 positions, the context length is 12/);
  });

  it('the spliced prompts hold the name\'s token embeddings at their positions and the table elsewhere; the EOT is the ids\' argmax', () => {
    const m = new VideoPrompt(s.clip, s.tok, CLASSES, SMALL);
    try {
      const plain = s.tok.tokenize(CLASSES, { contextLength: CFG.contextLength });
      const { ids, eot } = m.promptTokens();
      const emb = m.promptEmbeddings();
      const tokens = s.clip.tokenEmbeddings({ ids, shape: [CLASSES.length, CFG.contextLength] });
      const e = emb.arraySync() as number[][][];
      const t = tokens.arraySync() as number[][][];
      const table = m.embedding.arraySync() as number[][];
      CLASSES.forEach((_, k) => {
        const n = plain.eotIndex[k] - 1;
        assert.strictEqual(eot[k], 4 + n + 1 + 4, `${CLASSES[k]}: EOT after prefix, ${n} tokens and postfix`);
        for (let pos = 0; pos < CFG.contextLength; pos++) {
          const isToken = pos === 0 || (pos > 4 && pos <= 4 + n) || pos === eot[k];
          assert.deepStrictEqual(e[k][pos], isToken ? t[k][pos] : table[pos], `${CLASSES[k]}, position ${pos}`);
        }
      });
      tf.dispose([emb, tokens]);
    } finally {
      m.dispose();
    }
  });

  it('time order: the temporal transformer tells a clip from its time reversal, the mean over frames cannot', () => {
    const reversed = tf.reverse(s.frames, 1) as tf.Tensor3D;
    for (const [temporal, differs] of [[true, true], [false, false]] as const) {
      const m = new VideoPrompt(s.clip, s.tok, CLASSES, { ...SMALL, temporal });
      const gap = tf.tidy(() => tf.max(tf.abs(tf.sub(m.videoFeatures(s.frames), m.videoFeatures(reversed)))).dataSync()[0]);
      assert.strictEqual(gap > 1e-5, differs, `temporal ${temporal}: the features of the reversed clip differ by ${gap}`);
      m.dispose();
    }
    reversed.dispose();
  });

  it('mean over frames is the plain mean, for any number of frames', () => {
    const m = new VideoPrompt(s.clip, s.tok, CLASSES, { ...SMALL, temporal: false });
    const three = tf.tidy(() => s.frames.slice([0, 0, 0], [B, 3, E])) as tf.Tensor3D;
    const gap = tf.tidy(() => tf.max(tf.abs(tf.sub(m.videoFeatures(three), tf.mean(three, 1)))).dataSync()[0]);
    assert.strictEqual(gap, 0);
    tf.dispose(three);
    m.dispose();
  });

  it('the classes a step scores: the batch\'s, sorted by name, then seeded random negatives up to numContrast', () => {
    const make = () => new VideoPrompt(s.clip, s.tok, CLASSES, { ...SMALL, temporal: false, numContrast: 3 });
    const [a, b] = [make(), make()];
    try {
      const labels = [1, 3, 1];                                    // star, red_star
      const draws = [0, 1, 2, 3].map(() => a.sampleClasses(labels));
      for (const d of draws) {
        assert.deepStrictEqual(d.classes.slice(0, 2), [3, 1], '"red_star" < "star"');
        assert.strictEqual(d.classes.length, 3);
        assert.ok(![1, 3].includes(d.classes[2]), 'a negative is another class');
        assert.deepStrictEqual(d.targets, [1, 0, 1]);
      }
      assert.deepStrictEqual(draws.map((d) => d.classes), [0, 1, 2, 3].map(() => b.sampleClasses(labels).classes), 'the same seed, the same draws');
      assert.deepStrictEqual(a.sampleClasses([0, 1, 2, 3, 4]).classes.length, 5, 'never fewer than the batch\'s own classes');
      const all = new VideoPrompt(s.clip, s.tok, CLASSES, { ...SMALL, temporal: false });
      assert.deepStrictEqual([...all.sampleClasses([2]).classes].sort(), [0, 1, 2, 3, 4], 'numContrast 400: every class');
      all.dispose();
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('the state dict has the official names and loads back to the same model', () => {
    const m = new VideoPrompt(s.clip, s.tok, CLASSES, { ...SMALL, tfmLayers: 1 });
    const sd = m.stateDict();
    assert.deepStrictEqual([...sd.keys()].sort(), [
      'embedding.weight', 'temporalEmbedding.weight',
      ...['attn.in_proj_bias', 'attn.in_proj_weight', 'attn.out_proj.bias', 'attn.out_proj.weight', 'ln_1.bias', 'ln_1.weight', 'ln_2.bias', 'ln_2.weight', 'mlp.c_fc.bias', 'mlp.c_fc.weight', 'mlp.c_proj.bias', 'mlp.c_proj.weight'].map((k) => `temporalModelling.resblocks.0.${k}`),
    ].sort());
    assert.deepStrictEqual(sd.get('temporalModelling.resblocks.0.attn.in_proj_weight')?.shape, [3 * E, E]);
    const again = new VideoPrompt(s.clip, s.tok, CLASSES, { ...SMALL, tfmLayers: 1 }, { weights: sd });
    const gap = tf.tidy(() => tf.max(tf.abs(tf.sub(m.logits(s.frames), again.logits(s.frames)))).dataSync()[0]);
    assert.strictEqual(gap, 0);
    const std = (key: string) => { const d = sd.get(key)!.data; return Math.sqrt(d.reduce((t, v) => t + v * v, 0) / d.length); };
    assert.ok(Math.abs(std('embedding.weight') - 0.01) < 0.002, `N(0, 0.01) prompt table, std ${std('embedding.weight')}`);
    m.dispose();
    again.dispose();
  });

  it('bad input: an error that names the input and what would be valid', () => {
    const m = new VideoPrompt(s.clip, s.tok, CLASSES, SMALL);
    const n = tf.memory().numTensors;
    try {
      const flat = tf.zeros([B, E]) as tf.Tensor as tf.Tensor3D;
      const short = tf.zeros([B, 4, E]) as tf.Tensor3D;
      const wide = tf.zeros([B, T, E + 1]) as tf.Tensor3D;
      assert.throws(() => m.logits(flat), /frames must be per-frame features \[B, T, 32\], got \[6, 32\]/);
      assert.throws(() => m.logits(short), /frames have T = 4 frames, the temporal positions were learned for numFrames = 8 \(valid: \[B, 8, 32\]\)/);
      assert.throws(() => m.videoFeatures(wide), /frames have 33 features per frame, the model's image features have 32/);
      assert.throws(() => m.loss(s.frames, [0, 7, 1, 2, 3, 4]), /labels\[1\] = 7 is not a class index \(valid: 0\.\.4: circle, star, heart, red_star, big circle\)/);
      assert.throws(() => m.loss(s.frames, [0, 1]), /2 labels for 6 videos/);
      assert.throws(() => m.logits(s.frames, [0, 5]), /classes\[1\] = 5 is not a class index \(valid: 0\.\.4, for 5 classes\)/);
      assert.throws(() => m.loss(s.frames, LABELS, [0, 1]), /labels\[2\] = 2 \("heart"\) is not among the scored classes \[0, 1\]/);
      assert.throws(() => m.classIndices(['star', 'square']), /unknown class "square" \(valid: circle, star, heart, red_star, big circle\)/);
      tf.dispose([flat, short, wide]);
      assert.strictEqual(tf.memory().numTensors, n, 'a refused call leaves nothing behind');
    } finally {
      m.dispose();
    }
    const before = tf.memory().numTensors;
    assert.throws(() => new VideoPrompt(s.clip, s.tok, CLASSES, { prefix: 16, postfix: 16 }), /video prompt for "circle": 16 prefix \+ 1 name tokens \+ 16 postfix vectors \+ SOT and EOT need 35 positions, the context length is 24/);
    assert.throws(() => new VideoPrompt(s.clip, s.tok, CLASSES, { ...SMALL, tfmHeads: 5 }), /width 32 is not divisible into 5 heads/);
    assert.throws(() => new VideoPrompt(s.clip, s.tok, ['star', 'star'], SMALL), /the class name "star" appears twice/);
    assert.throws(() => new VideoPrompt(s.clip, s.tok, CLASSES, { ...SMALL, layout: 'middle' as never }), /unknown layout "middle" \(valid: official, paper\)/);
    assert.strictEqual(tf.memory().numTensors, before, 'a refused construction leaves nothing behind');
  });

  it('the official optimiser, schedule and presets', () => {
    assert.deepStrictEqual(VIDEO_ADAMW, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
    assert.strictEqual(videoLr(0, 1e-4), 1e-4);
    assert.strictEqual(videoLr(1, 1e-4), 1e-4);
    assert.ok(Math.abs(videoLr(1100, 1e-4) / 1e-4 - 1) < 1e-4, 'effectively constant over 1100 iterations');
    assert.ok(Math.abs(videoLr(100001, 1e-3) - (1e-3 + 1e-5) / 2) < 1e-12, 'half-way between lr and eta_min at T_0 / 2');
    assert.strictEqual(videoLr(200001, 1e-3), 1e-3, 'a warm restart at T_0');
    assert.deepStrictEqual([...VIDEO_PRESET_NAMES], ['hmdb51', 'code_defaults', 'world']);
    const p = getVideoPreset('hmdb51');
    assert.deepStrictEqual(
      { prefix: p.config.prefix, postfix: p.config.postfix, layers: p.config.tfmLayers, heads: p.config.tfmHeads, temporal: p.config.temporal, featnorm: p.config.featnorm, frames: p.config.numFrames, contrast: p.config.numContrast, batch: p.optim.batchSize, lr: p.optim.lr, iterations: p.optim.iterations, save: p.optim.saveIterations, wd: p.optim.weightDecay },
      { prefix: 16, postfix: 16, layers: 1, heads: 8, temporal: true, featnorm: true, frames: 16, contrast: 400, batch: 64, lr: 1e-4, iterations: 1100, save: 55, wd: 0.01 },
    );
    assert.throws(() => getVideoPreset('ucf101'), /unknown video preset "ucf101" \(valid: hmdb51, code_defaults, world\)/);
  });
});
