// Label layout for the figure builders: titles and subtitles wrapped to the width a figure is drawn
// at (a notebook draws every figure 900 px wide), and bar values written above each bar's error bar,
// lifted over any chance / reference line, so that no line crosses a label and every bar has one.
import type { NamedFigure } from './plotly';

/** The width a notebook draws a figure at (showFigure without a width): titles must fit it. */
export const NOTEBOOK_WIDTH = 900;
export const DEFAULT_HEIGHT = 500;

/** Average glyph width of Helvetica/Arial text, as a fraction of the font size (conservative). */
export const CHAR_WIDTH = 0.56;

/** `text` broken at spaces into lines of at most `maxChars` characters (a longer word stays whole). */
export function wrapWords(text: string, maxChars: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ').filter((w) => w !== '')) {
    if (line && line.length + 1 + word.length > maxChars) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** Visible characters of a plotly label line (tags dropped). */
export function visibleLength(line: string): number {
  return line.replace(/<[^>]*>/g, '').length;
}

const SUP = 0.7; // plotly draws <sup> at 70 % of the font size

/**
 * A title 'main<br><sup>subtitle</sup>' with every line wrapped to `width` pixels at font `size`,
 * each subtitle line in its own <sup>; returns the text and its height in pixels.
 */
export function wrapTitle(text: string, width: number, size: number): { text: string; height: number; lines: string[] } {
  const lines: string[] = [];
  let height = 0;
  for (const part of text.split('<br>')) {
    const sup = /^<sup>(.*)<\/sup>$/.exec(part);
    const body = sup ? sup[1] : part;
    const px = CHAR_WIDTH * size * (sup ? SUP : 1);
    // tags inside a line (<b>, <i>) are kept only where the line is short enough not to wrap
    const wrapped = visibleLength(body) * px <= width || /<[^>]*>/.test(body) ? [body] : wrapWords(body, Math.floor(width / px));
    for (const w of wrapped) {
      lines.push(sup ? `<sup>${w}</sup>` : w);
      height += 1.3 * size * (sup ? SUP : 1);
    }
  }
  return { text: lines.join('<br>'), height, lines };
}

/**
 * The figure with its title wrapped to fit the narrower of its own width and a notebook's, pinned to
 * the top of the figure, and the top margin grown by what the title grew (the room that was under
 * the title, for panel titles, stays).
 */
export function fitTitle(named: NamedFigure): NamedFigure {
  const layout = named.figure.layout;
  const title = layout.title as { text?: string; font?: { size?: number } } | undefined;
  if (!title?.text) return named;
  const size = title.font?.size ?? 16;
  const width = Math.min(named.width ?? NOTEBOOK_WIDTH, NOTEBOOK_WIDTH) - 40;
  const before = wrapTitle(title.text, Infinity, size);
  const after = wrapTitle(title.text, width, size);
  const margin = { ...((layout.margin as Record<string, number> | undefined) ?? { t: 80, b: 80, l: 80, r: 80 }) };
  const top = margin.t ?? 80;
  // plotly centres a title in the top margin: what was left under it is kept under the wrapped one
  const under = Math.max(14, top / 2 - before.height / 2);
  const PAD = 10;
  // plotly anchors a multi-line title's top about one line too high: the pad holds that line
  const pad = PAD + 1.3 * size;
  margin.t = Math.max(top, Math.ceil(pad + after.height + under));
  return {
    ...named,
    figure: {
      ...named.figure,
      layout: { ...layout, margin, title: { ...title, text: after.text, yref: 'container', y: 1, yanchor: 'top', pad: { t: Math.round(pad) } } },
    },
  };
}

type Trace = Record<string, unknown>;
type Annotation = Record<string, unknown>;

const LABEL_FONT = 11;
const LABEL_PAD = 3; // px between a bar's error bar (or a line) and its label

/** A bar label's length in pixels, drawn at 90 degrees at `font` px. */
function labelLength(text: string, font = LABEL_FONT): number {
  return visibleLength(text) * CHAR_WIDTH * font + 4;
}

/** The width the figure is drawn at when it does not say (a notebook's). */
const DEFAULT_WIDTH = 900;

/**
 * Every bar's value (its trace's `text`) as an annotation just beyond its error bar, reading upward
 * (downward for negative bars), lifted over every reference level of its category that it would
 * cross: the chance marks (traces in legend group 'chance') and the horizontal line shapes. The bars
 * keep their text for hover only. A y axis with a range is widened to hold the labels.
 */
export function labelBars(named: NamedFigure): NamedFigure {
  const { data } = named.figure;
  const layout = { ...named.figure.layout };
  const margin = (layout.margin as { t?: number; b?: number } | undefined) ?? {};
  const height = named.height ?? DEFAULT_HEIGHT;
  const plotPx = Math.max(100, height - (margin.t ?? 80) - (margin.b ?? 80));
  const axisKey = (ref: string) => (ref === 'y' ? 'yaxis' : `yaxis${ref.slice(1)}`);
  const bars = data.filter((t) => t.type === 'bar');
  if (!bars.length) return named;
  // the span of each y axis (its range, or the data's with the error bars)
  const ends = (t: Trace) => (t.y as (number | null)[]).flatMap((v, i) => (v === null ? [] : [v - err(t, i), v + err(t, i)]));
  const spanOf = (yref: string) => {
    const range = (layout[axisKey(yref)] as { range?: number[] } | undefined)?.range;
    if (range) return range[1] - range[0];
    const all = bars.filter((t) => (t.yaxis ?? 'y') === yref).flatMap(ends);
    return Math.max(1e-9, Math.max(0, ...all) - Math.min(0, ...all)) * 1.3;
  };
  const annotations: Annotation[] = [...((layout.annotations as Annotation[] | undefined) ?? [])];
  const reach = new Map<string, { hi: number; lo: number }>();
  const groups = new Map<string, Trace[]>();
  for (const t of bars) {
    const key = `${String(t.xaxis ?? 'x')} ${String(t.yaxis ?? 'y')}`;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  for (const [key, traces] of groups) {
    const [xref, yref] = key.split(' ');
    const span = spanOf(yref);
    const unit = span / plotPx; // data units per pixel
    const levels = referenceLevels(data, layout, xref, yref);
    const n = traces.length;
    const gap = typeof layout.bargap === 'number' ? layout.bargap : 0.2;
    const width = (1 - gap) / n;
    // a rotated label is as wide as its font: no larger than the bar, so neighbours never touch
    const m = (layout.margin as { l?: number; r?: number } | undefined) ?? {};
    const columns = (layout.grid as { columns?: number } | undefined)?.columns ?? 1; // subplots laid out by plotly's grid
    const domain = ((layout[xref === 'x' ? 'xaxis' : `xaxis${xref.slice(1)}`] as { domain?: number[] } | undefined)?.domain) ?? [0, 1 / columns];
    const plotW = ((named.width ?? DEFAULT_WIDTH) - (m.l ?? 80) - (m.r ?? 80)) * (domain[1] - domain[0]);
    const categories = Math.max(1, ...traces.map((t) => (t.x as unknown[]).length));
    const font = Math.max(7, Math.min(LABEL_FONT, Math.floor((plotW / categories) * width * 0.9)));
    traces.forEach((t, j) => {
      const xs = t.x as string[];
      const ys = t.y as (number | null)[];
      const texts = (t.text as string[] | undefined) ?? [];
      xs.forEach((_, i) => {
        const v = ys[i];
        const text = texts[i];
        if (v === null || v === undefined || !text) return;
        const up = v >= 0;
        const len = labelLength(text, font) * unit;
        const pad = LABEL_PAD * unit;
        let start = up ? v + err(t, i) + pad : v - err(t, i) - pad;
        // lift (or lower) the label past every reference line it would cross
        const refs = (levels.get(i) ?? []).sort((a, b) => (up ? a - b : b - a));
        for (const r of refs) {
          const crosses = up ? r >= start - pad && r <= start + len + pad : r <= start + pad && r >= start - len - pad;
          if (crosses) start = up ? r + 2 * pad : r - 2 * pad;
        }
        const end = up ? start + len : start - len;
        const edge = reach.get(yref) ?? { hi: 0, lo: 0 };
        reach.set(yref, { hi: Math.max(edge.hi, end), lo: Math.min(edge.lo, end) });
        annotations.push({
          text, x: i - (1 - gap) / 2 + (j + 0.5) * width, y: start, xref, yref, textangle: -90,
          xanchor: 'center', yanchor: up ? 'bottom' : 'top', showarrow: false, borderpad: 0,
          font: { size: font, color: '#222222' }, captureevents: false,
        });
      });
      t.textposition = 'none';
    });
  }
  // y axes with a fixed range: widened to hold every label (a percent axis keeps its ticks to 100)
  for (const [yref, { hi, lo }] of reach) {
    const k = axisKey(yref);
    const axis = layout[k] as { range?: number[]; matches?: string } | undefined;
    if (!axis) continue;
    const target = axis.matches ? axisKey(axis.matches) : k;
    const base = layout[target] as { range?: number[] } | undefined;
    const range = base?.range;
    if (!range) {
      // an autoranged axis: fixed to the data and the labels
      const all = bars.filter((t) => (t.yaxis ?? 'y') === yref).flatMap(ends);
      const pad = 0.04 * (Math.max(hi, ...all) - Math.min(lo, ...all));
      layout[target] = { ...base, range: [Math.min(0, lo, ...all) - pad, Math.max(0, hi, ...all) + pad] };
      continue;
    }
    if (hi > range[1] || lo < range[0]) {
      const next = [Math.min(range[0], lo), Math.max(range[1], hi + 0.06 * (range[1] - range[0]))];
      const percent = range[0] === 0 && range[1] >= 100 && range[1] <= 105;
      layout[target] = { ...base, range: next, ...(percent ? { tickvals: [0, 20, 40, 60, 80, 100] } : {}) };
    }
  }
  layout.annotations = annotations;
  delete layout.uniformtext;
  return { ...named, figure: { data, layout } };
}

function err(t: Trace, i: number): number {
  const e = t.error_y as { array?: number[]; visible?: boolean } | undefined;
  return e?.visible && e.array ? e.array[i] ?? 0 : 0;
}

/** Reference levels per category index of one panel: chance marks (legend group 'chance') and horizontal line shapes. */
function referenceLevels(data: Trace[], layout: Record<string, unknown>, xref: string, yref: string): Map<number, number[]> {
  const out = new Map<number, number[]>();
  const add = (i: number, v: number) => out.set(i, [...(out.get(i) ?? []), v]);
  for (const t of data) {
    if (t.type !== 'scatter' || t.legendgroup !== 'chance' || (t.xaxis ?? 'x') !== xref || (t.yaxis ?? 'y') !== yref) continue;
    (t.y as (number | null)[]).forEach((v, i) => { if (typeof v === 'number') add(i, v); });
  }
  for (const s of (layout.shapes as Record<string, unknown>[] | undefined) ?? []) {
    if (s.type !== 'line' || s.xref !== xref || s.yref !== yref || s.y0 !== s.y1) continue;
    const x0 = Number(s.x0);
    const x1 = Number(s.x1);
    for (let i = Math.ceil(x0 - 0.5); i <= Math.floor(x1 + 0.5); i++) add(i, Number(s.y0));
  }
  return out;
}
