// MiniCLIP's model card: architecture and size, pretraining data and schedule, wall time and
// backend, and what the frozen model knows about each world benchmark (zero-shot with the
// hand-crafted template and the ensemble, and CoOp's linear probe on the frozen image features).
import { hashFile, readJsonFile, writeFileAtomic } from '../io/files';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import type { ClassificationDataset, SplitName } from '../data/dataset';
import { getWorldDataset, WORLD_CLASSIFICATION } from '../data/world-benchmarks';
import { encodeImages, Features, zeroshotAccuracyOf } from '../eval/features';
import { linearProbe } from '../eval/linear-probe';
import { l2normalize } from '../methods/method';
import { WORLD_GENERATOR_VERSION } from '../world';
import type { NextMethodsKnowledge } from './next-methods';
import { schedulesOf, type PretrainRecord, type Sitting } from './weights-identity';

export interface BenchmarkKnowledge {
  dataset: string;
  classes: number;
  chance: number;
  zeroshot: number;
  ensemble: number;
  probe: number;
  /** The probe's C (scikit-learn's inverse L2 strength), chosen on val. */
  probeC: number;
}

function splitFeatures(model: ClipModel, ds: ClassificationDataset, split: SplitName): Features {
  const items = ds.split(split);
  return encodeImages(model, items.length, (i) => ds.image(items[i], split), (i) => items[i].label, { normalize: false });
}

/** Zero-shot and linear-probe accuracy (percent) of a frozen CLIP on every world classification benchmark. */
export function measureKnowledge(model: ClipModel, tokenizer: ClipTokenizer, opts: { quick?: boolean; log?: (s: string) => void } = {}): BenchmarkKnowledge[] {
  const out: BenchmarkKnowledge[] = [];
  for (const name of WORLD_CLASSIFICATION) {
    const ds = getWorldDataset(name, { quick: opts.quick }) as ClassificationDataset;
    const [train, val, test] = (['train', 'val', 'test'] as const).map((s) => splitFeatures(model, ds, s));
    const testNorm = tf.tidy(() => l2normalize(test.features));
    const score = (templates: string[]) => 100 * zeroshotAccuracyOf(model, tokenizer, testNorm, test.labels, ds.classNames, templates);
    const probe = linearProbe(train, val, test);
    const k: BenchmarkKnowledge = {
      dataset: name,
      classes: ds.classNames.length,
      chance: 100 / ds.classNames.length,
      zeroshot: score([ds.template]),
      ensemble: score(ds.templates),
      probe: 100 * probe.testAccuracy,
      probeC: probe.C,
    };
    opts.log?.(`${name}: zero-shot ${k.zeroshot.toFixed(1)}%, ensemble ${k.ensemble.toFixed(1)}%, linear probe ${k.probe.toFixed(1)}% (chance ${k.chance.toFixed(1)}%)`);
    out.push(k);
    tf.dispose([train.features, val.features, test.features, testNorm]);
  }
  return out;
}

/** A run of the card's command from scratch, recorded in the model folder's reproductions.json. */
export interface Reproduction { date: string; commit: string; host: string; backend: string; workers: number; minutes: number; sha256: string }

/** reproductions.json: an array of {date, commit, host, backend, workers, minutes, sha256}; anything else is named and refused. */
export function readReproductions(file: string): Reproduction[] {
  const raw = readJsonFile<unknown>(file, 'reproductions record');
  const fields: [keyof Reproduction, 'string' | 'number'][] = [['date', 'string'], ['commit', 'string'], ['host', 'string'], ['backend', 'string'], ['workers', 'number'], ['minutes', 'number'], ['sha256', 'string']];
  if (!Array.isArray(raw)) throw new Error(`${file}: expected an array of reproductions, got ${raw === null ? 'null' : typeof raw}`);
  raw.forEach((r, i) => {
    for (const [k, type] of fields) {
      const v = (r as Record<string, unknown> | null)?.[k];
      if (typeof v !== type) throw new Error(`${file}: reproduction ${i} needs '${k}' (a ${type}), got ${JSON.stringify(v)}`);
    }
    if (!/^[0-9a-f]{64}$/.test((r as Reproduction).sha256)) throw new Error(`${file}: reproduction ${i}: sha256 must be 64 hex digits, got '${(r as Reproduction).sha256}'`);
  });
  return raw as Reproduction[];
}

/** The card's lines on the weights' identity: their sha256 and every recorded reproduction from scratch. */
export function weightsSection(sha256: string, reproductions: Reproduction[]): string {
  const lines = [`- Weights: \`model.safetensors\`, sha256 \`${sha256}\`. \`promptlab pretrain\` prints the sha256 of the weights it
  exports and whether they are these.`];
  for (const r of reproductions) {
    lines.push(`- Reproduced from scratch on ${r.date} with the command above at commit ${r.commit} (${r.backend}, ${r.workers} worker${r.workers === 1 ? '' : 's'}, ${r.host}, ${r.minutes} minutes): `
      + (r.sha256 === sha256 ? 'the same sha256, byte for byte these weights.' : `a different sha256 (\`${r.sha256}\`).`));
  }
  return lines.join('\n');
}

/** Writes MODEL_CARD.md beside the weights. */
export function writeModelCard(dir: string, model: ClipModel, knowledge: BenchmarkKnowledge[], next?: NextMethodsKnowledge, opts: { quick?: boolean } = {}): string {
  const cfg = readJsonFile<{ pretrain: PretrainRecord }>(path.join(dir, 'config.json'), 'model config');
  const p = cfg.pretrain;
  const reproductionsFile = path.join(dir, 'reproductions.json');
  const reproductions = fs.existsSync(reproductionsFile) ? readReproductions(reproductionsFile) : [];
  const c = model.config;
  const log = fs.readFileSync(path.join(dir, 'pretrain-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number; seconds: number });
  const seconds = log.reduce((sum, r) => sum + r.seconds, 0);
  // one command per schedule: a run continued with another --steps resumes the checkpoint with a new
  // cosine (a warm restart), so each sitting's target, and where it was cut short (the next
  // sitting's first step), are part of the recipe; consecutive sittings with one target, lr and warm-up are resumes
  const sittings = schedulesOf(p);
  const workers = sittings[sittings.length - 1].workers ?? 1;
  const ends = sittings.map((x, i) => (i + 1 < sittings.length ? sittings[i + 1].fromStep : x.steps));
  const parallel = (x: Sitting) => `${x.bnGroup ? ` --bn-group ${x.bnGroup}` : ''}${x.workers && x.workers > 1 ? ` --workers ${x.workers}` : ''}`;
  const command = sittings.map((x, i) => `npx promptlab pretrain --steps ${x.steps}${ends[i] < x.steps ? ` --stop-at ${ends[i]}` : ''} --batch-size ${x.batchSize}${parallel(x)} --lr ${x.lr} --warmup ${x.warmup} --seed ${x.seed}`).join('\n  ');
  const schedule = sittings.length > 1
    ? `${sittings.map((x, i) => `${i === 0 ? '' : `then from step ${x.fromStep} with the cosine recomputed for `}${x.steps} steps${ends[i] < x.steps ? ` (stopped at step ${ends[i]})` : ''}`).join(', ')}: warm restarts at steps ${sittings.slice(1).map((x) => x.fromStep).join(', ')}`
    : `${p.steps} steps`;
  const first = log.slice(0, 10).reduce((s, r) => s + r.loss, 0) / Math.min(10, log.length);
  const last = log.slice(-10).reduce((s, r) => s + r.loss, 0) / Math.min(10, log.length);
  const params = [...model.stateDict().entries()].filter(([k]) => !k.includes('running_')).reduce((s, [, t]) => s + t.data.length, 0);
  const avg = (f: (k: BenchmarkKnowledge) => number) => knowledge.reduce((s, k) => s + f(k), 0) / knowledge.length;
  const rows = knowledge.map((k) => `| ${k.dataset} | ${k.classes} | ${k.chance.toFixed(1)} | ${k.zeroshot.toFixed(1)} | ${k.ensemble.toFixed(1)} | ${k.probe.toFixed(1)} |`);
  const text = `# MiniCLIP

A CLIP of the standard architecture, small enough to pretrain on a laptop CPU, pretrained by
promptlab on the embedded world (\`src/world\`, generator version ${WORLD_GENERATOR_VERSION}). It is the default
backbone of every notebook and \`promptlab repro\` experiment. Load it with \`loadMiniClip()\`
(\`src/miniclip\`); it is an ordinary OpenAI-layout state dict, so \`ClipModel.load\` and
\`promptlab encode\` read it too.

## Architecture (${(params / 1e6).toFixed(2)}M parameters)
- Image tower: CLIP's ModifiedResNet (3-conv stem, anti-aliased bottlenecks, attention pool), width ${c.visionWidth},
  layers [${(c.visionLayers as number[]).join(', ')}], ${c.imageResolution}x${c.imageResolution} input, attention pool with ${c.visionHeads} heads over ${c.visionWidth * 32} channels.
- Text tower: causal transformer, width ${c.transformerWidth}, ${c.transformerLayers} layers, ${c.transformerHeads} heads, context ${c.contextLength}, EOT pooling.
- Joint embedding: ${c.embedDim}. Vocabulary: ${c.vocabSize} tokens, CLIP's byte-level BPE learned from 20,000 world
  captions (\`bpe.txt\`, OpenAI merges format, read by the same tokenizer as CLIP's).

## Pretraining
- Data: world image-caption pairs (\`pretrainPair(seed ${p.seed}, i)\`, 'pretrain' stream namespace, disjoint from
  every benchmark's items): ${(p.steps * p.batchSize).toLocaleString('en-US')} pairs, each seen once. Captions mention shapes,
  colours, patterns, sizes, positions and styles of every concept the benchmarks ask about, as alt-text does.
- Objective: symmetric InfoNCE with a learned temperature; AdamW (beta 0.9/0.98, eps 1e-6, weight decay
  ${p.weightDecay} on matrices), peak learning rate ${p.lr}, ${p.warmup} warm-up steps then cosine: ${schedule}, batch ${p.batchSize}.
- Loss: ${first.toFixed(3)} (mean of the first 10 steps) to ${last.toFixed(3)} (last 10); \`pretrain-log.jsonl\` has every step.
- Wall time: ${(seconds / 60).toFixed(0)} minutes of training steps on the ${p.backend ?? 'unknown'} backend, ${workers} worker${workers === 1 ? '' : 's'}${p.backend === 'wasm' ? '\n  (WASM runs each worker\'s thread on one core)' : ''}.
- Reproduce from scratch (deterministic for a given backend; each command resumes from \`--out\`, also after a kill):

  \`\`\`sh
  ${command}
  \`\`\`
${weightsSection(hashFile(path.join(dir, 'model.safetensors'), 'sha256'), reproductions)}

## What the frozen model knows (test accuracy, %)
Zero-shot with each benchmark's hand-crafted template and with its template ensemble; linear probe =
CoOp's linear probe on the frozen image features (scikit-learn's L-BFGS logistic regression on the raw
features of the whole train split, C searched on val). ${opts.quick ? 'The quick benchmark splits (a first look: regenerate without --quick for the full ones)' : 'Full benchmark sizes'} (\`data-manifests/world/\`).

| benchmark | classes | chance | zero-shot | ensemble | linear probe |
| --- | --- | --- | --- | --- | --- |
${rows.join('\n')}
| **average** | | ${avg((k) => k.chance).toFixed(1)} | ${avg((k) => k.zeroshot).toFixed(1)} | ${avg((k) => k.ensemble).toFixed(1)} | ${avg((k) => k.probe).toFixed(1)} |

${limitsSection(knowledge, c.imageResolution)}${next ? nextMethodsSection(next) : ''}Regenerate this card with \`promptlab model-card\`.
`;
  const file = path.join(dir, 'MODEL_CARD.md');
  writeFileAtomic(file, text);
  return file;
}

/**
 * What limits the model, read from its numbers: a benchmark where even the linear probe (which reads
 * the image features directly) stays low is limited by the image tower, not by the captions; one
 * where the probe is well above zero-shot is limited by how the captions name the concept.
 */
export function limitsSection(knowledge: BenchmarkKnowledge[], resolution: number): string {
  const lines: string[] = [];
  for (const k of knowledge) {
    if (k.probe < 60) {
      lines.push(`- **${k.dataset}**: zero-shot ${k.zeroshot.toFixed(1)}%, linear probe ${k.probe.toFixed(1)}% (chance ${k.chance.toFixed(1)}%). `
        + 'Even a classifier trained on the frozen image features stays low, so the image tower does not keep what this benchmark asks about: '
        + `at ${resolution} px fine detail (a pattern's stripes, dots or checks) is a few pixels wide, and the ResNet stem downsamples 4x before the first block. `
        + `Captions cannot fix that; a higher input resolution (e.g. ${2 * resolution} px, about 4x the pretraining compute) or a finer stem would be the next step.`);
    } else if (k.probe - k.zeroshot > 10) {
      lines.push(`- **${k.dataset}**: the linear probe (${k.probe.toFixed(1)}%) is well above zero-shot (${k.zeroshot.toFixed(1)}%): the features carry the concept, the captions name it too rarely or too differently from the benchmark's template.`);
    }
  }
  if (lines.length === 0) return '';
  return `## What limits it

${lines.join('\n')}

`;
}

function nextMethodsSection(n: NextMethodsKnowledge): string {
  return `## What the next methods build on

- **CSP** (compositional zero-shot, \`world-czsl\`): zero-shot accuracy over all ${n.czsl.pairs} closed-world pairs
  ("a photo of a red star."): ${n.czsl.seen.toFixed(1)}% on test images of seen pairs, ${n.czsl.unseen.toFixed(1)}% on unseen pairs.
- **DenseCLIP** (\`world-scenes\`, ${n.dense.grid.join(' x ')} feature grid): dense zero-shot segmentation as MaskCLIP does it
  (each position through the attention pool's value and output projections, against the class names'
  text features, upsampled): mIoU ${n.dense.miou.toFixed(1)} against ${n.dense.backgroundBaseline.toFixed(1)} for predicting background everywhere;
  pixel accuracy ${n.dense.pixelAccuracy.toFixed(1)}% (background is ${n.dense.backgroundShare.toFixed(1)}% of the pixels).
- **Video prompting** (\`world-motion\`, ${n.motion.classes} motions, chance ${n.motion.chance.toFixed(1)}%): CoOp's linear probe on the frozen frame
  features: ${n.motion.meanFrames.toFixed(1)}% from the frames' mean (blind to time order), ${n.motion.framesInOrder.toFixed(1)}% from the frames in order.

`;
}
