// The fuzz corpus of the reliability issue, run in a child process by test/unit/fuzz.test.ts (so a
// hang or a crash is caught from outside): seeded mutations of every kind of file promptlab reads
// (safetensors files and headers, Hugging Face folders, encode inputs, tokenizer files, manifests,
// results folders, PyTorch checkpoints, PNG and JPEG images), each handed to the loader a user's command would call.
//
// Usage: tsx test/fuzz/corpus.ts WORK_DIR [SEED] [CASES_PER_KIND]
// Prints one JSON line when a case starts ({"start": id}) and one when it ends
// ({"id", "kind", "status": "ok" | "error", "message", "ms"}): the parent names the case that hung or
// crashed from the last start without an end.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { ClipModel } from '../../src/clip';
import { decodeImage } from '../../src/clip/image';
import { readSafetensors, readSafetensorsHeader } from '../../src/clip/safetensors';
import { ClipTokenizer } from '../../src/clip/tokenizer';
import { readTorchCheckpoint } from '../../src/clip/torch-checkpoint';
import { loadManifest } from '../../src/data/manifest';
import { mergeResults } from '../../src/repro/merge';
import { readResults } from '../../src/repro/record';
import { Rng, streamFor } from '../../src/random';

const ROOT = path.resolve(__dirname, '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'clip-parity');

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const HOSTILE: Json[] = [
  -1, 0, 0.5, 1e308, -1e308, 3e9, 2 ** 53 + 2, null, true, '', 'x'.repeat(5000), [], {}, [[[[[[[[[[1]]]]]]]]]],
  '../../../../etc/passwd', '/dev/zero', '__proto__', { __proto__: null, constructor: 'x' } as unknown as Json, 'NaN', '1e400',
];

// ---------------------------------------------------------------------------------------------
// Mutations

function mutateBytes(rng: Rng, src: Uint8Array): Uint8Array {
  const b = Uint8Array.from(src);
  switch (rng.int(6)) {
    case 0: return b.subarray(0, rng.int(b.length));                                      // truncated
    case 1: { for (let i = 0, n = 1 + rng.int(8); i < n; i++) b[rng.int(b.length)] = rng.int(256); return b; } // bytes flipped
    case 2: { const at = rng.int(b.length); const ins = Uint8Array.from({ length: 1 + rng.int(64) }, () => rng.int(256)); return concat(b.subarray(0, at), ins, b.subarray(at)); }
    case 3: { const at = rng.int(Math.max(1, b.length - 16)); return concat(b.subarray(0, at + 16), b.subarray(at)); } // a region repeated
    case 4: { const v = new DataView(b.buffer); if (b.length >= 8) v.setBigUint64(0, BigInt(rng.pick([0, 1, 7, 2 ** 31, 2 ** 40, 2 ** 53])), true); return b; } // header length
    default: return b.subarray(rng.int(Math.min(16, b.length)));                            // head cut off
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** A random path into a JSON value, and a hostile replacement (or a deletion, or an added key). */
function mutateJson(rng: Rng, value: Json): Json {
  const copy = JSON.parse(JSON.stringify(value)) as Json;
  const containers: { parent: Json[] | { [k: string]: Json }; key: string | number }[] = [];
  const walk = (v: Json, depth: number) => {
    if (depth > 6 || v === null || typeof v !== 'object') return;
    const keys = Array.isArray(v) ? v.map((_, i) => i).slice(0, 20) : Object.keys(v).slice(0, 40);
    for (const k of keys) {
      containers.push({ parent: v, key: k });
      walk((v as Record<string | number, Json>)[k], depth + 1);
    }
  };
  walk(copy, 0);
  if (containers.length === 0 || rng.chance(0.05)) return rng.pick(HOSTILE);
  const { parent, key } = rng.pick(containers);
  const p = parent as Record<string | number, Json>;
  switch (rng.int(4)) {
    case 0: if (!Array.isArray(parent)) delete p[key]; else p[key] = null; break;
    case 1: Object.defineProperty(p, rng.pick(['__proto__', 'constructor', 'data_offsets', 'weight_map', 'x']), { value: rng.pick(HOSTILE), enumerable: true, configurable: true, writable: true }); break;
    default: p[key] = rng.pick(HOSTILE);
  }
  return copy;
}

// ---------------------------------------------------------------------------------------------
// The kinds of input, each: its pristine bytes, how to mutate them, and the loader a command calls

interface Kind {
  name: string;
  /** Writes the mutated input under dir; returns what the loader is given. */
  make(rng: Rng, dir: string): string;
  load(target: string): void;
}

function safetensorsWithHeader(header: Json, data: Uint8Array): Uint8Array {
  const head = Buffer.from(JSON.stringify(header));
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(head.length), true);
  return concat(prefix, head, data);
}

function kinds(model: ClipModel, tokenizerFiles: { merges: string; json: Json }, resultsDir: string, otherPart: string): Kind[] {
  const inputs = fs.readFileSync(path.join(FIXTURES, 'vit-tiny', 'inputs.safetensors'));
  const n = Number(new DataView(inputs.buffer, inputs.byteOffset).getBigUint64(0, true));
  const inputsHeader = JSON.parse(inputs.subarray(8, 8 + n).toString('utf8')) as Json;
  const inputsData = inputs.subarray(8 + n);
  const hfConfig = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'vit-tiny', 'hf', 'config.json'), 'utf8')) as Json;
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'data-manifests', 'world', 'world-shapes.json'), 'utf8')) as Json;
  const results = JSON.parse(fs.readFileSync(path.join(resultsDir, 'results.json'), 'utf8')) as Json;
  const png = fs.readFileSync(path.join(FIXTURES, 'preprocess', 'small.png'));
  const stateDictPt = fs.readFileSync(path.join(FIXTURES, 'vit-tiny', 'state-dict.pt'));
  const jitPt = fs.readFileSync(path.join(FIXTURES, 'vit-tiny', 'openai-jit.pt'));
  const jpeg = fs.readFileSync(path.join(FIXTURES, 'preprocess', 'photo.jpg'));
  const write = (dir: string, name: string, data: string | Uint8Array) => { fs.mkdirSync(dir, { recursive: true }); fs.writeFileSync(path.join(dir, name), data); return path.join(dir, name); };
  const encodeInputs = (file: string) => {
    const f = readSafetensors(file, 'inputs file');
    const ids = f.tensors.get('input_ids');
    if (ids && ids.shape.length === 2 && ids.data instanceof Int32Array) tf.dispose(model.encodeText({ ids: ids.data, shape: ids.shape as [number, number] }));
    const px = f.tensors.get('pixel_values');
    if (px && px.shape.length === 4 && px.data instanceof Float32Array) {
      const t = tf.tensor4d(px.data, px.shape as [number, number, number, number]);
      try { tf.dispose(model.encodeImage(t)); } finally { t.dispose(); }
    }
  };
  return [
    { name: 'safetensors bytes', make: (r, d) => write(d, 'x.safetensors', mutateBytes(r, inputs)), load: (f) => { readSafetensorsHeader(f); readSafetensors(f); } },
    { name: 'safetensors header', make: (r, d) => write(d, 'x.safetensors', safetensorsWithHeader(mutateJson(r, inputsHeader), inputsData)), load: (f) => { readSafetensors(f); } },
    { name: 'encode inputs', make: (r, d) => write(d, 'inputs.safetensors', r.chance(0.5) ? safetensorsWithHeader(mutateJson(r, inputsHeader), inputsData) : mutateBytes(r, inputs)), load: encodeInputs },
    {
      name: 'Hugging Face folder',
      make: (r, d) => {
        fs.mkdirSync(d, { recursive: true });
        fs.symlinkSync(path.join(FIXTURES, 'vit-tiny', 'hf', 'model.safetensors'), path.join(d, 'model.safetensors'));
        write(d, 'config.json', r.chance(0.8) ? JSON.stringify(mutateJson(r, hfConfig)) : mutateBytes(r, Buffer.from(JSON.stringify(hfConfig))));
        return d;
      },
      load: (d) => ClipModel.load(d).dispose(),
    },
    {
      name: 'tokenizer (merges file)',
      make: (r, d) => write(d, r.chance(0.3) ? 'bpe.txt.gz' : 'bpe.txt', mutateBytes(r, Buffer.from(tokenizerFiles.merges))),
      load: (f) => { ClipTokenizer.fromMergesFile(f).tokenize(['a photo of a red circle.', 'x'.repeat(40)], { contextLength: 77, truncate: true }); },
    },
    {
      name: 'tokenizer (tokenizer.json)',
      make: (r, d) => write(d, 'tokenizer.json', r.chance(0.8) ? JSON.stringify(mutateJson(r, tokenizerFiles.json)) : mutateBytes(r, Buffer.from(JSON.stringify(tokenizerFiles.json)))),
      load: (f) => { ClipTokenizer.fromHuggingFace(f).tokenize(['a photo of a red circle.', '<|endoftext|> hello'], { contextLength: 77, truncate: true }); },
    },
    { name: 'manifest', make: (r, d) => write(d, 'world-shapes.json', r.chance(0.8) ? JSON.stringify(mutateJson(r, manifest)) : mutateBytes(r, Buffer.from(JSON.stringify(manifest)))), load: (f) => { loadManifest('world-shapes', path.dirname(f)); } },
    {
      name: 'results folder',
      make: (r, d) => { write(d, 'results.json', r.chance(0.8) ? JSON.stringify(mutateJson(r, results)) : mutateBytes(r, Buffer.from(JSON.stringify(results)))); return d; },
      load: (d) => { readResults(d); mergeResults([d, otherPart], path.join(d, 'merged')); },
    },
    { name: 'PyTorch torch.save', make: (r, d) => write(d, 'x.pt', mutateBytes(r, stateDictPt)), load: (f) => { readTorchCheckpoint(f); } },
    { name: 'PyTorch TorchScript', make: (r, d) => write(d, 'x.pt', mutateBytes(r, jitPt)), load: (f) => { readTorchCheckpoint(f); } },
    { name: 'PNG', make: (r, d) => write(d, 'x.png', mutateBytes(r, png)), load: (f) => { decodeImage(fs.readFileSync(f), f); } },
    { name: 'JPEG', make: (r, d) => write(d, 'x.jpg', mutateBytes(r, jpeg)), load: (f) => { decodeImage(fs.readFileSync(f), f); } },
  ];
}

/** A small results folder of our own to mutate (a part of a few-shot run). */
function writeResultsPart(dir: string, seeds: number[]): string {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { environment, writeResults } = require('../../src/repro/record') as typeof import('../../src/repro/record');
  const rows = seeds.flatMap((seed) => ['coop', 'zeroshot'].map((method) => ({ method, dataset: 'world-colors', split: 'test', metric: 'accuracy', seed, value: 50 + seed })));
  writeResults(dir, 'fewshot', { model: 'models/miniclip', quick: false, seeds, datasets: ['world-colors'], shots: 16 }, rows, {}, environment());
  return dir;
}

async function main(): Promise<void> {
  const [work, seedArg, perKindArg] = process.argv.slice(2);
  const seed = Number(seedArg ?? 1);
  const perKind = Number(perKindArg ?? 40);
  await initBackend();
  const model = ClipModel.load(path.join(FIXTURES, 'vit-tiny'));
  const merges = fs.readFileSync(path.join(ROOT, 'models', 'miniclip', 'bpe.txt'), 'utf8');
  const tok = ClipTokenizer.fromMerges(merges);
  const vocab: Record<string, number> = {};
  for (let id = 0; id < tok.vocabSize; id++) { const t = tok.idToToken(id); if (t !== undefined) vocab[t] = id; }
  const tokJson: Json = {
    model: { type: 'BPE', vocab, merges: merges.split('\n').slice(1).filter((l) => l.trim() !== ''), end_of_word_suffix: '</w>' },
    added_tokens: [{ id: tok.sotToken, content: '<|startoftext|>' }, { id: tok.eotToken, content: '<|endoftext|>' }],
  };
  // the part to mutate (seeds 1, 2) and the part it is merged with (seed 3)
  const resultsDir = writeResultsPart(path.join(work, 'pristine-results'), [1, 2]);
  const otherPart = writeResultsPart(path.join(work, 'other-part'), [3]);
  const all = kinds(model, { merges, json: tokJson }, resultsDir, otherPart);
  let id = 0;
  for (const kind of all) {
    const rng = streamFor(seed, 'fuzz', kind.name);
    for (let i = 0; i < perKind; i++, id++) {
      const dir = path.join(work, 'cases', String(id));
      const target = kind.make(rng, dir);
      process.stdout.write(JSON.stringify({ start: id, kind: kind.name }) + '\n');
      const t0 = Date.now();
      let status: 'ok' | 'error' = 'ok';
      let message = '';
      try {
        kind.load(target);
      } catch (e) {
        status = 'error';
        message = e instanceof Error ? `${e.constructor.name}: ${e.message}` : `non-Error thrown: ${String(e)}`;
      }
      process.stdout.write(JSON.stringify({ id, kind: kind.name, target: path.relative(work, target), status, message, ms: Date.now() - t0 }) + '\n');
    }
  }
  model.dispose();
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(3); });
