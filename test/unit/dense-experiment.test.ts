// promptlab repro dense: the world preset and its schedule, the 256 px scenes (the same scenes as the
// 128 px benchmark), one head shared by the three methods, and short runs of the protocol and of the
// notebook walkthrough on the quick split (rows in the pinned format, figures and tables, no tensor left).
import * as assert from 'assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { getWorldDataset } from '../../src/data/world-benchmarks';
import { loadMiniClip } from '../../src/miniclip';
import { DENSECLIP_RN50 } from '../../src/methods/denseclip/denseclip';
import { DENSECLIP_ADE20K_RN50, DENSECLIP_WORLD, denseClipLr, getDenseClipPreset, warmupIterations } from '../../src/methods/denseclip/presets';
import { allBackground, buildDenseSegmenter, DENSE_METHODS, denseConfig, denseDataset, densePreset, runDense, runDenseWalkthrough } from '../../src/repro/dense';
import { defaultDatasets, chanceLevels } from '../../src/repro/experiments';
import { summarise } from '../../src/repro/record';
import { blockAverage, denseWalkthroughFigures, LABEL_PALETTE, labelMapDataUri, labelMapImage, scenesSheetPng } from '../../src/viz/dense-figures';
import { decodeImage } from '../../src/clip/image';
import { figuresFor } from '../../src/viz/figures';
import { tableMarkdown, tablesFor } from '../../src/viz/tables';

describe('repro dense', () => {
  before(async () => {
    await initBackend();
  });

  it('the world preset keeps the official recipe and scales only the size, head width, batch, iterations and lr (chosen on val)', () => {
    const o = DENSECLIP_WORLD.optim;
    assert.deepStrictEqual([o.weightDecay, o.backboneLrMult, o.textLrMult, o.power, o.minLr], [1e-4, 0.1, 0, 0.9, 1e-6]);
    assert.deepStrictEqual([DENSECLIP_ADE20K_RN50.optim.lr, o.lr], [1e-4, 1e-3], 'the official lr, and the world\'s chosen on val');
    assert.match(DENSECLIP_WORLD.source, /lr 1e-3 \(chosen on val/);
    assert.strictEqual(o.warmupFraction, DENSECLIP_ADE20K_RN50.optim.warmupFraction);
    const d = DENSECLIP_WORLD.denseclip;
    assert.deepStrictEqual([d.nCtx, d.classContextLength, d.tau, d.auxLossWeight, d.decoder.width, d.decoder.heads, d.decoder.layers, d.decoder.dropout], [8, 5, 0.07, 0.4, 256, 4, 3, 0.1]);
    assert.strictEqual(d.prompting, DENSECLIP_RN50.prompting);
    assert.strictEqual(DENSECLIP_WORLD.imageSize / 32, 8, 'an 8 x 8 score map');
    // a fresh copy each time
    const p = getDenseClipPreset('world');
    p.optim.iterations = 1;
    p.denseclip.decoder.layers = 1;
    assert.strictEqual(getDenseClipPreset('world').optim.iterations, DENSECLIP_WORLD.optim.iterations);
    assert.strictEqual(DENSECLIP_WORLD.denseclip.decoder.layers, 3);
    assert.throws(() => getDenseClipPreset('nosuch'), /unknown DenseCLIP preset "nosuch" \(valid: ade20k_rn50, world\)/);
    assert.strictEqual(densePreset(true).optim.iterations, Math.round(DENSECLIP_WORLD.optim.iterations / 5));
  });

  it("the poly schedule with mmcv's linear warm-up", () => {
    const o = { ...DENSECLIP_ADE20K_RN50.optim };
    assert.strictEqual(warmupIterations(o), 1500);
    assert.ok(Math.abs(denseClipLr(0, o) - 1e-4 * 1e-6) < 1e-15, 'starts at lr x warmup ratio');
    const regular = (it: number) => (1e-4 - 1e-6) * (1 - it / 80000) ** 0.9 + 1e-6;
    assert.ok(Math.abs(denseClipLr(750, o) - regular(750) * (1 - 0.5 * (1 - 1e-6))) < 1e-15, 'half-way through the warm-up');
    assert.strictEqual(denseClipLr(1500, o), regular(1500));
    assert.ok(Math.abs(denseClipLr(79999, o) - 1e-6) < 1e-8, 'ends at min_lr');
  });

  it('the 256 px scenes are the 128 px benchmark\'s scenes; the benchmark itself is unchanged', () => {
    const big = denseDataset(true);
    const small = getWorldDataset('world-scenes', { quick: true });
    assert.strictEqual(big.imageSize, 256);
    assert.strictEqual(small.imageSize, 128);
    assert.strictEqual((small.manifestHeader().parameters as { imageSize: number }).imageSize, 128);
    const [a, b] = [big.split('test')[0], small.split('test')[0]];
    assert.deepStrictEqual(big.spec(a, 'test').objects, small.spec(b, 'test').objects, 'the same objects');
    const [la, lb] = [big.example(a, 'test').labels, small.example(b, 'test').labels];
    assert.strictEqual(la.length, 256 * 256);
    const share = (l: Uint8Array) => l.filter((v) => v !== 0).length / l.length;
    assert.ok(Math.abs(share(la) - share(lb)) < 0.02, `the objects cover the same share of the frame (${share(la)} vs ${share(lb)})`);
    assert.deepStrictEqual(defaultDatasets('dense', true), ['world-scenes']);
    assert.strictEqual(chanceLevels('dense', ['world-scenes'], true), undefined);
  });

  it('predicting background everywhere: mIoU and pixel accuracy as mmseg counts them', () => {
    // 2 scenes of 4 pixels: 5 background, 2 of class 1, 1 of class 3; 4 classes
    const scenes = [
      { index: 0, image: { width: 2, height: 2, channels: 3 as const, data: new Uint8Array(12) }, labels: Uint8Array.from([0, 0, 1, 1]) },
      { index: 1, image: { width: 2, height: 2, channels: 3 as const, data: new Uint8Array(12) }, labels: Uint8Array.from([0, 0, 0, 3]) },
    ];
    const r = allBackground(scenes, 4);
    assert.strictEqual(r.pixelAccuracy, 62.5);
    // IoU: background 5/8, class 1 and 3 zero, class 2 absent from both (left out)
    assert.ok(Math.abs(r.miou - (100 * 5 / 8) / 3) < 1e-9);
  });

  it('the three methods share the backbone and the head: the same FPN weights per seed, the baseline without the score map\'s inputs', () => {
    const { model, tokenizer } = loadMiniClip();
    const preset = densePreset(true);
    const ds = denseDataset(true);
    const k = ds.classNames.length;
    const built = DENSE_METHODS.map((m) => buildDenseSegmenter(model, tokenizer, ds.classNames, ds.template, m, preset, 7));
    try {
      for (const { seg, owned } of built) {
        assert.strictEqual(owned, null, 'the world preset freezes the backbone: no trainable copy');
        assert.strictEqual(seg.clip, model, 'every method runs on the same CLIP');
        assert.deepStrictEqual(seg.config.fpn, preset.fpn);
        assert.deepStrictEqual({ ...seg.config.denseclip }, { ...preset.denseclip, inputResolution: 256, attnpoolHeads: model.config.visionHeads });
        assert.strictEqual(seg.config.backboneLrMult, preset.optim.backboneLrMult);
        assert.ok(!seg.paramGroups().some((g) => g.key.startsWith('visual.') || /^(transformer|token_embedding|ln_final|text_projection|positional_embedding)/.test(g.key)), 'neither tower trains');
      }
      const [base, fixed, dense] = built.map(({ seg }) => seg.fpn.stateDict());
      assert.deepStrictEqual([...fixed.keys()], [...dense.keys()]);
      assert.deepStrictEqual([...base.keys()], [...dense.keys()]);
      for (const [key, t] of dense) {
        assert.deepStrictEqual(fixed.get(key)!.data, t.data, `${key}: fixed-prompts and denseclip start alike`);
        if (key === 'neck.lateral_convs.3.conv.weight') {
          const [out, inC] = t.shape;
          assert.deepStrictEqual(base.get(key)!.shape, [out, inC - k, 1, 1]);
          for (let o = 0; o < out; o++) assert.deepStrictEqual(base.get(key)!.data.subarray(o * (inC - k), (o + 1) * (inC - k)), t.data.subarray(o * inC, o * inC + inC - k));
        } else {
          assert.deepStrictEqual(base.get(key)!.data, t.data, `${key}: the baseline starts alike`);
        }
      }
    } finally {
      for (const { seg } of built) seg.dispose();
      model.dispose();
    }
  });

  it('a short run on the quick split: every method and metric in percent, figures and tables, no tensor left', function () {
    this.timeout(600000);
    const { model, tokenizer } = loadMiniClip();
    try {
      const before = tf.memory().numTensors;
      const rows = runDense(model, tokenizer, { quick: true, seeds: [1], iterations: 2 });
      assert.strictEqual(tf.memory().numTensors, before, 'no tensor left behind');
      assert.deepStrictEqual([...new Set(rows.map((r) => r.method))], ['baseline', 'fixed-prompts', 'denseclip']);
      assert.deepStrictEqual([...new Set(rows.map((r) => r.metric))], ['miou', 'pixel-accuracy']);
      assert.strictEqual(rows.length, 3 * 2);
      for (const r of rows) {
        assert.deepStrictEqual(Object.keys(r), ['method', 'dataset', 'split', 'metric', 'seed', 'value']);
        assert.strictEqual(r.dataset, 'world-scenes');
        assert.strictEqual(r.split, 'test');
        assert.strictEqual(r.seed, 1);
        assert.ok(Number.isFinite(r.value) && r.value >= 0 && r.value <= 100, `${r.method} ${r.metric} = ${r.value}`);
      }
      const config = denseConfig(true);
      assert.strictEqual(config.imageSize, 256);
      assert.strictEqual(config.finetuneBackbone, false);
      assert.ok(config.allBackground.pixelAccuracy > 50 && config.allBackground.pixelAccuracy < 100, 'the background is most of every scene');
      const results = { experiment: 'dense', config: { model: 'models/miniclip', quick: true, seeds: [1], ...config }, env: {} as never, rows, summary: summarise(rows) };
      const [figure] = figuresFor(results as never);
      assert.strictEqual(figure.name, 'dense');
      const traces = figure.figure.data as { name: string }[];
      assert.deepStrictEqual(traces.slice(0, 3).map((t) => t.name), ['FPN on CLIP features (no language)', 'Score map of hand-crafted prompts', 'DenseCLIP']);
      assert.match(traces[3].name, /^background everywhere \(mIoU [0-9.]+, pixel accuracy [0-9.]+\)$/);
      const shapes = figure.figure.layout.shapes as { y0: number }[];
      assert.deepStrictEqual(shapes.map((s) => s.y0), [config.allBackground.miou, config.allBackground.pixelAccuracy], 'the reference drawn across each metric');
      const [table] = tablesFor(results as never);
      assert.deepStrictEqual(table.frame.columns, ['method', 'mIoU', 'pixel accuracy']);
      assert.match(tableMarkdown(table), /Background everywhere \(reference\)/);
    } finally {
      model.dispose();
    }
  });

  it('the walkthrough: score maps before and after training, every method\'s predictions, figures; no tensor left', function () {
    this.timeout(600000);
    const { model, tokenizer } = loadMiniClip();
    try {
      const before = tf.memory().numTensors;
      const w = runDenseWalkthrough(model, tokenizer, { quick: true, iterations: 2, scenes: 2 });
      assert.strictEqual(tf.memory().numTensors, before, 'no tensor left behind');
      const k = w.classNames.length;
      const n = w.imageSize * w.imageSize;
      assert.strictEqual(w.scenes.length, 2);
      assert.strictEqual(w.scoreGrid, 8);
      for (const s of w.scenes) {
        assert.strictEqual(s.labels.length, n);
        assert.strictEqual(s.image.width, w.imageSize);
        assert.ok(s.present[0] === 0 && s.present.length >= 2, 'background and at least one shape');
        for (const which of ['fixed', 'before', 'after'] as const) {
          assert.strictEqual(s.scoreMaps[which].length, k * n, which);
          assert.ok(s.scoreMaps[which].every((v) => v >= -1 - 1e-5 && v <= 1 + 1e-5), `${which}: cosines`);
        }
        assert.ok(s.scoreMaps.after.some((v, i) => v !== s.scoreMaps.before[i]), 'training moved the score map');
        for (const m of DENSE_METHODS) {
          assert.strictEqual(s.predictions[m].length, n);
          assert.ok(s.predictions[m].every((p) => p < k));
        }
      }
      for (const m of DENSE_METHODS) {
        assert.strictEqual(w.losses[m].length, 2);
        assert.ok(w.metrics[m].miou >= 0 && w.metrics[m].miou <= 100);
      }
      const figures = denseWalkthroughFigures(w);
      assert.deepStrictEqual(figures.map((f) => f.name), [...w.scenes.map((s) => `dense-score-maps-${s.index}`), 'dense-predictions', 'dense-training']);
      const maps = figures[0].figure.data as { type: string; z?: number[][]; source?: string }[];
      assert.strictEqual(maps.filter((t) => t.type === 'heatmap').length, 3 * w.scenes[0].present.length, 'a map per present class in each of the three rows');
      const images = maps.filter((t) => t.type === 'image') as { source: string; dx?: number }[];
      assert.strictEqual(images.length, 2, 'the image and its ground truth once, above the rows of maps');
      assert.ok(images.every((t) => t.source.startsWith('data:image/png;base64,') && t.dx === 2), 'shown at 128 px, one source pixel per 2 x 2 of the scene');
      assert.strictEqual(maps.find((t) => t.type === 'heatmap')!.z!.length, 32, 'block-averaged to 32 x 32');
      const rowLabels = (figures[0].figure.layout.annotations as { text: string; yref: string }[]).filter((a) => /prompts|training/.test(a.text));
      assert.strictEqual(new Set(rowLabels.map((a) => a.yref)).size, 3, 'each row label beside its own row');
      const bytes = figures.map((f) => JSON.stringify(f.figure).length);
      assert.ok(bytes.every((n) => n < 250e3), `each figure small enough for a notebook (${bytes.join(', ')} characters)`);
    } finally {
      model.dispose();
    }
  });

  it('figure helpers: block averages and label-map PNGs', () => {
    const maps = Float32Array.from({ length: 2 * 4 * 4 }, (_, i) => (i < 16 ? 0 : i % 4));
    assert.deepStrictEqual(blockAverage(maps, 1, 4, 2), [[0.5, 2.5], [0.5, 2.5]]);
    assert.match(labelMapDataUri(Uint8Array.from([0, 1, 2, 3]), 2, 2), /^data:image\/png;base64,/);
    const lm = labelMapImage(Uint8Array.from([0, 1, 2, 3]), 2, 2);
    assert.deepStrictEqual([...lm.data.subarray(3, 6)], [...LABEL_PALETTE[1]]);
    assert.throws(() => labelMapImage(Uint8Array.from([0, 1, 2]), 2, 2), /3 labels for 2 x 2 pixels/);
  });

  it('the scenes sheet: a row per scene, the image then its label map', () => {
    const image = { width: 4, height: 4, channels: 3 as const, data: new Uint8Array(48).fill(200) };
    const labels = new Uint8Array(16).fill(2);
    const png = decodeImage(scenesSheetPng([{ image, labels }, { image, labels }]));
    assert.deepStrictEqual([png.width, png.height], [2 * 4 + 3 * 4, 2 * 4 + 3 * 4]);
    const at = (x: number, y: number) => [...png.data.subarray((y * png.width + x) * png.channels, (y * png.width + x) * png.channels + 3)];
    assert.deepStrictEqual(at(4, 4), [200, 200, 200]);
    assert.deepStrictEqual(at(12, 4), [...LABEL_PALETTE[2]]);
    assert.throws(() => scenesSheetPng([{ image: { ...image, channels: 1 as const, data: new Uint8Array(16) }, labels }]), /scene 0 has 1 channels/);
    const small = decodeImage(scenesSheetPng([{ image, labels }], { side: 2 }));
    assert.deepStrictEqual([small.width, small.height], [2 * 2 + 3 * 4, 2 + 2 * 4], 'shrunk to 2 x 2 tiles');
    assert.deepStrictEqual([...small.data.subarray((4 * small.width + 4 + 2 + 4) * small.channels, (4 * small.width + 4 + 2 + 4) * small.channels + 3)], [...LABEL_PALETTE[2]]);
  });
});
