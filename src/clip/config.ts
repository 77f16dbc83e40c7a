// CLIP's hyperparameters, inferred from the state dict exactly as the reference `build_model`
// does, with explicit configs (OpenAI constructor args or a Hugging Face config.json) honoured.
import type { Activation } from './ops';

export interface ClipConfig {
  embedDim: number;
  imageResolution: number;
  /** ViT: number of blocks; ModifiedResNet: blocks per stage [4]. */
  visionLayers: number | [number, number, number, number];
  visionWidth: number;
  /** ViT patch size; null for ModifiedResNet. */
  visionPatchSize: number | null;
  /** ViT heads, or the ResNet attention pool's heads. */
  visionHeads: number;
  contextLength: number;
  vocabSize: number;
  transformerWidth: number;
  transformerHeads: number;
  transformerLayers: number;
  textAct: Activation;
  visionAct: Activation;
  layerNormEps: number;
}

export type Shapes = Map<string, number[]>;

export function isVit(c: ClipConfig): boolean {
  return c.visionPatchSize !== null;
}

function shapeOf(shapes: Shapes, key: string, file: string): number[] {
  const s = shapes.get(key);
  if (!s) throw new Error(`${file}: tensor '${key}' is missing, so the CLIP architecture cannot be inferred`);
  return s;
}

function countIndexed(shapes: Shapes, prefix: string, suffix = ''): number {
  const seen = new Set<string>();
  for (const k of shapes.keys()) {
    if (!k.startsWith(prefix) || !k.endsWith(suffix)) continue;
    const idx = k.slice(prefix.length).split('.')[0];
    if (/^\d+$/.test(idx)) seen.add(idx);
  }
  return seen.size;
}

/** Infers every hyperparameter from tensor shapes (OpenAI key names), as clip/model.py:build_model. */
export function inferConfig(shapes: Shapes, file = '<state dict>'): ClipConfig {
  const vit = shapes.has('visual.proj');
  let visionWidth: number, visionLayers: ClipConfig['visionLayers'], patch: number | null, resolution: number, visionHeads: number;
  if (vit) {
    const conv = shapeOf(shapes, 'visual.conv1.weight', file);
    visionWidth = conv[0];
    patch = conv[3];
    visionLayers = countIndexed(shapes, 'visual.transformer.resblocks.', '.attn.in_proj_weight');
    const grid = Math.round(Math.sqrt(shapeOf(shapes, 'visual.positional_embedding', file)[0] - 1));
    resolution = patch * grid;
    visionHeads = Math.floor(visionWidth / 64);
  } else {
    const counts = [1, 2, 3, 4].map((b) => countIndexed(shapes, `visual.layer${b}.`));
    if (counts.some((c) => c === 0)) {
      throw new Error(`${file}: neither a ViT ('visual.proj') nor a ModifiedResNet ('visual.layer1..4') image tower was found`);
    }
    visionLayers = counts as [number, number, number, number];
    visionWidth = shapeOf(shapes, 'visual.layer1.0.conv1.weight', file)[0];
    const outWidth = Math.round(Math.sqrt(shapeOf(shapes, 'visual.attnpool.positional_embedding', file)[0] - 1));
    resolution = outWidth * 32;
    patch = null;
    visionHeads = Math.floor((visionWidth * 32) / 64);
  }
  const transformerWidth = shapeOf(shapes, 'ln_final.weight', file)[0];
  return {
    embedDim: shapeOf(shapes, 'text_projection', file)[1],
    imageResolution: resolution,
    visionLayers,
    visionWidth,
    visionPatchSize: patch,
    visionHeads: Math.max(1, visionHeads),
    contextLength: shapeOf(shapes, 'positional_embedding', file)[0],
    vocabSize: shapeOf(shapes, 'token_embedding.weight', file)[0],
    transformerWidth,
    transformerHeads: Math.max(1, Math.floor(transformerWidth / 64)),
    transformerLayers: countIndexed(shapes, 'transformer.resblocks.'),
    textAct: 'quick_gelu',
    visionAct: 'quick_gelu',
    layerNormEps: 1e-5,
  };
}

/** The OpenAI constructor arguments (as in the parity fixtures' config.json). */
export interface OpenAIClipArgs {
  embed_dim?: number;
  image_resolution?: number;
  vision_layers?: number | number[];
  vision_width?: number;
  vision_patch_size?: number | null;
  vision_heads?: number;
  context_length?: number;
  vocab_size?: number;
  transformer_width?: number;
  transformer_heads?: number;
  transformer_layers?: number;
}

/** A Hugging Face CLIPConfig (the fields promptlab reads). */
export interface HfClipConfig {
  model_type?: string;
  projection_dim?: number;
  text_config?: { hidden_size?: number; num_attention_heads?: number; num_hidden_layers?: number; max_position_embeddings?: number; vocab_size?: number; hidden_act?: string; layer_norm_eps?: number };
  vision_config?: { hidden_size?: number; num_attention_heads?: number; num_hidden_layers?: number; image_size?: number; patch_size?: number; hidden_act?: string; layer_norm_eps?: number };
}

function act(name: string | undefined, where: string): Activation {
  if (name === undefined || name === 'quick_gelu') return 'quick_gelu';
  if (name === 'gelu') return 'gelu';
  throw new Error(`${where}: hidden_act '${name}' is not supported (valid: quick_gelu, gelu)`);
}

/** Overrides the inferred config with a config file's values, checking they agree with the shapes. */
export function applyConfigFile(inferred: ClipConfig, raw: unknown, file: string): ClipConfig {
  if (!raw || typeof raw !== 'object') throw new Error(`${file}: not a JSON object`);
  const c = { ...inferred };
  const r = raw as Record<string, unknown>;
  if ('text_config' in r || r.model_type === 'clip') {
    const hf = raw as HfClipConfig;
    const t = hf.text_config ?? {};
    const v = hf.vision_config ?? {};
    if (t.num_attention_heads !== undefined) c.transformerHeads = t.num_attention_heads;
    if (v.num_attention_heads !== undefined) c.visionHeads = v.num_attention_heads;
    c.textAct = act(t.hidden_act, `${file} text_config`);
    c.visionAct = act(v.hidden_act, `${file} vision_config`);
    const eps = t.layer_norm_eps ?? v.layer_norm_eps;
    if (eps !== undefined) c.layerNormEps = eps;
  } else {
    const a = raw as OpenAIClipArgs;
    if (a.transformer_heads !== undefined) c.transformerHeads = a.transformer_heads;
    if (a.vision_heads !== undefined) c.visionHeads = a.vision_heads;
  }
  checkHeads(c, file);
  return c;
}

export function checkHeads(c: ClipConfig, file: string): void {
  if (c.transformerWidth % c.transformerHeads !== 0) {
    throw new Error(`${file}: text width ${c.transformerWidth} is not divisible by ${c.transformerHeads} heads`);
  }
  const vw = isVit(c) ? c.visionWidth : c.visionWidth * 32;
  if (vw % c.visionHeads !== 0) throw new Error(`${file}: vision width ${vw} is not divisible by ${c.visionHeads} heads`);
}
