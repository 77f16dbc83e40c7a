// The shipped MiniCLIP (models/miniclip): it loads through the ordinary CLIP loader, its files
// agree with each other, and it has learned the world (zero-shot well above chance on a quick
// benchmark slice: a property of the checkpoint, re-measured in full in its model card).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { inferConfig } from '../../src/clip/config';
import { readSafetensorsHeader } from '../../src/clip/safetensors';
import { loadMiniClip, MINICLIP_DIR, miniClipConfig } from '../../src/miniclip';
import type { ClassificationDataset } from '../../src/data/dataset';
import { getWorldDataset } from '../../src/data/world-benchmarks';
import { zeroshotAccuracy } from '../../src/repro/zeroshot';

describe('the shipped MiniCLIP checkpoint', () => {
  it('has weights, config, vocabulary, pretraining log and model card', () => {
    for (const f of ['model.safetensors', 'config.json', 'bpe.txt', 'pretrain-log.jsonl', 'MODEL_CARD.md']) {
      assert.ok(fs.existsSync(path.join(MINICLIP_DIR, f)), `models/miniclip/${f} is missing`);
    }
    assert.ok(fs.statSync(path.join(MINICLIP_DIR, 'model.safetensors')).size <= 25 * 1024 * 1024, 'the checkpoint must stay under 25 MB');
  });

  it('is MiniCLIP: the architecture inferred from its tensors is the preset', () => {
    const { model, tokenizer } = loadMiniClip();
    try {
      const header = readSafetensorsHeader(path.join(MINICLIP_DIR, 'model.safetensors'));
      const inferred = inferConfig(new Map([...header.entries].map(([k, e]) => [k, e.shape])));
      assert.deepStrictEqual(inferred, miniClipConfig(tokenizer.vocabSize));
      assert.deepStrictEqual(model.config, miniClipConfig(tokenizer.vocabSize));
    } finally {
      model.dispose();
    }
  });

  it('zero-shot on world-shapes (quick test split) is well above chance', function () {
    this.timeout(120000);
    const { model, tokenizer } = loadMiniClip();
    const before = tf.memory().numTensors;
    try {
      const ds = getWorldDataset('world-shapes', { quick: true }) as ClassificationDataset;
      const acc = zeroshotAccuracy(model, tokenizer, ds, [ds.template]);
      assert.ok(acc > 2 / ds.classNames.length, `zero-shot accuracy ${(100 * acc).toFixed(1)}% is not above twice chance (${(200 / ds.classNames.length).toFixed(0)}%)`);
      assert.strictEqual(tf.memory().numTensors, before);
    } finally {
      model.dispose();
    }
  });
});
