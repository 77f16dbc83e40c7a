// Captions in the manner of alt-text: varied templates that mention a random subset of what is shown,
// and never anything that is not true of the image. Lowercase ASCII words and punctuation only.
//
// Each caption decides once which attributes it mentions (shape, colour, pattern, size, position,
// style); objects that agree on those attributes form a group, counted exactly over the whole scene
// ("two dotted circles" means exactly two dotted circles); a subset of the groups is mentioned.
// Sketches show neither colour nor pattern in a reliable way, so their captions mention neither.
import type { BackgroundSpec, ObjectSpec } from './render';
import type { Rng } from '../random';
import { SHAPE_NOUNS, sizeOf, type ColorName, type PatternName, type ShapeName, type SizeName, type StyleName } from './vocab';

export interface CaptionOptions {
  /** Probability that shapes are named (otherwise "shape", or now and then "object"); default 0.85. */
  pShape?: number;
  /** Probability that colours are mentioned; default 0.4. */
  pColor?: number;
  /** Probability that patterns are mentioned; default 0.3. */
  pPattern?: number;
  /** Probability that size classes are mentioned; default 0.25. */
  pSize?: number;
  /** Probability that positions in the frame are mentioned (where unambiguous); default 0.15. */
  pPosition?: number;
  /** Probability of a style-specific template ("a sketch of", "a blurry photo of"); default 0.5. */
  pStyle?: number;
  /** Probability of mentioning the background ("on a dark background"); default 0.05. */
  pBackground?: number;
  /** In multi-object scenes, probability that each group of objects is mentioned (at least one is); default 0.75. */
  pObject?: number;
  /** Probability of a spatial relation ("a star to the left of a circle") when two single objects are mentioned; default 0.3. */
  pRelation?: number;
  /** Probability of a final period; default 0.3. */
  pPeriod?: number;
}

export const DEFAULT_CAPTION_OPTIONS: Required<CaptionOptions> = {
  pShape: 0.85,
  pColor: 0.4,
  pPattern: 0.3,
  pSize: 0.25,
  pPosition: 0.15,
  pStyle: 0.5,
  pBackground: 0.05,
  pObject: 0.75,
  pRelation: 0.3,
  pPeriod: 0.3,
};

export type PositionName = 'left' | 'right' | 'top' | 'bottom' | 'top left' | 'top right' | 'bottom left' | 'bottom right' | 'middle';

/** What one mentioned group claims: exactly `count` objects have all the given attributes. */
export interface Mention {
  count: number;
  shape?: ShapeName;
  color?: ColorName;
  pattern?: PatternName;
  size?: SizeName;
  /** Every one of those objects is at this position. */
  position?: PositionName;
  /** Indices of the objects in the group. */
  objects: number[];
}

export interface CaptionResult {
  text: string;
  mentions: Mention[];
  /** Set when the caption states a relation between two mentions (indices into `mentions`). */
  relation?: { a: number; b: number; relation: 'left of' | 'right of' | 'above' | 'below' };
  /** The style, when a style-specific template was used. */
  style?: StyleName;
}

/** Position in the frame, or null near a boundary between positions (then it is not mentioned). */
export function positionOf(o: Pick<ObjectSpec, 'cx' | 'cy'>): PositionName | null {
  const side = (t: number): -1 | 0 | 1 | null => (t < 0.34 ? -1 : t > 0.66 ? 1 : t > 0.4 && t < 0.6 ? 0 : null);
  const h = side(o.cx);
  const v = side(o.cy);
  if (h === null || v === null) return null;
  const vert = v < 0 ? 'top' : v > 0 ? 'bottom' : '';
  const horiz = h < 0 ? 'left' : h > 0 ? 'right' : '';
  if (!vert && !horiz) return 'middle';
  return (vert && horiz ? `${vert} ${horiz}` : vert || horiz) as PositionName;
}

/**
 * How a position is said: half the time in the world benchmarks' own words ("on the top left", the
 * template "a photo of a shape on the {}." with the position's name), otherwise in one of the usual
 * phrasings.
 */
const POSITION_PHRASES: Record<PositionName, string[]> = {
  left: ['on the left side', 'at the left'],
  right: ['on the right side', 'at the right'],
  top: ['at the top', 'near the top'],
  bottom: ['at the bottom', 'near the bottom'],
  'top left': ['in the top left corner', 'at the top left'],
  'top right': ['in the top right corner', 'at the top right'],
  'bottom left': ['in the bottom left corner', 'at the bottom left'],
  'bottom right': ['in the bottom right corner', 'at the bottom right'],
  middle: ['in the middle', 'in the center'],
};

/** A phrase for a position: "on the <name>" (the benchmarks' words) or a usual phrasing. */
export function positionPhrase(p: PositionName, rng: Rng): string {
  return rng.chance(0.5) ? `on the ${p}` : rng.pick(POSITION_PHRASES[p]);
}

const NUMBERS = ['no', 'a', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];

/** Templates for any style; {} is the noun phrase. "there is" agrees in number. */
const GENERIC = [
  '{}',
  'a photo of {}',
  'a picture of {}',
  'an image of {}',
  'a rendering of {}',
  'an illustration of {}',
  'a close-up of {}',
  'a cropped photo of {}',
  'an example of {}',
  'this is {}',
  '{} in the picture',
  'there is {}',
  'a graphic of {}',
  'a simple picture of {}',
];

const STYLE_TEMPLATES: Record<StyleName, string[]> = {
  clean: ['a clean render of {}', 'a flat graphic of {}', 'a clear picture of {}', 'a sharp image of {}'],
  sketch: ['a sketch of {}', 'a pencil sketch of {}', 'a line drawing of {}', 'a black and white drawing of {}', 'a hand drawn sketch of {}'],
  noisy: ['a noisy photo of {}', 'a grainy image of {}', 'a noisy picture of {}', 'a grainy photo of {}'],
  blurred: ['a blurry photo of {}', 'a blurred image of {}', 'an out of focus photo of {}', 'a blurry picture of {}'],
  pixelated: ['a pixelated image of {}', 'a low resolution photo of {}', 'a pixelated picture of {}', 'a blocky pixelated photo of {}'],
  cartoon: ['a cartoon of {}', 'a cartoon drawing of {}', 'a cartoon style picture of {}', 'a bold cartoon of {}'],
};

const PATTERN_SUFFIX: Partial<Record<PatternName, string[]>> = {
  striped: ['with stripes'],
  checkered: ['with a checkered pattern', 'with checks'],
  dotted: ['with dots', 'with polka dots'],
};

/** Fixes "a"/"an" before the next word, everywhere. */
export function fixArticles(text: string): string {
  const words = text.split(' ');
  for (let i = 0; i + 1 < words.length; i++) {
    if (words[i] === 'a' || words[i] === 'an') words[i] = /^[aeiou]/.test(words[i + 1]) ? 'an' : 'a';
  }
  return words.join(' ');
}

function luminance(rgb: readonly number[]): number {
  return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
}

function backgroundPhrase(bg: BackgroundSpec, rng: Rng): string | null {
  const mean = bg.kind === 'gradient' ? bg.from.map((v, i) => (v + bg.to[i]) / 2) : bg.rgb;
  const lum = luminance(mean);
  const toneWord = lum < 100 ? 'dark' : lum > 160 ? 'light' : null;
  const kindWord = bg.kind === 'plain' ? 'plain' : bg.kind === 'gradient' ? 'gradient' : 'textured';
  const word = toneWord && rng.chance(0.6) ? toneWord : kindWord;
  return `on a ${word} background`;
}

interface Choices {
  shape: boolean;
  color: boolean;
  pattern: boolean;
  size: boolean;
  position: boolean;
}

/** The noun phrase of a group: "two small striped red stars on the left". */
export function nounPhrase(m: Mention, named: boolean, rng: Rng): string {
  const words: string[] = [NUMBERS[m.count] ?? String(m.count)];
  if (m.size) words.push(m.size);
  let suffix: string | null = null;
  let patternAfterColor = false;
  if (m.pattern) {
    const alt = PATTERN_SUFFIX[m.pattern];
    if (alt && rng.chance(0.3)) suffix = rng.pick(alt);
    else if (rng.chance(0.5)) words.push(m.pattern);
    else patternAfterColor = true;
  }
  if (m.color) words.push(m.color);
  if (m.pattern && patternAfterColor) words.push(m.pattern);
  const plural = m.count > 1;
  if (m.shape && named) words.push(SHAPE_NOUNS[m.shape][plural ? 1 : 0]);
  else words.push(rng.chance(0.8) ? (plural ? 'shapes' : 'shape') : plural ? 'objects' : 'object');
  if (suffix) words.push(suffix);
  if (m.position) words.push(positionPhrase(m.position, rng));
  return words.join(' ');
}

function joinList(parts: string[]): string {
  if (parts.length === 1) return parts[0];
  return `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

/**
 * A caption for `objects` rendered in `style`, with what it claims (for checks). `background`, when
 * given, may be mentioned. Draws from `rng` only.
 */
export function describeCaption(
  objects: readonly ObjectSpec[],
  style: StyleName,
  rng: Rng,
  opts: CaptionOptions = {},
  background?: BackgroundSpec,
): CaptionResult {
  if (objects.length === 0) throw new Error('world: caption of an empty scene');
  const o = { ...DEFAULT_CAPTION_OPTIONS, ...opts };
  const sketch = style === 'sketch';
  const choose: Choices = {
    shape: rng.chance(o.pShape),
    color: rng.chance(o.pColor) && !sketch,
    pattern: rng.chance(o.pPattern) && !sketch,
    size: rng.chance(o.pSize),
    position: rng.chance(o.pPosition),
  };
  // Group objects by the mentioned attributes (first appearance order).
  const groups: Mention[] = [];
  const keyOf = (ob: ObjectSpec) =>
    [choose.shape ? ob.shape : '', choose.color ? ob.color : '', choose.pattern ? ob.pattern : '', choose.size ? sizeOf(ob.scale) : ''].join('|');
  const byKey = new Map<string, Mention>();
  objects.forEach((ob, i) => {
    const key = keyOf(ob);
    let g = byKey.get(key);
    if (!g) {
      g = { count: 0, objects: [] };
      if (choose.shape) g.shape = ob.shape;
      if (choose.color) g.color = ob.color;
      if (choose.pattern) g.pattern = ob.pattern;
      if (choose.size) g.size = sizeOf(ob.scale);
      byKey.set(key, g);
      groups.push(g);
    }
    g.count++;
    g.objects.push(i);
  });
  if (choose.position) {
    for (const g of groups) {
      const ps = g.objects.map((i) => positionOf(objects[i]));
      if (ps[0] !== null && ps.every((p) => p === ps[0])) g.position = ps[0];
    }
  }
  // Which groups to mention, in a random order.
  let mentions = groups.length === 1 ? groups : rng.shuffled(groups).filter(() => rng.chance(o.pObject));
  if (mentions.length === 0) mentions = [groups[rng.int(groups.length)]];

  let phrase: string;
  let relation: CaptionResult['relation'];
  const nps = mentions.map((m) => nounPhrase(m, choose.shape, rng));
  if (mentions.length === 2 && mentions[0].count === 1 && mentions[1].count === 1 && rng.chance(o.pRelation)) {
    const a = objects[mentions[0].objects[0]];
    const b = objects[mentions[1].objects[0]];
    const dx = a.cx - b.cx;
    const dy = a.cy - b.cy;
    let rel: 'left of' | 'right of' | 'above' | 'below' | null = null;
    if (Math.abs(dx) >= 0.15 && Math.abs(dx) > 1.5 * Math.abs(dy)) rel = dx < 0 ? 'left of' : 'right of';
    else if (Math.abs(dy) >= 0.15 && Math.abs(dy) > 1.5 * Math.abs(dx)) rel = dy < 0 ? 'above' : 'below';
    if (rel && !mentions[0].position && !mentions[1].position) {
      relation = { a: 0, b: 1, relation: rel };
      const relWords = rel === 'left of' || rel === 'right of' ? `to the ${rel}` : rel;
      phrase = `${nps[0]} ${relWords} ${nps[1]}`;
    } else phrase = joinList(nps);
  } else phrase = joinList(nps);

  if (background && style !== 'sketch' && rng.chance(o.pBackground)) {
    const bp = backgroundPhrase(background, rng);
    if (bp) phrase = `${phrase} ${bp}`;
  }
  const styled = rng.chance(o.pStyle);
  let template = rng.pick(styled ? STYLE_TEMPLATES[style] : GENERIC);
  if (template === 'there is {}' && mentions[0].count > 1) template = 'there are {}';
  let text = fixArticles(template.replace('{}', phrase));
  if (rng.chance(o.pPeriod)) text += '.';
  return { text, mentions, relation, style: styled ? style : undefined };
}

/** A caption for `objects` rendered in `style` (see describeCaption). */
export function caption(
  objects: readonly ObjectSpec[],
  style: StyleName,
  rng: Rng,
  opts: CaptionOptions = {},
  background?: BackgroundSpec,
): string {
  return describeCaption(objects, style, rng, opts, background).text;
}
