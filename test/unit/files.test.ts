// The file policy (src/io/files.ts): limited reads of regular files only, paths confined to their
// folder, atomic writes, and the temporaries of killed processes cleaned.
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkRegularFile, confinedPath, readJsonFile, readTextLimited, removeStaleTemporaries, writeFileAtomic } from '../../src/io/files';

describe('file policy', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-files-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('reads regular files only, within a size limit named in the error', () => {
    const f = path.join(tmp, 'a.txt');
    fs.writeFileSync(f, 'x'.repeat(2048));
    assert.strictEqual(readTextLimited(f, 4096).length, 2048);
    assert.throws(() => readTextLimited(f, 1024, 'vocabulary'), /vocabulary .*a\.txt is 2\.0 KiB, more than the 1\.0 KiB allowed/);
    assert.throws(() => readTextLimited(tmp, 1024), /is not a regular file \(a directory\)/);
    assert.throws(() => readTextLimited('/dev/zero', 1024, 'inputs'), /inputs \/dev\/zero is not a regular file \(a device\)/);
    const fifo = path.join(tmp, 'fifo');
    execFileSync('mkfifo', [fifo]);
    assert.throws(() => checkRegularFile(fifo, 1024), /is not a regular file \(a FIFO\)/); // and does not block
    assert.throws(() => readTextLimited(path.join(tmp, 'none'), 10, 'manifest'), /manifest .*none does not exist/);
  });

  it('names the file in a JSON error', () => {
    const f = path.join(tmp, 'broken.json');
    fs.writeFileSync(f, '{"a": "unterminated');
    assert.throws(() => readJsonFile(f, 'manifest'), /manifest .*broken\.json is not valid JSON: /);
  });

  it('confines paths taken from files to their folder', () => {
    assert.strictEqual(confinedPath(tmp, 'shard-1.safetensors'), path.join(tmp, 'shard-1.safetensors'));
    assert.strictEqual(confinedPath(tmp, 'sub/../b'), path.join(tmp, 'b'));
    assert.throws(() => confinedPath(tmp, '/etc/passwd', 'index.json shard'), /index\.json shard: "\/etc\/passwd" is absolute/);
    assert.throws(() => confinedPath(tmp, '../../dev/zero'), /leaves .*only paths inside it/);
    assert.throws(() => confinedPath(tmp, ''), /expected a relative path/);
    fs.symlinkSync('/etc', path.join(tmp, 'out'));
    assert.throws(() => confinedPath(tmp, 'out/passwd'), /is a link out of/);
  });

  it('writes atomically and removes only the temporaries of processes that are gone', () => {
    const f = path.join(tmp, 'w', 'results.json');
    writeFileAtomic(f, 'one');
    writeFileAtomic(f, 'two');
    assert.strictEqual(fs.readFileSync(f, 'utf8'), 'two');
    fs.writeFileSync(`${f}.tmp-999999999`, 'half');            // a killed process
    fs.writeFileSync(`${f}.tmp-${process.pid}`, 'mine');        // a live one (this process)
    assert.deepStrictEqual(removeStaleTemporaries(path.dirname(f)), ['results.json.tmp-999999999']);
    assert.deepStrictEqual(fs.readdirSync(path.dirname(f)).sort(), ['results.json', `results.json.tmp-${process.pid}`]);
    // below the folder only with `recursive` (a run's seed<k>/ records, say)
    const sub = path.join(path.dirname(f), 'seed1');
    fs.mkdirSync(sub);
    fs.writeFileSync(path.join(sub, 'record.json.tmp-999999999'), 'half');
    assert.deepStrictEqual(removeStaleTemporaries(path.dirname(f)), []);
    assert.deepStrictEqual(removeStaleTemporaries(path.dirname(f), { recursive: true }), [path.join('seed1', 'record.json.tmp-999999999')]);
    assert.deepStrictEqual(fs.readdirSync(sub), []);
    assert.deepStrictEqual(removeStaleTemporaries(path.join(tmp, 'no-such-folder'), { recursive: true }), []);
  });
});
