// The segmentation decoder DenseCLIP trains on top of the backbone: an FPN neck and a Semantic FPN
// head (Kirillov et al.), as mmseg builds them for DenseCLIP's configs, sized for MiniCLIP.
//
//   neck:  l_i = conv1x1(c_i);  l_{i-1} += nearest_upsample(l_i) (top-down);  p_i = conv3x3(l_i)
//   head:  each p_i -> [conv3x3 + ReLU, x2 bilinear upsample] until stride 4;  sum;  dropout;  conv1x1 -> K
//
// One deviation, for MiniCLIP's small batches: the head's 3x3 convs carry a bias and no BatchNorm
// (mmseg uses SyncBN over 32 images). Inits as mmseg: the neck's convs Xavier-uniform, the head's
// Kaiming-normal (fan_out, ReLU), the classifier N(0, 0.01^2); biases 0.
import * as tf from '@tensorflow/tfjs';
import { conv2d } from '../../clip/conv';
import { ParamReader } from '../../clip/params';
import type { StateDict } from '../../clip/weights';
import { streamFor } from '../../random';
import { resizeBilinearNCHW, resizeNearestNCHW } from './resize';

export interface FpnConfig {
  /** Channels of c1..c4 as the neck receives them (c4 with the score map's K added). */
  inChannels: number[];
  /** The neck's and the head's width (official 256). */
  channels: number;
  numClasses: number;
  /** Dropout before the classifier, in training (official 0.1). */
  dropout: number;
}

interface Conv {
  filter: tf.Tensor4D; // [k, k, in, out]
  bias: tf.Tensor1D;
  pad: number;
}

const nchw = (x: tf.Tensor4D) => tf.transpose(x, [0, 3, 1, 2]) as tf.Tensor4D;
const nhwc = (x: tf.Tensor4D) => tf.transpose(x, [0, 2, 3, 1]) as tf.Tensor4D;

export class SemanticFpn {
  private readonly params: ParamReader;
  private readonly lateral: Conv[];
  private readonly fpnConvs: Conv[];
  private readonly scaleHeads: Conv[][];
  private readonly classifier: Conv;
  training = false;

  /** Seeds the dropout masks (each draw gets the next one of this seed's stream): runs repeat bit for bit. */
  dropoutSeed = 0;
  private dropoutDraws = 0;

  constructor(readonly config: FpnConfig, weights: StateDict, source = 'FPN weights') {
    const { inChannels, channels, numClasses } = config;
    this.params = new ParamReader(weights, source, true);
    const conv = (key: string, out: number, inC: number, k: number): Conv => ({
      filter: this.params.convFilter(`${key}.weight`, out, inC, k),
      bias: this.params.tensor(`${key}.bias`, [out]) as tf.Tensor1D,
      pad: (k - 1) / 2,
    });
    this.lateral = inChannels.map((c, i) => conv(`neck.lateral_convs.${i}.conv`, channels, c, 1));
    this.fpnConvs = inChannels.map((_, i) => conv(`neck.fpn_convs.${i}.conv`, channels, channels, 3));
    this.scaleHeads = inChannels.map((_, i) => Array.from({ length: Math.max(1, i) }, (__, j) => conv(`decode_head.scale_heads.${i}.${j}.conv`, channels, channels, 3)));
    this.classifier = conv('decode_head.conv_seg', numClasses, channels, 1);
  }

  private apply(x: tf.Tensor4D, c: Conv): tf.Tensor4D {
    return tf.add(conv2d(x, c.filter, 1, c.pad), c.bias) as tf.Tensor4D;
  }

  /** The neck's inputs NCHW (strides 4, 8, 16, 32) -> class logits NCHW [B, K, H/4, W/4]. */
  forward(features: tf.Tensor4D[]): tf.Tensor4D {
    if (features.length !== this.lateral.length) throw new Error(`SemanticFpn: ${features.length} feature maps for ${this.lateral.length} levels`);
    features.forEach((f, i) => {
      if (f.shape[1] !== this.config.inChannels[i]) throw new Error(`SemanticFpn: level ${i + 1} has ${f.shape[1]} channels, the neck expects ${this.config.inChannels[i]}`);
    });
    return tf.tidy(() => {
      const laterals = features.map((f, i) => nchw(this.apply(nhwc(f), this.lateral[i])));          // NCHW
      for (let i = laterals.length - 1; i > 0; i--) {
        const [, , h, w] = laterals[i - 1].shape;
        laterals[i - 1] = tf.add(laterals[i - 1], resizeNearestNCHW(laterals[i], h, w)) as tf.Tensor4D;
      }
      const outs = laterals.map((l, i) => this.apply(nhwc(l), this.fpnConvs[i]));                   // NHWC
      let sum: tf.Tensor4D | null = null;
      outs.forEach((p, i) => {
        let x = p;
        this.scaleHeads[i].forEach((c) => {
          x = tf.relu(this.apply(x, c)) as tf.Tensor4D;
          if (i > 0) {
            const [, h, w] = x.shape;
            x = nhwc(resizeBilinearNCHW(nchw(x), 2 * h, 2 * w));
          }
        });
        if (sum !== null && (x.shape[1] !== (sum as tf.Tensor4D).shape[1] || x.shape[2] !== (sum as tf.Tensor4D).shape[2])) {
          // odd sizes: x2 upsampling can miss stride 4 by a pixel; mmseg resizes to it (bilinear)
          const [, h, w] = (sum as tf.Tensor4D).shape;
          x = nhwc(resizeBilinearNCHW(nchw(x), h, w));
        }
        sum = sum === null ? x : (tf.add(sum, x) as tf.Tensor4D);
      });
      let y = sum as unknown as tf.Tensor4D;
      if (this.training && this.config.dropout > 0) y = tf.dropout(y, this.config.dropout, undefined, `fpn-${this.dropoutSeed}-${this.dropoutDraws++}`) as tf.Tensor4D;
      return nchw(this.apply(y, this.classifier));
    });
  }

  trainableVariables(): tf.Variable[] {
    return this.params.created.filter((t): t is tf.Variable => t instanceof tf.Variable && t.trainable);
  }

  stateDict(): StateDict {
    return this.params.stateDict();
  }

  dispose(): void {
    tf.dispose(this.params.created);
  }
}

/** Fresh FPN weights with mmseg's initialisations (see the header). */
export function fpnInitialWeights(config: FpnConfig, seed: number): StateDict {
  const rng = streamFor(seed, 'fpn-init');
  const sd: StateDict = new Map();
  const put = (key: string, out: number, inC: number, k: number, init: 'xavier' | 'kaiming' | 'seg') => {
    const n = out * inC * k * k;
    let data: Float32Array;
    if (init === 'xavier') {
      const bound = Math.sqrt(6 / (inC * k * k + out * k * k));
      data = Float32Array.from({ length: n }, () => rng.range(-bound, bound));
    } else {
      const std = init === 'seg' ? 0.01 : Math.sqrt(2 / (out * k * k));
      data = Float32Array.from({ length: n }, () => rng.normal() * std);
    }
    sd.set(`${key}.weight`, { shape: [out, inC, k, k], data });
    sd.set(`${key}.bias`, { shape: [out], data: new Float32Array(out) });
  };
  const { inChannels, channels, numClasses } = config;
  inChannels.forEach((c, i) => put(`neck.lateral_convs.${i}.conv`, channels, c, 1, 'xavier'));
  inChannels.forEach((_, i) => put(`neck.fpn_convs.${i}.conv`, channels, channels, 3, 'xavier'));
  inChannels.forEach((_, i) => {
    for (let j = 0; j < Math.max(1, i); j++) put(`decode_head.scale_heads.${i}.${j}.conv`, channels, channels, 3, 'kaiming');
  });
  put('decode_head.conv_seg', numClasses, channels, 1, 'seg');
  return sd;
}
