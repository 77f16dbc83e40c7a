// The figures of video prompting on world-motion (src/repro/video.ts): a clip as its frames, and the
// confusion matrices of zero-shot CLIP, prompts over the frames' mean and the temporal model, where a
// model blind to frame order confuses each motion with its time reversal.
import type { WorldMotionDataset } from '../data/world-motion';
import type { SplitName, VideoItem } from '../data/dataset';
import type { VideoWalkthrough } from '../repro/video';
import { contactSheet } from '../world/sheet';
import { methodLabel } from './figures';
import { pngBytes } from './images';
import { fitTitle } from './labels';
import type { NamedFigure, PlotlyFigure } from './plotly';

const FONT = { family: 'Helvetica, Arial, sans-serif', size: 12 };

/** PNG of clips, one row per clip, its frames left to right (time runs to the right). */
export function clipFramesPng(ds: WorldMotionDataset, items: readonly VideoItem[], split: SplitName, zoom = 2): Buffer {
  const frames = items.flatMap((it) => ds.frames(it, split));
  return pngBytes(contactSheet(frames, ds.numFrames, zoom));
}

/** Row-normalised confusion matrix (%): rows the true class, columns the predicted one. */
export function confusionMatrix(labels: readonly number[], predictions: readonly number[], classes: number): number[][] {
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  labels.forEach((y, i) => { m[y][predictions[i]]++; });
  return m.map((row) => {
    const n = row.reduce((a, b) => a + b, 0);
    return row.map((c) => (n ? (100 * c) / n : 0));
  });
}

/** The gap between the confusion panels, as a fraction of the plot width. */
export const CONFUSION_XGAP = 0.18;

/**
 * A method's name as a panel title that fits a panel a notebook draws about 180 px wide: longer
 * names break before their qualifier ('Prompts<br>(mean of frames)', 'Prompts<br>+ temporal transformer').
 */
export function panelTitle(label: string): string {
  if (label.length <= 16) return label;
  const at = label.search(/ [(+]/);
  return at > 0 ? `${label.slice(0, at)}</b><br><b>${label.slice(at + 1)}` : label;
}

/** One heatmap per method; each motion's time reversal is outlined in its row. */
export function videoConfusionFigure(w: VideoWalkthrough, model = 'MiniCLIP'): NamedFigure {
  const methods = ['zeroshot', 'prompt', 'videoprompt'] as const;
  const k = w.classNames.length;
  const data = methods.map((m, i) => ({
    type: 'heatmap',
    z: confusionMatrix(w.labels, w.predictions[m], k),
    x: w.classNames,
    y: w.classNames,
    colorscale: 'Viridis', zmin: 0, zmax: 100,
    showscale: i === methods.length - 1,
    colorbar: { title: { text: '% of the row' } },
    hovertemplate: 'true %{y}, predicted %{x}: %{z:.0f}%<extra></extra>',
    xaxis: i === 0 ? 'x' : `x${i + 1}`,
    yaxis: i === 0 ? 'y' : `y${i + 1}`,
  }));
  // the reversal cells: a white outline in each panel
  const shapes = methods.flatMap((_, i) => w.reversalOf.flatMap((r, row) => (r === null ? [] : [{
    type: 'rect', xref: i === 0 ? 'x' : `x${i + 1}`, yref: i === 0 ? 'y' : `y${i + 1}`,
    x0: r - 0.5, x1: r + 0.5, y0: row - 0.5, y1: row + 0.5, line: { color: '#ffffff', width: 2 },
  }])));
  const layout: Record<string, unknown> = {
    title: { text: `What each model predicts for each motion (white outline: its time reversal)<br><sup>"reversal": the share of the paired motions' clips predicted as their reversal; world-motion test split, seed ${w.seed}, ${w.iterations} training iterations, ${w.quick ? 'quick run' : 'full run'}; ${model}</sup>`, font: { size: 15 } },
    font: FONT,
    grid: { rows: 1, columns: methods.length, pattern: 'independent', xgap: CONFUSION_XGAP },
    annotations: methods.map((m, i) => ({
      text: `<b>${panelTitle(methodLabel(m))}</b><br>top-1 ${w.metrics[m].accuracy.toFixed(0)}%, reversal ${w.metrics[m].reversalConfusion.toFixed(0)}%`,
      xref: `x${i === 0 ? '' : i + 1} domain`, yref: `y${i === 0 ? '' : i + 1} domain`, x: 0.5, y: 1.02, yanchor: 'bottom', showarrow: false, font: { size: 12 },
    })),
    shapes,
    margin: { t: 150, b: 170, l: 200, r: 40 },
    plot_bgcolor: '#ffffff',
  };
  methods.forEach((_, i) => {
    const s = i === 0 ? '' : String(i + 1);
    layout[`xaxis${s}`] = { title: { text: 'predicted' }, tickangle: -45, automargin: true };
    layout[`yaxis${s}`] = { ...(i === 0 ? { title: { text: 'true motion' } } : { showticklabels: false }), autorange: 'reversed' };
  });
  const figure: PlotlyFigure = { data, layout };
  return fitTitle({ name: 'video-confusion', figure, width: 1600, height: 660 });
}
