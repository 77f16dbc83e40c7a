// mmseg's segmentation metrics, on cases computed by hand.
import * as assert from 'assert';
import { SegmentationMetrics } from '../../src/eval/segmentation';

describe('segmentation metrics (mmseg 0.19)', () => {
  it('IoU, mIoU, pixel and class accuracy over a split, the ignore index left out', () => {
    const m = new SegmentationMetrics(3, 255);
    // image 1: labels 0 0 1 1 255, predictions 0 1 1 1 2 (the ignored pixel's prediction does not count)
    m.add([0, 1, 1, 1, 2], [0, 0, 1, 1, 255]);
    // image 2: labels 2 2 0, predictions 2 0 0
    m.add([2, 0, 0], [2, 2, 0]);
    const r = m.result();
    // class 0: intersect 1 + 1 = 2, pred 1 + 2 = 3, label 2 + 1 = 3 -> union 4, IoU 0.5, Acc 2/3
    // class 1: intersect 2, pred 3, label 2 -> union 3, IoU 2/3, Acc 1
    // class 2: intersect 1, pred 1, label 2 -> union 2, IoU 0.5, Acc 0.5
    assert.deepStrictEqual(r.iou, [0.5, 2 / 3, 0.5]);
    assert.deepStrictEqual(r.accuracy, [2 / 3, 1, 0.5]);
    assert.strictEqual(r.miou, (0.5 + 2 / 3 + 0.5) / 3);
    assert.strictEqual(r.pixelAccuracy, 5 / 7);
    assert.strictEqual(r.pixels, 7);
  });

  it('a class in neither prediction nor label is NaN and left out of the mean (nanmean)', () => {
    const m = new SegmentationMetrics(4);
    m.add([0, 1, 1], [0, 1, 0]);
    const r = m.result();
    assert.ok(Number.isNaN(r.iou[2]) && Number.isNaN(r.iou[3]));
    assert.strictEqual(r.miou, (0.5 + 0.5) / 2); // class 0: 1 / (1 + 2 - 1); class 1: 1 / (2 + 1 - 1)
    // a class predicted but never labelled has IoU 0 (it counts), and accuracy NaN
    const p = new SegmentationMetrics(3);
    p.add([2, 0], [0, 0]);
    assert.deepStrictEqual(p.result().iou.slice(0, 3).map((v) => (Number.isNaN(v) ? 'nan' : v)), [0.5, 'nan', 0]);
    assert.ok(Number.isNaN(p.result().accuracy[2]));
  });

  it('refuses labels and predictions outside the classes, naming the pixel', () => {
    const m = new SegmentationMetrics(3);
    assert.throws(() => m.add([0, 0], [0, 5]), /label 5 at pixel 1 is neither a class \(0\.\.2\) nor the ignore index 255/);
    assert.throws(() => m.add([0, 3], [0, 1]), /predicted class 3 at pixel 1 is outside 0\.\.2/);
    assert.throws(() => m.add([0], [0, 1]), /1 predicted pixels for 2 labels/);
  });
});
