// promptlab repro <experiment> [--quick] [--seeds 1,2,3] [--out DIR] [--model DIR]
// Runs one paper experiment end to end and writes DIR/results.json in the pinned format.
import * as path from 'path';
import { initBackend } from '../backend';
import { loadMiniClip, MINICLIP_DIR } from '../miniclip';
import { writeResults } from '../repro/record';
import { runZeroshot } from '../repro/zeroshot';
import { parse, UsageError } from './args';

const EXPERIMENTS = ['zeroshot'] as const;

function parseSeeds(raw: string | undefined): number[] {
  if (raw === undefined) return [0];
  const seeds = raw.split(',').map((s) => Number(s.trim()));
  if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s) || s < 0)) {
    throw new UsageError(`promptlab repro: --seeds must be a comma-separated list of non-negative integers, got '${raw}'`);
  }
  return seeds;
}

export async function reproCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values, positionals } = parse('repro', argv, {
    quick: { type: 'boolean' }, seeds: { type: 'string' }, out: { type: 'string' }, model: { type: 'string' },
  });
  const experiment = positionals[0];
  if (!experiment || !(EXPERIMENTS as readonly string[]).includes(experiment)) {
    throw new UsageError(`promptlab repro: name an experiment (available now: ${EXPERIMENTS.join(', ')}; fewshot, base2new, czsl, dense and video follow with their issues)`);
  }
  const quick = values.quick === true;
  const seeds = parseSeeds(values.seeds as string | undefined);
  const out = path.resolve((values.out as string | undefined) ?? path.join('runs', experiment, quick ? 'quick' : 'full'));
  const modelDir = path.resolve((values.model as string | undefined) ?? MINICLIP_DIR);
  const info = await initBackend();
  log(`backend: ${info.name}; model ${modelDir}; ${quick ? 'quick' : 'full'} run, seeds ${seeds.join(',')}`);
  const { model, tokenizer } = loadMiniClip(modelDir);
  const started = Date.now();
  try {
    const rows = runZeroshot(model, tokenizer, { quick, seeds, log });
    const results = writeResults(out, experiment, { model: modelDir, quick, seeds, seconds: Math.round((Date.now() - started) / 1000) }, rows);
    for (const s of results.summary.filter((r) => r.dataset === 'average')) {
      log(`average ${s.method}: ${s.mean.toFixed(1)}% (std ${s.std.toFixed(1)}, n ${s.n})`);
    }
    log(`wrote ${path.join(out, 'results.json')}`);
  } finally {
    model.dispose();
  }
}
