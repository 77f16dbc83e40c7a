// The split lists of the video benchmarks, as their releases ship them:
//
//   HMDB51 (testTrainMulti_7030_splits/, 51 classes x 3 folds):
//     <class>_test_split<k>.txt, one line per video of the class: "<video>.avi <0|1|2>"
//     (1 = train, 2 = test, 0 = in neither for this fold); the class is the file name's prefix.
//   UCF101 (ucfTrainTestlist/):
//     classInd.txt        "<1-based index> <Class>"
//     trainlist0<k>.txt   "<Class>/v_<...>.avi <1-based index>"
//     testlist0<k>.txt    "<Class>/v_<...>.avi" (no label: the folder names the class)
//   Efficient-Prompt (ju-chen/Efficient-Prompt, data/HMDB51/{train,test}_split01.txt):
//     "<class>/<video>.avi" per line; the class order is the sorted class folders
//     (data/HMDB51/HMDB51_action.list lists their natural names in that order), and
//     HMDB51_clsname.json maps each folder to the name its prompts use ("brush_hair" -> "brush hairs").
//
// Every list becomes the same VideoSplitLists: class ids (folder names) in label order, and the
// train and test videos as "<class>/<video name without extension>", each with the file and line it
// came from, so that a later error (a missing feature file, say) can name the line. Lines may end in
// CRLF (the UCF101 lists do); blank lines are skipped; anything else malformed is an error naming the
// file and the line.
import * as fs from 'fs';
import * as path from 'path';
import { READ_LIMITS, readJsonFile, readTextLimited } from '../../io/files';

export interface VideoListEntry {
  /** `<class id>/<video name>`, the extension dropped: how the video is found under a root. */
  video: string;
  classId: string;
  label: number;
  /** `<list file>:<line>`, for errors. */
  source: string;
}

export interface VideoSplitLists {
  /** Which release's lists: 'hmdb51', 'ucf101' or 'list' (Efficient-Prompt's class/video lists). */
  format: 'hmdb51' | 'ucf101' | 'list';
  /** The fold (1, 2 or 3), where the format has folds. */
  fold: number | null;
  /** Class ids (folder names) in label order. */
  classIds: string[];
  train: VideoListEntry[];
  test: VideoListEntry[];
  /** The list files read, in order. */
  files: string[];
}

/** Split lists are small; a larger one is not a list. */
const LIST_MAX_BYTES = 64 * 1024 * 1024;

/** The lines of a list file (CRLF or LF), numbered from 1, blank ones dropped, trimmed. */
function readLines(file: string, what: string): { text: string; line: number }[] {
  const text = readTextLimited(file, LIST_MAX_BYTES, what);
  if (text.includes('\0')) throw new Error(`${what} ${file} is not a text file (it holds NUL bytes)`);
  return text
    .split(/\r?\n|\r/)
    .map((t, k) => ({ text: t.trim(), line: k + 1 }))
    .filter((l) => l.text !== '');
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** A video's file name without its extension ('x.avi' -> 'x'); names with '/', '\\' or '..' are refused. */
function videoName(name: string, where: string): string {
  if (name === '' || name.includes('/') || name.includes('\\') || name === '.' || name === '..' || name.includes('\0')) {
    throw new Error(`${where}: "${name}" is not a video file name`);
  }
  const dot = name.lastIndexOf('.');
  const base = dot > 0 ? name.slice(0, dot) : name;
  if (base === '..' || base === '.') throw new Error(`${where}: "${name}" is not a video file name`);
  return base;
}

function checkClassId(id: string, where: string): void {
  if (id === '' || id === '.' || id === '..' || /[/\\\0]/.test(id)) throw new Error(`${where}: "${id}" is not a class folder name`);
}

/** Refuses a video listed twice in one split, naming both lines. */
function checkUnique(entries: VideoListEntry[], split: string): void {
  const seen = new Map<string, string>();
  for (const e of entries) {
    const before = seen.get(e.video);
    if (before) throw new Error(`${e.source}: ${e.video} is listed twice in the ${split} split (first at ${before})`);
    seen.set(e.video, e.source);
  }
}

/**
 * HMDB51's official split lists for one fold: every `<class>_test_split<fold>.txt` in dir. Classes
 * in code-point order (the order of Efficient-Prompt's HMDB51_action.list); videos per class in file
 * order.
 */
export function readHmdb51Splits(dir: string, fold = 1): VideoSplitLists {
  if (![1, 2, 3].includes(fold)) throw new Error(`HMDB51: fold ${fold} is not 1, 2 or 3`);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    throw new Error(`HMDB51 split folder ${dir} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const suffix = `_test_split${fold}.txt`;
  const classIds = names.filter((n) => n.endsWith(suffix) && n.length > suffix.length).map((n) => n.slice(0, -suffix.length)).sort(byCodePoint);
  if (classIds.length === 0) throw new Error(`HMDB51 split folder ${dir} has no <class>${suffix} files (the release's testTrainMulti_7030_splits folder)`);
  const train: VideoListEntry[] = [];
  const test: VideoListEntry[] = [];
  const files: string[] = [];
  classIds.forEach((classId, label) => {
    const file = path.join(dir, `${classId}${suffix}`);
    checkClassId(classId, file);
    files.push(file);
    for (const { text, line } of readLines(file, 'HMDB51 split list')) {
      const where = `${file}:${line}`;
      const m = /^(\S+)\s+(\S+)$/.exec(text);
      if (!m) throw new Error(`${where}: "${text}" is not "<video>.avi <0|1|2>"`);
      if (!/^[012]$/.test(m[2])) throw new Error(`${where}: "${m[2]}" is not 0 (unused), 1 (train) or 2 (test)`);
      const entry = { video: `${classId}/${videoName(m[1], where)}`, classId, label, source: where };
      if (m[2] === '1') train.push(entry);
      else if (m[2] === '2') test.push(entry);
    }
  });
  checkUnique(train, 'train');
  checkUnique(test, 'test');
  return { format: 'hmdb51', fold, classIds, train, test, files };
}

/** A `<Class>/<video>.avi` path of a list: the class folder and the video name. */
function classAndVideo(p: string, where: string): [string, string] {
  const parts = p.split('/');
  if (parts.length !== 2) throw new Error(`${where}: "${p}" is not "<Class>/<video>.avi"`);
  checkClassId(parts[0], where);
  return [parts[0], videoName(parts[1], where)];
}

/**
 * UCF101's official lists for one fold: classInd.txt, trainlist0<fold>.txt and testlist0<fold>.txt
 * in dir. Labels follow classInd.txt (1-based there, 0-based here); a train line's label must agree
 * with its folder's index.
 */
export function readUcf101Splits(dir: string, fold = 1): VideoSplitLists {
  if (![1, 2, 3].includes(fold)) throw new Error(`UCF101: fold ${fold} is not 1, 2 or 3`);
  const indFile = path.join(dir, 'classInd.txt');
  const byIndex = new Map<number, string>();
  const index = new Map<string, number>();
  for (const { text, line } of readLines(indFile, 'UCF101 class index')) {
    const where = `${indFile}:${line}`;
    const m = /^(\d+)\s+(\S+)$/.exec(text);
    if (!m) throw new Error(`${where}: "${text}" is not "<index> <Class>"`);
    const k = Number(m[1]);
    checkClassId(m[2], where);
    if (byIndex.has(k)) throw new Error(`${where}: index ${k} is given twice`);
    if (index.has(m[2])) throw new Error(`${where}: class ${m[2]} is given twice`);
    byIndex.set(k, m[2]);
    index.set(m[2], k);
  }
  const K = byIndex.size;
  if (K === 0) throw new Error(`${indFile}: no classes`);
  for (let k = 1; k <= K; k++) if (!byIndex.has(k)) throw new Error(`${indFile}: the indices of ${K} classes must be 1..${K}; ${k} is missing`);
  const classIds = Array.from({ length: K }, (_, k) => byIndex.get(k + 1) as string);
  // some copies spell a folder with another case than classInd.txt (HandStandPushups / HandstandPushups)
  const lower = new Map<string, string | null>();
  for (const c of classIds) lower.set(c.toLowerCase(), lower.has(c.toLowerCase()) ? null : c);
  const classOf = (folder: string, where: string): string => {
    if (index.has(folder)) return folder;
    const c = lower.get(folder.toLowerCase());
    if (c) return c;
    throw new Error(`${where}: class ${folder} is not in ${indFile}`);
  };

  const read = (name: string, labelled: boolean): VideoListEntry[] => {
    const file = path.join(dir, name);
    return readLines(file, 'UCF101 split list').map(({ text, line }) => {
      const where = `${file}:${line}`;
      const m = /^(\S+)(?:\s+(\S+))?$/.exec(text);
      if (!m || (labelled && m[2] === undefined)) throw new Error(`${where}: "${text}" is not "<Class>/<video>.avi${labelled ? ' <index>' : ''}"`);
      const [folder, video] = classAndVideo(m[1], where);
      const classId = classOf(folder, where);
      const label = (index.get(classId) as number) - 1;
      if (m[2] !== undefined) {
        if (!/^\d+$/.test(m[2])) throw new Error(`${where}: label "${m[2]}" is not a class index`);
        if (Number(m[2]) !== label + 1) throw new Error(`${where}: label ${m[2]} disagrees with the folder ${folder}, which is ${label + 1} in ${indFile}`);
      }
      return { video: `${classId}/${video}`, classId, label, source: where };
    });
  };
  const train = read(`trainlist0${fold}.txt`, true);
  const test = read(`testlist0${fold}.txt`, false);
  checkUnique(train, 'train');
  checkUnique(test, 'test');
  return { format: 'ucf101', fold, classIds, train, test, files: [indFile, path.join(dir, `trainlist0${fold}.txt`), path.join(dir, `testlist0${fold}.txt`)] };
}

/**
 * Lists of `<class>/<video>.avi` lines (Efficient-Prompt's data/HMDB51/{train,test}_split01.txt; a
 * trailing label on a line is ignored). Classes: `classIds` when given (a list, or a file of one id
 * per line), where an unlisted class is an error; otherwise the sorted class folders of both lists.
 */
export function readClassVideoLists(files: { train: string; test: string }, opts: { classIds?: string[] | string } = {}): VideoSplitLists {
  const read = (file: string) =>
    readLines(file, 'video list').map(({ text, line }) => {
      const where = `${file}:${line}`;
      const m = /^(\S+)(?:\s+\S+)?$/.exec(text);
      if (!m) throw new Error(`${where}: "${text}" is not "<class>/<video>.avi"`);
      const [classId, video] = classAndVideo(m[1], where);
      return { classId, video, where };
    });
  const train = read(files.train);
  const test = read(files.test);
  let classIds: string[];
  let from: string;
  if (typeof opts.classIds === 'string') {
    classIds = readLines(opts.classIds, 'class list').map((l) => l.text);
    from = opts.classIds;
  } else if (opts.classIds) {
    classIds = opts.classIds.slice();
    from = 'the class list given';
  } else {
    classIds = [...new Set([...train, ...test].map((e) => e.classId))].sort(byCodePoint);
    from = '';
  }
  const label = new Map<string, number>();
  classIds.forEach((c, k) => {
    if (label.has(c)) throw new Error(`${from}: class ${c} is listed twice`);
    label.set(c, k);
  });
  const entries = (rows: typeof train): VideoListEntry[] =>
    rows.map((r) => {
      const l = label.get(r.classId);
      if (l === undefined) throw new Error(`${r.where}: class ${r.classId} is not in ${from}`);
      return { video: `${r.classId}/${r.video}`, classId: r.classId, label: l, source: r.where };
    });
  const out = { format: 'list' as const, fold: null, classIds, train: entries(train), test: entries(test), files: [files.train, files.test] };
  checkUnique(out.train, 'train');
  checkUnique(out.test, 'test');
  return out;
}

/**
 * The names prompts use for class ids: `names` (a map, or a JSON file of one such as
 * Efficient-Prompt's HMDB51_clsname.json) where given, which must name every class; otherwise
 * defaultClassName of each id.
 */
export function videoClassNames(classIds: readonly string[], names?: Record<string, string> | string): string[] {
  if (names === undefined) return classIds.map(defaultClassName);
  const map = typeof names === 'string' ? readJsonFile<Record<string, unknown>>(names, 'class name map', READ_LIMITS.json) : names;
  const what = typeof names === 'string' ? names : 'the class name map';
  if (!map || typeof map !== 'object' || Array.isArray(map)) throw new Error(`${what}: expected a JSON object of class id -> name`);
  return classIds.map((id) => {
    const n = (map as Record<string, unknown>)[id];
    if (typeof n !== 'string' || n.trim() === '') throw new Error(`${what} has no name for class ${id}`);
    return n;
  });
}

/**
 * A class id as words: '_' as spaces and camel case split ('brush_hair' -> 'brush hair',
 * 'ApplyEyeMakeup' -> 'Apply Eye Makeup'). CLIP's tokenizer lower-cases text, so the case stays.
 */
export function defaultClassName(id: string): string {
  return id
    .replace(/_/g, ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1 $2')
    .replace(/\s+/g, ' ')
    .trim();
}
