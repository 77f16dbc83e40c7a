// Presets that mean what they say (src/repro/setup.ts reads every field), the per-dataset training
// transforms, and the prompt text shared by zero-shot CLIP and CoOp/CoCoOp.
import * as assert from 'assert';
import * as tf from '@tensorflow/tfjs';
import { fillTemplate } from '../../src/data/dataset';
import { WORLD_CLASSIFICATION } from '../../src/data/world-benchmarks';
import { zeroshotWeights } from '../../src/eval/features';
import { CoCoOp } from '../../src/methods/cocoop';
import { CoOp } from '../../src/methods/coop';
import { l2normalize } from '../../src/methods/method';
import { getPreset, inputFor, LABEL_CHANGING_TRANSFORMS, PRESET_NAMES, type MethodPreset } from '../../src/methods/presets';
import { loadMiniClip } from '../../src/miniclip';
import { CompositionalPrompt } from '../../src/methods/csp';
import { buildCompositional, buildMethod, checkPreset, describePreset, describeTraining, trainingSetup } from '../../src/repro/setup';

type Leaf = { path: string[]; value: unknown };

function leaves(obj: Record<string, unknown>, prefix: string[] = []): Leaf[] {
  return Object.entries(obj).flatMap(([k, v]) => (v !== null && typeof v === 'object' && !Array.isArray(v)
    ? leaves(v as Record<string, unknown>, [...prefix, k])
    : [{ path: [...prefix, k], value: v }]));
}

function withValue(p: MethodPreset, path: string[], value: unknown): MethodPreset {
  const copy = JSON.parse(JSON.stringify(p)) as Record<string, unknown>;
  let o = copy;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>;
  o[path[path.length - 1]] = value;
  return copy as unknown as MethodPreset;
}

/** Another value of the same kind. */
function perturbed(path: string[], value: unknown): unknown {
  const key = path[path.length - 1];
  if (key === 'classTokenPosition') return value === 'end' ? 'middle' : 'end';
  if (key === 'ctxInit') return value === '' ? 'a photo of a' : 'a picture of one';
  if (typeof value === 'number') return Number.isInteger(value) ? value + 1 : value * 1.5;
  if (typeof value === 'boolean') return !value;
  if (typeof value === 'string') return `${value}-other`;
  if (Array.isArray(value)) return typeof value[0] === 'number' ? value.map((v: number) => v / 2) : value.slice(1);
  throw new Error(`no perturbation for ${path.join('.')}`);
}

/** Fields that describe a preset rather than configure the run: recorded with every run instead. */
const DESCRIPTIVE = ['name', 'backbone', 'source', 'method'];

describe('presets mean what they say', () => {
  const { model, tokenizer } = loadMiniClip();
  const names = ['circle', 'red_star', 'big heart'];
  const features = tf.tidy(() => l2normalize(tf.tensor2d(Array.from({ length: 2 * model.config.embedDim }, (_, i) => Math.sin(i + 1)), [2, model.config.embedDim])));
  after(() => {
    features.dispose();
    model.dispose();
  });

  /** What a preset decides: the trainer's config, image size, evaluation batch, and the method it builds. */
  function signature(p: MethodPreset, resolution: number): string {
    const setup = trainingSetup(p, { dataset: 'world-shapes', seed: 1, imageResolution: resolution, cachedFeatures: false });
    const compositional = p.method === 'csp' || p.method === 'czsl-coop';
    const m = compositional ? buildCompositional(p, model, tokenizer, ['red', 'big'], ['circle', 'star'], [[0, 0], [1, 1], [0, 1]], 1) : buildMethod(p, model, tokenizer, names, 1);
    if (m instanceof CompositionalPrompt) m.training = true; // CSP's dropout acts in training only
    try {
      const logits = tf.tidy(() => Array.from(m.logits({ features }).dataSync()).map((v) => v.toFixed(5)));
      const prompts = m instanceof CompositionalPrompt ? tf.tidy(() => m.tokenTensors().shape) : null;
      return JSON.stringify({ setup, kind: m.name, shapes: m.trainableVariables().map((v) => v.shape), logits, prompts });
    } finally {
      m.dispose();
    }
  }

  for (const name of PRESET_NAMES) {
    it(`${name}: changing any field changes the run or is refused; descriptive fields are recorded`, function () {
      this.timeout(60000);
      const p = getPreset(name);
      const resolution = p.input.size;
      const base = signature(p, resolution);
      const recorded = JSON.stringify(describePreset(p));
      for (const { path, value } of leaves(p as unknown as Record<string, unknown>)) {
        if (DESCRIPTIVE.includes(path[0])) {
          if (path[0] !== 'method') assert.ok(recorded.includes(JSON.stringify(value)), `${path.join('.')} is recorded`);
          continue;
        }
        const q = withValue(p, path, perturbed(path, value));
        let changed: string;
        try {
          changed = signature(q, resolution) === base ? 'unchanged' : 'changed';
        } catch (e) {
          changed = `refused: ${(e as Error).message}`;
        }
        assert.notStrictEqual(changed, 'unchanged', `${name}: ${path.join('.')} = ${JSON.stringify(value)} -> ${JSON.stringify(perturbed(path, value))} changed nothing`);
      }
    });
  }

  it('refuses what the trainer does not implement and fields that contradict each other', () => {
    const p = getPreset('world_coop_ctx4_init');
    assert.throws(() => checkPreset(withValue(p, ['optim', 'name'], 'rmsprop')), /optimiser "rmsprop" is not implemented \(valid: sgd, adam\)/);
    assert.throws(() => checkPreset(withValue(p, ['optim', 'name'], 'adam')), /scheduler "cosine" is not implemented with Adam/);
    assert.throws(() => checkPreset(withValue(getPreset('world_csp'), ['optim', 'gradAccumulation'], 0)), /gradAccumulation must be a positive integer/);
    assert.throws(() => checkPreset(withValue(p, ['input', 'augment'], ['random_flip'])), /cropScale is only read with random_resized_crop/);
    assert.throws(() => checkPreset(withValue(p, ['config', 'nCtx'], 16)), /nCtx 16 with ctxInit "a photo of a": the official code sets n_ctx to its 4 words/);
    assert.throws(() => checkPreset(withValue(p, ['config', 'csc'], true)), /ignores csc when the context starts from words/);
    assert.throws(() => trainingSetup(getPreset('vit_b16'), { dataset: 'world-shapes', seed: 1, imageResolution: 64, cachedFeatures: false }), /preset vit_b16 trains at 224 px, but the model takes 64 px/);
  });

  it('reads the training transforms per dataset: none that change world-positions\' labels; none with cached features', () => {
    const p = getPreset('world_coop_ctx16');
    const at = (dataset: string, cachedFeatures = false) => trainingSetup(p, { dataset, seed: 1, imageResolution: 64, cachedFeatures }).train.augment;
    assert.deepStrictEqual(at('world-shapes'), { crop: [0.08, 1], flip: true });
    assert.strictEqual(at('world-positions'), null);
    assert.strictEqual(at('world-shapes', true), null);
    assert.deepStrictEqual(inputFor(p, 'world-positions').augment, []);
    assert.deepStrictEqual(p.input.augment, ['random_resized_crop', 'random_flip'], 'the preset itself unchanged');
    const noCrop = withValue(withValue(p, ['input', 'augment'], ['random_flip']), ['input', 'cropScale'], undefined);
    assert.deepStrictEqual(trainingSetup(noCrop, { dataset: 'world-shapes', seed: 1, imageResolution: 64, cachedFeatures: false }).train.augment, { crop: null, flip: true });
    for (const d of Object.keys(LABEL_CHANGING_TRANSFORMS)) assert.ok((WORLD_CLASSIFICATION as readonly string[]).includes(d), d);
    const described = describeTraining(p, ['world-shapes', 'world-positions'], false);
    assert.strictEqual(described.cachedFeatures, false);
    assert.deepStrictEqual(described.augmentation, {
      'world-shapes': 'random_resized_crop (scale 0.08-1) + random_flip',
      'world-positions': 'none (the test transform); random_resized_crop and random_flip left out: its classes are positions: a flip swaps left and right, a crop moves the shape to another cell',
    });
    assert.strictEqual(describeTraining(p, ['world-shapes'], true).augmentation, 'none (cached features)');
  });
});

describe('one prompt text for a class everywhere', () => {
  const { model, tokenizer } = loadMiniClip();
  after(() => model.dispose());

  it('fills a template as the official code does: "_" as spaces, nothing else rewritten', () => {
    assert.strictEqual(fillTemplate('a photo of a {}.', 'golden_retriever'), 'a photo of a golden retriever.');
    assert.strictEqual(fillTemplate('a photo of a {}.', 'orange circle'), 'a photo of a orange circle.');
    assert.strictEqual(fillTemplate('{} texture.', 'a_b_c'), 'a b c texture.');
    assert.throws(() => fillTemplate('a photo.', 'x'), /must hold exactly one \{\} for the class name \(it has 0\)/);
    assert.throws(() => fillTemplate('{} and {}', 'x'), /\(it has 2\)/);
  });

  it('at initialisation, CoOp and CoCoOp from "a photo of a" give zero-shot CLIP\'s logits with "a photo of a {}."', () => {
    const names = ['orange circle', 'golden_retriever', 'striped star', 'arrow'];
    const f = tf.tidy(() => l2normalize(tf.tensor2d(Array.from({ length: 3 * model.config.embedDim }, (_, i) => Math.cos(0.7 * i)), [3, model.config.embedDim])));
    const w = zeroshotWeights(model, tokenizer, names, ['a photo of a {}.']);
    const zs = tf.tidy(() => tf.mul(tf.matMul(f, w, false, true), Math.exp(model.logitScale)));
    const coop = new CoOp(model, tokenizer, names, { ctxInit: 'a photo of a' });
    const cocoop = new CoCoOp(model, tokenizer, names, { ctxInit: 'a photo of a' });
    try {
      const a = coop.logits({ features: f });
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, zs))).dataSync()[0]);
      assert.ok(diff < 1e-4, `CoOp vs zero-shot logits: max |diff| ${diff}`);
      // CoCoOp adds its meta-net's bias, small but not zero at initialisation: the text is the same
      assert.deepStrictEqual(Array.from(cocoop.tokenizedPrompts.ids), Array.from(coop.tokenizedPrompts.ids));
      const ids = tokenizer.tokenize(names.map((n) => fillTemplate('a photo of a {}.', n)), { contextLength: model.config.contextLength }).ids;
      assert.deepStrictEqual(Array.from(coop.tokenizedPrompts.ids), Array.from(ids), 'the same token ids as zero-shot\'s prompts');
      tf.dispose(a);
    } finally {
      coop.dispose();
      cocoop.dispose();
      tf.dispose([f, w, zs]);
    }
  });
});
