// promptlab encode --weights PATH --inputs FILE --out FILE
// Runs a checkpoint on `pixel_values` and/or `input_ids` and writes every output as safetensors.
import { initBackend } from '../backend';
import * as tf from '@tensorflow/tfjs';
import { ClipModel } from '../clip/model';
import { readSafetensors, TensorToWrite, writeSafetensors } from '../clip/safetensors';
import { parse, requireModel, requireString, UsageError } from './args';

async function toWrite(t: tf.Tensor): Promise<TensorToWrite> {
  return { dtype: 'F32', shape: t.shape, data: (await t.data()) as Float32Array };
}

export async function encodeCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values } = parse('encode', argv, { weights: { type: 'string' }, inputs: { type: 'string' }, out: { type: 'string' } });
  const weights = requireString('encode', values, 'weights');
  const inputsFile = requireString('encode', values, 'inputs');
  const outFile = requireString('encode', values, 'out');
  requireModel('encode', '--weights', weights);
  const inputs = readSafetensors(inputsFile, 'inputs file');
  const px = inputs.tensors.get('pixel_values');
  const ids = inputs.tensors.get('input_ids');
  if (!px && !ids) {
    throw new UsageError(`${inputsFile}: holds neither 'pixel_values' (F32 [N,3,R,R]) nor 'input_ids' (I32/I64 [M,L]); found: ${[...inputs.tensors.keys()].join(', ') || 'nothing'}`);
  }
  if (px && (px.shape.length !== 4 || !(px.data instanceof Float32Array))) {
    throw new UsageError(`${inputsFile}: 'pixel_values' must be a float tensor [N, 3, R, R], got ${px.dtype} [${px.shape.join(', ')}]`);
  }
  if (ids && (ids.shape.length !== 2 || !(ids.data instanceof Int32Array))) {
    throw new UsageError(`${inputsFile}: 'input_ids' must be an integer tensor [M, L], got ${ids.dtype} [${ids.shape.join(', ')}]`);
  }
  log(`backend: ${(await initBackend()).name}`);
  const model = ClipModel.load(weights);
  const frozen = await model.startFrozenTowers(); // rows over the cores on WASM (values unchanged), or onnxruntime (PROMPTLAB_FROZEN=onnx)
  if (frozen) log(frozen);
  log(`${weights}: ${model.kind === 'vit' ? 'ViT' : 'ModifiedResNet'} CLIP, embed ${model.config.embedDim}, context ${model.config.contextLength}`);
  const out: Record<string, TensorToWrite> = {};
  const pixels = px ? tf.tensor4d(px.data as Float32Array, px.shape as [number, number, number, number]) : null;
  const text = ids ? { ids: ids.data as Int32Array, shape: ids.shape as [number, number] } : null;
  try {
    if (pixels) {
      const img = model.encodeImage(pixels);
      out.image_embeds = await toWrite(img);
      const vt = model.visionTokens(pixels);
      out.vision_tokens = await toWrite(vt.featureMap ?? vt.tokens);
      tf.dispose([vt.tokens, vt.featureMap as tf.Tensor]);
      img.dispose();
    }
    if (text) {
      const t = model.encodeText(text);
      out.text_embeds = await toWrite(t);
      const tt = model.textTokens(text);
      out.text_tokens = await toWrite(tt);
      tf.dispose([t, tt]);
    }
    if (pixels && text) {
      const l = model.logits(pixels, text);
      out.logits_per_image = await toWrite(l.logitsPerImage);
      tf.dispose([l.logitsPerImage, l.imageEmbeds, l.textEmbeds]);
    }
  } finally {
    pixels?.dispose();
    await model.stopFrozenTowers();
    model.dispose();
  }
  writeSafetensors(outFile, out, { weights, producer: 'promptlab encode' });
  log(`wrote ${Object.keys(out).map((k) => `${k} [${out[k].shape.join(', ')}]`).join(', ')} to ${outFile}`);
}
