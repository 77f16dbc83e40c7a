// CoOp and CoCoOp against the official code (PROMPTLAB_COOP_DIR, default the shared fixtures,
// else test/fixtures/coop-official): class names in, prompts, logits, loss and gradients out,
// through the CoOp and CoCoOp classes themselves. Never skipped, except for want of CLIP's BPE file.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { coopDir, clipVocabFile, FETCH_CLIP_BPE } from '../fixture-dirs';
import { assertClose } from '../helpers/compare';
import { ClipModel } from '../../src/clip/model';
import { ClipTokenizer } from '../../src/clip/tokenizer';
import { readSafetensors, SafetensorsFile } from '../../src/clip/safetensors';
import { CoOp } from '../../src/methods/coop';
import { CoCoOp } from '../../src/methods/cocoop';
import { crossEntropy } from '../../src/methods/method';

interface CaseSpec { file: string; method: 'coop' | 'cocoop'; n_ctx: number; ctx_init: string; csc?: boolean; class_token_position?: 'end' | 'middle' | 'front' }

const { dir, source } = coopDir();
const casesFile = path.join(dir, 'cases.json');
const spec = fs.existsSync(casesFile) ? (JSON.parse(fs.readFileSync(casesFile, 'utf8')) as { classnames: string[]; cases: CaseSpec[] }) : null;

function get(f: SafetensorsFile, name: string) {
  const t = f.tensors.get(name);
  if (!t) throw new Error(`${f.file}: no tensor '${name}'`);
  return t;
}

/** PyTorch Linear weight [out, in] -> ours [in, out] (and back for gradients). */
function transpose2d(data: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

describe(`CoOp/CoCoOp parity with the official code: ${dir} (${source})`, () => {
  it('the CoOp fixture directory exists and holds cases', () => {
    assert.ok(spec, `${casesFile} is missing (set PROMPTLAB_COOP_DIR to the coop-official fixtures)`);
    assert.ok(spec.cases.length > 0, `${casesFile} lists no case`);
  });
  if (!spec) return;

  let clip: ClipModel;
  let tok: ClipTokenizer | null = null;
  let pixels: tf.Tensor4D;
  let labels: Int32Array;
  before(() => {
    const vocab = clipVocabFile();
    if (vocab) tok = ClipTokenizer.fromMergesFile(vocab);
    clip = ClipModel.load(path.join(dir, 'model.safetensors'));
    const inputs = readSafetensors(path.join(dir, 'inputs.safetensors'));
    const px = get(inputs, 'pixel_values');
    pixels = tf.tensor4d(px.data as Float32Array, px.shape as [number, number, number, number]);
    labels = get(inputs, 'labels').data as Int32Array;
  });
  after(() => {
    clip?.dispose();
    pixels?.dispose();
  });

  for (const c of spec.cases) {
    it(`${c.file}: ${c.method} (n_ctx ${c.n_ctx}, init '${c.ctx_init}'${c.csc ? ', class-specific' : ''}${c.class_token_position ? `, ${c.class_token_position}` : ''}) matches prompts, logits, loss and gradients within 1e-4`, function () {
      if (!tok) {
        console.log(`      CLIP's BPE vocabulary (bpe_simple_vocab_16e6.txt.gz) is not redistributed in this repository: run \`${FETCH_CLIP_BPE}\` once (it goes to the user cache, where these tests find it)`);
        this.skip();
      }
      const f = readSafetensors(path.join(dir, c.file));
      const names = spec.classnames;
      const method = c.method === 'coop'
        ? new CoOp(clip, tok!, names, { nCtx: c.n_ctx, ctxInit: c.ctx_init, csc: !!c.csc, classTokenPosition: c.class_token_position ?? 'end' })
        : new CoCoOp(clip, tok!, names, { nCtx: c.n_ctx, ctxInit: c.ctx_init });
      try {
        assert.strictEqual(method.nCtx, c.n_ctx, 'n_ctx after the official override');
        const tp = get(f, 'tokenized_prompts');
        assert.deepStrictEqual(Array.from(method.tokenizedPrompts.ids), Array.from(tp.data), 'tokenized prompts');
        if (f.tensors.has('name_lens')) assert.deepStrictEqual(method.tokenizedPrompts.nameLens, Array.from(get(f, 'name_lens').data), 'name_lens');
        const ctxRef = get(f, 'ctx');
        if (c.ctx_init) assertClose(`${c.file} initial ctx from '${c.ctx_init}'`, method.ctx, ctxRef, 1e-4);
        method.ctx.assign(tf.tensor(ctxRef.data, ctxRef.shape));
        if (method instanceof CoCoOp) {
          for (const l of ['linear1', 'linear2'] as const) {
            const w = get(f, `meta_net.${l}.weight`);
            method.metaNet[l].w.assign(tf.tensor2d(transpose2d(w.data, w.shape[0], w.shape[1]), [w.shape[1], w.shape[0]]));
            method.metaNet[l].b.assign(tf.tensor1d(get(f, `meta_net.${l}.bias`).data as Float32Array));
          }
        } else {
          const prompts = method.prompts();
          assertClose(`${c.file} prompts`, prompts, get(f, 'prompts'));
          prompts.dispose();
        }
        const vars = method.trainableVariables();
        const before = tf.memory().numTensors;
        let logits: tf.Tensor2D | null = null;
        const { value, grads } = tf.variableGrads(() => {
          const l = method.logits({ pixels });
          logits = tf.keep(l.clone());
          return crossEntropy(l, labels);
        }, vars);
        assertClose(`${c.file} logits`, logits!, get(f, 'logits'));
        const loss = value.dataSync()[0];
        const lossRef = get(f, 'loss').data[0] as number;
        assert.ok(Math.abs(loss - lossRef) <= 1e-4, `loss ${loss} vs ${lossRef}`);
        assertClose(`${c.file} ctx_grad`, grads[method.ctx.name], get(f, 'ctx_grad'));
        if (method instanceof CoCoOp) {
          for (const l of ['linear1', 'linear2'] as const) {
            const gw = grads[method.metaNet[l].w.name] as tf.Tensor2D;
            const ref = get(f, `meta_net.${l}.weight.grad`);
            const ours = tf.tensor2d(transpose2d(gw.dataSync(), gw.shape[0], gw.shape[1]), [gw.shape[1], gw.shape[0]]);
            assertClose(`${c.file} meta_net.${l}.weight.grad`, ours, ref);
            assertClose(`${c.file} meta_net.${l}.bias.grad`, grads[method.metaNet[l].b.name], get(f, `meta_net.${l}.bias.grad`));
            ours.dispose();
          }
        }
        tf.dispose([value, logits!, ...Object.values(grads)]);
        assert.strictEqual(tf.memory().numTensors, before, 'a training step leaked tensors');
      } finally {
        method.dispose();
      }
    });
  }
});
