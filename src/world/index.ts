// The embedded world: a deterministic procedural generator of images, scenes with label maps, videos
// and captions (see shared/design/world.md). Same seed and parameters, same bytes, on every machine.
//
// Streams: every random choice comes from streamFor(seed, ...keys); pretraining uses the 'pretrain'
// namespace, and benchmarks should use their own (e.g. streamFor(seed, 'bench', name, split, i)).
import { breaksSilhouette, BACKGROUND_KINDS, COLORS, COLOR_RGB, MOTIONS, MOTION_PHRASES, PATTERNS, SHAPES, SHAPE_NOUNS, SIZES, SIZE_BOUNDS, STYLES } from './vocab';

/**
 * Bump whenever any output changes (pixels, labels, captions, sampled parameters, stream layout), and
 * update the stored checksum in test/unit/world.test.ts with it.
 */
export const WORLD_GENERATOR_VERSION = 2;

export interface WorldDescription {
  version: number;
  shapes: { name: string; noun: string; plural: string; label: number }[];
  colors: { name: string; rgb: [number, number, number] }[];
  patterns: { name: string; breaksSilhouette: boolean }[];
  styles: string[];
  sizes: { name: string; min: number; max: number | null }[];
  motions: { name: string; phrase: string }[];
  backgrounds: string[];
}

/** The vocabulary, in index order (for manifests and class lists). */
export function describeWorld(): WorldDescription {
  return {
    version: WORLD_GENERATOR_VERSION,
    shapes: SHAPES.map((s, i) => ({ name: s, noun: SHAPE_NOUNS[s][0], plural: SHAPE_NOUNS[s][1], label: i + 1 })),
    colors: COLORS.map((c) => ({ name: c, rgb: [...COLOR_RGB[c]] as [number, number, number] })),
    patterns: PATTERNS.map((p) => ({ name: p, breaksSilhouette: breaksSilhouette(p) })),
    styles: [...STYLES],
    sizes: SIZES.map((s) => ({ name: s, min: SIZE_BOUNDS[s][0], max: Number.isFinite(SIZE_BOUNDS[s][1]) ? SIZE_BOUNDS[s][1] : null })),
    motions: MOTIONS.map((m) => ({ name: m, phrase: MOTION_PHRASES[m] })),
    backgrounds: [...BACKGROUND_KINDS],
  };
}

export * from './vocab';
export { Rng, streamFor, mix32, q30, type StreamKey } from '../random';
export { shapeGeometry, rotatedBox, boundingRadius, type ShapeGeometry } from './shapes';
export {
  renderScene,
  shapeLabel,
  DEFAULT_BACKGROUND,
  type WorldImage,
  type ObjectSpec,
  type BackgroundSpec,
  type RenderOptions,
  type RenderedScene,
  type InstanceInfo,
} from './render';
export {
  sampleObject,
  sampleBackground,
  sampleScene,
  placementRange,
  fitScale,
  type ObjectSampling,
  type BackgroundSampling,
  type SceneSampling,
} from './sample';
export {
  caption,
  describeCaption,
  positionOf,
  DEFAULT_CAPTION_OPTIONS,
  type CaptionOptions,
  type CaptionResult,
  type Mention,
  type PositionName,
} from './caption';
export { renderVideo, videoStates, sampleVideo, videoCaption, type VideoSpec, type VideoSampling } from './video';
export { pretrainPair, type PretrainOptions, type PretrainPair } from './pretrain';
export { contactSheet } from './sheet';
