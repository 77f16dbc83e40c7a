// world-czsl: compositional zero-shot learning on colour x shape pairs (8 x 10 = 80), split like
// MIT-States: a seeded half of the pairs is seen in training; val and test each hold seen pairs and
// their own unseen pairs; the pairs in no split exist only in the open world.
import { COLORS, SHAPES, sampleObject, streamFor, type ColorName, type RenderedScene, type RGB, type ShapeName, type WorldImage } from '../world';
import type { CompositionalDataset, CompositionalItem, Pair, SplitName } from './dataset';
import type { Json } from './manifest';
import type { ObjectConfig } from './world-classification';
import {
  SHAPE_CLASS_NAMES,
  WORLD_TEMPLATES,
  WorldDatasetBase,
  checkCounts,
  ensemble,
  itemKeys,
  itemStream,
  keepColourVisible,
  renderStill,
  sampleLook,
  type LookConfig,
  type SplitCounts,
  type StillSpec,
  type WorldDatasetOptions,
} from './world-common';

export interface PairSplitConfig {
  /** Seen (training) pairs. */
  seen: number;
  valSeen: number;
  valUnseen: number;
  testSeen: number;
  testUnseen: number;
  /** Every colour and every shape is in at least this many seen pairs. */
  minSeenPerPrimitive: number;
}

export interface CzslConfig {
  imageSize: number;
  object: ObjectConfig;
  look: LookConfig;
  pairSplit: PairSplitConfig;
  perPair: { full: SplitCounts; quick: SplitCounts };
}

export const CZSL_CONFIG: CzslConfig = {
  imageSize: 64,
  object: { scaleRange: [0.3, 0.65], rotationRange: [-30, 30], breakingPatternProb: 0.2, colorJitter: 12, margin: 0.03 },
  // No sketches: they show no colour.
  look: {
    styles: ['clean', 'noisy', 'blurred', 'pixelated', 'cartoon'],
    styleWeights: [1, 1, 1, 1, 1],
    styleStrengthRange: [0.8, 1.5],
    backgroundKinds: ['plain', 'gradient', 'texture'],
    darkBackgroundProb: 0.35,
  },
  pairSplit: { seen: 40, valSeen: 12, valUnseen: 12, testSeen: 16, testUnseen: 16, minSeenPerPrimitive: 2 },
  perPair: { full: { train: 20, val: 5, test: 20 }, quick: { train: 6, val: 2, test: 4 } },
};

const NOUN_OF = new Map<ShapeName, string>(SHAPES.map((s, i) => [s, SHAPE_CLASS_NAMES[i]]));
const SHAPE_OF = new Map<string, ShapeName>(SHAPES.map((s, i) => [SHAPE_CLASS_NAMES[i], s]));

function comparePairs(a: Pair, b: Pair): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
}

const sortPairs = (ps: Pair[]): Pair[] => ps.slice().sort(comparePairs);

/** The seeded split of the 80 pairs into train (seen) / val / test pair lists, each sorted. */
export function czslPairSplit(seed: number, cfg: PairSplitConfig = CZSL_CONFIG.pairSplit): Record<SplitName, Pair[]> {
  const all: Pair[] = [];
  for (const c of COLORS) for (const s of SHAPES) all.push([c, NOUN_OF.get(s) as string]);
  const { seen: n, valSeen, valUnseen, testSeen, testUnseen, minSeenPerPrimitive: min } = cfg;
  if (n + valUnseen + testUnseen > all.length || valSeen > n || testSeen > n) {
    throw new Error(`world-czsl: pair split ${JSON.stringify(cfg)} needs more than the ${all.length} pairs`);
  }
  const rng = streamFor(seed, 'benchmark', 'world-czsl', 'pairs');
  for (let attempt = 0; attempt < 1000; attempt++) {
    const order = rng.shuffled(all);
    const seen = order.slice(0, n);
    const covered = (key: 0 | 1, names: readonly string[]) => names.every((x) => seen.filter((p) => p[key] === x).length >= min);
    if (!covered(0, COLORS) || !covered(1, SHAPE_CLASS_NAMES)) continue;
    const unseen = order.slice(n);
    return {
      train: sortPairs(seen),
      val: sortPairs([...rng.shuffled(seen).slice(0, valSeen), ...unseen.slice(0, valUnseen)]),
      test: sortPairs([...rng.shuffled(seen).slice(0, testSeen), ...unseen.slice(valUnseen, valUnseen + testUnseen)]),
    };
  }
  throw new Error(`world-czsl: no pair split with every colour and shape in ${min}+ of ${n} seen pairs`);
}

export interface CzslSpec extends StillSpec {
  attr: number;
  obj: number;
  k: number;
}

export class WorldCzslDataset extends WorldDatasetBase<CompositionalItem, CzslSpec> implements CompositionalDataset {
  readonly kind = 'compositional' as const;
  readonly attrs: string[] = [...COLORS].sort();
  readonly objs: string[] = SHAPE_CLASS_NAMES.slice().sort();
  readonly pairs: Pair[];
  readonly openWorldPairs: Pair[];
  readonly trainPairs: Pair[];
  readonly valPairs: Pair[];
  readonly testPairs: Pair[];
  /** The prompt's {} is the pair's name, 'attr obj' ('a photo of a red star.'). */
  readonly template = 'a photo of a {}.';
  readonly templates = ensemble('a photo of a {}.', WORLD_TEMPLATES);
  readonly imageSize: number;
  readonly perPair: SplitCounts;

  constructor(
    readonly config: CzslConfig = CZSL_CONFIG,
    opts: WorldDatasetOptions = {},
  ) {
    super('world-czsl', opts);
    const split = czslPairSplit(this.seed, config.pairSplit);
    this.trainPairs = split.train;
    this.valPairs = split.val;
    this.testPairs = split.test;
    const key = (p: Pair) => `${p[0]}|${p[1]}`;
    const union = new Map<string, Pair>();
    for (const p of [...split.train, ...split.val, ...split.test]) union.set(key(p), p);
    this.pairs = sortPairs([...union.values()]);
    this.openWorldPairs = this.attrs.flatMap((a) => this.objs.map((o) => [a, o] as Pair));
    this.imageSize = config.imageSize;
    this.perPair = checkCounts({ ...(this.quick ? config.perPair.quick : config.perPair.full), ...opts.counts }, 'world-czsl');
  }

  /** 'red star': the name of a pair in prompts. */
  pairName(p: Pair): string {
    return `${p[0]} ${p[1]}`;
  }

  private pairsOf(split: SplitName): Pair[] {
    return split === 'train' ? this.trainPairs : split === 'val' ? this.valPairs : this.testPairs;
  }

  protected draw(split: SplitName): { items: CompositionalItem[]; specs: CzslSpec[] } {
    const items: CompositionalItem[] = [];
    const specs: CzslSpec[] = [];
    const { object: oc, look } = this.config;
    for (const [color, noun] of this.pairsOf(split)) {
      const shape = SHAPE_OF.get(noun) as ShapeName;
      const attr = this.attrs.indexOf(color);
      const obj = this.objs.indexOf(noun);
      for (let k = 0; k < this.perPair[split]; k++) {
        const rng = itemStream(this.seed, this.name, split, color, shape, k);
        const o = sampleObject(rng, {
          shapes: [shape],
          colors: [color as ColorName],
          breakingPatternProb: oc.breakingPatternProb,
          scaleRange: oc.scaleRange,
          rotationRange: oc.rotationRange,
          colorJitter: oc.colorJitter,
          margin: oc.margin,
        });
        const lk = sampleLook(rng, look, [o.rgb as RGB]);
        keepColourVisible(o, lk.style, rng);
        items.push({ index: items.length, attr, obj, domain: lk.style });
        specs.push({ attr, obj, k, objects: [o], ...lk, keys: itemKeys(this.name, split, color, shape, k) });
      }
    }
    return { items, specs };
  }

  render(item: CompositionalItem, split: SplitName): RenderedScene {
    return renderStill(this.spec(item, split), this.imageSize, this.seed);
  }

  image(item: CompositionalItem, split: SplitName): WorldImage {
    return this.render(item, split).image;
  }

  protected parameters(): { [key: string]: Json } {
    const c = this.config;
    return { imageSize: c.imageSize, object: { ...c.object }, look: { ...c.look }, pairSplit: { ...c.pairSplit }, perPair: { ...this.perPair } };
  }

  protected describe() {
    return {
      kind: this.kind,
      attrs: this.attrs.slice(),
      objs: this.objs.slice(),
      trainPairs: this.trainPairs.slice(),
      valPairs: this.valPairs.slice(),
      testPairs: this.testPairs.slice(),
      template: this.template,
      templates: this.templates.slice(),
    };
  }
}
