// Static figure export (PNG, SVG) through a headless Chromium driven by playwright-core.
//
// plotly.js lays figures out in a browser, so a PNG or SVG needs one: FigureRenderer starts a
// headless Chromium once (about 2.5 s), loads the local plotly.js-dist-min bundle into a blank page
// (no network is needed or used) and then renders each figure with Plotly.toImage (about 0.1-0.3 s
// each). Chromium is not an npm dependency: it comes from the system (`apt-get install chromium`)
// or from PROMPTLAB_CHROMIUM. Everything here is written for tslab's own TypeScript 5.0 too
// (lib es2022, no DOM types): code run in the page reaches plotly through `globalThis`.
//
// A renderer must not keep a process alive: the browser's pipes are unref'd once it is up (a
// timer holds the event loop only while a call is in flight), an open renderer is closed on
// 'beforeExit', and on 'exit' its browser is killed and its profile directory removed.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';
import type { ChildProcess } from 'child_process';
import type { PlotlyFigure } from './plotly';

/** Where Chromium is looked for after PROMPTLAB_CHROMIUM. */
export const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** How to get a Chromium, for messages. */
export const CHROMIUM_FIX = 'apt-get install chromium, or set PROMPTLAB_CHROMIUM to a Chrome/Chromium binary';

/** Flags measured to start quickly and quietly in containers and CI (no sandbox, no GPU, no network chatter). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    const st = fs.statSync(file);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * PROMPTLAB_CHROMIUM when it is set (and only it: a bad value is reported, not silently replaced by
 * another browser), else the first of CHROMIUM_PATHS that exists, else null.
 */
export function findChromium(): string | null {
  const env = process.env.PROMPTLAB_CHROMIUM;
  if (env) return executable(env) ? env : null;
  for (const p of CHROMIUM_PATHS) if (executable(p)) return p;
  return null;
}

/** One line saying why no Chromium was found and how to get one. */
export function chromiumMissingReason(): string {
  const env = process.env.PROMPTLAB_CHROMIUM;
  if (env) return `PROMPTLAB_CHROMIUM=${env} is ${fs.existsSync(env) ? 'not an executable file' : 'missing'}: point it at a Chrome/Chromium binary, or unset it to use ${CHROMIUM_PATHS.join(', ')}`;
  return `no Chromium found (looked at ${CHROMIUM_PATHS.join(', ')}): ${CHROMIUM_FIX}`;
}

/** A figure as plain JSON: typed arrays become arrays, so it survives JSON and structured cloning alike. */
export function plainFigure(figure: PlotlyFigure): PlotlyFigure {
  return JSON.parse(
    JSON.stringify(figure, (_key, value) => (ArrayBuffer.isView(value) && !(value instanceof DataView) ? Array.from(value as unknown as ArrayLike<number>) : value)),
  ) as PlotlyFigure;
}

// The few playwright-core calls used here, typed locally: playwright-core's own declarations are
// about 1 MB that tslab would type-check on a notebook's first import of this file.
interface Page {
  goto(url: string): Promise<unknown>;
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
  evaluate<R>(fn: () => R | Promise<R>): Promise<R>;
}
interface BrowserContext {
  pages(): Page[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}
interface Playwright {
  chromium: {
    launchPersistentContext(userDataDir: string, options: Record<string, unknown>): Promise<BrowserContext>;
  };
}

// ---- capture of the browser's child process, to unref it -------------------------------------
// playwright-core keeps the browser's ChildProcess to itself; it spawns through the child_process
// module object, so while a renderer starts, spawn is wrapped to pick out the call whose arguments
// carry that renderer's unique --user-data-dir. Without the capture everything still works; the
// renderer then simply holds the process open until close() (see FigureRenderer.detached).

type SpawnFn = (...args: unknown[]) => ChildProcess;
const childProcessModule = require('child_process') as { spawn: SpawnFn };
const pendingCaptures = new Map<string, (child: ChildProcess) => void>();
let originalSpawn: SpawnFn | null = null;

function beginCapture(marker: string, onChild: (child: ChildProcess) => void): void {
  pendingCaptures.set(marker, onChild);
  if (originalSpawn) return;
  const original = childProcessModule.spawn;
  originalSpawn = original;
  childProcessModule.spawn = function (this: unknown, ...args: unknown[]): ChildProcess {
    const child = original.apply(this, args);
    const argv = Array.isArray(args[1]) ? (args[1] as unknown[]) : [];
    for (const [m, cb] of pendingCaptures) {
      if (argv.some((a) => typeof a === 'string' && a.includes(m))) {
        pendingCaptures.delete(m);
        cb(child);
        break;
      }
    }
    return child;
  };
}

function endCapture(marker: string): void {
  pendingCaptures.delete(marker);
  if (pendingCaptures.size === 0 && originalSpawn) {
    childProcessModule.spawn = originalSpawn;
    originalSpawn = null;
  }
}

// ---- process-wide cleanup ------------------------------------------------------------------------

const live = new Set<FigureRenderer>();
let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  // The event loop is empty: nothing can use an open renderer any more. Closing it schedules work,
  // so 'beforeExit' comes again afterwards, with `live` empty, and the process exits.
  process.on('beforeExit', () => {
    for (const r of live) void r.close().catch(() => undefined);
  });
  // process.exit() or the end of the loop: only synchronous work is possible here.
  process.on('exit', () => {
    for (const r of live) r.killNow();
  });
  // Death by signal skips 'exit'. Where nobody else listens for the signal (a plain script), clean
  // up and die of it as before; where someone does (tslab: SIGINT interrupts a cell), leave it be.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      if (process.listenerCount(sig) > 1) return;
      for (const r of live) r.killNow();
      process.off(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

function dataUrlBody(url: string): Buffer {
  const comma = url.indexOf(',');
  if (!url.startsWith('data:') || comma < 0) throw new Error(`plotly returned no data URL: ${url.slice(0, 60)}`);
  const head = url.slice(0, comma);
  const body = url.slice(comma + 1);
  return head.endsWith(';base64') ? Buffer.from(body, 'base64') : Buffer.from(decodeURIComponent(body), 'utf8');
}

export interface RendererTimings {
  /** browser start + plotly.js load, ms */
  startMs: number;
}

/** A headless Chromium page with plotly.js loaded, reused for any number of figures. */
export class FigureRenderer {
  /** PNGs are rendered at this device-pixel ratio: a 900 x 500 figure gives a 1800 x 1000 PNG. */
  static readonly PNG_SCALE = 2;

  private queue: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly context: BrowserContext,
    private readonly page: Page,
    /** the temporary folder (browser profile and blank page), removed by close() */
    readonly tmpDir: string,
    /** the Chromium binary in use */
    readonly executablePath: string,
    private readonly child: ChildProcess | null,
    readonly timings: RendererTimings,
  ) {}

  /**
   * Starts Chromium and loads plotly.js. Throws an Error with a one-line message naming what is
   * missing (Chromium, playwright-core or plotly.js-dist-min) and how to get it.
   */
  static async open(): Promise<FigureRenderer> {
    const t0 = Date.now();
    const executablePath = findChromium();
    if (!executablePath) throw new Error(`cannot render PNG/SVG: ${chromiumMissingReason()}`);
    let playwright: Playwright;
    let plotlyPath: string;
    try {
      playwright = require('playwright-core') as Playwright;
    } catch (e) {
      throw new Error(`cannot render PNG/SVG: playwright-core is not installed (${(e as Error).message.split('\n')[0]}): run npm ci`);
    }
    try {
      plotlyPath = require.resolve('plotly.js-dist-min');
    } catch {
      throw new Error('cannot render PNG/SVG: plotly.js-dist-min is not installed: run npm ci');
    }
    // one temporary folder: the browser profile and the blank page that loads plotly.js from disk
    // (a file:// <script> loads about 1 s faster than pushing the 4.8 MB source through the protocol)
    const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-chromium-'));
    const userDataDir = path.join(tmpDir, 'profile');
    const pageFile = path.join(tmpDir, 'plotly.html');
    fs.writeFileSync(
      pageFile,
      `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><script src="${pathToFileURL(plotlyPath).href}"></script></body></html>`,
    );
    let child: ChildProcess | null = null;
    const keep = setInterval(() => undefined, 1 << 30);
    beginCapture(userDataDir, (c) => (child = c));
    let context: BrowserContext | null = null;
    try {
      context = await playwright.chromium.launchPersistentContext(userDataDir, {
        executablePath,
        headless: true,
        args: CHROMIUM_ARGS,
        // our own 'exit' hook kills the browser; playwright's SIGINT/SIGTERM handlers would
        // otherwise exit a tslab kernel that is only being interrupted
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
      });
      const page = context.pages()[0] ?? (await context.newPage());
      await page.goto(pathToFileURL(pageFile).href);
      const ok = await page.evaluate(() => typeof (globalThis as any).Plotly?.toImage === 'function');
      if (!ok) throw new Error(`plotly.js from ${plotlyPath} did not define Plotly.toImage`);
      const r = new FigureRenderer(context, page, tmpDir, executablePath, child, { startMs: Date.now() - t0 });
      r.detach();
      live.add(r);
      installExitHooks();
      return r;
    } catch (e) {
      if (context) await context.close().catch(() => undefined);
      fs.rmSync(tmpDir, { recursive: true, force: true, maxRetries: 3 });
      const msg = (e as Error).message.split('\n').filter((l) => l.trim())[0] ?? String(e);
      throw new Error(`cannot render PNG/SVG: Chromium at ${executablePath} failed to start: ${msg} (${CHROMIUM_FIX})`);
    } finally {
      endCapture(userDataDir);
      clearInterval(keep);
    }
  }

  /** Whether the browser's handles are unref'd, so that an idle renderer does not hold the process open. */
  get detached(): boolean {
    return this.child !== null;
  }

  /** Whether close() was called (or the process is exiting). */
  get closed(): boolean {
    return this.closing !== null;
  }

  private detach(): void {
    const c = this.child;
    if (!c) return;
    c.unref();
    for (const s of c.stdio) (s as unknown as { unref?: () => void } | null)?.unref?.();
  }

  /** Runs calls one at a time, holding the event loop open while one is in flight. */
  private run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new Error('FigureRenderer is closed'));
    const next = this.queue.then(async () => {
      const keep = setInterval(() => undefined, 1 << 30);
      try {
        return await fn();
      } finally {
        clearInterval(keep);
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  private image(figure: PlotlyFigure, format: 'png' | 'svg', width: number, height: number, scale: number): Promise<Buffer> {
    const spec = plainFigure(figure);
    const arg = { fig: { data: spec.data, layout: spec.layout }, opts: { format, width, height, scale } };
    return this.run(async () => {
      const url = await this.page.evaluate((a) => (globalThis as any).Plotly.toImage(a.fig, a.opts) as Promise<string>, arg);
      return dataUrlBody(url);
    });
  }

  /** The figure as a PNG of (width * scale) x (height * scale) pixels; scale defaults to PNG_SCALE. */
  toPng(figure: PlotlyFigure, width: number, height: number, scale: number = FigureRenderer.PNG_SCALE): Promise<Buffer> {
    return this.image(figure, 'png', width, height, scale);
  }

  /** The figure as an SVG document of width x height. */
  async toSvg(figure: PlotlyFigure, width: number, height: number): Promise<string> {
    return (await this.image(figure, 'svg', width, height, 1)).toString('utf8');
  }

  /** Closes the browser and removes the temporary profile directory. Safe to call twice. */
  close(): Promise<void> {
    if (!this.closing) {
      live.delete(this);
      const pending = this.queue;
      this.closing = (async () => {
        const keep = setInterval(() => undefined, 1 << 30);
        try {
          await pending;
          await this.context.close().catch(() => undefined);
        } finally {
          clearInterval(keep);
          fs.rmSync(this.tmpDir, { recursive: true, force: true, maxRetries: 3 });
        }
      })();
    }
    return this.closing;
  }

  /** Synchronous last resort on process exit: kill the browser's process group, remove the profile. */
  killNow(): void {
    live.delete(this);
    if (!this.closing) this.closing = Promise.resolve();
    const pid = this.child?.pid;
    if (pid && this.child!.exitCode === null && this.child!.signalCode === null) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    try {
      fs.rmSync(this.tmpDir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // a file still held by a dying browser: leave it to the OS's tmp cleanup
    }
  }
}
