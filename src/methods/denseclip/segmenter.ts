// A semantic segmenter on a CLIP ResNet, in the three forms DenseCLIP's paper compares:
//   'baseline'       c1..c4 -> FPN -> logits: CLIP's image features, no language;
//   'fixed-prompts'  the score map cos(V, t) of hand-crafted prompts ("a photo of a {}.") concatenated
//                    to c4, with the auxiliary loss: language guidance without learned context;
//   'denseclip'      DenseCLIP: learned contexts, the context decoder (or pre-model prompting), the
//                    score map concatenated to c4 and the auxiliary loss.
// Training (all three): CE(logits upsampled to the labels) [+ 0.4 CE(score map / tau)], AdamW with the
// image backbone at lr x 0.1 and the text encoder frozen (lr x 0), no weight decay on norms and biases,
// as configs/denseclip_fpn_res50_512x512_80k.py. The backbone's BatchNorms keep their running
// statistics here (mmseg trains them as SyncBN over 32 images; MiniCLIP's batches are a few images).
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../../clip/model';
import type { StateDict } from '../../clip/weights';
import type { AdamWParam } from '../../train/adamw';
import { l2normalize } from '../method';
import { DenseClipBackbone } from './backbone';
import { DenseCLIP, segmentationLoss, type ClassTokens, type DenseClipConfig } from './denseclip';
import { SemanticFpn } from './fpn';
import { resizeBilinearNCHW } from './resize';

export type SegmenterMode = 'baseline' | 'fixed-prompts' | 'denseclip';
export const SEGMENTER_MODES: readonly SegmenterMode[] = ['baseline', 'fixed-prompts', 'denseclip'];

export interface SegmenterConfig {
  mode: SegmenterMode;
  denseclip: DenseClipConfig;
  /** The FPN's width and the head's dropout (official 256, 0.1). */
  fpn: { channels: number; dropout: number };
  /** The image backbone's learning-rate multiplier (official 0.1). */
  backboneLrMult: number;
}

export interface SegmenterOutput {
  /** [B, K, H/4, W/4] */
  logits: tf.Tensor4D;
  /** [B, K, H/32, W/32], or null for the baseline. */
  scoreMap: tf.Tensor4D | null;
}

export class DenseClipSegmenter {
  readonly fpn: SemanticFpn;
  /** The DenseCLIP part ('denseclip' mode). */
  readonly denseclip: DenseCLIP | null;
  private readonly backbone: DenseClipBackbone;
  /** The fixed prompts' text features [K, E] ('fixed-prompts' mode). */
  private readonly fixedText: tf.Tensor2D | null;

  /**
   * `clip` should be built trainable when its image tower is to be fine-tuned. `classTokens` are the
   * class names tokenized for DenseCLIP ('denseclip'); `promptTokens` the full hand-crafted prompts
   * ('fixed-prompts'); `weights` the DenseCLIP and FPN weights (denseClipInitialWeights, fpnInitialWeights).
   */
  constructor(
    readonly clip: ClipModel,
    readonly numClasses: number,
    readonly config: SegmenterConfig,
    weights: { denseclip?: StateDict; fpn: StateDict },
    tokens: { classTokens?: ClassTokens; promptTokens?: { ids: Int32Array; shape: [number, number] } },
  ) {
    const { mode } = config;
    if (!SEGMENTER_MODES.includes(mode)) throw new Error(`DenseClipSegmenter: unknown mode '${mode}' (valid: ${SEGMENTER_MODES.join(', ')})`);
    if (mode === 'denseclip') {
      if (!tokens.classTokens || !weights.denseclip) throw new Error("DenseClipSegmenter: 'denseclip' needs the class tokens and DenseCLIP's weights");
      this.denseclip = new DenseCLIP(clip, tokens.classTokens, config.denseclip, weights.denseclip);
      this.backbone = this.denseclip.backbone;
    } else {
      this.denseclip = null;
      this.backbone = new DenseClipBackbone(clip, config.denseclip.inputResolution, config.denseclip.attnpoolHeads);
    }
    if (mode === 'fixed-prompts') {
      if (!tokens.promptTokens || tokens.promptTokens.shape[0] !== numClasses) throw new Error(`DenseClipSegmenter: 'fixed-prompts' needs one tokenized prompt per class (${numClasses})`);
      const pt = tokens.promptTokens;
      this.fixedText = tf.tidy(() => tf.keep(clip.encodeText(pt)));
    } else {
      this.fixedText = null;
    }
    const w = clip.config.visionWidth;
    const inChannels = [4 * w, 8 * w, 16 * w, 32 * w];
    if (mode !== 'baseline') inChannels[config.denseclip.scoreConcatIndex] += numClasses;
    this.fpn = new SemanticFpn({ inChannels, channels: config.fpn.channels, numClasses, dropout: config.fpn.dropout }, weights.fpn);
  }

  /** Seeds every dropout of the head and the context decoder (set it to the run's seed). */
  set dropoutSeed(seed: number) {
    this.fpn.dropoutSeed = seed;
    if (this.denseclip?.decoder) this.denseclip.decoder.dropoutSeed = seed;
    if (this.denseclip?.generator) this.denseclip.generator.dropoutSeed = seed;
  }

  set training(on: boolean) {
    this.fpn.training = on;
    if (this.denseclip?.decoder) this.denseclip.decoder.training = on;
    if (this.denseclip?.generator) this.denseclip.generator.training = on;
  }

  forward(pixels: tf.Tensor4D): SegmenterOutput {
    const out = tf.tidy((): { logits: tf.Tensor4D; scoreMap?: tf.Tensor4D } => {
      if (this.denseclip) {
        const d = this.denseclip.forward(pixels);
        return { logits: this.fpn.forward(d.neckInputs), scoreMap: d.scoreMap };
      }
      if (!this.fixedText) {
        // the baseline: the four stages only (the attention pool is not used)
        const c = this.backbone.resnet.stageOutputs(pixels).map((x) => tf.transpose(x, [0, 3, 1, 2]) as tf.Tensor4D);
        return { logits: this.fpn.forward(c) };
      }
      const f = this.backbone.features(pixels);
      const [b] = f.visualEmbeddings.shape;
      const text = tf.broadcastTo(l2normalize(this.fixedText), [b, ...this.fixedText.shape]) as tf.Tensor3D;
      const scoreMap = DenseCLIP.scoreMap(f.visualEmbeddings, text);
      const i = this.config.denseclip.scoreConcatIndex;
      const inputs = f.c.map((c, j) => (j === i ? (tf.concat([c, scoreMap], 1) as tf.Tensor4D) : c));
      return { logits: this.fpn.forward(inputs), scoreMap };
    });
    return { logits: out.logits, scoreMap: out.scoreMap ?? null };
  }

  /** The training loss: the decode head's CE, plus the auxiliary score-map loss where there is one. */
  loss(pixels: tf.Tensor4D, labels: { data: ArrayLike<number>; shape: [number, number, number] }): tf.Scalar {
    return tf.tidy(() => {
      const { logits, scoreMap } = this.forward(pixels);
      const c = this.config.denseclip;
      const main = segmentationLoss(logits, labels, c.ignoreIndex);
      if (!scoreMap) return main;
      return tf.add(main, segmentationLoss(tf.div(scoreMap, c.tau) as tf.Tensor4D, labels, c.ignoreIndex, c.auxLossWeight)) as tf.Scalar;
    });
  }

  /** Class per pixel [B, H, W] (logits upsampled bilinearly to H x W, argmax), as mmseg predicts. */
  predict(pixels: tf.Tensor4D, height: number, width: number): Int32Array {
    return tf.tidy(() => {
      const { logits } = this.forward(pixels);
      return tf.argMax(resizeBilinearNCHW(logits, height, width), 1).dataSync() as Int32Array;
    });
  }

  /**
   * What trains, with its learning-rate multiplier and weight decay: the image backbone's weights
   * (when the CLIP model is trainable) at backboneLrMult, DenseCLIP's and the FPN's at 1; norms and
   * biases without decay. The text encoder is not listed (lr x 0).
   */
  paramGroups(): AdamWParam[] {
    const groups: AdamWParam[] = [];
    const lrMult = this.config.backboneLrMult;
    // the stages always; the attention pool where it is used (not by the baseline), with the resized
    // positional table in place of CLIP's
    const usesPool = this.config.mode !== 'baseline';
    const visual = this.clip.trainableVariables().filter(({ key }) => key.startsWith('visual.') && (usesPool ? key !== 'visual.attnpool.positional_embedding' : !key.startsWith('visual.attnpool.')));
    for (const { key, variable } of visual) groups.push({ key, variable, decay: variable.rank > 1, lrMult });
    const pos = this.backbone.positional;
    if (usesPool && pos instanceof tf.Variable) groups.push({ key: 'visual.attnpool.positional_embedding', variable: pos, decay: false, lrMult });
    const own = [...(this.denseclip?.trainableVariables() ?? []), ...this.fpn.trainableVariables()];
    for (const v of own) groups.push({ key: v.name, variable: v, decay: v.rank > 1 });
    return groups;
  }

  dispose(): void {
    this.fpn.dispose();
    if (this.denseclip) this.denseclip.dispose();
    else this.backbone.dispose();
    this.fixedText?.dispose();
  }
}
