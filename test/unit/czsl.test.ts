// promptlab repro czsl on the quick world-czsl: the rows the pinned format asks for, no tensor left
// behind, and zero-shot CLIP's closed-world numbers recomputed by hand from the evaluator.
import * as assert from 'assert';
import * as tf from '@tensorflow/tfjs';
import type { CompositionalDataset } from '../../src/data/dataset';
import { getWorldDataset } from '../../src/data/world-benchmarks';
import { evaluateCzsl } from '../../src/eval/czsl';
import { encodeImages } from '../../src/eval/features';
import { cspName } from '../../src/methods/csp';
import { l2normalize } from '../../src/methods/method';
import { loadMiniClip } from '../../src/miniclip';
import { runCzsl } from '../../src/repro/czsl';

describe('repro czsl', () => {
  it('zero-shot CLIP, CoOp and CSP, closed and open world, six metrics each; zero-shot as the evaluator gives it by hand', function () {
    this.timeout(240000);
    const { model, tokenizer } = loadMiniClip();
    try {
      const before = tf.memory().numTensors;
      const rows = runCzsl(model, tokenizer, { quick: true, seeds: [1] });
      assert.strictEqual(tf.memory().numTensors, before, 'no tensor left behind');
      assert.strictEqual(rows.length, 3 * 2 * 6);
      assert.deepStrictEqual([...new Set(rows.map((r) => `${r.method}/${r.split}`))], ['zeroshot/closed', 'zeroshot/open', 'coop/closed', 'coop/open', 'csp/closed', 'csp/open']);
      assert.deepStrictEqual([...new Set(rows.map((r) => r.metric))], ['seen', 'unseen', 'hm', 'auc', 'attr', 'obj']);
      // zero-shot, closed world, by hand
      const ds = getWorldDataset('world-czsl', { quick: true }) as CompositionalDataset;
      const test = ds.split('test');
      const img = encodeImages(model, test.length, (i) => ds.image(test[i], 'test'), () => 0);
      const text = tf.tidy(() => l2normalize(model.encodeText(tokenizer.tokenize(ds.pairs.map(([a, o]) => `a photo of ${cspName(a)} ${cspName(o)}`), { contextLength: model.config.contextLength }))));
      const logits = tf.tidy(() => tf.mul(tf.matMul(img.features, text, false, true), Math.exp(model.logitScale)).dataSync() as Float32Array);
      tf.dispose([img.features, text]);
      const index = new Map(ds.pairs.map(([a, o], i) => [`${a} ${o}`, i]));
      const st = evaluateCzsl({
        attrs: ds.attrs, objs: ds.objs, pairs: ds.pairs, trainPairs: ds.trainPairs, valPairs: ds.valPairs, testPairs: ds.testPairs, openWorld: false, logits,
        attrTruth: test.map((t) => t.attr), objTruth: test.map((t) => t.obj), pairTruth: test.map((t) => index.get(`${ds.attrs[t.attr]} ${ds.objs[t.obj]}`) as number),
      });
      const get = (metric: string) => rows.find((r) => r.method === 'zeroshot' && r.split === 'closed' && r.metric === metric)!.value;
      assert.ok(Math.abs(get('auc') - 100 * st.AUC) < 1e-9, `AUC ${get('auc')} vs ${100 * st.AUC}`);
      assert.ok(Math.abs(get('unseen') - 100 * st.best_unseen) < 1e-9);
      assert.ok(Math.abs(get('attr') - 100 * st.attr_acc) < 1e-9);
    } finally {
      model.dispose();
    }
  });
});
