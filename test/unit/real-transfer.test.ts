// `promptlab repro transfer --data ROOT`: CoCoOp's cross-dataset transfer and domain generalisation on
// the papers' datasets, here tiny ones the test writes in CoOp's exact layout (ImageNet's folders and
// classnames.txt, V2's label folders, Sketch / A / R's wnid folders with A and R holding a subset of
// the classes, Caltech101 and DTD as split_zhou JSONs), with a tiny random CLIP at the official
// presets' 224 px: the roles, the rows, the official configs, the class subsets, and the errors for a
// wrong source and a missing dataset (naming the file and its manifest).
import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import type { ClipConfig } from '../../src/clip/config';
import { randomStateDict } from '../../src/clip/random';
import { runExperiment } from '../../src/repro/experiments';
import { REAL_TRANSFER_DATASETS, realTransferRoles } from '../../src/repro/transfer';
import { writeCoopSplitDataset, writeImageNetFamily, TINY_VIT_224 } from '../helpers/coop-data';
import { torchSaveStateDict } from '../helpers/torch-save';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'promptlab.js');

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env, cwd: ROOT });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdout.resume();
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

describe('repro transfer --data ROOT (tiny datasets in CoOp\'s layout, a tiny random CLIP)', function () {
  this.timeout(600000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-transfer-'));
  const data = path.join(tmp, 'data');
  const weights = path.join(tmp, 'model', 'ViT-B-16.pt');
  const config: ClipConfig = TINY_VIT_224;
  before(() => {
    writeImageNetFamily(data);
    writeCoopSplitDataset(data, { dir: 'caltech-101', images: '101_ObjectCategories', split: 'split_zhou_Caltech101.json', classes: ['airplane', 'face', 'joshua_tree', 'leopard'] });
    writeCoopSplitDataset(data, { dir: 'dtd', images: 'images', split: 'split_zhou_DescribableTextures.json', classes: ['banded', 'blotchy'], test: 2 });
    fs.mkdirSync(path.dirname(weights), { recursive: true });
    torchSaveStateDict(weights, randomStateDict(config, 11));
    fs.writeFileSync(path.join(path.dirname(weights), 'bpe_simple_vocab_16e6.txt.gz'), zlib.gzipSync('#version: 0.2\nh e\n'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("the roles: ImageNet the source, CoOp's other datasets 'xd', ImageNet's four shifts 'dg'; a test-only source, a shift of another source and a repeat are refused", () => {
    assert.deepStrictEqual(REAL_TRANSFER_DATASETS, ['imagenet', 'caltech101', 'oxford_pets', 'stanford_cars', 'oxford_flowers', 'food101', 'fgvc_aircraft', 'sun397', 'dtd', 'eurosat', 'ucf101', 'imagenetv2', 'imagenet_sketch', 'imagenet_a', 'imagenet_r']);
    const roles = realTransferRoles(REAL_TRANSFER_DATASETS);
    assert.deepStrictEqual(roles.filter((r) => r.role === 'xd').map((r) => r.dataset), REAL_TRANSFER_DATASETS.slice(1, 11));
    assert.deepStrictEqual(roles.filter((r) => r.role === 'dg').map((r) => r.dataset), ['imagenetv2', 'imagenet_sketch', 'imagenet_a', 'imagenet_r']);
    assert.deepStrictEqual(realTransferRoles(['ImageNet', 'Caltech101', 'ImageNetA']), [{ dataset: 'imagenet', role: 'source' }, { dataset: 'caltech101', role: 'xd' }, { dataset: 'imagenet_a', role: 'dg' }], 'any of a dataset\'s names, results use CoOp\'s');
    assert.deepStrictEqual(realTransferRoles(['dtd', 'eurosat']).map((r) => r.role), ['source', 'xd']);
    assert.throws(() => realTransferRoles(['imagenet_r', 'caltech101']), /transfer: the source imagenet_r is test-only .*the papers train on imagenet: --datasets imagenet,caltech101,/);
    assert.throws(() => realTransferRoles(['caltech101', 'imagenet_sketch']), /transfer: imagenet_sketch is a domain-shifted ImageNet \(test only\): a target of the source imagenet, not of caltech101/);
    assert.throws(() => realTransferRoles(['imagenet', 'dtd', 'DTD']), /transfer: "dtd" is listed twice/);
    assert.throws(() => realTransferRoles(['imagenet', 'mnist']), /unknown dataset "mnist" for --data \(valid: imagenet, caltech101/);
  });

  it('trains on ImageNet with the official configs and evaluates every target with its own classes: one row per method, target and seed, its role as the split', async () => {
    const lines: string[] = [];
    const datasets = ['imagenet', 'caltech101', 'dtd', 'imagenetv2', 'imagenet_sketch', 'imagenet_a', 'imagenet_r'];
    const res = await runExperiment('transfer', { quick: true, cachedFeatures: true, seeds: [1], model: weights, data, datasets, out: path.join(tmp, 'out'), log: (l) => lines.push(l) });
    const role: Record<string, string> = { imagenet: 'source', caltech101: 'xd', dtd: 'xd', imagenetv2: 'dg', imagenet_sketch: 'dg', imagenet_a: 'dg', imagenet_r: 'dg' };
    assert.strictEqual(res.rows.length, 3 * datasets.length);
    for (const method of ['zeroshot', 'coop', 'cocoop']) {
      const rows = res.rows.filter((r) => r.method === method);
      assert.deepStrictEqual(rows.map((r) => [r.dataset, r.split, r.metric, r.seed]), datasets.map((d) => [d, role[d], 'accuracy', 1]), method);
      for (const r of rows) assert.ok(r.value >= 0 && r.value <= 100, JSON.stringify(r));
    }
    // the papers' averages: over the cross-dataset targets, and over the domain shifts
    const avg = (method: string, split: string) => res.summary.find((s) => s.method === method && s.dataset === 'average' && s.split === split);
    const xd = res.rows.filter((r) => r.method === 'cocoop' && r.split === 'xd');
    assert.ok(Math.abs(avg('cocoop', 'xd')!.mean - (xd[0].value + xd[1].value) / 2) < 1e-9);
    assert.ok(avg('coop', 'dg'));
    const c = res.config as Record<string, any>;
    assert.strictEqual(c.presets, 'official');
    assert.deepStrictEqual(c.roles, role);
    assert.deepStrictEqual([c.coop.preset, c.coop.optim.epochs], ['vit_b16_ep50_ctxv1', 10], "CoOp's ImageNet config (50 epochs), a fifth in a quick run");
    assert.deepStrictEqual([c.cocoop.preset, c.cocoop.optim.epochs], ['vit_b16_c4_ep10_batch1_ctxv1', 2], "CoCoOp's xd_train.sh config");
    assert.strictEqual(c.shots, 16);
    // the class subsets: A and R are evaluated on the classes whose folders they hold (2 of 3 here), V2 and Sketch on all
    assert.deepStrictEqual(Object.fromEntries(datasets.map((d) => [d, c.chance[d].test])), { imagenet: 100 / 3, caltech101: 25, dtd: 50, imagenetv2: 100 / 3, imagenet_sketch: 100 / 3, imagenet_a: 50, imagenet_r: 50 });
    assert.deepStrictEqual(res.data!.map((d) => d.id), ['coop-imagenet', 'coop-caltech101', 'coop-dtd', 'coop-imagenetv2', 'coop-imagenet-sketch', 'coop-imagenet-a', 'coop-imagenet-r']);
    assert.ok(lines.some((l) => /^imagenet_a: 2 classes, 2 train \/ 0 val \/ 2 test images/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^imagenet -> targets, seed 1, cocoop \(2 epochs/.test(l)), lines.join('\n'));
    assert.ok(!lines.some((l) => /are not among imagenet's/.test(l)), 'the shifts share ImageNet\'s class names');
  });

  it("a shift whose class names are not ImageNet's is reported", async () => {
    const other = path.join(tmp, 'renamed');
    writeImageNetFamily(other, { skip: ['imagenetv2', 'imagenet_a', 'imagenet_r'] });
    fs.writeFileSync(path.join(other, 'imagenet-sketch', 'classnames.txt'), 'n01440764 tinca tinca\nn01443537 goldfish\nn01484850 shark\n');
    const lines: string[] = [];
    await runExperiment('transfer', { quick: true, cachedFeatures: true, seeds: [1], model: weights, data: other, datasets: ['imagenet', 'imagenet_sketch'], out: path.join(tmp, 'out2'), log: (l) => lines.push(l) });
    assert.ok(lines.some((l) => /^warning: imagenet_sketch: 2 of its classes \(tinca tinca, shark\) are not among imagenet's: is its classnames\.txt ImageNet's\?/.test(l)), lines.join('\n'));
  });

  it('a missing dataset, or a missing file of one, is an error naming it and the manifest that describes it, before any training; the CLI takes transfer with --data', async () => {
    const partial = path.join(tmp, 'partial');
    writeImageNetFamily(partial, { skip: ['imagenet_r'] });
    await assert.rejects(
      runExperiment('transfer', { quick: true, model: weights, data: partial, datasets: ['imagenet', 'imagenet_r'], out: path.join(tmp, 'x') }),
      (e: Error) => e.message.includes(path.join(partial, 'imagenet-rendition')) && /missing \(the folder of ImageNetR under --data .*\); data-manifests\/downloads\/coop-imagenet-r\.json describes this dataset's files and layout \(npx promptlab fetch coop-imagenet-r --dest .*imagenet-rendition/.test(e.message),
    );
    fs.rmSync(path.join(partial, 'imagenet-sketch', 'classnames.txt'));
    await assert.rejects(
      runExperiment('transfer', { quick: true, model: weights, data: partial, datasets: ['imagenet', 'imagenet_sketch'], out: path.join(tmp, 'x') }),
      (e: Error) => e.message.includes(path.join(partial, 'imagenet-sketch', 'classnames.txt')) && /missing \(ImageNet's classnames\.txt, '<wnid> <class name>' per line\); data-manifests\/downloads\/coop-imagenet-sketch\.json describes/.test(e.message),
    );
    await assert.rejects(runExperiment('transfer', { quick: true, model: weights, data, datasets: ['imagenet_a', 'imagenet'], out: path.join(tmp, 'x') }), /the source imagenet_a is test-only/);
    assert.ok(!fs.existsSync(path.join(tmp, 'x', 'results.json')));
    // the command line: --data is taken for transfer, and the default datasets are the papers' 15
    const cli = await run([BIN, 'repro', 'transfer', '--quick', '--model', weights, '--data', partial, '--out', path.join(tmp, 'y')], { ...process.env });
    assert.strictEqual(cli.status, 1, cli.stderr.slice(-2000));
    assert.match(cli.stderr, /caltech-101: missing \(the folder of Caltech101 under --data .*\); data-manifests\/downloads\/coop-caltech101\.json describes/);
  });
});
