// The model card's "What limits it": read from the numbers, naming the benchmarks it concerns.
import * as assert from 'assert';
import { limitsSection, type BenchmarkKnowledge } from '../../src/miniclip/card';

const k = (dataset: string, zeroshot: number, probe: number): BenchmarkKnowledge => ({ dataset, classes: 5, chance: 20, zeroshot, ensemble: zeroshot, probe, probeC: 1 });

describe('model card: what limits the model', () => {
  it('a low probe blames the image tower; a probe far above zero-shot blames the captions; none, no section', () => {
    const s = limitsSection([k('world-patterns', 40.7, 46.1), k('world-positions', 60, 96.7), k('world-shapes', 88.3, 86.7)], 64);
    assert.match(s, /^## What limits it/);
    assert.match(s, /\*\*world-patterns\*\*: zero-shot 40\.7%, linear probe 46\.1%.*image tower.*at 64 px.*128 px/);
    assert.match(s, /\*\*world-positions\*\*: the linear probe \(96\.7%\) is well above zero-shot \(60\.0%\)/);
    assert.doesNotMatch(s, /world-shapes/);
    assert.strictEqual(limitsSection([k('world-shapes', 88.3, 86.7)], 64), '');
  });
});
