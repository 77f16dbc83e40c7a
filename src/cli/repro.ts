// promptlab repro <experiment> [--quick] [--seeds 1,2,3] [--out DIR] [--model DIR|FILE|NAME] [--data ROOT] [--datasets a,b] [--cached-features] [--variants end,middle,end-csc,middle-csc] [--shots 1,4]
//   [--protocol closed|fewshot|zeroshot] [--val-ensemble N]   (video: its protocols, and the official multi-crop evaluation)
// Runs one paper experiment end to end and writes DIR/results.json in the pinned format, with its
// figures (HTML, and PNG/SVG where Chromium is) and tables (CSV, Markdown) beside it. --model takes a
// model folder, a weights file, or a released CLIP's name (ViT-B/16, RN50, ...: fetched once with
// `npx promptlab fetch clip-vit-b-16`; a Hugging Face folder's name, openai/clip-vit-base-patch16, with
// `npx promptlab fetch hf-clip-vit-base-patch16`); --data ROOT runs zeroshot, fewshot, base2new and
// transfer on CoOp's datasets under ROOT (--datasets caltech101,oxford_pets,...; default its 11, and for
// transfer ImageNet then its 10 cross-dataset and 4 domain-shift targets) with the official presets.
import * as fs from 'fs';
import { isModelName } from '../clip/resolve';
import { defaultOut, EXPERIMENTS, isExperiment, runExperiment } from '../repro/experiments';
import { checkShots, protocolShots } from '../repro/fewshot';
import { checkVideoRun } from '../repro/video';
import { writeResultOutputs } from '../repro/figures';
import type { Results } from '../repro/record';
import { consoleProgress } from '../train/progress';
import { parse, requireModel, UsageError } from './args';

function parseSeeds(raw: string): number[] {
  const seeds = raw.split(',').map((s) => Number(s.trim()));
  if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s) || s < 0)) {
    throw new UsageError(`promptlab repro: --seeds must be a comma-separated list of non-negative integers, got '${raw}'`);
  }
  return seeds;
}

/** fewshot's --shots: some of its protocol's shot counts, checked before anything loads. */
function parseShots(experiment: string, raw: string, quick: boolean): number[] {
  if (experiment !== 'fewshot') throw new UsageError(`promptlab repro: --shots is a fewshot option (the shot counts of its curve); ${experiment} has none to choose`);
  const parts = raw.split(',').map((s) => s.trim());
  const notNumber = parts.find((s) => !/^\d+$/.test(s));
  if (notNumber !== undefined) throw new UsageError(`promptlab repro: --shots ${raw}: '${notNumber}' is not a shot count (valid: ${protocolShots(quick).join(', ')}, comma-separated)`);
  try {
    return checkShots(parts.map(Number), quick);
  } catch (e) {
    throw new UsageError(`promptlab repro: --shots ${raw}: ${(e as Error).message.replace(/^fewshot: /, '')}`);
  }
}

/** video's --protocol and --val-ensemble, checked before anything loads. */
function parseVideoOptions(experiment: string, values: Record<string, unknown>, quick: boolean): { protocol?: string; valEnsemble?: number } {
  const protocol = values.protocol as string | undefined;
  const raw = values['val-ensemble'] as string | undefined;
  if ((protocol !== undefined || raw !== undefined) && experiment !== 'video') throw new UsageError(`promptlab repro: --protocol and --val-ensemble are video options; ${experiment} has one protocol`);
  if (raw !== undefined && !/^\d+$/.test(raw.trim())) throw new UsageError(`promptlab repro: --val-ensemble must be a positive integer (crops per test clip), got '${raw}'`);
  const valEnsemble = raw === undefined ? undefined : Number(raw);
  try {
    checkVideoRun({ protocol, valEnsemble }, quick);
  } catch (e) {
    throw new UsageError(`promptlab repro: ${(e as Error).message}`);
  }
  return { protocol, valEnsemble };
}

export async function reproCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values, positionals } = parse('repro', argv, {
    quick: { type: 'boolean' }, seeds: { type: 'string' }, out: { type: 'string' }, model: { type: 'string' }, data: { type: 'string' }, datasets: { type: 'string' },
    'cached-features': { type: 'boolean' }, variants: { type: 'string' }, shots: { type: 'string' },
    protocol: { type: 'string' }, 'val-ensemble': { type: 'string' },
  });
  const experiment = positionals[0];
  if (!experiment) throw new UsageError(`promptlab repro: name an experiment (available now: ${EXPERIMENTS.join(', ')})`);
  if (!isExperiment(experiment)) throw new UsageError(`promptlab repro: unknown experiment '${experiment}' (available now: ${EXPERIMENTS.join(', ')})`);
  if (positionals.length > 1) throw new UsageError(`promptlab repro: one experiment at a time; '${positionals.slice(1).join(' ')}' is not an option (options start with --)`);
  const quick = values.quick === true;
  if (typeof values.data === 'string') {
    if (!['zeroshot', 'fewshot', 'base2new', 'transfer'].includes(experiment)) throw new UsageError(`promptlab repro: --data runs zeroshot, fewshot, base2new and transfer (CoOp's classification datasets); ${experiment} runs on the world`);
    if (!fs.existsSync(values.data) || !fs.statSync(values.data).isDirectory()) throw new UsageError(`promptlab repro: --data ${values.data} is not a folder (expected a data root holding CoOp's dataset folders: caltech-101/, oxford_pets/, imagenet/, ...)`);
  }
  const shots = values.shots === undefined ? undefined : parseShots(experiment, values.shots as string, quick);
  const video = parseVideoOptions(experiment, values, quick);
  const out = (values.out as string | undefined) ?? defaultOut(experiment, quick, video.protocol);
  const results = await runExperiment(experiment, {
    quick,
    seeds: values.seeds === undefined ? undefined : parseSeeds(values.seeds as string),
    out,
    // a released model's name resolves through the manifests and the user cache (runExperiment says what to fetch)
    model: typeof values.model === 'string' && isModelName(values.model) ? values.model : requireModel('repro', '--model', values.model as string | undefined),
    data: values.data as string | undefined,
    datasets: values.datasets === undefined ? undefined : (values.datasets as string).split(',').map((d) => d.trim()),
    cachedFeatures: values['cached-features'] === true,
    ...video,
    variants: values.variants === undefined ? undefined : (values.variants as string).split(',').map((v) => v.trim()),
    shots,
    onProgress: consoleProgress(),
    log,
  });
  await writeResultOutputs(out, log);
  logAverages(results, log);
}

/** The average rows of a run's summary, one line each. */
export function logAverages(results: Results, log: (s: string) => void): void {
  for (const s of results.summary.filter((r) => r.dataset === 'average')) {
    log(`average ${s.method} ${s.split} ${s.metric}: ${s.mean.toFixed(1)} (std ${s.std.toFixed(1)}, n ${s.n})`);
  }
}
