// CoOp's linear probe against its own procedure run with scikit-learn (PROMPTLAB_LINEAR_PROBE_DIR,
// default the shared fixtures, else test/fixtures/linear-probe): the 7-value C search on val, the
// 8 rounds of the binary search, and the last round's test accuracy, through src/eval/linear-probe.ts.
// Tolerance (the fixtures' README): final test accuracy within 2.5 points per case, 1 point on average.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { linearProbeDir } from '../fixture-dirs';
import { linearProbe, PROBE_SEARCH_C } from '../../src/eval/linear-probe';

interface Split { features: number[][]; labels: number[] }
interface ProbeCase {
  name: string;
  classes: number;
  dim: number;
  shots: number;
  train: Split;
  val: Split;
  test: Split;
  expected: {
    search_C: number[];
    search_val_acc: number[];
    steps: { c_left_acc: number; c_right_acc: number; c_final: number; test_acc: number }[];
    final_test_acc: number;
  };
}

const { dir, source } = linearProbeDir();
const casesFile = path.join(dir, 'cases.json');
const spec = fs.existsSync(casesFile) ? (JSON.parse(fs.readFileSync(casesFile, 'utf8')) as { source: string; cases: ProbeCase[] }) : null;

describe(`linear probe parity with CoOp's procedure: ${dir} (${source})`, () => {
  it('the linear-probe fixture directory exists and holds cases', () => {
    assert.ok(spec, `${casesFile} is missing (set PROMPTLAB_LINEAR_PROBE_DIR to the linear-probe fixtures)`);
    assert.ok(spec.cases.length > 0, `${casesFile} lists no case`);
  });
  if (!spec) return;

  for (const c of spec.cases) {
    it(`${c.name}: ${c.classes} classes, ${c.shots} shots, dim ${c.dim}: the search and the final test accuracy`, () => {
      assert.deepStrictEqual(c.expected.search_C, PROBE_SEARCH_C, 'the same C grid');
      const r = linearProbe(c.train, c.val, c.test);
      const got = 100 * r.testAccuracy;
      assert.ok(Math.abs(got - c.expected.final_test_acc) <= 2.5, `final test accuracy ${got.toFixed(2)} vs ${c.expected.final_test_acc.toFixed(2)}`);
      // the path: where the solvers agree (they do away from the grid's extremes), the same val
      // accuracies and the same chosen C; reported here so a drift is seen, asserted within a val example
      const n = c.val.labels.length;
      c.expected.search_val_acc.forEach((v, i) => assert.ok(Math.abs(r.search[i].valAccuracy - v) <= 1 / n + 1e-12, `search C=${PROBE_SEARCH_C[i]}: val ${r.search[i].valAccuracy} vs ${v}`));
      assert.strictEqual(r.steps.length, c.expected.steps.length);
      assert.strictEqual(r.C, r.steps[r.steps.length - 1].cFinal, 'the reported classifier is the last round\'s');
      assert.strictEqual(100 * r.steps[r.steps.length - 1].testAccuracy, got);
    });
  }

  it('on average over the cases, within 1 point of the reference', () => {
    const diffs = spec.cases.map((c) => Math.abs(100 * linearProbe(c.train, c.val, c.test).testAccuracy - c.expected.final_test_acc));
    const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
    assert.ok(mean <= 1, `mean |difference| ${mean.toFixed(3)} points over ${diffs.length} cases`);
  });
});
