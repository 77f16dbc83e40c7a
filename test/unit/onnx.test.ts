// CLIP's towers exported to ONNX (src/onnx/vit.ts, resnet.ts, text.ts) and run by onnxruntime-node
// (src/onnx/runtime.ts): the same features as tfjs within 1e-5, any batch size, bad input named.
import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs';
import type { ClipConfig } from '../../src/clip/config';
import { ParamReader } from '../../src/clip/params';
import { randomStateDict } from '../../src/clip/random';
import { VisionTransformer } from '../../src/clip/vit';
import { ModifiedResNet } from '../../src/clip/resnet';
import { OnnxImageEncoder, OnnxTextEncoder, onnxRuntimeProblem } from '../../src/onnx/runtime';
import { TextTower } from '../../src/clip/text';
import { exportVit } from '../../src/onnx/vit';

const text = { contextLength: 12, vocabSize: 64, transformerWidth: 32, transformerHeads: 4, transformerLayers: 1 };
const base = { ...text, layerNormEps: 1e-5, embedDim: 24, textAct: 'quick_gelu' as const };
const CONFIGS: Record<string, ClipConfig> = {
  'QuickGELU, patch 8 at 32 px, 3 layers': { ...base, visionAct: 'quick_gelu', imageResolution: 32, visionLayers: 3, visionWidth: 48, visionPatchSize: 8, visionHeads: 4 },
  'GELU (Hugging Face), patch 4 at 24 px, eps 1e-6, one head': { ...base, visionAct: 'gelu', layerNormEps: 1e-6, imageResolution: 24, visionLayers: 2, visionWidth: 40, visionPatchSize: 4, visionHeads: 1 },
  'ModifiedResNet [1, 2, 1, 1], width 16, at 64 px': { ...base, visionAct: 'quick_gelu', imageResolution: 64, visionLayers: [1, 2, 1, 1], visionWidth: 16, visionPatchSize: null, visionHeads: 4 },
};

describe("ONNX export of CLIP's towers (ViT, ModifiedResNet, text)", () => {
  before(function () {
    // environment-conditional: onnxruntime-node is optional (its binaries cover linux/macOS/windows x64 and arm64)
    if (onnxRuntimeProblem()) this.skip();
  });

  for (const [name, c] of Object.entries(CONFIGS)) {
    it(`${name}: onnxruntime's features equal tfjs's within 1e-5, for batches of 1 and 5`, async () => {
      const before = tf.memory().numTensors;
      const p = new ParamReader(randomStateDict(c, 4), '<random weights>');
      const vit = c.visionPatchSize ? new VisionTransformer(p, c) : new ModifiedResNet(p, c);
      const encoder = await OnnxImageEncoder.fromTower(vit, 2);
      try {
        for (const n of [1, 5]) {
          const r = c.imageResolution;
          const pixels = tf.randomNormal([n, 3, r, r], 0, 1, 'float32', n) as tf.Tensor4D;
          const want = tf.tidy(() => vit.encode(pixels));
          const got = await encoder.encode(pixels);
          assert.deepEqual(got.shape, [n, c.embedDim]);
          const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]);
          const scale = tf.tidy(() => tf.max(tf.abs(want)).dataSync()[0]);
          assert.ok(diff <= 1e-5 * Math.max(1, scale), `batch ${n}: max |onnx - tfjs| = ${diff} (features up to ${scale})`);
          for (const t of [pixels, want, got]) t.dispose();
        }
        await assert.rejects(
          () => { const bad = tf.zeros([2, 3, c.imageResolution + 1, c.imageResolution + 1]) as tf.Tensor4D; return encoder.encode(bad).finally(() => bad.dispose()); },
          new RegExp(`pixels have shape \\[2, 3, ${c.imageResolution + 1}, ${c.imageResolution + 1}\\], this tower expects \\[N, 3, ${c.imageResolution}, ${c.imageResolution}\\]`),
        );
      } finally {
        await encoder.dispose();
        for (const t of p.created) t.dispose();
      }
      assert.equal(tf.memory().numTensors, before);
      const late = tf.zeros([1, 3, c.imageResolution, c.imageResolution]) as tf.Tensor4D;
      await assert.rejects(() => encoder.encode(late), /used after dispose/);
      late.dispose();
    });
  }

  it('writes a model whose bytes do not depend on anything but the weights', () => {
    const c = Object.values(CONFIGS)[0]; // a ViT
    const build = () => {
      const p = new ParamReader(randomStateDict(c, 4), '<random weights>');
      const bytes = exportVit(new VisionTransformer(p, c));
      for (const t of p.created) t.dispose();
      return Buffer.from(bytes);
    };
    const a = build();
    assert.ok(a.equals(build()));
    assert.ok(a.length > 4 * 48 * 48 * 12, `${a.length} bytes`); // at least the blocks' matrices
  });

  for (const c of Object.values(CONFIGS).slice(0, 2)) {
    const textConfig: ClipConfig = { ...c, textAct: c.visionAct, transformerLayers: 2 };
    it(`text tower (${textConfig.textAct}, eps ${c.layerNormEps}): onnxruntime's features equal tfjs's within 1e-5, cut at the last EOT or not`, async () => {
      const before = tf.memory().numTensors;
      const p = new ParamReader(randomStateDict(textConfig, 9), '<random weights>');
      const tower = new TextTower(p, textConfig);
      const encoder = await OnnxTextEncoder.fromText(tower, 2);
      try {
        const k = 6;
        const L = textConfig.contextLength;
        const ids = new Int32Array(k * L);
        const eot = [2, 5, 11, 3, 7, 4];
        eot.forEach((e, i) => { for (let j = 0; j <= e; j++) ids[i * L + j] = 1 + ((i * 13 + j * 5) % 60); });
        const embeds = tf.tidy(() => tower.embed(tf.tensor2d(ids, [k, L], 'int32')));
        for (const truncate of [true, false]) {
          const want = tf.tidy(() => tower.encodeTokenEmbeddings(embeds, eot, truncate));
          const got = await encoder.encodeTokenEmbeddings(embeds, eot, truncate);
          assert.deepEqual(got.shape, [k, textConfig.embedDim]);
          const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]);
          const scale = tf.tidy(() => tf.max(tf.abs(want)).dataSync()[0]);
          assert.ok(diff <= 1e-5 * Math.max(1, scale), `truncate ${truncate}: max |onnx - tfjs| = ${diff} (features up to ${scale})`);
          want.dispose();
          got.dispose();
        }
        await assert.rejects(() => encoder.encodeTokenEmbeddings(embeds, [2, 5, 12, 3, 7, 4]), /eotIndex\[2\] = 12 is outside \[0, 11\]/);
        await assert.rejects(() => encoder.encodeTokenEmbeddings(embeds, [2, 5]), /2 EOT positions for 6 sequences/);
        embeds.dispose();
      } finally {
        await encoder.dispose();
        for (const t of p.created) t.dispose();
      }
      assert.equal(tf.memory().numTensors, before);
    });
  }
});
