// CLIP preprocessing parity: the case folder preprocess/ of the parity fixtures holds images and
// expected.safetensors with, per image name, the [3, R, R] tensor the reference transform gives
// (torchvision on PIL: Resize(R, bicubic) -> CenterCrop(R) -> RGB -> ToTensor -> Normalize).
// Tolerances (fixture README): mean |diff| <= 0.01 and max <= 0.3 (normalised units) on RGB, grayscale
// and JPEG images; mean <= 0.05 on RGBA ones. A missing case fails the suite; it is never skipped.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { parityDir } from '../fixture-dirs';
import { readSafetensors, readSafetensorsHeader, type SafetensorsFile } from '../../src/clip/safetensors';
import { loadImage, preprocessFiles, toClipInput } from '../../src/clip/preprocess';

const CASE = 'preprocess';
const EXPECTED = 'expected.safetensors';
const EXTENSIONS = ['.png', '.jpg', '.jpeg'];

const { dir: root, source } = parityDir();
const caseDir = path.join(root, CASE);
const expectedFile = path.join(caseDir, EXPECTED);

/** Tensor names in the expected file, or the reason they cannot be listed. */
function listNames(): { names: string[]; problem: string | null } {
  if (!fs.existsSync(expectedFile)) return { names: [], problem: `${expectedFile} does not exist` };
  try {
    return { names: [...readSafetensorsHeader(expectedFile).entries.keys()].sort(), problem: null };
  } catch (e) {
    return { names: [], problem: e instanceof Error ? e.message : String(e) };
  }
}

function imageFor(name: string): string | null {
  for (const ext of EXTENSIONS) {
    const f = path.join(caseDir, name + ext);
    if (fs.existsSync(f)) return f;
  }
  return null;
}

function diffStats(got: Float32Array, want: Float32Array): { mean: number; max: number } {
  let sum = 0;
  let max = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / got.length, max };
}

const { names, problem } = listNames();

describe(`CLIP parity: ${CASE}/ in ${root} (${source})`, () => {
  let expected: SafetensorsFile;

  before(function () {
    if (problem === null) expected = readSafetensors(expectedFile);
  });

  it(`${CASE}/${EXPECTED} is present and lists images`, () => {
    assert.strictEqual(problem, null, `${problem} (set PROMPTLAB_PARITY_DIR to the clip-parity fixtures)`);
    assert.ok(names.length > 0, `${expectedFile} holds no tensors`);
  });

  for (const name of names) {
    const file = imageFor(name);
    const label = `${CASE}/${file ? path.basename(file) : name}`;
    it(`${label}: CLIP transform matches the reference within the fixture tolerances`, () => {
      assert.ok(file, `${CASE}/: no image ${name}{${EXTENSIONS.join(',')}} for tensor '${name}'`);
      const want = expected.tensors.get(name);
      assert.ok(want, `${expectedFile}: no tensor '${name}'`);
      assert.strictEqual(want.dtype, 'F32');
      assert.strictEqual(want.shape.length, 3);
      assert.strictEqual(want.shape[0], 3);
      assert.strictEqual(want.shape[1], want.shape[2]);
      const img = loadImage(file);
      const got = toClipInput(img, { size: want.shape[1] });
      const { mean, max } = diffStats(got, want.data as Float32Array);
      const where = `${label} (${img.width}x${img.height}, ${img.channels} channel(s))`;
      if (img.channels === 4) {
        assert.ok(mean <= 0.05, `${where}: mean |diff| ${mean.toExponential(3)} > 0.05 (max ${max.toExponential(3)})`);
      } else {
        assert.ok(mean <= 0.01, `${where}: mean |diff| ${mean.toExponential(3)} > 0.01`);
        assert.ok(max <= 0.3, `${where}: max |diff| ${max.toExponential(3)} > 0.3`);
      }
    });
  }

  if (names.length > 0) {
    it(`${CASE}: preprocessFiles batches every image in order, as toClipInput does one by one`, () => {
      const files = names.map(imageFor);
      const missing = names.filter((_, i) => files[i] === null);
      assert.deepStrictEqual(missing, [], `${CASE}/: images missing`);
      const size = expected.tensors.get(names[0])?.shape[1] ?? 224;
      const batch = preprocessFiles(files as string[], size);
      assert.deepStrictEqual(batch.shape, [names.length, 3, size, size]);
      const per = 3 * size * size;
      files.forEach((f, i) => {
        const one = toClipInput(loadImage(f as string), { size });
        const part = batch.data.subarray(i * per, (i + 1) * per);
        assert.ok(Buffer.from(part.buffer, part.byteOffset, part.byteLength).equals(Buffer.from(one.buffer)), `${f}`);
      });
    });
  }
});
