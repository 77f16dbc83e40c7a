// The loader interfaces that every dataset implements, the embedded world's benchmarks and (later) the
// papers' real datasets alike: methods, training loops and evaluation see only these, never where the
// pixels come from.
import type { RawImage } from '../clip/image';
import type { FolderManifest } from './czsl-folder';
import type { SegmentationFolderManifest } from './ade20k';
import type { ClassificationFolderManifest } from './coop-datasets';
import type { WorldManifest } from './manifest';

export type SplitName = 'train' | 'val' | 'test';
export const SPLITS: readonly SplitName[] = ['train', 'val', 'test'];

/** What a dataset's run records cite: a world manifest, or a folder dataset's description. */
export type DatasetManifest = WorldManifest | FolderManifest | SegmentationFolderManifest | ClassificationFolderManifest;

/** One image of a classification dataset. `index` is its position in its split's list. */
export interface ImageItem {
  index: number;
  label: number;
  /** The domain (style, for the world) the image belongs to, where the dataset has several. */
  domain?: string;
}

interface DatasetBase<Item> {
  name: string;
  /** The hand-crafted prompt, with `{}` where the class name goes (e.g. 'a photo of a {}.'). */
  template: string;
  /** A prompt ensemble in the manner of CoOp's ZeroshotCLIP2; includes `template`. */
  templates: string[];
  /** The split's items, in a fixed order. */
  split(name: SplitName): Item[];
  manifest: DatasetManifest;
}

export interface ClassificationDataset extends DatasetBase<ImageItem> {
  kind: 'classification';
  /**
   * In label order. Labels are sorted ascending, so the base-to-new protocol's base classes are the
   * first ceil(n / 2) names and the new classes the rest.
   */
  classNames: string[];
  /** The item's image (rendered or decoded on demand, the same bytes every time). */
  image(item: ImageItem, split: SplitName): RawImage;
}

/** An (attribute, object) pair, e.g. ['red', 'star']. */
export type Pair = readonly [attr: string, obj: string];

/** One image of a compositional dataset: indices into `attrs` and `objs`. */
export interface CompositionalItem {
  index: number;
  attr: number;
  obj: number;
  domain?: string;
}

/**
 * Attribute-object pairs with seen (training) and unseen pairs, as the CZSL splits of MIT-States,
 * UT-Zappos and C-GQA: attrs, objs and pairs sorted; val and test hold seen and unseen pairs.
 */
export interface CompositionalDataset extends DatasetBase<CompositionalItem> {
  kind: 'compositional';
  attrs: string[];
  objs: string[];
  /** The closed world: the sorted union of the train, val and test pairs. */
  pairs: Pair[];
  /** The open world: every attribute with every object (attrs-major, sorted). */
  openWorldPairs: Pair[];
  /** The seen pairs (training labels are indices into this list). */
  trainPairs: Pair[];
  /** The pairs with val / test images: seen and unseen. */
  valPairs: Pair[];
  testPairs: Pair[];
  image(item: CompositionalItem, split: SplitName): RawImage;
}

export interface SegmentationItem {
  index: number;
  domain?: string;
}

export interface SegmentationExample {
  image: RawImage;
  /** H x W class indices into `classNames`, or the dataset's ignoreIndex for unlabelled pixels. */
  labels: Uint8Array;
}

export interface SegmentationDataset extends DatasetBase<SegmentationItem> {
  kind: 'segmentation';
  /** In label order (the world: background first, then the object classes). */
  classNames: string[];
  /** Images are imageSize x imageSize (0 where sizes vary, as in ADE20K). */
  imageSize: number;
  /** The label of unlabelled pixels, which metrics and losses ignore (255), where there are any. */
  ignoreIndex?: number;
  example(item: SegmentationItem, split: SplitName): SegmentationExample;
}

export interface VideoItem {
  index: number;
  label: number;
  domain?: string;
}

export interface VideoDataset extends DatasetBase<VideoItem> {
  kind: 'video';
  /** In label order (names as prompts use them, e.g. 'moving left'). */
  classNames: string[];
  /** Frames per clip. */
  numFrames: number;
  frames(item: VideoItem, split: SplitName): RawImage[];
}

export type Dataset = ClassificationDataset | CompositionalDataset | SegmentationDataset | VideoDataset;

/** A class name as prompts use it: '_' becomes a space (the official code's c.replace("_", " ")). */
export function promptClassName(name: string): string {
  return name.replace(/_/g, ' ');
}

/**
 * The prompt of a class: the template's `{}` replaced by the class name with '_' as spaces, and
 * nothing else, as the official code does (template.format(c.replace("_", " "))): "a photo of a
 * orange circle." keeps its "a". Zero-shot classifiers, CoOp/CoCoOp's prompts and their word
 * initialisation all build their text here, so the same class gets the same prompt everywhere.
 */
export function fillTemplate(template: string, name: string): string {
  const slots = template.split('{}').length - 1;
  if (slots !== 1) throw new Error(`template "${template}" must hold exactly one {} for the class name (it has ${slots})`);
  return template.replace('{}', promptClassName(name));
}
