// promptlab repro <experiment> [--quick] [--seeds 1,2,3] [--out DIR] [--model DIR|FILE|NAME] [--data ROOT] [--datasets a,b] [--cached-features] [--variants end,middle,end-csc,middle-csc]
// Runs one paper experiment end to end and writes DIR/results.json in the pinned format, with its
// figures (HTML, and PNG/SVG where Chromium is) and tables (CSV, Markdown) beside it. --model takes a
// model folder, a weights file, or a released CLIP's name (ViT-B/16, RN50, ...: fetched once with
// `npx promptlab fetch clip-vit-b-16`); --data ROOT runs zeroshot, fewshot and base2new on CoOp's
// datasets under ROOT (--datasets caltech101,oxford_pets,...; default its 11) with the official presets.
import * as fs from 'fs';
import { isModelName } from '../clip/resolve';
import { defaultOut, EXPERIMENTS, isExperiment, runExperiment } from '../repro/experiments';
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

export async function reproCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values, positionals } = parse('repro', argv, {
    quick: { type: 'boolean' }, seeds: { type: 'string' }, out: { type: 'string' }, model: { type: 'string' }, data: { type: 'string' }, datasets: { type: 'string' },
    'cached-features': { type: 'boolean' }, variants: { type: 'string' },
  });
  const experiment = positionals[0];
  if (!experiment) throw new UsageError(`promptlab repro: name an experiment (available now: ${EXPERIMENTS.join(', ')})`);
  if (!isExperiment(experiment)) throw new UsageError(`promptlab repro: unknown experiment '${experiment}' (available now: ${EXPERIMENTS.join(', ')})`);
  if (positionals.length > 1) throw new UsageError(`promptlab repro: one experiment at a time; '${positionals.slice(1).join(' ')}' is not an option (options start with --)`);
  const quick = values.quick === true;
  if (typeof values.data === 'string') {
    if (!['zeroshot', 'fewshot', 'base2new'].includes(experiment)) throw new UsageError(`promptlab repro: --data runs zeroshot, fewshot and base2new (CoOp's classification datasets); ${experiment} runs on the world`);
    if (!fs.existsSync(values.data) || !fs.statSync(values.data).isDirectory()) throw new UsageError(`promptlab repro: --data ${values.data} is not a folder (expected a data root holding CoOp's dataset folders: caltech-101/, oxford_pets/, imagenet/, ...)`);
  }
  const out = (values.out as string | undefined) ?? defaultOut(experiment, quick);
  const results = await runExperiment(experiment, {
    quick,
    seeds: values.seeds === undefined ? undefined : parseSeeds(values.seeds as string),
    out,
    // a released model's name resolves through the manifests and the user cache (runExperiment says what to fetch)
    model: typeof values.model === 'string' && isModelName(values.model) ? values.model : requireModel('repro', '--model', values.model as string | undefined),
    data: values.data as string | undefined,
    datasets: values.datasets === undefined ? undefined : (values.datasets as string).split(',').map((d) => d.trim()),
    cachedFeatures: values['cached-features'] === true,
    variants: values.variants === undefined ? undefined : (values.variants as string).split(',').map((v) => v.trim()),
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
