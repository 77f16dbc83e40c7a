// DenseCLIP's training recipes: the official segmentation recipe (configs/denseclip_fpn_res50_512x512_80k.py
// with _base_/schedules/schedule_80k.py; methods.md 3.1 and 3.4) and its world version for MiniCLIP.
// A preset is everything `promptlab repro dense` trains with: the DenseCLIP configuration, the FPN
// head, AdamW with its parameter-wise multipliers, the poly schedule with its warm-up, batch and
// iterations, the input size and the augmentation.
import type { SegmenterConfig } from './segmenter';
import { DENSECLIP_RN50, type DenseClipConfig } from './denseclip';

export interface DenseClipOptimPreset {
  /** torch.optim.AdamW: lr, weight decay, betas and eps (PyTorch's defaults: 0.9, 0.999, 1e-8). */
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** paramwise_cfg lr_mult of the image backbone (0.1) and of the text encoder (0: frozen). */
  backboneLrMult: number;
  textLrMult: 0;
  /** mmcv's 'poly' policy per iteration: (lr - minLr) (1 - it / iterations)^power + minLr. */
  power: number;
  minLr: number;
  /** Linear warm-up over this share of the iterations (official 1500 of 80k), from lr x warmupRatio. */
  warmupFraction: number;
  warmupRatio: number;
  /** Images per iteration (all GPUs together) and iterations. */
  batchSize: number;
  iterations: number;
}

export interface DenseClipPreset {
  name: string;
  denseclip: DenseClipConfig;
  /** The FPN neck's and Semantic FPN head's width, the head's dropout. */
  fpn: SegmenterConfig['fpn'];
  optim: DenseClipOptimPreset;
  /** Training and test image side (official crops 512). */
  imageSize: number;
  /** Whether the image backbone trains (at lr x backboneLrMult) or stays frozen. */
  finetuneBackbone: boolean;
  /** Horizontal flip probability in training (mmseg RandomFlip, 0.5). */
  flipProb: number;
  /** Where the numbers come from and what was changed (recorded with every run). */
  source: string;
}

/** The official ADE20K recipe of DenseCLIP RN50 with Semantic FPN (methods.md 3.4). */
export const DENSECLIP_ADE20K_RN50: DenseClipPreset = {
  name: 'ade20k_rn50',
  denseclip: DENSECLIP_RN50,
  fpn: { channels: 256, dropout: 0.1 },
  optim: {
    lr: 1e-4, weightDecay: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8,
    backboneLrMult: 0.1, textLrMult: 0,
    power: 0.9, minLr: 1e-6, warmupFraction: 1500 / 80000, warmupRatio: 1e-6,
    batchSize: 32, iterations: 80000,
  },
  imageSize: 512,
  finetuneBackbone: true,
  flipProb: 0.5,
  source: 'raoyongming/DenseCLIP segmentation/configs/denseclip_fpn_res50_512x512_80k.py (schedule_80k, 4 images x 8 GPUs)',
};

/**
 * The official recipe on world-scenes with MiniCLIP (ModifiedResNet, width 16, embedding 128,
 * 32-token text context). Kept as the official config: AdamW (lr below), weight decay 1e-4, the
 * backbone's lr multiplier 0.1 and the text encoder's 0 (frozen, gradients pass through it to the
 * contexts), poly power 0.9 with min_lr 1e-6 and the warm-up over the same share of the run (1500 of
 * 80k), the auxiliary identity loss on score map / 0.07 at weight 0.4, context length 13 = 8
 * learned contexts + 5 class tokens (every world class name is at most 2 BPE tokens), the context
 * decoder's width 256, 4 heads, 3 layers and dropout 0.1 (its input and output width, visual_dim,
 * follow MiniCLIP's embedding: 128), the head's dropout 0.1, flips at 0.5.
 * Scaled to the world:
 * - 256 px scenes (official 512 crops): at MiniCLIP's stride 32 they give an 8 x 8 score map, where
 *   the benchmark's 128 px gives 4 x 4, too coarse for an object of 20-40% of the frame to show.
 * - The FPN width 64 (official 256): mmseg's FPN is as wide as RN50's first stage (4 x 64 = 256);
 *   MiniCLIP's first stage is 4 x 16 = 64 wide. The head at stride 4 is most of a step already (its
 *   forward and backward took ~3.0 of the 3.4 CPU seconds of a frozen-backbone step at batch 8);
 *   256 channels would multiply its convolutions' work by 16.
 * - The attention pool's heads: the CLIP's own (MiniCLIP's 8; dense.ts reads it from the model). The
 *   official 32 is RN50's own count, hard-coded; 32 heads on MiniCLIP's pool would not be the pool it
 *   was pretrained as.
 * - Batch 4 and 150 iterations (official 32 x 80k): what fits three methods x three seeds in about 45
 *   minutes on one WASM core (measured steps: src/repro/dense.ts), 1.5 passes over the 400 training
 *   scenes. At the official lr that is little training: on the quick split, the quick run's 30
 *   iterations left all three methods predicting background everywhere (mIoU 8.2 = the floor), and
 *   150 iterations took the baseline to 10.7 (lr 1e-3 reached 12.1 in 30).
 * - So lr 1e-3 (official 1e-4), chosen on world-scenes' val split (50 scenes at 256 px, seed 1, the
 *   full 150 iterations; predicting background everywhere scores 8.1 there): at 1e-3 the baseline
 *   reached 18.1 mIoU, fixed prompts 18.3 and DenseCLIP 18.3; at 1e-4 the baseline 10.9 and DenseCLIP
 *   11.0 (fixed prompts not run at 1e-4). One lr for
 *   all three methods, as the paper trains them with one schedule. The backbone's multiplier (0.1)
 *   and everything else keep the official values.
 * - The image backbone frozen for all three methods (official: fine-tuned at lr x 0.1): a fine-tuning
 *   step of 8 images at 256 px measured 4.1-5.3 s of CPU on this machine's one-core WASM against
 *   3.3-4.3 s frozen, far over the ~1 s under which fine-tuning would have fitted the budget.
 * - No resize-ratio jitter, crop or photometric distortion: the world's scenes already vary in object
 *   scale, style, colour and background, and a crop would shrink the 8 x 8 score map.
 */
export const DENSECLIP_WORLD: DenseClipPreset = {
  name: 'world',
  denseclip: { ...DENSECLIP_RN50, inputResolution: 256, attnpoolHeads: 8 },
  fpn: { channels: 64, dropout: 0.1 },
  optim: { ...DENSECLIP_ADE20K_RN50.optim, lr: 1e-3, batchSize: 4, iterations: 150 },
  imageSize: 256,
  finetuneBackbone: false,
  flipProb: 0.5,
  source: 'raoyongming/DenseCLIP denseclip_fpn_res50_512x512_80k.py scaled to world-scenes and MiniCLIP: 256 px, FPN width 64, the pool\'s own 8 heads, batch 4 x 150 iterations at lr 1e-3 (chosen on val over the official 1e-4), backbone frozen',
};

const DENSECLIP_PRESET_LIST: DenseClipPreset[] = [DENSECLIP_ADE20K_RN50, DENSECLIP_WORLD];

export const DENSECLIP_PRESET_NAMES: readonly string[] = DENSECLIP_PRESET_LIST.map((p) => p.name);

/** A DenseCLIP preset by name (a fresh copy: edit it freely). */
export function getDenseClipPreset(name: string): DenseClipPreset {
  const p = DENSECLIP_PRESET_LIST.find((q) => q.name === name);
  if (!p) throw new Error(`unknown DenseCLIP preset "${name}" (valid: ${DENSECLIP_PRESET_NAMES.join(', ')})`);
  return { ...p, denseclip: { ...p.denseclip, decoder: { ...p.denseclip.decoder } }, fpn: { ...p.fpn }, optim: { ...p.optim } };
}

/** Warm-up iterations of a preset: the official share of the run, rounded. */
export function warmupIterations(o: DenseClipOptimPreset): number {
  return Math.round(o.warmupFraction * o.iterations);
}

/**
 * The learning rate of (0-based) iteration `it` as mmcv 1.3's PolyLrUpdaterHook with linear warm-up
 * computes it: regular = (lr - minLr)(1 - it / iterations)^power + minLr; during the warm-up it is
 * multiplied by 1 - (1 - it / warmup)(1 - warmupRatio). (mmcv applies the policy to each parameter
 * group's own initial rate, so a group at lr x 0.1 ends at min_lr too; AdamW here multiplies the
 * rate given: a difference of at most min_lr in that group, and none where the backbone is frozen.)
 */
export function denseClipLr(it: number, o: DenseClipOptimPreset): number {
  const regular = (o.lr - o.minLr) * (1 - it / o.iterations) ** o.power + o.minLr;
  const warmup = warmupIterations(o);
  if (it >= warmup) return regular;
  return regular * (1 - (1 - it / warmup) * (1 - o.warmupRatio));
}
