// ADE20K's released layout, on a tiny dataset this test writes in that layout: files sorted, labels
// reduced as mmseg's reduce_zero_label, class names from objectInfo150.csv, clear errors.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadAde20k, readObjectInfo, reduceZeroLabel } from '../../src/data/ade20k';
import { encodePng } from '../../src/viz/png';

function writeAde(root: string): void {
  const names = Array.from({ length: 150 }, (_, i) => (i === 0 ? 'wall' : i === 6 ? 'bed;bedstead' : `class ${i + 1};synonym`));
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, 'objectInfo150.csv'), ['Idx,Ratio,Train,Val,Name', ...names.map((n, i) => `${i + 1},0.01,100,10,${n}`)].join('\n') + '\n');
  for (const [folder, ids] of [['training', ['ADE_train_00000002', 'ADE_train_00000001']], ['validation', ['ADE_val_00000001']]] as const) {
    fs.mkdirSync(path.join(root, 'images', folder), { recursive: true });
    fs.mkdirSync(path.join(root, 'annotations', folder), { recursive: true });
    ids.forEach((id, k) => {
      const w = 4, h = 3;
      // decodeImage reads the format from the bytes: a PNG under ADE's .jpg name decodes the same
      fs.writeFileSync(path.join(root, 'images', folder, `${id}.jpg`), encodePng(w, h, 3, Array.from({ length: w * h * 3 }, (_, i) => (i * 13 + k) % 256)));
      const labels = [0, 1, 2, 150, 7, 0, 255, 3, 4, 5, 6, k];
      fs.writeFileSync(path.join(root, 'annotations', folder, `${id}.png`), encodePng(w, h, 1, labels, { grey: true }));
    });
  }
}

describe('ADE20K (the released layout)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-ade-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('reduce_zero_label: 0 -> 255 (ignored), k -> k - 1, 255 stays ignored', () => {
    assert.deepStrictEqual(Array.from(reduceZeroLabel([0, 1, 2, 150, 255])), [255, 0, 1, 149, 255]);
  });

  it('lists files sorted by name, reads images and 8-bit annotations, 150 classes named by their first synonym', () => {
    const root = path.join(tmp, 'ADEChallengeData2016');
    writeAde(root);
    const ds = loadAde20k(root);
    assert.strictEqual(ds.classNames.length, 150);
    assert.deepStrictEqual([ds.classNames[0], ds.classNames[6], ds.classNames[1]], ['wall', 'bed', 'class 2']);
    assert.deepStrictEqual(ds.manifest.counts, { train: 2, val: 1, test: 1 });
    assert.strictEqual(ds.ignoreIndex, 255);
    const first = ds.example(ds.split('train')[0], 'train'); // ADE_train_00000001 (sorted), k = 1
    assert.deepStrictEqual([first.image.width, first.image.height], [4, 3]);
    assert.deepStrictEqual(Array.from(first.labels), [255, 0, 1, 149, 6, 255, 255, 2, 3, 4, 5, 0]);
    const val = ds.example(ds.split('val')[0], 'val');
    assert.strictEqual(val.labels[11], 255); // k = 0 -> unlabelled
  });

  it('errors name the missing file and what the layout should hold', () => {
    const root = path.join(tmp, 'broken');
    writeAde(root);
    fs.rmSync(path.join(root, 'annotations', 'validation', 'ADE_val_00000001.png'));
    assert.throws(() => loadAde20k(root), /ADE_val_00000001\.jpg has no annotation .*ADE_val_00000001\.png/);
    fs.rmSync(path.join(root, 'annotations', 'validation'), { recursive: true });
    assert.throws(() => loadAde20k(root), /annotations\/validation: missing \(ADE20K's layout has images/);
    fs.writeFileSync(path.join(root, 'objectInfo150.csv'), 'Name\nwall\n');
    assert.throws(() => readObjectInfo(path.join(root, 'objectInfo150.csv')), /expected a header with Idx and Name columns/);
  });
});
