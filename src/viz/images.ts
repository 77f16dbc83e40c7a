// Pictures of the data for notebooks and figures: PNG bytes of an image, and a contact sheet of a
// benchmark's classes (a row per class) to show what a dataset asks about.
import { PNG } from 'pngjs';
import type { RawImage } from '../clip/image';
import type { ClassificationDataset, ImageItem, SplitName } from '../data/dataset';
import { contactSheet } from '../world/sheet';

/** PNG bytes of an RGB or RGBA image. */
export function pngBytes(image: RawImage): Buffer {
  const png = new PNG({ width: image.width, height: image.height });
  for (let i = 0, n = image.width * image.height; i < n; i++) {
    for (let c = 0; c < 3; c++) png.data[4 * i + c] = image.data[image.channels * i + c];
    png.data[4 * i + 3] = image.channels === 4 ? image.data[4 * i + 3] : 255;
  }
  return PNG.sync.write(png);
}

/** `perClass` images of each of the first `classes` classes of a split, a row per class; returns the PNG and the row names. */
export function datasetSheet(ds: ClassificationDataset, opts: { split?: SplitName; classes?: number; perClass?: number; zoom?: number } = {}): { png: Buffer; rows: string[] } {
  const split = opts.split ?? 'train';
  const k = Math.min(opts.classes ?? 6, ds.classNames.length);
  const per = opts.perClass ?? 8;
  const items = ds.split(split);
  const images: RawImage[] = [];
  const rows: string[] = [];
  for (let c = 0; c < k; c++) {
    const mine = items.filter((it) => it.label === c).slice(0, per);
    if (mine.length < per) throw new Error(`${ds.name}: only ${mine.length} ${split} images of class "${ds.classNames[c]}", asked for ${per}`);
    for (const it of mine) images.push(ds.image(it, split));
    rows.push(ds.classNames[c]);
  }
  const sheet = contactSheet(images.map((im) => ({ width: im.width, height: im.height, channels: 3 as const, data: rgb(im) })), per, opts.zoom ?? 1);
  return { png: pngBytes(sheet), rows };
}

/** Some items of a split side by side (e.g. the images a notebook classifies). */
export function itemsSheet(ds: ClassificationDataset, items: readonly ImageItem[], split: SplitName, zoom = 2): Buffer {
  const images = items.map((it) => ds.image(it, split));
  return pngBytes(contactSheet(images.map((im) => ({ width: im.width, height: im.height, channels: 3 as const, data: rgb(im) })), images.length, zoom));
}

function rgb(im: RawImage): Uint8Array {
  if (im.channels === 3) return im.data as Uint8Array;
  const out = new Uint8Array(im.width * im.height * 3);
  for (let i = 0; i < im.width * im.height; i++) for (let c = 0; c < 3; c++) out[3 * i + c] = im.data[im.channels * i + c];
  return out;
}
