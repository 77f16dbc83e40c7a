// promptlab fetch against an HTTP server on loopback: download, skip when present, resume a partial
// file with a Range request, refuse a bad checksum without leaving the bad bytes, refuse a path outside
// --dest and a bad manifest, say clearly when the host cannot be reached; and CLIP's BPE file fetched
// into the user cache is what the tokenizer and CoOp parity cases then find (instead of skipping).
import * as assert from 'assert';
import { spawn } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { checkDownloadManifest, fetchManifest, type DownloadManifest } from '../../src/data/fetch';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'promptlab.js');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A child process run without blocking this one (the loopback server answers from this process). */
function run(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env: opts.env ?? process.env, cwd: opts.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('promptlab fetch (loopback HTTP server)', function () {
  this.timeout(120000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-fetch-'));
  const payload = Buffer.from(Array.from({ length: 300000 }, (_, i) => (i * 31 + 7) % 251));
  const requests: { url: string; range?: string }[] = [];
  let stall = true;
  let server: http.Server;
  let base = '';
  /** Serves /file (with Range) and /cut (the first 100,000 bytes, then the connection drops). */
  before(async () => {
    server = http.createServer((req, res) => {
      requests.push({ url: req.url ?? '', range: req.headers.range });
      const body = req.url?.startsWith('/bpe') ? fs.readFileSync(bpeSource()) : payload;
      if (req.url === '/stall' && stall) {
        // the first 100,000 bytes, then nothing more until the client goes away (killed mid-download)
        stall = false;
        res.writeHead(200, { 'Content-Length': String(body.length) });
        res.write(body.subarray(0, 100000));
        return;
      }
      if (req.url === '/stall') req.url = '/file'; // later requests: served whole, with Range
      if (req.url === '/cut') {
        res.writeHead(200, { 'Content-Length': String(body.length) });
        res.write(body.subarray(0, 100000), () => res.destroy());
        return;
      }
      if (req.url !== '/file' && !req.url?.startsWith('/bpe')) { res.writeHead(404); res.end(); return; }
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (m) {
        const from = Number(m[1]);
        res.writeHead(206, { 'Content-Length': String(body.length - from), 'Content-Range': `bytes ${from}-${body.length - 1}/${body.length}` });
        res.end(body.subarray(from));
      } else {
        res.writeHead(200, { 'Content-Length': String(body.length) });
        res.end(body);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const manifest = (url: string, overrides: Partial<DownloadManifest['files'][0]> = {}): DownloadManifest => ({
    id: 'test-data', description: 'a test file', license: 'none',
    files: [{ url, path: 'sub/data.bin', size: payload.length, sha256: sha(payload), ...overrides }],
  });
  function bpeSource(): string {
    const shared = path.resolve(ROOT, '..', 'shared', 'fixtures', 'clip-parity', 'tokenizer', 'bpe_simple_vocab_16e6.txt.gz');
    return fs.existsSync(shared) ? shared : path.join(tmp, 'no-bpe');
  }

  it('downloads and verifies, then skips the file once it is there and whole', async () => {
    const dest = path.join(tmp, 'a');
    const lines: string[] = [];
    const r = await fetchManifest(manifest(`${base}/file`), dest, (l) => lines.push(l));
    assert.deepStrictEqual(r.files, [{ path: 'sub/data.bin', status: 'downloaded' }]);
    assert.ok(fs.readFileSync(path.join(dest, 'sub', 'data.bin')).equals(payload));
    assert.ok(lines.some((l) => /downloaded and verified/.test(l)));
    const before = requests.length;
    const again = await fetchManifest(manifest(`${base}/file`), dest);
    assert.deepStrictEqual(again.files, [{ path: 'sub/data.bin', status: 'present' }]);
    assert.strictEqual(requests.length, before, 'no request for a file already there');
  });

  it('resumes a cut download with a Range request and ends with the right bytes', async () => {
    const dest = path.join(tmp, 'b');
    await assert.rejects(fetchManifest(manifest(`${base}/cut`), dest), /after \d+ of 300000 bytes; the partial file is kept and the next run resumes it/);
    const part = path.join(dest, 'sub', 'data.bin.part');
    const kept = fs.existsSync(part) ? fs.statSync(part).size : -1;
    assert.ok(kept > 0 && kept <= 100000, `the partial file is kept (${kept} bytes)`);
    assert.ok(!fs.existsSync(path.join(dest, 'sub', 'data.bin')), 'nothing under the real name');
    await fetchManifest(manifest(`${base}/file`), dest);
    assert.strictEqual(requests[requests.length - 1].range, `bytes=${kept}-`);
    assert.ok(fs.readFileSync(path.join(dest, 'sub', 'data.bin')).equals(payload));
    assert.ok(!fs.existsSync(part));
  });

  it('promptlab fetch killed with SIGKILL mid-download: nothing under the real name, and the same command resumes to the right bytes', async () => {
    const dest = path.join(tmp, 'killed');
    const file = path.join(tmp, 'stall.json');
    fs.writeFileSync(file, JSON.stringify(manifest(`${base}/stall`)));
    const part = path.join(dest, 'sub', 'data.bin.part');
    await new Promise<void>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'fetch', '--manifest', file, '--dest', dest], { stdio: 'ignore' });
      const poll = setInterval(() => { if (fs.existsSync(part) && fs.statSync(part).size >= 100000) child.kill('SIGKILL'); }, 20);
      child.on('exit', () => { clearInterval(poll); resolve(); });
    });
    assert.ok(!fs.existsSync(path.join(dest, 'sub', 'data.bin')), 'nothing under the real name after the kill');
    const kept = fs.statSync(part).size;
    const r = await run([BIN, 'fetch', '--manifest', file, '--dest', dest]);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.strictEqual(requests[requests.length - 1].range, `bytes=${kept}-`, 'the rerun resumes where the killed one stopped');
    assert.ok(fs.readFileSync(path.join(dest, 'sub', 'data.bin')).equals(payload));
    assert.ok(!fs.existsSync(part));
  });

  it('a checksum mismatch is an error that leaves neither the bad file nor its part', async () => {
    const dest = path.join(tmp, 'c');
    await assert.rejects(fetchManifest(manifest(`${base}/file`, { sha256: 'a'.repeat(64) }), dest), /sha256 .*; the manifest says .*aaaa.*The download was deleted; nothing was written under sub\/data\.bin/);
    assert.deepStrictEqual(fs.readdirSync(path.join(dest, 'sub')), []);
  });

  it('refuses paths outside --dest, bad URLs and checksums in a manifest, and says when the host cannot be reached', async () => {
    assert.throws(() => checkDownloadManifest(manifest(`${base}/file`, { path: '../evil' }), 'm.json'), /files\[0\]\.path "\.\.\/evil" is not a relative path inside the destination/);
    assert.throws(() => checkDownloadManifest(manifest(`${base}/file`, { path: '/etc/x' }), 'm.json'), /is not a relative path/);
    assert.throws(() => checkDownloadManifest(manifest('file:///etc/passwd'), 'm.json'), /is not http\(s\)/);
    assert.throws(() => checkDownloadManifest(manifest('not a url'), 'm.json'), /is not a URL/);
    assert.throws(() => checkDownloadManifest(manifest(`${base}/file`, { sha256: 'xyz' }), 'm.json'), /sha256 "xyz" is not 64 lower-case hex digits/);
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await assert.rejects(fetchManifest(manifest(`http://127.0.0.1:${port}/file`), path.join(tmp, 'd')), /cannot reach 127\.0\.0\.1:\d+ \(ECONNREFUSED\): offline, or the host is down/);
    // the command line: a manifest file with a path outside --dest is refused before anything is fetched
    const bad = path.join(tmp, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify(manifest(`${base}/file`, { path: '../../outside' })));
    const r = await run([BIN, 'fetch', '--manifest', bad, '--dest', path.join(tmp, 'e')]);
    assert.strictEqual(r.status, 1);
    assert.match(r.stderr, /bad\.json: files\[0\]\.path "\.\.\/\.\.\/outside" is not a relative path inside the destination/);
  });

  it("npx promptlab fetch clip-bpe (from a local stand-in for the release host) puts CLIP's vocabulary where the parity tests find it", async function () {
    if (!fs.existsSync(bpeSource())) this.skip(); // the file itself is never in the repository; CI has it in ../shared
    const real = JSON.parse(fs.readFileSync(path.join(ROOT, 'data-manifests', 'downloads', 'clip-bpe.json'), 'utf8'));
    real.files[0].url = `${base}/bpe_simple_vocab_16e6.txt.gz`;
    const local = path.join(tmp, 'clip-bpe-local.json');
    fs.writeFileSync(local, JSON.stringify(real));
    const cache = path.join(tmp, 'cache');
    const env = { ...process.env, PROMPTLAB_CACHE: cache };
    const f = await run([BIN, 'fetch', '--manifest', local], { env });
    assert.strictEqual(f.status, 0, f.stderr);
    assert.ok(fs.existsSync(path.join(cache, 'clip-bpe', 'bpe_simple_vocab_16e6.txt.gz')));
    // a plain clone's view: the bundled fixtures (no vocabulary beside them), the vocabulary from the cache
    const t = await run([path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js'), '--config', path.join(ROOT, '.mocharc.json'), path.join(ROOT, 'test', 'parity', 'tokenizer.test.ts')], {
      cwd: ROOT, env: { ...env, PROMPTLAB_PARITY_DIR: path.join(ROOT, 'test', 'fixtures', 'clip-parity') },
    });
    assert.strictEqual(t.status, 0, t.stdout.slice(-2000));
    assert.match(t.stdout, /(\d+) passed, 0 failed/);
    assert.doesNotMatch(t.stdout, /pending/, 'no tokenizer case skipped');
  });
});
