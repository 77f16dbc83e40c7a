// Semantic segmentation metrics as mmseg 0.19 computes them (mmseg/core/evaluation/metrics.py):
// per class, the intersection and union of prediction and label are accumulated over the whole split
// (pixels labelled with the ignore index are left out), then
//   IoU_k = intersect_k / union_k (NaN for a class absent from both), mIoU = the mean over classes
//   that are not NaN, aAcc (pixel accuracy) = sum intersect / sum label, Acc_k = intersect_k / label_k.
// Values are fractions here; experiments report percent.

export interface SegmentationResult {
  /** Per-class IoU (NaN where the class is in neither prediction nor label). */
  iou: number[];
  /** Per-class accuracy (NaN where the class has no labelled pixel). */
  accuracy: number[];
  miou: number;
  /** mmseg's aAcc: correctly labelled pixels over all labelled pixels. */
  pixelAccuracy: number;
  /** Pixels counted (not ignored). */
  pixels: number;
}

export class SegmentationMetrics {
  private readonly intersect: Float64Array;
  private readonly predArea: Float64Array;
  private readonly labelArea: Float64Array;

  constructor(readonly numClasses: number, readonly ignoreIndex = 255) {
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`SegmentationMetrics: numClasses must be a positive integer, got ${numClasses}`);
    this.intersect = new Float64Array(numClasses);
    this.predArea = new Float64Array(numClasses);
    this.labelArea = new Float64Array(numClasses);
  }

  /** One image (or a batch, flattened): predicted class per pixel and the label per pixel. */
  add(pred: ArrayLike<number>, label: ArrayLike<number>): void {
    if (pred.length !== label.length) throw new Error(`SegmentationMetrics.add: ${pred.length} predicted pixels for ${label.length} labels`);
    const k = this.numClasses;
    for (let i = 0; i < label.length; i++) {
      const y = label[i];
      if (y === this.ignoreIndex) continue;
      if (!Number.isInteger(y) || y < 0 || y >= k) throw new Error(`SegmentationMetrics.add: label ${y} at pixel ${i} is neither a class (0..${k - 1}) nor the ignore index ${this.ignoreIndex}`);
      const p = pred[i];
      if (!Number.isInteger(p) || p < 0 || p >= k) throw new Error(`SegmentationMetrics.add: predicted class ${p} at pixel ${i} is outside 0..${k - 1}`);
      this.labelArea[y]++;
      this.predArea[p]++;
      if (p === y) this.intersect[y]++;
    }
  }

  result(): SegmentationResult {
    const iou: number[] = [];
    const accuracy: number[] = [];
    let intersect = 0;
    let labelled = 0;
    for (let c = 0; c < this.numClasses; c++) {
      const union = this.predArea[c] + this.labelArea[c] - this.intersect[c];
      iou.push(union > 0 ? this.intersect[c] / union : NaN);
      accuracy.push(this.labelArea[c] > 0 ? this.intersect[c] / this.labelArea[c] : NaN);
      intersect += this.intersect[c];
      labelled += this.labelArea[c];
    }
    const valid = iou.filter((v) => !Number.isNaN(v));
    return {
      iou,
      accuracy,
      miou: valid.length > 0 ? valid.reduce((a, b) => a + b, 0) / valid.length : NaN,
      pixelAccuracy: labelled > 0 ? intersect / labelled : NaN,
      pixels: labelled,
    };
  }
}
