// promptlab repro video's protocols beyond the closed set (src/repro/video-protocols.ts, video.ts):
// few-shot sampling, the held-out class split, the iteration budget, the official multi-crop
// evaluation, and short runs of each protocol on the quick world-motion split (rows, what each model
// trained on and scored, figures and tables, no tensor left), and the errors of bad options.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { reproCommand } from '../../src/cli/repro';
import type { ClipModel } from '../../src/clip/model';
import type { ClipTokenizer } from '../../src/clip/tokenizer';
import { officialFrameIndices } from '../../src/data/video/datasets';
import { getVideoPreset } from '../../src/methods/video/presets';
import { loadMiniClip } from '../../src/miniclip';
import { streamFor } from '../../src/random';
import { summarise, type ResultRow } from '../../src/repro/record';
import { checkVideoRun, runVideo, videoConfig, videoPreset, type VideoEvaluation } from '../../src/repro/video';
import { checkVideoProtocol, MOTION_CLASS_SPLIT, motionClassSplit, sampleVideoFewShot, scaledIterations, valEnsembleProbs, videoShots } from '../../src/repro/video-protocols';
import { figuresFor } from '../../src/viz/figures';
import { tablesFor } from '../../src/viz/tables';
import { MOTIONS, MOTION_PHRASES, type MotionName } from '../../src/world';

const NAMES = ['a', 'b', 'c'];
// 3 classes with 6, 4 and 5 train clips, interleaved
const LABELS = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 2, 0];

describe('video protocols: few-shot sampling, class split, iterations, multi-crop', () => {
  it('few-shot: exactly k clips of every class, no repeats, each of its own class; the same for the same (seed, k) whatever else is drawn', () => {
    for (const k of [1, 2, 4]) {
      const s = sampleVideoFewShot(LABELS, k, 1, { dataset: 'toy', classNames: NAMES });
      assert.strictEqual(s.indices.length, k * NAMES.length);
      assert.strictEqual(new Set(s.indices).size, s.indices.length, 'no clip twice');
      NAMES.forEach((_, y) => assert.deepStrictEqual(s.indices.slice(y * k, (y + 1) * k).map((i) => LABELS[i]), new Array(k).fill(y), `class ${y}'s block`));
    }
    const first = sampleVideoFewShot(LABELS, 2, 7, { dataset: 'toy', classNames: NAMES });
    for (const k of [4, 1, 3]) sampleVideoFewShot(LABELS, k, 7, { dataset: 'toy', classNames: NAMES });
    sampleVideoFewShot(LABELS, 2, 8, { dataset: 'toy', classNames: NAMES });
    assert.deepStrictEqual(sampleVideoFewShot(LABELS, 2, 7, { dataset: 'toy', classNames: NAMES }), first, 'reproducible, independent of the draws in between');
    const seeds = new Set([1, 2, 3, 4, 5].map((seed) => JSON.stringify(sampleVideoFewShot(LABELS, 2, seed, { dataset: 'toy', classNames: NAMES }).indices)));
    assert.ok(seeds.size > 1, 'different seeds draw different clips');
  });

  it('few-shot: k above a class\'s clips, k < 1 and labels out of range are errors naming them', () => {
    assert.throws(() => sampleVideoFewShot(LABELS, 5, 1, { dataset: 'toy', classNames: NAMES }), /toy: k = 5 clips per class is more than the train split holds \("b" has 4; valid: k <= 4\)/);
    assert.throws(() => sampleVideoFewShot(LABELS, 0, 1, { dataset: 'toy', classNames: NAMES }), /k \(clips per class\) must be a positive integer, got 0/);
    assert.throws(() => sampleVideoFewShot([0, 3], 1, 1, { dataset: 'toy', classNames: NAMES }), /train clip 1 has label 3, not a class index \(valid: 0\.\.2\)/);
  });

  it('the held-out split partitions the motions with each time-reversal pair on one side; one that splits a pair is refused', () => {
    const { seen, heldOut } = motionClassSplit(MOTIONS);
    assert.deepStrictEqual([...seen, ...heldOut].sort((a, b) => a - b), MOTIONS.map((_, i) => i));
    assert.deepStrictEqual(heldOut.map((i) => MOTIONS[i]), [...MOTION_CLASS_SPLIT.heldOut]);
    assert.throws(() => motionClassSplit(MOTIONS, { seen: ['move-left', 'move-up', 'grow', 'shrink', 'bounce'], heldOut: ['move-right', 'move-down', 'rotate-cw', 'rotate-ccw', 'change-color'] }), /the time reversals move-left and move-right must be on the same side/);
    assert.throws(() => motionClassSplit(MOTIONS, { seen: ['move-left'], heldOut: ['move-right'] }), /must split the 10 motions/);
  });

  it('iterations: as many passes per clip as the closed preset (1,100 at 64 over 320 clips = 220 epochs)', () => {
    const p = getVideoPreset('world');
    assert.strictEqual(scaledIterations(p, 320, 320), 1100, 'the whole train split: the preset');
    assert.strictEqual(scaledIterations(p, 320, 20), 220, 'k = 2: batches of all 20 clips, 220 of them');
    assert.strictEqual(scaledIterations(p, 320, 80), 275);
    assert.strictEqual(scaledIterations(p, 320, 160), 550);
    const q = videoPreset(true);
    assert.strictEqual(scaledIterations(q, 80, 80), q.optim.iterations, 'quick: k = 8 is the whole quick train split');
    assert.deepStrictEqual(videoShots(false), [2, 4, 8, 16]);
    assert.deepStrictEqual(videoShots(true), [2, 4, 8]);
  });

  it('multi-crop: one crop of a clip of numFrames frames is the single view; crops of longer clips are averaged softmaxes; nothing leaks', () => {
    const w = tf.tensor2d([[1, -2, 0.5], [0, 1, 3], [-1, 0.2, 2], [2, 2, -1]]);                 // [E=4, K=3]
    const score = (x: tf.Tensor3D) => tf.matMul(tf.mean(tf.mul(x, tf.range(1, x.shape[1] + 1).reshape([1, -1, 1])), 1) as tf.Tensor2D, w) as tf.Tensor2D; // order-sensitive
    const frames = tf.randomNormal([5, 8, 4], 0, 1, 'float32', 3) as tf.Tensor3D;
    score(frames).dispose();
    const before = tf.memory().numTensors;
    const one = valEnsembleProbs(score, frames, 8, 1, streamFor(1, 't'));
    const single = tf.tidy(() => tf.softmax(score(frames)));
    assert.deepStrictEqual(Array.from(one.dataSync()), Array.from(single.dataSync()), '1 crop = softmax of the single view');
    const three = valEnsembleProbs(score, frames, 8, 3, streamFor(1, 't'));
    assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(three, single))).dataSync()[0]) < 1e-6, 'clips of numFrames frames are kept whole: every crop is the clip');
    // clips of 12 frames, 4 per crop: the crops differ; the average is that of each crop's softmax, drawn in the same order
    const long = tf.randomNormal([3, 12, 4], 0, 1, 'float32', 5) as tf.Tensor3D;
    const avg = valEnsembleProbs(score, long, 4, 3, streamFor(2, 't'));
    const rng = streamFor(2, 't');
    const expected = tf.tidy(() => {
      const views = [0, 1, 2].map(() => {
        const crops = [0, 1, 2].map((i) => tf.gather(long.slice([i, 0, 0], [1, 12, 4]), officialFrameIndices(12, 4, rng), 1));
        return tf.softmax(score(tf.concat(crops, 0) as tf.Tensor3D));
      });
      return tf.div(tf.addN(views), 3);
    });
    assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(avg, expected))).dataSync()[0]) < 1e-6);
    assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(avg, tf.softmax(score(long.slice([0, 0, 0], [3, 4, 4])))))).dataSync()[0]) > 1e-4, 'random crops, not the first window');
    tf.dispose([one, single, three, avg, expected, long]);
    assert.strictEqual(tf.memory().numTensors, before);
    assert.throws(() => valEnsembleProbs(score, frames, 8, 0, streamFor(1, 't')), /number of crops per clip must be a positive integer, got 0/);
    tf.dispose([w, frames]);
  });

  it('bad options: an unknown protocol, crops outside the closed protocol, shots outside few-shot, from the library and the command line', async () => {
    assert.throws(() => checkVideoProtocol('openset'), /unknown protocol "openset" \(valid: closed, fewshot, zeroshot/);
    assert.throws(() => checkVideoRun({ protocol: 'fewshot', valEnsemble: 5 }, true), /valEnsemble is an option of the closed protocol/);
    assert.throws(() => checkVideoRun({ valEnsemble: 0 }, true), /valEnsemble \(crops per test clip\) must be a positive integer, got 0/);
    assert.throws(() => checkVideoRun({ protocol: 'zeroshot', shots: [2] }, true), /shots \(clips per class\) are an option of the fewshot protocol/);
    assert.deepStrictEqual(checkVideoRun({}, false), { protocol: 'closed', valEnsemble: 1 });
    assert.deepStrictEqual(checkVideoRun({ protocol: 'fewshot' }, false), { protocol: 'fewshot', valEnsemble: 1, shots: [2, 4, 8, 16] });
    assert.deepStrictEqual(Object.keys(videoConfig(true)), Object.keys(videoConfig(true, { protocol: 'closed', valEnsemble: 1 })), 'the closed protocol records what it always recorded');
    assert.strictEqual(videoConfig(true, { protocol: 'closed' }).protocol, undefined);
    const cli = async (args: string[]) => {
      try {
        await reproCommand(args, () => undefined);
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    assert.match(await cli(['video', '--protocol', 'openset']), /^promptlab repro: video: unknown protocol "openset" \(valid: closed, fewshot, zeroshot/);
    assert.match(await cli(['video', '--val-ensemble', 'x']), /--val-ensemble must be a positive integer \(crops per test clip\), got 'x'/);
    assert.match(await cli(['video', '--protocol', 'zeroshot', '--val-ensemble', '5']), /valEnsemble is an option of the closed protocol/);
    assert.match(await cli(['czsl', '--protocol', 'fewshot']), /--protocol and --val-ensemble are video options; czsl has one protocol/);
  });
});

describe('video protocols on the quick world-motion split', () => {
  let model: ClipModel;
  let tokenizer: ClipTokenizer;
  let cacheDir: string;
  before(() => {
    ({ model, tokenizer } = loadMiniClip());
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-video-protocols-'));
  });
  after(() => {
    model.dispose();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  });
  const results = (rows: ResultRow[], config: Record<string, unknown>) => ({ experiment: 'video', config: { model: 'models/miniclip', quick: true, seeds: [1], ...config } as Record<string, unknown>, env: {} as never, rows, summary: summarise(rows) });

  it('fewshot: k clips of every motion per (seed, k), rows accuracy@k / top5@k / reversal-confusion@k, zero-shot @0; a figure and a table; k above the quick split\'s clips is refused before training', function () {
    this.timeout(300000);
    const seen: VideoEvaluation[] = [];
    const before = tf.memory().numTensors;
    const rows = runVideo(model, tokenizer, { quick: true, seeds: [1], protocol: 'fewshot', shots: [2, 4], iterations: 2, cacheDir, onEvaluated: (e) => seen.push(e) });
    assert.strictEqual(tf.memory().numTensors, before);
    assert.strictEqual(rows.length, 3 + 2 * 2 * 3);
    assert.deepStrictEqual(rows.filter((r) => r.method === 'zeroshot').map((r) => r.metric), ['accuracy@0', 'top5@0', 'reversal-confusion@0']);
    for (const m of ['prompt', 'videoprompt']) {
      assert.deepStrictEqual(rows.filter((r) => r.method === m).map((r) => r.metric), ['accuracy@2', 'top5@2', 'reversal-confusion@2', 'accuracy@4', 'top5@4', 'reversal-confusion@4']);
    }
    for (const r of rows) {
      assert.deepStrictEqual([r.dataset, r.split, r.seed], ['world-motion', 'test', 1]);
      assert.ok(r.value >= 0 && r.value <= 100, `${r.method} ${r.metric} = ${r.value}`);
    }
    const trained = seen.filter((e) => e.method !== 'zeroshot');
    assert.deepStrictEqual(trained.map((e) => [e.method, e.k]), [['prompt', 2], ['videoprompt', 2], ['prompt', 4], ['videoprompt', 4]]);
    for (const e of trained) {
      assert.strictEqual(e.trainClipClasses?.length, 10, 'all-way: clips of every motion');
      assert.deepStrictEqual(e.shape, [50, 10], 'the whole quick test split over all 10 motions');
    }
    const res = results(rows, videoConfig(true, { protocol: 'fewshot', shots: [2, 4] }));
    assert.deepStrictEqual(res.config.iterations, { 2: 176, 4: 176 }, 'the quick preset\'s passes per clip');
    const [fig] = figuresFor(res as never);
    assert.strictEqual(fig.name, 'video-fewshot');
    const [table] = tablesFor(res as never);
    assert.deepStrictEqual(table.frame.columns, ['method', 'k = 0: top-1', 'k = 2: top-1', 'k = 4: top-1', 'k = 0: reversal', 'k = 2: reversal', 'k = 4: reversal']);
    assert.throws(() => runVideo(model, tokenizer, { quick: true, protocol: 'fewshot', shots: [16], iterations: 1, cacheDir }), /world-motion: k = 16 clips per class is more than the train split holds \("moving left" has 8.*valid: k <= 8\)/);
    assert.strictEqual(tf.memory().numTensors, before);
  });

  it('zeroshot: trained on the seen motions only, scoring only the held-out ones; rows base/new; a figure and a table', function () {
    this.timeout(300000);
    const seen: VideoEvaluation[] = [];
    const before = tf.memory().numTensors;
    const rows = runVideo(model, tokenizer, { quick: true, seeds: [1], protocol: 'zeroshot', iterations: 2, cacheDir, onEvaluated: (e) => seen.push(e) });
    assert.strictEqual(tf.memory().numTensors, before);
    assert.strictEqual(rows.length, 3 * 2 * 2);
    assert.deepStrictEqual([...new Set(rows.map((r) => `${r.split} ${r.metric}`))], ['base accuracy', 'base reversal-confusion', 'new accuracy', 'new reversal-confusion']);
    const phrase = (ms: readonly MotionName[]) => ms.map((m) => MOTION_PHRASES[m]);
    const heldOut = phrase(MOTION_CLASS_SPLIT.heldOut);
    const trainedOn = phrase(MOTION_CLASS_SPLIT.seen);
    for (const e of seen.filter((x) => x.method !== 'zeroshot')) {
      assert.deepStrictEqual(e.trainedOn, trainedOn, `${e.method} trained with the seen motions' names only`);
      assert.deepStrictEqual(e.trainClipClasses, trainedOn, `${e.method} trained on the seen motions' clips only`);
    }
    for (const e of seen.filter((x) => x.split === 'new')) {
      assert.deepStrictEqual(e.scored, heldOut, `${e.method} scores the held-out motions`);
      assert.deepStrictEqual(e.shape, [25, 5], '5 held-out motions x 5 quick test clips, over the 5 held-out names');
    }
    assert.deepStrictEqual(seen.filter((x) => x.split === 'new').map((e) => e.method), ['zeroshot', 'prompt', 'videoprompt']);
    const res = results(rows, { ...videoConfig(true, { protocol: 'zeroshot' }), chance: { 'world-motion': { base: 20, new: 20 } } });
    assert.deepStrictEqual((res.config.classSplit as { heldOut: string[] }).heldOut, heldOut);
    const [fig] = figuresFor(res as never);
    assert.strictEqual(fig.name, 'video-heldout');
    const [table] = tablesFor(res as never);
    assert.deepStrictEqual(table.frame.columns, ['method', 'seen: top-1', 'seen: reversal', 'held out: top-1', 'held out: reversal']);
  });

  it('closed with --val-ensemble 3: world clips are kept whole, so every crop is the clip and the numbers are those of one view', function () {
    this.timeout(300000);
    const before = tf.memory().numTensors;
    const one = runVideo(model, tokenizer, { quick: true, seeds: [1], iterations: 2, cacheDir });
    const three = runVideo(model, tokenizer, { quick: true, seeds: [1], iterations: 2, cacheDir, valEnsemble: 3 });
    assert.strictEqual(tf.memory().numTensors, before);
    assert.deepStrictEqual(three, one);
    const res = results(three, videoConfig(true, { valEnsemble: 3 }));
    assert.strictEqual(res.config.valEnsemble, 3);
    assert.match(String((figuresFor(res as never)[0].figure.layout as { title: { text: string } }).title.text), /3 crops per clip/);
  });
});
