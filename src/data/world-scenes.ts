// world-scenes: semantic segmentation of 128 x 128 scenes with 2-4 objects on varied backgrounds in
// every style. Pixel label = 1 + shape index where an object's silhouette is, 0 (background) elsewhere.
import { rotatedBox, sampleScene, type ObjectSpec, type RenderedScene, type RGB, type WorldImage } from '../world';
import type { SegmentationDataset, SegmentationExample, SegmentationItem, SplitName } from './dataset';
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
  renderStill,
  sampleLook,
  type LookConfig,
  type SplitCounts,
  type StillSpec,
  type WorldDatasetOptions,
} from './world-common';

export interface ScenesConfig {
  imageSize: number;
  objectCount: [number, number];
  object: ObjectConfig;
  /** Minimum gap between objects' boxes, fraction of the frame (objects never touch or occlude). */
  gap: number;
  look: LookConfig;
  counts: { full: SplitCounts; quick: SplitCounts };
}

export const SCENES_CONFIG: ScenesConfig = {
  imageSize: 128,
  objectCount: [2, 4],
  object: { scaleRange: [0.2, 0.4], rotationRange: [-30, 30], breakingPatternProb: 0.2, colorJitter: 12, margin: 0.03 },
  gap: 0.02,
  look: {
    styles: ['clean', 'sketch', 'noisy', 'blurred', 'pixelated', 'cartoon'],
    styleWeights: [1, 1, 1, 1, 1, 1],
    styleStrengthRange: [0.8, 1.4],
    backgroundKinds: ['plain', 'gradient', 'texture'],
    darkBackgroundProb: 0.35,
  },
  counts: { full: { train: 400, val: 50, test: 200 }, quick: { train: 40, val: 10, test: 20 } },
};

export interface SceneSpec extends StillSpec {
  index: number;
}

/** The objects' rotated bounding boxes in frame fractions: [x0, x1, y0, y1]. */
function boxes(objects: readonly ObjectSpec[]): [number, number, number, number][] {
  return objects.map((o) => {
    const b = rotatedBox(o.shape, o.rotation);
    const k = o.scale / 2;
    return [o.cx + b[0] * k, o.cx + b[1] * k, o.cy + b[2] * k, o.cy + b[3] * k];
  });
}

function separated(objects: readonly ObjectSpec[]): boolean {
  const bs = boxes(objects);
  for (let i = 0; i < bs.length; i++) for (let j = i + 1; j < bs.length; j++) {
    const [a, b] = [bs[i], bs[j]];
    if (!(a[1] <= b[0] || b[1] <= a[0] || a[3] <= b[2] || b[3] <= a[2])) return false;
  }
  return true;
}

export class WorldScenesDataset extends WorldDatasetBase<SegmentationItem, SceneSpec> implements SegmentationDataset {
  readonly kind = 'segmentation' as const;
  readonly classNames = ['background', ...SHAPE_CLASS_NAMES];
  readonly template = 'a photo of a {}.';
  readonly templates = ensemble('a photo of a {}.', WORLD_TEMPLATES);
  readonly imageSize: number;
  /** Items in each split. */
  readonly counts: SplitCounts;

  constructor(
    readonly config: ScenesConfig = SCENES_CONFIG,
    opts: WorldDatasetOptions = {},
  ) {
    super('world-scenes', opts);
    this.imageSize = config.imageSize;
    this.counts = checkCounts({ ...(this.quick ? config.counts.quick : config.counts.full), ...opts.counts }, 'world-scenes');
  }

  protected draw(split: SplitName): { items: SegmentationItem[]; specs: SceneSpec[] } {
    const items: SegmentationItem[] = [];
    const specs: SceneSpec[] = [];
    const { object: oc, look } = this.config;
    for (let index = 0; index < this.counts[split]; index++) {
      const rng = itemStream(this.seed, this.name, split, index);
      // sampleScene's last resort may let boxes touch; draw again until they do not (nearly always at once).
      let objects: ObjectSpec[] = [];
      for (let attempt = 0; ; attempt++) {
        objects = sampleScene(rng, {
          count: this.config.objectCount,
          gap: this.config.gap,
          breakingPatternProb: oc.breakingPatternProb,
          scaleRange: oc.scaleRange,
          rotationRange: oc.rotationRange,
          colorJitter: oc.colorJitter,
          margin: oc.margin,
        });
        if (separated(objects)) break;
        if (attempt === 50) throw new Error(`world-scenes: could not separate the objects of ${split} item ${index}`);
      }
      const lk = sampleLook(rng, look, objects.map((o) => o.rgb as RGB));
      items.push({ index, domain: lk.style });
      specs.push({ index, objects, ...lk, keys: itemKeys(this.name, split, index) });
    }
    return { items, specs };
  }

  /** The rendered scene with its label map, instance map and per-object pixel counts. */
  render(item: SegmentationItem, split: SplitName): RenderedScene {
    return renderStill(this.spec(item, split), this.imageSize, this.seed);
  }

  example(item: SegmentationItem, split: SplitName): SegmentationExample & { image: WorldImage } {
    const r = this.render(item, split);
    return { image: r.image, labels: r.labels };
  }

  protected parameters(): { [key: string]: Json } {
    const c = this.config;
    return {
      imageSize: c.imageSize,
      objectCount: [...c.objectCount],
      object: { ...c.object },
      gap: c.gap,
      look: { ...c.look },
      labels: 'background 0, shape index + 1',
      count: { ...this.counts },
    };
  }

  protected describe() {
    return { kind: this.kind, classNames: this.classNames.slice(), template: this.template, templates: this.templates.slice() };
  }
}
