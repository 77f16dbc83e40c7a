// promptlab model-card [--model DIR] [--quick]: measures a pretrained MiniCLIP on the world
// benchmarks and writes DIR/MODEL_CARD.md.
import * as path from 'path';
import { initBackend } from '../backend';
import { loadMiniClip, MINICLIP_DIR } from '../miniclip';
import { measureKnowledge, writeModelCard } from '../miniclip/card';
import { measureNextMethods } from '../miniclip/next-methods';
import { parse, requireModel } from './args';

export async function modelCardCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values } = parse('model-card', argv, { model: { type: 'string' }, quick: { type: 'boolean' } });
  const dir = path.resolve(requireModel('model-card', '--model', values.model as string | undefined) ?? MINICLIP_DIR);
  log(`backend: ${(await initBackend()).name}; model ${dir}`);
  const { model, tokenizer } = loadMiniClip(dir);
  const frozen = await model.startFrozenTowers(); // rows over the cores on WASM (values unchanged), or onnxruntime (PROMPTLAB_FROZEN=onnx)
  if (frozen) log(frozen);
  try {
    const knowledge = measureKnowledge(model, tokenizer, { quick: values.quick === true, log });
    const next = measureNextMethods(model, tokenizer, { quick: values.quick === true, log });
    log(`wrote ${writeModelCard(dir, model, knowledge, next, { quick: values.quick === true })}`);
  } finally {
    await model.stopFrozenTowers();
    model.dispose();
  }
}
