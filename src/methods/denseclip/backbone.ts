// DenseCLIP's image backbone (CLIPResNetWithAttention): CLIP's ModifiedResNet, its four stages as
// the multi-level features c1..c4, and its attention pool run at *every* position of the layer4 map,
// so that besides the global feature (the mean token's output) each position gets an embedding in
// the joint space. Two quirks of the official code are copied: the pool has 32 heads whatever its
// width, and its positional embedding is resized twice (at load from CLIP's grid to
// input_resolution / 32, then in every forward to the actual map size).
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../../clip/model';
import { Attention, isTrainable, multiHeadAttention } from '../../clip/ops';
import { ModifiedResNet } from '../../clip/resnet';
import { resizeBilinearNCHW } from './resize';

export interface DenseFeatures {
  /** The four stages' outputs NCHW: [B, 4w, H/4, W/4] ... [B, 32w, H/32, W/32]. */
  c: tf.Tensor4D[];
  /** The attention pool's output at the mean token: [B, E]. */
  globalFeat: tf.Tensor2D;
  /** The attention pool's output at every position of the layer4 map: [B, E, h, w]. */
  visualEmbeddings: tf.Tensor4D;
}

/** Bilinear resize (PyTorch's align_corners=False) of a positional grid [g*g, C] to [h*w, C]. */
function resizeGrid(grid: tf.Tensor2D, g: number, h: number, w: number): tf.Tensor2D {
  const c = grid.shape[1];
  const nchw = grid.reshape([1, g, g, c]).transpose([0, 3, 1, 2]) as tf.Tensor4D;
  return resizeBilinearNCHW(nchw, h, w).transpose([0, 2, 3, 1]).reshape([h * w, c]) as tf.Tensor2D;
}

export class DenseClipBackbone {
  readonly resnet: ModifiedResNet;
  /** The pool's positional embedding after the load-time resize: [1 + g*g, C], g = inputResolution / 32. */
  readonly positional: tf.Tensor2D;
  readonly grid: number;
  private readonly attention: Attention;

  constructor(clip: ClipModel, readonly inputResolution: number, heads = 32) {
    if (!(clip.visual instanceof ModifiedResNet)) throw new Error('DenseCLIP: the segmentation backbone here is a ModifiedResNet CLIP (RN50-style); this model has a ViT image tower');
    if (!Number.isInteger(inputResolution / 32) || inputResolution < 32) throw new Error(`DenseCLIP: inputResolution ${inputResolution} is not a positive multiple of 32`);
    this.resnet = clip.visual;
    const pool = this.resnet.attentionPool;
    const width = pool.attention.q.w.shape[1];
    if (width % heads !== 0) throw new Error(`DenseCLIP: the attention pool's width ${width} is not divisible by ${heads} heads`);
    this.attention = { ...pool.attention, heads };
    this.grid = inputResolution / 32;
    const c = pool.positional.shape[1];
    const resized = tf.tidy(() => {
      const cls = pool.positional.slice([0, 0], [1, c]);
      const spatial = pool.positional.slice([1, 0], [-1, c]) as tf.Tensor2D;
      return tf.concat([cls, pool.grid === this.grid ? spatial : resizeGrid(spatial, pool.grid, this.grid, this.grid)], 0) as tf.Tensor2D;
    });
    // the resized table is the parameter from here on (as the official load makes it): it trains with
    // the backbone when the CLIP model's weights do
    if (isTrainable(pool.positional)) {
      this.positional = tf.variable(resized, true);
      resized.dispose();
    } else {
      this.positional = resized;
    }
  }

  /** pixels NCHW [B, 3, H, W] -> c1..c4, the global feature and the dense embeddings. */
  features(pixels: tf.Tensor4D): DenseFeatures {
    return tf.tidy(() => {
      const stages = this.resnet.stageOutputs(pixels);                  // NHWC
      const c4 = stages[3];
      const [b, h, w, ch] = c4.shape;
      const flat = c4.reshape([b, h * w, ch]);
      const cls = this.positional.slice([0, 0], [1, ch]);
      const spatial = resizeGrid(this.positional.slice([1, 0], [-1, ch]) as tf.Tensor2D, this.grid, h, w);
      const tokens = tf.add(tf.concat([tf.mean(flat, 1, true), flat], 1), tf.concat([cls, spatial], 0)) as tf.Tensor3D; // [B, 1+hw, C]
      const out = multiHeadAttention(tokens, tokens, this.attention);  // [B, 1+hw, E]
      const e = out.shape[2];
      return {
        c: stages.map((s) => tf.transpose(s, [0, 3, 1, 2]) as tf.Tensor4D),
        globalFeat: out.slice([0, 0, 0], [b, 1, e]).reshape([b, e]) as tf.Tensor2D,
        visualEmbeddings: out.slice([0, 1, 0], [b, h * w, e]).reshape([b, h, w, e]).transpose([0, 3, 1, 2]) as tf.Tensor4D,
      };
    });
  }

  dispose(): void {
    this.positional.dispose();
  }
}
