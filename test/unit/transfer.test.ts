// promptlab repro transfer: CoCoOp's cross-dataset transfer and domain generalisation protocols on
// the world. One model per method and seed, trained on the source, is evaluated on every target.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import type { ClassificationDataset } from '../../src/data/dataset';
import { getWorldDataset } from '../../src/data/world-benchmarks';
import { encodeImages, zeroshotAccuracyOf } from '../../src/eval/features';
import { loadMiniClip } from '../../src/miniclip';
import { defaultDatasets, runExperiment } from '../../src/repro/experiments';
import { runTransfer, TRANSFER_DATASETS, transferRoles } from '../../src/repro/transfer';

describe('transfer (cross-dataset and domain generalisation)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-transfer-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('the first dataset is the source; each other is its domain-shifted version (dg) or another dataset (xd)', () => {
    assert.deepStrictEqual(transferRoles(TRANSFER_DATASETS).map((r) => r.role), ['source', 'dg', 'xd', 'xd', 'xd']);
    assert.deepStrictEqual(transferRoles(['world-colors', 'world-shapes']), [{ dataset: 'world-colors', role: 'source' }, { dataset: 'world-shapes', role: 'xd' }]);
    assert.deepStrictEqual(defaultDatasets('transfer', false), TRANSFER_DATASETS);
    assert.ok(!defaultDatasets('transfer', true).includes('world-colors'));
    assert.strictEqual(defaultDatasets('transfer', true)[0], 'world-shapes');
  });

  it('a target that is not one of the source\'s, a repeated one or an unknown source is refused before anything runs', async () => {
    assert.throws(() => transferRoles(['world-patterns', 'world-patterns']), /"world-patterns" is not a target of the source world-patterns/);
    assert.throws(() => transferRoles(['world-shapes', 'world-sketches', 'world-sketches']), /"world-sketches" is listed twice/);
    assert.throws(() => transferRoles(['world-czsl']), /unknown source "world-czsl" \(valid: world-shapes, /);
    assert.throws(() => transferRoles([]), /no datasets/);
    const out = path.join(tmp, 'refused');
    await assert.rejects(runExperiment('transfer', { quick: true, datasets: ['world-patterns', 'world-patterns'], out }), /not a target of the source world-patterns \(domain generalisation: none; cross-dataset: world-shapes, /);
    assert.ok(!fs.existsSync(out), 'nothing written');
  });

  it('trains once per method and seed on the source and evaluates that model on every target, without leaking tensors', function () {
    this.timeout(240000);
    const { model, tokenizer } = loadMiniClip();
    try {
      const before = tf.memory().numTensors;
      const rows = runTransfer(model, tokenizer, { quick: true, seeds: [1], datasets: ['world-shapes', 'world-sketches', 'world-patterns'] });
      assert.strictEqual(tf.memory().numTensors, before, 'no tensor left behind');
      const roles = (m: string) => rows.filter((r) => r.method === m).map((r) => `${r.dataset}:${r.split}`);
      for (const m of ['zeroshot', 'coop', 'cocoop']) {
        assert.deepStrictEqual(roles(m), ['world-shapes:source', 'world-sketches:dg', 'world-patterns:xd'], m);
      }
      for (const r of rows) assert.strictEqual(r.metric, 'accuracy');
      // zero-shot on each target is the target's own zero-shot accuracy with its template
      for (const t of ['world-shapes', 'world-sketches', 'world-patterns'] as const) {
        const ds = getWorldDataset(t, { quick: true }) as ClassificationDataset;
        const test = ds.split('test');
        const f = encodeImages(model, test.length, (i) => ds.image(test[i], 'test'), (i) => test[i].label);
        const expected = 100 * zeroshotAccuracyOf(model, tokenizer, f.features, f.labels, ds.classNames, [ds.template]);
        f.features.dispose();
        assert.strictEqual(rows.find((r) => r.method === 'zeroshot' && r.dataset === t)!.value, expected, t);
      }
      // the source's few-shot training moved CoOp's prompts: its accuracies are not zero-shot's
      const z = rows.filter((r) => r.method === 'zeroshot').map((r) => r.value);
      const c = rows.filter((r) => r.method === 'coop').map((r) => r.value);
      assert.notDeepStrictEqual(c, z);
    } finally {
      model.dispose();
    }
  });
});
