// Which weights a pretraining run made: the sha256 it prints, the comparison with the shipped
// MiniCLIP (same bytes / same recipe but different bytes / a different recipe), the recipe line that
// decides it, and the model card's record of reproductions (hostile records refused by name).
import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readReproductions, weightsSection, writeModelCard, type BenchmarkKnowledge, type Reproduction } from '../../src/miniclip/card';
import { loadMiniClip, MINICLIP_DIR } from '../../src/miniclip';
import { recipeOf, weightsIdentity, type PretrainRecord } from '../../src/miniclip/weights-identity';
import { hashFile } from '../../src/io/files';

const sitting = (fromStep: number, steps = 100, workers = 2) => ({ fromStep, steps, batchSize: 8, lr: 0.002, warmup: 10, seed: 0, bnGroup: 4, workers, backend: 'wasm' });
const record = (sittings: ReturnType<typeof sitting>[]): PretrainRecord => ({ steps: 100, batchSize: 8, lr: 0.002, warmup: 10, weightDecay: 0.1, seed: 0, bnGroup: 4, backend: 'wasm', sittings });
const sha = (bytes: Buffer) => crypto.createHash('sha256').update(bytes).digest('hex');

/** The card writeModelCard writes for a copy of the shipped model folder (with `reproductions`, or the folder's own file). */
function cardForShippedFolder(dir: string, reproductions?: Reproduction[]): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ['config.json', 'pretrain-log.jsonl', 'model.safetensors', 'reproductions.json']) {
    if (fs.existsSync(path.join(MINICLIP_DIR, f))) fs.copyFileSync(path.join(MINICLIP_DIR, f), path.join(dir, f));
  }
  if (reproductions) fs.writeFileSync(path.join(dir, 'reproductions.json'), JSON.stringify(reproductions));
  const { model } = loadMiniClip();
  try {
    const knowledge: BenchmarkKnowledge[] = [{ dataset: 'world-shapes', classes: 10, chance: 10, zeroshot: 88.3, ensemble: 88.6, probe: 86.7, probeC: 1 }];
    return fs.readFileSync(writeModelCard(dir, model, knowledge), 'utf8');
  } finally {
    model.dispose();
  }
}

describe('the identity of pretrained weights', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-weights-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const folder = (name: string, bytes: Buffer, rec: PretrainRecord) => {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'model.safetensors'), bytes);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ embed_dim: 8, pretrain: rec }));
    return dir;
  };

  it('the recipe line: resumes change nothing; a warm restart, the workers or the backend do', () => {
    const one = recipeOf(record([sitting(0)]));
    assert.strictEqual(recipeOf(record([sitting(0), sitting(40), sitting(70)])), one);
    assert.notStrictEqual(recipeOf(record([sitting(0, 50), sitting(50, 100)])), one);
    assert.notStrictEqual(recipeOf(record([sitting(0, 100, 1)])), one);
    assert.notStrictEqual(recipeOf(record([{ ...sitting(0), backend: 'cpu' }])), one);
    assert.notStrictEqual(recipeOf({ ...record([sitting(0)]), seed: 1 }), one);
    assert.match(one, /from 0: 100 steps, lr 0\.002, warm-up 10; batch 8, weight decay 0\.1, seed 0, BatchNorm group 4, 2 worker\(s\), wasm backend/);
  });

  it('same bytes, same recipe with other bytes, a different recipe, no reference: each says which', () => {
    const bytes = crypto.randomBytes(1000);
    const reference = folder('reference', bytes, record([sitting(0), sitting(40)]));
    const same = weightsIdentity(folder('same', bytes, record([sitting(0)])), record([sitting(0)]), reference);
    assert.strictEqual(same.sha256, sha(bytes));
    assert.match(same.verdict, /byte for byte the weights in/);
    assert.deepStrictEqual({ ...same.reference, recipe: undefined }, { dir: reference, sha256: sha(bytes), sameRecipe: true, recipe: undefined });

    const other = Buffer.from(bytes);
    other[500] ^= 1;
    const differ = weightsIdentity(folder('differ', other, record([sitting(0)])), record([sitting(0)]), reference);
    assert.match(differ.verdict, /DIFFER .* although the recipe is the same/);
    assert.strictEqual(differ.sha256, sha(other));

    const oneWorker = record([sitting(0, 100, 1)]);
    const elsewise = weightsIdentity(folder('elsewise', other, oneWorker), oneWorker, reference);
    assert.match(elsewise.verdict, /as expected from a different recipe: this run .*1 worker.*; that one .*2 worker/);
    assert.strictEqual(elsewise.reference!.sameRecipe, false);

    const alone = weightsIdentity(reference, record([sitting(0)]), path.join(tmp, 'nowhere'));
    assert.deepStrictEqual(alone, { sha256: sha(bytes), verdict: `weights sha256 ${sha(bytes)}` });
    // exported over the reference itself (--export models/miniclip): nothing to compare with
    assert.deepStrictEqual(weightsIdentity(reference, record([sitting(0)]), reference + path.sep), alone);
  });

  it('the card names the weights\' sha256 and each reproduction, equal or not', () => {
    const s = 'a'.repeat(64);
    const r: Reproduction = { date: '2026-12-02', commit: '10c963f', host: 'AMD EPYC, 2 cores', backend: 'wasm', workers: 2, minutes: 240, sha256: s };
    const text = weightsSection(s, [r, { ...r, sha256: 'b'.repeat(64), workers: 1 }]);
    assert.match(text, new RegExp(`sha256 \`${s}\``));
    assert.match(text, /Reproduced from scratch on 2026-12-02 .*commit 10c963f \(wasm, 2 workers, AMD EPYC, 2 cores, 240 minutes\): the same sha256/);
    assert.match(text, /1 worker, .*a different sha256 \(`b{64}`\)/);
  });

  it('a card written for the shipped model: one command for its three sittings (resumes), its sha256, its reproductions', () => {
    const digest = hashFile(path.join(MINICLIP_DIR, 'model.safetensors'), 'sha256');
    const card = cardForShippedFolder(path.join(tmp, 'card'), [{ date: '2026-12-02', commit: 'abc1234', host: 'h', backend: 'wasm', workers: 2, minutes: 240, sha256: digest }]);
    const commands = card.match(/npx promptlab pretrain [^\n]*/g) ?? [];
    assert.deepStrictEqual(commands, ['npx promptlab pretrain --steps 10000 --batch-size 64 --bn-group 32 --workers 2 --lr 0.002 --warmup 200 --seed 0']);
    assert.ok(card.includes(`sha256 \`${digest}\``));
    assert.match(card, /Reproduced from scratch on 2026-12-02 with the command above at commit abc1234 \(wasm, 2 workers, h, 240 minutes\): the same sha256/);
  });

  it('a hostile reproductions.json is refused with the field it lacks', () => {
    const file = path.join(tmp, 'reproductions.json');
    const good = { date: '2026-12-02', commit: 'abc', host: 'h', backend: 'wasm', workers: 2, minutes: 1, sha256: 'c'.repeat(64) };
    for (const [value, message] of [
      [{ not: 'an array' }, /expected an array of reproductions, got object/],
      [[{ ...good, workers: '2' }], /reproduction 0 needs 'workers' \(a number\), got "2"/],
      [[good, null], /reproduction 1 needs 'date'/],
      [[{ ...good, sha256: 'xyz' }], /sha256 must be 64 hex digits/],
    ] as [unknown, RegExp][]) {
      fs.writeFileSync(file, JSON.stringify(value));
      assert.throws(() => readReproductions(file), message);
    }
    fs.writeFileSync(file, JSON.stringify([good]));
    assert.deepStrictEqual(readReproductions(file), [good]);
  });

  it('the shipped model card\'s Pretraining section (recipe, commands, sha256, reproductions) is what model-card writes today', () => {
    const card = fs.readFileSync(path.join(MINICLIP_DIR, 'MODEL_CARD.md'), 'utf8');
    const digest = hashFile(path.join(MINICLIP_DIR, 'model.safetensors'), 'sha256');
    assert.ok(card.includes(`sha256 \`${digest}\``), `models/miniclip/MODEL_CARD.md does not name the weights' sha256 ${digest}: regenerate it with promptlab model-card`);
    // the section depends only on the model folder's files, not on the measured numbers: write it again and compare
    const section = (text: string) => text.slice(text.indexOf('## Pretraining'), text.indexOf('\n## ', text.indexOf('## Pretraining')));
    const written = section(cardForShippedFolder(path.join(tmp, 'shipped-card')));
    assert.ok(written.includes('Reproduce from scratch'), written);
    assert.strictEqual(section(card), written, 'models/miniclip/MODEL_CARD.md: its Pretraining section is not what promptlab model-card writes from the model folder: regenerate it');
  });
});
