// Shape geometry: each shape is a set of polygon rings (even-odd fill) in a unit frame (x right, y up),
// normalised so that its unrotated bounding box is centred on the origin and its longer side spans
// 2 units (so an object of scale s spans s of the frame's shorter side). For rendering, each shape's
// signed distance field (negative inside, in units) is precomputed once on a fine grid and sampled
// bilinearly: the distance in pixels gives analytic anti-aliasing, outlines and sketch strokes.
import { q30 } from '../random';
import type { ShapeName } from './vocab';

type Pt = [number, number];
type Ring = Pt[];

/** Half-width of the square the distance field covers, in units (room for strokes outside the shape). */
const FIELD_HALF = 1.3;
/** Grid points per side of the distance field. */
const FIELD_N = 193;
const CELL = (2 * FIELD_HALF) / (FIELD_N - 1);

/** Rounds coordinates to 2^-20 so geometry is exact and identical everywhere. */
function q20(x: number): number {
  return Math.round(x * 1048576) / 1048576;
}

function arc(cx: number, cy: number, r: number, fromDeg: number, toDeg: number, n: number): Ring {
  const out: Ring = [];
  for (let i = 0; i < n; i++) {
    const a = ((fromDeg + ((toDeg - fromDeg) * i) / n) * Math.PI) / 180;
    out.push([cx + r * q30(Math.cos(a)), cy + r * q30(Math.sin(a))]);
  }
  return out;
}

function regularStar(points: number, inner: number): Ring {
  const out: Ring = [];
  for (let i = 0; i < 2 * points; i++) {
    const a = ((90 + (180 * i) / points) * Math.PI) / 180;
    const r = i % 2 === 0 ? 1 : inner;
    out.push([r * q30(Math.cos(a)), r * q30(Math.sin(a))]);
  }
  return out;
}

function heart(n: number): Ring {
  // The classic heart curve x = 16 sin^3 t, y = 13 cos t - 5 cos 2t - 2 cos 3t - cos 4t.
  const out: Ring = [];
  for (let i = 0; i < n; i++) {
    const t = (2 * Math.PI * i) / n;
    const s = q30(Math.sin(t));
    const c = (k: number) => q30(Math.cos(k * t));
    out.push([16 * s * s * s, 13 * c(1) - 5 * c(2) - 2 * c(3) - c(4)]);
  }
  return out;
}

function crescent(): Ring {
  // Outer circle r=1 at the origin minus a circle r=0.82 at (0.5, 0): opens to the right.
  const r2 = 0.82;
  const d = 0.5;
  const hx = (1 - r2 * r2 + d * d) / (2 * d);
  const hy = Math.sqrt(1 - hx * hx);
  const outerFrom = (Math.atan2(hy, hx) * 180) / Math.PI;
  const innerFrom = (Math.atan2(-hy, hx - d) * 180) / Math.PI + 360;
  const outer = arc(0, 0, 1, q20(outerFrom), q20(360 - outerFrom), 64);
  outer.push([hx, -hy]);
  const inner = arc(d, 0, r2, q20(innerFrom), q20(360 - innerFrom), 48);
  inner.push([hx, hy]);
  return outer.concat(inner);
}

function rawShape(name: ShapeName): Ring[] {
  switch (name) {
    case 'circle':
      return [arc(0, 0, 1, 0, 360, 96)];
    case 'square':
      return [[[-1, -1], [1, -1], [1, 1], [-1, 1]]];
    case 'triangle':
      return [[[-1, -0.866], [1, -0.866], [0, 0.866]]];
    case 'star':
      return [regularStar(5, 0.45)];
    case 'heart':
      return [heart(96)];
    case 'cross': {
      const w = 0.32;
      return [[[-w, -1], [w, -1], [w, -w], [1, -w], [1, w], [w, w], [w, 1], [-w, 1], [-w, w], [-1, w], [-1, -w], [-w, -w]]];
    }
    case 'arrow':
      return [[[-1, -0.28], [0.1, -0.28], [0.1, -0.8], [1, 0], [0.1, 0.8], [0.1, 0.28], [-1, 0.28]]];
    case 'crescent':
      return [crescent()];
    case 'diamond':
      return [[[0, 1], [0.62, 0], [0, -1], [-0.62, 0]]];
    case 'lightning':
      return [[[0.35, 1], [-0.15, 1], [-0.5, -0.1], [-0.02, -0.1], [-0.3, -1], [0.5, 0.25], [0.05, 0.25]]];
  }
}

/** Centres the bounding box on the origin and scales its longer side to 2; rounds to 2^-20. */
function normalise(rings: Ring[]): Ring[] {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const r of rings) for (const [x, y] of r) {
    x0 = Math.min(x0, x); x1 = Math.max(x1, x);
    y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const k = 2 / Math.max(x1 - x0, y1 - y0);
  return rings.map((r) => r.map(([x, y]) => [q20((x - cx) * k), q20((y - cy) * k)] as Pt));
}

/** A shape ready to render: its rings, vertices and signed distance field. */
export interface ShapeGeometry {
  name: ShapeName;
  rings: Ring[];
  /** Signed distance in units (negative inside), FIELD_N x FIELD_N over [-FIELD_HALF, FIELD_HALF]^2, row 0 at y = -FIELD_HALF. */
  field: Float32Array;
  /** Area in square units (the unit frame is 2 x 2 at most). */
  area: number;
}

function insideEvenOdd(rings: Ring[], x: number, y: number): boolean {
  let inside = false;
  for (const r of rings) {
    for (let i = 0, j = r.length - 1; i < r.length; j = i++) {
      const yi = r[i][1], yj = r[j][1];
      if (yi > y !== yj > y) {
        const xc = r[j][0] + ((y - yj) * (r[i][0] - r[j][0])) / (yi - yj);
        if (x < xc) inside = !inside;
      }
    }
  }
  return inside;
}

function buildField(rings: Ring[]): { field: Float32Array; area: number } {
  const field = new Float32Array(FIELD_N * FIELD_N);
  // Segments as flat arrays: ax, ay, ex, ey (edge vector), 1/|e|^2.
  const seg: number[] = [];
  for (const r of rings) {
    for (let i = 0; i < r.length; i++) {
      const a = r[i];
      const b = r[(i + 1) % r.length];
      const ex = b[0] - a[0], ey = b[1] - a[1];
      seg.push(a[0], a[1], ex, ey, 1 / (ex * ex + ey * ey));
    }
  }
  let insideCount = 0;
  for (let gy = 0; gy < FIELD_N; gy++) {
    const y = -FIELD_HALF + gy * CELL;
    for (let gx = 0; gx < FIELD_N; gx++) {
      const x = -FIELD_HALF + gx * CELL;
      let best = Infinity;
      for (let s = 0; s < seg.length; s += 5) {
        const px = x - seg[s], py = y - seg[s + 1];
        let t = (px * seg[s + 2] + py * seg[s + 3]) * seg[s + 4];
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        const dx = px - t * seg[s + 2], dy = py - t * seg[s + 3];
        const d2 = dx * dx + dy * dy;
        if (d2 < best) best = d2;
      }
      const inside = insideEvenOdd(rings, x, y);
      if (inside) insideCount++;
      field[gy * FIELD_N + gx] = inside ? -Math.sqrt(best) : Math.sqrt(best);
    }
  }
  return { field, area: insideCount * CELL * CELL };
}

const cache = new Map<ShapeName, ShapeGeometry>();

/** The geometry of a shape (built on first use, then cached). */
export function shapeGeometry(name: ShapeName): ShapeGeometry {
  let g = cache.get(name);
  if (!g) {
    const rings = normalise(rawShape(name));
    const { field, area } = buildField(rings);
    g = { name, rings, field, area };
    cache.set(name, g);
  }
  return g;
}

/** Signed distance (units, negative inside) at (u, v) in the shape's unit frame, bilinear on the grid;
 *  outside the grid, the distance to the grid's edge is added (a lower bound, positive). */
export function sampleField(field: Float32Array, u: number, v: number): number {
  let extra = 0;
  if (u < -FIELD_HALF || u > FIELD_HALF || v < -FIELD_HALF || v > FIELD_HALF) {
    const cu = u < -FIELD_HALF ? -FIELD_HALF : u > FIELD_HALF ? FIELD_HALF : u;
    const cv = v < -FIELD_HALF ? -FIELD_HALF : v > FIELD_HALF ? FIELD_HALF : v;
    extra = Math.sqrt((u - cu) * (u - cu) + (v - cv) * (v - cv));
    u = cu;
    v = cv;
  }
  let fx = (u + FIELD_HALF) / CELL;
  let fy = (v + FIELD_HALF) / CELL;
  if (fx > FIELD_N - 1.000001) fx = FIELD_N - 1.000001;
  if (fy > FIELD_N - 1.000001) fy = FIELD_N - 1.000001;
  const ix = Math.floor(fx), iy = Math.floor(fy);
  const tx = fx - ix, ty = fy - iy;
  const i = iy * FIELD_N + ix;
  const a = field[i] + (field[i + 1] - field[i]) * tx;
  const b = field[i + FIELD_N] + (field[i + FIELD_N + 1] - field[i + FIELD_N]) * tx;
  return a + (b - a) * ty + extra;
}

/** Cosine and sine of an angle in degrees, rounded (q30) so they are the same on every engine. */
export function cosSinDeg(deg: number): [number, number] {
  const a = (deg * Math.PI) / 180;
  return [q30(Math.cos(a)), q30(Math.sin(a))];
}

/**
 * The bounding box of the shape rotated by `rotation` degrees (counter-clockwise on screen), in units,
 * in image orientation (y down): [minX, maxX, minY, maxY].
 */
export function rotatedBox(name: ShapeName, rotation: number): [number, number, number, number] {
  const [c, s] = cosSinDeg(rotation);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const r of shapeGeometry(name).rings) for (const [x, y] of r) {
    const rx = c * x - s * y;
    const ry = -(s * x + c * y);
    if (rx < x0) x0 = rx;
    if (rx > x1) x1 = rx;
    if (ry < y0) y0 = ry;
    if (ry > y1) y1 = ry;
  }
  return [x0, x1, y0, y1];
}

/** The largest distance of any vertex from the frame's origin (units): the shape's bounding circle. */
export function boundingRadius(name: ShapeName): number {
  let m = 0;
  for (const r of shapeGeometry(name).rings) for (const [x, y] of r) m = Math.max(m, Math.sqrt(x * x + y * y));
  return m;
}
