// The official CZSL layout (MIT-States, UT-Zappos, C-GQA), on a small dataset the test writes in it.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import { loadCzslFolder, metadataConversion } from '../../src/data/czsl-folder';

function writePng(file: string, rgb: [number, number, number]): void {
  const png = new PNG({ width: 4, height: 3 });
  for (let i = 0; i < 12; i++) png.data.set([...rgb, 255], i * 4);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, PNG.sync.write(png));
}

describe('CZSL datasets in the official layout', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-czsl-'));
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  const split = path.join(root, 'compositional-split-natural');
  fs.mkdirSync(split, { recursive: true });
  fs.writeFileSync(path.join(split, 'train_pairs.txt'), 'ancient building\nFaux.Leather Boots.Ankle\nancient tree\n');
  fs.writeFileSync(path.join(split, 'val_pairs.txt'), 'young tree\nancient building\n');
  fs.writeFileSync(path.join(split, 'test_pairs.txt'), 'young building\nFaux.Leather tree\n');
  const meta = [
    { image: 'ancient_building/1.png', attr: 'ancient', obj: 'building', set: 'train' },
    { image: 'ancient_tree/1.png', attr: 'ancient', obj: 'tree', set: 'train' },
    { image: 'faux/1.png', attr: 'Faux.Leather', obj: 'Boots.Ankle', set: 'train' },
    { image: 'young_tree/1.png', attr: 'young', obj: 'tree', set: 'val' },
    { image: 'young_building/1.png', attr: 'young', obj: 'building', set: 'test' },
    { image: 'young_building/2.png', attr: 'young', obj: 'building', set: 'test' },
    { image: 'na/1.png', attr: 'NA', obj: 'tree', set: 'train' },
    { image: 'unsplit/1.png', attr: 'young', obj: 'Boots.Ankle', set: 'test' },
    { image: 'noset/1.png', attr: 'ancient', obj: 'tree', set: 'NA' },
  ];
  for (const [i, m] of meta.entries()) writePng(path.join(root, 'images', m.image), [i * 20, 100, 200]);

  it('reads the torch metadata itself (test/unit/real-datasets.test.ts writes real ones): a file that is not torch.save is refused by name', () => {
    const t7 = path.join(root, 'metadata_compositional-split-natural.t7');
    fs.writeFileSync(t7, 'not a torch file');
    assert.throws(() => loadCzslFolder(root), /metadata_compositional-split-natural\.t7: not a torch\.save file \(neither a zip nor a pickle\)/);
    fs.rmSync(t7);
    assert.match(metadataConversion(root), /json\.dump\(torch\.load/, 'the JSON copy, still read where there is no .t7');
  });

  it('reads pairs, attributes and objects as the official code sorts them, drops unlabelled images, loads the images', () => {
    fs.writeFileSync(path.join(root, 'metadata_compositional-split-natural.json'), JSON.stringify(meta));
    const ds = loadCzslFolder(root, { name: 'tiny-states' });
    assert.deepStrictEqual(ds.attrs, ['Faux.Leather', 'ancient', 'young'], 'code-point order: capitals first');
    assert.deepStrictEqual(ds.objs, ['Boots.Ankle', 'building', 'tree']);
    assert.deepStrictEqual(ds.pairs, [['Faux.Leather', 'Boots.Ankle'], ['Faux.Leather', 'tree'], ['ancient', 'building'], ['ancient', 'tree'], ['young', 'building'], ['young', 'tree']]);
    assert.deepStrictEqual(ds.trainPairs, [['ancient', 'building'], ['Faux.Leather', 'Boots.Ankle'], ['ancient', 'tree']], 'file order: the training labels');
    assert.strictEqual(ds.openWorldPairs.length, 9);
    assert.deepStrictEqual([ds.split('train').length, ds.split('val').length, ds.split('test').length], [3, 1, 2]);
    const t = ds.split('train')[2];
    assert.deepStrictEqual([ds.attrs[t.attr], ds.objs[t.obj]], ['Faux.Leather', 'Boots.Ankle']);
    const img = ds.image(ds.split('test')[1], 'test');
    assert.deepStrictEqual([img.width, img.height, img.data[0]], [4, 3, 100]);
    assert.deepStrictEqual(ds.manifest.counts, { train: 3, val: 1, test: 2 });
  });

  it('refuses images outside the images folder and malformed pair lines', () => {
    fs.writeFileSync(path.join(root, 'metadata_compositional-split-natural.json'), JSON.stringify([{ image: '../../etc/passwd', attr: 'young', obj: 'tree', set: 'val' }]));
    assert.throws(() => loadCzslFolder(root), /image "..\/..\/etc\/passwd" is outside/);
    fs.writeFileSync(path.join(split, 'val_pairs.txt'), 'young tree extra\n');
    assert.throws(() => loadCzslFolder(root), /val_pairs.txt:1: "young tree extra" is not "attr obj"/);
  });
});
