// world-motion: 8-frame 64 x 64 clips of one object moving, one class per motion of src/world/video.ts.
// The paired classes (move-left / move-right, up / down, grow / shrink, the two rotations) are time
// reversals of each other, so a mean over frames cannot tell them apart; only the order can.
import { MOTIONS, MOTION_PHRASES, renderVideo, sampleVideo, type MotionName, type VideoSpec, type WorldImage } from '../world';
import type { SplitName, VideoDataset, VideoItem } from './dataset';
import type { Json } from './manifest';
import {
  SHAPE_CLASS_NAMES,
  WorldDatasetBase,
  checkCounts,
  ensemble,
  itemKeys,
  itemStream,
  keepColourVisible,
  type SplitCounts,
  type WorldDatasetOptions,
} from './world-common';
import type { StyleName } from '../world';
import { fixArticles } from '../world/caption';

export interface MotionConfig {
  imageSize: number;
  frames: number;
  /** Styles, uniformly; no sketches (a change of colour would not show). */
  styles: StyleName[];
  scaleRange: [number, number];
  rotationRange: [number, number];
  breakingPatternProb: number;
  perClass: { full: SplitCounts; quick: SplitCounts };
}

export const MOTION_CONFIG: MotionConfig = {
  imageSize: 64,
  frames: 8,
  styles: ['clean', 'noisy', 'blurred', 'pixelated', 'cartoon'],
  scaleRange: [0.28, 0.42],
  rotationRange: [-30, 30],
  breakingPatternProb: 0.2,
  perClass: { full: { train: 32, val: 8, test: 50 }, quick: { train: 8, val: 2, test: 5 } },
};

export interface MotionSpec {
  label: number;
  k: number;
  video: VideoSpec;
}

export class WorldMotionDataset extends WorldDatasetBase<VideoItem, MotionSpec> implements VideoDataset {
  readonly kind = 'video' as const;
  /** The motion ids of video.ts, in label order. */
  readonly motions: MotionName[] = [...MOTIONS];
  /** The captions' phrases ('moving left', 'rotating clockwise', ...). */
  readonly classNames: string[] = MOTIONS.map((m) => MOTION_PHRASES[m]);
  readonly template = 'a video of a shape {}.';
  /** Captions always name the shape ('a video of a red star moving left'), so the ensemble names each. */
  readonly templates = ensemble('a video of a shape {}.', SHAPE_CLASS_NAMES.map((n) => fixArticles(`a video of a ${n} {}.`)));
  readonly imageSize: number;
  readonly numFrames: number;
  readonly perClass: SplitCounts;

  constructor(
    readonly config: MotionConfig = MOTION_CONFIG,
    opts: WorldDatasetOptions = {},
  ) {
    super('world-motion', opts);
    this.imageSize = config.imageSize;
    this.numFrames = config.frames;
    this.perClass = checkCounts({ ...(this.quick ? config.perClass.quick : config.perClass.full), ...opts.counts }, 'world-motion');
  }

  protected draw(split: SplitName): { items: VideoItem[]; specs: MotionSpec[] } {
    const items: VideoItem[] = [];
    const specs: MotionSpec[] = [];
    const c = this.config;
    MOTIONS.forEach((motion, label) => {
      for (let k = 0; k < this.perClass[split]; k++) {
        const rng = itemStream(this.seed, this.name, split, motion, k);
        const v = sampleVideo(rng, {
          motion,
          frames: c.frames,
          size: c.imageSize,
          styles: c.styles,
          scaleRange: c.scaleRange,
          rotationRange: c.rotationRange,
          breakingPatternProb: c.breakingPatternProb,
        });
        const video: VideoSpec = { ...v, object: { ...v.object }, keys: itemKeys(this.name, split, motion, k) };
        if (motion === 'change-color') keepColourVisible(video.object, video.style ?? 'clean', rng);
        items.push({ index: items.length, label, domain: video.style });
        specs.push({ label, k, video });
      }
    });
    return { items, specs };
  }

  frames(item: VideoItem, split: SplitName): WorldImage[] {
    return renderVideo(this.spec(item, split).video);
  }

  protected parameters(): { [key: string]: Json } {
    const c = this.config;
    return {
      imageSize: c.imageSize,
      frames: c.frames,
      motions: this.motions.slice(),
      styles: c.styles.slice(),
      scaleRange: [...c.scaleRange],
      rotationRange: [...c.rotationRange],
      breakingPatternProb: c.breakingPatternProb,
      perClass: { ...this.perClass },
    };
  }

  protected describe() {
    return { kind: this.kind, classNames: this.classNames.slice(), template: this.template, templates: this.templates.slice() };
  }
}
