// The compositional zero-shot evaluator against the official CSP evaluator's own outputs
// (PROMPTLAB_CZSL_DIR, default the shared fixtures, else test/fixtures/czsl-eval): every statistic
// within 1e-6, closed and open world.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { czslDir } from '../fixture-dirs';
import { evaluateCzsl } from '../../src/eval/czsl';

type P = [string, string];
interface CzslCase {
  name: string;
  open_world: boolean;
  attrs: string[];
  objs: string[];
  pairs: P[];
  train_pairs: P[];
  val_pairs: P[];
  test_pairs: P[];
  logits: number[][];
  attr_truth: number[];
  obj_truth: number[];
  pair_truth: number[];
  expected: Record<string, number>;
}

const { dir, source } = czslDir();
const casesFile = path.join(dir, 'cases.json');
const spec = fs.existsSync(casesFile) ? (JSON.parse(fs.readFileSync(casesFile, 'utf8')) as { source: string; cases: CzslCase[] }) : null;

describe(`CZSL evaluator parity with the official code: ${dir} (${source})`, () => {
  it('the CZSL fixture directory exists and holds cases', () => {
    assert.ok(spec, `${casesFile} is missing (set PROMPTLAB_CZSL_DIR to the czsl-eval fixtures)`);
    assert.ok(spec.cases.length > 0, `${casesFile} lists no case`);
  });
  if (!spec) return;

  for (const c of spec.cases) {
    it(`${c.name}: every statistic within 1e-6 (${c.open_world ? 'open' : 'closed'} world, ${c.logits.length} images, ${c.pairs.length} pairs)`, () => {
      const stats = evaluateCzsl({
        attrs: c.attrs, objs: c.objs, pairs: c.pairs, trainPairs: c.train_pairs, valPairs: c.val_pairs, testPairs: c.test_pairs,
        openWorld: c.open_world, logits: Float32Array.from(c.logits.flat()), attrTruth: c.attr_truth, objTruth: c.obj_truth, pairTruth: c.pair_truth,
      });
      for (const [k, v] of Object.entries(c.expected)) {
        assert.ok(k in stats, `missing statistic ${k}`);
        assert.ok(Math.abs(stats[k] - v) <= 1e-6, `${k}: ${stats[k]} vs ${v}`);
      }
    });
  }
});
