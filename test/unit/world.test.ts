// The procedural world (src/world): seeded determinism and a stored checksum, label maps against the
// drawn pixels, distinct silhouettes, captions that only say true things, videos whose class lies in
// the temporal order, and the vocabulary.
import * as assert from 'assert';
import { createHash } from 'crypto';
import {
  COLORS,
  COLOR_RGB,
  MOTIONS,
  PATTERNS,
  SHAPES,
  SHAPE_NOUNS,
  SIZES,
  STYLES,
  WORLD_GENERATOR_VERSION,
  breaksSilhouette,
  describeCaption,
  describeWorld,
  positionOf,
  pretrainPair,
  renderScene,
  renderVideo,
  sampleBackground,
  sampleObject,
  sampleScene,
  sampleVideo,
  sizeOf,
  streamFor,
  videoCaption,
  videoStates,
  type Mention,
  type ObjectSpec,
  type RGB,
  type VideoSpec,
  type WorldImage,
} from '../../src/world';

// The sha256 of a small fixed batch (pretraining pairs, scenes with label maps, a video). It changes
// whenever the generator's output changes; when that is intended, bump WORLD_GENERATOR_VERSION in
// src/world/index.ts and store the new digest here, in the same change.
const EXPECTED_VERSION = 2;
const EXPECTED_DIGEST = '5d6a365c07ddf3551ea9dc81413cce68c120267085cad58342d9bc56ab690b60';

function fixedBatchDigest(): string {
  const h = createHash('sha256');
  for (let i = 0; i < 24; i++) {
    const p = pretrainPair(2024, i);
    h.update(p.image.data);
    h.update(p.caption + '\n');
  }
  for (let i = 0; i < 4; i++) {
    const rng = streamFor(2024, 'test-scenes', i);
    const objects = sampleScene(rng, { count: 4, overlap: i % 2 === 1, rotationRange: [-180, 180] });
    const s = renderScene(objects, { size: [80, 72], style: STYLES[i], background: sampleBackground(rng), seed: i, keys: ['test'] });
    h.update(s.image.data);
    h.update(s.labels);
  }
  const v = sampleVideo(streamFor(2024, 'test-video'), { motion: 'rotate-cw', frames: 8, styles: ['noisy'] });
  for (const f of renderVideo(v)) h.update(f.data);
  const r = streamFor(2024, 'rng');
  h.update(Uint32Array.from({ length: 8 }, () => r.uint32()));
  return h.digest('hex');
}

/** assert.ok with a message always (without one, Node re-reads the source to describe the failure,
 *  which can take minutes under tsx). */
function ok(cond: unknown, message = 'check failed'): asserts cond {
  assert.ok(cond, message);
}

const solid = (o: Partial<ObjectSpec> & Pick<ObjectSpec, 'shape'>): ObjectSpec => ({
  color: 'red',
  pattern: 'solid',
  scale: 0.8,
  cx: 0.5,
  cy: 0.5,
  rotation: 0,
  ...o,
});

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function pixel(img: WorldImage, i: number): RGB {
  return [img.data[3 * i], img.data[3 * i + 1], img.data[3 * i + 2]];
}

/** Pixels whose 3x3 neighbourhood (inside the frame) has one label. */
function interior(labels: Uint8Array, w: number, h: number): number[] {
  const out: number[] = [];
  for (let y = 1; y < h - 1; y++) for (let x = 1; x < w - 1; x++) {
    const l = labels[y * w + x];
    let ok = true;
    for (let dy = -1; dy <= 1 && ok; dy++) for (let dx = -1; dx <= 1; dx++) if (labels[(y + dy) * w + x + dx] !== l) ok = false;
    if (ok) out.push(y * w + x);
  }
  return out;
}

describe('world: random streams', () => {
  it('are reproducible, and differ by seed, key, key type and key boundaries', () => {
    const draw = (r: ReturnType<typeof streamFor>) => Array.from({ length: 6 }, () => r.uint32());
    assert.deepStrictEqual(draw(streamFor(5, 'pretrain', 3)), draw(streamFor(5, 'pretrain', 3)));
    const variants = [
      streamFor(5, 'pretrain', 3),
      streamFor(6, 'pretrain', 3),
      streamFor(5, 'pretrain', 4),
      streamFor(5, 'bench', 3),
      streamFor(5, 'pretrain', '3'),
      streamFor(5, 'pretrai', 'n3'),
      streamFor(5, 'pretrain', 3, 0),
      streamFor(5, 'pretrain', -3),
      streamFor(5, 'pretrain', 3 + 2 ** 32),
    ].map((r) => draw(r).join(','));
    assert.strictEqual(new Set(variants).size, variants.length);
    assert.throws(() => streamFor(1, 0.5), /safe integers/);
  });

  it('are roughly uniform', () => {
    const r = streamFor(1, 'uniform');
    const counts = new Array(10).fill(0);
    let sum = 0;
    for (let i = 0; i < 20000; i++) {
      const x = r.next();
      ok(x >= 0 && x < 1);
      sum += x;
      counts[r.int(10)]++;
    }
    ok(Math.abs(sum / 20000 - 0.5) < 0.01);
    for (const c of counts) ok(Math.abs(c - 2000) < 200, `bucket ${c}`);
  });
});

describe('world: determinism', () => {
  it('gives byte-identical pairs, scenes and label maps for the same seed, different ones otherwise', () => {
    for (let i = 0; i < 12; i++) {
      const a = pretrainPair(7, i);
      const b = pretrainPair(7, i);
      ok(same(a.image.data, b.image.data));
      assert.strictEqual(a.caption, b.caption);
      ok(!same(a.image.data, pretrainPair(8, i).image.data));
    }
    const scene = (seed: number) => {
      const rng = streamFor(seed, 'scene');
      return renderScene(sampleScene(rng, { count: 3 }), { size: 48, style: 'noisy', background: sampleBackground(rng), seed });
    };
    const [s1, s2, s3] = [scene(1), scene(1), scene(2)];
    ok(same(s1.image.data, s2.image.data) && same(s1.labels, s2.labels) && same(s1.instanceMap, s2.instanceMap));
    ok(!same(s1.labels, s3.labels));
  });

  it('matches the stored checksum of a fixed batch (update it together with WORLD_GENERATOR_VERSION)', () => {
    assert.strictEqual(WORLD_GENERATOR_VERSION, EXPECTED_VERSION, 'bump EXPECTED_VERSION and EXPECTED_DIGEST together');
    assert.strictEqual(fixedBatchDigest(), EXPECTED_DIGEST);
  });

  it('keys noise by seed and stream keys, and renders any frame size', () => {
    const o = [solid({ shape: 'star' })];
    const a = renderScene(o, { style: 'noisy', seed: 1 });
    const b = renderScene(o, { style: 'noisy', seed: 1, keys: ['other'] });
    ok(!same(a.image.data, b.image.data));
    ok(same(a.labels, b.labels));
    const odd = renderScene(o, { size: [37, 53] });
    assert.strictEqual(odd.image.data.length, 37 * 53 * 3);
    assert.strictEqual(odd.labels.length, 37 * 53);
    ok(odd.instances[0].pixels > 100);
  });
});

describe('world: shapes', () => {
  it('are pairwise distinct: mask IoU < 0.8 at the same pose, at several poses', () => {
    for (const rotation of [0, 25, -30]) {
      const masks = SHAPES.map((shape) => renderScene([solid({ shape, rotation, scale: 0.75 })], { size: 64 }).labels.map((l) => (l ? 1 : 0)));
      for (let i = 0; i < SHAPES.length; i++) {
        const area = masks[i].reduce((a, b) => a + b, 0);
        ok(area > 0.08 * 64 * 64, `${SHAPES[i]} too small: ${area}`);
        for (let j = i + 1; j < SHAPES.length; j++) {
          let inter = 0, union = 0;
          for (let k = 0; k < masks[i].length; k++) {
            inter += masks[i][k] & masks[j][k];
            union += masks[i][k] | masks[j][k];
          }
          ok(inter / union < 0.8, `${SHAPES[i]} vs ${SHAPES[j]} at ${rotation} deg: IoU ${(inter / union).toFixed(3)}`);
        }
      }
    }
  });

  it('scale is the span of the unrotated object as a fraction of the frame', () => {
    for (const shape of SHAPES) {
      const { instances } = renderScene([solid({ shape, scale: 0.5 })], { size: 100 });
      const [x0, y0, x1, y1] = instances[0].bbox as number[];
      ok(Math.abs(Math.max(x1 - x0, y1 - y0) - 50) <= 2, `${shape}: ${x1 - x0} x ${y1 - y0}`);
    }
  });
});

describe('world: label maps', () => {
  it('match the drawn pixels of solid clean objects: label <=> coverage >= 0.5', () => {
    for (let i = 0; i < 12; i++) {
      const rng = streamFor(3, 'labels', i);
      const objects = sampleScene(rng, { count: [1, 4], patterns: ['solid'], rotationRange: [-180, 180] });
      const bg = sampleBackground(rng, { kinds: ['plain'], avoid: objects.map((o) => o.rgb as RGB) });
      const bgRgb = (bg as { rgb: RGB }).rgb;
      const size = i % 2 ? 64 : 96;
      const s = renderScene(objects, { size, background: bg, seed: i, labelOf: (_, k) => 10 + k });
      // Away from edges, pixels show exactly the colour of their label (a thin tip, never covering
      // half a pixel, may tint a few background pixels).
      const inner = interior(s.labels, size, size);
      let exact = 0;
      for (const p of inner) {
        const l = s.labels[p];
        const want = l === 0 ? bgRgb : (objects[l - 10].rgb as RGB);
        const got = pixel(s.image, p);
        if (got.every((v, c) => v === want[c])) exact++;
      }
      ok(exact >= 0.99 * inner.length, `scene ${i}: ${inner.length - exact} of ${inner.length} interior pixels differ`);
      // Every pixel: the fraction of the way from the background to the object's colour is the
      // coverage; labelled pixels are at least half way, unlabelled ones of a lone object at most.
      objects.forEach((o, k) => {
        const rgb = o.rgb as RGB;
        const ch = [0, 1, 2].reduce((a, c) => (Math.abs(rgb[c] - bgRgb[c]) > Math.abs(rgb[a] - bgRgb[a]) ? c : a), 0);
        const span = rgb[ch] - bgRgb[ch];
        if (Math.abs(span) < 40) return;
        const alone = renderScene([o], { size, background: bg });
        for (let p = 0; p < size * size; p++) {
          const t = (alone.image.data[3 * p + ch] - bgRgb[ch]) / span;
          if (alone.labels[p]) ok(t >= 0.5 - 0.6 / Math.abs(span), `object ${k} pixel ${p}: labelled at coverage ${t}`);
          else ok(t <= 0.5 + 0.6 / Math.abs(span), `object ${k} pixel ${p}: unlabelled at coverage ${t}`);
        }
      });
    }
  });

  it('give overlaps to the top-most object and do not depend on the style', () => {
    const objects = [solid({ shape: 'square', cx: 0.4 }), solid({ shape: 'circle', cx: 0.6, color: 'blue' })];
    const ref = renderScene(objects, { size: 64, labelOf: (_, i) => i + 1 });
    assert.strictEqual(ref.labels[32 * 64 + 32], 2);
    assert.strictEqual(ref.labels[32 * 64 + 8], 1);
    for (const style of STYLES) {
      const s = renderScene(objects, { size: 64, style, labelOf: (_, i) => i + 1 });
      ok(same(s.labels, ref.labels), style);
    }
    // instance info agrees with the instance map
    ref.instances.forEach((info, i) => {
      let n = 0;
      ref.instanceMap.forEach((v) => (n += v === i + 1 ? 1 : 0));
      assert.strictEqual(info.pixels, n);
    });
    assert.deepStrictEqual(renderScene(objects, { size: 64 }).instances.map((i) => i.label), [2, 1]);
  });

  it('keeps non-overlapping scene objects all visible, inside the frame', () => {
    for (let i = 0; i < 20; i++) {
      const rng = streamFor(4, 'scene', i);
      const objects = sampleScene(rng, { count: [2, 5] });
      const s = renderScene(objects, { size: 128 });
      for (const info of s.instances) {
        ok(info.pixels > 0, `scene ${i} object ${info.index} hidden`);
        const o = objects[info.index];
        const alone = renderScene([o], { size: 128 }).instances[0].pixels;
        assert.strictEqual(info.pixels, alone, `scene ${i} object ${info.index} occluded`);
      }
    }
  });
});

describe('world: styles and sampling', () => {
  it('renders every style differently; sketches are grey', () => {
    const o = [solid({ shape: 'heart', pattern: 'striped', rotation: 12 })];
    const bg = { kind: 'texture' as const, rgb: [200, 205, 190] as RGB, contrast: 20 };
    const images = STYLES.map((style) => renderScene(o, { style, background: bg, seed: 2 }).image.data);
    for (let i = 0; i < images.length; i++) for (let j = i + 1; j < images.length; j++) ok(!same(images[i], images[j]), `${STYLES[i]} = ${STYLES[j]}`);
    const sk = images[STYLES.indexOf('sketch')];
    for (let p = 0; p < sk.length; p += 3) ok(sk[p] === sk[p + 1] && sk[p] === sk[p + 2]);
    let dark = 0;
    for (let p = 0; p < sk.length; p += 3) if (sk[p] < 150) dark++;
    ok(dark > 60, `sketch strokes: ${dark} dark pixels`);
  });

  it('samples objects within the requested ranges, inside the frame', () => {
    const rng = streamFor(9, 'objects');
    let breaking = 0;
    for (let i = 0; i < 400; i++) {
      const o = sampleObject(rng, { shapes: ['star', 'arrow'], scaleRange: [0.3, 0.6], rotationRange: [-10, 10], breakingPatternProb: 0.1 });
      ok(o.shape === 'star' || o.shape === 'arrow');
      ok(o.scale >= 0.3 - 1e-9 && o.scale <= 0.6 && Math.abs(o.rotation) <= 10);
      if (breaksSilhouette(o.pattern)) breaking++;
      const s = renderScene([o], { size: 64 });
      const [x0, y0, x1, y1] = s.instances[0].bbox as number[];
      ok(x0 > 0 && y0 > 0 && x1 < 64 && y1 < 64, `object ${i} touches the border`);
    }
    ok(breaking > 20 && breaking < 70, `silhouette-breaking patterns: ${breaking}/400`);
  });
});

const PATTERN_WORDS: Record<string, string[]> = {
  solid: ['solid'],
  striped: ['striped', 'stripes'],
  checkered: ['checkered', 'checks'],
  dotted: ['dotted', 'dots'],
  outlined: ['outlined'],
};

/** Checks that a mention is true of the objects and appears in the text. */
function checkMention(m: Mention, objects: ObjectSpec[], text: string, where: string): void {
  const match = objects.filter(
    (o) =>
      (!m.shape || o.shape === m.shape) &&
      (!m.color || o.color === m.color) &&
      (!m.pattern || o.pattern === m.pattern) &&
      (!m.size || sizeOf(o.scale) === m.size),
  );
  assert.strictEqual(match.length, m.count, `${where}: count of ${JSON.stringify(m)}`);
  if (m.position) for (const o of match) assert.strictEqual(positionOf(o), m.position, where);
  const words = ` ${text.replace(/[.,]/g, ' ')} `;
  if (m.shape) ok(words.includes(` ${SHAPE_NOUNS[m.shape][m.count > 1 ? 1 : 0]} `), `${where}: noun`);
  if (m.color) ok(words.includes(` ${m.color} `), `${where}: colour`);
  if (m.size) ok(words.includes(` ${m.size} `), `${where}: size`);
  if (m.pattern) ok(PATTERN_WORDS[m.pattern].some((w) => words.includes(` ${w} `)), `${where}: pattern`);
}

describe('world: captions', () => {
  it('say only true things, name the shape in most, and use varied lowercase ASCII templates', () => {
    const starts = new Set<string>();
    let singles = 0, colour = 0, named = 0, mentions = 0;
    for (let i = 0; i < 400; i++) {
      const p = pretrainPair(12, i);
      const where = `pair ${i} "${p.caption}"`;
      assert.match(p.caption, /^[a-z][a-z ,-]*[a-z]\.?$/, where);
      starts.add(p.caption.split(' ').slice(0, 3).join(' '));
      for (const m of p.mentions) {
        checkMention(m, p.objects, p.caption, where);
        mentions++;
        if (m.shape) named++;
        else ok(/ (shape|shapes|object|objects)( |$)/.test(` ${p.caption.replace(/[.,]/g, '')} `), `${where}: an unnamed shape is "shape" or "object"`);
        if (p.style === 'sketch') ok(!m.color && !m.pattern, `${where}: colour or pattern of a sketch`);
      }
      // Word-level: every colour, shape and pattern word in the text belongs to some object.
      const tokens = p.caption.replace(/[.,]/g, '').split(' ');
      for (const t of tokens) {
        if ((COLORS as readonly string[]).includes(t)) ok(p.objects.some((o) => o.color === t), `${where}: ${t}`);
        const shape = SHAPES.find((s) => SHAPE_NOUNS[s].some((n) => n.split(' ')[0] === t));
        if (shape) ok(p.objects.some((o) => o.shape === shape), `${where}: ${t}`);
        const pat = PATTERNS.find((q) => PATTERN_WORDS[q].includes(t));
        if (pat) ok(p.objects.some((o) => o.pattern === pat), `${where}: ${t}`);
      }
      if (p.objects.length === 1 && p.style !== 'sketch') {
        singles++;
        if (p.mentions[0].color) colour++;
      }
    }
    ok(starts.size >= 10, `only ${starts.size} caption openings`);
    ok(named / mentions > 0.78 && named / mentions < 0.92, `shapes named in ${named / mentions} of mentions`);
    const rate = colour / singles;
    ok(rate > 0.3 && rate < 0.5, `colour mentioned in ${rate} of captions`);
  });

  it('teach the benchmarks\' words: every position as "on the <position>", "shape" as a noun, small objects with their place', () => {
    const said = new Set<string>();
    let positions = 0, shapeNoun = 0, small = 0;
    const n = 3000;
    for (let i = 0; i < n; i++) {
      const p = pretrainPair(7, i);
      const text = ` ${p.caption.replace(/[.,]/g, '')} `;
      for (const pos of ['top left', 'top right', 'bottom left', 'bottom right', 'top', 'bottom', 'left', 'right', 'middle']) {
        if (text.includes(` on the ${pos} `)) said.add(pos);
      }
      if (p.mentions.some((m) => m.position)) positions++;
      if (/ shapes? /.test(text)) shapeNoun++;
      if (p.objects.length === 1 && p.objects[0].scale < 0.33) small++;
    }
    assert.strictEqual(said.size, 9, `positions said in the benchmarks' words: ${[...said].join(', ')}`);
    ok(positions / n > 0.2, `a position in ${positions / n} of captions`);
    ok(shapeNoun / n > 0.08, `"shape" in ${shapeNoun / n} of captions`);
    ok(Math.abs(small / n - 0.15) < 0.03, `small single objects in ${small / n} of pairs`);
  });

  it('counts groups exactly ("two dotted circles") and states true relations', () => {
    const objects: ObjectSpec[] = [
      solid({ shape: 'circle', pattern: 'dotted', scale: 0.3, cx: 0.2, cy: 0.2 }),
      solid({ shape: 'circle', pattern: 'dotted', scale: 0.3, cx: 0.2, cy: 0.8, color: 'blue' }),
      solid({ shape: 'star', scale: 0.3, cx: 0.8, cy: 0.5 }),
    ];
    let counted = 0, related = 0;
    for (let i = 0; i < 200; i++) {
      const c = describeCaption(objects, 'clean', streamFor(1, 'cap', i), { pPattern: 1, pColor: 0.5, pRelation: 1 });
      for (const m of c.mentions) checkMention(m, objects, c.text, c.text);
      if (/\btwo dotted circles\b/.test(c.text)) counted++;
      if (c.relation) {
        related++;
        const a = objects[c.mentions[c.relation.a].objects[0]];
        const b = objects[c.mentions[c.relation.b].objects[0]];
        if (c.relation.relation === 'left of') ok(a.cx < b.cx);
        if (c.relation.relation === 'right of') ok(a.cx > b.cx);
        if (c.relation.relation === 'above') ok(a.cy < b.cy);
        if (c.relation.relation === 'below') ok(a.cy > b.cy);
      }
    }
    ok(counted > 10 && related > 10, `counted ${counted}, related ${related}`);
  });
});

describe('world: videos', () => {
  const spec = (motion: VideoSpec['motion'], seed = 3): VideoSpec =>
    sampleVideo(streamFor(seed, 'video'), { motion, frames: 10, styles: ['noisy'] });

  it('paired motions are exact time reversals (no single frame tells them apart)', () => {
    const pairs: [VideoSpec['motion'], VideoSpec['motion']][] = [
      ['move-left', 'move-right'],
      ['move-up', 'move-down'],
      ['grow', 'shrink'],
      ['rotate-cw', 'rotate-ccw'],
    ];
    for (const [a, b] of pairs) {
      const sa = spec(a), sb = spec(b);
      assert.deepStrictEqual({ ...sa, motion: b }, sb, 'paired specs differ only in the motion');
      const fa = renderVideo(sa), fb = renderVideo(sb).reverse();
      assert.strictEqual(fa.length, 10);
      fa.forEach((f, t) => ok(same(f.data, fb[t].data), `${a}/${b} frame ${t}`));
    }
  });

  it('every motion changes the frames, in its direction, from spread-out start states', () => {
    for (const motion of MOTIONS) {
      const frames = renderVideo(spec(motion, 5));
      for (let t = 1; t < frames.length; t++) ok(!same(frames[t].data, frames[t - 1].data), `${motion} frame ${t}`);
    }
    const states = (m: VideoSpec['motion']) => videoStates({ ...spec(m, 6), style: 'clean' });
    const inc = (xs: number[]) => xs.every((x, i) => i === 0 || x > xs[i - 1]);
    ok(inc(states('move-right').map((s) => s.cx)));
    ok(inc(states('move-left').map((s) => -s.cx)));
    ok(inc(states('move-down').map((s) => s.cy)));
    ok(inc(states('move-up').map((s) => -s.cy)));
    ok(inc(states('grow').map((s) => s.scale)));
    ok(inc(states('shrink').map((s) => -s.scale)));
    ok(inc(states('rotate-ccw').map((s) => s.rotation)));
    ok(inc(states('rotate-cw').map((s) => -s.rotation)));
    // The image itself moves right: the object's column centroid increases.
    const right = renderVideo({ ...spec('move-right', 7), style: 'clean', background: { kind: 'plain', rgb: [0, 0, 0] } });
    const centroid = (f: WorldImage) => {
      let sx = 0, n = 0;
      for (let p = 0; p < 64 * 64; p++) {
        const v = f.data[3 * p] + f.data[3 * p + 1] + f.data[3 * p + 2];
        sx += (p % 64) * v;
        n += v;
      }
      return sx / n;
    };
    ok(inc(right.map(centroid)));
    // Start positions are spread, and the clip stays in the frame.
    const firstX: number[] = [];
    for (let i = 0; i < 40; i++) {
      const s = sampleVideo(streamFor(i, 'spread'), { motion: 'move-right', frames: 8 });
      const st = videoStates(s);
      firstX.push(st[0].cx);
      for (const o of [st[0], st[st.length - 1]]) {
        const info = renderScene([o], { size: 64 }).instances[0];
        const [x0, , x1] = info.bbox as number[];
        ok(x0 > 0 && x1 < 64);
      }
    }
    const mean = firstX.reduce((a, b) => a + b, 0) / firstX.length;
    const sd = Math.sqrt(firstX.reduce((a, b) => a + (b - mean) ** 2, 0) / firstX.length);
    ok(sd > 0.05, `start x spread ${sd}`);
  });

  it('change-color ends near the target colour; rotating circles carry a pattern; captions are true', () => {
    const s = spec('change-color', 8);
    const st = videoStates(s);
    assert.deepStrictEqual(st[st.length - 1].rgb, s.toRgb);
    assert.notStrictEqual(s.toColor, s.object.color);
    for (let i = 0; i < 60; i++) {
      const v = sampleVideo(streamFor(i, 'rot'), { motion: 'rotate-cw', shapes: ['circle'] });
      ok(v.object.pattern !== 'solid' && v.object.pattern !== 'outlined');
    }
    for (let i = 0; i < 40; i++) {
      const v = sampleVideo(streamFor(i, 'cap'));
      const text = videoCaption(v, streamFor(i, 'cap-text'));
      assert.match(text, /^[a-z][a-z ]*[a-z]\.?$/);
      ok(text.includes(SHAPE_NOUNS[v.object.shape][0]), text);
      const phrase = describeWorld().motions.find((m) => m.name === v.motion)?.phrase as string;
      ok(text.includes(phrase), text);
    }
  });
});

describe('world: vocabulary', () => {
  it('describes shapes, colours, patterns, styles, sizes and motions', () => {
    const w = describeWorld();
    assert.strictEqual(w.version, WORLD_GENERATOR_VERSION);
    ok(w.shapes.length >= 8 && w.colors.length >= 6 && w.patterns.length >= 4 && w.styles.length >= 4 && w.motions.length >= 8);
    assert.deepStrictEqual(w.shapes.map((s) => s.label), SHAPES.map((_, i) => i + 1));
    assert.deepStrictEqual(w.sizes.map((s) => s.name), [...SIZES]);
    assert.deepStrictEqual(w.colors.find((c) => c.name === 'red')?.rgb, COLOR_RGB.red);
    assert.deepStrictEqual(w.patterns.filter((p) => p.breaksSilhouette).map((p) => p.name), ['dotted', 'outlined']);
    assert.deepStrictEqual(JSON.parse(JSON.stringify(w)), w);
  });
});
