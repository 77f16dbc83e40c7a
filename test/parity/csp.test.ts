// CSP, the CSP repo's CoOp baseline and its zero-shot CLIP against the official code (PROMPTLAB_CSP_DIR,
// default the shared fixtures, else test/fixtures/csp-official), through the project's classes: the
// initial vocabulary, the spliced prompts, text and image features, logits, loss, gradients and two
// Adam steps. Tolerances of the fixtures' README: max |a - b| / max |b| within 1e-4 on values and
// gradients, 1e-4 on losses, 1e-3 / 1e-2 on the two Adam updates. The cases run from the token ids the
// fixtures hold; where CLIP's BPE file is at hand, our tokenizer is checked against them too.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { assertMaxClose, fixtureTensor } from '../helpers/compare';
import { clipVocabFile, cspDir } from '../fixture-dirs';
import { ClipModel } from '../../src/clip/model';
import { readSafetensors, type SafetensorsFile } from '../../src/clip/safetensors';
import { ClipTokenizer } from '../../src/clip/tokenizer';
import { CSP, cspName, type PairIndex, type TokenIds } from '../../src/methods/csp';
import { CompositionalCoOp } from '../../src/methods/czsl-coop';
import { crossEntropy, l2normalize } from '../../src/methods/method';
import { Adam } from '../../src/train/adam';

interface CaseSpec { name: string; file: string; method: 'csp' | 'coop' | 'clip'; context_length: number; attr_dropout?: number; template: string; lr?: number; weight_decay?: number; adam_steps?: number; ctx_init?: string; n_ctx?: number; prompts?: string[] }
interface Spec { attrs: string[]; objs: string[]; cases: CaseSpec[] }

const { dir, source } = cspDir();
const casesFile = path.join(dir, 'cases.json');
const spec = fs.existsSync(casesFile) ? (JSON.parse(fs.readFileSync(casesFile, 'utf8')) as Spec) : null;

const get = fixtureTensor;
const close = assertMaxClose;
const ids = (t: { shape: number[]; data: ArrayLike<number> }): TokenIds => ({ ids: Int32Array.from(t.data), shape: [t.shape[0], t.shape[1]] });
const pairsOf = (t: { shape: number[]; data: ArrayLike<number> }): PairIndex[] => Array.from({ length: t.shape[0] }, (_, i) => [Number(t.data[2 * i]), Number(t.data[2 * i + 1])] as const);

describe(`CSP parity with the official code: ${dir} (${source})`, () => {
  it('the CSP fixture directory exists and holds cases', () => {
    assert.ok(spec, `${casesFile} is missing (set PROMPTLAB_CSP_DIR to the csp-official fixtures)`);
    assert.ok(spec.cases.length > 0, `${casesFile} lists no case`);
  });
  if (!spec) return;

  let clip: ClipModel;
  let pixels: tf.Tensor4D;
  let labels: number[];
  let tok: ClipTokenizer | null = null;
  let main: SafetensorsFile;
  before(() => {
    clip = ClipModel.load(path.join(dir, 'model.safetensors'));
    const inputs = readSafetensors(path.join(dir, 'inputs.safetensors'));
    const px = get(inputs, 'pixel_values');
    pixels = tf.tensor4d(px.data as Float32Array, px.shape as [number, number, number, number]);
    labels = Array.from(get(inputs, 'labels').data);
    const vocab = clipVocabFile();
    if (vocab) tok = ClipTokenizer.fromMergesFile(vocab);
    main = readSafetensors(path.join(dir, 'csp-main.safetensors'));
  });
  after(() => {
    clip?.dispose();
    pixels?.dispose();
  });

  /** One training step's loss and gradients of `vars` over the train pairs. */
  function step(m: CSP | CompositionalCoOp) {
    const vars = m.trainableVariables();
    let logits: tf.Tensor | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const l = m.logits({ pixels });
      logits = tf.keep(l.clone());
      return crossEntropy(l, labels);
    }, vars);
    return { logits: logits as unknown as tf.Tensor2D, loss: value.dataSync()[0], grad: grads[vars[0].name], dispose: () => tf.dispose([value, logits as unknown as tf.Tensor, ...Object.values(grads)]) };
  }

  /** Two Adam steps from the current values, against adam_update_1/2, loss_2 and the second gradient. */
  function adamSteps(f: SafetensorsFile, c: CaseSpec, m: CSP | CompositionalCoOp, gradName: string) {
    const v = m.trainableVariables()[0];
    const opt = new Adam([v], { weightDecay: c.weight_decay });
    try {
      const s0 = Float32Array.from(v.dataSync());
      const first = step(m);
      opt.apply([first.grad], c.lr as number);
      first.dispose();
      const s1 = Float32Array.from(v.dataSync());
      close(`${c.name} adam_update_1`, s1.map((x, i) => x - s0[i]), get(f, 'adam_update_1'), 1e-3);
      const second = step(m);
      const lossRef = get(f, 'loss_2').data[0] as number;
      assert.ok(Math.abs(second.loss - lossRef) <= 1e-4, `loss_2 ${second.loss} vs ${lossRef}`);
      close(`${c.name} ${gradName}_2`, second.grad, get(f, `${gradName}_2`));
      opt.apply([second.grad], c.lr as number);
      second.dispose();
      const s2 = Float32Array.from(v.dataSync());
      close(`${c.name} adam_update_2`, s2.map((x, i) => x - s1[i]), get(f, 'adam_update_2'), 1e-2);
    } finally {
      opt.dispose();
    }
  }

  for (const c of spec.cases) {
    it(`${c.name}: ${c.method}${c.attr_dropout ? ` (attribute dropout ${c.attr_dropout})` : ''}, context ${c.context_length}: prompts, features, logits, loss${c.method === 'clip' ? '' : ', gradients'}${c.adam_steps ? ' and two Adam steps' : ''} as the official code`, () => {
      const f = readSafetensors(path.join(dir, c.file));
      const vocabIds = ids(get(f.tensors.has('vocab_token_ids') ? f : main, 'vocab_token_ids'));
      const names = [...spec.attrs, ...spec.objs].map(cspName);
      if (tok && c.method !== 'clip') {
        const t = tok.tokenize([c.template], { contextLength: c.context_length });
        assert.deepStrictEqual(Array.from(t.ids), Array.from(get(f, 'token_ids').data), 'template ids from our tokenizer');
        const v = tok.tokenize(names, { contextLength: c.context_length });
        if (f.tensors.has('vocab_token_ids')) assert.deepStrictEqual(Array.from(v.ids), Array.from(vocabIds.ids), 'vocabulary ids from our tokenizer');
      }
      const imageRef = f.tensors.get('image_features');
      if (imageRef) {
        const img = clip.encodeImage(pixels);
        close(`${c.name} image_features`, img, imageRef);
        img.dispose();
      }
      const before = tf.memory().numTensors;
      if (c.method === 'clip') {
        if (tok) assert.deepStrictEqual(Array.from(tok.tokenize(c.prompts as string[], { contextLength: 77 }).ids), Array.from(get(f, 'prompt_token_ids').data), 'prompt ids from our tokenizer');
        const t = clip.encodeText(ids(get(f, 'prompt_token_ids')));
        close(`${c.name} text_features`, t, get(f, 'text_features'));
        const logits = tf.tidy(() => tf.mul(tf.matMul(l2normalize(clip.encodeImage(pixels)), l2normalize(t), false, true), tf.exp(clip.logitScaleParam)));
        close(`${c.name} eval_logits`, logits, get(f, 'eval_logits'));
        tf.dispose([t, logits]);
        assert.strictEqual(tf.memory().numTensors, before, 'tensors left behind');
        return;
      }
      const allPairs = f.tensors.has('all_pair_idx') ? pairsOf(get(f, 'all_pair_idx')) : null;
      const trainPairs = pairsOf(get(f, 'train_pair_idx'));
      const templateIds = ids(get(f, 'token_ids'));
      const m = c.method === 'csp'
        ? new CSP(clip, null, spec.attrs, spec.objs, allPairs ?? trainPairs, { attrDropout: c.attr_dropout ?? 0, template: c.template, contextLength: c.context_length }, { template: templateIds, vocab: vocabIds })
        : new CompositionalCoOp(clip, null, spec.attrs, spec.objs, allPairs ?? trainPairs, { ctxInit: c.ctx_init, template: c.template, contextLength: c.context_length }, { template: templateIds, vocab: vocabIds, ctxInit: ids(get(f, 'ctx_token_ids')) });
      try {
        if (m instanceof CSP) close(`${c.name} soft_embeddings (initial)`, m.softEmbeddings, get(f, 'soft_embeddings'));
        else close(`${c.name} ctx (initial)`, m.ctx, get(f, 'ctx'));
        if (allPairs) {
          const tt = m.tokenTensors();
          close(`${c.name} token_tensors`, tt, get(f, 'token_tensors'));
          const tfeat = m.textFeatures();
          close(`${c.name} text_features`, tfeat, get(f, 'text_features'));
          const ev = m.logits({ pixels });
          close(`${c.name} eval_logits`, ev, get(f, 'eval_logits'));
          tf.dispose([tt, tfeat, ev]);
        }
        m.setPairs(trainPairs);
        m.training = true;
        if (m instanceof CSP && f.tensors.has('dropout_mask')) {
          const mask = Float32Array.from(get(f, 'dropout_mask').data);
          m.nextDropoutMask = mask;
          const tt = m.tokenTensors();
          close(`${c.name} token_tensors (dropped)`, tt, get(f, 'token_tensors'));
          tt.dispose();
          m.nextDropoutMask = mask;
          const tfeat = m.textFeatures();
          close(`${c.name} text_features (dropped)`, tfeat, get(f, 'text_features'));
          tfeat.dispose();
          m.nextDropoutMask = mask;
        }
        const s = step(m);
        close(`${c.name} logits`, s.logits, get(f, 'logits'));
        const lossRef = get(f, 'loss').data[0] as number;
        assert.ok(Math.abs(s.loss - lossRef) <= 1e-4, `loss ${s.loss} vs ${lossRef}`);
        const gradName = m instanceof CSP ? 'soft_embeddings_grad' : 'ctx_grad';
        close(`${c.name} ${gradName}`, s.grad, get(f, gradName));
        s.dispose();
        if (c.adam_steps) adamSteps(f, c, m, gradName);
      } finally {
        m.dispose();
      }
      assert.strictEqual(tf.memory().numTensors, before, 'tensors left behind');
    });
  }
});
