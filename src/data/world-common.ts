// What the world benchmarks share: their stream namespace, the "look" of an item (style, style
// strength, background), prompt templates in the world's own words, and a base class that draws each
// split's item specs once (cheap) and renders items on demand (deterministic, so never stored).
import {
  SHAPES,
  SHAPE_NOUNS,
  WORLD_GENERATOR_VERSION,
  renderScene,
  sampleBackground,
  streamFor,
  type BackgroundKind,
  type BackgroundSpec,
  type ObjectSpec,
  type RenderedScene,
  type RGB,
  type Rng,
  type StreamKey,
  type StyleName,
} from '../world';
import { SPLITS, type SplitName } from './dataset';
import { computeManifest, loadManifest, sameHeader, type DescribedDataset, type Json, type ManifestHeader, type WorldManifest } from './manifest';

/**
 * Bump whenever a benchmark's items change for a reason inside src/data (how specs are drawn from the
 * streams, what is rendered), and regenerate the manifests; changes inside src/world bump
 * WORLD_GENERATOR_VERSION instead.
 */
export const WORLD_BENCHMARKS_VERSION = 1;

export { WORLD_GENERATOR_VERSION };

export type SplitCounts = Record<SplitName, number>;

export interface WorldDatasetOptions {
  /** A smaller variant of the same protocol: fewer items, the same first items as the full one. */
  quick?: boolean;
  /** Default 0 (the committed manifests are for seed 0). */
  seed?: number;
  /** Overrides the per-class counts (per pair for world-czsl, in total for world-scenes). */
  counts?: Partial<SplitCounts>;
}

/** How items look: styles (domains), their strength, and backgrounds. */
export interface LookConfig {
  styles: StyleName[];
  /** Relative weights of `styles`. */
  styleWeights: number[];
  styleStrengthRange: [number, number];
  backgroundKinds: BackgroundKind[];
  darkBackgroundProb: number;
}

export interface Look {
  style: StyleName;
  styleStrength: number;
  background: BackgroundSpec;
}

/** A still image to render: objects, look, and the keys that name its render streams. */
export interface StillSpec extends Look {
  objects: ObjectSpec[];
  keys: StreamKey[];
}

/** The stream of one benchmark item: its own namespace, never shared with pretraining pairs. */
export function itemStream(seed: number, name: string, split: SplitName, ...keys: StreamKey[]): Rng {
  return streamFor(seed, 'benchmark', name, split, ...keys);
}

/** Render-stream keys of the same item (noise, background texture). */
export function itemKeys(name: string, split: SplitName, ...keys: StreamKey[]): StreamKey[] {
  return ['benchmark', name, split, ...keys];
}

export function sampleLook(rng: Rng, look: LookConfig, avoid: RGB[]): Look {
  const style = rng.weighted(look.styles, look.styleWeights);
  const [k0, k1] = look.styleStrengthRange;
  const styleStrength = Math.round(rng.range(k0, k1) * 1000) / 1000;
  const background = sampleBackground(rng, { kinds: look.backgroundKinds, darkProb: look.darkBackgroundProb, avoid });
  return { style, styleStrength, background };
}

/**
 * The cartoon style's ink outline covers an outlined object's coloured stroke, leaving a black outline
 * with no colour; items whose class depends on colour redraw such a pattern.
 */
export function keepColourVisible(o: ObjectSpec, style: StyleName, rng: Rng): void {
  if (style === 'cartoon' && o.pattern === 'outlined') o.pattern = rng.pick(['solid', 'striped', 'checkered', 'dotted'] as const);
}

export function renderStill(spec: StillSpec, size: number, seed: number): RenderedScene {
  return renderScene(spec.objects, {
    size,
    style: spec.style,
    styleStrength: spec.styleStrength,
    background: spec.background,
    seed,
    keys: spec.keys,
  });
}

/** The caption noun of each shape, in SHAPES order ('lightning bolt', not 'lightning'). */
export const SHAPE_CLASS_NAMES: string[] = SHAPES.map((s) => SHAPE_NOUNS[s][0]);

/**
 * A prompt ensemble in the words the world's captions use (CLIP's own ImageNet templates mostly use
 * words MiniCLIP never saw), one per caption template family and style.
 */
export const WORLD_TEMPLATES: string[] = [
  'a photo of a {}.',
  'a picture of a {}.',
  'an image of a {}.',
  'a rendering of a {}.',
  'a close-up of a {}.',
  'a clean render of a {}.',
  'a sketch of a {}.',
  'a noisy photo of a {}.',
  'a blurry photo of a {}.',
  'a pixelated image of a {}.',
  'a cartoon of a {}.',
];

/** `template` first, then the others without repeats. */
export function ensemble(template: string, others: readonly string[]): string[] {
  return [template, ...others.filter((t) => t !== template)];
}

export function checkCounts(counts: SplitCounts, what: string): SplitCounts {
  for (const s of SPLITS) {
    const n = counts[s];
    if (!Number.isInteger(n) || n < 0) throw new Error(`${what}: the ${s} count must be a non-negative integer, got ${n}`);
  }
  return counts;
}

export function checkSplit(name: string, split: string): SplitName {
  if (!(SPLITS as readonly string[]).includes(split)) throw new Error(`${name}: unknown split "${split}" (valid: ${SPLITS.join(', ')})`);
  return split as SplitName;
}

/**
 * A world benchmark: each split's items and their specs are drawn once, on first use; images are
 * rendered from the specs on demand. `manifest` is the committed one where it describes this very
 * dataset (full variant, seed 0, same versions and parameters), otherwise computed on first use.
 */
export abstract class WorldDatasetBase<Item extends { index: number }, Spec> {
  readonly seed: number;
  readonly quick: boolean;
  private readonly drawn = new Map<SplitName, { items: Item[]; specs: Spec[] }>();
  private cachedManifest: WorldManifest | null = null;

  constructor(
    readonly name: string,
    opts: WorldDatasetOptions,
  ) {
    this.seed = opts.seed ?? 0;
    this.quick = opts.quick ?? false;
    if (!Number.isSafeInteger(this.seed)) throw new Error(`${name}: seed must be an integer, got ${this.seed}`);
  }

  /** The manifest id: the name, plus '-quick' and '-seed<k>' for the variants. */
  get id(): string {
    return `${this.name}${this.quick ? '-quick' : ''}${this.seed !== 0 ? `-seed${this.seed}` : ''}`;
  }

  protected abstract draw(split: SplitName): { items: Item[]; specs: Spec[] };

  /** Everything that decides the content besides seed and versions. */
  protected abstract parameters(): { [key: string]: Json };

  /** The kind-specific part of the manifest (class names or pairs, prompts), after `counts`. */
  protected abstract describe(): Partial<ManifestHeader> & Pick<ManifestHeader, 'kind' | 'template' | 'templates'>;

  private entries(split: SplitName): { items: Item[]; specs: Spec[] } {
    checkSplit(this.name, split);
    let e = this.drawn.get(split);
    if (!e) {
      e = this.draw(split);
      e.items.forEach((it) => Object.freeze(it));
      this.drawn.set(split, e);
    }
    return e;
  }

  split(name: SplitName): Item[] {
    return this.entries(name).items.slice();
  }

  /** How the item is generated (objects, style, background, ...): for checks and analysis. */
  spec(item: Item, split: SplitName): Spec {
    const e = this.entries(split);
    const own = e.items[item.index] as (Item & Record<string, unknown>) | undefined;
    const given = item as Item & Record<string, unknown>;
    if (!own || Object.keys(own).some((k) => own[k] !== given[k])) {
      throw new Error(`${this.name}: ${JSON.stringify(item)} is not item ${item.index} of the ${split} split (${e.items.length} items; take items from split('${split}'))`);
    }
    return e.specs[item.index];
  }

  manifestHeader(): ManifestHeader {
    const { kind, ...d } = this.describe();
    const counts = {} as SplitCounts;
    for (const s of SPLITS) counts[s] = this.entries(s).items.length;
    return {
      id: this.id,
      kind,
      generator: 'promptlab-world',
      generatorVersion: WORLD_GENERATOR_VERSION,
      benchmarkVersion: WORLD_BENCHMARKS_VERSION,
      seed: this.seed,
      parameters: { variant: this.quick ? 'quick' : 'full', ...this.parameters() },
      counts,
      ...d,
      license: 'generated',
    };
  }

  get manifest(): WorldManifest {
    if (!this.cachedManifest) {
      const header = this.manifestHeader();
      let committed: WorldManifest | null = null;
      try {
        committed = loadManifest(this.id);
      } catch {
        committed = null;
      }
      this.cachedManifest = committed && sameHeader(committed, header) ? committed : computeManifest(this as unknown as DescribedDataset);
    }
    return this.cachedManifest;
  }
}
