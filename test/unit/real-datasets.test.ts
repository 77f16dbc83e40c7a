// The papers' datasets in their released formats, each on a tiny dataset the test writes in that
// exact format: CoOp's split_zhou_*.json with its image folder, FGVC-Aircraft's variant lists,
// ImageNet's folders with classnames.txt (and V2 / Sketch-A-R), the CZSL metadata .t7 (torch.save'd
// lists of dicts, legacy and zip formats) read by the safe pickle reader; missing files named with
// the manifest that describes them; and `promptlab repro base2new --model ViT-B/16 --data ROOT` end to
// end on a tiny CoOp-format dataset and a tiny random CLIP written into a fake user cache.
import * as assert from 'assert';
import { TINY_VIT_224 } from '../helpers/coop-data';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { ClipConfig } from '../../src/clip/config';
import { randomStateDict } from '../../src/clip/random';
import { loadClip, resolveModel } from '../../src/clip/resolve';
import { readTorchData } from '../../src/clip/torch-checkpoint';
import { loadCoopSplit, loadFgvcAircraft, loadImageNetFolders, loadImageNetLabelFolders, loadImageNetWnidFolders, readCoopSplit } from '../../src/data/coop-datasets';
import { loadCzslFolder } from '../../src/data/czsl-folder';
import { fillTemplate } from '../../src/data/dataset';
import { baseToNewSplit, sampleFewShot } from '../../src/data/protocols';
import { loadRealDataset, realDatasetNames } from '../../src/data/real';
import { runExperiment } from '../../src/repro/experiments';
import { Global, pickle, torchSaveLegacy, torchSaveStateDict, torchSaveZip, zipOf } from '../helpers/torch-save';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'promptlab.js');

function writePng(file: string, rgb: [number, number, number], w = 6, h = 4): void {
  const png = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) png.data.set([...rgb, 255], i * 4);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, PNG.sync.write(png));
}

function writeJpeg(file: string, rgb: [number, number, number], w = 8, h = 8): void {
  const data = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([...rgb, 255], i * 4);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, jpeg.encode({ data, width: w, height: h }, 95).data);
}

/** A child process run without blocking this one. */
function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env, cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * A Caltech101-shaped dataset in CoOp's layout under root/caltech-101: 4 classes (CoOp's rewritten
 * names, one with an underscore), `perClass` train images, 1 val and 1 test image per class.
 */
function writeCoopCaltech(root: string, perClass = 2): { dir: string; names: string[] } {
  const dir = path.join(root, 'caltech-101');
  const names = ['airplane', 'face', 'garfield', 'joshua_tree'];
  const folders = ['airplanes', 'Faces', 'garfield', 'joshua_tree'];
  const split: Record<string, [string, number, string][]> = { train: [], val: [], test: [] };
  names.forEach((name, label) => {
    const colour: [number, number, number] = [label * 60, 255 - label * 60, 100];
    const add = (s: string, i: number) => {
      const rel = `${folders[label]}/image_${s}_${i}.jpg`;
      writeJpeg(path.join(dir, '101_ObjectCategories', rel), colour);
      split[s].push([rel, label, name]);
    };
    for (let i = 0; i < perClass; i++) add('train', i);
    add('val', 0);
    add('test', 0);
  });
  fs.writeFileSync(path.join(dir, 'split_zhou_Caltech101.json'), JSON.stringify(split));
  return { dir, names };
}

describe('real datasets in their released formats', function () {
  this.timeout(300000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-real-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("CoOp's split_zhou JSON: class names as the split has them (rewrites and '_' kept; prompts turn '_' into spaces), splits, images", () => {
    const root = path.join(tmp, 'coop');
    const { dir, names } = writeCoopCaltech(root, 3);
    const ds = loadCoopSplit(dir, { images: '101_ObjectCategories', split: 'split_zhou_Caltech101.json' }, { name: 'caltech101', template: 'a photo of a {}.' });
    assert.deepStrictEqual(ds.classNames, names);
    assert.strictEqual(fillTemplate(ds.template, ds.classNames[3]), 'a photo of a joshua tree.');
    assert.deepStrictEqual([ds.split('train').length, ds.split('val').length, ds.split('test').length], [12, 4, 4]);
    assert.deepStrictEqual(ds.split('test').map((it) => it.label), [0, 1, 2, 3]);
    const img = ds.image(ds.split('test')[2], 'test');
    assert.deepStrictEqual([img.width, img.height], [8, 8]);
    assert.ok(Math.abs(img.data[0] - 120) <= 3, `decoded JPEG red ${img.data[0]}`);
    assert.deepStrictEqual(ds.manifest.counts, { train: 12, val: 4, test: 4 });
    // the whole dataset through its manifest and a data root, named by CoOp's config name
    const r = loadRealDataset(root, 'Caltech101');
    assert.strictEqual(r.ds.name, 'caltech101');
    assert.strictEqual(r.ds.template, 'a photo of a {}.');
    assert.ok(r.ds.templates.includes('itap of a {}.') && r.ds.templates.includes('a photo of a {}.'), 'ZeroshotCLIP2: IMAGENET_TEMPLATES_SELECT plus the dataset template');
    assert.ok(r.warnings.some((w) => /4 classes in .*coop-caltech101\.json expects 100 \(a quoted count/.test(w)), r.warnings.join('\n'));
    assert.ok(realDatasetNames().includes('oxford_pets') && realDatasetNames().includes('imagenet_r'));
  });

  it("CoOp's few-shot sampling on a real dataset: k per class from train, min(k, 4) from val, seeded; base and new halves", () => {
    const { dir } = writeCoopCaltech(path.join(tmp, 'shots'), 6);
    const ds = loadCoopSplit(dir, { images: '101_ObjectCategories', split: 'split_zhou_Caltech101.json' });
    const a = sampleFewShot(ds, 2, 1);
    const count = (items: { label: number }[]) => [0, 1, 2, 3].map((l) => items.filter((it) => it.label === l).length);
    assert.deepStrictEqual(count(a.train), [2, 2, 2, 2]);
    assert.deepStrictEqual(count(a.val), [1, 1, 1, 1], 'val has one image per class here: min(k, 4) but never more than there is');
    assert.deepStrictEqual(sampleFewShot(ds, 2, 1).train, a.train, 'the same seed draws the same shots');
    assert.deepStrictEqual(count(sampleFewShot(ds, 16, 1).train), [6, 6, 6, 6], 'a class with fewer than k gives all');
    const b2n = baseToNewSplit(ds, 16, 1);
    assert.deepStrictEqual([b2n.base.classNames, b2n.new.classNames], [['airplane', 'face'], ['garfield', 'joshua_tree']]);
  });

  it('split files that are not CoOp splits are refused naming the file and the entry', () => {
    const dir = path.join(tmp, 'bad');
    fs.mkdirSync(path.join(dir, 'images'), { recursive: true });
    const write = (json: unknown) => { fs.writeFileSync(path.join(dir, 's.json'), JSON.stringify(json)); return path.join(dir, 's.json'); };
    assert.throws(() => readCoopSplit(write({ train: [['../../etc/passwd', 0, 'x']], val: [], test: [] })), /s\.json: train\[0\]'s image "\.\.\/\.\.\/etc\/passwd" is not a path inside the image folder/);
    assert.throws(() => readCoopSplit(write({ train: [['a.jpg', -1, 'x']], val: [], test: [] })), /train\[0\] is \["a\.jpg",-1,"x"\], not \[impath, label, classname\]/);
    assert.throws(() => readCoopSplit(write({ train: [], test: [] })), /"val" is not a list/);
    assert.throws(() => loadCoopSplit(dir, { images: 'images', split: path.basename(write({ train: [['a.jpg', 0, 'x'], ['b.jpg', 0, 'y']], val: [], test: [] })) }), /label 0 is named both "x" and "y"/);
    assert.throws(() => loadCoopSplit(dir, { images: 'images', split: path.basename(write({ train: [['a.jpg', 0, 'x'], ['b.jpg', 2, 'z']], val: [], test: [] })) }), /label 1 has no item: labels must run from 0 to 2/);
  });

  it('a missing split file, image folder or image is named with the manifest that describes the dataset and the fetch command', () => {
    const root = path.join(tmp, 'missing');
    fs.mkdirSync(path.join(root, 'oxford_pets', 'images'), { recursive: true });
    assert.throws(() => loadRealDataset(root, 'oxford_pets'), (e: Error) => e.message.includes(path.join(root, 'oxford_pets', 'split_zhou_OxfordPets.json')) && /missing \(CoOp's split file\); data-manifests\/downloads\/coop-oxford-pets\.json describes this dataset's files and layout \(npx promptlab fetch coop-oxford-pets --dest .*oxford_pets, then the steps in its "prepare"\)/.test(e.message));
    assert.throws(() => loadRealDataset(root, 'dtd'), /dtd: missing \(the folder of DescribableTextures under --data .*\); data-manifests\/downloads\/coop-dtd\.json describes/);
    assert.throws(() => loadRealDataset(root, 'nosuch'), /unknown dataset "nosuch" for --data \(valid: imagenet, .*caltech101/);
    const { dir } = writeCoopCaltech(path.join(tmp, 'gone'), 1);
    const r = loadRealDataset(path.join(tmp, 'gone'), 'caltech101');
    fs.rmSync(path.join(dir, '101_ObjectCategories', 'Faces', 'image_test_0.jpg'));
    assert.throws(() => r.ds.image(r.ds.split('test')[1], 'test'), /image_test_0\.jpg: missing \(an image of the test split of caltech101\); data-manifests\/downloads\/coop-caltech101\.json/);
  });

  it("FGVC-Aircraft from its own variant lists, labels in variants.txt's order", () => {
    const dir = path.join(tmp, 'fgvc_aircraft');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'variants.txt'), '707-320\nA300B4\nF/A-18\n');
    const lines = { train: ['0034309 707-320', '0034958 F/A-18'], val: ['1514522 A300B4'], test: ['0056978 F/A-18', '0062765 707-320'] };
    for (const [s, ls] of Object.entries(lines)) {
      fs.writeFileSync(path.join(dir, `images_variant_${s}.txt`), ls.join('\n') + '\n');
      for (const l of ls) writeJpeg(path.join(dir, 'images', `${l.split(' ')[0]}.jpg`), [10, 20, 30]);
    }
    const ds = loadFgvcAircraft(dir, { images: 'images', variants: 'variants.txt', train: 'images_variant_train.txt', val: 'images_variant_val.txt', test: 'images_variant_test.txt' });
    assert.deepStrictEqual(ds.classNames, ['707-320', 'A300B4', 'F/A-18']);
    assert.deepStrictEqual(ds.split('test').map((it) => it.label), [2, 0]);
    assert.strictEqual(ds.image(ds.split('val')[0], 'val').width, 8);
    fs.writeFileSync(path.join(dir, 'images_variant_val.txt'), '1514522 Boeing 999\n');
    assert.throws(() => loadFgvcAircraft(dir, { images: 'images', variants: 'variants.txt', train: 'images_variant_train.txt', val: 'images_variant_val.txt', test: 'images_variant_test.txt' }), /images_variant_val\.txt:1: "1514522 Boeing 999" is not '<image id> <variant of variants\.txt>'/);
  });

  it('ImageNet folders with classnames.txt: labels the sorted train folders, val = test; V2 by label folders; Sketch/A/R by the wnid folders present', () => {
    const dir = path.join(tmp, 'imagenet');
    const wnids = ['n01440764', 'n01443537', 'n01484850'];
    const names = ['tench', 'goldfish', 'great white shark'];
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'classnames.txt'), wnids.map((w, i) => `${w} ${names[i]}`).join('\n') + '\n');
    wnids.forEach((w, i) => {
      for (let k = 0; k < 2; k++) writeJpeg(path.join(dir, 'images', 'train', w, `${w}_${k}.JPEG`), [i * 80, 0, 0]);
      writeJpeg(path.join(dir, 'images', 'val', w, `ILSVRC2012_val_0000000${i}.JPEG`), [i * 80, 0, 0]);
    });
    fs.writeFileSync(path.join(dir, 'images', 'train', wnids[0], '.DS_Store'), 'hidden');
    const ds = loadImageNetFolders(dir, { train: 'images/train', test: 'images/val', classnames: 'classnames.txt' }, { name: 'imagenet' });
    assert.deepStrictEqual(ds.classNames, names);
    assert.deepStrictEqual([ds.split('train').length, ds.split('val').length, ds.split('test').length], [6, 3, 3], 'hidden files skipped; val is the test split');
    assert.strictEqual(ds.image(ds.split('test')[2], 'test').data[0] > 150, true);
    assert.deepStrictEqual(ds.files('test')[1], 'images/val/n01443537/ILSVRC2012_val_00000001.JPEG');
    // a validation folder that is not a training class, and a class folder with no line in classnames.txt
    writeJpeg(path.join(dir, 'images', 'val', 'n99999999', 'x.JPEG'), [0, 0, 0]);
    assert.throws(() => loadImageNetFolders(dir, { train: 'images/train', test: 'images/val', classnames: 'classnames.txt' }), /images\/val: folder n99999999 is not among the training folders/);
    fs.rmSync(path.join(dir, 'images', 'val', 'n99999999'), { recursive: true });

    const v2 = path.join(tmp, 'imagenetv2');
    fs.mkdirSync(v2, { recursive: true });
    fs.copyFileSync(path.join(dir, 'classnames.txt'), path.join(v2, 'classnames.txt'));
    [0, 1, 2].forEach((k) => writePng(path.join(v2, 'imagenetv2-matched-frequency-format-val', String(k), 'a.jpeg'), [k * 100, 0, 0]));
    const dv2 = loadImageNetLabelFolders(v2, { images: 'imagenetv2-matched-frequency-format-val', classnames: 'classnames.txt' });
    assert.deepStrictEqual([dv2.classNames, dv2.split('test').map((it) => it.label), dv2.split('val').length], [names, [0, 1, 2], 0]);

    const a = path.join(tmp, 'imagenet-adversarial');
    fs.mkdirSync(path.join(a, 'imagenet-a'), { recursive: true });
    fs.copyFileSync(path.join(dir, 'classnames.txt'), path.join(a, 'classnames.txt'));
    fs.writeFileSync(path.join(a, 'imagenet-a', 'README.txt'), 'not a class');
    for (const w of [wnids[2], wnids[0]]) writePng(path.join(a, 'imagenet-a', w, '0.jpg'), [1, 2, 3]);
    const da = loadImageNetWnidFolders(a, { images: 'imagenet-a', classnames: 'classnames.txt' });
    assert.deepStrictEqual(da.classNames, ['tench', 'great white shark'], 'the 200-class subsets: the folders present, sorted');
    assert.deepStrictEqual(da.split('train'), da.split('test'), 'test only: train is the same list, as Dassl builds it');
    fs.mkdirSync(path.join(a, 'imagenet-a', 'n00000001'));
    assert.throws(() => loadImageNetWnidFolders(a, { images: 'imagenet-a', classnames: 'classnames.txt' }), /n00000001: the folder n00000001 has no line in .*classnames\.txt/);
  });

  it("CZSL metadata .t7 (torch.save'd lists of dicts, legacy and zip formats) read by the safe pickle reader; tensors and unknown globals refused", () => {
    const meta = [
      { image: 'ancient_building/1.png', attr: 'ancient', obj: 'building', set: 'train' },
      { image: 'young_tree/1.png', attr: 'young', obj: 'tree', set: 'val' },
      { image: 'young_building/1.png', attr: 'young', obj: 'building', set: 'test' },
      { image: 'na/1.png', attr: 'NA', obj: 'tree', set: 'train' },
    ];
    for (const format of ['legacy', 'zip'] as const) {
      const root = path.join(tmp, `mit-states-${format}`);
      const split = path.join(root, 'compositional-split-natural');
      fs.mkdirSync(split, { recursive: true });
      fs.writeFileSync(path.join(split, 'train_pairs.txt'), 'ancient building\n');
      fs.writeFileSync(path.join(split, 'val_pairs.txt'), 'young tree\n');
      fs.writeFileSync(path.join(split, 'test_pairs.txt'), 'young building\n');
      for (const m of meta) writePng(path.join(root, 'images', m.image), [9, 9, 9]);
      const t7 = path.join(root, 'metadata_compositional-split-natural.t7');
      if (format === 'legacy') torchSaveLegacy(t7, meta);
      else torchSaveZip(t7, meta, 'metadata_compositional-split-natural');
      const data = readTorchData(t7) as Map<string, string>[];
      assert.strictEqual(data.length, 4);
      assert.strictEqual(data[1].get('obj'), 'tree');
      const ds = loadCzslFolder(root, { name: 'mit-states' });
      assert.deepStrictEqual([ds.split('train').length, ds.split('val').length, ds.split('test').length], [1, 1, 1], `${format}: the NA image dropped`);
      assert.deepStrictEqual(ds.pairs, [['ancient', 'building'], ['young', 'building'], ['young', 'tree']]);
    }
    const bad = path.join(tmp, 'bad.t7');
    fs.writeFileSync(bad, Buffer.concat([pickle(0x1950a86a20f9469cfc6cn), pickle(1001), pickle({}), pickle([new Global('os', 'system')]), pickle([])]));
    assert.throws(() => readTorchData(bad), /bad\.t7: the pickle names os\.system, which promptlab does not read/);
    const withTensor = path.join(tmp, 'tensor.t7');
    // a persistent id (a storage) inside the value: BINPERSID
    const pid = Buffer.concat([Buffer.from([0x80, 0x02, 0x5d, 0x28]), pickle('storage').subarray(2, -1), Buffer.from([0x85, 0x51, 0x65, 0x2e])]);
    fs.writeFileSync(withTensor, zipOf([['archive/data.pkl', pid]]));
    assert.throws(() => readTorchData(withTensor), /tensor\.t7: holds tensors, but promptlab reads only plain data/);
    fs.writeFileSync(bad, pickle([1, 2]));
    assert.throws(() => readTorchData(bad), /a pickle, but not a torch\.save file/);
    // a missing metadata file names the manifest of the dataset
    const empty = path.join(tmp, 'ut-zappos');
    fs.mkdirSync(path.join(empty, 'compositional-split-natural'), { recursive: true });
    for (const s of ['train', 'val', 'test']) fs.writeFileSync(path.join(empty, 'compositional-split-natural', `${s}_pairs.txt`), 'a b\n');
    assert.throws(() => loadCzslFolder(empty), /metadata_compositional-split-natural\.t7: missing .*data-manifests\/downloads\/czsl-ut-zappos\.json describes this dataset's files and layout \(npx promptlab fetch czsl-ut-zappos --dest /);
  });

  describe('promptlab repro --model NAME --data ROOT (a tiny CoOp dataset, a tiny random CLIP in a fake user cache)', () => {
    const cache = path.join(tmp, 'cache');
    const data = path.join(tmp, 'data');
    const config: ClipConfig = TINY_VIT_224;
    before(() => {
      writeCoopCaltech(data, 2);
    });

    it('a released name not fetched yet says which command fetches it; an unknown name lists the known ones', () => {
      const env = process.env.PROMPTLAB_CACHE;
      process.env.PROMPTLAB_CACHE = cache;
      try {
        assert.throws(() => resolveModel('ViT-B/16', 'unused'), /--model ViT-B\/16: ViT-B\/16 is not downloaded yet \(.*clip-vit-b-16\/ViT-B-16\.pt is missing\); run `npx promptlab fetch clip-vit-b-16` once/);
        assert.throws(() => resolveModel('ViT-H/99', 'unused'), /--model ViT-H\/99: not a file or folder, nor a released model's name \(RN50, RN101, RN50x4, RN50x16, RN50x64, ViT-B\/32, ViT-B\/16, ViT-L\/14, ViT-L\/14@336px, openai\/clip-vit-base-patch16, openai\/clip-vit-base-patch32, openai\/clip-vit-large-patch14, openai\/clip-vit-large-patch14-336\)/);
      } finally {
        if (env === undefined) delete process.env.PROMPTLAB_CACHE;
        else process.env.PROMPTLAB_CACHE = env;
      }
    });

    it('the cached file loads with the tokenizer beside it; base2new runs end to end with the official presets and records what it used', async () => {
      const dir = path.join(cache, 'clip-vit-b-16');
      fs.mkdirSync(dir, { recursive: true });
      torchSaveStateDict(path.join(dir, 'ViT-B-16.pt'), randomStateDict(config, 7));
      fs.writeFileSync(path.join(dir, 'bpe_simple_vocab_16e6.txt.gz'), zlib.gzipSync('#version: 0.2\nh e\n'));
      const env = process.env.PROMPTLAB_CACHE;
      process.env.PROMPTLAB_CACHE = cache;
      try {
        const r = resolveModel('vit-b/16', 'unused');
        assert.strictEqual(r.source, path.join(dir, 'ViT-B-16.pt'));
        const { model, tokenizer } = loadClip(r);
        assert.deepStrictEqual([model.config.imageResolution, model.config.visionPatchSize, tokenizer.vocabSize], [224, 32, 515]);
        model.dispose();
      } finally {
        if (env === undefined) delete process.env.PROMPTLAB_CACHE;
        else process.env.PROMPTLAB_CACHE = env;
      }
      const out = path.join(tmp, 'out');
      const res = await run([BIN, 'repro', 'base2new', '--quick', '--model', 'ViT-B/16', '--data', data, '--datasets', 'caltech101', '--out', out], { ...process.env, PROMPTLAB_CACHE: cache });
      assert.strictEqual(res.status, 0, res.stderr.slice(-3000));
      assert.match(res.stderr, /caltech101: 4 classes, 8 train \/ 4 val \/ 4 test images/);
      assert.match(res.stderr, /none of the official configs' backbones .* their vit_b16 configs are used/);
      const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
      assert.strictEqual(results.experiment, 'base2new');
      assert.strictEqual(results.config.presets, 'official');
      assert.strictEqual(results.config.coop.preset, 'vit_b16_ctxv1');
      assert.strictEqual(results.config.cocoop.preset, 'vit_b16_c4_ep10_batch1_ctxv1');
      assert.strictEqual(results.config.coop.optim.epochs, 40, "CoOp's 200 epochs, a fifth in a quick run");
      assert.deepStrictEqual(results.config.chance.caltech101, { test: 25, base: 50, new: 50 });
      for (const method of ['zeroshot', 'coop', 'cocoop']) {
        for (const split of ['base', 'new']) {
          const row = results.rows.find((x: { method: string; dataset: string; split: string }) => x.method === method && x.dataset === 'caltech101' && x.split === split);
          assert.ok(row && row.value >= 0 && row.value <= 100, `${method} ${split}: ${JSON.stringify(row)}`);
        }
      }
      const record = JSON.parse(fs.readFileSync(path.join(out, 'record.json'), 'utf8'));
      assert.strictEqual(record.data[0].id, 'coop-caltech101');
      assert.strictEqual(record.data[0].manifest.file, 'data-manifests/downloads/coop-caltech101.json');
      assert.deepStrictEqual(Object.keys(record.model.files).sort(), ['ViT-B-16.pt', 'bpe_simple_vocab_16e6.txt.gz']);
      // zeroshot on the same data, in this process
      const zs = await runExperiment('zeroshot', { quick: true, model: path.join(dir, 'ViT-B-16.pt'), data, datasets: ['Caltech101'], out: path.join(tmp, 'zs') });
      assert.deepStrictEqual(zs.rows.map((x) => [x.method, x.dataset]), [['zeroshot', 'caltech101'], ['zeroshot-ensemble', 'caltech101']]);
      // fewshot: COOP.md's epoch rule on the official configs (1 shot ep50, 4 shots ep100, 16 shots the 200-epoch one)
      const fsr = await runExperiment('fewshot', { quick: true, cachedFeatures: true, model: path.join(dir, 'ViT-B-16.pt'), data, datasets: ['caltech101'], out: path.join(tmp, 'fs') });
      assert.deepStrictEqual(['1-shot', '4-shot', '16-shot'].map((k) => (fsr.config.coop as Record<string, { preset: string }>)[k].preset), ['vit_b16_ep50', 'vit_b16_ep100', 'vit_b16']);
      assert.deepStrictEqual([...new Set(fsr.rows.map((x) => x.method))], ['zeroshot', 'linear-probe', 'coop']);
    });

    it('--data refuses experiments it does not run, roots that are not folders and test-only datasets for training', async () => {
      const env = { ...process.env, PROMPTLAB_CACHE: cache };
      const czsl = await run([BIN, 'repro', 'czsl', '--data', data], env);
      assert.strictEqual(czsl.status, 2);
      assert.match(czsl.stderr, /--data runs zeroshot, fewshot, base2new and transfer/);
      const none = await run([BIN, 'repro', 'zeroshot', '--data', path.join(tmp, 'nowhere')], env);
      assert.strictEqual(none.status, 2);
      assert.match(none.stderr, /--data .*nowhere is not a folder/);
      await assert.rejects(runExperiment('base2new', { quick: true, data, datasets: ['imagenet_a'], out: path.join(tmp, 'x') }), /base2new: imagenet_a is test-only/);
      const notFetched = await run([BIN, 'repro', 'zeroshot', '--model', 'ViT-L/14', '--data', data, '--datasets', 'caltech101', '--out', path.join(tmp, 'y')], env);
      assert.strictEqual(notFetched.status, 1);
      assert.match(notFetched.stderr, /ViT-L\/14 is not downloaded yet .*; run `npx promptlab fetch clip-vit-l-14` once/);
      assert.ok(!fs.existsSync(path.join(tmp, 'y', 'results.json')));
    });
  });
});
