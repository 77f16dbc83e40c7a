// promptlab bench <case>: one hot path on random weights, timed as the median of repeats.
// Each case states its work so the number can be set against the machine's FLOP/s.
import * as tf from '@tensorflow/tfjs';
import { ClipModel } from '../clip/model';
import { namedConfig, randomStateDict, seededRandom } from '../clip/random';
import { initBackend } from '../backend';
import { toClipInput } from '../clip/preprocess';

export interface BenchResult {
  case: string;
  backend: string;
  median_s: number;
  unit_per_s: number;
}

interface BenchCase {
  describe: string;
  unit: string;
  /** Builds the workload; returns the timed function, the units per call, and a cleanup. */
  setup(): { run: () => void; units: number; cleanup: () => void };
}

function imageCase(name: 'ViT-B/32' | 'RN50', batch: number): BenchCase {
  return {
    describe: `${name} encodeImage, random weights, batch ${batch} at 224 px`,
    unit: 'images',
    setup() {
      const c = namedConfig(name);
      const model = new ClipModel(c, randomStateDict(c, 0));
      const pixels = tf.randomNormal([batch, 3, 224, 224], 0, 1, 'float32', 1) as tf.Tensor4D;
      return {
        run: () => tf.tidy(() => model.encodeImage(pixels).dataSync()),
        units: batch,
        cleanup: () => { pixels.dispose(); model.dispose(); },
      };
    },
  };
}

/** 100 CoOp-like prompts of 8 to 20 tokens, padded to 77, through the ViT-B text tower. */
function textCase(truncate: boolean): BenchCase {
  return {
    describe: `ViT-B text tower, 100 prompts of 8-20 tokens padded to 77, ${truncate ? 'computed up to the last EOT (exact causal truncation)' : 'all 77 positions computed'}`,
    unit: 'prompts',
    setup() {
      const c = namedConfig('ViT-B/32');
      const model = new ClipModel(c, randomStateDict(c, 0));
      const r = seededRandom(3);
      const ids = new Int32Array(100 * 77);
      const eot: number[] = [];
      for (let i = 0; i < 100; i++) {
        const n = 6 + Math.floor(r() * 13);
        ids[i * 77] = 49406;
        for (let j = 1; j <= n; j++) ids[i * 77 + j] = 1 + Math.floor(r() * 49000);
        ids[i * 77 + n + 1] = 49407;
        eot.push(n + 1);
      }
      const embeds = model.tokenEmbeddings({ ids, shape: [100, 77] });
      return {
        run: () => tf.tidy(() => model.text.encodeTokenEmbeddings(embeds, eot, truncate).dataSync()),
        units: 100,
        cleanup: () => { embeds.dispose(); model.dispose(); },
      };
    },
  };
}

/** CLIP's transform (antialiased bicubic to 224, centre crop, normalise) on 1000x700 RGB images. */
const preprocessCase: BenchCase = {
  describe: "CLIP preprocessing of a 1000x700 RGB image to [3,224,224] (Pillow's bicubic in 8 bits)",
  unit: 'images',
  setup() {
    const r = seededRandom(1);
    const img = { width: 1000, height: 700, channels: 3 as const, data: Uint8Array.from({ length: 1000 * 700 * 3 }, () => Math.floor(256 * r())) };
    return { run: () => { for (let i = 0; i < 10; i++) toClipInput(img); }, units: 10, cleanup: () => undefined };
  },
};

export const BENCH_CASES: Record<string, BenchCase> = {
  'preprocess-1000x700': preprocessCase,
  'vit-b32-image': imageCase('ViT-B/32', 4),
  'rn50-image': imageCase('RN50', 4),
  'text-100': textCase(true),
  'text-100-full': textCase(false),
};

export async function runBench(name: string, repeats = 3, log: (s: string) => void = () => undefined): Promise<BenchResult> {
  const bc = BENCH_CASES[name];
  if (!bc) throw new Error(`unknown bench case '${name}' (valid: ${Object.keys(BENCH_CASES).join(', ')})`);
  const info = await initBackend();
  log(`${name}: ${bc.describe} on ${info.name}`);
  const { run, units, cleanup } = bc.setup();
  try {
    run(); // warm-up: kernel compilation and first allocations
    const times: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const t0 = process.hrtime.bigint();
      run();
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
      log(`  run ${i + 1}/${repeats}: ${times[i].toFixed(3)} s`);
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    return { case: name, backend: info.name, median_s: median, unit_per_s: units / median };
  } finally {
    cleanup();
  }
}
