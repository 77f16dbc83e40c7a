// The download manifests (data-manifests/downloads): every one passes the schema check; the released
// CLIP checkpoints' URLs carry the sha256 the manifest gives; every checksum has a provenance (the
// URL itself, or a file pinned to a repository commit) and every file without one says so; the papers'
// datasets are all described. And what the schema allows beyond clip-bpe's plain files, fetched from a
// loopback server: an unknown size, a sha1, no checksum (an HTML page refused), files to get by hand.
import * as assert from 'assert';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { checkDownloadManifest, DOWNLOAD_MANIFEST_DIR, fetchManifest, listDownloadManifests, type DownloadManifest } from '../../src/data/fetch';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('download manifests', () => {
  const all = listDownloadManifests();
  const byId = new Map(all.map((m) => [m.id, m]));

  it('every manifest in data-manifests/downloads passes the schema check and is named by its id', () => {
    const files = fs.readdirSync(DOWNLOAD_MANIFEST_DIR).filter((f) => f.endsWith('.json'));
    assert.strictEqual(all.length, files.length);
    assert.ok(all.length >= 32, `${all.length} manifests`);
  });

  it("the nine OpenAI checkpoints: each URL's second-to-last segment is the manifest's sha256, with CLIP's BPE file beside the weights", () => {
    const names = ['RN50', 'RN101', 'RN50x4', 'RN50x16', 'RN50x64', 'ViT-B/32', 'ViT-B/16', 'ViT-L/14', 'ViT-L/14@336px'];
    const models = all.filter((m) => m.kind === 'model' && m.model!.format !== 'huggingface');
    assert.deepStrictEqual(models.map((m) => m.model!.name).sort(), [...names].sort());
    const bpe = byId.get('clip-bpe')!.files[0];
    for (const m of models) {
      const weights = m.files.find((f) => f.path === m.model!.weights)!;
      const url = new URL(weights.url);
      assert.strictEqual(url.host, 'openaipublic.azureedge.net', m.id);
      const segments = url.pathname.split('/');
      assert.strictEqual(segments[segments.length - 2], weights.sha256, `${m.id}: the URL's sha256`);
      assert.strictEqual(segments[segments.length - 1], weights.path);
      assert.match(weights.path, /\.pt$/);
      const tok = m.files.find((f) => f.path === m.model!.tokenizer)!;
      assert.deepStrictEqual([tok.sha256, tok.size, tok.path], [bpe.sha256, bpe.size, bpe.path], `${m.id}: CLIP's vocabulary`);
    }
  });

  it('no checksum without provenance: a sha256 is in its URL, or its URL is pinned to a commit; a file without one says what is checked and why', () => {
    for (const m of all) {
      for (const f of m.files) {
        if (f.sha256 !== null) {
          const pinned = /^https:\/\/raw\.githubusercontent\.com\/[^/]+\/[^/]+\/[0-9a-f]{40}\//.test(f.url);
          const inUrl = f.url.includes(f.sha256);
          const bpe = f.url === byId.get('clip-bpe')!.files[0].url && f.sha256 === byId.get('clip-bpe')!.files[0].sha256;
          assert.ok(pinned || inUrl || bpe, `${m.id}: ${f.path}'s sha256 has no provenance (${f.url})`);
        } else {
          assert.ok(f.verify && f.verify !== 'sha256' && f.note, `${m.id}: ${f.path} has no sha256, no verify or no note`);
        }
      }
    }
  });

  it("the papers' datasets are described: CoOp's 11 and ImageNet's four shifts, MIT-States, UT-Zappos, C-GQA, ADE20K, HMDB51, UCF101", () => {
    const coop = ['imagenet', 'caltech101', 'oxford_pets', 'stanford_cars', 'oxford_flowers', 'food101', 'fgvc_aircraft', 'sun397', 'dtd', 'eurosat', 'ucf101', 'imagenetv2', 'imagenet_sketch', 'imagenet_a', 'imagenet_r'];
    const datasets = all.filter((m) => m.dataset);
    for (const name of coop) {
      const m = datasets.find((d) => d.dataset!.aliases?.[0] === name);
      assert.ok(m, `no manifest for ${name}`);
      const d = m.dataset!;
      assert.ok(d.template && d.counts?.classes && d.classNames && d.prepare?.length, `${m.id}: template, class count, class names and preparation`);
      assert.ok(m.sources?.some((s) => s.url.includes('KaiyangZhou/CoOp')), `${m.id} cites CoOp`);
      if (d.format === 'coop-split') assert.ok(m.files.some((f) => f.path === d.layout.split), `${m.id}: its split file is among the files`);
    }
    const zhou = (id: string) => byId.get(id)!.dataset!;
    assert.deepStrictEqual(zhou('coop-caltech101').classNameRewrites, { airplanes: 'airplane', Faces: 'face', Leopards: 'leopard', Motorbikes: 'motorbike' });
    assert.strictEqual(zhou('coop-eurosat').classNameRewrites!.SeaLake, 'Sea or Lake');
    assert.strictEqual(zhou('coop-dtd').template, '{} texture.');
    for (const [id, format] of [['czsl-mit-states', 'czsl'], ['czsl-ut-zappos', 'czsl'], ['czsl-cgqa', 'czsl'], ['ade20k', 'ade20k'], ['hmdb51', 'hmdb51'], ['ucf101', 'ucf101']]) {
      assert.strictEqual(byId.get(id)?.dataset?.format, format, id);
    }
    assert.strictEqual(byId.get('ade20k')!.files[0].sha1, '219e1696abb36c8ba3a3afe7fb2f4b4606a897c7');
  });

  it('the schema refuses what is not known pretended to be, and what is said half', () => {
    const base = (files: unknown[], extra: Record<string, unknown> = {}) => ({ id: 'x', description: 'd', license: 'l', files, ...extra });
    const file = { url: 'https://example.org/a', path: 'a', size: 1, sha256: 'a'.repeat(64) };
    const bad = (m: unknown, re: RegExp) => assert.throws(() => checkDownloadManifest(m, 'm.json'), re);
    bad(base([{ ...file, sha256: null }]), /files\[0\]\.sha256 is null: say what is checked instead/);
    bad(base([{ ...file, sha256: null, verify: 'none' }]), /files\[0\] has no sha256: its "note" must say why/);
    bad(base([{ ...file, verify: 'size' }]), /has a sha256, so "verify" can only be sha256/);
    bad(base([{ ...file, sha256: null, size: null, verify: 'size', note: 'n' }]), /verify is size but its size is null/);
    bad(base([{ ...file, sha256: null, verify: 'sha1', note: 'n' }]), /verify is sha1 but the file has no "sha1"/);
    bad(base([{ ...file, manual: true }]), /is manual: its "note" must say how to get it/);
    bad(base([{ ...file, size: undefined }]), /size undefined is not a byte count \(or null where it is not known\)/);
    bad(base([file, file]), /files\[1\]\.path "a" is listed twice/);
    bad(base([file], { kind: 'model', model: { name: 'M', weights: 'b.pt' } }), /model\.weights "b\.pt" is not the path of one of the files/);
    bad(base([file], { kind: 'dataset' }), /kind is dataset but there is no "dataset" section/);
    const ds = { name: 'D', format: 'coop-split', dir: 'd', layout: { split: 's.json' } };
    bad(base([file], { dataset: { ...ds, format: 'csv' } }), /dataset\.format "csv" is not one of coop-split/);
    bad(base([file], { dataset: { ...ds, layout: { split: '../s.json' } } }), /dataset\.layout\.split "\.\.\/s\.json" is not a relative path/);
    bad(base([file], { dataset: { ...ds, template: 'a photo' } }), /dataset\.template must hold exactly one \{\}/);
    bad(base([file], { dataset: { ...ds, counts: { test: 5 } } }), /dataset\.counts needs "countsVerified"/);
    bad(base([file], { sources: [{ what: 'w', url: 'ftp://x' }] }), /sources\[0\]\.url "ftp:\/\/x" is not http\(s\)/);
    checkDownloadManifest(base([{ ...file, size: null }, { ...file, path: 'b', sha256: null, verify: 'none', note: 'why' }]), 'm.json');
  });
});

describe('promptlab fetch: unknown sizes, sha1, no checksum, files by hand (loopback HTTP server)', function () {
  this.timeout(60000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-manifests-'));
  const payload = Buffer.from(Array.from({ length: 50000 }, (_, i) => (i * 7 + 3) % 256));
  let server: http.Server;
  let base = '';
  before(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/page') {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end('<!DOCTYPE html><html><body>Google Drive can\'t scan this file for viruses.</body></html>');
      } else if (req.url === '/chunked') {
        res.writeHead(200); // no Content-Length
        res.write(payload.subarray(0, 20000));
        res.end(payload.subarray(20000));
      } else {
        res.writeHead(200, { 'Content-Length': String(payload.length) });
        res.end(payload);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const manifest = (files: DownloadManifest['files']): DownloadManifest => checkDownloadManifest({ id: 'extra', description: 'd', license: 'l', files }, 'extra.json');

  it('a file of unknown size is checked by its sha256 (sent without a Content-Length too); a sha1 is checked', async () => {
    const dest = path.join(tmp, 'a');
    const lines: string[] = [];
    const r = await fetchManifest(manifest([
      { url: `${base}/chunked`, path: 'w.pt', size: null, sha256: sha256(payload), note: 'size unknown' },
      { url: `${base}/file`, path: 'z.zip', size: null, sha256: null, sha1: createHash('sha1').update(payload).digest('hex'), verify: 'sha1', note: 'a sha1 only' },
    ]), dest, (l) => lines.push(l));
    assert.deepStrictEqual(r.files.map((f) => f.status), ['downloaded', 'downloaded']);
    assert.ok(fs.readFileSync(path.join(dest, 'w.pt')).equals(payload));
    assert.ok(lines.some((l) => /z\.zip downloaded and verified \(sha1 /.test(l)), lines.join('\n'));
    await assert.rejects(fetchManifest(manifest([{ url: `${base}/file`, path: 'y.zip', size: null, sha256: null, sha1: 'b'.repeat(40), verify: 'sha1', note: 'n' }]), dest), /y\.zip from .* is 50000 bytes with sha1 [0-9a-f]{40}; the manifest says sha1 bbbb.*The download was deleted/);
    assert.ok(!fs.existsSync(path.join(dest, 'y.zip')) && !fs.existsSync(path.join(dest, 'y.zip.part')));
  });

  it('without a checksum the file is taken, and said to be unverified; an HTML page in its place is refused and deleted', async () => {
    const dest = path.join(tmp, 'b');
    const lines: string[] = [];
    await fetchManifest(manifest([{ url: `${base}/file`, path: 'split.json', size: null, sha256: null, verify: 'none', note: 'no checksum is published' }]), dest, (l) => lines.push(l));
    assert.ok(lines.some((l) => /split\.json downloaded; NOT verified: no checksum is published/.test(l)), lines.join('\n'));
    await assert.rejects(fetchManifest(manifest([{ url: `${base}/page`, path: 'other.json', size: null, sha256: null, verify: 'none', note: 'n' }]), dest), /other\.json from .*\/page is an HTML page, not the file \(the link may have moved or need a login or a confirmation\)\. The download was deleted/);
    assert.deepStrictEqual(fs.readdirSync(dest), ['split.json']);
  });

  it("a dataset's manifest: after the files, fetch prints the steps that lay them out", async () => {
    const lines: string[] = [];
    const m = checkDownloadManifest({
      id: 'tiny-set', description: 'd', license: 'l',
      dataset: { name: 'Tiny', format: 'coop-split', dir: 'tiny', layout: { images: 'images', split: 'split.json' }, prepare: ['tar -xzf images.tar.gz'] },
      files: [{ url: `${base}/file`, path: 'images.tar.gz', size: payload.length, sha256: sha256(payload) }],
    }, 'tiny-set.json');
    await fetchManifest(m, path.join(tmp, 'd'), (l) => lines.push(l));
    assert.match(lines[lines.length - 1], /tiny-set: the files are in .*; to lay them out as the loader reads them \(data-manifests\/downloads\/tiny-set\.json, dataset\.prepare\), run there:\n {2}tar -xzf images\.tar\.gz$/);
  });

  it('files to download by hand: the rest is fetched, then an error says how to get each and where it goes; once there, fetch accepts it', async () => {
    const dest = path.join(tmp, 'c');
    const m = manifest([
      { url: 'https://image-net.org/index.php', path: 'ILSVRC2012_img_val.tar', size: null, sha256: null, verify: 'none', manual: true, note: 'ImageNet needs an account' },
      { url: `${base}/file`, path: 'classnames.txt', size: payload.length, sha256: null, verify: 'size', note: 'size only' },
    ]);
    await assert.rejects(fetchManifest(m, dest), (e: Error) => /extra: 1 file\(s\) must be downloaded by hand \(the other 1 are in .*\):\n {2}- .*ILSVRC2012_img_val\.tar: ImageNet needs an account \(https:\/\/image-net\.org\/index\.php\)/.test(e.message));
    assert.strictEqual(fs.statSync(path.join(dest, 'classnames.txt')).size, payload.length);
    fs.writeFileSync(path.join(dest, 'ILSVRC2012_img_val.tar'), 'by hand');
    const r = await fetchManifest(m, dest);
    assert.deepStrictEqual(r.files.map((f) => f.status), ['present', 'present']);
  });
});
