// promptlab repro zeroshot: MiniCLIP (or another CLIP) zero-shot accuracy on every world
// classification benchmark, with the dataset's hand-crafted template and with its template
// ensemble (methods `zeroshot` and `zeroshot-ensemble`, split `test`, metric `accuracy`).
import type { ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import type { ClassificationDataset } from '../data/dataset';
import { getWorldDataset, WORLD_CLASSIFICATION } from '../data/world-benchmarks';
import { encodeImages, zeroshotAccuracyOf } from '../eval/features';
import type { ResultRow } from './record';

export interface ZeroshotOptions {
  quick?: boolean;
  seeds?: number[];
  datasets?: readonly string[];
  log?: (line: string) => void;
  /** The dataset of a name (default: the world benchmark of that name and seed); `--data` gives real ones. */
  dataset?: (name: string, seed: number) => ClassificationDataset;
}

/** Zero-shot test accuracy of one dataset with each of several template sets (images encoded once). */
export function zeroshotAccuracies(model: ClipModel, tokenizer: ClipTokenizer, ds: ClassificationDataset, templateSets: string[][], log?: (s: string) => void): number[] {
  const items = ds.split('test');
  const test = encodeImages(model, items.length, (i) => ds.image(items[i], 'test'), (i) => items[i].label, {
    onBatch: (done, total) => log?.(`  ${ds.name}: encoded ${done}/${total} test images`),
  });
  try {
    return templateSets.map((templates) => zeroshotAccuracyOf(model, tokenizer, test.features, test.labels, ds.classNames, templates));
  } finally {
    test.features.dispose();
  }
}

/** Zero-shot test accuracy of one dataset with one template set. */
export function zeroshotAccuracy(model: ClipModel, tokenizer: ClipTokenizer, ds: ClassificationDataset, templates: string[], log?: (s: string) => void): number {
  return zeroshotAccuracies(model, tokenizer, ds, [templates], log)[0];
}

/** The rows of the zeroshot experiment; seeds select the benchmark's generation seed. */
export function runZeroshot(model: ClipModel, tokenizer: ClipTokenizer, opts: ZeroshotOptions = {}): ResultRow[] {
  const rows: ResultRow[] = [];
  const log = opts.log ?? (() => undefined);
  for (const seed of opts.seeds ?? [0]) {
    for (const name of opts.datasets ?? WORLD_CLASSIFICATION) {
      const ds = opts.dataset ? opts.dataset(name, seed) : getWorldDataset(name as (typeof WORLD_CLASSIFICATION)[number], { quick: opts.quick, seed }) as ClassificationDataset;
      const [single, ens] = zeroshotAccuracies(model, tokenizer, ds, [[ds.template], ds.templates], log);
      log(`${name} (seed ${seed}): zero-shot ${(100 * single).toFixed(1)}%, ensemble of ${ds.templates.length} ${(100 * ens).toFixed(1)}%`);
      rows.push({ method: 'zeroshot', dataset: name, split: 'test', metric: 'accuracy', seed, value: 100 * single });
      rows.push({ method: 'zeroshot-ensemble', dataset: name, split: 'test', metric: 'accuracy', seed, value: 100 * ens });
    }
  }
  return rows;
}
