// promptlab repro video: its metrics on hand-made logits, and a short run of the whole protocol on the
// quick world-motion split (rows in the pinned format, nothing leaked).
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { loadMiniClip } from '../../src/miniclip';
import { runVideo, runVideoWalkthrough, videoMetrics } from '../../src/repro/video';
import { confusionMatrix, videoConfusionFigure } from '../../src/viz/video-figures';
import { summarise } from '../../src/repro/record';
import { figuresFor } from '../../src/viz/figures';
import { tablesFor } from '../../src/viz/tables';

describe('repro video', () => {
  it('top-1, top-5 and reversal confusion of hand-made logits', () => {
    // 6 classes; 0 <-> 1 are time reversals of each other, the others have none
    const reversal = [1, 0, null, null, null, null];
    const logits = tf.tensor2d([
      [5, 4, 0, 0, 0, 0], // label 0: right
      [5, 4, 0, 0, 0, 0], // label 1: predicted as its reversal (0), true class second
      [0, 0, 1, 2, 3, 4], // label 2: ranked 5th of 6 -> in the top 5
      [9, 8, 7, 6, 5, 4], // label 5: ranked 6th -> not in the top 5
    ]);
    const r = videoMetrics(logits, [0, 1, 2, 5], reversal);
    assert.strictEqual(r.accuracy, 25);
    assert.strictEqual(r.top5, 75);
    assert.strictEqual(r.reversalConfusion, 50, 'of the two clips of paired classes, one is predicted as its reversal');
    // ties go to the lower index, as argmax does
    const tie = tf.tensor2d([[1, 1, 0, 0, 0, 0]]);
    assert.strictEqual(videoMetrics(tie, [1], reversal).accuracy, 0);
    assert.strictEqual(videoMetrics(tie, [0], reversal).accuracy, 100);
    tf.dispose([logits, tie]);
  });

  it('a short run on the quick split: zero-shot, prompts and the temporal model, every metric, figures and tables, no tensor left', function () {
    this.timeout(300000);
    const { model, tokenizer } = loadMiniClip();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-video-'));
    try {
      const before = tf.memory().numTensors;
      const rows = runVideo(model, tokenizer, { quick: true, seeds: [1, 2], iterations: 3, cacheDir: dir });
      assert.strictEqual(tf.memory().numTensors, before);
      assert.deepStrictEqual([...new Set(rows.map((r) => r.method))], ['zeroshot', 'prompt', 'videoprompt']);
      assert.deepStrictEqual([...new Set(rows.map((r) => r.metric))], ['accuracy', 'top5', 'reversal-confusion']);
      assert.strictEqual(rows.length, 2 * 3 * 3);
      for (const r of rows) {
        assert.strictEqual(r.dataset, 'world-motion');
        assert.strictEqual(r.split, 'test');
        assert.ok(r.value >= 0 && r.value <= 100, `${r.method} ${r.metric} = ${r.value}`);
      }
      // top-5 is at least top-1; zero-shot is the same for both seeds, trained prompts differ by seed
      for (const m of ['zeroshot', 'prompt', 'videoprompt']) for (const seed of [1, 2]) {
        const v = (metric: string) => rows.find((r) => r.method === m && r.seed === seed && r.metric === metric)?.value as number;
        assert.ok(v('top5') >= v('accuracy'));
      }
      assert.ok(fs.readdirSync(dir).some((f) => f.endsWith('.npy')), 'the frame features were cached');
      const results = { experiment: 'video', config: { model: 'models/miniclip', quick: true, seeds: [1, 2] }, env: {} as never, rows, summary: summarise(rows) };
      assert.strictEqual(figuresFor(results as never)[0].name, 'video');
      const [table] = tablesFor(results as never);
      assert.deepStrictEqual(table.frame.columns, ['method', 'top-1 accuracy', 'top-5 accuracy', 'predicted as its time reversal']);
    } finally {
      model.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the walkthrough: every test clip's prediction by each method, and its confusion matrices", function () {
    this.timeout(300000);
    assert.deepStrictEqual(confusionMatrix([0, 0, 1, 1], [0, 1, 1, 1], 2), [[50, 50], [0, 100]]);
    const { model, tokenizer } = loadMiniClip();
    try {
      const before = tf.memory().numTensors;
      const w = runVideoWalkthrough(model, tokenizer, { quick: true, iterations: 2, cacheDir: null });
      assert.strictEqual(tf.memory().numTensors, before);
      assert.strictEqual(w.reversalOf.filter((r) => r !== null).length, 8, 'four pairs of time-reversed motions');
      w.reversalOf.forEach((r, i) => { if (r !== null) assert.strictEqual(w.reversalOf[r], i); });
      for (const m of ['zeroshot', 'prompt', 'videoprompt'] as const) {
        assert.strictEqual(w.predictions[m].length, w.labels.length);
        const right = w.predictions[m].filter((p, i) => p === w.labels[i]).length;
        assert.strictEqual(w.metrics[m].accuracy, (100 * right) / w.labels.length);
      }
      const f = videoConfusionFigure(w);
      assert.strictEqual((f.figure.data as unknown[]).length, 3);
    } finally {
      model.dispose();
    }
  });
});
