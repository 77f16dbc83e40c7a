// The world benchmarks: committed manifests equal a fresh computation, items are deterministic and
// disjoint from pretraining, labels agree with what is rendered, split sizes and class orders follow
// the protocols (base = first ceil(n/2) classes; CZSL seen/unseen pairs).
import * as assert from 'assert';
import { createHash } from 'crypto';
import { performance } from 'perf_hooks';
import {
  CLASSIFICATION_CONFIGS,
  POSITION_CLASSES,
  WORLD_BENCHMARKS,
  WORLD_CLASSIFICATION,
  WRITE_WORLD_MANIFESTS_COMMAND,
  computeManifest,
  fillTemplate,
  getWorldDataset,
  loadManifest,
  SPLITS,
  type Pair,
  type SplitName,
  type WorldDataset,
} from '../../src/data';
import type { RawImage } from '../../src/clip/image';
import { COLORS, COLOR_RGB, MOTIONS, PATTERNS, SHAPES, positionOf, pretrainPair, renderVideo } from '../../src/world';

const STALE = `the world generator changed: bump WORLD_GENERATOR_VERSION (src/world/index.ts) or WORLD_BENCHMARKS_VERSION (src/data/world-common.ts) and regenerate the manifests with \`${WRITE_WORLD_MANIFESTS_COMMAND}\``;

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The colour whose hue the object's saturated pixels mostly have (shades and blends keep the hue). */
function dominantColour(img: RawImage, labels: Uint8Array): string | null {
  const dir = (r: number, g: number, b: number) => {
    const m = (r + g + b) / 3;
    const n = Math.hypot(r - m, g - m, b - m) || 1;
    return [(r - m) / n, (g - m) / n, (b - m) / n];
  };
  const dirs = COLORS.map((c) => dir(...COLOR_RGB[c]));
  const votes = new Array<number>(COLORS.length).fill(0);
  for (let i = 0; i < labels.length; i++) {
    if (!labels[i]) continue;
    const r = img.data[3 * i], g = img.data[3 * i + 1], b = img.data[3 * i + 2];
    if (Math.max(r, g, b) - Math.min(r, g, b) < 50) continue;
    const v = dir(r, g, b);
    let best = 0;
    let bestCos = -2;
    dirs.forEach((d, j) => {
      const c = d[0] * v[0] + d[1] * v[1] + d[2] * v[2];
      if (c > bestCos) [bestCos, best] = [c, j];
    });
    votes[best]++;
  }
  const top = votes.indexOf(Math.max(...votes));
  return votes[top] > 0 ? COLORS[top] : null;
}

function imagesOf(ds: WorldDataset, split: SplitName, count: number): { index: number; bytes: Uint8Array }[] {
  const out: { index: number; bytes: Uint8Array }[] = [];
  const items = ds.split(split);
  const step = Math.max(1, Math.floor(items.length / count));
  for (let i = 0; i < items.length && out.length < count; i += step) {
    let bytes: Uint8Array;
    if (ds.kind === 'classification') bytes = ds.image(ds.split(split)[i], split).data;
    else if (ds.kind === 'compositional') bytes = ds.image(ds.split(split)[i], split).data;
    else if (ds.kind === 'segmentation') bytes = ds.example(ds.split(split)[i], split).image.data;
    else bytes = ds.frames(ds.split(split)[i], split)[0].data;
    out.push({ index: items[i].index, bytes });
  }
  return out;
}

describe('world benchmarks', function () {
  this.timeout(120000);

  describe('committed manifests', () => {
    let total = 0;
    after(() => console.log(`      (computing all ${WORLD_BENCHMARKS.length} manifests took ${total.toFixed(1)} s)`));
    for (const name of WORLD_BENCHMARKS) {
      it(`${name}: checksum, counts and class names equal a fresh computation`, () => {
        const committed = loadManifest(name);
        const t0 = performance.now();
        const fresh = JSON.parse(JSON.stringify(computeManifest(getWorldDataset(name))));
        total += (performance.now() - t0) / 1000;
        const { contentSha256: a, ...committedHeader } = committed;
        const { contentSha256: b, ...freshHeader } = fresh;
        assert.deepStrictEqual(committedHeader, freshHeader, `${name}: ${STALE}`);
        assert.strictEqual(a, b, `${name}: the rendered content differs from the committed checksum; ${STALE}`);
      });
    }

    it('each dataset serves its committed manifest, and computes a quick variant on demand', () => {
      assert.deepStrictEqual(getWorldDataset('world-shapes').manifest, loadManifest('world-shapes'));
      const q = getWorldDataset('world-patterns', { quick: true }).manifest;
      assert.strictEqual(q.id, 'world-patterns-quick');
      assert.deepStrictEqual(q.counts, { train: 80, val: 20, test: 100 });
      assert.match(q.contentSha256, /^[0-9a-f]{64}$/);
      assert.notStrictEqual(q.contentSha256, loadManifest('world-patterns').contentSha256);
      assert.throws(() => loadManifest('world-nothing'), /no manifest named "world-nothing".*write-world-manifests/);
    });
  });

  describe('determinism and disjointness', () => {
    it('two builds render byte-identical items, and quick items are the full variant\'s first items', () => {
      for (const name of WORLD_BENCHMARKS) {
        for (const split of SPLITS) {
          const a = imagesOf(getWorldDataset(name, { quick: true }), split, 3);
          const b = imagesOf(getWorldDataset(name, { quick: true }), split, 3);
          assert.deepStrictEqual(a.map((x) => sha(x.bytes)), b.map((x) => sha(x.bytes)), `${name} ${split}`);
        }
      }
      // Class-balanced datasets: the quick variant's k-th item of a class is the full variant's k-th.
      for (const name of [...WORLD_CLASSIFICATION, 'world-motion'] as const) {
        const quick = getWorldDataset(name, { quick: true });
        const full = getWorldDataset(name);
        const q = quick.split('test');
        const f = full.split('test');
        const nq = q.length / quick.classNames.length;
        const nf = f.length / full.classNames.length;
        for (const label of [0, quick.classNames.length - 1]) {
          const qi = q[label * nq + nq - 1];
          const fi = f[label * nf + nq - 1];
          assert.strictEqual(qi.label, fi.label);
          const qb = quick.kind === 'video' ? quick.frames(qi, 'test')[7].data : (quick as Exclude<typeof quick, { kind: 'video' }>).image(qi, 'test').data;
          const fb = full.kind === 'video' ? full.frames(fi, 'test')[7].data : (full as Exclude<typeof full, { kind: 'video' }>).image(fi, 'test').data;
          assert.strictEqual(sha(qb), sha(fb), `${name} class ${label}`);
        }
      }
      const cz = getWorldDataset('world-czsl', { quick: true });
      const czFull = getWorldDataset('world-czsl');
      assert.strictEqual(sha(cz.image(cz.split('val')[1], 'val').data), sha(czFull.image(czFull.split('val')[1], 'val').data));
      const sc = getWorldDataset('world-scenes', { quick: true });
      const scFull = getWorldDataset('world-scenes');
      assert.strictEqual(sha(sc.example(sc.split('train')[7], 'train').labels), sha(scFull.example(scFull.split('train')[7], 'train').labels));
    });

    it('no benchmark image is a pretraining image (their streams are disjoint)', () => {
      // The same indices in both namespaces, and a pool of 1,500 pretraining images against samples of every split.
      const pool = new Set<string>();
      for (let i = 0; i < 1500; i++) pool.add(sha(pretrainPair(0, i).image.data));
      let checked = 0;
      for (const name of WORLD_BENCHMARKS) {
        const ds = getWorldDataset(name, { quick: true });
        for (const split of SPLITS) {
          for (const { index, bytes } of imagesOf(ds, split, 12)) {
            const pre = pretrainPair(0, index, { size: ds.kind === 'segmentation' ? ds.imageSize : 64 }).image.data;
            assert.notStrictEqual(sha(bytes), sha(pre), `${name} ${split} ${index} equals pretraining pair ${index}`);
            assert.ok(!pool.has(sha(bytes)), `${name} ${split} ${index} is a pretraining image`);
            checked++;
          }
        }
      }
      assert.ok(checked > 200);
    });
  });

  describe('labels agree with the rendered content', () => {
    it('world-shapes, world-sketches, world-patterns: the class fixes the shape or the pattern; styles are the dataset\'s', () => {
      for (const name of ['world-shapes', 'world-sketches', 'world-patterns'] as const) {
        const ds = getWorldDataset(name, { quick: true });
        const styles = new Set<string>();
        for (const split of SPLITS) {
          for (const item of ds.split(split)) {
            const spec = ds.spec(item, split);
            assert.strictEqual(spec.objects.length, 1);
            const o = spec.objects[0];
            if (name === 'world-patterns') assert.strictEqual(o.pattern, PATTERNS[item.label]);
            else assert.strictEqual(o.shape, SHAPES[item.label]);
            assert.strictEqual(item.domain, spec.style);
            assert.ok(o.scale <= CLASSIFICATION_CONFIGS[name].object.scaleRange[1] + 1e-9, 'smaller than pretraining objects');
            styles.add(spec.style);
          }
        }
        assert.deepStrictEqual([...styles].sort(), CLASSIFICATION_CONFIGS[name].look.styles.slice().sort(), name);
        // The label map of a rendered sample holds the object's shape, and only it.
        for (const item of ds.split('test').filter((_, i) => i % 7 === 0)) {
          const r = ds.render(item, 'test');
          const o = ds.spec(item, 'test').objects[0];
          assert.deepStrictEqual([...new Set(r.labels)].sort(), [0, SHAPES.indexOf(o.shape) + 1]);
        }
      }
    });

    it('world-positions: the visible object lies in its class\'s region', () => {
      const ds = getWorldDataset('world-positions', { quick: true });
      for (const split of SPLITS) {
        for (const item of ds.split(split)) {
          const r = ds.render(item, split);
          const bbox = r.instances[0].bbox;
          assert.ok(bbox, `${split} ${item.index}: object not visible`);
          const centre = { cx: (bbox[0] + bbox[2]) / 2 / r.image.width, cy: (bbox[1] + bbox[3]) / 2 / r.image.height };
          assert.strictEqual(positionOf(centre), ds.classNames[item.label], `${split} ${item.index}: ${JSON.stringify(centre)}`);
        }
      }
      assert.deepStrictEqual(ds.classNames, POSITION_CLASSES.map((p) => p.name));
    });

    it('world-colors and world-czsl: items have the labelled colour and shape', () => {
      const colors = getWorldDataset('world-colors', { quick: true });
      for (const item of colors.split('test')) {
        const r = colors.render(item, 'test');
        const [colour, ...noun] = colors.classNames[item.label].split(' ');
        assert.strictEqual(dominantColour(r.image, r.labels), colour, `world-colors test ${item.index}`);
        const shape = SHAPES[Math.floor(item.label / COLORS.length)];
        assert.strictEqual(noun.join(' '), shape === 'lightning' ? 'lightning bolt' : shape);
        assert.deepStrictEqual([...new Set(r.labels)].sort((a, b) => a - b), [0, SHAPES.indexOf(shape) + 1]);
      }
      const cz = getWorldDataset('world-czsl', { quick: true });
      for (const split of SPLITS) {
        for (const item of cz.split(split)) {
          const r = cz.render(item, split);
          const o = cz.spec(item, split).objects[0];
          assert.strictEqual(o.color, cz.attrs[item.attr]);
          assert.strictEqual(dominantColour(r.image, r.labels), cz.attrs[item.attr], `world-czsl ${split} ${item.index}`);
          assert.deepStrictEqual([...new Set(r.labels)].sort((a, b) => a - b), [0, SHAPES.indexOf(o.shape) + 1]);
          assert.strictEqual(cz.objs[item.obj], o.shape === 'lightning' ? 'lightning bolt' : o.shape);
        }
      }
    });

    it('world-scenes: label maps hold exactly the shapes of their objects, all of them visible', () => {
      const ds = getWorldDataset('world-scenes', { quick: true });
      assert.strictEqual(ds.classNames.length, 11);
      assert.strictEqual(ds.classNames[0], 'background');
      for (const split of SPLITS) {
        for (const item of ds.split(split)) {
          const { objects } = ds.spec(item, split);
          const r = ds.render(item, split);
          const ex = ds.example(item, split);
          assert.strictEqual(ex.image.width, 128);
          assert.strictEqual(ex.labels.length, 128 * 128);
          assert.ok(objects.length >= 2 && objects.length <= 4);
          const expected = [0, ...new Set(objects.map((o) => SHAPES.indexOf(o.shape) + 1))].sort((a, b) => a - b);
          assert.deepStrictEqual([...new Set(ex.labels)].sort((a, b) => a - b), expected, `${split} ${item.index}`);
          for (const inst of r.instances) assert.ok(inst.pixels >= 20, `${split} ${item.index}: object ${inst.index} shows ${inst.pixels} pixels`);
        }
      }
    });

    it('world-motion: 8 frames of 64 px rendered from a clip of the labelled motion', () => {
      const ds = getWorldDataset('world-motion', { quick: true });
      assert.strictEqual(ds.numFrames, 8);
      assert.deepStrictEqual(ds.motions, [...MOTIONS]);
      for (const item of ds.split('test')) {
        const spec = ds.spec(item, 'test');
        assert.strictEqual(spec.video.motion, MOTIONS[item.label]);
        assert.strictEqual(item.domain, spec.video.style);
        assert.notStrictEqual(spec.video.style, 'sketch');
        const frames = ds.frames(item, 'test');
        assert.strictEqual(frames.length, 8);
        for (const f of frames) assert.deepStrictEqual([f.width, f.height, f.channels], [64, 64, 3]);
        assert.ok(new Set(frames.map((f) => sha(f.data))).size >= 2, `test ${item.index}: nothing changes`);
        const again = renderVideo(spec.video);
        assert.deepStrictEqual(frames.map((f) => sha(f.data)), again.map((f) => sha(f.data)));
      }
    });
  });

  describe('splits and class order', () => {
    it('split sizes of the full and quick variants', () => {
      const expect: Record<string, [number, number, number][]> = {
        'world-shapes': [[320, 160, 2000], [160, 40, 200]],
        'world-sketches': [[320, 160, 2000], [160, 40, 200]],
        'world-patterns': [[160, 80, 1000], [80, 20, 100]],
        'world-colors': [[2560, 1280, 2400], [1280, 320, 400]],
        'world-positions': [[288, 144, 1800], [144, 36, 180]],
        'world-czsl': [[800, 120, 640], [240, 48, 128]],
        'world-scenes': [[400, 50, 200], [40, 10, 20]],
        'world-motion': [[320, 80, 500], [80, 20, 50]],
      };
      for (const name of WORLD_BENCHMARKS) {
        [false, true].forEach((quick, v) => {
          const ds = getWorldDataset(name, { quick });
          assert.deepStrictEqual(SPLITS.map((s) => ds.split(s).length), expect[name][v], `${name}${quick ? ' (quick)' : ''}`);
          for (const s of SPLITS) ds.split(s).forEach((it, i) => assert.strictEqual(it.index, i));
        });
      }
      const custom = getWorldDataset('world-shapes', { counts: { train: 2, test: 3 } });
      assert.deepStrictEqual(SPLITS.map((s) => custom.split(s).length), [20, 160, 30]);
    });

    it('classification: every class in every split, labels ascending; base = first ceil(n/2) names', () => {
      for (const name of WORLD_CLASSIFICATION) {
        const ds = getWorldDataset(name, { quick: true });
        for (const s of SPLITS) {
          const labels = ds.split(s).map((it) => it.label);
          assert.deepStrictEqual(labels, labels.slice().sort((a, b) => a - b), `${name} ${s}`);
          assert.strictEqual(new Set(labels).size, ds.classNames.length, `${name} ${s}`);
        }
        assert.strictEqual(new Set(ds.classNames).size, ds.classNames.length);
      }
      const shapes = getWorldDataset('world-shapes');
      const base = shapes.classNames.slice(0, Math.ceil(shapes.classNames.length / 2));
      assert.deepStrictEqual(base, ['circle', 'square', 'triangle', 'star', 'heart']);
      assert.strictEqual(shapes.classNames[9], 'lightning bolt');
      assert.deepStrictEqual(getWorldDataset('world-sketches').classNames, shapes.classNames);
      assert.deepStrictEqual(getWorldDataset('world-patterns').classNames, ['solid', 'striped', 'checkered', 'dotted', 'outlined']);
      const colors = getWorldDataset('world-colors').classNames;
      assert.strictEqual(colors.length, 80);
      assert.deepStrictEqual(colors.slice(0, 3), ['red circle', 'orange circle', 'yellow circle']);
      // The base half holds the first five shapes in every colour; the new half the other five.
      assert.deepStrictEqual(new Set(colors.slice(0, 40).map((c) => c.split(' ').slice(1).join(' '))), new Set(base));
    });

    it('world-czsl: seen pairs in training, val and test with seen and unseen pairs, closed and open world', () => {
      const ds = getWorldDataset('world-czsl');
      const key = (p: Pair) => `${p[0]} ${p[1]}`;
      const sorted = (ps: Pair[]) => ps.map(key).slice().sort();
      assert.deepStrictEqual(ds.attrs, [...COLORS].sort());
      assert.strictEqual(ds.objs.length, 10);
      assert.deepStrictEqual(ds.objs, ds.objs.slice().sort());
      assert.strictEqual(ds.openWorldPairs.length, 80);
      const seen = new Set(ds.trainPairs.map(key));
      assert.strictEqual(seen.size, 40);
      for (const a of ds.attrs) assert.ok(ds.trainPairs.filter((p) => p[0] === a).length >= 2, a);
      for (const o of ds.objs) assert.ok(ds.trainPairs.filter((p) => p[1] === o).length >= 2, o);
      const count = (ps: Pair[], s: boolean) => ps.filter((p) => seen.has(key(p)) === s).length;
      assert.deepStrictEqual([count(ds.valPairs, true), count(ds.valPairs, false)], [12, 12]);
      assert.deepStrictEqual([count(ds.testPairs, true), count(ds.testPairs, false)], [16, 16]);
      const valUnseen = ds.valPairs.filter((p) => !seen.has(key(p))).map(key);
      assert.ok(ds.testPairs.every((p) => !valUnseen.includes(key(p))), 'val and test unseen pairs are disjoint');
      // Closed world: the sorted union of the three pair lists (68 of 80); every list sorted.
      assert.deepStrictEqual(ds.pairs.map(key), [...new Set([...ds.trainPairs, ...ds.valPairs, ...ds.testPairs].map(key))].sort());
      assert.strictEqual(ds.pairs.length, 68);
      for (const ps of [ds.pairs, ds.trainPairs, ds.valPairs, ds.testPairs]) assert.deepStrictEqual(ps.map(key), sorted(ps));
      const open = new Set(ds.openWorldPairs.map(key));
      assert.ok(ds.pairs.every((p) => open.has(key(p))));
      // Items: per pair 20 / 5 / 20, each in its split's pairs.
      for (const [s, ps, n] of [['train', ds.trainPairs, 20], ['val', ds.valPairs, 5], ['test', ds.testPairs, 20]] as const) {
        const items = ds.split(s);
        const names = new Set(ps.map(key));
        for (const it of items) assert.ok(names.has(`${ds.attrs[it.attr]} ${ds.objs[it.obj]}`), `${s} ${it.index}`);
        assert.strictEqual(items.length, ps.length * n);
      }
      // The split depends on the seed.
      assert.notDeepStrictEqual(getWorldDataset('world-czsl', { seed: 1 }).trainPairs, ds.trainPairs);
    });
  });

  describe('prompts and errors', () => {
    it('every template holds one {}, the ensemble starts with the hand-crafted one', () => {
      for (const name of WORLD_BENCHMARKS) {
        const ds = getWorldDataset(name);
        assert.strictEqual(ds.templates[0], ds.template, name);
        for (const t of ds.templates) assert.strictEqual(t.split('{}').length, 2, `${name}: ${t}`);
        assert.strictEqual(new Set(ds.templates).size, ds.templates.length, name);
      }
      assert.strictEqual(getWorldDataset('world-patterns').template, 'a {} shape.');
      assert.strictEqual(getWorldDataset('world-positions').template, 'a photo of a shape on the {}.');
      // the official code's fill: the name in place of {}, '_' as spaces, the template's article kept
      assert.strictEqual(fillTemplate('a photo of a {}.', 'arrow'), 'a photo of a arrow.');
      assert.strictEqual(fillTemplate('a photo of a {} arrow.', 'outlined'), 'a photo of a outlined arrow.');
      assert.strictEqual(fillTemplate('a photo of a {}.', 'red_star'), 'a photo of a red star.');
    });

    it('names the valid choices when a name, split or item is wrong', () => {
      assert.throws(() => getWorldDataset('world-nothing'), /unknown world dataset "world-nothing" \(valid: world-shapes, .*world-motion\)/);
      const ds = getWorldDataset('world-shapes', { quick: true });
      assert.throws(() => ds.split('dev' as SplitName), /unknown split "dev" \(valid: train, val, test\)/);
      const item = ds.split('test')[5];
      assert.throws(() => ds.image({ ...item, label: item.label + 1 }, 'test'), /is not item 5 of the test split/);
      assert.throws(() => ds.image({ index: 10_000, label: 0 }, 'test'), /take items from split\('test'\)/);
      assert.throws(() => getWorldDataset('world-shapes', { counts: { train: -1 } }), /train count must be a non-negative integer/);
    });
  });
});
