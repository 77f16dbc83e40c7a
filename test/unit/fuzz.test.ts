// The fuzz corpus (test/fuzz/corpus.ts) in a child process: 720 seeded mutations of safetensors
// files and headers, encode inputs, Hugging Face folders, tokenizer files, manifests, results
// folders, PyTorch checkpoints (torch.save and TorchScript), PNG and JPEG. Every input either loads or fails with a one-line error that names it and
// is not a JavaScript internal; none hangs or crashes (the child would not finish), and nothing is
// written outside the corpus' folder. The counts are printed.
import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const CORPUS = path.resolve(__dirname, '..', 'fuzz', 'corpus.ts');
const TSX = path.resolve(__dirname, '..', '..', 'node_modules', '.bin', 'tsx');
const PER_KIND = 60;
const KINDS = 12;
const CASE_LIMIT_MS = 5000;
const INTERNAL = /Cannot read propert|is not a function|is not iterable|Maximum call stack|out of bounds|Invalid array length|Invalid typed array|\[object Object\]|Argument '\w+' passed to/;

interface CaseResult { id: number; kind: string; target: string; status: 'ok' | 'error'; message: string; ms: number }

describe('fuzz corpus: hostile inputs load or fail clearly, never hang, crash or write outside', function () {
  this.timeout(600000);
  const outer = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-fuzz-'));
  const work = path.join(outer, 'corpus');
  after(() => fs.rmSync(outer, { recursive: true, force: true }));

  it(`${PER_KIND} mutations of each of ${KINDS} input kinds`, async () => {
    fs.mkdirSync(work);
    const lines: string[] = [];
    let stderr = '';
    const code = await new Promise<number | string>((resolve) => {
      const child = spawn(TSX, [CORPUS, work, '7', String(PER_KIND)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let buffered = '';
      child.stdout.on('data', (d: Buffer) => {
        buffered += d.toString();
        const parts = buffered.split('\n');
        buffered = parts.pop() ?? '';
        lines.push(...parts);
      });
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      const timer = setTimeout(() => child.kill('SIGKILL'), 480000); // a hang
      child.on('exit', (c, signal) => { clearTimeout(timer); resolve(c ?? String(signal)); });
    });
    const started = lines.filter((l) => l.includes('"start"')).map((l) => JSON.parse(l) as { start: number; kind: string });
    const results = lines.filter((l) => l.includes('"status"')).map((l) => JSON.parse(l) as CaseResult);
    const last = started[started.length - 1];
    assert.strictEqual(code, 0, `the corpus process ended with ${code} at case ${last?.start} (${last?.kind}): a crash or a hang\n${stderr.slice(-2000)}`);
    assert.strictEqual(results.length, PER_KIND * KINDS);

    const problems: string[] = [];
    const counts = new Map<string, { ok: number; error: number; slowest: number }>();
    for (const r of results) {
      const c = counts.get(r.kind) ?? { ok: 0, error: 0, slowest: 0 };
      c[r.status]++;
      c.slowest = Math.max(c.slowest, r.ms);
      counts.set(r.kind, c);
      if (r.ms > CASE_LIMIT_MS) problems.push(`case ${r.id} (${r.kind}) took ${r.ms} ms`);
      if (r.status === 'ok') continue;
      const [type, ...rest] = r.message.split(': ');
      const text = rest.join(': ');
      const base = path.basename(r.target);
      if (text.includes('\n')) problems.push(`case ${r.id} (${r.kind}): a message of several lines: ${text}`);
      else if (['TypeError', 'RangeError', 'SyntaxError', 'ReferenceError'].includes(type) || INTERNAL.test(text)) problems.push(`case ${r.id} (${r.kind}): an internal error: ${r.message}`);
      else if (!text.includes(base)) problems.push(`case ${r.id} (${r.kind}): the message does not name ${base}: ${text}`);
    }
    console.log(`      ${results.length} inputs: ${[...counts].map(([k, c]) => `${k} ${c.ok} loaded / ${c.error} refused (slowest ${c.slowest} ms)`).join('; ')}`);
    assert.deepStrictEqual(problems, []);
    // nothing was written beside the corpus folder
    assert.deepStrictEqual(fs.readdirSync(outer), ['corpus']);
  });
});
