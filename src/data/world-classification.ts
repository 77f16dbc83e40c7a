// The world's classification benchmarks, five of different character (as CoOp's eleven datasets are):
//
//   world-shapes     generic: 10 shapes, any colour and pattern, clean / noisy / blurred
//   world-sketches   style-shifted: the same 10 classes in sketch and pixelated styles only
//   world-patterns   texture-like (DTD): the 5 patterns on any shape and colour
//   world-colors     fine-grained: 80 colour x shape classes
//   world-positions  names the hand-crafted prompt serves badly (EuroSAT): where a small object is
//
// All are harder than MiniCLIP's pretraining pairs (objects spanning 50-85% of the frame, rotation
// within +-30 degrees, 12% silhouette-breaking patterns, style strength 0.7-1.3, 25% dark
// backgrounds): smaller objects, stronger styles, more dark backgrounds and broken silhouettes.
import type { WorldImage } from '../world';
import { fixArticles } from '../world/caption';
import {
  COLORS,
  PATTERNS,
  SHAPES,
  placementRange,
  rotatedBox,
  sampleObject,
  type ColorName,
  type ObjectSpec,
  type PatternName,
  type RenderedScene,
  type RGB,
  type Rng,
  type ShapeName,
} from '../world';
import type { ClassificationDataset, ImageItem, SplitName } from './dataset';
import type { Json } from './manifest';
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

export const WORLD_CLASSIFICATION = ['world-shapes', 'world-sketches', 'world-patterns', 'world-colors', 'world-positions'] as const;
export type WorldClassificationName = (typeof WORLD_CLASSIFICATION)[number];

/** What a class fixes about its images. */
export type ClassAxis = 'shape' | 'pattern' | 'color-shape' | 'position';

/** A position class: horizontal and vertical third (-1, 0, 1 = left/top, middle, right/bottom). */
export interface PositionClass {
  name: string;
  h: -1 | 0 | 1;
  v: -1 | 0 | 1;
}

/** The nine positions, in the caption's words (positionOf in src/world/caption.ts), row by row. */
export const POSITION_CLASSES: PositionClass[] = [
  { name: 'top left', h: -1, v: -1 },
  { name: 'top', h: 0, v: -1 },
  { name: 'top right', h: 1, v: -1 },
  { name: 'left', h: -1, v: 0 },
  { name: 'middle', h: 0, v: 0 },
  { name: 'right', h: 1, v: 0 },
  { name: 'bottom left', h: -1, v: 1 },
  { name: 'bottom', h: 0, v: 1 },
  { name: 'bottom right', h: 1, v: 1 },
];

/**
 * Where the centre of the object's (rotated) bounding box goes, as a fraction of the frame, for the
 * first, middle and last third (index h + 1 or v + 1). Well inside the captions' unambiguous bands
 * (< 0.34, 0.4-0.6, > 0.66), so the visible object is where its class says even after rotation and
 * pixel rounding.
 */
export const POSITION_REGIONS: readonly [number, number][] = [
  [0, 0.3],
  [0.43, 0.57],
  [0.7, 1],
];

export interface ObjectConfig {
  scaleRange: [number, number];
  rotationRange: [number, number];
  /** Probability of a silhouette-breaking pattern (dotted, outlined) where the pattern is free. */
  breakingPatternProb: number;
  colorJitter: number;
  /** Gap between the object and the frame's edge, fraction of the frame. */
  margin: number;
}

export interface ClassificationConfig {
  name: WorldClassificationName;
  axis: ClassAxis;
  template: string;
  templates: string[];
  imageSize: number;
  object: ObjectConfig;
  look: LookConfig;
  perClass: { full: SplitCounts; quick: SplitCounts };
}

/** One class: its name and the attributes it fixes. */
interface ClassDef {
  name: string;
  shape?: ShapeName;
  pattern?: PatternName;
  color?: ColorName;
  position?: PositionClass;
}

const NORMAL_COUNTS = { full: { train: 32, val: 16, test: 200 }, quick: { train: 16, val: 4, test: 20 } };

/** Objects of world-shapes / world-sketches / world-colors: 30-65% of the frame. */
const SHAPE_OBJECT: ObjectConfig = { scaleRange: [0.3, 0.65], rotationRange: [-30, 30], breakingPatternProb: 0.2, colorJitter: 12, margin: 0.03 };
const ALL_BACKGROUNDS: LookConfig['backgroundKinds'] = ['plain', 'gradient', 'texture'];

const PATTERN_SHAPE_TEMPLATES = SHAPE_CLASS_NAMES.map((n) => `a photo of a {} ${n}.`);
const POSITION_SHAPE_TEMPLATES = SHAPE_CLASS_NAMES.map((n) => fixArticles(`a photo of a ${n} on the {}.`));

export const CLASSIFICATION_CONFIGS: Record<WorldClassificationName, ClassificationConfig> = {
  'world-shapes': {
    name: 'world-shapes',
    axis: 'shape',
    template: 'a photo of a {}.',
    templates: ensemble('a photo of a {}.', WORLD_TEMPLATES),
    imageSize: 64,
    object: SHAPE_OBJECT,
    look: { styles: ['clean', 'noisy', 'blurred'], styleWeights: [1, 1, 1], styleStrengthRange: [0.8, 1.5], backgroundKinds: ALL_BACKGROUNDS, darkBackgroundProb: 0.35 },
    perClass: NORMAL_COUNTS,
  },
  'world-sketches': {
    name: 'world-sketches',
    axis: 'shape',
    template: 'a photo of a {}.',
    templates: ensemble('a photo of a {}.', WORLD_TEMPLATES),
    imageSize: 64,
    object: SHAPE_OBJECT,
    look: { styles: ['sketch', 'pixelated'], styleWeights: [1, 1], styleStrengthRange: [0.8, 1.5], backgroundKinds: ALL_BACKGROUNDS, darkBackgroundProb: 0.35 },
    perClass: NORMAL_COUNTS,
  },
  'world-patterns': {
    name: 'world-patterns',
    axis: 'pattern',
    template: 'a {} shape.',
    // Captions always name the shape ('a striped red star'), so the ensemble also names each shape.
    templates: ensemble('a {} shape.', ['a photo of a {} shape.', ...PATTERN_SHAPE_TEMPLATES]),
    imageSize: 64,
    // Patterns need room to show: 40-70% of the frame; pixelated blocks would wipe stripes out.
    object: { scaleRange: [0.4, 0.7], rotationRange: [-30, 30], breakingPatternProb: 0.2, colorJitter: 12, margin: 0.03 },
    look: { styles: ['clean', 'noisy', 'blurred', 'cartoon'], styleWeights: [1, 1, 1, 1], styleStrengthRange: [0.7, 1.3], backgroundKinds: ALL_BACKGROUNDS, darkBackgroundProb: 0.35 },
    perClass: NORMAL_COUNTS,
  },
  'world-colors': {
    name: 'world-colors',
    axis: 'color-shape',
    template: 'a photo of a {}.',
    templates: ensemble('a photo of a {}.', WORLD_TEMPLATES),
    imageSize: 64,
    object: SHAPE_OBJECT,
    // No sketches: they show no colour.
    look: { styles: ['clean', 'noisy', 'blurred', 'pixelated', 'cartoon'], styleWeights: [1, 1, 1, 1, 1], styleStrengthRange: [0.8, 1.5], backgroundKinds: ALL_BACKGROUNDS, darkBackgroundProb: 0.35 },
    perClass: { full: { train: 32, val: 16, test: 30 }, quick: { train: 16, val: 4, test: 5 } },
  },
  'world-positions': {
    name: 'world-positions',
    axis: 'position',
    template: 'a photo of a shape on the {}.',
    templates: ensemble('a photo of a shape on the {}.', POSITION_SHAPE_TEMPLATES),
    imageSize: 64,
    object: { scaleRange: [0.16, 0.28], rotationRange: [-30, 30], breakingPatternProb: 0.2, colorJitter: 12, margin: 0.03 },
    look: {
      styles: ['clean', 'sketch', 'noisy', 'blurred', 'pixelated', 'cartoon'],
      styleWeights: [1, 1, 1, 1, 1, 1],
      styleStrengthRange: [0.8, 1.5],
      backgroundKinds: ALL_BACKGROUNDS,
      darkBackgroundProb: 0.35,
    },
    perClass: NORMAL_COUNTS,
  },
};

function classDefs(axis: ClassAxis): ClassDef[] {
  switch (axis) {
    case 'shape':
      return SHAPES.map((shape, i) => ({ name: SHAPE_CLASS_NAMES[i], shape }));
    case 'pattern':
      return PATTERNS.map((pattern) => ({ name: pattern, pattern }));
    case 'color-shape':
      // Shape-major, so the base classes (first half) are the first five shapes in every colour.
      return SHAPES.flatMap((shape, i) => COLORS.map((color) => ({ name: `${color} ${SHAPE_CLASS_NAMES[i]}`, shape, color })));
    case 'position':
      return POSITION_CLASSES.map((position) => ({ name: position.name, position }));
  }
}

/** One classification item's generation: the class, its draw key and the still scene. */
export interface ClassificationSpec extends StillSpec {
  label: number;
  /** Index of the item within its class (the stream key). */
  k: number;
}

/** Moves the object so that the centre of its rotated bounding box lies in the position's region. */
function placeAt(o: ObjectSpec, pos: PositionClass, margin: number, rng: Rng): void {
  const box = rotatedBox(o.shape, o.rotation);
  const half = o.scale / 2;
  const offX = ((box[0] + box[1]) / 2) * half;
  const offY = ((box[2] + box[3]) / 2) * half;
  const range = placementRange(o, 1, margin, [0, 0], box);
  const rx = POSITION_REGIONS[pos.h + 1];
  const ry = POSITION_REGIONS[pos.v + 1];
  if (!range) throw new Error(`world-positions: object of scale ${o.scale} does not fit the frame`);
  const x0 = Math.max(range[0] + offX, rx[0]), x1 = Math.min(range[1] + offX, rx[1]);
  const y0 = Math.max(range[2] + offY, ry[0]), y1 = Math.min(range[3] + offY, ry[1]);
  if (x0 > x1 || y0 > y1) throw new Error(`world-positions: object of scale ${o.scale} does not fit the region "${pos.name}"`);
  o.cx = rng.range(x0, x1) - offX;
  o.cy = rng.range(y0, y1) - offY;
}

export class WorldClassificationDataset extends WorldDatasetBase<ImageItem, ClassificationSpec> implements ClassificationDataset {
  readonly kind = 'classification' as const;
  readonly classNames: string[];
  readonly template: string;
  readonly templates: string[];
  readonly imageSize: number;
  /** Items per class in each split. */
  readonly perClass: SplitCounts;
  private readonly classes: ClassDef[];

  constructor(
    readonly config: ClassificationConfig,
    opts: WorldDatasetOptions = {},
  ) {
    super(config.name, opts);
    this.classes = classDefs(config.axis);
    this.classNames = this.classes.map((c) => c.name);
    this.template = config.template;
    this.templates = config.templates.slice();
    this.imageSize = config.imageSize;
    this.perClass = checkCounts({ ...(this.quick ? config.perClass.quick : config.perClass.full), ...opts.counts }, config.name);
  }

  protected draw(split: SplitName): { items: ImageItem[]; specs: ClassificationSpec[] } {
    const items: ImageItem[] = [];
    const specs: ClassificationSpec[] = [];
    const { object: oc, look } = this.config;
    this.classes.forEach((c, label) => {
      for (let k = 0; k < this.perClass[split]; k++) {
        const rng = itemStream(this.seed, this.name, split, label, k);
        const o = sampleObject(rng, {
          shapes: c.shape ? [c.shape] : undefined,
          colors: c.color ? [c.color] : undefined,
          patterns: c.pattern ? [c.pattern] : undefined,
          breakingPatternProb: oc.breakingPatternProb,
          scaleRange: oc.scaleRange,
          rotationRange: oc.rotationRange,
          colorJitter: oc.colorJitter,
          margin: oc.margin,
        });
        if (c.position) placeAt(o, c.position, oc.margin, rng);
        const lk = sampleLook(rng, look, [o.rgb as RGB]);
        if (c.color) keepColourVisible(o, lk.style, rng);
        const spec: ClassificationSpec = { label, k, objects: [o], ...lk, keys: itemKeys(this.name, split, label, k) };
        items.push({ index: items.length, label, domain: lk.style });
        specs.push(spec);
      }
    });
    return { items, specs };
  }

  /** The rendered item with its label map (1 + shape index where the object is). */
  render(item: ImageItem, split: SplitName): RenderedScene {
    return renderStill(this.spec(item, split), this.imageSize, this.seed);
  }

  image(item: ImageItem, split: SplitName): WorldImage {
    return this.render(item, split).image;
  }

  protected parameters(): { [key: string]: Json } {
    const c = this.config;
    const p: { [key: string]: Json } = {
      imageSize: c.imageSize,
      classesBy: c.axis,
      object: { ...c.object },
      look: { ...c.look },
      perClass: { ...this.perClass },
    };
    if (c.axis === 'position') p.positionRegions = POSITION_REGIONS.map((r) => [...r]);
    return p;
  }

  protected describe() {
    return { kind: this.kind, classNames: this.classNames.slice(), template: this.template, templates: this.templates.slice() };
  }
}
