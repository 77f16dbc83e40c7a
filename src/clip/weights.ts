// Loading CLIP weights into one layout: OpenAI state-dict key names, float32 data.
// Sources: a safetensors file with OpenAI keys, a Hugging Face CLIPModel folder (config.json +
// model.safetensors, possibly sharded), or either layout's safetensors with a config.json beside it.
import { readTorchCheckpoint } from './torch-checkpoint';
import { confinedPath, readJsonFile } from '../io/files';
import * as fs from 'fs';
import * as path from 'path';
import { readSafetensors, WeightsFormatError } from './safetensors';
import { applyConfigFile, ClipConfig, inferConfig } from './config';

export interface StateTensor {
  shape: number[];
  data: Float32Array;
}
export type StateDict = Map<string, StateTensor>;

export interface LoadedWeights {
  stateDict: StateDict;
  config: ClipConfig;
  layout: 'openai' | 'huggingface';
  source: string;
}

/** Strips wrappers a training checkpoint adds (`module.`, `model.`, `state_dict.`). */
function stripPrefixes(sd: StateDict): StateDict {
  const keys = [...sd.keys()];
  for (const prefix of ['module.', 'model.', 'clip_model.', 'clip.']) {
    if (keys.length > 0 && keys.every((k) => k.startsWith(prefix))) {
      return stripPrefixes(new Map([...sd].map(([k, v]) => [k.slice(prefix.length), v])));
    }
  }
  return sd;
}

function transpose2d(t: StateTensor): StateTensor {
  const [r, c] = t.shape;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = t.data[i * c + j];
  return { shape: [c, r], data: out };
}

function concat0(parts: StateTensor[]): StateTensor {
  const rows = parts.reduce((s, p) => s + p.shape[0], 0);
  const data = new Float32Array(parts.reduce((s, p) => s + p.data.length, 0));
  let off = 0;
  for (const p of parts) {
    data.set(p.data, off);
    off += p.data.length;
  }
  return { shape: [rows, ...parts[0].shape.slice(1)], data };
}

const HF_LAYER_RENAMES: [string, string][] = [
  ['self_attn.out_proj.', 'attn.out_proj.'],
  ['layer_norm1.', 'ln_1.'],
  ['layer_norm2.', 'ln_2.'],
  ['mlp.fc1.', 'mlp.c_fc.'],
  ['mlp.fc2.', 'mlp.c_proj.'],
];

const HF_RENAMES: Record<string, string> = {
  'text_model.embeddings.token_embedding.weight': 'token_embedding.weight',
  'text_model.embeddings.position_embedding.weight': 'positional_embedding',
  'text_model.final_layer_norm.weight': 'ln_final.weight',
  'text_model.final_layer_norm.bias': 'ln_final.bias',
  'vision_model.embeddings.class_embedding': 'visual.class_embedding',
  'vision_model.embeddings.patch_embedding.weight': 'visual.conv1.weight',
  'vision_model.embeddings.position_embedding.weight': 'visual.positional_embedding',
  'vision_model.pre_layrnorm.weight': 'visual.ln_pre.weight',
  'vision_model.pre_layrnorm.bias': 'visual.ln_pre.bias',
  'vision_model.post_layernorm.weight': 'visual.ln_post.weight',
  'vision_model.post_layernorm.bias': 'visual.ln_post.bias',
  logit_scale: 'logit_scale',
};

/** Hugging Face CLIPModel keys -> OpenAI keys: q/k/v joined into in_proj, projections transposed. */
export function hfToOpenAI(hf: StateDict, file: string): StateDict {
  const out: StateDict = new Map();
  const qkv = new Map<string, Partial<Record<'q' | 'k' | 'v', StateTensor>>>();
  for (const [key, t] of hf) {
    if (key.endsWith('position_ids')) continue; // a buffer, not a weight
    if (key in HF_RENAMES) {
      out.set(HF_RENAMES[key], t);
      continue;
    }
    if (key === 'text_projection.weight') {
      out.set('text_projection', transpose2d(t));
      continue;
    }
    if (key === 'visual_projection.weight') {
      out.set('visual.proj', transpose2d(t));
      continue;
    }
    const m = /^(text_model|vision_model)\.encoder\.layers\.(\d+)\.(.+)$/.exec(key);
    if (!m) throw new WeightsFormatError(file, `unexpected Hugging Face CLIP key '${key}'`);
    const base = `${m[1] === 'text_model' ? '' : 'visual.'}transformer.resblocks.${m[2]}.`;
    const qm = /^self_attn\.([qkv])_proj\.(weight|bias)$/.exec(m[3]);
    if (qm) {
      const slot = `${base}attn.in_proj_${qm[2]}`;
      const entry = qkv.get(slot) ?? {};
      entry[qm[1] as 'q' | 'k' | 'v'] = t;
      qkv.set(slot, entry);
      continue;
    }
    let rest = m[3];
    for (const [from, to] of HF_LAYER_RENAMES) if (rest.startsWith(from)) rest = to + rest.slice(from.length);
    out.set(base + rest, t);
  }
  for (const [slot, e] of qkv) {
    if (!e.q || !e.k || !e.v) throw new WeightsFormatError(file, `${slot}: q, k and v projections are not all present`);
    out.set(slot, concat0([e.q, e.k, e.v]));
  }
  return out;
}

function isHfLayout(sd: StateDict): boolean {
  for (const k of sd.keys()) if (k.startsWith('text_model.') || k.startsWith('vision_model.')) return true;
  return false;
}

function readSafetensorsStateDict(file: string): StateDict {
  const f = readSafetensors(file);
  const sd: StateDict = new Map();
  for (const [name, t] of f.tensors) {
    if (!(t.data instanceof Float32Array)) {
      if (name.endsWith('position_ids') || name.endsWith('num_batches_tracked')) continue;
      throw new WeightsFormatError(file, `tensor '${name}' has integer dtype ${t.dtype}; CLIP weights are floating point`);
    }
    sd.set(name, { shape: t.shape, data: t.data });
  }
  for (const k of [...sd.keys()]) if (k.endsWith('num_batches_tracked')) sd.delete(k);
  return sd;
}

/** Reads a folder's weights: model.safetensors, or the shards a model.safetensors.index.json lists. */
function readFolder(dir: string): { sd: StateDict; file: string } {
  const single = path.join(dir, 'model.safetensors');
  if (fs.existsSync(single)) return { sd: readSafetensorsStateDict(single), file: single };
  const index = path.join(dir, 'model.safetensors.index.json');
  if (fs.existsSync(index)) {
    const json = readJsonFile<{ weight_map?: unknown }>(index, 'shard index');
    const map = json !== null && typeof json === 'object' ? json.weight_map : undefined;
    if (map === null || typeof map !== 'object' || Array.isArray(map)) throw new WeightsFormatError(index, 'no weight_map object (tensor name -> shard file)');
    const shards = new Set(Object.values(map as Record<string, unknown>));
    for (const shard of shards) if (typeof shard !== 'string') throw new WeightsFormatError(index, `weight_map names a shard ${JSON.stringify(shard)}, not a file name`);
    const sd: StateDict = new Map();
    for (const shard of shards as Set<string>) {
      // shard names come from the file: only files inside the model folder are read
      for (const [k, v] of readSafetensorsStateDict(confinedPath(dir, shard, `${index}: weight_map shard`))) sd.set(k, v);
    }
    return { sd, file: index };
  }
  // a Hugging Face folder with PyTorch weights only
  const bin = path.join(dir, 'pytorch_model.bin');
  if (fs.existsSync(bin)) return { sd: readTorchCheckpoint(bin), file: bin };
  const found = fs.readdirSync(dir).join(', ') || 'nothing';
  throw new Error(`${dir}: no model.safetensors, model.safetensors.index.json or pytorch_model.bin in this folder (found: ${found})`);
}

function readJson(file: string): unknown {
  return readJsonFile(file, 'config');
}

/**
 * Loads CLIP weights from a safetensors file or a folder. The architecture comes from the tensor
 * shapes; a config.json beside the weights (OpenAI constructor args or a Hugging Face CLIPConfig)
 * sets what shapes cannot tell (head counts, activation, LayerNorm eps).
 */
export function loadWeights(source: string): LoadedWeights {
  if (!fs.existsSync(source)) throw new Error(`${source}: no such file or folder`);
  const isDir = fs.statSync(source).isDirectory();
  const torch = !isDir && /\.(pt|pth|bin)$/i.test(source);
  if (!isDir && !torch && !source.endsWith('.safetensors')) {
    throw new Error(`${source}: unknown weights format (valid: a .safetensors file, a PyTorch checkpoint .pt/.pth/.bin (torch.save or OpenAI's TorchScript), or a folder with model.safetensors and config.json)`);
  }
  const { sd: raw, file } = isDir ? readFolder(source) : { sd: torch ? readTorchCheckpoint(source) : readSafetensorsStateDict(source), file: source };
  const stripped = stripPrefixes(raw);
  const layout = isHfLayout(stripped) ? 'huggingface' : 'openai';
  const stateDict = layout === 'huggingface' ? hfToOpenAI(stripped, file) : stripped;
  let config = inferConfig(new Map([...stateDict].map(([k, v]) => [k, v.shape])), file);
  const cfgFile = path.join(isDir ? source : path.dirname(source), 'config.json');
  if (fs.existsSync(cfgFile)) config = applyConfigFile(config, readJson(cfgFile), cfgFile);
  return { stateDict, config, layout, source };
}
