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

function act(name: unknown, where: string): Activation {
  if (name === undefined || name === 'quick_gelu') return 'quick_gelu';
  if (name === 'gelu') return 'gelu';
  throw new Error(`${where}: hidden_act ${JSON.stringify(name)} is not supported (valid: quick_gelu, gelu)`);
}

/**
 * Overrides the inferred config with a config file's values. Every architecture value the tensors
 * determine must agree with them (a mismatch names both); the rest (heads, activation, LayerNorm
 * eps) is checked for type and range.
 */
export function applyConfigFile(inferred: ClipConfig, raw: unknown, file: string): ClipConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${file}: not a JSON object`);
  const c = { ...inferred };
  const r = raw as Record<string, unknown>;
  const agree = (where: string, value: unknown, actual: unknown) => {
    if (value === undefined || (value === null && actual === null)) return;
    if (JSON.stringify(value) !== JSON.stringify(actual)) {
      throw new Error(`${file}: ${where} is ${JSON.stringify(value)}, but the weights have ${JSON.stringify(actual)}`);
    }
  };
  const heads = (where: string, value: unknown): number | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new Error(`${file}: ${where} is ${JSON.stringify(value)}; expected a whole number >= 1`);
    return value;
  };
  if ('text_config' in r || r.model_type === 'clip') {
    const t = section(r.text_config, `${file} text_config`);
    const v = section(r.vision_config, `${file} vision_config`);
    agree('projection_dim', r.projection_dim, c.embedDim);
    agree('text_config.hidden_size', t.hidden_size, c.transformerWidth);
    agree('text_config.num_hidden_layers', t.num_hidden_layers, c.transformerLayers);
    agree('text_config.max_position_embeddings', t.max_position_embeddings, c.contextLength);
    agree('text_config.vocab_size', t.vocab_size, c.vocabSize);
    if (isVit(c)) {
      agree('vision_config.hidden_size', v.hidden_size, c.visionWidth);
      agree('vision_config.num_hidden_layers', v.num_hidden_layers, c.visionLayers);
      agree('vision_config.image_size', v.image_size, c.imageResolution);
      agree('vision_config.patch_size', v.patch_size, c.visionPatchSize);
    }
    c.transformerHeads = heads('text_config.num_attention_heads', t.num_attention_heads) ?? c.transformerHeads;
    c.visionHeads = heads('vision_config.num_attention_heads', v.num_attention_heads) ?? c.visionHeads;
    c.textAct = act(t.hidden_act, `${file} text_config`);
    c.visionAct = act(v.hidden_act, `${file} vision_config`);
    for (const [where, eps] of [['text_config.layer_norm_eps', t.layer_norm_eps], ['vision_config.layer_norm_eps', v.layer_norm_eps]] as const) {
      if (eps === undefined) continue;
      if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0 || eps >= 1) throw new Error(`${file}: ${where} is ${JSON.stringify(eps)}; expected a small positive number such as 1e-5`);
    }
    const eps = (t.layer_norm_eps ?? v.layer_norm_eps) as number | undefined;
    if (eps !== undefined) c.layerNormEps = eps;
  } else {
    agree('embed_dim', r.embed_dim, c.embedDim);
    agree('image_resolution', r.image_resolution, c.imageResolution);
    agree('vision_layers', r.vision_layers, c.visionLayers);
    agree('vision_width', r.vision_width, c.visionWidth);
    agree('vision_patch_size', r.vision_patch_size, c.visionPatchSize);
    agree('context_length', r.context_length, c.contextLength);
    agree('vocab_size', r.vocab_size, c.vocabSize);
    agree('transformer_width', r.transformer_width, c.transformerWidth);
    agree('transformer_layers', r.transformer_layers, c.transformerLayers);
    c.transformerHeads = heads('transformer_heads', r.transformer_heads) ?? c.transformerHeads;
    c.visionHeads = heads('vision_heads', r.vision_heads) ?? c.visionHeads;
  }
  checkHeads(c, file);
  return c;
}

function section(v: unknown, where: string): Record<string, unknown> {
  if (v === undefined) return {};
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}: not a JSON object`);
  return v as Record<string, unknown>;
}

export function checkHeads(c: ClipConfig, file: string): void {
  if (c.transformerWidth % c.transformerHeads !== 0) {
    throw new Error(`${file}: text width ${c.transformerWidth} is not divisible by ${c.transformerHeads} heads`);
  }
  const vw = isVit(c) ? c.visionWidth : c.visionWidth * 32;
  if (vw % c.visionHeads !== 0) throw new Error(`${file}: vision width ${vw} is not divisible by ${c.visionHeads} heads`);
}
