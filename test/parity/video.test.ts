// Video prompting (Ju et al., ECCV 2022) against the official code (PROMPTLAB_VIDEO_DIR, default the
// shared fixtures, else test/fixtures/video-official), through the project's VideoPrompt: the class
// names' token ids, the prompts spliced on the absolute-position table, text and video features,
// logits at the fixed temperature, the loss over the step's classes, and the gradients of the prompt
// table and of every temporal-transformer parameter, with and without the temporal transformer.
// Tolerance of the fixtures' README: max |a - b| <= 1e-4 max |b| per array, 1e-4 on the loss,
// integer arrays exact, an all-zero reference gradient zero within 1e-6.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { fixtureTensor, maxRelativeError, type Golden } from '../helpers/compare';
import { clipVocabFile, videoDir } from '../fixture-dirs';
import { ClipModel } from '../../src/clip/model';
import { readSafetensors, type SafetensorsFile } from '../../src/clip/safetensors';
import { ClipTokenizer } from '../../src/clip/tokenizer';
import type { StateDict } from '../../src/clip/weights';
import { VideoPrompt, type TokenIds } from '../../src/methods/video/video-prompt';

interface CaseSpec {
  name: string; file: string; prefix: number; postfix: number; temporal: number; tfm_layers: number; tfm_heads: number;
  featnorm: number; numContrast: number; num_classes: number; class_list: string[]; dropout: number; grads: string[];
}
interface Spec { classnames: string[]; frames: number; batch: number; width: number; temperature: number; labels: number[]; inputs: string; clip: string; learnable: string; cases: CaseSpec[] }

const { dir, source } = videoDir();
const casesFile = path.join(dir, 'cases.json');
const spec = fs.existsSync(casesFile) ? (JSON.parse(fs.readFileSync(casesFile, 'utf8')) as Spec) : null;
const TOL = 1e-4;

const get = fixtureTensor;
const ints = (g: Golden) => Array.from(g.data, Number);

/** max |out - ref| <= tol * max |ref| (an all-zero reference: max |out| <= 1e-6), shapes equal. */
function close(name: string, out: tf.Tensor | { shape: number[]; data: ArrayLike<number> }, ref: Golden): void {
  const data = out instanceof tf.Tensor ? out.dataSync() : out.data;
  assert.deepStrictEqual(out.shape, ref.shape, `${name}: shape [${out.shape}] vs [${ref.shape}]`);
  const refMax = Math.max(...Array.from(ref.data, Math.abs));
  if (refMax === 0) {
    const outMax = Math.max(...Array.from(data, Math.abs));
    assert.ok(outMax <= 1e-6, `${name}: the reference is all zeros, ours reaches ${outMax.toExponential(3)}`);
    return;
  }
  const e = maxRelativeError(data, ref.data);
  assert.ok(e <= TOL, `${name}: max relative error ${e.toExponential(3)} > ${TOL}`);
}

describe(`video prompting parity with the official code: ${dir} (${source})`, () => {
  if (!spec && source !== 'env') {
    it(`skipped: no video-official fixtures at ${dir} (set PROMPTLAB_VIDEO_DIR to the video-official fixtures)`, function () { this.skip(); });
    return;
  }
  it('the video fixture directory exists and holds cases', () => {
    assert.ok(spec, `${casesFile} is missing (set PROMPTLAB_VIDEO_DIR to the video-official fixtures)`);
    assert.ok(spec.cases.length > 0, `${casesFile} lists no case`);
  });
  if (!spec) return;

  let clip: ClipModel;
  let frames: tf.Tensor3D;
  let labels: number[];
  let learnable: StateDict;
  let tok: ClipTokenizer | null = null;
  let tokens: TokenIds;
  before(() => {
    clip = ClipModel.load(path.join(dir, spec.clip));
    const inputs = readSafetensors(path.join(dir, spec.inputs));
    const f = get(inputs, 'frames');
    frames = tf.tensor3d(Float32Array.from(f.data), f.shape as [number, number, number]);
    labels = ints(get(inputs, 'labels'));
    learnable = readSafetensors(path.join(dir, spec.learnable)).tensors as unknown as StateDict;
    const vocab = clipVocabFile();
    if (vocab) tok = ClipTokenizer.fromMergesFile(vocab);
    // every class name's plain tokenization, gathered from the cases (each holds its step's classes)
    const length = clip.config.contextLength;
    const ids = new Int32Array(spec.classnames.length * length);
    const have = new Set<number>();
    for (const c of spec.cases) {
      const file = readSafetensors(path.join(dir, c.file));
      const index = ints(get(file, 'class_index'));
      const rows = get(file, 'tokenized').data;
      index.forEach((k, i) => { ids.set(Int32Array.from(rows).subarray(i * length, (i + 1) * length), k * length); have.add(k); });
    }
    assert.strictEqual(have.size, spec.classnames.length, 'the cases tokenize every class name between them');
    tokens = { ids, shape: [spec.classnames.length, length] };
  });
  after(() => {
    clip?.dispose();
    frames?.dispose();
  });

  it('our tokenizer gives the official token ids (names exactly as given, "_" kept)', function () {
    if (!tok) this.skip(); // CLIP's BPE file is not in the repo: npx promptlab fetch clip-bpe
    const t = (tok as ClipTokenizer).tokenize(spec.classnames, { contextLength: clip.config.contextLength });
    assert.deepStrictEqual(Array.from(t.ids), Array.from(tokens.ids));
  });

  for (const c of spec.cases) {
    const what = `${c.temporal ? `${c.tfm_layers}-layer temporal transformer` : 'mean over frames'}, prefix ${c.prefix} + postfix ${c.postfix}, ${c.featnorm ? 'cosine / 0.07' : 'raw dot product'}, ${c.num_classes} classes`;
    it(`${c.name}: ${what}: prompts, features, logits, loss and gradients as the official code`, () => {
      const f = readSafetensors(path.join(dir, c.file));
      const before = tf.memory().numTensors;
      const m = new VideoPrompt(clip, tok, spec.classnames, {
        prefix: c.prefix, postfix: c.postfix, layout: 'official', temporal: c.temporal === 1, tfmLayers: c.tfm_layers, tfmHeads: c.tfm_heads,
        numFrames: spec.frames, featnorm: c.featnorm === 1, temperature: spec.temperature, numContrast: c.numContrast,
      }, { tokens, weights: learnable, source: spec.learnable });
      try {
        // the step's classes: the batch's sorted distinct names, then the (random) negatives of the case
        const classes = m.classIndices(c.class_list);
        assert.deepStrictEqual(classes, ints(get(f, 'class_index')), 'class_index');
        const sampled = m.sampleClasses(labels);
        const positives = new Set(labels).size;
        assert.deepStrictEqual(sampled.classes.slice(0, positives), classes.slice(0, positives), 'the batch\'s classes, sorted by name, come first');
        assert.strictEqual(sampled.classes.length, c.num_classes, 'classes scored: min(numContrast, all)');
        assert.deepStrictEqual(labels.map((l) => classes.indexOf(l)), ints(get(f, 'targets')), 'targets');

        const p = m.promptTokens(classes);
        assert.deepStrictEqual(Array.from(p.ids), ints(get(f, 'prompt_tokens')), 'prompt_tokens');
        assert.deepStrictEqual(Array.from(p.eot), ints(get(f, 'eot_index')), 'eot_index');
        const emb = m.promptEmbeddings(classes);
        close('text_embedding', emb, get(f, 'text_embedding'));
        const text = m.textFeatures(classes);
        close('text_features', text, get(f, 'text_features'));
        const video = m.videoFeatures(frames);
        close('video_features', video, get(f, 'video_features'));
        const logits = m.logits(frames, classes);
        close('logits', logits, get(f, 'logits'));
        tf.dispose([emb, text, video, logits]);

        const vars = m.trainableVariables();
        const { value, grads } = tf.variableGrads(() => m.loss(frames, labels, classes), vars);
        const loss = value.dataSync()[0];
        const lossRef = get(f, 'loss').data[0];
        assert.ok(Math.abs(loss - lossRef) <= TOL, `loss ${loss} vs ${lossRef}`);
        const ours = m.gradientStateDict(grads);
        tf.dispose([value, ...Object.values(grads)]);
        assert.deepStrictEqual([...ours.keys()].map((k) => `${k}.grad`).sort(), [...c.grads].sort(), 'the parameters that learn');
        for (const g of c.grads) close(g, ours.get(g.slice(0, -'.grad'.length)) as { shape: number[]; data: Float32Array }, get(f, g));
      } finally {
        m.dispose();
      }
      assert.strictEqual(tf.memory().numTensors, before, 'tensors left behind');
    });
  }
});
