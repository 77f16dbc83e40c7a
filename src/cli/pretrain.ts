// promptlab pretrain [--out DIR] [--steps N] [--batch-size B] [--lr X] [--warmup N] [--seed S]
//                    [--checkpoint-every N] [--export DIR] [--stop-at N] [--workers W] [--bn-group G] [--recompute]
// Pretrains MiniCLIP on the world; resumes from DIR/checkpoint.safetensors when it exists, and
// exports the final weights, config, vocabulary and training log to --export (default DIR/model: the
// shipped models/miniclip is replaced only when --export names it).
import * as fs from 'fs';
import * as path from 'path';
import { initBackend } from '../backend';
import { writeSafetensors, TensorToWrite } from '../clip/safetensors';
import { writeFileAtomic } from '../io/files';
import { ClipTokenizer } from '../clip/tokenizer';
import { learnWorldVocabulary, MINICLIP_DIR, miniClipConfig } from '../miniclip';
import { pretrainWorld } from '../miniclip/pretrain';
import { weightsIdentity, type PretrainRecord } from '../miniclip/weights-identity';
import { checkpointStep, PRETRAIN_DEFAULTS, rankShare } from '../train/pretrain';
import { parse, positiveInt, UsageError } from './args';

function positiveNumber(name: string, raw: unknown, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`promptlab pretrain: --${name} must be a positive number, got '${raw}'`);
  return n;
}

export async function pretrainCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values } = parse('pretrain', argv, {
    out: { type: 'string' }, steps: { type: 'string' }, 'batch-size': { type: 'string' }, lr: { type: 'string' },
    warmup: { type: 'string' }, seed: { type: 'string' }, 'checkpoint-every': { type: 'string' }, export: { type: 'string' }, 'stop-at': { type: 'string' },
    workers: { type: 'string' }, 'bn-group': { type: 'string' }, recompute: { type: 'boolean' },
  });
  const d = PRETRAIN_DEFAULTS;
  const train = {
    ...d,
    steps: positiveInt('pretrain', 'steps', values.steps as string | undefined, d.steps),
    batchSize: positiveInt('pretrain', 'batch-size', values['batch-size'] as string | undefined, d.batchSize),
    lr: positiveNumber('lr', values.lr, d.lr),
    warmup: positiveInt('pretrain', 'warmup', values.warmup as string | undefined, d.warmup),
    seed: values.seed === undefined ? d.seed : positiveInt('pretrain', 'seed', String(Number(values.seed) + 1), 1) - 1,
    checkpointEvery: positiveInt('pretrain', 'checkpoint-every', values['checkpoint-every'] as string | undefined, d.checkpointEvery),
    ...(values['bn-group'] === undefined ? {} : { bnGroup: positiveInt('pretrain', 'bn-group', values['bn-group'] as string, 1) }),
  };
  const workers = positiveInt('pretrain', 'workers', values.workers as string | undefined, 1);
  try {
    rankShare(train, 0, workers);
  } catch (e) {
    throw new UsageError(`promptlab pretrain: ${(e as Error).message.replace(/^pretrain: /, '')}`);
  }
  const stopAt = values['stop-at'] === undefined ? undefined : positiveInt('pretrain', 'stop-at', values['stop-at'] as string, train.steps);
  if (stopAt !== undefined && stopAt > train.steps) throw new UsageError(`promptlab pretrain: --stop-at ${stopAt} is past --steps ${train.steps}`);
  const out = path.resolve((values.out as string | undefined) ?? path.join('runs', 'pretrain', 'miniclip'));
  const exportDir = path.resolve((values.export as string | undefined) ?? path.join(out, 'model'));
  const info = await initBackend();
  log(`backend: ${info.name}; run folder ${out}`);
  fs.mkdirSync(out, { recursive: true });
  const vocabFile = path.join(out, 'bpe.txt');
  if (!fs.existsSync(vocabFile)) {
    log('learning the BPE vocabulary from 20,000 world captions...');
    writeFileAtomic(vocabFile, learnWorldVocabulary(train.seed));
  }
  const tokenizer = ClipTokenizer.fromMergesFile(vocabFile);
  const model = miniClipConfig(tokenizer.vocabSize);
  log(`MiniCLIP: vocab ${tokenizer.vocabSize}, ${train.steps} steps of batch ${train.batchSize}, lr ${train.lr}, warm-up ${train.warmup}, seed ${train.seed}`);
  // Each sitting is recorded, so a run continued with a longer schedule says how it was made.
  const sittingsFile = path.join(out, 'sittings.jsonl');
  const startStep = checkpointStep(out, { model, train }); // checks the checkpoint before the sitting is recorded
  fs.appendFileSync(sittingsFile, JSON.stringify({ fromStep: startStep, steps: train.steps, batchSize: train.batchSize, lr: train.lr, warmup: train.warmup, seed: train.seed, ...(train.bnGroup ? { bnGroup: train.bnGroup } : {}), workers, backend: info.name }) + '\n');
  const started = Date.now();
  if (workers > 1) log(`data-parallel on ${workers} worker threads, BatchNorm over groups of ${train.bnGroup ?? train.batchSize} images`);
  // --recompute: about a third of the memory for a third more time per step; the same weights
  const recompute = values.recompute === true;
  const trained = await pretrainWorld({ model, train, dir: out, vocabFile, stopAt, recompute }, workers, log);
  if (stopAt !== undefined && stopAt < train.steps) {
    trained.dispose();
    log(`stopped at step ${stopAt} of ${train.steps} (--stop-at); the checkpoint in ${out} continues from there`);
    return;
  }
  const sd = trained.stateDict();
  trained.dispose();
  fs.mkdirSync(exportDir, { recursive: true });
  const tensors: Record<string, TensorToWrite> = {};
  for (const [k, t] of sd) tensors[k] = { dtype: 'F32', shape: t.shape, data: t.data };
  writeSafetensors(path.join(exportDir, 'model.safetensors'), tensors, { format: 'openai-clip-state-dict', producer: 'promptlab pretrain' });
  writeFileAtomic(path.join(exportDir, 'bpe.txt'), fs.readFileSync(vocabFile));
  writeFileAtomic(path.join(exportDir, 'pretrain-log.jsonl'), fs.readFileSync(path.join(out, 'log.jsonl')));
  const record: PretrainRecord & Record<string, unknown> = {
    ...train,
    backend: info.name,
    seconds_this_sitting: Math.round((Date.now() - started) / 1000),
    sittings: fs.readFileSync(sittingsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l)),
  };
  writeFileAtomic(path.join(exportDir, 'config.json'), JSON.stringify({
    embed_dim: model.embedDim, image_resolution: model.imageResolution, vision_layers: model.visionLayers, vision_width: model.visionWidth,
    vision_patch_size: model.visionPatchSize, context_length: model.contextLength, vocab_size: model.vocabSize,
    transformer_width: model.transformerWidth, transformer_heads: model.transformerHeads, transformer_layers: model.transformerLayers,
    pretrain: record,
  }, null, 2));
  log(weightsIdentity(exportDir, record, MINICLIP_DIR).verdict);
  log(`exported MiniCLIP to ${exportDir}${exportDir === path.resolve(MINICLIP_DIR) ? ' (the model every command uses by default)' : `; use it with --model ${path.relative(process.cwd(), exportDir) || '.'}, or export to ${path.relative(process.cwd(), MINICLIP_DIR)} to make it the default`}`);
}
