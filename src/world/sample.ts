// Sampling objects, backgrounds and multi-object scenes from a stream. Every function draws from the
// stream in a fixed order, so the same stream state gives the same result.
import type { BackgroundSpec, ObjectSpec } from './render';
import type { Rng } from '../random';
import { rotatedBox } from './shapes';
import {
  BACKGROUND_KINDS,
  COLORS,
  COLOR_RGB,
  PATTERNS,
  SHAPES,
  breaksSilhouette,
  type BackgroundKind,
  type ColorName,
  type PatternName,
  type RGB,
  type ShapeName,
} from './vocab';

export interface ObjectSampling {
  /** Default: all shapes / colours / patterns. */
  shapes?: readonly ShapeName[];
  colors?: readonly ColorName[];
  patterns?: readonly PatternName[];
  /**
   * Probability that the pattern is a silhouette-breaking one (dotted, outlined), when `patterns` has
   * both kinds; otherwise patterns are uniform. Default: uniform over `patterns`.
   */
  breakingPatternProb?: number;
  /** Object span as a fraction of the frame's shorter side; default [0.5, 0.85]. */
  scaleRange?: [number, number];
  /** Degrees (counter-clockwise positive); default [-30, 30]. */
  rotationRange?: [number, number];
  /** Uniform per-channel jitter of the named colour, in levels; default 12. */
  colorJitter?: number;
  /** Frame width / height, so objects are placed inside non-square frames; default 1. */
  aspect?: number;
  /** Minimum gap between the object and the frame's edge, fraction of the shorter side; default 0.03. */
  margin?: number;
}

function jitter(rgb: RGB, amount: number, rng: Rng): RGB {
  return rgb.map((v) => Math.max(0, Math.min(255, v + rng.intIn(-amount, amount)))) as RGB;
}

function pickPattern(rng: Rng, patterns: readonly PatternName[], pBreak: number | undefined): PatternName {
  const breaking = patterns.filter(breaksSilhouette);
  const whole = patterns.filter((p) => !breaksSilhouette(p));
  if (pBreak === undefined || breaking.length === 0 || whole.length === 0) return rng.pick(patterns);
  return rng.chance(pBreak) ? rng.pick(breaking) : rng.pick(whole);
}

/** The frame in units of its shorter side: [width, height] (one of them is 1). */
function frameUnits(aspect: number): [number, number] {
  return aspect >= 1 ? [aspect, 1] : [1, 1 / aspect];
}

/**
 * Where the centre of an object may go so that it stays inside the frame: [cxLo, cxHi, cyLo, cyHi]
 * as fractions of width/height, or null when it does not fit. `extra` widens the object's box
 * (shorter-side units) on each axis, e.g. for the travel of a video.
 */
export function placementRange(
  o: Pick<ObjectSpec, 'shape' | 'scale' | 'rotation'>,
  aspect: number,
  margin: number,
  extra: [number, number] = [0, 0],
  box: [number, number, number, number] = rotatedBox(o.shape, o.rotation),
): [number, number, number, number] | null {
  const [fw, fh] = frameUnits(aspect);
  const k = o.scale / 2;
  const xLo = margin - box[0] * k + extra[0];
  const xHi = fw - margin - box[1] * k - extra[0];
  const yLo = margin - box[2] * k + extra[1];
  const yHi = fh - margin - box[3] * k - extra[1];
  if (xLo > xHi || yLo > yHi) return null;
  return [xLo / fw, xHi / fw, yLo / fh, yHi / fh];
}

/** Largest scale at which the object's box (plus `extra`) fits the frame. */
export function fitScale(
  box: [number, number, number, number],
  aspect: number,
  margin: number,
  extra: [number, number] = [0, 0],
): number {
  const [fw, fh] = frameUnits(aspect);
  const sx = (fw - 2 * margin - 2 * extra[0]) / ((box[1] - box[0]) / 2);
  const sy = (fh - 2 * margin - 2 * extra[1]) / ((box[3] - box[2]) / 2);
  return Math.max(0.01, Math.min(sx, sy));
}

/**
 * One random object, placed so that it lies inside the frame (its scale is reduced if the rotated
 * object would not fit, e.g. a large square turned by 30 degrees).
 */
export function sampleObject(rng: Rng, opts: ObjectSampling = {}): ObjectSpec {
  const shape = rng.pick(opts.shapes ?? SHAPES);
  const color = rng.pick(opts.colors ?? COLORS);
  const pattern = pickPattern(rng, opts.patterns ?? PATTERNS, opts.breakingPatternProb);
  const [s0, s1] = opts.scaleRange ?? [0.5, 0.85];
  const [r0, r1] = opts.rotationRange ?? [-30, 30];
  let scale = rng.range(s0, s1);
  const rotation = Math.round(rng.range(r0, r1) * 100) / 100;
  const rgb = jitter(COLOR_RGB[color], opts.colorJitter ?? 12, rng);
  const patternAngle = rng.int(180);
  const aspect = opts.aspect ?? 1;
  const margin = opts.margin ?? 0.03;
  const box = rotatedBox(shape, rotation);
  scale = Math.min(scale, fitScale(box, aspect, margin));
  scale = Math.round(scale * 10000) / 10000;
  const range = placementRange({ shape, scale, rotation }, aspect, margin, [0, 0], box) ?? [0.5, 0.5, 0.5, 0.5];
  const cx = rng.range(range[0], range[1]);
  const cy = rng.range(range[2], range[3]);
  return { shape, color, pattern, scale, cx, cy, rotation, rgb, patternAngle };
}

export interface BackgroundSampling {
  /** Default: plain, gradient and texture, equally likely. */
  kinds?: readonly BackgroundKind[];
  /** Probability of a dark background (otherwise light); default 0.25. */
  darkProb?: number;
  /** Colours the background must stay away from (e.g. the objects' colours). */
  avoid?: readonly RGB[];
  /** Minimum Euclidean RGB distance from every `avoid` colour; default 90. */
  minDistance?: number;
}

function distance(a: RGB, b: RGB): number {
  return Math.sqrt((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2);
}

function tone(rng: Rng, dark: boolean): RGB {
  const l = dark ? rng.intIn(25, 70) : rng.intIn(175, 240);
  const t = dark ? 10 : 14;
  return [l + rng.intIn(-t, t), l + rng.intIn(-t, t), l + rng.intIn(-t, t)].map((v) => Math.max(0, Math.min(255, v))) as RGB;
}

/** A random background: light or dark near-neutral tones, low contrast, away from `avoid` colours. */
export function sampleBackground(rng: Rng, opts: BackgroundSampling = {}): BackgroundSpec {
  const kinds = opts.kinds ?? BACKGROUND_KINDS;
  const avoid = opts.avoid ?? [];
  const minD = opts.minDistance ?? 90;
  const kind = rng.pick(kinds);
  const dark = rng.chance(opts.darkProb ?? 0.25);
  let a: RGB = [0, 0, 0];
  let b: RGB = [0, 0, 0];
  for (let attempt = 0; attempt < 20; attempt++) {
    a = tone(rng, dark);
    b = tone(rng, dark);
    if (avoid.every((c) => distance(c, a) >= minD && distance(c, b) >= minD)) break;
  }
  if (kind === 'plain') return { kind, rgb: a };
  if (kind === 'gradient') return { kind, from: a, to: b, angle: rng.int(360) };
  return { kind, rgb: a, contrast: rng.intIn(8, 22) };
}

export interface SceneSampling extends ObjectSampling {
  /** Number of objects, or a [min, max] range; default [2, 4]. Scale range default [0.22, 0.4]. */
  count?: number | [number, number];
  /** Allow objects to overlap (drawn in order, later on top); default false. */
  overlap?: boolean;
  /** Minimum gap between non-overlapping objects' boxes, fraction of the shorter side; default 0.02. */
  gap?: number;
}

/**
 * Several objects in one frame. Without `overlap`, their rotated bounding boxes do not touch; if an
 * object cannot be placed after many tries its scale range shrinks, and as a last resort it is placed
 * anyway (so `count` is always honoured).
 */
export function sampleScene(rng: Rng, opts: SceneSampling = {}): ObjectSpec[] {
  const count = typeof opts.count === 'number' ? opts.count : rng.intIn(...(opts.count ?? [2, 4]));
  const aspect = opts.aspect ?? 1;
  const [fw, fh] = frameUnits(aspect);
  const gap = opts.gap ?? 0.02;
  let scaleRange: [number, number] = opts.scaleRange ?? [0.22, 0.4];
  const out: ObjectSpec[] = [];
  const boxes: [number, number, number, number][] = [];
  for (let i = 0; i < count; i++) {
    let placed: ObjectSpec | null = null;
    let placedBox: [number, number, number, number] = [0, 0, 0, 0];
    for (let attempt = 0; attempt < 60 && !placed; attempt++) {
      if (attempt > 0 && attempt % 15 === 0) scaleRange = [scaleRange[0] * 0.85, scaleRange[1] * 0.85];
      const o = sampleObject(rng, { ...opts, scaleRange, aspect });
      const rb = rotatedBox(o.shape, o.rotation);
      const k = o.scale / 2;
      const bx: [number, number, number, number] = [o.cx * fw + rb[0] * k, o.cx * fw + rb[1] * k, o.cy * fh + rb[2] * k, o.cy * fh + rb[3] * k];
      const clear = opts.overlap || boxes.every((b) => bx[1] + gap <= b[0] || b[1] + gap <= bx[0] || bx[3] + gap <= b[2] || b[3] + gap <= bx[2]);
      if (clear || attempt === 59) {
        placed = o;
        placedBox = bx;
      }
    }
    out.push(placed as ObjectSpec);
    boxes.push(placedBox);
  }
  return out;
}
