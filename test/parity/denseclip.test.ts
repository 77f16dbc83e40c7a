// DenseCLIP against the official code (PROMPTLAB_DENSECLIP_DIR, default the shared fixtures, else
// test/fixtures/denseclip-official), through the project's classes: the dense backbone (c1..c4, the
// twice-resized attention-pool positions, the global feature and the dense embeddings), the text
// features with learned contexts, the context decoder, the score map and its concatenation to c4, the
// auxiliary loss and its gradients, at the official initialisation and in a trained-looking state.
// Tolerance of the fixtures' README: max |a - b| / max |b| within 1e-4 per array and on the loss.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { assertMaxClose, fixtureTensor } from '../helpers/compare';
import { denseclipDir } from '../fixture-dirs';
import { ClipModel } from '../../src/clip/model';
import { readSafetensors, type SafetensorsFile } from '../../src/clip/safetensors';
import { loadWeights, type StateDict } from '../../src/clip/weights';
import { applyConfigFile } from '../../src/clip/config';
import { DenseCLIP, type DenseClipConfig } from '../../src/methods/denseclip/denseclip';

interface Spec {
  classnames: string[];
  clip_config: Record<string, unknown>;
  settings: { context_length: number; tau: number; score_concat_index: number };
  backbone: { input_resolution: number };
  context_decoder: { transformer_width: number; transformer_heads: number; transformer_layers: number; dropout: number };
  attnpool_heads: number;
  identity_head: { loss_weight: number; ignore_index: number };
  cases: { name: string; file: string; input?: string; n_ctx?: number }[];
}

const { dir, source } = denseclipDir();
const casesFile = path.join(dir, 'cases.json');
const spec = fs.existsSync(casesFile) ? (JSON.parse(fs.readFileSync(casesFile, 'utf8')) as Spec) : null;
const TOL = 1e-4;

type Ref = { shape: number[]; data: ArrayLike<number> };

const get = fixtureTensor;
const close = (name: string, out: tf.Tensor, ref: Ref, tol = TOL) => assertMaxClose(name, out, ref, tol);
const tensorOf = (r: Ref) => tf.tensor(Float32Array.from(r.data), r.shape);

describe(`DenseCLIP parity with the official code: ${dir} (${source})`, () => {
  it('the DenseCLIP fixture directory exists and holds cases', () => {
    assert.ok(spec, `${casesFile} is missing (set PROMPTLAB_DENSECLIP_DIR to the denseclip-official fixtures)`);
    assert.ok(spec.cases.length > 0, `${casesFile} lists no case`);
  });
  if (!spec) return;

  const file = (name: string) => readSafetensors(path.join(dir, spec.cases.find((c) => c.name === name)!.file));
  const config = (): DenseClipConfig => ({
    prompting: 'post',
    nCtx: spec.cases.find((c) => c.name === 'text-context')?.n_ctx ?? 8,
    classContextLength: spec.settings.context_length,
    inputResolution: spec.backbone.input_resolution,
    attnpoolHeads: spec.attnpool_heads,
    decoder: { width: spec.context_decoder.transformer_width, heads: spec.context_decoder.transformer_heads, layers: spec.context_decoder.transformer_layers, dropout: spec.context_decoder.dropout },
    tau: spec.settings.tau,
    auxLossWeight: spec.identity_head.loss_weight,
    ignoreIndex: spec.identity_head.ignore_index,
    scoreConcatIndex: spec.settings.score_concat_index,
  });
  let clip: ClipModel;
  let weights: StateDict;
  let inputs: SafetensorsFile;
  let classTokens: { ids: Int32Array; shape: [number, number] };
  let model: DenseCLIP;
  before(() => {
    // the heads come from cases.json's CLIP config (shapes alone would give width / 64 = 1)
    const w = loadWeights(path.join(dir, 'model.safetensors'));
    clip = new ClipModel(applyConfigFile(w.config, spec.clip_config, casesFile), w.stateDict, w.source);
    weights = readSafetensors(path.join(dir, 'denseclip.safetensors')).tensors as unknown as StateDict;
    inputs = readSafetensors(path.join(dir, 'inputs.safetensors'));
    const texts = get(file('text-context'), 'texts');
    classTokens = { ids: Int32Array.from(texts.data), shape: [texts.shape[0], texts.shape[1]] };
    model = new DenseCLIP(clip, classTokens, config(), weights, 'denseclip.safetensors');
  });
  after(() => {
    model?.dispose();
    clip?.dispose();
  });

  for (const [name, input] of [['backbone-dense', 'pixel_values'], ['backbone-dense-2', 'pixel_values_2']] as const) {
    it(`${name}: the load-time positional resize, c1..c4, the global feature and the dense embeddings`, () => {
      const ref = file(name);
      close('attnpool_positional_embedding', model.backbone.positional, get(ref, 'attnpool_positional_embedding'));
      const px = tensorOf(get(inputs, input)) as tf.Tensor4D;
      const f = model.backbone.features(px);
      f.c.forEach((c, i) => close(`c${i + 1}`, c, get(ref, `c${i + 1}`)));
      close('global_feat', f.globalFeat, get(ref, 'global_feat'));
      close('visual_embeddings', f.visualEmbeddings, get(ref, 'visual_embeddings'));
      tf.dispose([px, ...f.c, f.globalFeat, f.visualEmbeddings]);
    });
  }

  it('text-context: contexts after SOT, EOT at argmax + nCtx, text features', () => {
    const ref = file('text-context');
    close('contexts', model.contexts!, get(ref, 'contexts'));
    const t = model.textEmbeddings();
    close('text_embeddings', t, get(ref, 'text_embeddings'));
    t.dispose();
  });

  it('context-decoder: the text update and t + gamma * update', () => {
    const ref = file('context-decoder');
    close('gamma', model.gamma!, get(ref, 'gamma'));
    const text = tensorOf(get(ref, 'text_embeddings')) as tf.Tensor3D;
    const visual = tensorOf(get(ref, 'visual_context')) as tf.Tensor3D;
    const { diff, refined } = model.refine(text, visual);
    close('text_diff', diff, get(ref, 'text_diff'));
    close('text_embeddings_refined', refined, get(ref, 'text_embeddings_refined'));
    tf.dispose([text, visual, diff, refined]);
  });

  it('score-map: cosine of the dense embeddings and the refined text, concatenated to c4', () => {
    const ref = file('score-map');
    const px = tensorOf(get(inputs, 'pixel_values')) as tf.Tensor4D;
    const out = model.forward(px);
    close('visual_embeddings', out.visualEmbeddings, get(ref, 'visual_embeddings'));
    close('text_embeddings_refined', out.textRefined, get(ref, 'text_embeddings_refined'));
    close('score_map', out.scoreMap, get(ref, 'score_map'));
    close('c4_concat', out.neckInputs[3], get(ref, 'c4_concat'));
    tf.dispose([px, out.visualContext, out.textEmbeddings, out.textDiff, out.textRefined, out.scoreMap, out.globalFeat, out.visualEmbeddings, ...out.c, ...out.neckInputs]);
  });

  for (const name of ['aux-loss', 'aux-loss-trained']) {
    it(`${name}: the identity-head loss and the gradients of the contexts, gamma and every decoder parameter`, () => {
      const ref = file(name);
      let m = model;
      if (name === 'aux-loss-trained') {
        // gamma and the decoder's q/k projections as the file holds them; the rest as in aux-loss
        const overridden: StateDict = new Map(weights);
        for (const [k, v] of ref.tensors) if (k === 'gamma' || /^context_decoder\..*_attn\.[qk]_proj\.weight$/.test(k)) overridden.set(k, v as never);
        m = new DenseCLIP(clip, classTokens, config(), overridden, `${ref.file} overrides`);
      }
      const px = tensorOf(get(inputs, 'pixel_values')) as tf.Tensor4D;
      const lab = get(inputs, 'labels');
      const labels = { data: lab.data, shape: lab.shape as [number, number, number] };
      const vars = m.trainableVariables();
      let scoreMap: tf.Tensor4D | null = null;
      const { value, grads } = tf.variableGrads(() => {
        const out = m.forward(px);
        scoreMap = tf.keep(out.scoreMap);
        return m.auxLoss(out.scoreMap, labels);
      }, vars);
      close('score_map', scoreMap!, get(ref, 'score_map'));
      close('loss', value.reshape([1]), get(ref, 'loss'));
      const byName = new Map<string, tf.Tensor>();
      const sd = m.stateDict(); // names in creation order match the variables'
      [...sd.keys()].forEach((k, i) => byName.set(k, grads[vars[i].name]));
      close('contexts_grad', byName.get('contexts')!, get(ref, 'contexts_grad'));
      close('gamma_grad', byName.get('gamma')!, get(ref, 'gamma_grad'));
      let checked = 0;
      for (const [k, t] of ref.tensors) {
        const mm = /^(context_decoder\..*)\.grad$/.exec(k);
        if (!mm) continue;
        const g = byName.get(mm[1]);
        assert.ok(g, `no gradient for ${mm[1]}`);
        // PyTorch Linear weights are [out, in]; ours are [in, out]
        const ours = g.rank === 2 ? g.transpose() : g;
        close(k, ours, t);
        checked++;
      }
      assert.ok(checked >= 60, `${checked} decoder gradients compared`);
      tf.dispose([value, scoreMap!, px, ...Object.values(grads)]);
      if (m !== model) m.dispose();
    });
  }
});
