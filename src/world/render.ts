// Rendering: objects on a background in a style, with a per-pixel label map. Geometry comes from the
// shapes' signed distance fields: coverage = clamp(0.5 - distance_px, 0, 1) (analytic anti-aliasing),
// and a pixel is labelled with an object where that object's coverage is >= 0.5 (its centre is inside
// the silhouette), the top-most such object winning. Labels follow the silhouette for every pattern
// and style: inside a dotted or outlined object the background shows through, but those pixels still
// belong to the object; pixelated and blurred images smear the drawn edges, the labels stay exact.
import type { RawImage } from '../clip/image';
import { streamFor, type Rng, type StreamKey } from '../random';
import { cosSinDeg, rotatedBox, sampleField, shapeGeometry } from './shapes';
import { addNoise, gaussianBlur, pixelate, quantise, valueNoise, type Canvas } from './styles';
import { COLOR_RGB, SHAPES, type ColorName, type PatternName, type RGB, type ShapeName, type StyleName } from './vocab';

/** An RGB image as the CLIP preprocessing takes it (interleaved HWC, 8-bit). */
export interface WorldImage extends RawImage {
  channels: 3;
}

/** One object to draw. Positions and sizes are fractions of the frame, so a spec renders at any size. */
export interface ObjectSpec {
  shape: ShapeName;
  color: ColorName;
  pattern: PatternName;
  /** The object's span (longer side of its unrotated bounding box) as a fraction of the frame's shorter side. */
  scale: number;
  /** Centre of the (unrotated) bounding box, as fractions of the width and height. */
  cx: number;
  cy: number;
  /** Degrees, counter-clockwise on screen. */
  rotation: number;
  /** The instance's colour (named colour plus jitter); default COLOR_RGB[color]. */
  rgb?: RGB;
  /** Direction of stripes / the checker and dot lattice in the object's own frame, degrees; default 0. */
  patternAngle?: number;
}

export type BackgroundSpec =
  | { kind: 'plain'; rgb: RGB }
  /** Linear from `from` to `to` along `angle` (degrees, 0 = left to right, 90 = top to bottom). */
  | { kind: 'gradient'; from: RGB; to: RGB; angle: number }
  /** Smooth low-contrast blotches around `rgb`; contrast in levels (e.g. 10-30). Seeded by the render seed. */
  | { kind: 'texture'; rgb: RGB; contrast: number };

export const DEFAULT_BACKGROUND: BackgroundSpec = { kind: 'plain', rgb: [224, 224, 220] };

export interface RenderOptions {
  /** Pixels: a square side or [width, height]; default 64. */
  size?: number | [number, number];
  /** Default 'clean'. sketch ignores the background's colours (grey pencil on paper). */
  style?: StyleName;
  /** Scales the style's effect (noise level, blur, block size, stroke wobble); default 1. */
  styleStrength?: number;
  /** Default DEFAULT_BACKGROUND. */
  background?: BackgroundSpec;
  /** Seeds the background texture and the style's randomness; default 0. */
  seed?: number;
  /** Extra keys naming the render's streams with the seed (e.g. ['pretrain', index]), so that
   *  renders of different datasets never share noise: streamFor(seed, ...keys, 'background'). */
  keys?: StreamKey[];
  /** Video frame key: varies the style's randomness (noise, pencil wobble) but not the background. */
  frame?: number;
  /** Label of object i in the label map (0..255); default shape index + 1. */
  labelOf?: (o: ObjectSpec, i: number) => number;
}

/** What the label map holds about one object. */
export interface InstanceInfo {
  index: number;
  label: number;
  /** Visible pixels in the label map (after occlusion). */
  pixels: number;
  /** Bounding box of the visible pixels [x0, y0, x1, y1), or null if none is visible. */
  bbox: [number, number, number, number] | null;
}

export interface RenderedScene {
  image: WorldImage;
  /** H x W, 0 = background, otherwise the object's label (top-most object whose coverage >= 0.5). */
  labels: Uint8Array;
  /** H x W, 0 = background, otherwise 1 + the index of the object that owns the pixel. */
  instanceMap: Uint8Array;
  instances: InstanceInfo[];
}

export function frameSize(size: number | [number, number] | undefined): [number, number] {
  const [w, h] = size === undefined ? [64, 64] : typeof size === 'number' ? [size, size] : size;
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1) throw new Error(`world: bad image size ${w}x${h}`);
  return [w, h];
}

export const shapeLabel = (o: ObjectSpec): number => SHAPES.indexOf(o.shape) + 1;

const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);

function paintBackground(c: Canvas, bg: BackgroundSpec, rng: Rng): void {
  const { width: w, height: h, data: d } = c;
  if (bg.kind === 'plain') {
    for (let i = 0; i < d.length; i += 3) {
      d[i] = bg.rgb[0];
      d[i + 1] = bg.rgb[1];
      d[i + 2] = bg.rgb[2];
    }
  } else if (bg.kind === 'gradient') {
    const [ca, sa] = cosSinDeg(bg.angle);
    const span = Math.abs(w * ca) + Math.abs(h * sa);
    const [f0, f1, f2] = bg.from;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const t = clamp01(0.5 + ((x + 0.5 - w / 2) * ca + (y + 0.5 - h / 2) * sa) / span);
      const p = (y * w + x) * 3;
      d[p] = f0 + (bg.to[0] - f0) * t;
      d[p + 1] = f1 + (bg.to[1] - f1) * t;
      d[p + 2] = f2 + (bg.to[2] - f2) * t;
    }
  } else {
    const m = Math.min(w, h);
    const coarse = valueNoise(w, h, m / 4, rng);
    const fine = valueNoise(w, h, m / 10, rng);
    for (let i = 0, p = 0; i < w * h; i++, p += 3) {
      const n = bg.contrast * (0.65 * coarse[i] + 0.35 * fine[i]);
      d[p] = bg.rgb[0] + n;
      d[p + 1] = bg.rgb[1] + n;
      d[p + 2] = bg.rgb[2] + n;
    }
  }
}

/** Signed distance (units) inside a periodic band pattern: positive in the bands [0, P/2) + kP. */
function bandDistance(w: number, period: number): number {
  const m = w / period - Math.floor(w / period);
  return m < 0.5 ? Math.min(m, 0.5 - m) * period : -Math.min(m - 0.5, 1 - m) * period;
}

/** Per-pixel pencil wobble (px) and pressure (0..1) fields for the sketch style. */
interface Pencil {
  wobble: Float32Array;
  wobble2: Float32Array;
  pressure: Float32Array;
}

function makePencil(w: number, h: number, strength: number, rng: Rng): Pencil {
  const m = Math.min(w, h);
  const amp = 0.9 * strength * (m / 64);
  const wobble = valueNoise(w, h, m / 9, rng);
  const wobble2 = valueNoise(w, h, m / 7, rng);
  const pressure = valueNoise(w, h, m / 6, rng);
  for (let i = 0; i < wobble.length; i++) {
    wobble[i] *= amp;
    wobble2[i] = wobble2[i] * amp + 0.9 * (m / 64);
    pressure[i] = 0.72 + 0.28 * pressure[i];
  }
  return { wobble, wobble2, pressure };
}

const GRAPHITE = 52;

interface DrawContext {
  canvas: Canvas;
  labels: Uint8Array;
  instanceMap: Uint8Array;
  style: StyleName;
  pencil: Pencil | null;
  paper: number;
}

function drawObject(ctx: DrawContext, o: ObjectSpec, index: number, label: number): void {
  const { canvas, labels, instanceMap, style, pencil, paper } = ctx;
  const { width: w, height: h, data: d } = canvas;
  const field = shapeGeometry(o.shape).field;
  const m = Math.min(w, h);
  const R = (o.scale * m) / 2; // pixels per unit
  if (!(R > 0)) return;
  const [c, s] = cosSinDeg(o.rotation);
  const [pc, ps] = cosSinDeg(o.patternAngle ?? 0);
  const X = o.cx * w;
  const Y = o.cy * h;
  const box = rotatedBox(o.shape, o.rotation);
  const pad = 3 + (pencil ? 2 * (m / 64) : 0);
  const x0 = Math.max(0, Math.floor(X + box[0] * R - pad));
  const x1 = Math.min(w, Math.ceil(X + box[1] * R + pad));
  const y0 = Math.max(0, Math.floor(Y + box[2] * R - pad));
  const y1 = Math.min(h, Math.ceil(Y + box[3] * R + pad));

  let base: RGB = o.rgb ?? COLOR_RGB[o.color];
  if (style === 'cartoon') {
    const mean = (base[0] + base[1] + base[2]) / 3;
    base = base.map((v) => Math.max(0, Math.min(255, mean + (v - mean) * 1.3))) as RGB;
  }
  const shade: RGB = [base[0] * 0.5, base[1] * 0.5, base[2] * 0.5];
  const pattern = o.pattern;
  const stripeP = Math.max(0.42, 5 / R);
  const checkP = Math.max(0.62, 7 / R);
  const dotP = Math.max(0.5, 6 / R);
  const dotR = 0.3 * dotP;
  const inkPx = Math.max(1.5, 0.09 * R);
  // an outlined object's coloured ring; a cartoon's dark contour covers its outer part, so it is
  // that much wider there and the colour still shows
  const strokePx = Math.max(1.6, 0.12 * R) + (style === 'cartoon' ? inkPx : 0);
  const rimPx = Math.max(1, 0.06 * R);
  const pencilHalf = Math.max(0.55, 0.6 * (m / 64));

  const cr = c / R, sr = s / R;
  for (let y = y0; y < y1; y++) {
    const my = -(y + 0.5 - Y);
    for (let x = x0; x < x1; x++) {
      const dx = x + 0.5 - X;
      const u = cr * dx + sr * my;
      const v = cr * my - sr * dx;
      const dpx = sampleField(field, u, v) * R;
      if (!pencil && dpx > 3) {
        // Far outside: the interpolated field changes by at most ~1.41 (2.5 near the field's edge)
        // per pixel, so the next pixels are outside too; skip them (the output is unchanged).
        x += Math.floor((dpx - 0.5) / 2.5);
        continue;
      }
      const pix = y * w + x;
      const p = pix * 3;
      const cov = clamp01(0.5 - dpx);
      if (cov >= 0.5) {
        labels[pix] = label;
        instanceMap[pix] = index + 1;
      }
      // Pattern coordinates, in units, in the object's frame turned by patternAngle.
      const pu = pc * u + ps * v;
      const pv = -ps * u + pc * v;

      if (pencil) {
        // Sketch: the silhouette hides what is below it; graphite along the contour and pattern lines.
        if (cov > 0) {
          d[p] += (paper - d[p]) * cov;
          d[p + 1] += (paper - d[p + 1]) * cov;
          d[p + 2] += (paper - d[p + 2]) * cov;
        }
        const a1 = clamp01(pencilHalf + 0.5 - Math.abs(dpx + pencil.wobble[pix]));
        const a2 = 0.45 * clamp01(pencilHalf * 0.7 + 0.5 - Math.abs(dpx + pencil.wobble2[pix]));
        let ink = a1 + a2 - a1 * a2;
        if (cov > 0 && pattern !== 'solid' && pattern !== 'outlined') {
          let lineD: number; // distance (px) to the nearest pattern line or dot
          if (pattern === 'striped') lineD = Math.abs(bandDistance(pu, stripeP)) * R;
          else if (pattern === 'checkered') lineD = Math.min(Math.abs(bandDistance(pu, checkP)), Math.abs(bandDistance(pv, checkP))) * R;
          else {
            const fu = pu - dotP * Math.round(pu / dotP), fv = pv - dotP * Math.round(pv / dotP);
            lineD = Math.max(0, Math.sqrt(fu * fu + fv * fv) - dotR * 0.8) * R;
          }
          const hatch = 0.6 * cov * clamp01(pencilHalf * 0.8 + 0.5 - lineD);
          ink = ink + hatch - ink * hatch;
        }
        ink *= pencil.pressure[pix];
        if (ink > 0) {
          d[p] += (GRAPHITE - d[p]) * ink;
          d[p + 1] += (GRAPHITE - d[p + 1]) * ink;
          d[p + 2] += (GRAPHITE - d[p + 2]) * ink;
        }
        continue;
      }

      if (cov <= 0) continue;
      let alpha = cov;
      let r = base[0], g = base[1], b = base[2];
      if (pattern === 'striped' || pattern === 'checkered') {
        let t: number;
        if (pattern === 'striped') t = clamp01(0.5 + bandDistance(pu, stripeP) * R);
        else {
          const a = clamp01(0.5 + bandDistance(pu, checkP) * R);
          const bb = clamp01(0.5 + bandDistance(pv, checkP) * R);
          t = a + bb - 2 * a * bb;
        }
        r += (shade[0] - r) * t;
        g += (shade[1] - g) * t;
        b += (shade[2] - b) * t;
      } else if (pattern === 'dotted') {
        const fu = pu - dotP * Math.round(pu / dotP), fv = pv - dotP * Math.round(pv / dotP);
        const dot = clamp01(0.5 - (Math.sqrt(fu * fu + fv * fv) - dotR) * R);
        const rim = clamp01(0.5 + dpx + rimPx);
        alpha *= dot + rim - dot * rim;
      } else if (pattern === 'outlined') {
        alpha *= clamp01(0.5 + dpx + strokePx);
      }
      if (alpha > 0) {
        d[p] += (r - d[p]) * alpha;
        d[p + 1] += (g - d[p + 1]) * alpha;
        d[p + 2] += (b - d[p + 2]) * alpha;
      }
      if (style === 'cartoon') {
        const ink = cov * clamp01(0.5 + dpx + inkPx);
        d[p] += (28 - d[p]) * ink;
        d[p + 1] += (28 - d[p + 1]) * ink;
        d[p + 2] += (28 - d[p + 2]) * ink;
      }
    }
  }
}

/**
 * Draws `objects` in order (later ones on top) on the background in the given style. Returns the
 * image, the label map (labelOf, default shape index + 1), the instance map and per-object info.
 */
export function renderScene(objects: readonly ObjectSpec[], opts: RenderOptions = {}): RenderedScene {
  const [w, h] = frameSize(opts.size);
  const style = opts.style ?? 'clean';
  const strength = opts.styleStrength ?? 1;
  const seed = opts.seed ?? 0;
  const frameKey = opts.frame ?? 0;
  const labelOf = opts.labelOf ?? shapeLabel;
  if (objects.length > 255) throw new Error('world: at most 255 objects per scene');
  const m = Math.min(w, h);
  const canvas: Canvas = { width: w, height: h, data: new Float32Array(w * h * 3) };
  const keys = opts.keys ?? [];
  const bgRng = streamFor(seed, ...keys, 'background');
  const styleRng = streamFor(seed, ...keys, 'style', frameKey);

  let pencil: Pencil | null = null;
  let paper = 0;
  if (style === 'sketch') {
    paper = 236 + bgRng.int(16);
    canvas.data.fill(paper);
    pencil = makePencil(w, h, strength, styleRng);
  } else {
    paintBackground(canvas, opts.background ?? DEFAULT_BACKGROUND, bgRng);
  }

  const labels = new Uint8Array(w * h);
  const instanceMap = new Uint8Array(w * h);
  const ctx: DrawContext = { canvas, labels, instanceMap, style, pencil, paper };
  const labelList: number[] = [];
  objects.forEach((o, i) => {
    const label = labelOf(o, i);
    if (!Number.isInteger(label) || label < 0 || label > 255) throw new Error(`world: label ${label} of object ${i} is not in 0..255`);
    labelList.push(label);
    drawObject(ctx, o, i, label);
  });

  if (style === 'noisy') addNoise(canvas, 16 * strength, styleRng);
  else if (style === 'blurred') gaussianBlur(canvas, 1.2 * strength * (m / 64));
  else if (style === 'pixelated') pixelate(canvas, Math.max(2, Math.round(3 * strength * (m / 64))));
  else if (style === 'sketch') {
    // Paper grain, the same in all three channels so the sketch stays grey.
    const d = canvas.data;
    const grain = 3 * strength;
    for (let i = 0; i < d.length; i += 3) {
      const n = grain * (styleRng.next() * 2 - 1);
      d[i] += n;
      d[i + 1] += n;
      d[i + 2] += n;
    }
  }

  const instances: InstanceInfo[] = objects.map((_, i) => ({ index: i, label: labelList[i], pixels: 0, bbox: null }));
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const k = instanceMap[y * w + x];
    if (k === 0) continue;
    const info = instances[k - 1];
    info.pixels++;
    if (!info.bbox) info.bbox = [x, y, x + 1, y + 1];
    else {
      const b = info.bbox;
      if (x < b[0]) b[0] = x;
      if (y < b[1]) b[1] = y;
      if (x + 1 > b[2]) b[2] = x + 1;
      if (y + 1 > b[3]) b[3] = y + 1;
    }
  }
  return { image: { width: w, height: h, channels: 3, data: quantise(canvas) }, labels, instanceMap, instances };
}
