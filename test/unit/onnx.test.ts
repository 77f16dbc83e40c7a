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
import { ClipModel } from '../../src/clip/model';
import { environment } from '../../src/repro/record';

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
    it(`${name}: onnxruntime's features equal tfjs's within 1e-5, for batches of 1 and 5`, () => {
      const before = tf.memory().numTensors;
      const p = new ParamReader(randomStateDict(c, 4), '<random weights>');
      const vit = c.visionPatchSize ? new VisionTransformer(p, c) : new ModifiedResNet(p, c);
      const encoder = OnnxImageEncoder.fromTower(vit, 2);
      try {
        for (const n of [1, 5]) {
          const r = c.imageResolution;
          const pixels = tf.randomNormal([n, 3, r, r], 0, 1, 'float32', n) as tf.Tensor4D;
          const want = tf.tidy(() => vit.encode(pixels));
          const got = encoder.encode(pixels);
          assert.deepEqual(got.shape, [n, c.embedDim]);
          const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]);
          const scale = tf.tidy(() => tf.max(tf.abs(want)).dataSync()[0]);
          assert.ok(diff <= 1e-5 * Math.max(1, scale), `batch ${n}: max |onnx - tfjs| = ${diff} (features up to ${scale})`);
          for (const t of [pixels, want, got]) t.dispose();
        }
        const bad = tf.zeros([2, 3, c.imageResolution + 1, c.imageResolution + 1]) as tf.Tensor4D;
        assert.throws(
          () => { try { encoder.encode(bad); } finally { bad.dispose(); } },
          new RegExp(`pixels have shape \\[2, 3, ${c.imageResolution + 1}, ${c.imageResolution + 1}\\], this tower expects \\[N, 3, ${c.imageResolution}, ${c.imageResolution}\\]`),
        );
      } finally {
        encoder.dispose();
        for (const t of p.created) t.dispose();
      }
      assert.equal(tf.memory().numTensors, before);
      const late = tf.zeros([1, 3, c.imageResolution, c.imageResolution]) as tf.Tensor4D;
      assert.throws(() => encoder.encode(late), /used after dispose/);
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
    it(`text tower (${textConfig.textAct}, eps ${c.layerNormEps}): onnxruntime's features equal tfjs's within 1e-5, cut at the last EOT or not`, () => {
      const before = tf.memory().numTensors;
      const p = new ParamReader(randomStateDict(textConfig, 9), '<random weights>');
      const tower = new TextTower(p, textConfig);
      const encoder = OnnxTextEncoder.fromText(tower, 2);
      try {
        const k = 6;
        const L = textConfig.contextLength;
        const ids = new Int32Array(k * L);
        const eot = [2, 5, 11, 3, 7, 4];
        eot.forEach((e, i) => { for (let j = 0; j <= e; j++) ids[i * L + j] = 1 + ((i * 13 + j * 5) % 60); });
        const embeds = tf.tidy(() => tower.embed(tf.tensor2d(ids, [k, L], 'int32')));
        for (const truncate of [true, false]) {
          const want = tf.tidy(() => tower.encodeTokenEmbeddings(embeds, eot, truncate));
          const got = encoder.encodeTokenEmbeddings(embeds, eot, truncate);
          assert.deepEqual(got.shape, [k, textConfig.embedDim]);
          const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]);
          const scale = tf.tidy(() => tf.max(tf.abs(want)).dataSync()[0]);
          assert.ok(diff <= 1e-5 * Math.max(1, scale), `truncate ${truncate}: max |onnx - tfjs| = ${diff} (features up to ${scale})`);
          want.dispose();
          got.dispose();
        }
        assert.throws(() => encoder.encodeTokenEmbeddings(embeds, [2, 5, 12, 3, 7, 4]), /eotIndex\[2\] = 12 is outside \[0, 11\]/);
        assert.throws(() => encoder.encodeTokenEmbeddings(embeds, [2, 5]), /2 EOT positions for 6 sequences/);
        embeds.dispose();
      } finally {
        encoder.dispose();
        for (const t of p.created) t.dispose();
      }
      assert.equal(tf.memory().numTensors, before);
    });
  }

  describe('ClipModel.startOnnx: the frozen towers\' calls without a tape on onnxruntime', () => {
    const c: ClipConfig = { ...Object.values(CONFIGS)[2], transformerLayers: 2 }; // a ModifiedResNet CLIP
    const ids = { ids: new Int32Array([1, 7, 9, 63, 0, 0, 0, 0, 0, 0, 0, 0, 1, 4, 63, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 5, 6, 8, 2, 63, 0, 0, 0, 0, 0, 0]), shape: [3, 12] as [number, number] };
    const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
    let saved: string | undefined;
    beforeEach(() => { saved = process.env.PROMPTLAB_FROZEN; });
    afterEach(() => { if (saved === undefined) delete process.env.PROMPTLAB_FROZEN; else process.env.PROMPTLAB_FROZEN = saved; });

    it('encodeImage, encodeText and the prompt hook within 1e-5 of tfjs; under a tape tfjs computes them (the same gradient); stopOnnx gives tfjs\'s bits back', () => {
      const before = tf.memory().numTensors;
      const model = new ClipModel(c, randomStateDict(c, 11));
      try {
        const pixels = tf.randomNormal([4, 3, 64, 64], 0, 1, 'float32', 3) as tf.Tensor4D;
        const wantImage = model.encodeImage(pixels);
        const wantText = model.encodeText(ids);
        const embeds = model.tokenEmbeddings(ids);
        const eot = [3, 2, 5];
        const grad = () => tf.grad((e: tf.Tensor) => tf.sum(tf.square(model.encodeTokenEmbeddings(e as tf.Tensor3D, eot))))(embeds);
        const wantGrad = grad();
        model.startOnnx(['image', 'text'], 2);
        assert.deepEqual(model.onnxTowers.towers, ['image', 'text']);
        const gotImage = model.encodeImage(pixels);
        const gotText = model.encodeText(ids);
        const gotHook = model.encodeTokenEmbeddings(embeds, eot);
        assert.ok(maxDiff(gotImage, wantImage) <= 1e-5, `image: ${maxDiff(gotImage, wantImage)}`);
        assert.ok(maxDiff(gotText, wantText) <= 1e-5, `text: ${maxDiff(gotText, wantText)}`);
        assert.ok(maxDiff(gotHook, wantText) <= 1e-5, `prompt hook: ${maxDiff(gotHook, wantText)}`);
        assert.ok(maxDiff(gotImage, wantImage) > 0 || maxDiff(gotText, wantText) > 0, 'onnxruntime computed nothing: both outputs are tfjs\'s bits');
        const gotGrad = grad(); // under a tape: tfjs
        assert.equal(maxDiff(gotGrad, wantGrad), 0);
        model.stopOnnx();
        assert.deepEqual(model.onnxTowers.towers, []);
        const again = model.encodeImage(pixels);
        assert.equal(maxDiff(again, wantImage), 0);
        tf.dispose([pixels, wantImage, wantText, embeds, wantGrad, gotImage, gotText, gotHook, gotGrad, again]);
      } finally {
        model.dispose();
      }
      assert.equal(tf.memory().numTensors, before);
    });

    it('PROMPTLAB_FROZEN=onnx: startFrozenTowers puts both towers there and says so, run records name it; a bad value and a trainable model are refused', async () => {
      const model = new ClipModel(c, randomStateDict(c, 12));
      try {
        process.env.PROMPTLAB_FROZEN = 'onnx';
        const line = await model.startFrozenTowers();
        assert.match(line, /the frozen towers on onnxruntime-node 1\.30\.0 \(PROMPTLAB_FROZEN=onnx/);
        assert.deepEqual(model.onnxTowers, { towers: ['image', 'text'], version: '1.30.0' });
        assert.equal(environment().frozen, 'onnxruntime-node 1.30.0');
        await model.stopFrozenTowers();
        assert.deepEqual(model.onnxTowers.towers, []);
        process.env.PROMPTLAB_FROZEN = 'tfjs';
        assert.equal(environment().frozen, undefined);
        process.env.PROMPTLAB_FROZEN = 'onnxruntime';
        await assert.rejects(() => model.startFrozenTowers(), /PROMPTLAB_FROZEN='onnxruntime' must be tfjs \(the default\) or onnx/);
      } finally {
        model.dispose();
      }
      const trained = new ClipModel(c, randomStateDict(c, 12), '<random>', true);
      try {
        assert.throws(() => trained.startOnnx(), /trains its own weights/);
      } finally {
        trained.dispose();
      }
    });
  });
});
