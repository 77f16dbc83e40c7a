// Tiny datasets written in the exact formats CoOp's datasets/*.py read (test data only): a
// split_zhou_*.json with its image folder, and ImageNet with its four shifted test sets (V2's label
// folders, Sketch / A / R's wnid folders, each with its copy of classnames.txt), under a data root laid
// out as CoOp's DATASETS.md says. Images are small one-colour JPEGs, a colour per class.
import * as fs from 'fs';
import * as path from 'path';
import * as jpeg from 'jpeg-js';
import type { ClipConfig } from '../../src/clip/config';

/**
 * A tiny random CLIP at the official presets' 224 px (a ViT with patch 32: 7 x 7 tokens), width 64, one
 * layer per tower, 515 tokens (512 byte symbols, one merge, SOT, EOT): what the real-data tests run.
 */
export const TINY_VIT_224: ClipConfig = {
  embedDim: 32, imageResolution: 224, visionLayers: 1, visionWidth: 64, visionPatchSize: 32, visionHeads: 1,
  contextLength: 77, vocabSize: 515, transformerWidth: 64, transformerHeads: 1, transformerLayers: 1,
  textAct: 'quick_gelu', visionAct: 'quick_gelu', layerNormEps: 1e-5,
};

export function writeJpeg(file: string, rgb: [number, number, number], w = 8, h = 8): void {
  const data = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([...rgb, 255], i * 4);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, jpeg.encode({ data, width: w, height: h }, 95).data);
}

const colour = (k: number): [number, number, number] => [(k * 70) % 256, 255 - ((k * 50) % 256), (k * 110) % 256];

/**
 * A CoOp split dataset at root/<dir>: `<images>/<folder>/<s>_<i>.jpg` for each class and split, and
 * `<split>` = {"train": [[impath, label, classname], ...], "val": [...], "test": [...]}.
 */
export function writeCoopSplitDataset(root: string, o: { dir: string; images: string; split: string; classes: string[]; train?: number; test?: number }): string {
  const dir = path.join(root, o.dir);
  const split: Record<'train' | 'val' | 'test', [string, number, string][]> = { train: [], val: [], test: [] };
  o.classes.forEach((name, label) => {
    const counts = { train: o.train ?? 2, val: 1, test: o.test ?? 1 };
    for (const s of ['train', 'val', 'test'] as const) {
      for (let i = 0; i < counts[s]; i++) {
        const rel = `${name}/${s}_${i}.jpg`;
        writeJpeg(path.join(dir, o.images, rel), colour(label));
        split[s].push([rel, label, name]);
      }
    }
  });
  fs.writeFileSync(path.join(dir, o.split), JSON.stringify(split));
  return dir;
}

/** ImageNet's classes of the fixture: wnid and name (CoOp's classnames.txt lines). */
export const TINY_IMAGENET = [
  ['n01440764', 'tench'],
  ['n01443537', 'goldfish'],
  ['n01484850', 'great white shark'],
] as const;

/**
 * ImageNet (root/imagenet: images/train/<wnid>/, images/val/<wnid>/, classnames.txt) and its four
 * shifts as CoOp lays them out: imagenetv2/imagenetv2-matched-frequency-format-val/<k>/,
 * imagenet-sketch/images/<wnid>/, imagenet-adversarial/imagenet-a/<wnid>/ and
 * imagenet-rendition/imagenet-r/<wnid>/ (A and R hold a subset of the classes, as their 200 of 1000),
 * each with a copy of classnames.txt. `skip` leaves some of the shifts out.
 */
export function writeImageNetFamily(root: string, o: { train?: number; aWnids?: string[]; rWnids?: string[]; skip?: string[] } = {}): void {
  const classnames = TINY_IMAGENET.map(([w, n]) => `${w} ${n}`).join('\n') + '\n';
  const put = (dir: string) => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'classnames.txt'), classnames);
  };
  const imagenet = path.join(root, 'imagenet');
  put(imagenet);
  TINY_IMAGENET.forEach(([wnid], k) => {
    for (let i = 0; i < (o.train ?? 2); i++) writeJpeg(path.join(imagenet, 'images', 'train', wnid, `${wnid}_${i}.JPEG`), colour(k));
    writeJpeg(path.join(imagenet, 'images', 'val', wnid, `ILSVRC2012_val_${k}.JPEG`), colour(k));
  });
  const skip = new Set(o.skip ?? []);
  if (!skip.has('imagenetv2')) {
    const v2 = path.join(root, 'imagenetv2');
    put(v2);
    TINY_IMAGENET.forEach((_, k) => writeJpeg(path.join(v2, 'imagenetv2-matched-frequency-format-val', String(k), 'a.jpeg'), colour(k)));
  }
  const wnidFolders = (id: string, dir: string, images: string, wnids: readonly string[]) => {
    if (skip.has(id)) return;
    const d = path.join(root, dir);
    put(d);
    fs.mkdirSync(path.join(d, images), { recursive: true });
    fs.writeFileSync(path.join(d, images, 'README.txt'), 'not a class folder'); // ImageNet-A and -R ship one
    for (const w of wnids) writeJpeg(path.join(d, images, w, '0.jpg'), colour(TINY_IMAGENET.findIndex(([x]) => x === w)));
  };
  wnidFolders('imagenet_sketch', 'imagenet-sketch', 'images', TINY_IMAGENET.map(([w]) => w));
  wnidFolders('imagenet_a', 'imagenet-adversarial', 'imagenet-a', o.aWnids ?? [TINY_IMAGENET[0][0], TINY_IMAGENET[2][0]]);
  wnidFolders('imagenet_r', 'imagenet-rendition', 'imagenet-r', o.rWnids ?? [TINY_IMAGENET[1][0], TINY_IMAGENET[2][0]]);
}
