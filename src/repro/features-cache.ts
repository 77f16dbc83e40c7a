// Frozen image features of a dataset's splits, computed once per (model, dataset) and shared by
// every seed and method of an experiment (the protocols with augmentation off).
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../clip/model';
import type { ClassificationDataset, ImageItem, SplitName } from '../data/dataset';
import { encodeImages } from '../eval/features';

export class SplitFeatures {
  private readonly cache = new Map<SplitName, tf.Tensor2D>();

  constructor(readonly model: ClipModel, readonly ds: ClassificationDataset, readonly log?: (s: string) => void) {}

  /** Normalised features [N, E] of the whole split, in split order. */
  all(split: SplitName): tf.Tensor2D {
    let f = this.cache.get(split);
    if (!f) {
      const items = this.ds.split(split);
      this.log?.(`  ${this.ds.name}: encoding ${items.length} ${split} images`);
      f = encodeImages(this.model, items.length, (i) => this.ds.image(items[i], split), (i) => items[i].label).features;
      this.cache.set(split, f);
    }
    return f;
  }

  /** Features of some items of a split (by their index in the split), in the order given. */
  of(split: SplitName, items: readonly ImageItem[]): tf.Tensor2D {
    const all = this.all(split);
    return tf.tidy(() => tf.gather(all, tf.tensor1d(items.map((it) => it.index), 'int32')) as tf.Tensor2D);
  }

  dispose(): void {
    for (const f of this.cache.values()) f.dispose();
    this.cache.clear();
  }
}
