// The papers' tables from results files, as danfojs DataFrames: a long CSV with every number
// (method, dataset, split, metric, mean, std, n) for machines, and pivoted tables (one row per
// benchmark, one column per method, "mean ± std") as Markdown and HTML for people.
import { DataFrame } from 'danfojs-node';
import type { CspWalkthrough } from '../repro/csp-walkthrough';
import type { Results, SummaryRow } from '../repro/record';
import { escapeHtml } from './export';
import { allBackgroundOf, coopVariantsOf, DENSE_METRICS, methodLabel, modelLabel, pairedDelta, trainingLabel, VIDEO_METRICS, videoProtocolOf, videoShotsOf } from './figures';

export interface Table {
  name: string;
  title: string;
  frame: DataFrame;
}

function cell(s: SummaryRow | undefined): string {
  if (!s) return '';
  return s.n > 1 ? `${s.mean.toFixed(1)} ± ${s.std.toFixed(1)}` : s.mean.toFixed(1);
}

/** Every summary number of a run, one row each. */
export function summaryTable(results: Results, name = `${results.experiment}-summary`): Table {
  const rows = results.summary.map((s) => ({ method: s.method, dataset: s.dataset, split: s.split, metric: s.metric, mean: Number(s.mean.toFixed(4)), std: Number(s.std.toFixed(4)), n: s.n }));
  return { name, title: `${results.experiment}: every summary number (${modelLabel(results)})`, frame: new DataFrame(rows) };
}

/** A table column: a summary number (method, split, metric), or one computed per benchmark (`value`). */
export interface TableColumn {
  label: string;
  method: string;
  split: string;
  metric: string;
  value?: (dataset: string) => SummaryRow | undefined;
}

/**
 * One row per dataset in the order the run wrote them (as the figures draw them; transfer: the
 * source first), average last; one column per (method, split, metric) as given.
 */
export function pivotTable(results: Results, name: string, title: string, columns: TableColumn[], splitOf?: (dataset: string) => string): Table {
  const order = [...new Set(results.rows.map((r) => r.dataset))];
  const rank = (d: string) => (d === 'average' ? Infinity : order.includes(d) ? order.indexOf(d) : order.length);
  const datasets = [...new Set(results.summary.map((s) => s.dataset))].sort((a, b) => rank(a) - rank(b));
  const rows = datasets.map((d) => {
    // splitOf: the split of each row's benchmark, for columns whose split is '*' (transfer's roles)
    const row: Record<string, string> = { benchmark: d, ...(splitOf ? { role: splitOf(d) } : {}) };
    for (const c of columns) {
      const split = c.split === '*' && splitOf ? splitOf(d) : c.split;
      row[c.label] = cell(c.value ? c.value(d) : results.summary.find((s) => s.dataset === d && s.method === c.method && s.split === split && s.metric === c.metric));
    }
    return row;
  });
  return { name, title, frame: new DataFrame(rows) };
}

/** The human tables of one experiment's results. */
export function tablesFor(results: Results): Table[] {
  const training = trainingLabel(results);
  const model = `${modelLabel(results)}${training ? `, ${training}` : ''}`;
  const methods = [...new Set(results.rows.map((r) => r.method))];
  if (results.experiment === 'zeroshot') {
    return [pivotTable(results, 'zeroshot-accuracy', `Zero-shot test accuracy (%), ${model}`, methods.map((m) => ({ label: methodLabel(m), method: m, split: 'test', metric: 'accuracy' })))];
  }
  if (results.experiment === 'fewshot') {
    const shots = [...new Set(results.rows.map((r) => Number(r.metric.split('@')[1])).filter((k) => k > 0))].sort((a, b) => a - b);
    const cols: TableColumn[] = [{ label: 'Zero-shot CLIP', method: 'zeroshot', split: 'test', metric: 'accuracy@0' }];
    for (const m of ['linear-probe', ...coopVariantsOf(results)]) for (const k of shots) cols.push({ label: `${methodLabel(m)} ${k}-shot`, method: m, split: 'test', metric: `accuracy@${k}` });
    return [pivotTable(results, 'fewshot-accuracy', `Few-shot test accuracy (%), ${model}`, cols)];
  }
  if (results.experiment === 'base2new') {
    const cols: TableColumn[] = methods.flatMap((m) => [
      { label: `${methodLabel(m)} base`, method: m, split: 'base', metric: 'accuracy' },
      { label: `${methodLabel(m)} new`, method: m, split: 'new', metric: 'accuracy' },
      { label: `${methodLabel(m)} H`, method: m, split: 'all', metric: 'H' },
    ]);
    // CoCoOp's Table 1 Δ: CoCoOp − CoOp, paired by seed
    if (methods.includes('coop') && methods.includes('cocoop')) {
      for (const [label, split, metric] of [['base', 'base', 'accuracy'], ['new', 'new', 'accuracy'], ['H', 'all', 'H']]) {
        cols.push({ label: `Δ ${label} (CoCoOp − CoOp)`, method: 'cocoop-minus-coop', split, metric, value: (d) => pairedDelta(results, 'cocoop', 'coop', d, split, metric) });
      }
    }
    return [pivotTable(results, 'base2new', `Base-to-new generalisation, 16 shots (%), ${model}`, cols)];
  }
  if (results.experiment === 'transfer') {
    // one row per test benchmark, its role beside it; the summary's average row is the cross-dataset average
    const source = results.rows.find((r) => r.split === 'source')?.dataset ?? '?';
    const roleOf = new Map(results.rows.map((r) => [r.dataset, r.split]));
    const t = pivotTable(results, 'transfer', `Trained on ${source} (16 shots), tested on each benchmark (%), ${model}`, methods.map((m) => ({ label: methodLabel(m), method: m, split: '*', metric: 'accuracy' })), (d) => (d === 'average' ? 'xd' : roleOf.get(d) ?? ''));
    return [t];
  }
  if (results.experiment === 'czsl') {
    // one row per method, as CSP's Table 1: closed world S / U / HM / AUC, then open world, then attribute and object accuracy
    const methods = ['zeroshot', 'coop', 'csp'].filter((m) => results.rows.some((r) => r.method === m));
    const cols: [string, string, string][] = [];
    for (const split of ['closed', 'open']) for (const [metric, label] of [['seen', 'S'], ['unseen', 'U'], ['hm', 'HM'], ['auc', 'AUC']]) cols.push([`${split} ${label}`, split, metric]);
    cols.push(['attribute', 'closed', 'attr'], ['object', 'closed', 'obj']);
    const rows = methods.map((m) => {
      const row: Record<string, string> = { method: methodLabel(m) };
      for (const [label, split, metric] of cols) row[label] = cell(results.summary.find((s) => s.method === m && s.split === split && s.metric === metric));
      return row;
    });
    return [{ name: 'czsl', title: `Compositional zero-shot learning on world-czsl (%), ${model}`, frame: new DataFrame(rows) }];
  }
  if (results.experiment === 'video') {
    const methods = ['zeroshot', 'prompt', 'videoprompt'].filter((m) => results.rows.some((r) => r.method === m));
    const protocol = videoProtocolOf(results);
    const dataset = results.rows[0]?.dataset ?? 'world-motion';
    // the other protocols: one row per method, one column per (k or side of the class split, metric)
    const cols: [string, string, string][] = protocol === 'fewshot'
      ? (['accuracy', 'reversal-confusion'] as const).flatMap((metric) => [0, ...videoShotsOf(results)].map((k): [string, string, string] => [`k = ${k}: ${metric === 'accuracy' ? 'top-1' : 'reversal'}`, 'test', `${metric}@${k}`]))
      : protocol === 'zeroshot'
        ? [['seen: top-1', 'base', 'accuracy'], ['seen: reversal', 'base', 'reversal-confusion'], ['held out: top-1', 'new', 'accuracy'], ['held out: reversal', 'new', 'reversal-confusion']]
        : [];
    if (cols.length) {
      const rows = methods.map((m) => {
        const row: Record<string, string> = { method: methodLabel(m) };
        for (const [label, split, metric] of cols) row[label] = cell(results.summary.find((s) => s.method === m && s.dataset === dataset && s.split === split && s.metric === metric));
        return row;
      });
      const what = protocol === 'fewshot' ? 'All-way few-shot video recognition (k training clips per motion; k = 0: zero-shot CLIP)' : 'Zero-shot to held-out motions (each side scored among its own motions)';
      return [{ name: `video-${protocol === 'fewshot' ? 'fewshot' : 'heldout'}`, title: `${what} on ${dataset}, test split (%; reversal: share predicted as its time reversal), ${model}`, frame: new DataFrame(rows) }];
    }
    const rows = methods.map((m) => {
      const row: Record<string, string> = { method: methodLabel(m) };
      for (const [metric, label] of VIDEO_METRICS) row[label] = cell(results.summary.find((s) => s.method === m && s.split === 'test' && s.metric === metric));
      return row;
    });
    return [{ name: 'video', title: `Video prompting on world-motion, test split (%), ${model}`, frame: new DataFrame(rows) }];
  }
  if (results.experiment === 'dense') {
    // one row per method, then the all-background reference the run recorded
    const methods = ['baseline', 'fixed-prompts', 'denseclip'].filter((m) => results.rows.some((r) => r.method === m));
    const rows = methods.map((m) => {
      const row: Record<string, string> = { method: methodLabel(m) };
      for (const [metric, label] of DENSE_METRICS) row[label] = cell(results.summary.find((s) => s.method === m && s.dataset === 'world-scenes' && s.split === 'test' && s.metric === metric));
      return row;
    });
    if (DENSE_METRICS.some(([metric]) => allBackgroundOf(results, metric) !== undefined)) {
      const row: Record<string, string> = { method: 'Background everywhere (reference)' };
      for (const [metric, label] of DENSE_METRICS) row[label] = allBackgroundOf(results, metric)?.toFixed(1) ?? '';
      rows.push(row);
    }
    return [{ name: 'dense', title: `Semantic segmentation on world-scenes, test split (%), ${model}`, frame: new DataFrame(rows) }];
  }
  throw new Error(`no tables for experiment "${results.experiment}" (have: zeroshot, fewshot, base2new, transfer, czsl, video, dense)`);
}

function records(t: Table): { columns: string[]; rows: string[][] } {
  const columns = t.frame.columns as string[];
  const values = t.frame.values as unknown[][];
  return { columns, rows: values.map((r) => r.map((v) => (v === null || v === undefined ? '' : String(v)))) };
}

/**
 * CSV as RFC 4180 writes it: a cell holding a comma, a quote or a line break is quoted, its quotes
 * doubled (nearest-token cells such as `blue (0.02), ) (1.47)` need it); every other cell as is.
 */
export function tableCsv(t: Table): string {
  const { columns, rows } = records(t);
  const cell = (c: string) => (/[",\r\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
  return [columns, ...rows].map((r) => `${r.map(cell).join(',')}\n`).join('');
}

export function tableMarkdown(t: Table): string {
  const { columns, rows } = records(t);
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [`**${t.title}**`, '', line(columns), line(columns.map(() => '---')), ...rows.map(line)].join('\n') + '\n';
}

export function tableHtml(t: Table): string {
  const { columns, rows } = records(t);
  const head = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th>${escapeHtml(c)}</th>` : `<td>${escapeHtml(c)}</td>`)).join('')}</tr>`).join('\n');
  return `<table>\n<caption>${escapeHtml(t.title)}</caption>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>\n`;
}

/** How far each of CSP's learned vocabulary vectors moved from its word embedding, and its nearest tokens now. */
export function vocabularyTable(w: CspWalkthrough): Table {
  const rows = w.vocabulary.map((v) => ({ word: v.name, kind: v.kind, moved: v.moved.toFixed(3), 'nearest tokens now': v.nearest.join(', ') }));
  return { name: 'csp-vocabulary', title: `CSP's learned vocabulary on ${w.dataset} (seed ${w.seed}, ${w.epochs} epochs): distance moved from the initial word embedding, and the nearest tokens`, frame: new DataFrame(rows) };
}
