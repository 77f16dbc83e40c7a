// The figures of DenseCLIP on world-scenes (src/repro/dense.ts runDenseWalkthrough): per scene, the
// image, its ground truth and the pixel-text score map of each class in it (hand-crafted prompts,
// DenseCLIP before and after training); each method's predictions beside the ground truth; and the
// training losses. Images and label maps travel as PNG data URIs; score maps as heatmaps on the
// image's pixel grid (block-averaged to 32 x 32 cells: the map itself is 8 x 8, upsampled).
import type { DenseMethod, DenseWalkthrough, DenseWalkthroughScene } from '../repro/dense';
import { LEGEND_BELOW, METHOD_STYLE, methodLabel } from './figures';
import { fitTitle } from './labels';
import type { NamedFigure, PlotlyFigure } from './plotly';
import type { RawImage } from '../clip/image';
import { contactSheet } from '../world/sheet';
import { encodePng, pngDataUri } from './png';

const FONT = { family: 'Helvetica, Arial, sans-serif', size: 12 };
const METHODS: readonly DenseMethod[] = ['baseline', 'fixed-prompts', 'denseclip'];
/** Column titles (METHOD_STYLE's labels are too long for a 200 px panel). */
const SHORT: Record<DenseMethod, string> = { baseline: 'FPN, no language', 'fixed-prompts': 'hand-crafted prompts', denseclip: 'DenseCLIP' };

/** A colour per class: background dark grey, then the ten shapes (plotly's D3 / tab10 colours). */
export const LABEL_PALETTE: readonly [number, number, number][] = [
  [40, 40, 40],
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
  [140, 86, 75], [227, 119, 194], [188, 189, 34], [23, 190, 207], [174, 199, 232],
];

function classColor(c: number): [number, number, number] {
  return LABEL_PALETTE[c % LABEL_PALETTE.length];
}

/** A label map [H * W] as an RGB PNG data URI, each class in its LABEL_PALETTE colour. */
export function labelMapDataUri(labels: ArrayLike<number>, width: number, height: number): string {
  const rgb = labelMapImage(labels, width, height);
  return pngDataUri(width, height, 3, rgb.data);
}

/** A label map [H * W] as an RGB image, each class in its LABEL_PALETTE colour. */
export function labelMapImage(labels: ArrayLike<number>, width: number, height: number): RawImage & { channels: 3 } {
  if (labels.length !== width * height) throw new Error(`labelMapImage: ${labels.length} labels for ${width} x ${height} pixels`);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(classColor(labels[i]), 3 * i);
  return { width, height, channels: 3, data };
}

/**
 * Scenes as one PNG, a row each: the image, then its label map (LABEL_PALETTE's colours); `side`
 * shrinks square scenes larger than it by whole factors (image: block means, labels: block centres).
 */
export function scenesSheetPng(scenes: readonly { image: RawImage; labels: ArrayLike<number> }[], opts: { side?: number } = {}): Buffer {
  const tiles = scenes.flatMap((s, i) => {
    if (s.image.channels !== 3) throw new Error(`scenesSheetPng: scene ${i} has ${s.image.channels} channels, expected RGB (3)`);
    const f = opts.side === undefined ? 1 : Math.max(1, Math.ceil(s.image.width / opts.side));
    const image = shrinkImage(s.image as RawImage & { channels: 3 }, f);
    return [image, labelMapImage(shrinkLabels(s.labels, s.image.width, f), image.width, image.height)];
  });
  const sheet = contactSheet(tiles, 2, 1, 4);
  return encodePng(sheet.width, sheet.height, 3, sheet.data);
}

/** Class `k`'s map out of [K * H * W] (class-major), averaged over f x f blocks: [H/f][W/f] rows for a heatmap. */
export function blockAverage(maps: Float32Array, k: number, size: number, f: number): number[][] {
  const n = Math.floor(size / f);
  const base = k * size * size;
  return Array.from({ length: n }, (_, by) => Array.from({ length: n }, (__, bx) => {
    let s = 0;
    for (let y = by * f; y < (by + 1) * f; y++) for (let x = bx * f; x < (bx + 1) * f; x++) s += maps[base + y * size + x];
    return s / (f * f);
  }));
}

const axisId = (i: number) => (i === 0 ? '' : String(i + 1));

/** Layout of a grid of image panels: every axis hidden, y reversed, pixel-square. */
function imageGrid(rows: number, cols: number, size: number, layout: Record<string, unknown>): void {
  layout.grid = { rows, columns: cols, pattern: 'independent', xgap: 0.03, ygap: 0.06 };
  for (let i = 0; i < rows * cols; i++) {
    const ax = axisId(i);
    layout[`xaxis${ax}`] = { visible: false, range: [-0.5, size - 0.5], constrain: 'domain' };
    layout[`yaxis${ax}`] = { visible: false, range: [size - 0.5, -0.5], scaleanchor: `x${ax}`, constrain: 'domain' };
  }
}

/** An image panel; `f` > 1: the source has one pixel per f x f of the panel's pixel grid. */
function imageTrace(source: string, i: number, name: string, f = 1): Record<string, unknown> {
  const pixel = f > 1 ? { x0: (f - 1) / 2, y0: (f - 1) / 2, dx: f, dy: f } : {};
  return { type: 'image', source, ...pixel, xaxis: `x${axisId(i)}`, yaxis: `y${axisId(i)}`, hoverinfo: 'skip', name };
}

/**
 * Images go into the figures at most DISPLAY_SIDE pixels wide: a panel is drawn about 150 px wide,
 * and a 256 px scene's PNG data URI, repeated in every panel, made a notebook of megabytes.
 */
const DISPLAY_SIDE = 128;

/** The reduction factor for a side of `size` pixels. */
const displayFactor = (size: number) => Math.max(1, Math.ceil(size / DISPLAY_SIDE));

/** An image averaged over f x f blocks (f = 1: itself). */
function shrinkImage<T extends RawImage>(im: T, f: number): T {
  if (f === 1) return im;
  const w = Math.floor(im.width / f);
  const h = Math.floor(im.height / f);
  const c = im.channels;
  const out = new Uint8Array(w * h * c);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) {
    let sum = 0;
    for (let dy = 0; dy < f; dy++) for (let dx = 0; dx < f; dx++) sum += im.data[((y * f + dy) * im.width + x * f + dx) * c + k];
    out[(y * w + x) * c + k] = Math.round(sum / (f * f));
  }
  return { ...im, width: w, height: h, data: out };
}

/** A label map [size * size] with each f x f block taken by the label at its centre: [(size / f)^2]. */
function shrinkLabels(labels: ArrayLike<number>, size: number, f: number): ArrayLike<number> {
  if (f === 1) return labels;
  const n = Math.floor(size / f);
  const c = Math.floor(f / 2);
  const out = new Uint8Array(n * n);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) out[y * n + x] = labels[(y * f + c) * size + x * f + c];
  return out;
}

/** An RGB image as a PNG data URI, averaged over f x f blocks. */
function imageDataUri(im: RawImage, f: number): string {
  const small = shrinkImage(im, f);
  return pngDataUri(small.width, small.height, small.channels, small.data);
}

/** A label map [size * size] as a PNG data URI, each f x f block by the label at its centre. */
function labelsDataUri(labels: ArrayLike<number>, size: number, f: number): string {
  const n = Math.floor(size / f);
  return labelMapDataUri(shrinkLabels(labels, size, f), n, n);
}

export type ScoreMapRow = 'fixed' | 'before' | 'after';

const ROW_LABEL: Record<ScoreMapRow, string> = {
  fixed: 'hand-crafted prompts<br>("a photo of a {}.")',
  before: 'DenseCLIP<br>before training',
  after: 'DenseCLIP<br>after training',
};

/**
 * One scene: the image and its ground truth, then a row per score map kind (default: hand-crafted
 * prompts, DenseCLIP before and after training) with the pixel-text cosine of every class present in
 * the scene (background first). One colour scale per class, shared down its column (so a class's
 * map compares across rows; classes sit at different cosine levels, so one scale for all would
 * flatten every map but the highest).
 */
export function scoreMapsFigure(w: DenseWalkthrough, scene: number | DenseWalkthroughScene, opts: { rows?: readonly ScoreMapRow[]; model?: string } = {}): NamedFigure {
  const s = typeof scene === 'number' ? w.scenes[scene] : scene;
  if (!s) throw new Error(`scoreMapsFigure: no scene ${String(scene)} (the walkthrough has ${w.scenes.length})`);
  const rows = opts.rows ?? ['fixed', 'before', 'after'];
  const size = w.imageSize;
  // heatmap cells of 8 px (32 x 32 at 256 px; the map itself is 8 x 8, bilinearly upsampled), cosines to 3 decimals
  const f = Math.max(1, Math.floor(size / 32));
  const g = displayFactor(size);
  const cols = 2 + s.present.length;
  const data: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    title: {
      text: `Pixel-text score maps of world-scenes test scene ${s.index}: each class present, cosine of the ${w.scoreGrid} x ${w.scoreGrid} map upsampled to ${size} px<br><sup>seed ${w.seed}, ${w.iterations} training iterations, ${w.quick ? 'quick run' : 'full run'}; ${opts.model ?? 'MiniCLIP'}</sup>`,
      font: { size: 15 },
    },
    font: FONT,
    margin: { t: 100, b: 70, l: 190, r: 30 },
    plot_bgcolor: '#ffffff',
  };
  imageGrid(rows.length, cols, size, layout);
  const annotations: Record<string, unknown>[] = [];
  const image = imageDataUri(s.image, g);
  const truth = labelsDataUri(s.labels, size, g);
  const grids = rows.map((row) => {
    const maps = s.scoreMaps[row];
    if (maps.length !== w.classNames.length * size * size) throw new Error(`scoreMapsFigure: scene ${s.index} has no '${row}' score maps`);
    return s.present.map((k) => blockAverage(maps, k, size, f).map((row) => row.map((v) => Math.round(v * 1e3) / 1e3)));
  });
  // a colour scale per class column, under it
  s.present.forEach((_, j) => {
    const values = grids.flatMap((g) => g[j].flat());
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    layout[`coloraxis${j === 0 ? '' : j + 1}`] = {
      colorscale: 'Viridis', cmin: lo, cmax: hi > lo ? hi : lo + 1e-6,
      colorbar: { orientation: 'h', x: (2 + j + 0.5) / cols, xanchor: 'center', len: 0.85 / cols, y: -0.02, yanchor: 'top', thickness: 10, tickformat: '.2f', nticks: 4, title: { text: 'cosine', side: 'bottom' } },
    };
  });
  rows.forEach((row, r) => {
    const at = (c: number) => r * cols + c;
    // the image and its ground truth once, in the first row: the rows below are the same scene
    if (r === 0) data.push(imageTrace(image, at(0), 'image', g), imageTrace(truth, at(1), 'ground truth', g));
    s.present.forEach((k, j) => {
      data.push({
        type: 'heatmap', z: grids[r][j], x0: (f - 1) / 2, dx: f, y0: (f - 1) / 2, dy: f,
        coloraxis: `coloraxis${j === 0 ? '' : j + 1}`, xaxis: `x${axisId(at(2 + j))}`, yaxis: `y${axisId(at(2 + j))}`,
        hovertemplate: `${w.classNames[k]}: %{z:.3f}<extra></extra>`,
      });
    });
    // beside the row's first map: the image panels are drawn in the first row only
    annotations.push({ text: `<b>${ROW_LABEL[row]}</b>`, xref: 'paper', yref: `y${axisId(at(2))} domain`, x: -0.01, xanchor: 'right', y: 0.5, showarrow: false, align: 'right' });
  });
  const titles = ['image', 'ground truth', ...s.present.map((k) => `"${w.classNames[k]}"`)];
  titles.forEach((t, c) => annotations.push({ text: `<b>${t}</b>`, xref: `x${axisId(c)} domain`, yref: `y${axisId(c)} domain`, x: 0.5, y: 1.02, yanchor: 'bottom', showarrow: false }));
  layout.annotations = annotations;
  return fitTitle({ name: `dense-score-maps-${s.index}`, figure: { data, layout } as PlotlyFigure, width: 190 + 190 * cols, height: 170 + 200 * rows.length });
}

/** Every walkthrough scene in a row: image, ground truth, then each method's prediction; the classes' colours in the legend. */
export function densePredictionsFigure(w: DenseWalkthrough, model = 'MiniCLIP'): NamedFigure {
  const size = w.imageSize;
  const cols = 2 + METHODS.length;
  const rows = w.scenes.length;
  const data: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    title: { text: `What each method predicts on world-scenes test scenes<br><sup>seed ${w.seed}, ${w.iterations} training iterations, ${w.quick ? 'quick run' : 'full run'}; ${model}; mIoU over the whole test split</sup>`, font: { size: 15 } },
    font: FONT,
    margin: { t: 110, b: 80, l: 20, r: 20 },
    legend: { orientation: 'h', y: -0.02, yanchor: 'top' },
    plot_bgcolor: '#ffffff',
  };
  imageGrid(rows, cols, size, layout);
  w.scenes.forEach((s, r) => {
    const at = (c: number) => r * cols + c;
    const g = displayFactor(size);
    data.push(imageTrace(imageDataUri(s.image, g), at(0), 'image', g));
    data.push(imageTrace(labelsDataUri(s.labels, size, g), at(1), 'ground truth', g));
    METHODS.forEach((m, j) => data.push(imageTrace(labelsDataUri(s.predictions[m], size, g), at(2 + j), methodLabel(m), g)));
  });
  // the legend: one square per class
  w.classNames.forEach((name, k) => {
    const [r, g, b] = classColor(k);
    data.push({ type: 'scatter', mode: 'markers', x: [null], y: [null], name, marker: { symbol: 'square', size: 12, color: `rgb(${r},${g},${b})` }, showlegend: true, hoverinfo: 'skip' });
  });
  const titles = ['image', 'ground truth', ...METHODS.map((m) => `${SHORT[m]}<br>mIoU ${w.metrics[m].miou.toFixed(1)}`)];
  layout.annotations = titles.map((t, c) => ({ text: `<b>${t}</b>`, xref: `x${axisId(c)} domain`, yref: `y${axisId(c)} domain`, x: 0.5, y: 1.02, yanchor: 'bottom', showarrow: false, font: { size: 11 } }));
  return fitTitle({ name: 'dense-predictions', figure: { data, layout } as PlotlyFigure, width: 200 * cols, height: 160 + 190 * rows });
}

/** Training loss per iteration of each method (DenseCLIP's and fixed-prompts' include the auxiliary loss). */
export function denseTrainingFigure(w: DenseWalkthrough, model = 'MiniCLIP'): NamedFigure {
  const data = METHODS.filter((m) => w.losses[m]).map((m) => ({
    type: 'scatter', mode: 'lines', name: methodLabel(m), x: w.losses[m].map((_, i) => i + 1), y: w.losses[m], line: { color: METHOD_STYLE[m]?.color },
    hovertemplate: `${methodLabel(m)}, iteration %{x}: %{y:.3f}<extra></extra>`,
  }));
  const figure: PlotlyFigure = {
    data,
    layout: {
      title: { text: `Training loss on world-scenes (seed ${w.seed}, preset ${w.preset}; ${model})<br><sup>the language-guided methods' loss includes 0.4 x the score map's cross-entropy</sup>`, font: { size: 15 } },
      font: FONT,
      xaxis: { title: { text: 'iteration' }, gridcolor: '#e5e5e5' },
      yaxis: { title: { text: 'training loss' }, rangemode: 'tozero', gridcolor: '#e5e5e5' },
      // at the figure's foot in pixels: notebook 03 draws it 380 px high, where a paper-relative
      // legend sat on the 'iteration' title
      legend: LEGEND_BELOW,
      margin: { t: 90, b: 100, l: 70, r: 30 },
      plot_bgcolor: '#ffffff',
    },
  };
  return fitTitle({ name: 'dense-training', figure, width: 900, height: 460 });
}

export function denseWalkthroughFigures(w: DenseWalkthrough, model = 'MiniCLIP'): NamedFigure[] {
  return [...w.scenes.map((s) => scoreMapsFigure(w, s, { model })), densePredictionsFigure(w, model), denseTrainingFigure(w, model)];
}
