// CLIP's VisionTransformer: patchify, class token, pre-LN transformer, ln_post, projection.
import * as tf from '@tensorflow/tfjs';
import type { ClipConfig } from './config';
import { layerNorm, matMul, Norm, ResidualBlock } from './ops';
import { checkpointedBlock } from './recompute';
import type { ParamReader } from './params';

export class VisionTransformer {
  private readonly patchW: tf.Tensor2D;   // [3*p*p, width] (conv1 with stride = kernel as a matMul)
  private readonly classEmbedding: tf.Tensor1D;
  private readonly positional: tf.Tensor2D; // [1 + grid^2, width]
  private readonly lnPre: Norm;
  private readonly blocks: ResidualBlock[] = [];
  private readonly lnPost: Norm;
  private readonly proj: tf.Tensor2D;     // [width, E]
  private readonly patch: number;
  private readonly grid: number;

  constructor(p: ParamReader, readonly config: ClipConfig) {
    const w = config.visionWidth;
    const eps = config.layerNormEps;
    this.patch = config.visionPatchSize as number;
    this.grid = config.imageResolution / this.patch;
    this.patchW = p.transposedRows('visual.conv1.weight', [w, 3, this.patch, this.patch], 0, w);
    this.classEmbedding = p.tensor('visual.class_embedding', [w]) as tf.Tensor1D;
    this.positional = p.tensor('visual.positional_embedding', [1 + this.grid * this.grid, w]) as tf.Tensor2D;
    this.lnPre = p.norm('visual.ln_pre', w, eps);
    const layers = config.visionLayers as number;
    for (let i = 0; i < layers; i++) {
      this.blocks.push(p.block(`visual.transformer.resblocks.${i}`, w, config.visionHeads, config.visionAct, eps));
    }
    this.lnPost = p.norm('visual.ln_post', w, eps);
    this.proj = p.tensor('visual.proj', [w, config.embedDim]) as tf.Tensor2D;
  }

  /** The tower's tensors in the layout encode() uses them, for exporters (src/onnx/vit.ts). */
  parts(): { patchW: tf.Tensor2D; classEmbedding: tf.Tensor1D; positional: tf.Tensor2D; lnPre: Norm; blocks: readonly ResidualBlock[]; lnPost: Norm; proj: tf.Tensor2D; patch: number; grid: number } {
    const { patchW, classEmbedding, positional, lnPre, blocks, lnPost, proj, patch, grid } = this;
    return { patchW, classEmbedding, positional, lnPre, blocks, lnPost, proj, patch, grid };
  }

  /** pixels NCHW [N, 3, R, R] -> transformer output [N, 1 + grid^2, width] (before ln_post). */
  private features(pixels: tf.Tensor4D): tf.Tensor3D {
    const [n, c, h, wd] = pixels.shape;
    const r = this.config.imageResolution;
    if (c !== 3 || h !== r || wd !== r) {
      throw new Error(`encodeImage: pixel_values have shape [${pixels.shape.join(', ')}], this ViT expects [N, 3, ${r}, ${r}]`);
    }
    const { patch: p, grid: g } = this;
    const width = this.config.visionWidth;
    // [N,3,g,p,g,p] -> [N,g,g,3,p,p] -> [N*g*g, 3*p*p]: each row is one patch in conv1's weight order.
    const patches = pixels.reshape([n, 3, g, p, g, p]).transpose([0, 2, 4, 1, 3, 5]).reshape([n * g * g, 3 * p * p]);
    const tokens = matMul(patches as tf.Tensor2D, this.patchW).reshape([n, g * g, width]);
    const cls = tf.broadcastTo(this.classEmbedding.reshape([1, 1, width]), [n, 1, width]);
    let x = layerNorm(tf.add(tf.concat([cls, tokens], 1), this.positional), this.lnPre) as tf.Tensor3D;
    // intermediates die per block; with trainable weights under a tape (and --recompute), each half
    // of a block recomputes its activations in the backward (recompute.ts)
    for (const b of this.blocks) x = tf.tidy(() => checkpointedBlock(x, b));
    return x;
  }

  /** [N, 3, R, R] -> image features [N, E] (class token after ln_post, projected). */
  encode(pixels: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const x = this.features(pixels);
      const cls = x.slice([0, 0, 0], [-1, 1, -1]).reshape([x.shape[0], x.shape[2]]);
      return matMul(layerNorm(cls, this.lnPost) as tf.Tensor2D, this.proj);
    });
  }

  /** [N, 3, R, R] -> ln_post of every token times proj [N, 1 + grid^2, E] (token 0 = class). */
  tokens(pixels: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => {
      const x = this.features(pixels);
      const [n, t, w] = x.shape;
      return matMul(layerNorm(x, this.lnPost).reshape([n * t, w]) as tf.Tensor2D, this.proj).reshape([n, t, -1]) as tf.Tensor3D;
    });
  }
}
