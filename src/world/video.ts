// Videos: one object moving on a background, whose class lies only in the temporal order.
//
// A spec's object is the state in the middle of the clip; the clip runs symmetrically around it. For
// the paired classes the frames of one are the frames of the other in reverse order, byte for byte
// (move-left = move-right reversed, move-up = move-down, shrink = grow, rotate-cw = rotate-ccw: the
// per-frame noise is keyed by the position along the path, not by the frame index), so no single
// frame can tell the two apart; and sampleVideo spreads the middle state over the frame so that
// positions and sizes do not tell the axis either.
import { describeCaption, fixArticles, nounPhrase, type CaptionOptions, type Mention } from './caption';
import { renderScene, type BackgroundSpec, type ObjectSpec, type WorldImage } from './render';
import { q30, type Rng, type StreamKey } from '../random';
import { boundingRadius, rotatedBox } from './shapes';
import { fitScale, placementRange, sampleBackground, sampleObject, type ObjectSampling } from './sample';
import { COLORS, COLOR_RGB, MOTIONS, MOTION_PHRASES, STYLES, type ColorName, type MotionName, type RGB, type StyleName } from './vocab';

export interface VideoSpec {
  /** The object in the middle of the clip. */
  object: ObjectSpec;
  motion: MotionName;
  /** Number of frames (8-16 in the benchmarks; any >= 2 works). */
  frames: number;
  /** Default 64. */
  size?: number | [number, number];
  style?: StyleName;
  styleStrength?: number;
  background?: BackgroundSpec;
  seed?: number;
  /** Extra stream keys for the render (see RenderOptions.keys). */
  keys?: StreamKey[];
  /**
   * How much happens: travel as a fraction of the frame's shorter side (moves, bounce height),
   * final/initial scale ratio (grow, shrink), degrees turned (rotations). Defaults: 0.4, 2, 120, 0.35.
   */
  amount?: number;
  /** change-color: the colour at the end (named) and its instance RGB (default the named RGB). */
  toColor?: ColorName;
  toRgb?: RGB;
}

const DEFAULT_AMOUNT: Record<MotionName, number> = {
  'move-left': 0.4,
  'move-right': 0.4,
  'move-up': 0.4,
  'move-down': 0.4,
  grow: 2,
  shrink: 2,
  'rotate-cw': 120,
  'rotate-ccw': 120,
  bounce: 0.35,
  'change-color': 0,
};

/** The motion whose frames, reversed, give this one (the canonical direction is drawn). */
export const REVERSED_OF: Partial<Record<MotionName, MotionName>> = {
  'move-left': 'move-right',
  'move-up': 'move-down',
  shrink: 'grow',
  'rotate-cw': 'rotate-ccw',
};

function frameDims(size: VideoSpec['size']): [number, number] {
  const s = size ?? 64;
  return typeof s === 'number' ? [s, s] : s;
}

/** The object's state along the canonical direction (move-right, move-down, grow, rotate-ccw). */
function canonicalStates(spec: VideoSpec): ObjectSpec[] {
  const n = spec.frames;
  if (!Number.isInteger(n) || n < 2) throw new Error(`world: a video needs at least 2 frames, got ${n}`);
  const canonical = REVERSED_OF[spec.motion] ?? spec.motion;
  const amount = spec.amount ?? DEFAULT_AMOUNT[spec.motion];
  const [w, h] = frameDims(spec.size);
  const m = Math.min(w, h);
  const o = spec.object;
  const from: RGB = o.rgb ?? COLOR_RGB[o.color];
  const to: RGB = spec.toRgb ?? (spec.toColor ? COLOR_RGB[spec.toColor] : from);
  const states: ObjectSpec[] = [];
  for (let t = 0; t < n; t++) {
    const f = t / (n - 1);
    const g = f - 0.5;
    const s: ObjectSpec = { ...o };
    switch (canonical) {
      case 'move-right':
        s.cx = o.cx + (g * amount * m) / w;
        break;
      case 'move-down':
        s.cy = o.cy + (g * amount * m) / h;
        break;
      case 'grow':
        s.scale = o.scale * q30(Math.pow(amount, g));
        break;
      case 'rotate-ccw':
        s.rotation = o.rotation + g * amount;
        break;
      case 'bounce':
        s.cy = o.cy + ((amount * m) / h) * (0.5 - Math.abs(q30(Math.sin(2 * Math.PI * f))));
        break;
      case 'change-color': {
        let k = (f - 0.25) / 0.5;
        k = k < 0 ? 0 : k > 1 ? 1 : k;
        k = k * k * (3 - 2 * k);
        s.rgb = from.map((v, i) => Math.round(v + (to[i] - v) * k)) as RGB;
        break;
      }
      default:
        throw new Error(`world: unknown motion ${spec.motion}`);
    }
    states.push(s);
  }
  return states;
}

/** The object's state in each frame, in playing order. */
export function videoStates(spec: VideoSpec): ObjectSpec[] {
  const states = canonicalStates(spec);
  return REVERSED_OF[spec.motion] ? states.reverse() : states;
}

/** Renders the clip: one RGB image per frame. The background is the same in every frame. */
export function renderVideo(spec: VideoSpec): WorldImage[] {
  const states = canonicalStates(spec);
  const frames = states.map(
    (s, t) =>
      renderScene([s], {
        size: spec.size ?? 64,
        style: spec.style,
        styleStrength: spec.styleStrength,
        background: spec.background,
        seed: spec.seed,
        keys: spec.keys,
        frame: t,
      }).image,
  );
  return REVERSED_OF[spec.motion] ? frames.reverse() : frames;
}

export interface VideoSampling extends ObjectSampling {
  /** The motion; default uniform over `motions` (default all). */
  motion?: MotionName;
  motions?: readonly MotionName[];
  /** Frames, or a [min, max] range; default 12. */
  frames?: number | [number, number];
  size?: number | [number, number];
  /** Default uniform over all styles. */
  styles?: readonly StyleName[];
  /** Default [0.28, 0.42] (the object must have room to move). */
  scaleRange?: [number, number];
}

const AMOUNT_RANGE: Record<MotionName, [number, number]> = {
  'move-left': [0.3, 0.45],
  'move-right': [0.3, 0.45],
  'move-up': [0.3, 0.45],
  'move-down': [0.3, 0.45],
  grow: [1.6, 2.2],
  shrink: [1.6, 2.2],
  'rotate-cw': [90, 150],
  'rotate-ccw': [90, 150],
  bounce: [0.25, 0.4],
  'change-color': [0, 0],
};

/**
 * A random video spec: the middle state is placed so that the whole clip stays inside the frame.
 * Rotations never use a rotation-invariant render (a circle gets a striped, checkered or dotted
 * pattern). The same draws happen for paired motions, so e.g. a move-left and a move-right spec from
 * equal streams differ only in the motion.
 */
export function sampleVideo(rng: Rng, opts: VideoSampling = {}): VideoSpec {
  const motion = opts.motion ?? rng.pick(opts.motions ?? MOTIONS);
  const frames = typeof opts.frames === 'number' ? opts.frames : opts.frames ? rng.intIn(opts.frames[0], opts.frames[1]) : 12;
  const size = opts.size ?? 64;
  const [w, h] = frameDims(size);
  const aspect = w / h;
  const margin = opts.margin ?? 0.03;
  const [a0, a1] = AMOUNT_RANGE[motion];
  const amount = Math.round(rng.range(a0, a1) * 1000) / 1000;
  const object = sampleObject(rng, { ...opts, scaleRange: opts.scaleRange ?? [0.28, 0.42], aspect, margin });
  if ((motion === 'rotate-cw' || motion === 'rotate-ccw') && object.shape === 'circle' && (object.pattern === 'solid' || object.pattern === 'outlined')) {
    object.pattern = rng.pick(['striped', 'checkered', 'dotted'] as const);
  }
  let toColor: ColorName | undefined;
  let toRgb: RGB | undefined;
  if (motion === 'change-color') {
    toColor = rng.pick((opts.colors ?? COLORS).filter((c) => c !== object.color));
    toRgb = COLOR_RGB[toColor].map((v) => Math.max(0, Math.min(255, v + rng.intIn(-10, 10)))) as RGB;
  }
  // Room the clip needs around the middle state, in shorter-side units, and the box to keep inside.
  let extra: [number, number] = [0, 0];
  let box = rotatedBox(object.shape, object.rotation);
  if (motion === 'move-left' || motion === 'move-right') extra = [amount / 2, 0];
  else if (motion === 'move-up' || motion === 'move-down' || motion === 'bounce') extra = [0, amount / 2];
  else if (motion === 'grow' || motion === 'shrink') box = box.map((v) => v * Math.sqrt(amount)) as typeof box;
  else if (motion === 'rotate-cw' || motion === 'rotate-ccw') {
    const r = boundingRadius(object.shape);
    box = [-r, r, -r, r];
  }
  object.scale = Math.round(Math.min(object.scale, fitScale(box, aspect, margin, extra)) * 10000) / 10000;
  const range = placementRange(object, aspect, margin, extra, box) ?? [0.5, 0.5, 0.5, 0.5];
  object.cx = rng.range(range[0], range[1]);
  object.cy = rng.range(range[2], range[3]);
  const style = rng.pick(opts.styles ?? STYLES);
  const background = sampleBackground(rng, { avoid: [object.rgb as RGB, ...(toRgb ? [toRgb] : [])] });
  return { object, motion, frames, size, style, background, amount, toColor, toRgb, seed: rng.uint32() };
}

const VIDEO_TEMPLATES = ['a video of {}', 'a clip of {}', 'a short video of {}', '{}', 'an animation of {}', 'footage of {}'];

/**
 * A caption for a video: "a video of a red star moving left". Colour and pattern are mentioned as in
 * `describeCaption` (never for sketches); change-color videos name both colours or neither.
 */
export function videoCaption(spec: VideoSpec, rng: Rng, opts: CaptionOptions = {}): string {
  const style = spec.style ?? 'clean';
  // Reuse the still-image choices for the object (first frame's attributes but the middle state's scale).
  const still = describeCaption([spec.object], style, rng, { pShape: 1, ...opts, pPosition: 0, pStyle: 0, pPeriod: 0 });
  const m: Mention = { ...still.mentions[0] };
  if (spec.motion === 'grow' || spec.motion === 'shrink') delete m.size;
  let fromTo = '';
  if (spec.motion === 'change-color') {
    delete m.color;
    if (style !== 'sketch' && spec.toColor && rng.chance(0.5)) fromTo = ` from ${spec.object.color} to ${spec.toColor}`;
  }
  const phrase = `${nounPhrase(m, m.shape !== undefined, rng)} ${MOTION_PHRASES[spec.motion]}${fromTo}`;
  let text = fixArticles(rng.pick(VIDEO_TEMPLATES).replace('{}', phrase));
  if (rng.chance(opts.pPeriod ?? 0.3)) text += '.';
  return text;
}
