// promptlab <command>: the command-line entry point (bin/promptlab.js runs this through tsx).
import * as fs from 'fs';
import * as path from 'path';
import { initBackend } from './backend';
import { UsageError, parse, requireModel } from './cli/args';
import { BENCH_CASES, runBench } from './bench';

// Commands load their modules on demand, so `promptlab doctor` works even where a command's
// dependencies are broken, and every command starts fast.
const ENCODE_USAGE = 'promptlab encode --weights PATH --inputs FILE --out FILE';

const USAGE = `promptlab <command> [options]

Commands:
  --version
      the package's version
  fetch <manifest-id | --manifest FILE> [--dest DIR]
      download, resume and sha256-verify what a download manifest lists (data-manifests/downloads; e.g. clip-bpe),
      into DIR (default: the user cache, PROMPTLAB_CACHE or ~/.cache/promptlab, under the manifest id)
  ${ENCODE_USAGE}
      run a CLIP checkpoint (safetensors file or Hugging Face folder) on pixel_values / input_ids
  tokenize [--vocab FILE] [--context-length N] [--truncate] TEXT...
      CLIP BPE token ids as JSON
  pretrain [--out DIR] [--steps N] [--batch-size B] [--lr X] [--warmup N] [--seed S] [--checkpoint-every N] [--export DIR] [--stop-at N]
           [--workers W] [--bn-group G] [--recompute]
      pretrain MiniCLIP on the embedded world (resumes from DIR/checkpoint.safetensors; --stop-at ends a sitting early;
      exports to --export (default DIR/model; the shipped models/miniclip, every command's default, only when --export names it);
      --workers splits every batch over W threads, --bn-group sets the images per BatchNorm group, which W must share evenly;
      --recompute keeps only each block's input and recomputes the rest in the backward: about a third of the memory, a third more time, the same weights)
  repro <experiment> [--quick] [--seeds 1,2,3] [--out DIR] [--model DIR|FILE|NAME] [--data ROOT] [--datasets a,b] [--cached-features] [--variants a,b] [--shots 1,4]
        [--protocol closed|fewshot|zeroshot] [--val-ensemble N]
      run a paper experiment end to end and write DIR/results.json, its figures and tables (experiments: zeroshot, fewshot, base2new, transfer,
      czsl, video, dense; for transfer, --datasets is the source first, then its targets; for fewshot, --variants picks CoOp's variants of its Figure 3:
      end, middle, end-csc, middle-csc; all four in full runs, end in quick runs; --shots measures only some of its shot counts: 1,2,4,8,16 in full runs,
      1,4,16 in quick runs, each giving the rows a run of all of them gives). Prompts train on fresh random crops and flips through the frozen
      image tower at every step, as the papers' code does; --cached-features trains on image features computed once (faster, no
      augmentation; recorded in results.json and shown with every figure and table). --model also takes a weights file or a released
      CLIP's name (ViT-B/16, RN50, ...; once: npx promptlab fetch clip-vit-b-16) or a Hugging Face CLIP folder's name
      (openai/clip-vit-base-patch16, ...; once: npx promptlab fetch hf-clip-vit-base-patch16); --data ROOT runs zeroshot, fewshot,
      base2new and transfer on CoOp's datasets under ROOT (--datasets caltech101,oxford_pets,...; default its 11; transfer: imagenet,
      then its 10 cross-dataset targets and imagenetv2, imagenet_sketch, imagenet_a, imagenet_r) with the official presets.
      video's --protocol: closed (the default: train and test on all 10 motions; top-1, top-5, reversal confusion), fewshot (all-way,
      2/4/8/16 clips per motion, 2/4/8 in quick runs; accuracy@k ...) or zeroshot (train on 5 motions, test on the 5 held out, each
      time-reversal pair on one side; split new); written to runs/video/<protocol>/<quick|full> unless --out. --val-ensemble N (closed
      only): each test clip scored on N temporal crops, softmax averaged, as the official evaluation; world clips have exactly the
      model's 8 frames and are kept whole, so there every crop is the clip and N only multiplies the cost (default 1)
  merge-results --out DIR PART_DIR...
      put an experiment run in parts (datasets, seeds or fewshot's shots run separately) back together into DIR/results.json
      (a row two parts share, such as fewshot's zero-shot row, must have the same value in both and is kept once; parts of
      different configurations are refused, video's protocols included: a part that records none followed the default, closed)
  sweep <experiment> --grid SPEC [--workers N | --slurm [--wait]] --out DIR [--quick] [--model DIR] [--protocol P]
      a grid of runs (SPEC like 'seeds=1..6;datasets=world-shapes,world-colors'; fewshot also takes shots, e.g. 'seeds=1,2;shots=1,4,16'),
      one \`repro\` each into DIR/runs/<id>/ with its log: locally, N processes at a time (finished runs are skipped on a re-run; a failed one does not stop the rest), or with
      --slurm as a job array (DIR/sweep.sbatch; --partition, --gpus-per-task, --time, --mem, --account, --cpus-per-task pass
      through; --wait blocks until it ends; --no-submit only writes the script); also --cached-features, --variants a,b, and
      video's --protocol closed|fewshot|zeroshot, each passed to every run and recorded in DIR/grid.json
  collect DIR --out DIR2 [--allow-missing]
      a sweep's run records into one DIR2/results.json with its figures and tables, as one repro over the grid writes them;
      lists runs without a record and the command that reruns each (--allow-missing collects those there are)
  plot RESULTS_DIR...
      (re)write the figures and tables of results folders beside their results.json
  book [--out DIR]
      the executed notebooks as static HTML pages with interactive figures and an index, in DIR (default book/; npm run book)
  figures [--out DIR] [--full] [--model DIR]
      regenerate every figure (PNG, SVG, HTML) and table (CSV, Markdown) of the notebooks (npm run figures); notebook 05's
      few-shot and held-out-motion figures come from the committed results/video/<protocol>/full (loaded, not run)
  model-card [--model DIR] [--quick]
      measure MiniCLIP on the world benchmarks (zero-shot, linear probe) and write its MODEL_CARD.md
  doctor [--json]
      backend, versions, GPU, Jupyter, Chromium: what is there and what to do about what is not
  bench <case> [--repeats N] [--threads T] [--json]
      time one hot path (cases: ${Object.keys(BENCH_CASES).join(', ')});
      --threads splits the frozen towers' rows over T threads (default: PROMPTLAB_WORKERS, else the cores on WASM)

Environment: PROMPTLAB_BACKEND=node-gpu|node|wasm|cpu forces a backend (default: the first that loads).
PROMPTLAB_WORKERS=N: threads for the frozen CLIP towers on WASM/CPU (default: the cores, at most 4; 1 = none).
PROMPTLAB_WASM_THREADS=N (1-4): tfjs's threaded WASM build, one heap whose matMuls and convs use N threads (default 1);
  less memory than the tower workers (which it turns off unless PROMPTLAB_WORKERS is set), slower (src/bench/README.md).
PROMPTLAB_FROZEN=onnx: repro, model-card and encode run the frozen towers' calls without a gradient tape on onnxruntime-node
  (optional dependency; features within 1e-5 of tfjs's, not bitwise; recorded in results.json's env.frozen); default tfjs.`;

const err = (s: string) => process.stderr.write(s + '\n');
const out = (s: string) => process.stdout.write(s + '\n');

async function bench(argv: string[]): Promise<void> {
  const { values, positionals } = parse('bench', argv, { json: { type: 'boolean' }, repeats: { type: 'string' }, threads: { type: 'string' } });
  const name = positionals[0];
  if (!name) throw new UsageError(`promptlab bench: name a case (valid: ${Object.keys(BENCH_CASES).join(', ')})`);
  const repeats = values.repeats === undefined ? 3 : Number(values.repeats);
  if (!Number.isInteger(repeats) || repeats < 1) throw new UsageError(`promptlab bench: --repeats must be a positive integer`);
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) throw new UsageError(`promptlab bench: --threads must be a positive integer, got '${values.threads}'`);
  const r = await runBench(name, repeats, err, threads);
  err(`${r.case} on ${r.backend}: median ${r.median_s.toFixed(3)} s, ${r.unit_per_s.toFixed(2)} ${BENCH_CASES[name].unit}/s`);
  if (values.json) out(JSON.stringify(r));
}

/** The version in the package.json beside src/. */
function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    out(USAGE);
    return 0;
  }
  try {
    switch (command) {
      case 'encode':
        await (require('./cli/encode') as typeof import('./cli/encode')).encodeCommand(rest, err);
        return 0;
      case 'tokenize':
        await (require('./cli/tokenize') as typeof import('./cli/tokenize')).tokenizeCommand(rest, out);
        return 0;
      case 'pretrain':
        await (require('./cli/pretrain') as typeof import('./cli/pretrain')).pretrainCommand(rest, err);
        return 0;
      case 'repro':
        await (require('./cli/repro') as typeof import('./cli/repro')).reproCommand(rest, err);
        return 0;
      case 'merge-results': {
        const { values, positionals } = parse('merge-results', rest, { out: { type: 'string' } });
        if (values.out === undefined) throw new UsageError('promptlab merge-results: --out DIR is required (where the merged results.json goes)');
        const { mergeResults } = require('./repro/merge') as typeof import('./repro/merge');
        const { writeResultOutputs } = require('./repro/figures') as typeof import('./repro/figures');
        const r = mergeResults(positionals, values.out as string);
        err(`merge-results: ${r.experiment}, ${(r.config.datasets as string[]).length} datasets, seeds ${(r.config.seeds as number[]).join(',')}, ${r.rows.length} rows -> ${values.out}/results.json`);
        await writeResultOutputs(values.out as string, err);
        (require('./cli/repro') as typeof import('./cli/repro')).logAverages(r, err);
        return 0;
      }
      case 'sweep':
        return await (require('./sweep/command') as typeof import('./sweep/command')).sweepCommand(rest, err);
      case 'collect':
        return await (require('./sweep/command') as typeof import('./sweep/command')).collectCommand(rest, err);
      case 'plot': {
        const { positionals } = parse('plot', rest, {});
        if (positionals.length === 0) throw new UsageError('promptlab plot: name one or more results folders (each holding a results.json)');
        const { writeResultOutputs } = require('./repro/figures') as typeof import('./repro/figures');
        for (const dir of positionals) {
          const files = await writeResultOutputs(dir, err);
          err(`plot: ${files.length} files -> ${dir}`);
        }
        return 0;
      }
      case 'book': {
        const { values } = parse('book', rest, { out: { type: 'string' } });
        const { writeBook } = require('./book') as typeof import('./book');
        const dir = path.resolve('notebooks');
        const notebooks = fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort().map((f) => path.join(dir, f));
        writeBook(notebooks, path.resolve((values.out as string | undefined) ?? 'book'), err);
        return 0;
      }
      case 'figures': {
        const { values } = parse('figures', rest, { out: { type: 'string' }, full: { type: 'boolean' }, model: { type: 'string' } });
        const { regenerateFigures } = require('./repro/figures') as typeof import('./repro/figures');
        const { consoleProgress } = require('./train/progress') as typeof import('./train/progress');
        await regenerateFigures({ out: values.out as string | undefined, full: values.full === true, model: requireModel('figures', '--model', values.model as string | undefined), log: err, onProgress: consoleProgress() });
        return 0;
      }
      case 'fetch': {
        const { values, positionals } = parse('fetch', rest, { manifest: { type: 'string' }, dest: { type: 'string' } });
        const { fetchManifest, loadDownloadManifest, userCacheDir } = require('./data/fetch') as typeof import('./data/fetch');
        const which = (values.manifest as string | undefined) ?? positionals[0];
        if (!which || (values.manifest !== undefined && positionals.length > 0)) throw new UsageError('promptlab fetch: name one manifest id (e.g. clip-bpe) or --manifest FILE');
        const m = loadDownloadManifest(which);
        const dest = path.resolve((values.dest as string | undefined) ?? path.join(userCacheDir(), m.id));
        const r = await fetchManifest(m, dest, err);
        err(`fetch: ${m.id}: ${r.files.length} file(s) in ${r.dest}`);
        return 0;
      }
      case 'model-card':
        await (require('./cli/model-card') as typeof import('./cli/model-card')).modelCardCommand(rest, err);
        return 0;
      case 'doctor':
        await (require('./cli/doctor') as typeof import('./cli/doctor')).doctorCommand(rest, out);
        return 0;
      case 'bench':
        await bench(rest);
        return 0;
      case '--version':
      case 'version':
        out(`promptlab ${packageVersion()}`);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(USAGE);
        return command === undefined ? 1 : 0;
      default:
        err(`promptlab: unknown command '${command}'\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    err(msg.startsWith('promptlab') ? msg : `promptlab ${command}: ${msg}`);
    if (process.env.PROMPTLAB_DEBUG && e instanceof Error) err(e.stack ?? '');
    return e instanceof UsageError ? 2 : 1;
  }
}
