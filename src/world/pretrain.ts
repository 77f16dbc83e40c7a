// Image-caption pairs for pretraining MiniCLIP, drawn from the whole concept space in the 'pretrain'
// stream namespace: pair i of seed s comes from streamFor(s, 'pretrain', i) alone, so pairs can be
// generated in any order, in parallel, or again later, and never share a stream with benchmark items.
//
// Defaults follow the second measurement in shared/design/world.md (what made shape learnable for a
// small CLIP): objects spanning 50-85% of the frame, rotation within +-30 degrees, shape named in most
// captions and colour in 40%, silhouette-breaking patterns rarer (12%). Generator version 2 adds what
// the benchmarks' prompts need the captions to teach: 20% of pairs hold 2-3 smaller objects whose
// captions say where each is half the time, and 15% one small object (the size world-positions uses)
// placed in one of the nine regions, its position said in the benchmarks' words or the usual ones 90%
// of the time; "shape" is the noun when the shape is not named.
import { describeCaption, type CaptionOptions, type Mention } from './caption';
import { renderScene, type BackgroundSpec, type ObjectSpec, type WorldImage } from './render';
import { streamFor, type Rng } from '../random';
import { placementRange, sampleBackground, sampleObject, sampleScene } from './sample';
import { rotatedBox } from './shapes';
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
  /** Probability of a single small object placed in one of the nine regions; default 0.15. */
  smallObjectProb?: number;
  /** Span of such a small object; default [0.16, 0.32]. */
  smallScaleRange?: [number, number];
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
  const u = rng.next();
  const pMulti = maxObjects >= 2 ? opts.multiObjectProb ?? 0.2 : 0;
  const kind = u < pMulti ? 'multi' : u < pMulti + (opts.smallObjectProb ?? 0.15) ? 'small' : 'single';
  let objects: ObjectSpec[];
  if (kind === 'multi') objects = sampleScene(rng, { ...common, count: rng.intIn(2, maxObjects), scaleRange: opts.sceneScaleRange ?? [0.3, 0.48] });
  else if (kind === 'small') objects = [placeInRegion(sampleObject(rng, { ...common, scaleRange: opts.smallScaleRange ?? [0.16, 0.32] }), w / h, rng)];
  else objects = [sampleObject(rng, { ...common, scaleRange: opts.scaleRange ?? [0.5, 0.85] })];
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
  // where things are is said more often where the image is about it
  const where = kind === 'small' ? { pPosition: 0.9, pSize: 0.5 } : kind === 'multi' ? { pPosition: 0.5 } : {};
  const cap = describeCaption(objects, style, rng, { ...where, ...opts.caption }, background);
  return { image, caption: cap.text, mentions: cap.mentions, objects, style, styleStrength, background };
}

/** The core of each third of the frame (clear of the boundaries where positionOf says nothing). */
const REGION_CORES: [number, number][] = [[0.05, 0.33], [0.41, 0.59], [0.67, 0.95]];

/** Moves an object so that its centre lies in the core of a random one of the nine regions (as far as it fits). */
function placeInRegion(o: ObjectSpec, aspect: number, rng: Rng): ObjectSpec {
  const range = placementRange(o, aspect, 0.03, [0, 0], rotatedBox(o.shape, o.rotation));
  if (!range) return o;
  const [x0, x1] = REGION_CORES[rng.int(3)];
  const [y0, y1] = REGION_CORES[rng.int(3)];
  const clampTo = (lo: number, hi: number, a: number, b: number) => {
    const l = Math.max(lo, a), r = Math.min(hi, b);
    return l <= r ? rng.range(l, r) : rng.range(a, b);
  };
  return { ...o, cx: clampTo(x0, x1, range[0], range[1]), cy: clampTo(y0, y1, range[2], range[3]) };
}
