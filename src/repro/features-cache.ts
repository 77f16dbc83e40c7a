// Frozen image features of a dataset's splits (the test transform), computed once per (model,
// dataset) and shared by every seed and method of an experiment: the image encoder's raw output
// (CoOp's linear probe reads it) and its L2-normalised rows (zero-shot, evaluation, --cached-features).
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../clip/model';
import type { RawImage } from '../clip/image';
import type { SplitName } from '../data/dataset';
import { encodeImages } from '../eval/features';
import { l2normalize } from '../methods/method';

/** A dataset of images in splits: classification and compositional datasets alike. */
export interface ImageSplits<I extends { index: number }> {
  name: string;
  split(name: SplitName): I[];
  image(item: I, split: SplitName): RawImage;
}

export class SplitFeatures<I extends { index: number } = { index: number; label: number }> {
  private readonly rawCache = new Map<SplitName, tf.Tensor2D>();
  private readonly normCache = new Map<SplitName, tf.Tensor2D>();

  constructor(readonly model: ClipModel, readonly ds: ImageSplits<I>, readonly log?: (s: string) => void) {}

  /** The image encoder's output [N, E] for the whole split, in split order (not normalised). */
  raw(split: SplitName): tf.Tensor2D {
    let f = this.rawCache.get(split);
    if (!f) {
      const items = this.ds.split(split);
      this.log?.(`  ${this.ds.name}: encoding ${items.length} ${split} images`);
      f = encodeImages(this.model, items.length, (i) => this.ds.image(items[i], split), () => 0, { normalize: false }).features;
      this.rawCache.set(split, f);
    }
    return f;
  }

  /** Normalised features [N, E] of the whole split, in split order. */
  all(split: SplitName): tf.Tensor2D {
    let f = this.normCache.get(split);
    if (!f) {
      const raw = this.raw(split);
      f = tf.tidy(() => l2normalize(raw));
      this.normCache.set(split, f);
    }
    return f;
  }

  /** Normalised features of some items of a split (by their index in the split), in the order given. */
  of(split: SplitName, items: readonly { index: number }[]): tf.Tensor2D {
    return gatherRows(this.all(split), items);
  }

  /** Raw features of some items of a split, in the order given. */
  rawOf(split: SplitName, items: readonly { index: number }[]): tf.Tensor2D {
    return gatherRows(this.raw(split), items);
  }

  dispose(): void {
    for (const f of [...this.rawCache.values(), ...this.normCache.values()]) f.dispose();
    this.rawCache.clear();
    this.normCache.clear();
  }
}

function gatherRows(all: tf.Tensor2D, items: readonly { index: number }[]): tf.Tensor2D {
  return tf.tidy(() => tf.gather(all, tf.tensor1d(items.map((it) => it.index), 'int32')) as tf.Tensor2D);
}
