// Writes an OpenAI-layout state dict as a Hugging Face CLIPModel folder (test data only):
// in_proj split into q/k/v, projections transposed, HF key names, and an HF config.json.
import * as fs from 'fs';
import * as path from 'path';
import type { ClipConfig } from '../../src/clip/config';
import type { StateDict, StateTensor } from '../../src/clip/weights';
import { TensorToWrite, writeSafetensors } from '../../src/clip/safetensors';

function t2(t: StateTensor): StateTensor {
  const [r, c] = t.shape;
  const d = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) d[j * r + i] = t.data[i * c + j];
  return { shape: [c, r], data: d };
}

export function writeHfFolder(dir: string, sd: StateDict, c: ClipConfig, dtype: 'F32' | 'F16' = 'F32'): void {
  const out: Record<string, TensorToWrite> = {};
  const put = (k: string, t: StateTensor) => { out[k] = { dtype, shape: t.shape, data: t.data }; };
  const ren: Record<string, string> = {
    'token_embedding.weight': 'text_model.embeddings.token_embedding.weight',
    positional_embedding: 'text_model.embeddings.position_embedding.weight',
    'ln_final.weight': 'text_model.final_layer_norm.weight',
    'ln_final.bias': 'text_model.final_layer_norm.bias',
    'visual.class_embedding': 'vision_model.embeddings.class_embedding',
    'visual.conv1.weight': 'vision_model.embeddings.patch_embedding.weight',
    'visual.positional_embedding': 'vision_model.embeddings.position_embedding.weight',
    'visual.ln_pre.weight': 'vision_model.pre_layrnorm.weight',
    'visual.ln_pre.bias': 'vision_model.pre_layrnorm.bias',
    'visual.ln_post.weight': 'vision_model.post_layernorm.weight',
    'visual.ln_post.bias': 'vision_model.post_layernorm.bias',
    logit_scale: 'logit_scale',
  };
  for (const [k, t] of sd) {
    if (k in ren) { put(ren[k], t); continue; }
    if (k === 'text_projection') { put('text_projection.weight', t2(t)); continue; }
    if (k === 'visual.proj') { put('visual_projection.weight', t2(t)); continue; }
    const m = /^(visual\.)?transformer\.resblocks\.(\d+)\.(.+)$/.exec(k);
    if (!m) throw new Error(`hf export: unexpected key ${k}`);
    const pre = `${m[1] ? 'vision_model' : 'text_model'}.encoder.layers.${m[2]}.`;
    const rest = m[3];
    if (rest.startsWith('attn.in_proj_')) {
      const kind = rest.endsWith('weight') ? 'weight' : 'bias';
      const d = t.shape[0] / 3;
      const per = t.data.length / 3;
      ['q', 'k', 'v'].forEach((n, i) => put(`${pre}self_attn.${n}_proj.${kind}`, { shape: kind === 'weight' ? [d, t.shape[1]] : [d], data: t.data.slice(i * per, (i + 1) * per) }));
      continue;
    }
    const r = rest.replace('attn.out_proj.', 'self_attn.out_proj.').replace('ln_1.', 'layer_norm1.').replace('ln_2.', 'layer_norm2.').replace('mlp.c_fc.', 'mlp.fc1.').replace('mlp.c_proj.', 'mlp.fc2.');
    put(pre + r, t);
  }
  fs.mkdirSync(dir, { recursive: true });
  writeSafetensors(path.join(dir, 'model.safetensors'), out, { format: 'pt' });
  const config = {
    architectures: ['CLIPModel'],
    model_type: 'clip',
    projection_dim: c.embedDim,
    text_config: { hidden_size: c.transformerWidth, num_attention_heads: c.transformerHeads, num_hidden_layers: c.transformerLayers, max_position_embeddings: c.contextLength, vocab_size: c.vocabSize, hidden_act: 'quick_gelu' },
    vision_config: { hidden_size: c.visionWidth, num_attention_heads: c.visionHeads, num_hidden_layers: c.visionLayers, image_size: c.imageResolution, patch_size: c.visionPatchSize, hidden_act: 'quick_gelu' },
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
}

/** The OpenAI-layout state dict as a safetensors file with an OpenAI-args config.json beside it. */
export function writeOpenAIFolder(dir: string, sd: StateDict, c: ClipConfig, dtype: 'F32' | 'F16' = 'F32'): string {
  fs.mkdirSync(dir, { recursive: true });
  const out: Record<string, TensorToWrite> = {};
  for (const [k, t] of sd) out[k] = { dtype, shape: t.shape, data: t.data };
  const file = path.join(dir, 'model.safetensors');
  writeSafetensors(file, out);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
    embed_dim: c.embedDim, image_resolution: c.imageResolution, vision_layers: c.visionLayers, vision_width: c.visionWidth,
    vision_patch_size: c.visionPatchSize, vision_heads: c.visionHeads, context_length: c.contextLength, vocab_size: c.vocabSize,
    transformer_width: c.transformerWidth, transformer_heads: c.transformerHeads, transformer_layers: c.transformerLayers,
  }));
  return file;
}
