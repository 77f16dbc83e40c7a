// The promptlab command as a user runs it: bin/promptlab.js in a child process.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readSafetensors } from '../../src/clip/safetensors';
import { relativeError } from '../helpers/compare';
import { parityDir, clipVocabFile } from '../fixture-dirs';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'promptlab.js');

function promptlab(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('promptlab CLI', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-cli-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const fixtures = path.resolve(__dirname, '..', 'fixtures', 'clip-parity');

  for (const [name, weights] of [['vit-tiny (OpenAI safetensors)', 'vit-tiny/model.safetensors'], ['vit-tiny/hf (Hugging Face folder)', 'vit-tiny/hf'], ['rn-tiny (fp16)', 'rn-tiny/model.safetensors']]) {
    it(`encode ${name} writes every output, equal to the reference`, () => {
      const caseDir = path.join(fixtures, weights.split('/')[0]);
      const out = path.join(tmp, `${weights.replace(/\W/g, '_')}.safetensors`);
      const r = promptlab(['encode', '--weights', path.join(fixtures, weights), '--inputs', path.join(caseDir, 'inputs.safetensors'), '--out', out]);
      assert.strictEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, /backend: (wasm|cpu|node|node-gpu)/);
      const got = readSafetensors(out).tensors;
      const ref = readSafetensors(path.join(caseDir, 'outputs.safetensors')).tensors;
      for (const key of ['image_embeds', 'text_embeds', 'logits_per_image', 'vision_tokens', 'text_tokens']) {
        const g = got.get(key);
        assert.ok(g, `missing ${key}`);
        assert.deepStrictEqual(g.shape, ref.get(key)!.shape, key);
        assert.ok(relativeError(g.data, ref.get(key)!.data) < 1e-4, key);
      }
    });
  }

  it('encode errors name the file and what is valid', () => {
    const r = promptlab(['encode', '--weights', path.join(tmp, 'none.safetensors'), '--inputs', path.join(fixtures, 'vit-tiny', 'inputs.safetensors'), '--out', path.join(tmp, 'x')]);
    assert.strictEqual(r.code, 2);
    assert.match(r.stderr, /--weights .*none\.safetensors does not exist; expected a folder with model\.safetensors/);
    const u = promptlab(['encode', '--weights', 'w']);
    assert.strictEqual(u.code, 2);
    assert.match(u.stderr, /--inputs is required/);
    const bad = promptlab(['encode', '--bogus']);
    assert.match(bad.stderr, /valid options: --weights, --inputs, --out/);
  });

  it('usage errors name what is wrong and what is valid, before any backend starts; --version', () => {
    const unknown = promptlab(['repro', 'nosuch']);
    assert.strictEqual(unknown.code, 2);
    assert.match(unknown.stderr, /^promptlab repro: unknown experiment 'nosuch' \(available now: zeroshot, fewshot, base2new, transfer, czsl/);
    const flag = promptlab(['repro', 'zeroshot', '--bogus']);
    assert.strictEqual(flag.code, 2);
    assert.match(flag.stderr, /^promptlab repro: unknown option --bogus \(valid options: --quick, /);
    assert.doesNotMatch(flag.stderr + flag.stdout, /positional argument|backend/);
    assert.match(promptlab(['repro', 'zeroshot', '--out']).stderr, /option --out needs a value/);
    assert.match(promptlab(['repro', 'zeroshot', '--quick=yes']).stderr, /--quick takes no value/);
    for (const args of [['repro', 'zeroshot', '--quick', '--model', '/nonexistent'], ['figures', '--model', '/nonexistent'], ['encode', '--weights', '/nonexistent', '--inputs', 'x', '--out', 'y']]) {
      const r = promptlab(args);
      assert.strictEqual(r.code, 2, args.join(' '));
      assert.match(r.stderr, /^promptlab \w+: --(model|weights) \/nonexistent does not exist; expected a folder with model\.safetensors/);
      assert.doesNotMatch(r.stderr, /backend|ENOENT/);
    }
    const version = promptlab(['--version']);
    assert.strictEqual(version.code, 0);
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
    assert.strictEqual(version.stdout.trim(), `promptlab ${pkg.version}`);
  });

  it('merge-results and plot: what is missing is named, nothing is written', () => {
    const none = promptlab(['plot']);
    assert.strictEqual(none.code, 2);
    assert.match(none.stderr, /name one or more results folders/);
    const missing = promptlab(['plot', path.join(tmp, 'no-results')]);
    assert.strictEqual(missing.code, 1);
    assert.match(missing.stderr, /no-results: no results\.json here/);
    const noOut = promptlab(['merge-results', 'a', 'b']);
    assert.strictEqual(noOut.code, 2);
    assert.match(noOut.stderr, /--out DIR is required/);
    const one = promptlab(['merge-results', '--out', path.join(tmp, 'merged'), 'a']);
    assert.strictEqual(one.code, 1);
    assert.match(one.stderr, /at least two results folders/);
    assert.ok(!fs.existsSync(path.join(tmp, 'merged')));
  });

  it('tokenize prints JSON ids with the pinned options (CLIP vocabulary when available, else a small merges file)', () => {
    const vocab = clipVocabFile();
    if (vocab) {
      const r = promptlab(['tokenize', '--vocab', vocab, 'a photo of a dog.']);
      assert.strictEqual(r.code, 0, r.stderr);
      const cases = JSON.parse(fs.readFileSync(path.join(parityDir().dir, 'tokenizer', 'tokenizer.json'), 'utf8')).cases;
      assert.deepStrictEqual(JSON.parse(r.stdout), [cases[0].tokenized_77]);
    }
    const merges = path.join(tmp, 'merges.txt');
    fs.writeFileSync(merges, '#version: 0.2\nd o\nc a\ndo g</w>\nca t</w>\n');
    const r = promptlab(['tokenize', '--vocab', merges, '--context-length', '5', 'dog cat', 'dog']);
    assert.strictEqual(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as number[][];
    assert.strictEqual(rows.length, 2);
    // vocabulary: 512 byte tokens + 4 merges, then SOT = 516, EOT = 517
    assert.deepStrictEqual(rows[0], [516, 514, 515, 517, 0]);
    assert.deepStrictEqual(rows[1], [516, 514, 517, 0, 0]);
    const long = promptlab(['tokenize', '--vocab', merges, '--context-length', '3', 'dog cat']);
    assert.strictEqual(long.code, 1);
    assert.match(long.stderr, /"dog cat" is too long for context length 3/);
    const cut = promptlab(['tokenize', '--vocab', merges, '--context-length', '3', '--truncate', 'dog cat']);
    assert.deepStrictEqual(JSON.parse(cut.stdout), [[516, 514, 517]]);
    const none = promptlab(['tokenize', 'x'], { PROMPTLAB_CLIP_VOCAB: '' });
    assert.match(none.stderr, /no vocabulary given/);
  });

  it('bench --json ends with the pinned line', () => {
    const r = promptlab(['bench', 'preprocess-1000x700', '--repeats', '1', '--json']);
    assert.strictEqual(r.code, 0, r.stderr);
    const last = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    assert.deepStrictEqual(Object.keys(last), ['case', 'backend', 'median_s', 'unit_per_s']);
    assert.ok(last.unit_per_s > 0);
    assert.match(promptlab(['bench', 'nope']).stderr, /unknown bench case 'nope' \(valid: /);
  });

  it('doctor reports the backend and what is missing, with what to do', () => {
    const r = promptlab(['doctor', '--json']);
    assert.strictEqual(r.code, 0, r.stderr);
    const checks = JSON.parse(r.stdout) as { name: string; ok: boolean; detail: string; fix?: string }[];
    const backend = checks.find((c) => c.name === 'backend');
    assert.ok(backend && backend.ok && /^(node-gpu|node|wasm|cpu) /.test(backend.detail));
    for (const c of checks) if (!c.ok) assert.ok(c.fix, `${c.name} is missing without a fix`);
    assert.ok(['jupyter', 'chromium', 'gpu'].every((n) => checks.some((c) => c.name === n)));
  });

  it('PROMPTLAB_BACKEND forces a backend, and fails clearly when it is not available', () => {
    const cpu = promptlab(['doctor', '--json'], { PROMPTLAB_BACKEND: 'cpu' });
    const b = (JSON.parse(cpu.stdout) as { name: string; detail: string }[]).find((c) => c.name === 'backend');
    assert.match(b!.detail, /^cpu .*forced by PROMPTLAB_BACKEND/);
    // valid arguments, so that the backend is what fails (arguments are checked before it starts)
    const args = ['encode', '--weights', path.join(fixtures, 'vit-tiny'), '--inputs', path.join(fixtures, 'vit-tiny', 'inputs.safetensors'), '--out', path.join(tmp, 'forced.safetensors')];
    const gpu = promptlab(args, { PROMPTLAB_BACKEND: 'node-gpu' });
    assert.strictEqual(gpu.code, 1);
    assert.match(gpu.stderr, /PROMPTLAB_BACKEND=node-gpu is not available here: .*To get it: npm install @tensorflow\/tfjs-node-gpu/);
    const bad = promptlab(args, { PROMPTLAB_BACKEND: 'tpu' });
    assert.match(bad.stderr, /PROMPTLAB_BACKEND='tpu' is not a backend; valid values: node-gpu, node, wasm, cpu/);
  });
});
