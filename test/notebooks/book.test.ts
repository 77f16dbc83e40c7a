/// <reference lib="dom" />
// npm run book: every committed notebook as a page, its figures drawn by the shared plotly.js (offline),
// and an index linking them. Opened in headless Chromium. Skipped without nbconvert or Chromium.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { NBCONVERT, writeBook } from '../../src/book';
import { CHROMIUM_ARGS, findChromium } from '../../src/viz/chromium';

const ROOT = path.resolve(__dirname, '..', '..');

describe('the static book (npm run book)', function () {
  this.timeout(300000);
  const missing = !fs.existsSync(NBCONVERT) ? `${NBCONVERT} is missing` : !findChromium() ? 'no Chromium' : null;

  it('writes a page per notebook and an index; every figure is interactive offline', async function () {
    if (missing) {
      console.log(`      book check skipped: ${missing}`);
      this.skip();
    }
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-book-test-'));
    const playwright = require('playwright-core') as { chromium: { launchPersistentContext(dir: string, o: Record<string, unknown>): Promise<any> } };
    let context: any = null;
    try {
      const dir = path.join(ROOT, 'notebooks');
      const notebooks = fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort().map((f) => path.join(dir, f));
      const book = writeBook(notebooks, path.join(tmp, 'book'));
      assert.deepStrictEqual(fs.readdirSync(book.out).sort(), [...book.pages.map((p) => p.file), 'index.html', 'plotly.min.js'].sort());
      context = await playwright.chromium.launchPersistentContext(path.join(tmp, 'profile'), { executablePath: findChromium(), headless: true, args: CHROMIUM_ARGS });
      await context.route(/^https?:\/\//, (route: { abort(): Promise<void> }) => route.abort()); // offline
      const page = await context.newPage();
      await page.goto(`file://${path.join(book.out, 'index.html')}`);
      const links = await page.evaluate(() => Array.from(document.querySelectorAll('a')).map((a) => a.getAttribute('href')));
      assert.deepStrictEqual(links, book.pages.map((p) => p.file));
      for (const p of book.pages) {
        await page.goto(`file://${path.join(book.out, p.file)}`);
        await page.waitForFunction((n: number) => document.querySelectorAll('.promptlab-figure .main-svg').length >= n, p.figures, { timeout: 60000 });
        const drawn = await page.evaluate(() => Array.from(document.querySelectorAll('.promptlab-figure')).filter((d) => d.querySelector('.main-svg')).length);
        assert.strictEqual(drawn, p.figures, `${p.file}: ${drawn} of ${p.figures} figures drawn by plotly.js`);
      }
    } finally {
      await context?.close().catch(() => undefined);
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
