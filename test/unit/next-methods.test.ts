// The model card's measurements for the next methods: mIoU from a confusion matrix, MaskCLIP-style
// dense features, and the all-background baseline.
import * as assert from 'assert';
import * as tf from '@tensorflow/tfjs';
import type { SegmentationDataset } from '../../src/data/dataset';
import { getWorldDataset } from '../../src/data/world-benchmarks';
import { loadMiniClip } from '../../src/miniclip';
import { denseZeroshot, meanIoU } from '../../src/miniclip/next-methods';

describe('model card: what the next methods build on', () => {
  it('mIoU over the classes present in the labels or the predictions (hand-computed)', () => {
    // truth rows, predictions columns: class 2 never occurs
    const c = Float64Array.from([
      8, 2, 0,
      1, 4, 0,
      0, 0, 0,
    ]);
    // IoU0 = 8 / (10 + 9 - 8) = 8/11, IoU1 = 4 / (5 + 6 - 4) = 4/7
    assert.ok(Math.abs(meanIoU(c, 3) - (100 * (8 / 11 + 4 / 7)) / 2) < 1e-9);
    assert.strictEqual(meanIoU(new Float64Array(9), 3), 0);
  });

  it('dense zero-shot on world-scenes: a 4 x 4 grid at 128 px, the background baseline is the background share over the classes present', function () {
    this.timeout(120000);
    const { model, tokenizer } = loadMiniClip();
    try {
      const px = tf.zeros([2, 3, 128, 128]) as tf.Tensor4D;
      const dense = model.denseFeatures(px);
      assert.deepStrictEqual(dense.shape, [2, 4, 4, model.config.embedDim]);
      tf.dispose([px, dense]);
      const ds = getWorldDataset('world-scenes', { quick: true }) as SegmentationDataset;
      const before = tf.memory().numTensors;
      const d = denseZeroshot(model, tokenizer, ds);
      assert.strictEqual(tf.memory().numTensors, before, 'no tensor left behind');
      const present = new Set(ds.split('test').flatMap((it) => Array.from(new Set(ds.example(it, 'test').labels)))).size;
      assert.ok(Math.abs(d.backgroundBaseline - d.backgroundShare / present) < 1e-9, `${d.backgroundBaseline} vs ${d.backgroundShare} / ${present}`);
      assert.deepStrictEqual(d.grid, [4, 4]);
    } finally {
      model.dispose();
    }
  });
});
