// The world's vocabulary: shapes, colours, patterns, styles, size classes and motions, with the words
// captions use for them. Order matters: indices (e.g. label = shape index + 1) are part of the format.

export type RGB = [number, number, number];

/** Silhouettes chosen to stay distinct at 64 px (no hexagon/pentagon: they blur into circles). */
export const SHAPES = [
  'circle',
  'square',
  'triangle',
  'star',
  'heart',
  'cross',
  'arrow',
  'crescent',
  'diamond',
  'lightning',
] as const;
export type ShapeName = (typeof SHAPES)[number];

/** Caption nouns (singular, plural). */
export const SHAPE_NOUNS: Record<ShapeName, [string, string]> = {
  circle: ['circle', 'circles'],
  square: ['square', 'squares'],
  triangle: ['triangle', 'triangles'],
  star: ['star', 'stars'],
  heart: ['heart', 'hearts'],
  cross: ['cross', 'crosses'],
  arrow: ['arrow', 'arrows'],
  crescent: ['crescent', 'crescents'],
  diamond: ['diamond', 'diamonds'],
  lightning: ['lightning bolt', 'lightning bolts'],
};

/** Saturated, mutually distinct colours; instances jitter around these. */
export const COLORS = ['red', 'orange', 'yellow', 'green', 'cyan', 'blue', 'purple', 'pink'] as const;
export type ColorName = (typeof COLORS)[number];

export const COLOR_RGB: Record<ColorName, RGB> = {
  red: [214, 40, 40],
  orange: [242, 133, 24],
  yellow: [236, 206, 30],
  green: [46, 160, 60],
  cyan: [30, 190, 210],
  blue: [38, 78, 214],
  purple: [128, 52, 186],
  pink: [246, 120, 196],
};

export const PATTERNS = ['solid', 'striped', 'checkered', 'dotted', 'outlined'] as const;
export type PatternName = (typeof PATTERNS)[number];

/**
 * Patterns whose drawn pixels do not fill the silhouette (background shows inside it): dotted
 * (coloured dots inside a thin rim) and outlined (a stroke along the contour only). Striped and checkered alternate
 * the colour with a dark shade of it, so the silhouette stays whole.
 */
export const SILHOUETTE_BREAKING: readonly PatternName[] = ['dotted', 'outlined'];

export function breaksSilhouette(p: PatternName): boolean {
  return SILHOUETTE_BREAKING.includes(p);
}

/**
 * Styles (domains). clean: flat anti-aliased render; sketch: grey pencil contours on paper (no colour);
 * noisy: seeded per-pixel noise; blurred: Gaussian blur; pixelated: block averaging; cartoon: bold
 * dark outline and boosted colour.
 */
export const STYLES = ['clean', 'sketch', 'noisy', 'blurred', 'pixelated', 'cartoon'] as const;
export type StyleName = (typeof STYLES)[number];

/** Size classes over `scale` (the object's span as a fraction of the frame's shorter side). */
export const SIZES = ['small', 'medium', 'large'] as const;
export type SizeName = (typeof SIZES)[number];
export const SIZE_BOUNDS: Record<SizeName, [number, number]> = {
  small: [0, 0.45],
  medium: [0.45, 0.65],
  large: [0.65, Infinity],
};

export function sizeOf(scale: number): SizeName {
  return scale < 0.45 ? 'small' : scale < 0.65 ? 'medium' : 'large';
}

/**
 * Motion classes for videos; the class lies in the temporal order only. Pairs (move-left /
 * move-right, move-up / move-down, grow / shrink, rotate-cw / rotate-ccw) are exact time reversals of
 * each other for the same spec and seed. rotate-* is invisible on rotation-symmetric renders (a solid
 * circle); sampleVideo avoids those.
 */
export const MOTIONS = [
  'move-left',
  'move-right',
  'move-up',
  'move-down',
  'grow',
  'shrink',
  'rotate-cw',
  'rotate-ccw',
  'bounce',
  'change-color',
] as const;
export type MotionName = (typeof MOTIONS)[number];

export const MOTION_PHRASES: Record<MotionName, string> = {
  'move-left': 'moving left',
  'move-right': 'moving right',
  'move-up': 'moving up',
  'move-down': 'moving down',
  grow: 'growing',
  shrink: 'shrinking',
  'rotate-cw': 'rotating clockwise',
  'rotate-ccw': 'rotating counterclockwise',
  bounce: 'bouncing',
  'change-color': 'changing color',
};

export const BACKGROUND_KINDS = ['plain', 'gradient', 'texture'] as const;
export type BackgroundKind = (typeof BACKGROUND_KINDS)[number];
