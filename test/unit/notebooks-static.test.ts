// The committed notebooks, read as files (no kernel): valid nbformat 4 on the promptlab kernel, small,
// no inlined plotly.js bundle in their outputs, and no library code in their cells (they call src/).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const ROOT = path.resolve(__dirname, '..', '..');
const NOTEBOOK_DIRS = ['notebooks', path.join('test', 'fixtures', 'notebooks')];
const MAX_FILE_BYTES = 1024 * 1024;
const MAX_OUTPUT_STRING = 500 * 1000;
// The banner at the top of every plotly.js bundle ("plotly.js v4.1.2", "Copyright 2012-2026, Plotly, Inc.").
const PLOTLY_BANNER = [/plotly\.js v\d+\.\d+\.\d+/, /Copyright 2012-\d{4},? Plotly, Inc/];

function notebooksIn(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  if (!fs.existsSync(abs)) return [];
  return fs.readdirSync(abs).filter((f) => f.endsWith('.ipynb')).sort().map((f) => path.join(dir, f));
}

/** Every string under `value` (output data may be a string or a list of lines). */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value !== null && typeof value === 'object') for (const v of Object.values(value)) strings(v, out);
  return out;
}

function sourceText(source: unknown): string {
  return Array.isArray(source) ? source.join('') : String(source ?? '');
}

/** Top-level function and class declarations in a code cell: library code, which belongs in src/. */
function libraryDeclarations(code: string): string[] {
  const sf = ts.createSourceFile('cell.ts', code, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const found: string[] = [];
  for (const st of sf.statements) {
    if (ts.isFunctionDeclaration(st)) found.push(`function ${st.name?.text ?? '(anonymous)'}`);
    else if (ts.isClassDeclaration(st)) found.push(`class ${st.name?.text ?? '(anonymous)'}`);
  }
  return found;
}

interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: unknown[];
}

describe('notebooks (static checks)', () => {
  it('notebooks/ exists', () => {
    assert.ok(fs.statSync(path.join(ROOT, 'notebooks')).isDirectory(), 'notebooks/ is missing');
  });

  for (const rel of NOTEBOOK_DIRS.flatMap(notebooksIn)) {
    describe(rel, () => {
      const file = path.join(ROOT, rel);

      it(`is under 1 MiB`, () => {
        const size = fs.statSync(file).size;
        assert.ok(size < MAX_FILE_BYTES, `${rel} is ${(size / 1024).toFixed(0)} KiB; notebooks stay under 1 MiB (are plot bundles or images inlined?)`);
      });

      it('is nbformat 4 JSON on the promptlab kernel', () => {
        const nb = JSON.parse(fs.readFileSync(file, 'utf8'));
        assert.strictEqual(nb.nbformat, 4, `${rel}: nbformat ${nb.nbformat}, expected 4`);
        assert.ok(Array.isArray(nb.cells), `${rel}: no cells array`);
        for (const [i, c] of (nb.cells as Cell[]).entries()) {
          assert.ok(['code', 'markdown', 'raw'].includes(c.cell_type), `${rel} cell ${i + 1}: cell_type ${c.cell_type}`);
          assert.ok(typeof c.source === 'string' || Array.isArray(c.source), `${rel} cell ${i + 1}: no source`);
        }
        assert.strictEqual(nb.metadata?.kernelspec?.name, 'promptlab', `${rel}: kernelspec ${JSON.stringify(nb.metadata?.kernelspec)}, expected the promptlab kernel`);
      });

      it('shows every figure without scripts: a PNG beside the plotly JSON, and no HTML that an untrusted notebook would blank', () => {
        const nb = JSON.parse(fs.readFileSync(file, 'utf8'));
        for (const [i, c] of (nb.cells as Cell[]).entries()) {
          for (const o of (c.outputs ?? []) as { data?: Record<string, unknown> }[]) {
            if (!o.data || !('application/vnd.plotly.v1+json' in o.data)) continue;
            assert.ok('image/png' in o.data, `${rel} cell ${i + 1}: a figure without its PNG (was Chromium missing when it ran?)`);
            assert.ok(!('text/html' in o.data), `${rel} cell ${i + 1}: a figure with text/html, which an untrusted notebook shows as an empty box; run with PROMPTLAB_PLOTLY=static`);
          }
        }
      });

      it('has no inlined plotly.js bundle in its outputs', () => {
        const nb = JSON.parse(fs.readFileSync(file, 'utf8'));
        for (const [i, c] of (nb.cells as Cell[]).entries()) {
          for (const s of strings(c.outputs ?? [])) {
            assert.ok(s.length <= MAX_OUTPUT_STRING, `${rel} cell ${i + 1}: an output string of ${s.length} characters (inlined bundle?); run with PROMPTLAB_PLOTLY=static`);
            for (const re of PLOTLY_BANNER) {
              assert.ok(!re.test(s), `${rel} cell ${i + 1}: its output inlines plotly.js (${re}); run the notebooks with PROMPTLAB_PLOTLY=static (npm run test:notebooks -- --write does)`);
            }
          }
        }
      });

      it('defines no library code (no top-level function or class declarations)', () => {
        const nb = JSON.parse(fs.readFileSync(file, 'utf8'));
        (nb.cells as Cell[]).forEach((c, i) => {
          if (c.cell_type !== 'code') return;
          const decls = libraryDeclarations(sourceText(c.source));
          assert.deepStrictEqual(decls, [], `${rel} cell ${i + 1} declares ${decls.join(', ')}: library code belongs in src/, notebooks call it`);
        });
      });
    });
  }
});
