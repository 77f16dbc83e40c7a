// Random CLIP weights of any shape (OpenAI key layout), seeded: for tests of other sizes and for
// `promptlab bench`, where no checkpoint is needed.
import type { ClipConfig } from './config';
import { isVit } from './config';
import { gaussian, uniform } from '../random';
import type { StateDict, StateTensor } from './weights';

/** Every tensor name and shape of a CLIP with this config (OpenAI key names). */
export function clipShapes(c: ClipConfig): Map<string, number[]> {
  const s = new Map<string, number[]>();
  const block = (pre: string, d: number) => {
    s.set(`${pre}.attn.in_proj_weight`, [3 * d, d]);
    s.set(`${pre}.attn.in_proj_bias`, [3 * d]);
    s.set(`${pre}.attn.out_proj.weight`, [d, d]);
    s.set(`${pre}.attn.out_proj.bias`, [d]);
    for (const ln of ['ln_1', 'ln_2']) {
      s.set(`${pre}.${ln}.weight`, [d]);
      s.set(`${pre}.${ln}.bias`, [d]);
    }
    s.set(`${pre}.mlp.c_fc.weight`, [4 * d, d]);
    s.set(`${pre}.mlp.c_fc.bias`, [4 * d]);
    s.set(`${pre}.mlp.c_proj.weight`, [d, 4 * d]);
    s.set(`${pre}.mlp.c_proj.bias`, [d]);
  };
  const norm = (pre: string, d: number) => {
    s.set(`${pre}.weight`, [d]);
    s.set(`${pre}.bias`, [d]);
  };
  const bn = (pre: string, d: number) => {
    norm(pre, d);
    s.set(`${pre}.running_mean`, [d]);
    s.set(`${pre}.running_var`, [d]);
  };
  const d = c.transformerWidth;
  s.set('token_embedding.weight', [c.vocabSize, d]);
  s.set('positional_embedding', [c.contextLength, d]);
  for (let i = 0; i < c.transformerLayers; i++) block(`transformer.resblocks.${i}`, d);
  norm('ln_final', d);
  s.set('text_projection', [d, c.embedDim]);
  s.set('logit_scale', []);
  const w = c.visionWidth;
  if (isVit(c)) {
    const p = c.visionPatchSize as number;
    const grid = c.imageResolution / p;
    s.set('visual.conv1.weight', [w, 3, p, p]);
    s.set('visual.class_embedding', [w]);
    s.set('visual.positional_embedding', [grid * grid + 1, w]);
    norm('visual.ln_pre', w);
    for (let i = 0; i < (c.visionLayers as number); i++) block(`visual.transformer.resblocks.${i}`, w);
    norm('visual.ln_post', w);
    s.set('visual.proj', [w, c.embedDim]);
  } else {
    s.set('visual.conv1.weight', [w / 2, 3, 3, 3]);
    bn('visual.bn1', w / 2);
    s.set('visual.conv2.weight', [w / 2, w / 2, 3, 3]);
    bn('visual.bn2', w / 2);
    s.set('visual.conv3.weight', [w, w / 2, 3, 3]);
    bn('visual.bn3', w);
    let inplanes = w;
    (c.visionLayers as number[]).forEach((n, st) => {
      const planes = w * 2 ** st;
      for (let b = 0; b < n; b++) {
        const pre = `visual.layer${st + 1}.${b}`;
        s.set(`${pre}.conv1.weight`, [planes, inplanes, 1, 1]);
        bn(`${pre}.bn1`, planes);
        s.set(`${pre}.conv2.weight`, [planes, planes, 3, 3]);
        bn(`${pre}.bn2`, planes);
        s.set(`${pre}.conv3.weight`, [planes * 4, planes, 1, 1]);
        bn(`${pre}.bn3`, planes * 4);
        if ((b === 0 && st > 0) || inplanes !== planes * 4) {
          s.set(`${pre}.downsample.0.weight`, [planes * 4, inplanes, 1, 1]);
          bn(`${pre}.downsample.1`, planes * 4);
        }
        inplanes = planes * 4;
      }
    });
    const c32 = w * 32;
    const sp = c.imageResolution / 32;
    s.set('visual.attnpool.positional_embedding', [sp * sp + 1, c32]);
    for (const k of ['q_proj', 'k_proj', 'v_proj']) {
      s.set(`visual.attnpool.${k}.weight`, [c32, c32]);
      s.set(`visual.attnpool.${k}.bias`, [c32]);
    }
    s.set('visual.attnpool.c_proj.weight', [c.embedDim, c32]);
    s.set('visual.attnpool.c_proj.bias', [c.embedDim]);
  }
  return s;
}

/**
 * Seeded random weights: Gaussian-like with fan-in scaling for matrices, LayerNorm/BatchNorm
 * weights near 1, positive running variances, logit_scale = ln(100).
 */
export function randomStateDict(c: ClipConfig, seed = 0): StateDict {
  const rand = uniform(seed, 'random-weights');
  const gauss = gaussian(rand);
  const sd: StateDict = new Map();
  for (const [key, shape] of clipShapes(c)) sd.set(key, { shape: shape.length ? shape : [1], data: randomTensor(key, shape, rand, gauss) });
  return sd;
}

/** One tensor of randomStateDict's distributions, drawn from `rand`. */
function randomTensor(key: string, shape: number[], rand: () => number, gauss: () => number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  const fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
  for (let i = 0; i < n; i++) {
    if (key === 'logit_scale') data[i] = Math.log(100);
    else if (key.endsWith('running_var')) data[i] = 0.5 + rand();
    else if (/(ln_\w+|ln_final|bn\d|downsample\.1)\.weight$/.test(key)) data[i] = 1 + 0.1 * gauss();
    else if (shape.length === 1) data[i] = 0.1 * gauss();
    else data[i] = gauss() / Math.sqrt(key.includes('embedding') || key === 'visual.class_embedding' ? 50 : fanIn);
  }
  return data;
}

/**
 * randomStateDict's distributions with one seeded stream per tensor, each drawn when it is read and
 * not kept: a model's weights without a JavaScript copy of them all (for `promptlab bench`, whose
 * peak memory is compared with PyTorch's). Other values than randomStateDict's for the same seed.
 */
export function lazyRandomStateDict(c: ClipConfig, seed = 0): StateDict {
  return new LazyRandomStateDict(clipShapes(c), seed);
}

class LazyRandomStateDict extends Map<string, StateTensor> {
  constructor(private readonly shapes: Map<string, number[]>, private readonly seed: number) {
    super();
  }

  override get(key: string): StateTensor | undefined {
    const shape = this.shapes.get(key);
    if (!shape) return undefined;
    const rand = uniform(this.seed, `random-weights/${key}`);
    return { shape: shape.length ? shape : [1], data: randomTensor(key, shape, rand, gaussian(rand)) };
  }

  override has(key: string): boolean {
    return this.shapes.has(key);
  }

  override keys(): ReturnType<Map<string, StateTensor>['keys']> {
    return this.shapes.keys();
  }
}

/** Config of a CLIP by its published name, for benchmarks on random weights. */
export function namedConfig(name: 'ViT-B/32' | 'ViT-B/16' | 'RN50'): ClipConfig {
  const text = { contextLength: 77, vocabSize: 49408, transformerWidth: 512, transformerHeads: 8, transformerLayers: 12 };
  const common = { textAct: 'quick_gelu' as const, visionAct: 'quick_gelu' as const, layerNormEps: 1e-5 };
  if (name === 'RN50') {
    return { ...text, ...common, embedDim: 1024, imageResolution: 224, visionLayers: [3, 4, 6, 3], visionWidth: 64, visionPatchSize: null, visionHeads: 32 };
  }
  return { ...text, ...common, embedDim: 512, imageResolution: 224, visionLayers: 12, visionWidth: 768, visionPatchSize: name === 'ViT-B/32' ? 32 : 16, visionHeads: 12 };
}

/**
 * CLIP's own initialisation (clip/model.py `initialize_parameters` and PyTorch's defaults), for
 * pretraining from scratch: token embedding N(0, 0.02), positional N(0, 0.01), attention and MLP
 * weights scaled by width and depth, the attention pool by its input width, each bottleneck's last
 * BatchNorm gain zero, conv filters U(+-1/sqrt(fan_in)), biases zero, logit_scale ln(1/0.07).
 */
export function clipInitStateDict(c: ClipConfig, seed = 0): StateDict {
  const rand = uniform(seed, 'clip-init');
  const gauss = gaussian(rand);
  const w = c.transformerWidth;
  const projStd = w ** -0.5 * (2 * c.transformerLayers) ** -0.5;
  const attnStd = w ** -0.5;
  const fcStd = (2 * w) ** -0.5;
  const visionBlockStd = (key: string, d: number, layers: number): number | null => {
    if (key.endsWith('attn.in_proj_weight')) return d ** -0.5;
    if (key.endsWith('attn.out_proj.weight') || key.endsWith('mlp.c_proj.weight')) return d ** -0.5 * (2 * layers) ** -0.5;
    if (key.endsWith('mlp.c_fc.weight')) return (2 * d) ** -0.5;
    return null;
  };
  const sd: StateDict = new Map();
  for (const [key, shape] of clipShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
    let std: number | null = null;
    let fill: number | null = null;
    if (key === 'logit_scale') fill = Math.log(1 / 0.07);
    else if (key === 'token_embedding.weight') std = 0.02;
    else if (key === 'positional_embedding') std = 0.01;
    else if (key === 'text_projection') std = w ** -0.5;
    else if (key.startsWith('transformer.resblocks.')) std = visionBlockStd(key, w, c.transformerLayers) ?? (key.endsWith('attn.out_proj.weight') ? projStd : key.endsWith('c_fc.weight') ? fcStd : attnStd);
    else if (key.startsWith('visual.transformer.resblocks.')) std = visionBlockStd(key, c.visionWidth, c.visionLayers as number);
    else if (key.startsWith('visual.attnpool.') && key.endsWith('.weight')) std = shape[1] ** -0.5;
    else if (key === 'visual.class_embedding' || key === 'visual.positional_embedding' || key === 'visual.proj') std = c.visionWidth ** -0.5;
    else if (key.startsWith('visual.attnpool.positional_embedding')) std = shape[1] ** -0.5;
    if (key.endsWith('running_var')) fill = 1;
    else if (key.endsWith('running_mean') || key.endsWith('.bias')) fill = 0;
    else if (/(ln_\w+|ln_final)\.weight$/.test(key)) fill = 1;
    else if (/(bn\d|downsample\.1)\.weight$/.test(key)) fill = /layer\d\.\d+\.bn3\.weight$/.test(key) ? 0 : 1;
    for (let i = 0; i < n; i++) {
      if (fill !== null) data[i] = fill;
      else if (std !== null) data[i] = std * gauss();
      else data[i] = (2 * rand() - 1) / Math.sqrt(fanIn); // conv filters and the rest: PyTorch's default
    }
    sd.set(key, { shape: shape.length ? shape : [1], data });
  }
  return sd;
}
