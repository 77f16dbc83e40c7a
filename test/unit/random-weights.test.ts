// lazyRandomStateDict: a tower's random weights drawn tensor by tensor when read (promptlab bench).
import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs';
import type { ClipConfig } from '../../src/clip/config';
import { clipShapes, lazyRandomStateDict } from '../../src/clip/random';
import { ParamReader } from '../../src/clip/params';
import { VisionTransformer } from '../../src/clip/vit';
import { ModifiedResNet } from '../../src/clip/resnet';

const text = { contextLength: 12, vocabSize: 64, transformerWidth: 32, transformerHeads: 4, transformerLayers: 2 };
const common = { textAct: 'quick_gelu' as const, visionAct: 'quick_gelu' as const, layerNormEps: 1e-5, embedDim: 24 };
const VIT: ClipConfig = { ...text, ...common, imageResolution: 16, visionLayers: 2, visionWidth: 40, visionPatchSize: 4, visionHeads: 5 };
const RN: ClipConfig = { ...text, ...common, imageResolution: 32, visionLayers: [1, 1, 1, 1], visionWidth: 8, visionPatchSize: null, visionHeads: 4 };

describe('lazy random weights', () => {
  it('has every key of the config with its shape, draws the same values on every read and others for another seed', () => {
    const sd = lazyRandomStateDict(VIT, 5);
    const shapes = clipShapes(VIT);
    assert.deepEqual([...sd.keys()], [...shapes.keys()]);
    for (const [key, shape] of shapes) {
      const t = sd.get(key)!;
      assert.deepEqual(t.shape, shape.length ? shape : [1], key);
      assert.deepEqual(sd.get(key)!.data, t.data, `${key} drawn twice`);
    }
    assert.equal(sd.get('no.such.key'), undefined);
    assert.ok(!sd.has('no.such.key') && sd.has('visual.proj'));
    const a = sd.get('visual.transformer.resblocks.0.mlp.c_fc.weight')!.data;
    const b = lazyRandomStateDict(VIT, 6).get('visual.transformer.resblocks.0.mlp.c_fc.weight')!.data;
    assert.notDeepEqual(a, b);
    // the distribution randomStateDict documents: fan-in scaled matrices, LayerNorm gains near 1
    const std = Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
    assert.ok(Math.abs(std * Math.sqrt(40) - 1) < 0.1, `c_fc std x sqrt(fan-in) = ${std * Math.sqrt(40)}`);
    const g = sd.get('visual.ln_post.weight')!.data;
    assert.ok(g.every((v) => Math.abs(v - 1) < 0.5));
  });

  it('builds one image tower alone, reading only its own keys; the tensors are freed with it', () => {
    for (const c of [VIT, RN]) {
      const before = tf.memory().numTensors;
      const p = new ParamReader(lazyRandomStateDict(c, 0), '<random weights>');
      const tower = c.visionPatchSize ? new VisionTransformer(p, c) : new ModifiedResNet(p, c);
      assert.ok([...p.shapes.keys()].every((k) => k.startsWith('visual.')));
      const r = c.imageResolution;
      const out = tf.tidy(() => tower.encode(tf.ones([2, 3, r, r]) as tf.Tensor4D));
      assert.deepEqual(out.shape, [2, c.embedDim]);
      assert.ok((out.dataSync() as Float32Array).every(Number.isFinite));
      out.dispose();
      for (const t of p.created) t.dispose();
      assert.equal(tf.memory().numTensors, before);
    }
  });
});
