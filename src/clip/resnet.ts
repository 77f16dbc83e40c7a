// CLIP's ModifiedResNet: a 3-conv stem with an average pool, anti-aliased strided bottlenecks
// (avgpool before the strided 1x1), BatchNorm in eval mode, and a multi-head attention pool.
// Works in NHWC internally; the public API takes and returns NCHW as PyTorch does.
import * as tf from '@tensorflow/tfjs';
import type { ClipConfig } from './config';
import { Attention, linear, multiHeadAttention } from './ops';
import type { BatchNorm, ParamReader } from './params';
import { conv2d } from './conv';
import { recompute, tensorsOf } from './recompute';

export interface ConvBn {
  filter: tf.Tensor4D;
  bn: BatchNorm;
  pad: number;
}

/** Batch statistics seen in training mode, to fold into the running statistics after a step. */
export interface BatchStats {
  bn: BatchNorm;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D; // unbiased, as PyTorch keeps it
}

export interface Bottleneck {
  conv1: ConvBn;
  conv2: ConvBn;
  conv3: ConvBn;
  stride: number;
  downsample?: ConvBn;
}

function readConvBn(p: ParamReader, conv: string, bn: string, out: number, inC: number, k: number): ConvBn {
  return { filter: p.convFilter(conv, out, inC, k), bn: p.batchNorm(bn, out), pad: (k - 1) / 2 };
}

function avgPool(x: tf.Tensor4D, k: number): tf.Tensor4D {
  return k > 1 ? tf.avgPool(x, k, k, 'valid') : x;
}

export class ModifiedResNet {
  private readonly stem: ConvBn[];
  private readonly stages: Bottleneck[][] = [];
  private readonly pool: Attention;
  private readonly poolPositional: tf.Tensor2D; // [1 + s^2, 32*width]
  private readonly spacial: number;             // s = R / 32
  /** Training mode: BatchNorm uses batch statistics and records them in `batchStats`. */
  training = false;
  readonly batchStats: BatchStats[] = [];
  /** False while a checkpointed part is recomputed in the backward: its statistics are recorded once. */
  private recording = true;

  constructor(p: ParamReader, readonly config: ClipConfig) {
    const w = config.visionWidth;
    this.stem = [
      readConvBn(p, 'visual.conv1.weight', 'visual.bn1', w / 2, 3, 3),
      readConvBn(p, 'visual.conv2.weight', 'visual.bn2', w / 2, w / 2, 3),
      readConvBn(p, 'visual.conv3.weight', 'visual.bn3', w, w / 2, 3),
    ];
    const layers = config.visionLayers as number[];
    let inplanes = w;
    for (let s = 0; s < 4; s++) {
      const planes = w * 2 ** s;
      const stage: Bottleneck[] = [];
      for (let b = 0; b < layers[s]; b++) {
        const pre = `visual.layer${s + 1}.${b}`;
        const stride = b === 0 && s > 0 ? 2 : 1;
        const block: Bottleneck = {
          conv1: readConvBn(p, `${pre}.conv1.weight`, `${pre}.bn1`, planes, inplanes, 1),
          conv2: readConvBn(p, `${pre}.conv2.weight`, `${pre}.bn2`, planes, planes, 3),
          conv3: readConvBn(p, `${pre}.conv3.weight`, `${pre}.bn3`, planes * 4, planes, 1),
          stride,
        };
        if (stride > 1 || inplanes !== planes * 4) {
          block.downsample = readConvBn(p, `${pre}.downsample.0.weight`, `${pre}.downsample.1`, planes * 4, inplanes, 1);
        }
        stage.push(block);
        inplanes = planes * 4;
      }
      this.stages.push(stage);
    }
    const c = w * 32;
    this.spacial = config.imageResolution / 32;
    this.poolPositional = p.tensor('visual.attnpool.positional_embedding', [this.spacial ** 2 + 1, c]) as tf.Tensor2D;
    this.pool = {
      q: p.linear('visual.attnpool.q_proj', c, c),
      k: p.linear('visual.attnpool.k_proj', c, c),
      v: p.linear('visual.attnpool.v_proj', c, c),
      out: p.linear('visual.attnpool.c_proj', c, config.embedDim),
      heads: config.visionHeads,
    };
  }

  /** conv (no bias, symmetric zero padding) then BatchNorm (eval: running stats; training: batch stats). */
  private convBn(x: tf.Tensor4D, c: ConvBn, stride = 1, inputGrad = true): tf.Tensor4D {
    const y = conv2d(x, c.filter, stride, c.pad, inputGrad);
    const { weight, bias, eps } = c.bn;
    if (!this.training) {
      const scale = tf.div(weight, tf.sqrt(tf.add(c.bn.runningVar, eps)));
      return tf.add(tf.mul(y, scale), tf.sub(bias, tf.mul(c.bn.runningMean, scale))) as tf.Tensor4D;
    }
    const { mean, variance } = tf.moments(y, [0, 1, 2]);
    const count = y.size / y.shape[3];
    if (!this.recording) return this.batchNorm(y, mean, variance, c.bn);
    this.batchStats.push({
      bn: c.bn,
      mean: tf.keep(tf.clone(mean)) as tf.Tensor1D,
      variance: tf.keep(tf.mul(variance, count / Math.max(count - 1, 1))) as tf.Tensor1D,
    });
    return this.batchNorm(y, mean, variance, c.bn);
  }

  private batchNorm(y: tf.Tensor4D, mean: tf.Tensor, variance: tf.Tensor, { weight, bias, eps }: BatchNorm): tf.Tensor4D {
    return tf.add(tf.mul(tf.div(tf.sub(y, mean), tf.sqrt(tf.add(variance, eps))), weight), bias) as tf.Tensor4D;
  }

  /**
   * A part of the trunk under a tape, checkpointed when its weights train (recompute.ts): the backward
   * recomputes it without recording its BatchNorm statistics again.
   */
  private segment(f: (x: tf.Tensor4D) => tf.Tensor4D, x: tf.Tensor4D, parts: unknown, inputGrad = true): tf.Tensor4D {
    return recompute((input: tf.Tensor4D, again) => {
      this.recording = !again;
      try {
        return f(input);
      } finally {
        this.recording = true;
      }
    }, x, tensorsOf(parts), [], inputGrad);
  }

  private bottleneck(x: tf.Tensor4D, b: Bottleneck): tf.Tensor4D {
    let out = tf.relu(this.convBn(x, b.conv1)) as tf.Tensor4D;
    out = tf.relu(this.convBn(out, b.conv2)) as tf.Tensor4D;
    out = this.convBn(avgPool(out, b.stride), b.conv3);
    const identity = b.downsample ? this.convBn(avgPool(x, b.stride), b.downsample) : x;
    return tf.relu(tf.add(out, identity)) as tf.Tensor4D;
  }

  /** Folds the recorded batch statistics into the running ones (PyTorch momentum 0.1), then forgets them. */
  updateRunningStats(momentum = 0.1): void {
    this.foldBatchStats(this.takeBatchStats(), momentum);
  }

  /** Every BatchNorm in the order a forward pass records them (stem, then each block's conv1-3 and downsample). */
  private bnOrder(): BatchNorm[] {
    const order = this.stem.map((c) => c.bn);
    for (const stage of this.stages) for (const b of stage) order.push(b.conv1.bn, b.conv2.bn, b.conv3.bn, ...(b.downsample ? [b.downsample.bn] : []));
    return order;
  }

  /**
   * The recorded batch statistics as one array (per record, in order: mean, then unbiased variance),
   * forgetting the tensors. Whole forward passes only: data-parallel workers exchange these and fold
   * every worker's passes in the same order (foldBatchStats).
   */
  takeBatchStats(): Float32Array {
    const order = this.bnOrder();
    if (this.batchStats.length % order.length !== 0 || this.batchStats.some((s, i) => s.bn !== order[i % order.length])) {
      throw new Error(`ModifiedResNet: ${this.batchStats.length} recorded batch statistics are not whole forward passes of ${order.length} BatchNorms`);
    }
    const size = this.batchStats.reduce((n, s) => n + 2 * s.mean.size, 0);
    const out = new Float32Array(size);
    let at = 0;
    for (const s of this.batchStats) {
      out.set(s.mean.dataSync(), at);
      out.set(s.variance.dataSync(), at + s.mean.size);
      at += 2 * s.mean.size;
      s.mean.dispose();
      s.variance.dispose();
    }
    this.batchStats.length = 0;
    return out;
  }

  /** Folds statistics laid out as takeBatchStats returns them (any number of forward passes) into the running ones. */
  foldBatchStats(stats: Float32Array, momentum = 0.1): void {
    const order = this.bnOrder();
    const perPass = order.reduce((n, bn) => n + 2 * bn.weight.size, 0);
    if (stats.length % perPass !== 0) throw new Error(`ModifiedResNet: ${stats.length} statistics are not whole forward passes of ${perPass}`);
    let at = 0;
    while (at < stats.length) {
      for (const bn of order) {
        const c = bn.weight.size;
        const { runningMean, runningVar } = bn;
        if (runningMean instanceof tf.Variable && runningVar instanceof tf.Variable) {
          tf.tidy(() => {
            runningMean.assign(tf.add(tf.mul(runningMean, 1 - momentum), tf.mul(tf.tensor1d(stats.subarray(at, at + c)), momentum)));
            runningVar.assign(tf.add(tf.mul(runningVar, 1 - momentum), tf.mul(tf.tensor1d(stats.subarray(at + c, at + 2 * c)), momentum)));
          });
        }
        at += 2 * c;
      }
    }
  }

  /** pixels NCHW [N, 3, H, W] -> layer4 map NHWC [N, H/32, W/32, 32*width]. */
  private trunk(pixels: tf.Tensor4D): tf.Tensor4D {
    const out = this.stageOutputs(pixels);
    return out[out.length - 1];
  }

  /**
   * pixels NCHW [N, 3, H, W] -> the four stages' outputs NHWC, at strides 4, 8, 16 and 32 with
   * 4, 8, 16 and 32 times the width in channels (DenseCLIP's c1..c4).
   */
  stageOutputs(pixels: tf.Tensor4D): tf.Tensor4D[] {
    if (pixels.shape[1] !== 3) throw new Error(`encodeImage: pixel_values have shape [${pixels.shape.join(', ')}], expected [N, 3, H, W]`);
    let x = tf.transpose(pixels, [0, 2, 3, 1]) as tf.Tensor4D;
    x = tf.tidy(() => this.segment((h) => {
      h = tf.relu(this.convBn(h, this.stem[0], 2, false)) as tf.Tensor4D; // pixels need no gradient
      h = tf.relu(this.convBn(h, this.stem[1])) as tf.Tensor4D;
      h = tf.relu(this.convBn(h, this.stem[2])) as tf.Tensor4D;
      return avgPool(h, 2);
    }, x, this.stem, false));
    const outputs: tf.Tensor4D[] = [];
    for (const stage of this.stages) {
      for (const b of stage) x = tf.tidy(() => this.segment((h) => this.bottleneck(h, b), x, b));
      outputs.push(x);
    }
    return outputs;
  }

  /** The tower's tensors in the layout encode() uses them (filters [k, k, in, out]), for exporters (src/onnx/resnet.ts). */
  parts(): { stem: readonly ConvBn[]; stages: readonly (readonly Bottleneck[])[]; pool: Attention; poolPositional: tf.Tensor2D } {
    return { stem: this.stem, stages: this.stages, pool: this.pool, poolPositional: this.poolPositional };
  }

  /** The attention pool's projections and its positional embedding [1 + s^2, C] (s = R / 32). */
  get attentionPool(): { attention: Attention; positional: tf.Tensor2D; grid: number } {
    return { attention: this.pool, positional: this.poolPositional, grid: this.spacial };
  }

  /** The attention pool's positional embedding for an h x w map (bilinear resize, as DenseCLIP). */
  private positional(h: number, w: number): tf.Tensor2D {
    if (h === this.spacial && w === this.spacial) return this.poolPositional;
    const c = this.poolPositional.shape[1];
    const cls = this.poolPositional.slice([0, 0], [1, c]);
    const grid = this.poolPositional.slice([1, 0], [-1, c]).reshape([1, this.spacial, this.spacial, c]) as tf.Tensor4D;
    const resized = tf.image.resizeBilinear(grid, [h, w], false, true).reshape([h * w, c]);
    return tf.concat([cls, resized], 0) as tf.Tensor2D;
  }

  /** layer4 NHWC -> the attention pool's tokens [N, 1 + h*w, C] (mean token first, positions added). */
  private poolTokens(map: tf.Tensor4D): tf.Tensor3D {
    const [n, h, w, c] = map.shape;
    const flat = map.reshape([n, h * w, c]);
    const tokens = tf.concat([tf.mean(flat, 1, true), flat], 1);
    return tf.add(tokens, this.positional(h, w)) as tf.Tensor3D;
  }

  /** [N, 3, H, W] -> image features [N, E]: the attention pool's output for the mean token. */
  encode(pixels: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const tokens = this.poolTokens(this.trunk(pixels));
      const query = tokens.slice([0, 0, 0], [-1, 1, -1]);
      const out = multiHeadAttention(query, tokens, this.pool);
      return out.reshape([out.shape[0], out.shape[2]]) as tf.Tensor2D;
    });
  }

  /**
   * MaskCLIP's dense features: each position of the layer4 map (positional embedding added) through
   * the attention pool's value and output projections only, no attention: [N, h, w, E].
   */
  denseFeatures(pixels: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const map = this.trunk(pixels);                                     // [N, h, w, C]
      const [n, h, w, c] = map.shape;
      const tokens = this.poolTokens(map).slice([0, 1, 0], [n, h * w, c]); // positions added, mean token dropped
      const out = linear(linear(tokens, this.pool.v), this.pool.out);      // [N, h*w, E]
      return out.reshape([n, h, w, out.shape[out.shape.length - 1] as number]) as tf.Tensor4D;
    });
  }

  /**
   * [N, 3, H, W] -> { tokens: the attention pool applied at every position [N, 1 + h*w, E]
   * (token 0 is the global feature, as DenseCLIP uses it), featureMap: layer4 NCHW [N, C, h, w] }.
   */
  tokens(pixels: tf.Tensor4D): { tokens: tf.Tensor3D; featureMap: tf.Tensor4D } {
    return tf.tidy(() => {
      const map = this.trunk(pixels);
      const tokens = this.poolTokens(map);
      return {
        tokens: multiHeadAttention(tokens, tokens, this.pool),
        featureMap: tf.transpose(map, [0, 3, 1, 2]) as tf.Tensor4D,
      };
    });
  }
}
