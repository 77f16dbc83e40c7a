// The training presets (src/methods/presets.ts) against the official CoOp / CoCoOp configs, and
// prompt interpretation (src/eval/interpret.ts): nearest vocabulary tokens of context vectors.
import * as assert from 'assert';
import * as tf from '@tensorflow/tfjs';
import { ClipTokenizer } from '../../src/clip/tokenizer';
import { formatInterpretation, interpretPrompt } from '../../src/eval/interpret';
import { PRESET_ALIASES, PRESET_NAMES, coopPresetForShots, getCoCoOpPreset, getCoOpPreset, getPreset } from '../../src/methods/presets';

const COOP_NAMES = [
  'rn50', 'rn101', 'vit_b32', 'vit_b16',
  'rn50_ep50', 'rn101_ep50', 'vit_b32_ep50', 'vit_b16_ep50',
  'rn50_ep100', 'vit_b16_ep100',
  'rn50_ctxv1', 'vit_b16_ctxv1', 'rn50_ep50_ctxv1', 'vit_b16_ep50_ctxv1', 'vit_b16_ep100_ctxv1',
];
const COCOOP_NAMES = ['vit_b16_c4_ep10_batch1_ctxv1', 'vit_b16_c4_ep10_batch1', 'vit_b16_c8_ep10_batch1', 'vit_b16_c16_ep10_batch1'];
const WORLD_NAMES = ['world_coop_ctx4_init', 'world_coop_ctx16', 'world_coop_ctx16_ep25', 'world_coop_ctx16_ep13', 'world_cocoop'];
const CSP_NAMES = ['csp_mit_states', 'csp_ut_zappos', 'czsl_coop_mit_states', 'world_csp', 'world_czsl_coop'];

describe('presets', () => {
  it('resolves every name, and lists exactly the official configs plus the world ones', () => {
    assert.deepStrictEqual([...PRESET_NAMES].sort(), [...COOP_NAMES, ...COCOOP_NAMES, ...WORLD_NAMES, ...CSP_NAMES].sort());
    for (const name of [...PRESET_NAMES, ...Object.keys(PRESET_ALIASES)]) {
      const p = getPreset(name);
      assert.strictEqual(p.name, PRESET_ALIASES[name] ?? name);
      if (p.optim.name !== 'sgd') continue; // CSP's presets: their own test below
      assert.deepStrictEqual(
        { opt: p.optim.name, lr: p.optim.lr, m: p.optim.momentum, wd: p.optim.weightDecay, w: p.optim.warmupEpochs, wlr: p.optim.warmupLr, sch: p.optim.scheduler },
        { opt: 'sgd', lr: 0.002, m: 0.9, wd: 5e-4, w: 1, wlr: 1e-5, sch: 'cosine' },
        name,
      );
      assert.deepStrictEqual([p.input.augment, p.input.cropScale], [['random_resized_crop', 'random_flip'], [0.08, 1]], name);
    }
    for (const name of COOP_NAMES) {
      const p = getCoOpPreset(name);
      assert.strictEqual(p.optim.batchSize, 32);
      assert.strictEqual(p.optim.testBatchSize, 100);
      assert.strictEqual(p.input.size, 224);
      assert.strictEqual(p.optim.epochs, /_ep50/.test(name) ? 50 : /_ep100/.test(name) ? 100 : 200, name);
      const v1 = name.endsWith('_ctxv1');
      assert.deepStrictEqual(
        { nCtx: p.config.nCtx, ctxInit: p.config.ctxInit, csc: p.config.csc, pos: p.config.classTokenPosition },
        { nCtx: v1 ? 4 : 16, ctxInit: v1 ? 'a photo of a' : '', csc: false, pos: 'end' },
        name,
      );
      assert.strictEqual(p.backbone, { rn50: 'RN50', rn101: 'RN101', vit_b32: 'ViT-B/32', vit_b16: 'ViT-B/16' }[name.split('_').slice(0, name.startsWith('vit') ? 2 : 1).join('_')]);
    }
  });

  it('has the official numbers of the base-to-new configs', () => {
    const coop = getPreset('vit_b16_ctxv1');
    assert.strictEqual(coop.method, 'coop');
    assert.strictEqual(coop.backbone, 'ViT-B/16');
    assert.strictEqual(coop.config.nCtx, 4);
    assert.strictEqual(coop.config.ctxInit, 'a photo of a');
    assert.strictEqual(coop.optim.epochs, 200);
    assert.strictEqual(coop.optim.lr, 0.002);
    assert.strictEqual(coop.optim.batchSize, 32);
    assert.strictEqual(getPreset('vit_b16_ep50_ctxv1').optim.epochs, 50);
    for (const name of COCOOP_NAMES) {
      const p = getCoCoOpPreset(name);
      assert.strictEqual(p.backbone, 'ViT-B/16');
      assert.strictEqual(p.optim.batchSize, 1);
      assert.strictEqual(p.optim.epochs, 10);
      assert.strictEqual(p.optim.testBatchSize, 100);
      assert.strictEqual(p.config.nCtx, Number(/_c(\d+)_/.exec(name)![1]));
      assert.strictEqual(p.config.ctxInit, name.endsWith('_ctxv1') ? 'a photo of a' : '');
    }
  });

  it('has CSP\'s official settings: Adam at a constant rate, batch 64 x 2, 20 epochs, context 8; its CoOp baseline the same', () => {
    const m = getPreset('csp_mit_states');
    assert.strictEqual(m.method, 'csp');
    assert.deepStrictEqual(m.optim, { name: 'adam', lr: 5e-5, weightDecay: 1e-5, epochs: 20, scheduler: 'constant', batchSize: 64, gradAccumulation: 2, testBatchSize: 64 });
    assert.deepStrictEqual(m.config, { attrDropout: 0.3, template: 'a photo of X X', contextLength: 8 });
    assert.strictEqual(m.backbone, 'ViT-L/14');
    const c = getPreset('czsl_coop_mit_states');
    assert.deepStrictEqual(c.optim, m.optim);
    assert.deepStrictEqual(c.config, { ctxInit: 'a photo of ', template: 'a photo of x x', contextLength: 8 });
    assert.deepStrictEqual([getPreset('csp_ut_zappos').optim.lr, (getPreset('csp_ut_zappos').config as { attrDropout: number }).attrDropout], [5e-4, 0.2]);
    for (const n of CSP_NAMES) assert.deepStrictEqual(getPreset(n).input.augment, ['random_flip'], n);
  });

  it('scales the world presets for a CPU, CoOp training longer than CoCoOp', () => {
    const c4 = getCoOpPreset('world_coop_ctx4_init');
    const c16 = getCoOpPreset('world_coop_ctx16');
    const cc = getCoCoOpPreset('world_cocoop');
    assert.deepStrictEqual(getPreset('world_coop'), c4);
    assert.deepStrictEqual([c4.config.nCtx, c4.config.ctxInit, c16.config.nCtx, c16.config.ctxInit], [4, 'a photo of a', 16, '']);
    assert.deepStrictEqual([cc.config.nCtx, cc.config.ctxInit], [4, 'a photo of a']);
    for (const p of [c4, c16, cc]) {
      assert.strictEqual(p.backbone, 'MiniCLIP');
      assert.strictEqual(p.input.size, 64);
    }
    assert.deepStrictEqual([c4.optim.epochs, c4.optim.batchSize, cc.optim.epochs, cc.optim.batchSize], [50, 32, 10, 4]);
    assert.ok(c4.optim.epochs > 2 * cc.optim.epochs);
  });

  it('names the valid presets when a name is unknown, and accepts the config folder prefix', () => {
    assert.throws(
      () => getPreset('vit_b16_ep200'),
      (e: Error) => /unknown preset "vit_b16_ep200"/.test(e.message) && [...PRESET_NAMES, ...Object.keys(PRESET_ALIASES)].every((n) => e.message.includes(n)),
    );
    assert.strictEqual(getPreset('CoOp/vit_b16').name, 'vit_b16');
    assert.strictEqual(getPreset('CoCoOp/vit_b16_c4_ep10_batch1_ctxv1').method, 'cocoop');
    assert.throws(() => getPreset('CoCoOp/vit_b16'), /unknown preset "CoCoOp\/vit_b16"/);
    assert.throws(() => getCoCoOpPreset('rn50'), /coop preset, not cocoop/);
  });

  it('returns copies that callers may edit', () => {
    const a = getCoOpPreset('rn50');
    a.optim.epochs = 1;
    a.config.nCtx = 2;
    a.input.augment.pop();
    const b = getCoOpPreset('rn50');
    assert.deepStrictEqual([b.optim.epochs, b.config.nCtx, b.input.augment.length], [200, 16, 2]);
  });

  it('picks the epochs by shot count as COOP.md does (ImageNet always ep50)', () => {
    assert.strictEqual(coopPresetForShots('rn50', 1).name, 'rn50_ep50');
    assert.strictEqual(coopPresetForShots('rn50', 2).name, 'rn50_ep100');
    assert.strictEqual(coopPresetForShots('rn50', 4).name, 'rn50_ep100');
    assert.strictEqual(coopPresetForShots('rn50', 8).name, 'rn50');
    assert.strictEqual(coopPresetForShots('vit_b16', 16).optim.epochs, 200);
    for (const k of [1, 2, 4, 8, 16]) assert.strictEqual(coopPresetForShots('rn50', k, 'ImageNet').name, 'rn50_ep50');
    assert.strictEqual(coopPresetForShots('vit_b32', 16, 'imagenet').name, 'vit_b32_ep50');
    assert.throws(() => coopPresetForShots('rn101', 2), /no rn101_ep100 config/);
    assert.throws(() => coopPresetForShots('rn50', 0), /positive integer/);
    assert.throws(() => coopPresetForShots('vit_l14' as 'rn50', 16), /unknown backbone "vit_l14" \(valid: rn50, rn101, vit_b32, vit_b16, miniclip\)/);
    // the world's copies keep the rule's proportions: 50 / 100 / 200 epochs as 13 / 25 / 50
    assert.deepStrictEqual([1, 2, 4, 8, 16].map((k) => coopPresetForShots('miniclip', k).optim.epochs), [13, 25, 25, 50, 50]);
    assert.deepStrictEqual([1, 2, 16].map((k) => coopPresetForShots('miniclip', k).name), ['world_coop_ctx16_ep13', 'world_coop_ctx16_ep25', 'world_coop_ctx16']);
  });

});

describe('prompt interpretation', () => {
  // A real (tiny) BPE vocabulary: 512 byte symbols, the merges, SOT and EOT.
  const tok = ClipTokenizer.fromMerges(['#version: 0.2', 'h e', 'l l', 'he ll', 'hell o</w>', 'p h', 'ph o', 'pho t', 'phot o</w>'].join('\n'));
  const V = tok.vocabSize;
  const D = 8;
  let table: tf.Tensor2D;
  before(() => {
    const data = new Float32Array(V * D);
    let s = 12345;
    for (let i = 0; i < data.length; i++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      data[i] = s / 2147483648 - 0.5;
    }
    table = tf.tensor2d(data, [V, D]);
  });
  after(() => table.dispose());

  function rowsOf(ids: number[]): Float32Array {
    const all = table.dataSync();
    const out = new Float32Array(ids.length * D);
    ids.forEach((id, i) => out.set(all.subarray(id * D, (id + 1) * D), i * D));
    return out;
  }

  it('finds the tokens whose embeddings the context vectors equal, and decodes them', () => {
    const ids = ['a</w>', 'photo</w>', 'hello</w>'].map((t) => tok.tokenToId(t) as number);
    const ctx = tf.tensor2d(rowsOf(ids), [3, D]);
    const before = tf.memory().numTensors;
    const rows = interpretPrompt(ctx, table, tok, { topk: 4, chunkSize: 100 });
    assert.strictEqual(tf.memory().numTensors, before, 'no tensors leak');
    assert.strictEqual(rows.length, 3);
    assert.deepStrictEqual(rows.map((r) => r.words[0].word), ['a', 'photo', 'hello']);
    assert.deepStrictEqual(rows.map((r) => r.words[0].token), ['a</w>', 'photo</w>', 'hello</w>']);
    assert.deepStrictEqual(rows.map((r) => r.words[0].id), ids);
    for (const r of rows) {
      assert.strictEqual(r.classIndex, null);
      assert.strictEqual(r.words.length, 4);
      assert.ok(r.words[0].distance < 1e-6, `exact match distance ${r.words[0].distance}`);
      for (let i = 1; i < 4; i++) assert.ok(r.words[i].distance >= r.words[i - 1].distance);
    }
    assert.deepStrictEqual(rows.map((r) => r.position), [0, 1, 2]);

    // Against a brute-force scan of the whole table.
    const all = table.dataSync();
    const c0 = rowsOf([ids[1]]).map((v, i) => v + 0.05 * Math.sin(i));
    const shifted = tf.tensor2d(c0, [1, D]);
    const got = interpretPrompt(shifted, table, tok, { topk: 5, chunkSize: 37 })[0].words;
    const brute = Array.from({ length: V }, (_, id) => {
      let s = 0;
      for (let c = 0; c < D; c++) s += (c0[c] - all[id * D + c]) ** 2;
      return { id, d: Math.sqrt(s) };
    }).sort((a, b) => a.d - b.d || a.id - b.id);
    assert.deepStrictEqual(got.map((w) => w.id), brute.slice(0, 5).map((b) => b.id));
    for (let i = 0; i < 5; i++) assert.ok(Math.abs(got[i].distance - brute[i].d) < 1e-5);
    assert.match(formatInterpretation(rows), /^1: \['a', .*\] \['0\.0000', /);
    ctx.dispose();
    shifted.dispose();
  });

  it('reads class-specific contexts [K, n_ctx, D] class by class', () => {
    const ids = ['hello</w>', 'a</w>', 'photo</w>', 'he'].map((t) => tok.tokenToId(t) as number);
    const ctx = tf.tensor3d(rowsOf(ids), [2, 2, D]);
    const rows = interpretPrompt(ctx, table, tok, { topk: 1 });
    assert.deepStrictEqual(rows.map((r) => [r.classIndex, r.position, r.words[0].word]), [[0, 0, 'hello'], [0, 1, 'a'], [1, 0, 'photo'], [1, 1, 'he']]);
    assert.match(formatInterpretation(rows, ['cat', 'dog']), /^cat 1: \['hello'\]/m);
    assert.match(formatInterpretation(rows, ['cat', 'dog']), /^dog 2: \['he…'\]/m);
    ctx.dispose();
  });

  it('rejects shapes that do not fit', () => {
    const bad = tf.zeros([3, D + 1]);
    assert.throws(() => interpretPrompt(bad, table, tok), /ctx width 9 does not match the token embedding width 8/);
    const flat = tf.zeros([D]);
    assert.throws(() => interpretPrompt(flat, table, tok), /\[n_ctx, D\] or \[K, n_ctx, D\], got shape \[8\]/);
    tf.dispose([bad, flat]);
  });
});

describe('readable tokens', () => {
  it('writes whole words as themselves, word pieces with …, spaces as ␣ and partial characters as hex bytes', () => {
    const { readableToken } = require('../../src/eval/interpret') as typeof import('../../src/eval/interpret');
    const { BYTE_CHARS } = require('../../src/clip/tokenizer') as typeof import('../../src/clip/tokenizer');
    assert.strictEqual(readableToken('photo</w>'), 'photo');
    assert.strictEqual(readableToken('phot'), 'phot…');
    assert.strictEqual(readableToken(`${BYTE_CHARS[0x20]}</w>`), '␣');
    assert.strictEqual(readableToken(`${BYTE_CHARS[0xc3]}${BYTE_CHARS[0xa9]}</w>`), 'é');
    assert.strictEqual(readableToken(BYTE_CHARS[0xe2]), '<e2>…');
    assert.strictEqual(readableToken(`${BYTE_CHARS[0x0a]}</w>`), '<0a>');
    assert.strictEqual(readableToken('<|startoftext|>'), '<|startoftext|>');
  });
});
