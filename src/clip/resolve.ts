// What `--model` names, and loading it with its tokenizer:
//   * a folder (models/miniclip, a Hugging Face CLIP folder, ...): loadMiniClip's rules (bpe.txt, a
//     Hugging Face tokenizer, or CLIP's BPE from the user cache);
//   * a weights file (.pt, .pth, .bin, .safetensors): the file, with the tokenizer beside it (bpe.txt,
//     bpe_simple_vocab_16e6.txt.gz, Hugging Face files) or, for CLIP's 49,408-token vocabulary, CLIP's
//     BPE from the user cache;
//   * a released model's name (ViT-B/16, RN50, ViT-L/14@336px; also its manifest id clip-vit-b-16 or
//     file name ViT-B-16), found through data-manifests/downloads/clip-*.json in the user cache
//     (PROMPTLAB_CACHE, else ~/.cache/promptlab) at <cache>/<id>/<weights>, its tokenizer beside it;
//   * a Hugging Face CLIP folder's Hub name (openai/clip-vit-base-patch32; also clip-vit-base-patch32 or
//     the manifest id hf-clip-vit-base-patch32), found through data-manifests/downloads/hf-*.json at
//     <cache>/<id>/: its config.json, its weights and its own tokenizer files (vocab.json + merges.txt),
//     all of which must be there; CLIP's merges file from elsewhere is never used for it.
//     Nothing is downloaded here: a model not fetched yet is an error with the command that fetches it.
// The weights' sha256 is not recomputed at every load (fetch checked it; a run record hashes the
// files it used, and a load says when a file differs from its manifest's image resolution).
import * as fs from 'fs';
import * as path from 'path';
import { listDownloadManifests, userCacheDir, type DownloadManifest } from '../data/fetch';
import { loadMiniClip } from '../miniclip';
import { ClipModel } from './model';
import { ClipTokenizer } from './tokenizer';

/** What --model resolved to. */
export interface ResolvedModel {
  /** What to load: a model folder or a weights file (absolute). */
  source: string;
  /** The tokenizer file to use (a released model's, or one found beside a weights file), else null (a folder's own rules). */
  tokenizer: string | null;
  /** A Hugging Face folder whose own tokenizer files (tokenizer.json, or vocab.json + merges.txt) are the tokenizer, else null. */
  hfTokenizer: string | null;
  /** The files read beside a weights file (its tokenizer files, a Hugging Face folder's config.json), which a run record hashes. */
  companions: string[];
  /** The model manifest a name resolved through, else null. */
  manifest: DownloadManifest | null;
  /** How it was named, for messages: the name, or the path as given. */
  label: string;
}

const CLIP_VOCAB_SIZE = 49408;
const WEIGHT_FILE = /\.(pt|pth|bin|safetensors)$/i;
const key = (s: string) => s.toLowerCase();

/** The released models' manifests, by every name they answer to (lower case). */
function modelManifests(): Map<string, DownloadManifest> {
  const out = new Map<string, DownloadManifest>();
  for (const m of listDownloadManifests()) {
    if (!m.model) continue;
    for (const n of [m.model.name, m.id, ...(m.model.aliases ?? [])]) out.set(key(n), m);
  }
  return out;
}

/** The order OpenAI's clip.py lists its models in (names not in it, such as the Hugging Face folders, follow, sorted). */
const RELEASE_ORDER = ['RN50', 'RN101', 'RN50x4', 'RN50x16', 'RN50x64', 'ViT-B/32', 'ViT-B/16', 'ViT-L/14', 'ViT-L/14@336px'];

/** The released models' names (RN50, ..., ViT-L/14@336px, then the Hugging Face folders: openai/clip-vit-base-patch16, ...). */
export function modelNames(): string[] {
  const rank = (n: string) => (RELEASE_ORDER.includes(n) ? RELEASE_ORDER.indexOf(n) : RELEASE_ORDER.length);
  return [...new Set([...modelManifests().values()].map((m) => m.model!.name))].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** Whether `s` names a released model (and is not an existing path). */
export function isModelName(s: string): boolean {
  return !fs.existsSync(s) && modelManifests().has(key(s));
}

/** The folder a released model's files go to: <user cache>/<manifest id>. */
export function modelCacheDir(m: DownloadManifest): string {
  return path.join(userCacheDir(), m.id);
}

/**
 * Resolves --model: undefined gives `fallback` (a folder); an existing path is itself; else a released
 * model's name through the manifests and the user cache (see the header). Throws, with what to do,
 * when the name is unknown or its files are not fetched yet.
 */
export function resolveModel(spec: string | undefined, fallback: string): ResolvedModel {
  const plain = { hfTokenizer: null, companions: [] };
  if (spec === undefined) return { source: path.resolve(fallback), tokenizer: null, manifest: null, label: fallback, ...plain };
  if (fs.existsSync(spec)) {
    const source = path.resolve(spec);
    const st = fs.statSync(source);
    if (st.isDirectory()) {
      // a Hugging Face folder with PyTorch weights only: its pytorch_model.bin, with the folder's tokenizer and config
      const hasSafetensors = ['model.safetensors', 'model.safetensors.index.json'].some((f) => fs.existsSync(path.join(source, f)));
      const bin = path.join(source, 'pytorch_model.bin');
      if (!hasSafetensors && fs.existsSync(bin)) return { ...resolveModel(bin, fallback), label: spec };
      return { source, tokenizer: null, manifest: null, label: spec, ...plain };
    }
    if (!st.isFile() || !WEIGHT_FILE.test(source)) throw new Error(`--model ${spec}: expected a model folder, a weights file (.pt, .pth, .bin, .safetensors) or a released model's name (${modelNames().join(', ')})`);
    const tokenizer = tokenizerBeside(source);
    if (tokenizer) return { source, tokenizer, manifest: null, label: spec, hfTokenizer: null, companions: [tokenizer] };
    // a weights file in a Hugging Face folder (pytorch_model.bin): the folder's tokenizer and config come with it
    const dir = path.dirname(source);
    const hf = [['tokenizer.json'], ['vocab.json', 'merges.txt']].map((set) => set.map((f) => path.join(dir, f))).find((set) => set.every((f) => fs.existsSync(f))); // fromHuggingFace's order
    if (!hf) return { source, tokenizer: null, manifest: null, label: spec, hfTokenizer: null, companions: [] };
    const config = path.join(dir, 'config.json');
    return { source, tokenizer: null, manifest: null, label: spec, hfTokenizer: dir, companions: [...(fs.existsSync(config) ? [config] : []), ...hf] };
  }
  const m = modelManifests().get(key(spec));
  if (!m) throw new Error(`--model ${spec}: not a file or folder, nor a released model's name (${modelNames().join(', ')})`);
  const mo = m.model!;
  const dir = modelCacheDir(m);
  const fetch = `npx promptlab fetch ${m.id}`;
  const weights = path.join(dir, mo.weights);
  if (!fs.existsSync(weights)) {
    throw new Error(`--model ${spec}: ${mo.name} is not downloaded yet (${weights} is missing); run \`${fetch}\` once to download${mo.format === 'huggingface' ? '' : ' and verify'} it into the user cache (PROMPTLAB_CACHE moves the cache)`);
  }
  const needed = (files: string[], what: string) => {
    const gone = files.map((f) => path.join(dir, f)).filter((f) => !fs.existsSync(f));
    if (gone.length) throw new Error(`--model ${spec}: ${what} ${gone.join(', ')} ${gone.length > 1 ? 'are' : 'is'} missing; run \`${fetch}\` (it skips the files already there)`);
    return files.map((f) => path.join(dir, f));
  };
  if (mo.format === 'huggingface') {
    // the folder's own config and tokenizer, all of them: never CLIP's merges file from elsewhere
    const config = needed([mo.config!], 'its config');
    const tokenizerFiles = needed(mo.tokenizerFiles!, 'its tokenizer file');
    return { source: weights, tokenizer: null, hfTokenizer: path.dirname(tokenizerFiles[0]), companions: [...config, ...tokenizerFiles], manifest: m, label: mo.name };
  }
  const tokenizer = mo.tokenizer ? needed([mo.tokenizer], 'its tokenizer')[0] : null;
  return { source: weights, tokenizer, manifest: m, label: mo.name, hfTokenizer: null, companions: tokenizer ? [tokenizer] : [] };
}

/** A tokenizer file beside a weights file: bpe.txt, CLIP's merges file, else null. */
function tokenizerBeside(file: string): string | null {
  const dir = path.dirname(file);
  for (const f of ['bpe.txt', 'bpe_simple_vocab_16e6.txt.gz', 'bpe_simple_vocab_16e6.txt']) if (fs.existsSync(path.join(dir, f))) return path.join(dir, f);
  return null;
}

/**
 * Loads what resolveModel found: the model and its tokenizer. `log` hears what differs from the
 * manifest (the image resolution a released name promises).
 */
export function loadClip(r: ResolvedModel, log: (s: string) => void = () => undefined): { model: ClipModel; tokenizer: ClipTokenizer } {
  if (fs.statSync(r.source).isDirectory()) return loadMiniClip(r.source);
  const model = ClipModel.load(r.source);
  try {
    let tokenizer: ClipTokenizer;
    const dir = path.dirname(r.source);
    const cached = path.join(userCacheDir(), 'clip-bpe', 'bpe_simple_vocab_16e6.txt.gz');
    if (r.hfTokenizer) tokenizer = ClipTokenizer.fromHuggingFace(r.hfTokenizer);
    else if (r.tokenizer) tokenizer = ClipTokenizer.fromMergesFile(r.tokenizer);
    else if (['tokenizer.json', 'vocab.json'].some((f) => fs.existsSync(path.join(dir, f)))) tokenizer = ClipTokenizer.fromHuggingFace(dir);
    else if (model.config.vocabSize === CLIP_VOCAB_SIZE && fs.existsSync(cached)) tokenizer = ClipTokenizer.fromMergesFile(cached);
    else {
      throw new Error(`${r.source}: no tokenizer beside the weights (bpe.txt, bpe_simple_vocab_16e6.txt.gz, tokenizer.json, or vocab.json + merges.txt)${model.config.vocabSize === CLIP_VOCAB_SIZE ? "; this model has CLIP's vocabulary: run `npx promptlab fetch clip-bpe` once and it is found in the user cache" : ''}`);
    }
    if (tokenizer.vocabSize > model.config.vocabSize) {
      throw new Error(`${r.source}: the tokenizer (${tokenizer.source}) has ${tokenizer.vocabSize} tokens, the model's embedding table ${model.config.vocabSize}: they do not belong together`);
    }
    const want = r.manifest?.model?.imageResolution;
    if (want !== undefined && want !== model.config.imageResolution) {
      log(`${r.label}: ${r.source} takes ${model.config.imageResolution} px images, ${r.manifest!.id}'s release takes ${want} px: the file is not the released ${r.label}`);
    }
    return { model, tokenizer };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
