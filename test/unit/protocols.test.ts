// The CoOp / CoCoOp protocols (src/data/protocols.ts): few-shot sampling as Dassl draws it, the
// base-to-new class split, H and the paper's average row, and the world's transfer pairs.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { RawImage } from '../../src/clip/image';
import type { ClassificationDataset, ImageItem, SplitName } from '../../src/data/dataset';
import {
  averageH,
  baseToNewSplit,
  crossDatasetTargets,
  domainGeneralisationPairs,
  fewShotFileName,
  harmonicMean,
  loadFewShot,
  sampleFewShot,
  saveFewShot,
  subsampleClasses,
  subsetDataset,
} from '../../src/data/protocols';
import { WORLD_CLASSIFICATION, getWorldDataset } from '../../src/data/world-benchmarks';

/** Five classes (odd) with uneven train counts; every image is one pixel holding its split and index. */
function toyDataset(trainCounts = [10, 3, 6, 8, 2], valPer = 6, testPer = 5): ClassificationDataset & { requests: string[] } {
  const make = (counts: number[]) => {
    const items: ImageItem[] = [];
    counts.forEach((c, label) => {
      for (let i = 0; i < c; i++) items.push({ index: items.length, label, domain: i % 2 ? 'sketch' : 'clean' });
    });
    return items;
  };
  const splits: Record<SplitName, ImageItem[]> = {
    train: make(trainCounts),
    val: make(trainCounts.map(() => valPer)),
    test: make(trainCounts.map(() => testPer)),
  };
  const requests: string[] = [];
  return {
    kind: 'classification',
    name: 'toy',
    template: 'a photo of a {}.',
    templates: ['a photo of a {}.'],
    classNames: trainCounts.map((_, i) => `class${i}`),
    split: (s) => splits[s].slice(),
    image(item, s): RawImage {
      requests.push(`${s}:${item.index}`);
      return { width: 1, height: 1, channels: 1, data: Uint8Array.of(item.index) };
    },
    get manifest(): never {
      throw new Error('toy dataset: no manifest');
    },
    requests,
  };
}

function countByLabel(items: readonly ImageItem[]): number[] {
  const c: number[] = [];
  for (const it of items) c[it.label] = (c[it.label] ?? 0) + 1;
  return Array.from(c, (v) => v ?? 0);
}

describe('protocols: few-shot sampling', () => {
  it('draws k train items per class without repetition, all of a class with fewer, val = min(k, 4)', () => {
    const ds = toyDataset();
    const s = sampleFewShot(ds, 4, 1);
    assert.deepStrictEqual(countByLabel(s.train), [4, 3, 4, 4, 2]);
    assert.deepStrictEqual(countByLabel(s.val), [4, 4, 4, 4, 4]);
    const train = ds.split('train');
    for (const it of s.train) assert.deepStrictEqual(it, train[it.index], 'items are the split\'s own');
    assert.strictEqual(new Set(s.train.map((it) => it.index)).size, s.train.length, 'no repetition');
    // Classes in label order, as Dassl walks them.
    const labels = s.train.map((it) => it.label);
    assert.deepStrictEqual(labels, labels.slice().sort((a, b) => a - b));
    assert.deepStrictEqual({ k: s.k, seed: s.seed, dataset: s.dataset, datasetId: s.datasetId }, { k: 4, seed: 1, dataset: 'toy', datasetId: 'toy' });

    const one = sampleFewShot(ds, 1, 1);
    assert.deepStrictEqual(countByLabel(one.train), [1, 1, 1, 1, 1]);
    assert.deepStrictEqual(countByLabel(one.val), [1, 1, 1, 1, 1]);
    const many = sampleFewShot(ds, 16, 1);
    assert.deepStrictEqual(countByLabel(many.train), [10, 3, 6, 8, 2], 'all items of classes with fewer than k');
    assert.deepStrictEqual(countByLabel(many.val), [4, 4, 4, 4, 4], 'val = min(k, 4)');
  });

  it('is deterministic per seed and differs across seeds', () => {
    const ds = toyDataset();
    const ids = (seed: number) => sampleFewShot(ds, 2, seed).train.map((it) => it.index);
    assert.deepStrictEqual(ids(1), ids(1));
    assert.deepStrictEqual(sampleFewShot(ds, 2, 7), sampleFewShot(toyDataset(), 2, 7));
    assert.ok([2, 3, 4, 5].some((s) => ids(s).join() !== ids(1).join()), 'different seeds pick different shots');
    // A world benchmark: 16 shots from its quick variant (16 train items per class) is all of them.
    const world = getWorldDataset('world-shapes', { quick: true });
    const w = sampleFewShot(world, 16, 1);
    assert.strictEqual(w.train.length, world.split('train').length);
    assert.strictEqual(w.datasetId, 'world-shapes-quick');
    const w4 = sampleFewShot(world, 4, 3);
    assert.deepStrictEqual(countByLabel(w4.train), Array(world.classNames.length).fill(4));
    assert.deepStrictEqual(w4.train, sampleFewShot(getWorldDataset('world-shapes', { quick: true }), 4, 3).train);
  });

  it('rejects bad k and seeds with the input named', () => {
    const ds = toyDataset();
    assert.throws(() => sampleFewShot(ds, 0, 1), /toy.*positive integer, got 0/);
    assert.throws(() => sampleFewShot(ds, 2.5, 1), /got 2\.5/);
    assert.throws(() => sampleFewShot(ds, 2, 0.5), /seed must be an integer/);
  });

  it('saves and loads the exact items (with and without the dataset)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-fewshot-'));
    try {
      const ds = toyDataset();
      const s = sampleFewShot(ds, 4, 2);
      const file = path.join(dir, 'toy', fewShotFileName(4, 2));
      assert.strictEqual(path.basename(file), 'shot_4-seed_2.json');
      saveFewShot(s, file);
      const json = JSON.parse(fs.readFileSync(file, 'utf8'));
      assert.deepStrictEqual(json.train.map((it: ImageItem) => it.index), s.train.map((it) => it.index));
      assert.deepStrictEqual(loadFewShot(file), s);
      const again = loadFewShot(file, ds);
      assert.deepStrictEqual(again, s);

      // A world dataset: loaded items are the dataset's own, so its image() accepts them.
      const world = getWorldDataset('world-shapes', { quick: true });
      const ws = sampleFewShot(world, 2, 5);
      const wfile = path.join(dir, 'w.json');
      saveFewShot(ws, wfile);
      const wl = loadFewShot(wfile, world);
      assert.deepStrictEqual(wl, ws);
      assert.strictEqual(world.image(wl.train[0], 'train').width, 64);
      assert.throws(() => loadFewShot(wfile, getWorldDataset('world-sketches', { quick: true })), /for world-shapes-quick, not world-sketches-quick/);
      assert.throws(() => loadFewShot(wfile, getWorldDataset('world-shapes', { quick: true, seed: 4 })), /not world-shapes-quick-seed4/);

      const bad = path.join(dir, 'bad.json');
      fs.writeFileSync(bad, JSON.stringify({ ...json, train: [{ index: 0, label: 3 }] }));
      assert.throws(() => loadFewShot(bad, ds), /does not match item 0 of toy/);
      fs.writeFileSync(bad, '{"format": "other"}');
      assert.throws(() => loadFewShot(bad), /not a few-shot split/);
      assert.throws(() => loadFewShot(path.join(dir, 'missing.json')), /missing\.json: few-shot split file not found/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('protocols: base-to-new classes', () => {
  it('puts ceil(n / 2) classes in base for an odd class count and relabels in sorted order', () => {
    const ds = toyDataset();
    const base = subsampleClasses(ds, 'base');
    const novel = subsampleClasses(ds, 'new');
    const all = subsampleClasses(ds, 'all');
    assert.deepStrictEqual(base.labels, [0, 1, 2]);
    assert.deepStrictEqual(base.classNames, ['class0', 'class1', 'class2']);
    assert.deepStrictEqual(novel.labels, [3, 4]);
    assert.deepStrictEqual(novel.classNames, ['class3', 'class4']);
    assert.deepStrictEqual(all.labels, [0, 1, 2, 3, 4]);
    assert.strictEqual(novel.relabel({ index: 0, label: 3 }), 0);
    assert.strictEqual(novel.relabel({ index: 0, label: 4 }), 1);
    assert.strictEqual(novel.relabel({ index: 0, label: 2 }), null);
    // Label lists: sorted set of the labels present; gaps are dropped before halving.
    const sub = subsampleClasses([9, 2, 5, 2, 7, 9, 11], 'base', ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l']);
    assert.deepStrictEqual(sub.labels, [2, 5, 7]);
    assert.deepStrictEqual(sub.classNames, ['c', 'f', 'h']);
    assert.deepStrictEqual(subsampleClasses([9, 2, 5, 7, 11], 'new').classNames, ['9', '11']);
    assert.deepStrictEqual(subsampleClasses([4, 4, 1, 1], 'new').labels, [4]);
    assert.deepStrictEqual(subsampleClasses([3], 'base').labels, [3]);
    assert.deepStrictEqual(subsampleClasses([3], 'new').labels, []);
  });

  it('filters train, val and test through the same map', () => {
    const ds = toyDataset();
    const { fewShot, base, new: novel } = baseToNewSplit(ds, 2, 1);
    assert.deepStrictEqual(base.labels, [0, 1, 2], 'few-shot sampling keeps every class');
    const test = ds.split('test');
    const bt = base.filter(test);
    const nt = novel.filter(test);
    assert.strictEqual(bt.length, 15);
    assert.strictEqual(nt.length, 10);
    assert.ok(bt.every(({ item, label }) => item.label === label && item === test[item.index]));
    assert.ok(nt.every(({ item, label }) => item.label === label + 3));
    assert.deepStrictEqual(nt.map((x) => x.item.index), test.filter((it) => it.label >= 3).map((it) => it.index));
    assert.strictEqual(base.filter(fewShot.train).length, 6);
    assert.strictEqual(novel.filter(fewShot.val).length, 4);
    // A few-shot train missing a class: the labels come from what is present.
    const missing = subsampleClasses(ds, 'base', ds.split('train').filter((it) => it.label !== 1));
    assert.deepStrictEqual(missing.labels, [0, 2]);
  });

  it('gives a dataset view whose images are the parent\'s', () => {
    const ds = toyDataset();
    const view = subsetDataset(ds, subsampleClasses(ds, 'new'));
    assert.deepStrictEqual(view.classNames, ['class3', 'class4']);
    const test = view.split('test');
    assert.strictEqual(test.length, 10);
    assert.deepStrictEqual(test[0], { index: 15, label: 0, domain: 'clean' });
    assert.strictEqual(view.image(test[0], 'test').data[0], 15);
    assert.deepStrictEqual(ds.requests, ['test:15']);
    assert.throws(() => view.image({ index: 0, label: 0 }, 'test'), /toy \(new classes\).*not an item of the test split/);
  });

  it('rejects unknown selections and labels without names', () => {
    const ds = toyDataset();
    assert.throws(() => subsampleClasses(ds, 'novel' as 'new'), /unknown selection "novel" \(valid: all, base, new\)/);
    assert.throws(() => subsampleClasses([0, 5], 'base', ['a', 'b']), /labels 5 have no class name \(2 names\)/);
    assert.throws(() => subsampleClasses([], 'base'), /no labels/);
  });
});

describe('protocols: harmonic mean', () => {
  it('is 2BN / (B + N), 0 when a term is 0', () => {
    assert.strictEqual(harmonicMean(80, 80), 80);
    assert.ok(Math.abs(harmonicMean(60, 90) - 72) < 1e-12);
    assert.strictEqual(harmonicMean(0, 50), 0);
    assert.strictEqual(harmonicMean(50, 0), 0);
    assert.strictEqual(harmonicMean(0, 0), 0);
    // The CoCoOp paper's CLIP average row.
    assert.strictEqual(harmonicMean(69.34, 74.22).toFixed(2), '71.70');
    assert.ok(Math.abs(harmonicMean(69.34, 74.22) - (2 * 69.34 * 74.22) / 143.56) < 1e-12);
    assert.strictEqual(harmonicMean(82.69, 63.22).toFixed(2), '71.66');
    assert.strictEqual(harmonicMean(80.47, 71.69).toFixed(2), '75.83');
    assert.throws(() => harmonicMean(-1, 5), /finite and >= 0/);
    assert.throws(() => harmonicMean(NaN, 5), /finite and >= 0/);
  });

  it('averageH takes H of the averaged base and new, not the mean of the rows\' H', () => {
    const rows = [
      { base: 90, new: 10 },
      { base: 50, new: 70 },
    ];
    const avg = averageH(rows);
    assert.strictEqual(avg.base, 70);
    assert.strictEqual(avg.new, 40);
    assert.ok(Math.abs(avg.h - (2 * 70 * 40) / 110) < 1e-12);
    const meanOfH = (harmonicMean(90, 10) + harmonicMean(50, 70)) / 2;
    assert.ok(Math.abs(avg.h - meanOfH) > 1, 'the two ways differ');
    assert.strictEqual(averageH([{ base: 69.34, new: 74.22 }]).h.toFixed(2), '71.70');
    assert.throws(() => averageH([]), /no rows/);
  });
});

describe('protocols: cross-dataset and domain generalisation', () => {
  it('pairs world-shapes with world-sketches, which share their class names', () => {
    const pairs = domainGeneralisationPairs();
    assert.deepStrictEqual(pairs, [{ source: 'world-shapes', target: 'world-sketches' }]);
    for (const p of pairs) {
      assert.deepStrictEqual(getWorldDataset(p.source).classNames, getWorldDataset(p.target).classNames);
    }
  });

  it('lists the other classification datasets as cross-dataset targets, the domain shifts excluded', () => {
    assert.deepStrictEqual(crossDatasetTargets('world-shapes'), ['world-patterns', 'world-colors', 'world-positions']);
    assert.deepStrictEqual(crossDatasetTargets('world-colors'), ['world-shapes', 'world-sketches', 'world-patterns', 'world-positions']);
    for (const src of WORLD_CLASSIFICATION) {
      const targets = crossDatasetTargets(src);
      assert.ok(!targets.includes(src));
      for (const t of targets) assert.notDeepStrictEqual(getWorldDataset(t).classNames, getWorldDataset(src).classNames);
    }
    assert.throws(() => crossDatasetTargets('world-czsl'), /not a world classification dataset \(valid: world-shapes, /);
  });
});
