// Named training presets: the official CoOp and CoCoOp configs (configs/trainers/{CoOp,CoCoOp}/*.yaml
// of KaiyangZhou/CoOp with Dassl's defaults) and the world presets chosen for MiniCLIP. A preset is
// data, and every field is read where a run is set up (src/repro/setup.ts): the method's config
// (seed left to the run), the optimiser and schedule, and the input pipeline.
//
// Not fields, because promptlab has one way: compute in float32 (the official runs keep CLIP's fp16
// weights; methods see no difference beyond rounding), bicubic resampling, CLIP's mean and std
// after the transforms ("normalize" in the official lists), and the official N(0, 0.02) for random
// context vectors.
import type { CoCoOpConfig } from './cocoop';
import type { CspConfig } from './csp';
import type { CompositionalCoOpConfig } from './czsl-coop';
import type { CoOpConfig } from './coop';

/** CLIP's published backbones, as the configs name them, and the world's MiniCLIP. */
export type BackboneName = 'RN50' | 'RN101' | 'ViT-B/32' | 'ViT-B/16' | 'MiniCLIP';

/** Dassl's training transforms (INPUT.TRANSFORMS, before "normalize"). */
export type Augmentation = 'random_resized_crop' | 'random_flip';
export const AUGMENTATIONS: readonly Augmentation[] = ['random_resized_crop', 'random_flip'];

export interface OptimPreset {
  /** The optimiser (Dassl's OPTIM.NAME): torch's SGD. */
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
  /** Evaluation batch (DATALOADER.TEST.BATCH_SIZE): memory, not results. */
  testBatchSize: number;
}

/** CSP's optimiser (csp/train.py): torch's Adam on the learned vectors, a constant rate, gradient accumulation. */
export interface AdamOptimPreset {
  name: 'adam';
  lr: number;
  /** Added to the gradient (torch's Adam weight_decay). */
  weightDecay: number;
  epochs: number;
  scheduler: 'constant';
  batchSize: number;
  /** Batches per optimiser step (gradient_accumulation_steps). */
  gradAccumulation: number;
  /** Evaluation batch: memory, not results. */
  testBatchSize: number;
}

export interface InputPreset {
  /** Square input side in pixels (INPUT.SIZE): the train and test transforms' output, which the model must take. */
  size: number;
  /** Training transforms in order (test: resize the shorter side + centre crop). */
  augment: Augmentation[];
  /** RandomResizedCrop's area range (torchvision's default, which Dassl keeps); with random_resized_crop only. */
  cropScale?: [number, number];
}

interface PresetCommon {
  name: string;
  /** The CLIP the official config was written for (recorded with every run). */
  backbone: BackboneName | 'ViT-L/14';
  input: InputPreset;
  /** Where the numbers come from: the official config file, or why they were chosen (recorded with every run). */
  source: string;
}

export interface CoOpPreset extends PresetCommon {
  method: 'coop';
  config: Omit<CoOpConfig, 'seed' | 'initStd'>;
  optim: OptimPreset;
}

export interface CoCoOpPreset extends PresetCommon {
  method: 'cocoop';
  config: Omit<CoCoOpConfig, 'seed' | 'initStd'>;
  optim: OptimPreset;
}

/** CSP (compositional soft prompting): its vocabulary dropout, template and context length. */
export interface CspPreset extends PresetCommon {
  method: 'csp';
  config: Required<Omit<CspConfig, 'seed'>>;
  optim: AdamOptimPreset;
}

/** The CSP repo's CoOp baseline: trained with CSP's settings (BatsResearch/csp#5). */
export interface CzslCoOpPreset extends PresetCommon {
  method: 'czsl-coop';
  config: Required<CompositionalCoOpConfig>;
  optim: AdamOptimPreset;
}

export type MethodPreset = CoOpPreset | CoCoOpPreset | CspPreset | CzslCoOpPreset;

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
  return { size, augment: ['random_resized_crop', 'random_flip'], cropScale: [0.08, 1] };
}

/**
 * Training transforms that would change a dataset's labels, dropped for that dataset whatever the
 * preset lists (the same for every method). world-positions' nine classes name where the shape is:
 * a mirror image swaps left and right, and a random crop moves the shape to another cell of the grid.
 */
export const LABEL_CHANGING_TRANSFORMS: Readonly<Record<string, { drop: Augmentation[]; why: string }>> = {
  'world-positions': { drop: ['random_resized_crop', 'random_flip'], why: 'its classes are positions: a flip swaps left and right, a crop moves the shape to another cell' },
};

/** The preset's input pipeline for one dataset: its transforms less those that change that dataset's labels. */
export function inputFor(preset: MethodPreset, dataset: string): InputPreset {
  const drop = LABEL_CHANGING_TRANSFORMS[dataset]?.drop ?? [];
  const augment = preset.input.augment.filter((a) => !drop.includes(a));
  return { size: preset.input.size, augment, ...(augment.includes('random_resized_crop') && preset.input.cropScale ? { cropScale: [...preset.input.cropScale] as [number, number] } : {}) };
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
    config: { nCtx: ctxInit ? ctxInit.split(/\s+/).length : 16, ctxInit, csc: false, classTokenPosition: 'end' },
    optim: { ...OFFICIAL_OPTIM, epochs, batchSize: 32 },
    input: input(224),
    source: `KaiyangZhou/CoOp configs/trainers/CoOp/${name}.yaml`,
  };
}

function cocoop(name: string, nCtx: number, ctxInit: string): CoCoOpPreset {
  return {
    name,
    method: 'cocoop',
    backbone: 'ViT-B/16',
    config: { nCtx, ctxInit },
    optim: { ...OFFICIAL_OPTIM, epochs: 10, batchSize: 1 },
    input: input(224),
    source: `KaiyangZhou/CoOp configs/trainers/CoCoOp/${name}.yaml`,
  };
}

// MiniCLIP on the world (64 px), sized for a CPU. The papers' proportions are kept: CoOp trains
// much longer than CoCoOp (50 vs 10 epochs here; 200 vs 10 in the papers), fewer shots train for
// fewer epochs by COOP.md's rule (1 shot: a quarter, 2-4 shots: half: the ep50 / ep100 / 200
// configs), and CoOp uses n_ctx 4 from "a photo of a" in the base-to-new protocol as the CoCoOp
// paper does. Deviation: CoCoOp's batch is 4, not 1 (each step encodes B x K prompts, and batch 1
// costs four times the steps on a CPU); the LR stays at the official 0.002.
const WORLD_INPUT = input(64);
const WORLD_SOURCE = 'chosen for MiniCLIP on the world benchmarks (src/methods/presets.ts)';

function worldCoop(name: string, nCtx: number, ctxInit: string, epochs = 50): CoOpPreset {
  return {
    name,
    method: 'coop',
    backbone: 'MiniCLIP',
    config: { nCtx, ctxInit, csc: false, classTokenPosition: 'end' },
    optim: { ...OFFICIAL_OPTIM, epochs, batchSize: 32 },
    input: WORLD_INPUT,
    source: WORLD_SOURCE,
  };
}

const CSP_OPTIM: Omit<AdamOptimPreset, 'lr'> = { name: 'adam', weightDecay: 1e-5, epochs: 20, scheduler: 'constant', batchSize: 64, gradAccumulation: 2, testBatchSize: 64 };

/** CSP's training transform, less what promptlab does not implement: RandomHorizontalFlip (the official list adds RandomPerspective and RandomRotation(5)). */
function cspInput(size: number): InputPreset {
  return { size, augment: ['random_flip'] };
}

function csp(name: string, backbone: CspPreset['backbone'], size: number, o: { lr: number; attrDropout: number }, source: string): CspPreset {
  return {
    name, method: 'csp', backbone,
    config: { attrDropout: o.attrDropout, template: 'a photo of X X', contextLength: 8 },
    optim: { ...CSP_OPTIM, lr: o.lr },
    input: cspInput(size),
    source,
  };
}

function czslCoop(name: string, backbone: CzslCoOpPreset['backbone'], size: number, lr: number, source: string): CzslCoOpPreset {
  return {
    name, method: 'czsl-coop', backbone,
    config: { ctxInit: 'a photo of ', template: 'a photo of x x', contextLength: 8 },
    optim: { ...CSP_OPTIM, lr },
    input: cspInput(size),
    source,
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
  // the few-shot curves: 16 random context vectors, 50 / 25 / 13 epochs as 200 / 100 / 50
  worldCoop('world_coop_ctx16', 16, ''),
  worldCoop('world_coop_ctx16_ep25', 16, '', 25),
  worldCoop('world_coop_ctx16_ep13', 16, '', 13),
  {
    name: 'world_cocoop',
    method: 'cocoop',
    backbone: 'MiniCLIP',
    config: { nCtx: 4, ctxInit: CTX_V1 },
    optim: { ...OFFICIAL_OPTIM, epochs: 10, batchSize: 4 },
    input: WORLD_INPUT,
    source: `${WORLD_SOURCE}; batch 4 instead of the official 1`,
  },
  // CSP (BatsResearch/csp README): ViT-L/14, Adam at a constant rate, batch 64 x 2 accumulated, 20
  // epochs, context length 8; its CoOp baseline with the same settings
  csp('csp_mit_states', 'ViT-L/14', 224, { lr: 5e-5, attrDropout: 0.3 }, 'BatsResearch/csp README (MIT-States)'),
  csp('csp_ut_zappos', 'ViT-L/14', 224, { lr: 5e-4, attrDropout: 0.2 }, "BatsResearch/csp README's UT-Zappos mix_train command (lr, dropout inferred; the paper's Appendix B Table 5 is authoritative)"),
  czslCoop('czsl_coop_mit_states', 'ViT-L/14', 224, 5e-5, 'BatsResearch/csp models/coop.py with CSP\'s MIT-States settings (issue #5)'),
  // the world: MiniCLIP's world-czsl, CSP's recipe at a rate the small model moves with
  csp('world_csp', 'MiniCLIP', 64, { lr: 5e-4, attrDropout: 0.3 }, `${WORLD_SOURCE}; CSP's MIT-States recipe at its UT-Zappos rate`),
  czslCoop('world_czsl_coop', 'MiniCLIP', 64, 5e-4, `${WORLD_SOURCE}; the same settings as world_csp`),
];

/** Other names for presets: world_coop is the CoOp of the base-to-new protocol. */
export const PRESET_ALIASES: Readonly<Record<string, string>> = { world_coop: 'world_coop_ctx4_init' };

const PRESETS = new Map(PRESET_LIST.map((p) => [p.name, p]));

/** Every preset name (aliases not included), CoOp's first. */
export const PRESET_NAMES: readonly string[] = PRESET_LIST.map((p) => p.name);

function copy<P extends MethodPreset>(p: P): P {
  return { ...p, config: { ...p.config }, optim: { ...p.optim }, input: { ...p.input, augment: [...p.input.augment], ...(p.input.cropScale ? { cropScale: [...p.input.cropScale] as [number, number] } : {}) } } as P;
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
 * have `*_ep100` configs, so RN101 and ViT-B/32 at 2-4 shots throw. `miniclip` picks the world's
 * scaled copies (world_coop_ctx16_ep13 / _ep25 / world_coop_ctx16).
 */
export function coopPresetForShots(backbone: OfficialBackboneKey | 'miniclip', shots: number, dataset = ''): CoOpPreset {
  if (!(backbone in BACKBONE_KEYS) && backbone !== 'miniclip') {
    throw new Error(`coopPresetForShots: unknown backbone "${String(backbone)}" (valid: ${[...Object.keys(BACKBONE_KEYS), 'miniclip'].join(', ')})`);
  }
  if (!Number.isSafeInteger(shots) || shots < 1) throw new Error(`coopPresetForShots: shots must be a positive integer, got ${shots}`);
  const imagenet = dataset.toLowerCase() === 'imagenet';
  const rule = imagenet || shots === 1 ? 'ep50' : shots <= 4 ? 'ep100' : '';
  if (backbone === 'miniclip') return getCoOpPreset({ ep50: 'world_coop_ctx16_ep13', ep100: 'world_coop_ctx16_ep25', '': 'world_coop_ctx16' }[rule]);
  const name = rule ? `${backbone}_${rule}` : backbone;
  if (!PRESETS.has(name)) {
    throw new Error(`coopPresetForShots: CoOp has no ${name} config (${shots} shots on ${BACKBONE_KEYS[backbone]}); ep100 configs exist for rn50 and vit_b16 only`);
  }
  return getCoOpPreset(name);
}
