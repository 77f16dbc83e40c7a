// Image-caption pairs for pretraining MiniCLIP, drawn from the whole concept space in the 'pretrain'
// stream namespace: pair i of seed s comes from streamFor(s, 'pretrain', i) alone, so pairs can be
// generated in any order, in parallel, or again later, and never share a stream with benchmark items.
//
// Defaults follow the second measurement in shared/design/world.md (what made shape learnable for a
// small CLIP): objects spanning 50-85% of the frame, rotation within +-30 degrees, shape named in every
// caption and colour in 40%, silhouette-breaking patterns rarer (12%); mostly single objects, 20% of
// pairs with 2-3 smaller objects.
import { describeCaption, type CaptionOptions, type Mention } from './caption';
import { renderScene, type BackgroundSpec, type ObjectSpec, type WorldImage } from './render';
import { streamFor } from '../random';
import { sampleBackground, sampleObject, sampleScene } from './sample';
import { STYLES, type BackgroundKind, type ColorName, type PatternName, type RGB, type ShapeName, type StyleName } from './vocab';

export interface PretrainOptions {
  /** Default 64. */
  size?: number | [number, number];
  /** Default: the whole vocabulary. */
  shapes?: readonly ShapeName[];
  colors?: readonly ColorName[];
  patterns?: readonly PatternName[];
  /** Probability of a silhouette-breaking pattern (dotted, outlined); default 0.12. */
  breakingPatternProb?: number;
  /** Single objects' span, fraction of the frame; default [0.5, 0.85]. */
  scaleRange?: [number, number];
  /** Span of each object in multi-object pairs; default [0.3, 0.48]. */
  sceneScaleRange?: [number, number];
  /** Degrees; default [-30, 30]. */
  rotationRange?: [number, number];
  /** Probability of 2..maxObjects objects; default 0.2. */
  multiObjectProb?: number;
  /** Default 3. */
  maxObjects?: number;
  /** Default all styles, clean twice as likely as each other style. */
  styles?: readonly StyleName[];
  styleWeights?: readonly number[];
  /** Style strength, uniform in this range; default [0.7, 1.3]. */
  styleStrengthRange?: [number, number];
  backgroundKinds?: readonly BackgroundKind[];
  /** Default 0.25. */
  darkBackgroundProb?: number;
  /** Mention probabilities; defaults in DEFAULT_CAPTION_OPTIONS (shape always, colour 40%). */
  caption?: CaptionOptions;
}

export interface PretrainPair {
  image: WorldImage;
  caption: string;
  /** What the caption claims (for checks and analysis). */
  mentions: Mention[];
  objects: ObjectSpec[];
  style: StyleName;
  styleStrength: number;
  background: BackgroundSpec;
}

/** Pretraining pair `index` of `seed`: a 64x64 (default) image and an alt-text-like caption. */
export function pretrainPair(seed: number, index: number, opts: PretrainOptions = {}): PretrainPair {
  const rng = streamFor(seed, 'pretrain', index);
  const size = opts.size ?? 64;
  const [w, h] = typeof size === 'number' ? [size, size] : size;
  const common = {
    shapes: opts.shapes,
    colors: opts.colors,
    patterns: opts.patterns,
    breakingPatternProb: opts.breakingPatternProb ?? 0.12,
    rotationRange: opts.rotationRange ?? ([-30, 30] as [number, number]),
    aspect: w / h,
  };
  const maxObjects = opts.maxObjects ?? 3;
  const multi = maxObjects >= 2 && rng.chance(opts.multiObjectProb ?? 0.2);
  const objects = multi
    ? sampleScene(rng, { ...common, count: rng.intIn(2, maxObjects), scaleRange: opts.sceneScaleRange ?? [0.3, 0.48] })
    : [sampleObject(rng, { ...common, scaleRange: opts.scaleRange ?? [0.5, 0.85] })];
  const styles = opts.styles ?? STYLES;
  const weights = opts.styleWeights ?? styles.map((s) => (s === 'clean' ? 2 : 1));
  const style = rng.weighted(styles, weights);
  const [k0, k1] = opts.styleStrengthRange ?? [0.7, 1.3];
  const styleStrength = Math.round(rng.range(k0, k1) * 1000) / 1000;
  const background = sampleBackground(rng, {
    kinds: opts.backgroundKinds,
    darkProb: opts.darkBackgroundProb,
    avoid: objects.map((o) => o.rgb as RGB),
  });
  const { image } = renderScene(objects, { size, style, styleStrength, background, seed, keys: ['pretrain', index] });
  const cap = describeCaption(objects, style, rng, opts.caption, background);
  return { image, caption: cap.text, mentions: cap.mentions, objects, style, styleStrength, background };
}
