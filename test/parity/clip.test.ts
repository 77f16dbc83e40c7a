// The CLIP parity suite: every model case folder under PROMPTLAB_PARITY_DIR (default: the shared
// fixtures, else test/fixtures) against the reference PyTorch CLIP's outputs. Never skipped.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { parityDir } from '../fixture-dirs';
import { assertClose } from '../helpers/compare';
import { ClipModel } from '../../src/clip/model';
import { readSafetensors, SafetensorsFile } from '../../src/clip/safetensors';
import { readTorchCheckpoint } from '../../src/clip/torch-checkpoint';
import { loadWeights } from '../../src/clip/weights';
import { CoOp } from '../../src/methods/coop';
import { crossEntropy } from '../../src/methods/method';

const OUTPUTS = ['image_embeds', 'text_embeds', 'logits_per_image', 'vision_tokens', 'text_tokens'] as const;

function isModelCase(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'config.json')) && fs.existsSync(path.join(dir, 'model.safetensors'));
}

/** Model case folders (and their hf/ twins), found by walking the parity directory. */
export function discoverModelCases(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const sub = path.join(dir, e.name);
      if (isModelCase(sub) && fs.existsSync(path.join(sub, 'outputs.safetensors'))) found.push(sub);
      walk(sub);
    }
  };
  walk(root);
  return found.sort();
}

function tensorOf(f: SafetensorsFile, name: string): tf.Tensor {
  const t = f.tensors.get(name);
  if (!t) throw new Error(`${f.file}: no tensor '${name}'`);
  return tf.tensor(t.data, t.shape, t.data instanceof Int32Array ? 'int32' : 'float32');
}

function golden(f: SafetensorsFile, name: string) {
  const t = f.tensors.get(name);
  if (!t) throw new Error(`${f.file}: no tensor '${name}'`);
  return t;
}

/** The outputs `promptlab encode` writes, from one model. */
function runModel(model: ClipModel, inputs: SafetensorsFile): Record<(typeof OUTPUTS)[number], tf.Tensor> {
  const pixels = tensorOf(inputs, 'pixel_values') as tf.Tensor4D;
  const ids = golden(inputs, 'input_ids');
  const text = { ids: ids.data as Int32Array, shape: ids.shape as [number, number] };
  const l = model.logits(pixels, text);
  const vt = model.visionTokens(pixels);
  const out = {
    image_embeds: l.imageEmbeds,
    text_embeds: l.textEmbeds,
    logits_per_image: l.logitsPerImage,
    vision_tokens: vt.featureMap ?? vt.tokens,
    text_tokens: model.textTokens(text),
  };
  if (vt.featureMap) vt.tokens.dispose();
  pixels.dispose();
  return out;
}

const { dir: root, source } = parityDir();
const rootMissing = !fs.existsSync(root);
const cases = rootMissing ? [] : discoverModelCases(root);
const rel = (d: string) => path.relative(root, d) || '.';

describe(`CLIP parity: model cases in ${root} (${source})`, () => {
  it('the parity directory exists and holds cases', () => {
    assert.ok(!rootMissing, `parity directory ${root} does not exist (set PROMPTLAB_PARITY_DIR to the clip-parity fixtures)`);
    const others = ['tokenizer/tokenizer.json', 'preprocess/expected.safetensors'].filter((f) => fs.existsSync(path.join(root, f)));
    assert.ok(cases.length + others.length > 0, `${root} holds no parity case (model folders with config.json + model.safetensors, tokenizer/, preprocess/)`);
  });

  for (const caseDir of cases) {
    const name = rel(caseDir);
    const base = fs.existsSync(path.join(caseDir, 'inputs.safetensors')) ? caseDir : path.dirname(caseDir);

    describe(`case ${name}`, () => {
      let inputs: SafetensorsFile;
      let outputs: SafetensorsFile;
      let model: ClipModel;
      let got: Record<string, tf.Tensor>;

      before(() => {
        inputs = readSafetensors(path.join(base, 'inputs.safetensors'));
        outputs = readSafetensors(path.join(caseDir, 'outputs.safetensors'));
        model = ClipModel.load(path.join(caseDir, 'model.safetensors'));
        got = runModel(model, inputs);
      });
      after(() => {
        for (const t of Object.values(got ?? {})) t.dispose();
        model?.dispose();
      });

      it(`${name}: architecture inferred from the shapes matches config.json`, () => {
        const cfg = JSON.parse(fs.readFileSync(path.join(caseDir, 'config.json'), 'utf8'));
        const c = loadWeights(path.join(caseDir, 'model.safetensors')).config;
        if ('embed_dim' in cfg) {
          assert.strictEqual(c.embedDim, cfg.embed_dim);
          assert.strictEqual(c.imageResolution, cfg.image_resolution);
          assert.deepStrictEqual(c.visionLayers, cfg.vision_layers);
          assert.strictEqual(c.visionWidth, cfg.vision_width);
          assert.strictEqual(c.visionPatchSize, cfg.vision_patch_size);
          assert.strictEqual(c.contextLength, cfg.context_length);
          assert.strictEqual(c.vocabSize, cfg.vocab_size);
          assert.strictEqual(c.transformerWidth, cfg.transformer_width);
          assert.strictEqual(c.transformerHeads, cfg.transformer_heads);
          assert.strictEqual(c.transformerLayers, cfg.transformer_layers);
        } else {
          assert.strictEqual(c.embedDim, cfg.projection_dim);
          assert.strictEqual(c.transformerHeads, cfg.text_config.num_attention_heads);
          assert.strictEqual(c.visionHeads, cfg.vision_config.num_attention_heads);
        }
      });

      for (const key of OUTPUTS) {
        it(`${name}: ${key} within 1e-4 relative error`, function () {
          if (!outputs.tensors.has(key)) assert.fail(`${name}/outputs.safetensors has no '${key}'`);
          assertClose(`${name} ${key}`, got[key], golden(outputs, key));
        });
      }

      it(`${name}: encode calls leave only their outputs (no tensor leaks)`, () => {
        const pixels = tensorOf(inputs, 'pixel_values') as tf.Tensor4D;
        const before = tf.memory().numTensors;
        const out = runModel(model, inputs);
        const made = Object.keys(out).length;
        assert.strictEqual(tf.memory().numTensors - before, made, 'tensor count grew by more than the outputs');
        for (const t of Object.values(out)) t.dispose();
        assert.strictEqual(tf.memory().numTensors, before);
        pixels.dispose();
      });

      const hfDir = path.join(caseDir, 'hf');
      if (fs.existsSync(path.join(hfDir, 'model.safetensors'))) {
        it(`${name}/hf: the Hugging Face folder gives the same outputs within 1e-4`, () => {
          const hf = ClipModel.load(hfDir);
          const out = runModel(hf, inputs);
          try {
            for (const key of OUTPUTS) assertClose(`${name}/hf ${key}`, out[key], golden(outputs, key));
          } finally {
            for (const t of Object.values(out)) t.dispose();
            hf.dispose();
          }
        });
      }

      // PyTorch checkpoints of the same weights: OpenAI's TorchScript release format and a torch.save
      // training checkpoint (under 'state_dict' with DataParallel's 'module.' prefix); fp16 weights
      // within 5e-3, fp32 within 1e-4
      for (const file of ['openai-jit.pt', 'state-dict.pt']) {
        if (!fs.existsSync(path.join(caseDir, file))) continue;
        it(`${name}/${file}: read without PyTorch, every output within 5e-3 (fp16 weights) or 1e-4 (fp32)`, () => {
          const info = { dtypes: new Set<string>() };
          readTorchCheckpoint(path.join(caseDir, file), info);
          const tol = info.dtypes.has('HalfStorage') || info.dtypes.has('BFloat16Storage') ? 5e-3 : 1e-4;
          const pt = ClipModel.load(path.join(caseDir, file));
          const out = runModel(pt, inputs);
          try {
            for (const key of OUTPUTS) assertClose(`${name}/${file} ${key}`, out[key], golden(outputs, key), tol);
          } finally {
            for (const t of Object.values(out)) t.dispose();
            pt.dispose();
          }
        });
      }

      const coopFile = path.join(caseDir, 'coop.safetensors');
      if (fs.existsSync(coopFile)) {
        it(`${name}/coop.safetensors: the CoOp class reproduces logits, loss and d loss / d ctx (through encodeTokenEmbeddings)`, () => {
          const f = readSafetensors(coopFile);
          const ids = golden(f, 'prompt_ids');
          const [nCls, length] = ids.shape;
          const ctxRef = golden(f, 'ctx');
          const nCtx = ctxRef.shape[0];
          const labels = golden(f, 'labels');
          const coop = new CoOp(model, null, Array.from({ length: nCls }, (_, k) => `class ${k}`), { nCtx }, { ids: ids.data as Int32Array, shape: [nCls, length] });
          coop.ctx.assign(tf.tensor2d(ctxRef.data as Float32Array, ctxRef.shape as [number, number]));
          const pixels = tensorOf(f, 'pixel_values') as tf.Tensor4D;
          const before = tf.memory().numTensors;
          const { value, grads } = tf.variableGrads(() => {
            const logits = coop.logits({ pixels });
            assertClose(`${name}/coop logits`, logits, golden(f, 'logits'));
            return crossEntropy(logits, labels.data);
          }, [coop.ctx]);
          const loss = value.dataSync()[0];
          const lossRef = golden(f, 'loss').data[0];
          assert.ok(Math.abs(loss - lossRef) <= 1e-4, `loss ${loss} vs reference ${lossRef}`);
          assertClose(`${name}/coop ctx_grad`, grads[coop.ctx.name], golden(f, 'ctx_grad'));
          value.dispose();
          tf.dispose(grads);
          assert.strictEqual(tf.memory().numTensors, before, 'a CoOp step leaked tensors');
          coop.dispose();
          pixels.dispose();
        });
      }
    });
  }
});
