// A model folder for repro / model-card / figures: the weights with their config, and the tokenizer
// beside them (bpe.txt, a Hugging Face tokenizer, or CLIP's BPE from the user cache), or an error
// saying which files would do.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ClipTokenizer } from '../../src/clip/tokenizer';
import { loadMiniClip } from '../../src/miniclip';

const HF = path.resolve(__dirname, '..', 'fixtures', 'clip-parity', 'vit-tiny', 'hf');

describe('model folders (repro --model DIR)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-model-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a Hugging Face folder without a tokenizer is refused naming the files that would do; with vocab.json + merges.txt it loads', () => {
    const dir = path.join(tmp, 'hf');
    fs.mkdirSync(dir);
    for (const f of ['model.safetensors', 'config.json']) fs.copyFileSync(path.join(HF, f), path.join(dir, f));
    assert.throws(() => loadMiniClip(dir), /hf: no tokenizer beside the model \(bpe\.txt, tokenizer\.json, or vocab\.json \+ merges\.txt\)/);
    // a byte-level vocabulary like CLIP's, small enough for the fixture's 1,000-row embedding table
    const base = ClipTokenizer.fromMerges('#version: 0.2\nh e\n');
    const vocab: Record<string, number> = {};
    for (let id = 0; id < base.vocabSize; id++) {
      const t = base.idToToken(id);
      if (t !== undefined && !t.startsWith('<|')) vocab[t] = id;
    }
    vocab['<|startoftext|>'] = 998;
    vocab['<|endoftext|>'] = 999;
    fs.writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(vocab));
    fs.writeFileSync(path.join(dir, 'merges.txt'), '#version: 0.2\nh e\n');
    const { model, tokenizer } = loadMiniClip(dir);
    assert.strictEqual(model.config.vocabSize, 1000);
    assert.deepStrictEqual([tokenizer.sotToken, tokenizer.eotToken], [998, 999]);
    model.dispose();
  });
});
