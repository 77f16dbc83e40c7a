// Named training presets: the official CoOp and CoCoOp configs (configs/trainers/{CoOp,CoCoOp}/*.yaml
// of KaiyangZhou/CoOp with Dassl's defaults, methods.md 1.3, 2.3, 2.4) and the world presets chosen
// for MiniCLIP. A preset is data: the method's config (seed left to the run), the optimiser and
// schedule (its fields named as src/train's PromptTrainConfig), the input pipeline and the
// precision of the official run.
//
// Precision: the official runs use fp16 CLIP weights; promptlab computes in float32 whatever the
// preset says (methods.md 2.6), so `precision` records the reference run, not a switch.
import { CLIP_MEAN, CLIP_STD } from '../clip/preprocess';
import { COCOOP_DEFAULTS, type CoCoOpConfig } from './cocoop';
import { COOP_DEFAULTS, type CoOpConfig } from './coop';

/** CLIP's published backbones, as the configs name them, and the world's MiniCLIP. */
export type BackboneName = 'RN50' | 'RN101' | 'ViT-B/32' | 'ViT-B/16' | 'MiniCLIP';

export type Augmentation = 'random_resized_crop' | 'random_flip' | 'normalize';

export interface OptimPreset {
  name: 'sgd';
  lr: number;
  momentum: number;
  weightDecay: number;
  epochs: number;
  /** Cosine annealing over `epochs` (T_max = epochs), stepped once per epoch (src/train/schedule.ts). */
  scheduler: 'cosine';
  warmupEpochs: number;
  /** Constant warm-up (Dassl's WARMUP_TYPE "constant") at `warmupLr`. */
  warmupType: 'constant';
  warmupLr: number;
  batchSize: number;
  testBatchSize: number;
}

export interface InputPreset {
  /** Square input side in pixels. */
  size: number;
  interpolation: 'bicubic';
  /** Training transforms in order (test: resize shorter side + centre crop + normalise). */
  augment: Augmentation[];
  /** RandomResizedCrop's area range (torchvision's default, which Dassl keeps). */
  cropScale: [number, number];
  mean: [number, number, number];
  std: [number, number, number];
}

export type Precision = 'fp16' | 'fp32' | 'amp';

interface PresetCommon {
  name: string;
  backbone: BackboneName;
  optim: OptimPreset;
  input: InputPreset;
  precision: Precision;
  /** Where the numbers come from: the official config file, or why they were chosen. */
  source: string;
}

export interface CoOpPreset extends PresetCommon {
  method: 'coop';
  config: Omit<CoOpConfig, 'seed'>;
}

export interface CoCoOpPreset extends PresetCommon {
  method: 'cocoop';
  config: Omit<CoCoOpConfig, 'seed'>;
}

export type MethodPreset = CoOpPreset | CoCoOpPreset;

// Dassl's optimiser defaults (momentum, weight decay) and the configs' OPTIM block.
const OFFICIAL_OPTIM: Omit<OptimPreset, 'epochs' | 'batchSize'> = {
  name: 'sgd',
  lr: 0.002,
  momentum: 0.9,
  weightDecay: 5e-4,
  scheduler: 'cosine',
  warmupEpochs: 1,
  warmupType: 'constant',
  warmupLr: 1e-5,
  testBatchSize: 100,
};

function input(size: number): InputPreset {
  return {
    size,
    interpolation: 'bicubic',
    augment: ['random_resized_crop', 'random_flip', 'normalize'],
    cropScale: [0.08, 1],
    mean: [...CLIP_MEAN],
    std: [...CLIP_STD],
  };
}

const BACKBONE_KEYS = { rn50: 'RN50', rn101: 'RN101', vit_b32: 'ViT-B/32', vit_b16: 'ViT-B/16' } as const;
export type OfficialBackboneKey = keyof typeof BACKBONE_KEYS;

const CTX_V1 = 'a photo of a';

function coop(name: string, key: OfficialBackboneKey, epochs: number, ctxInit: string): CoOpPreset {
  return {
    name,
    method: 'coop',
    backbone: BACKBONE_KEYS[key],
    // ctxInit sets n_ctx to its word count (4 for "a photo of a"); N_CTX is 16 otherwise.
    config: { ...omitSeed(COOP_DEFAULTS), nCtx: ctxInit ? ctxInit.split(/\s+/).length : 16, ctxInit, csc: false, classTokenPosition: 'end', initStd: 0.02 },
    optim: { ...OFFICIAL_OPTIM, epochs, batchSize: 32 },
    input: input(224),
    precision: 'fp16',
    source: `KaiyangZhou/CoOp configs/trainers/CoOp/${name}.yaml`,
  };
}

function cocoop(name: string, nCtx: number, ctxInit: string): CoCoOpPreset {
  return {
    name,
    method: 'cocoop',
    backbone: 'ViT-B/16',
    config: { ...omitSeed(COCOOP_DEFAULTS), nCtx, ctxInit, initStd: 0.02 },
    optim: { ...OFFICIAL_OPTIM, epochs: 10, batchSize: 1 },
    input: input(224),
    precision: 'fp16',
    source: `KaiyangZhou/CoOp configs/trainers/CoCoOp/${name}.yaml`,
  };
}

function omitSeed<T extends { seed: number }>(c: T): Omit<T, 'seed'> {
  const { seed: _seed, ...rest } = c;
  return rest;
}

// MiniCLIP on the world (64 px), sized for a CPU. The papers' proportions are kept: CoOp trains
// much longer than CoCoOp (50 vs 10 epochs here; 200 vs 10 in the papers), and CoOp uses n_ctx 4
// from "a photo of a" in the base-to-new protocol as the CoCoOp paper does. Deviation: CoCoOp's
// batch is 4, not 1 (each step encodes B x K prompts, and batch 1 costs four times the steps on a
// CPU); the LR stays at the official 0.002. Note for world-positions: the labels are left/right,
// so a horizontal flip changes the class; drop 'random_flip' from `input.augment` there.
const WORLD_INPUT = input(64);
const WORLD_SOURCE = 'chosen for MiniCLIP on the world benchmarks (src/methods/presets.ts)';

function worldCoop(name: string, nCtx: number, ctxInit: string): CoOpPreset {
  return {
    name,
    method: 'coop',
    backbone: 'MiniCLIP',
    config: { ...omitSeed(COOP_DEFAULTS), nCtx, ctxInit, csc: false, classTokenPosition: 'end', initStd: 0.02 },
    optim: { ...OFFICIAL_OPTIM, epochs: 50, batchSize: 32 },
    input: WORLD_INPUT,
    precision: 'fp32',
    source: WORLD_SOURCE,
  };
}

const PRESET_LIST: MethodPreset[] = [
  // CoOp: 200 epochs for 8 and 16 shots, 16 random context vectors.
  coop('rn50', 'rn50', 200, ''),
  coop('rn101', 'rn101', 200, ''),
  coop('vit_b32', 'vit_b32', 200, ''),
  coop('vit_b16', 'vit_b16', 200, ''),
  // 1 shot, and ImageNet at every shot count.
  coop('rn50_ep50', 'rn50', 50, ''),
  coop('rn101_ep50', 'rn101', 50, ''),
  coop('vit_b32_ep50', 'vit_b32', 50, ''),
  coop('vit_b16_ep50', 'vit_b16', 50, ''),
  // 2 and 4 shots.
  coop('rn50_ep100', 'rn50', 100, ''),
  coop('vit_b16_ep100', 'vit_b16', 100, ''),
  // Context initialised from "a photo of a" (n_ctx 4); vit_b16_ctxv1 is CoOp in CoCoOp's base-to-new.
  coop('rn50_ctxv1', 'rn50', 200, CTX_V1),
  coop('vit_b16_ctxv1', 'vit_b16', 200, CTX_V1),
  coop('rn50_ep50_ctxv1', 'rn50', 50, CTX_V1),
  coop('vit_b16_ep50_ctxv1', 'vit_b16', 50, CTX_V1),
  coop('vit_b16_ep100_ctxv1', 'vit_b16', 100, CTX_V1),
  // CoCoOp: ViT-B/16, batch 1, 10 epochs; the paper's config is the ctxv1 one.
  cocoop('vit_b16_c4_ep10_batch1_ctxv1', 4, CTX_V1),
  cocoop('vit_b16_c4_ep10_batch1', 4, ''),
  cocoop('vit_b16_c8_ep10_batch1', 8, ''),
  cocoop('vit_b16_c16_ep10_batch1', 16, ''),
  // The world.
  worldCoop('world_coop_ctx4_init', 4, CTX_V1),
  worldCoop('world_coop_ctx16', 16, ''),
  {
    name: 'world_cocoop',
    method: 'cocoop',
    backbone: 'MiniCLIP',
    config: { ...omitSeed(COCOOP_DEFAULTS), nCtx: 4, ctxInit: CTX_V1, initStd: 0.02 },
    optim: { ...OFFICIAL_OPTIM, epochs: 10, batchSize: 4 },
    input: WORLD_INPUT,
    precision: 'fp32',
    source: `${WORLD_SOURCE}; batch 4 instead of the official 1`,
  },
];

/** Other names for presets: world_coop is the CoOp of the base-to-new protocol. */
export const PRESET_ALIASES: Readonly<Record<string, string>> = { world_coop: 'world_coop_ctx4_init' };

const PRESETS = new Map(PRESET_LIST.map((p) => [p.name, p]));

/** Every preset name (aliases not included), CoOp's first. */
export const PRESET_NAMES: readonly string[] = PRESET_LIST.map((p) => p.name);

function copy<P extends MethodPreset>(p: P): P {
  return { ...p, config: { ...p.config }, optim: { ...p.optim }, input: { ...p.input, augment: [...p.input.augment], cropScale: [...p.input.cropScale], mean: [...p.input.mean], std: [...p.input.std] } };
}

/**
 * A preset by name (a fresh copy: edit it freely). Also accepts the official folder as a prefix
 * ('CoOp/vit_b16', 'CoCoOp/vit_b16_c4_ep10_batch1_ctxv1') and the aliases.
 */
export function getPreset(name: string): MethodPreset {
  let key = name;
  const slash = key.indexOf('/');
  let method: string | null = null;
  if (slash >= 0) {
    method = key.slice(0, slash).toLowerCase();
    key = key.slice(slash + 1);
  }
  key = PRESET_ALIASES[key] ?? key;
  const p = PRESETS.get(key);
  if (!p || (method !== null && method !== p.method)) {
    const valid = [...PRESET_NAMES, ...Object.keys(PRESET_ALIASES)];
    throw new Error(`unknown preset "${name}" (valid: ${valid.join(', ')})`);
  }
  return copy(p);
}

/** A preset known to be CoOp's, typed as such; throws for a CoCoOp name. */
export function getCoOpPreset(name: string): CoOpPreset {
  const p = getPreset(name);
  if (p.method !== 'coop') throw new Error(`preset "${name}" is a ${p.method} preset, not coop`);
  return p;
}

/** A preset known to be CoCoOp's, typed as such; throws for a CoOp name. */
export function getCoCoOpPreset(name: string): CoCoOpPreset {
  const p = getPreset(name);
  if (p.method !== 'cocoop') throw new Error(`preset "${name}" is a ${p.method} preset, not cocoop`);
  return p;
}

/**
 * COOP.md's rule for the few-shot experiments: 1 shot -> `*_ep50`, 2 and 4 shots -> `*_ep100`,
 * 8 and 16 shots -> the 200-epoch config; ImageNet uses `*_ep50` at every shot count. Other shot
 * counts follow the nearest rule (3 -> ep100, 5 and more -> 200 epochs). Only RN50 and ViT-B/16
 * have `*_ep100` configs, so RN101 and ViT-B/32 at 2-4 shots throw.
 */
export function coopPresetForShots(backbone: OfficialBackboneKey, shots: number, dataset = ''): CoOpPreset {
  if (!(backbone in BACKBONE_KEYS)) {
    throw new Error(`coopPresetForShots: unknown backbone "${String(backbone)}" (valid: ${Object.keys(BACKBONE_KEYS).join(', ')})`);
  }
  if (!Number.isSafeInteger(shots) || shots < 1) throw new Error(`coopPresetForShots: shots must be a positive integer, got ${shots}`);
  const imagenet = dataset.toLowerCase() === 'imagenet';
  const name = imagenet || shots === 1 ? `${backbone}_ep50` : shots <= 4 ? `${backbone}_ep100` : backbone;
  if (!PRESETS.has(name)) {
    throw new Error(`coopPresetForShots: CoOp has no ${name} config (${shots} shots on ${BACKBONE_KEYS[backbone]}); ep100 configs exist for rn50 and vit_b16 only`);
  }
  return getCoOpPreset(name);
}

