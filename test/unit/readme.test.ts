// Every TypeScript example in README.md runs as written (from the repository root, through tsx).
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');

describe('README examples', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

  it('README.md has TypeScript examples', () => assert.ok(blocks.length > 0));

  blocks.forEach((code, i) => {
    it(`README TypeScript example ${i + 1} runs`, () => {
      const file = path.join(ROOT, `.readme-example-${i}.ts`);
      fs.writeFileSync(file, code);
      try {
        const r = spawnSync(process.execPath, ['--require', 'tsx/cjs', file], { cwd: ROOT, encoding: 'utf8', timeout: 120000 });
        assert.strictEqual(r.status, 0, `example ${i + 1} failed:\n${r.stderr}`);
        assert.match(r.stdout, /backend: /);
      } finally {
        fs.rmSync(file, { force: true });
      }
    });
  });
});
