// The data side of video prompting: the .npy reader (every dtype and version, Fortran order, hostile
// files), the HMDB51 / UCF101 / Efficient-Prompt split lists, per-video frame features and frame
// folders, and the frame-feature cache (hit, miss, invalidation) on a tiny random CLIP. Every
// fixture is written by the tests into a temporary folder.
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import type { ClipConfig } from '../../src/clip/config';
import { ClipModel } from '../../src/clip/model';
import { randomStateDict } from '../../src/clip/random';
import { FrameFeatures, clipDataChecksum, encodeClipPixels, encodeClips, modelChecksum } from '../../src/data/frame-features';
import { encodeNpy, floatToHalf, halfToFloat, parseNpy, parsePythonLiteral, readNpy, readNpyHeader, writeNpy, type NpyArray, type NpyDtype } from '../../src/data/npy';
import {
  asVideoDataset,
  defaultClassName,
  loadVideoFeatures,
  loadVideoFrames,
  naturalCompare,
  officialFrameIndices,
  readClassVideoLists,
  readHmdb51Splits,
  readUcf101Splits,
  uniformFrameIndices,
} from '../../src/data/video';
import { WorldMotionDataset } from '../../src/data/world-motion';
import { encodeImages } from '../../src/eval/features';
import { streamFor } from '../../src/random';
import { encodePng } from '../../src/viz/png';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-video-data-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function dirIn(...parts: string[]): string {
  const d = path.join(tmp, ...parts);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

function write(file: string, text: string | Uint8Array): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

/** An .npy file with any header text and data bytes (hostile ones included). */
function rawNpy(header: string, data: Uint8Array | number = 0, version = 1): Buffer {
  const h = Buffer.from(header, version === 3 ? 'utf8' : 'latin1');
  const len = version === 1 ? 2 : 4;
  const out = Buffer.alloc(8 + len + h.length + (typeof data === 'number' ? data : data.length));
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = version;
  if (version === 1) out.writeUInt16LE(h.length, 8);
  else out.writeUInt32LE(h.length, 8);
  h.copy(out, 8 + len);
  if (typeof data !== 'number') out.set(data, 8 + len + h.length);
  return out;
}

const header = (descr: string, shape: string, fortran = 'False') => `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }\n`;

function sample(dtype: NpyDtype, n: number): NpyArray['data'] {
  const v = Array.from({ length: n }, (_, k) => k - 2);
  switch (dtype) {
    case '<f4': return Float32Array.from(v, (x) => x / 3);
    case '<f8': return Float64Array.from(v, (x) => x / 3 + 1e-12);
    case '<f2': return Float32Array.from(v, (x) => halfToFloat(floatToHalf(x / 4)));
    case '<i4': return Int32Array.from(v, (x) => x * 100_000);
    case '<i8': return BigInt64Array.from(v, (x) => BigInt(x) * 2n ** 40n);
    case '|u1': return Uint8Array.from(v, (x) => (x * 37) & 255);
    case '|b1': return Uint8Array.from(v, (x) => (x % 2 === 0 ? 1 : 0));
  }
}

describe('npy reader', () => {
  const dtypes: NpyDtype[] = ['<f4', '<f8', '<f2', '<i4', '<i8', '|u1', '|b1'];

  it('round-trips every dtype in versions 1.0, 2.0 and 3.0, through files', () => {
    for (const dtype of dtypes) {
      for (const version of [1, 2, 3] as const) {
        for (const shape of [[2, 3], [4], [], [0, 5], [2, 1, 3]]) {
          const data = sample(dtype, shape.reduce((a, b) => a * b, 1));
          const file = path.join(dirIn('npy-roundtrip'), `${dtype.slice(1)}-v${version}-${shape.join('x') || 'scalar'}.npy`);
          writeNpy(file, { shape, dtype, data }, { version });
          const back = readNpy(file);
          assert.deepStrictEqual(back.shape, shape, file);
          assert.strictEqual(back.dtype, dtype, file);
          assert.deepStrictEqual(Array.from(back.data as ArrayLike<unknown>), Array.from(data as ArrayLike<unknown>), file);
          assert.strictEqual(back.data.constructor, data.constructor, file);
          const h = readNpyHeader(file);
          assert.deepStrictEqual([h.version, h.shape, h.fortranOrder], [[version, 0], shape, false]);
        }
      }
    }
  });

  it("writes numpy.save's bytes: the header padded with spaces and a newline to a multiple of 64", () => {
    const bytes = encodeNpy({ shape: [2, 3], dtype: '<f4', data: new Float32Array(6) });
    const expected = "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + ' '.repeat(58) + '\n';
    assert.strictEqual(bytes.subarray(0, 128).toString('latin1'), expected);
    assert.strictEqual(bytes.length, 128 + 24);
    const v2 = encodeNpy({ shape: [7], dtype: '|b1', data: new Uint8Array(7) }, { version: 2 });
    assert.strictEqual(v2.subarray(0, 12).toString('latin1'), '\x93NUMPY\x02\x00t\x00\x00\x00');
    assert.strictEqual(v2.subarray(0, 128).toString('latin1'), "\x93NUMPY\x02\x00t\x00\x00\x00{'descr': '|b1', 'fortran_order': False, 'shape': (7,), }" + ' '.repeat(58) + '\n');
  });

  it('reads a Fortran-order array in C order (2-D written by hand, 3-D round trip)', () => {
    // [[0, 1, 2], [3, 4, 5]] stored column by column: 0 3 1 4 2 5
    const data = Buffer.alloc(24);
    [0, 3, 1, 4, 2, 5].forEach((v, k) => data.writeInt32LE(v, 4 * k));
    const arr = parseNpy(rawNpy(header('<i4', '(2, 3)', 'True'), data), 'fortran.npy');
    assert.deepStrictEqual(arr.shape, [2, 3]);
    assert.deepStrictEqual(Array.from(arr.data as Int32Array), [0, 1, 2, 3, 4, 5]);
    const c = Float64Array.from({ length: 24 }, (_, k) => k * 0.5);
    const bytes = encodeNpy({ shape: [2, 3, 4], dtype: '<f8', data: c }, { fortranOrder: true });
    assert.ok(bytes.toString('latin1').includes("'fortran_order': True"));
    // the first values stored are a[0,0,0], a[1,0,0], a[0,1,0]: 0, 6, 2
    assert.deepStrictEqual([bytes.readDoubleLE(128), bytes.readDoubleLE(136), bytes.readDoubleLE(144)], [0, 6, 2]);
    assert.deepStrictEqual(Array.from(parseNpy(bytes).data as Float64Array), Array.from(c));
  });

  it('half floats: bit patterns and rounding as numpy does them', () => {
    const bits: [number, number][] = [[0x3c00, 1], [0xc000, -2], [0x3800, 0.5], [0x7bff, 65504], [0x0001, 2 ** -24], [0x0400, 2 ** -14], [0x7c00, Infinity], [0xfc00, -Infinity], [0x8000, -0]];
    for (const [b, v] of bits) {
      assert.ok(Object.is(halfToFloat(b), v), `${b.toString(16)} -> ${v}`);
      assert.strictEqual(floatToHalf(v), b, `${v} -> ${b.toString(16)}`);
    }
    assert.ok(Number.isNaN(halfToFloat(0x7e00)));
    // numpy's float64 -> float16 for these (checked with numpy 2.4): ties to even, overflow, subnormals
    const numpy: [number, number][] = [[0.1, 11878], [1 / 3, 13653], [65519, 31743], [65520, 31744], [1e-8, 0], [3e-8, 1], [2.98e-8, 0], [5.96e-8, 1], [6.1e-5, 1023], [6.09e-5, 1022], [1.0009765625, 15361], [1.00048828125, 15360], [1.00146484375, 15362]];
    for (const [x, b] of numpy) assert.strictEqual(floatToHalf(x), b, `${x}`);
    const file = write(path.join(tmp, 'half.npy'), rawNpy(header('<f2', '(3,)'), Uint8Array.from([0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b])));
    assert.deepStrictEqual(Array.from(readNpy(file).data as Float32Array), [1, -2, 65504]);
  });

  it("parses the header as a Python literal and never evaluates it", () => {
    const lit = parsePythonLiteral(`{"descr": '<f4', 'shape': (3L, 4,), 'fortran_order': False, 'x': [1, (), None, 'a\\'b']}`);
    assert.ok(lit instanceof Map);
    assert.deepStrictEqual(lit.get('shape'), { tuple: [3n, 4n] });
    assert.deepStrictEqual(lit.get('x'), [1n, { tuple: [] }, null, "a'b"]);
    assert.strictEqual(parsePythonLiteral('(5)'), 5n);
    // Python 2 files: long integers with L, keys in another order, no trailing comma
    const old = rawNpy(`{'shape': (2L,), 'fortran_order': False, 'descr': '<i8'}\n`, 16);
    assert.deepStrictEqual(parseNpy(old, 'py2.npy').shape, [2]);
    for (const bad of ["__import__('os').system('true')", "{'descr': '<f4', 'shape': (2,) + (3,)}", "{'a': 1 'b': 2}", "{'a': 1,,}", "{'a': b'x'}", "{1: 2}", "{'a': 1, 'a': 2}"]) {
      assert.throws(() => parsePythonLiteral(bad), /at column \d+/, bad);
    }
    assert.throws(() => parsePythonLiteral('['.repeat(40) + ']'.repeat(40)), /nesting deeper than 16/);
  });

  describe('hostile and broken files: one line naming the file', () => {
    const cases: [string, Buffer | string, RegExp][] = [
      ['bad-magic.npy', Buffer.from('PK\x03\x04 a zip, not an array'), /not an \.npy file: it begins with "PK\?\? a z"/],
      ['text.npy', '# notes\n', /not an \.npy file/],
      ['empty.npy', Buffer.alloc(0), /truncated: 0 bytes/],
      ['preamble-only.npy', Buffer.from('\x93NUMPY\x01', 'latin1'), /truncated: 7 bytes/],
      ['version.npy', Buffer.from('\x93NUMPY\x04\x00\x10\x00', 'latin1'), /format version 4\.0 is not one of 1\.0, 2\.0, 3\.0/],
      ['header-beyond.npy', (() => { const b = rawNpy(header('<f4', '(1,)'), 4); b.writeUInt16LE(60000, 8); return b; })(), /the header claims 60000 bytes, beyond the end of the \d+-byte file/],
      ['header-huge-v2.npy', (() => { const b = rawNpy(header('<f4', '(1,)'), 4, 2); b.writeUInt32LE(0xffffffff, 8); return b; })(), /the header claims 4294967295 bytes, beyond the end/],
      ['truncated.npy', rawNpy(header('<f8', '(10, 4)'), 100), /truncated: shape \(10, 4\) of <f8 needs 320 bytes of data, the file has 100/],
      ['too-long.npy', rawNpy(header('<f4', '(2, 2)'), 20), /shape \(2, 2\) of <f4 needs 16 bytes of data, the file has 20 \(4 bytes too many\)/],
      ['negative.npy', rawNpy(header('<f4', '(-1, 4)'), 16), /shape \(-1, 4\) has a negative dimension/],
      ['huge-dim.npy', rawNpy(header('<f4', '(99999999999999999999, 4)'), 16), /has a dimension too large to address/],
      ['huge-product.npy', rawNpy(header('<f4', '(4000000000, 4000000000, 4000000000)'), 16), /truncated: .* needs 256000000000000000000000000000 bytes of data, the file has 16/],
      ['unknown-dtype.npy', rawNpy(header('<c8', '(2,)'), 16), /dtype "<c8" is not supported; supported: <f4, <f8, <f2, <i4, <i8, \|u1, \|b1/],
      ['big-endian.npy', rawNpy(header('>f4', '(2,)'), 8), /dtype ">f4" is not supported \(big-endian/],
      ['object.npy', rawNpy(header('|O', '(2,)'), 16), /dtype \|O holds Python objects \(pickles\), which are refused/],
      ['structured.npy', rawNpy(`{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }\n`, 4), /a structured dtype/],
      ['eval.npy', rawNpy(`{'descr': __import__('os').getcwd(), 'fortran_order': False, 'shape': (1,), }\n`, 4), /the header is not a Python literal: unexpected "_" at column 11/],
      ['not-dict.npy', rawNpy(`('<f4', False, (1,))\n`, 4), /the header is not a dict/],
      ['keys.npy', rawNpy(`{'descr': '<f4', 'shape': (1,), }\n`, 4), /the header's keys are \["descr","shape"\], not descr, fortran_order and shape/],
      ['fortran-flag.npy', rawNpy(header('<f4', '(1,)', '1'), 4), /fortran_order is not True or False/],
      ['shape-list.npy', rawNpy(header('<f4', '[1]'), 4), /shape is not a tuple/],
      ['shape-float.npy', rawNpy(header('<f4', "('1',)"), 4), /holds a value that is not an integer/],
      ['dims.npy', rawNpy(header('<f4', `(${Array(65).fill(1).join(', ')})`), 4), /65 dimensions, more than numpy's 64/],
      ['utf8.npy', rawNpy(header('<f4', '(1,)'), 4, 3).fill(0xff, 20, 21), /the version 3\.0 header is not valid UTF-8/],
    ];
    for (const [name, bytes, re] of cases) {
      it(name, () => {
        const file = write(path.join(dirIn('npy-hostile'), name), bytes);
        for (const read of [() => readNpy(file), () => readNpyHeader(file)]) {
          assert.throws(read, (e: Error) => {
            assert.ok(e.message.startsWith(`npy file ${file}: `), e.message);
            assert.match(e.message, re);
            assert.ok(!e.message.includes('\n'), 'one line');
            return true;
          });
        }
      });
    }

    it('a header over 64 KiB, a directory, a device and a FIFO are refused by the file policy', () => {
      const big = write(path.join(dirIn('npy-hostile'), 'big-header.npy'), rawNpy(`{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }${' '.repeat(70000)}\n`, 4, 2));
      assert.throws(() => readNpy(big), /big-header\.npy: a header of \d+ bytes, more than the 65536 allowed/);
      assert.throws(() => readNpy(dirIn('npy-hostile', 'dir.npy')), /npy file .*dir\.npy is not a regular file \(a directory\)/);
      assert.throws(() => readNpy('/dev/zero'), /npy file \/dev\/zero is not a regular file \(a device\)/);
      const fifo = path.join(tmp, 'fifo.npy');
      execFileSync('mkfifo', [fifo]);
      assert.throws(() => readNpyHeader(fifo), /is not a regular file \(a FIFO\)/);
      const file = write(path.join(tmp, 'limit.npy'), encodeNpy({ shape: [100], dtype: '<f8', data: new Float64Array(100) }));
      assert.throws(() => readNpy(file, { maxBytes: 512 }), /npy file .*limit\.npy is 928 bytes, more than the 512 bytes allowed/);
      assert.throws(() => readNpy(path.join(tmp, 'absent.npy')), /npy file .*absent\.npy does not exist/);
    });
  });
});

// ------------------------------------------------------------------------------------ split lists

describe('video split lists', () => {
  describe('HMDB51 (testTrainMulti_7030_splits)', () => {
    const dir = dirIn('hmdb51', 'splits');
    write(path.join(dir, 'brush_hair_test_split1.txt'), 'April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1 \nApril_09_brush_hair_u_nm_np1_ba_goo_1.avi 2 \nApril_09_brush_hair_u_nm_np1_ba_goo_2.avi 0 \n');
    write(path.join(dir, 'climb_stairs_test_split1.txt'), 'stairs_a.avi 2\r\nstairs_b.avi 1\r\n\r\n');
    write(path.join(dir, 'cartwheel_test_split1.txt'), 'wheel_a.avi 1\nwheel_b.avi 2\n');
    write(path.join(dir, 'brush_hair_test_split2.txt'), 'April_09_brush_hair_u_nm_np1_ba_goo_0.avi 2\n');

    it('classes in code-point order, 1 = train, 2 = test, 0 = neither, CRLF and trailing spaces', () => {
      const l = readHmdb51Splits(dir, 1);
      assert.deepStrictEqual(l.classIds, ['brush_hair', 'cartwheel', 'climb_stairs']);
      assert.deepStrictEqual(l.train.map((e) => [e.video, e.label]), [['brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0', 0], ['cartwheel/wheel_a', 1], ['climb_stairs/stairs_b', 2]]);
      assert.deepStrictEqual(l.test.map((e) => e.video), ['brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_1', 'cartwheel/wheel_b', 'climb_stairs/stairs_a']);
      assert.strictEqual(l.test[2].source, `${path.join(dir, 'climb_stairs_test_split1.txt')}:1`);
      assert.deepStrictEqual(readHmdb51Splits(dir, 2).classIds, ['brush_hair']);
      assert.throws(() => readHmdb51Splits(dir, 3), /has no <class>_test_split3\.txt files/);
      assert.throws(() => readHmdb51Splits(dir, 4), /fold 4 is not 1, 2 or 3/);
      assert.throws(() => readHmdb51Splits(path.join(tmp, 'nowhere')), /HMDB51 split folder .*nowhere cannot be read \(ENOENT\)/);
    });

    it('malformed lines name the file and line', () => {
      const bad = dirIn('hmdb51', 'bad');
      const f = write(path.join(bad, 'hug_test_split1.txt'), 'a.avi 1\nb.avi\n');
      assert.throws(() => readHmdb51Splits(bad), new RegExp(`${escape(f)}:2: "b\\.avi" is not "<video>\\.avi <0\\|1\\|2>"`));
      write(f, 'a.avi 1\nb.avi 3\n');
      assert.throws(() => readHmdb51Splits(bad), new RegExp(`${escape(f)}:2: "3" is not 0 \\(unused\\), 1 \\(train\\) or 2 \\(test\\)`));
      write(f, 'a.avi 1\na.avi 1\n');
      assert.throws(() => readHmdb51Splits(bad), new RegExp(`${escape(f)}:2: hug/a is listed twice in the train split \\(first at ${escape(f)}:1\\)`));
      write(f, '../../etc/passwd 1\n');
      assert.throws(() => readHmdb51Splits(bad), /:1: "\.\.\/\.\.\/etc\/passwd" is not a video file name/);
      write(f, 'a.avi 1\n\0\0\0');
      assert.throws(() => readHmdb51Splits(bad), /is not a text file \(it holds NUL bytes\)/);
    });
  });

  describe('UCF101 (ucfTrainTestlist)', () => {
    const dir = dirIn('ucf101', 'lists');
    write(path.join(dir, 'classInd.txt'), '1 ApplyEyeMakeup\r\n2 HandstandPushups\r\n3 YoYo\r\n');
    write(path.join(dir, 'trainlist01.txt'), 'ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\nHandstandPushups/v_HandStandPushups_g08_c01.avi 2\r\nYoYo/v_YoYo_g08_c01.avi 3\r\n');
    write(path.join(dir, 'testlist01.txt'), 'ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\r\nHandStandPushups/v_HandStandPushups_g01_c01.avi\r\nYoYo/v_YoYo_g01_c01.avi\r\n');

    it('labels from classInd.txt (1-based there), test labels from the folder', () => {
      const l = readUcf101Splits(dir, 1);
      assert.deepStrictEqual(l.classIds, ['ApplyEyeMakeup', 'HandstandPushups', 'YoYo']);
      assert.deepStrictEqual(l.train.map((e) => e.label), [0, 1, 2]);
      // the folder spelt with another case than classInd.txt (HandStandPushups) is the same class
      assert.deepStrictEqual(l.test.map((e) => [e.video, e.label]), [['ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01', 0], ['HandstandPushups/v_HandStandPushups_g01_c01', 1], ['YoYo/v_YoYo_g01_c01', 2]]);
      assert.deepStrictEqual(l.classIds.map(defaultClassName), ['Apply Eye Makeup', 'Handstand Pushups', 'Yo Yo']);
    });

    it('unknown classes, wrong labels and malformed lines name the file and line', () => {
      const bad = dirIn('ucf101', 'bad');
      const ind = write(path.join(bad, 'classInd.txt'), '1 ApplyEyeMakeup\n2 YoYo\n');
      const train = write(path.join(bad, 'trainlist01.txt'), 'ApplyEyeMakeup/v_a.avi 1\nYoYo/v_b.avi 1\n');
      const test = write(path.join(bad, 'testlist01.txt'), 'Juggling/v_c.avi\n');
      assert.throws(() => readUcf101Splits(bad), new RegExp(`${escape(train)}:2: label 1 disagrees with the folder YoYo, which is 2 in ${escape(ind)}`));
      write(train, 'ApplyEyeMakeup/v_a.avi 1\nYoYo/v_b.avi\n');
      assert.throws(() => readUcf101Splits(bad), new RegExp(`${escape(train)}:2: "YoYo/v_b\\.avi" is not "<Class>/<video>\\.avi <index>"`));
      write(train, 'ApplyEyeMakeup/v_a.avi 1\nv_b.avi 2\n');
      assert.throws(() => readUcf101Splits(bad), new RegExp(`${escape(train)}:2: "v_b\\.avi" is not "<Class>/<video>\\.avi"`));
      write(train, 'ApplyEyeMakeup/v_a.avi 1\n../v_x.avi 1\n');
      assert.throws(() => readUcf101Splits(bad), new RegExp(`${escape(train)}:2: "\\.\\." is not a class folder name`));
      write(train, 'ApplyEyeMakeup/v_a.avi 1\n');
      assert.throws(() => readUcf101Splits(bad), new RegExp(`${escape(test)}:1: class Juggling is not in ${escape(ind)}`));
      write(ind, '1 ApplyEyeMakeup\n3 YoYo\n');
      assert.throws(() => readUcf101Splits(bad), /classInd\.txt: the indices of 2 classes must be 1\.\.2; 2 is missing/);
      write(ind, '1 ApplyEyeMakeup\nYoYo\n');
      assert.throws(() => readUcf101Splits(bad), new RegExp(`${escape(ind)}:2: "YoYo" is not "<index> <Class>"`));
      fs.rmSync(test);
      write(ind, '1 ApplyEyeMakeup\n2 YoYo\n');
      assert.throws(() => readUcf101Splits(bad), /UCF101 split list .*testlist01\.txt does not exist/);
    });
  });

  it("Efficient-Prompt's class/video lists: sorted class folders, or a given class list", () => {
    const dir = dirIn('ep-lists');
    const train = write(path.join(dir, 'train_split01.txt'), 'climb/c1.avi\nbrush_hair/b1.avi\n');
    const test = write(path.join(dir, 'test_split01.txt'), 'brush_hair/b2.avi\n');
    const l = readClassVideoLists({ train, test });
    assert.deepStrictEqual(l.classIds, ['brush_hair', 'climb']);
    assert.deepStrictEqual(l.train.map((e) => [e.video, e.label]), [['climb/c1', 1], ['brush_hair/b1', 0]]);
    const ids = write(path.join(dir, 'classes.txt'), 'climb\nbrush_hair\nhug\n');
    assert.deepStrictEqual(readClassVideoLists({ train, test }, { classIds: ids }).train.map((e) => e.label), [0, 1]);
    assert.throws(() => readClassVideoLists({ train, test }, { classIds: ['climb'] }), new RegExp(`${escape(train)}:2: class brush_hair is not in the class list given`));
  });
});

// ---------------------------------------------------------------------------- sampling and sorting

describe('frame sampling', () => {
  it('natural order of frame names', () => {
    const names = ['img_10.png', 'img_2.png', 'img_1.png', 'img_001.png', 'frame.png', 'img_2b.png', 'img_0010.jpg'];
    assert.deepStrictEqual(names.slice().sort(naturalCompare), ['frame.png', 'img_001.png', 'img_1.png', 'img_2.png', 'img_2b.png', 'img_0010.jpg', 'img_10.png']);
  });

  it('uniform: the centre of each of T equal segments; short videos repeat frames', () => {
    assert.deepStrictEqual(uniformFrameIndices(10, 4), [1, 3, 6, 8]);
    assert.deepStrictEqual(uniformFrameIndices(8, 8), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepStrictEqual(uniformFrameIndices(3, 5), [0, 0, 1, 2, 2]);
    assert.deepStrictEqual(uniformFrameIndices(1, 3), [0, 0, 0]);
    assert.throws(() => uniformFrameIndices(0, 3), /a video of 0 frames/);
  });

  it("Efficient-Prompt's sampling: padding with the last frame, rates, consecutive windows", () => {
    const rng = streamFor(0, 'test', 'official');
    assert.deepStrictEqual(officialFrameIndices(5, 8, rng), [0, 1, 2, 3, 4, 4, 4, 4]);
    assert.deepStrictEqual(officialFrameIndices(16, 16, rng), Array.from({ length: 16 }, (_, i) => i));
    // rate 1: a window of 16 consecutive frames
    for (let k = 0; k < 20; k++) {
      const idx = officialFrameIndices(100, 16, rng, [1]);
      assert.strictEqual(idx.length, 16);
      idx.forEach((t, i) => assert.strictEqual(t, idx[0] + i));
      assert.ok(idx[0] >= 0 && idx[15] <= 99);
    }
    // rate 1/4 of 100 frames: 25 indices linspace(o, 99) with o < 4, a window of 16 of them
    for (let k = 0; k < 20; k++) {
      const idx = officialFrameIndices(100, 16, rng, [1 / 4]);
      for (let i = 1; i < 16; i++) assert.ok(idx[i] - idx[i - 1] >= 3 && idx[i] - idx[i - 1] <= 5, String(idx));
    }
    // rate 1/4 of 40 frames leaves 10 <= 16 indices: every frame instead
    const idx = officialFrameIndices(40, 16, rng, [1 / 4]);
    idx.forEach((t, i) => assert.strictEqual(t, idx[0] + i));
    const again = (seed: number) => officialFrameIndices(300, 16, streamFor(seed, 'x'));
    assert.deepStrictEqual(again(3), again(3));
  });
});

// ------------------------------------------------------------------------------- frame features

describe('per-video frame features (.npy [T, D])', () => {
  const splits = path.join(tmp, 'hmdb51', 'splits');
  const D = 6;
  const feat = (t: number, v: number) => Float64Array.from({ length: t * D }, (_, k) => v + k / 100);

  it("reads Efficient-Prompt's flat folder (<root>/<video>.npy, float64 as visfeat.py saves them) and samples clips", () => {
    const root = dirIn('hmdb-feat');
    const lists = readHmdb51Splits(splits, 1);
    const all = [...lists.train, ...lists.test];
    all.forEach((e, k) => writeNpy(path.join(root, `${e.video.split('/')[1]}.npy`), { shape: [5 + k, D], dtype: '<f8', data: feat(5 + k, k) }));
    // one in <f2 and one in <f4, in the class-folder layout: any float dtype, either layout
    const half = lists.test[0];
    fs.rmSync(path.join(root, `${half.video.split('/')[1]}.npy`));
    writeNpy(path.join(root, `${half.video}.npy`), { shape: [4, D], dtype: '<f2', data: Float32Array.from({ length: 4 * D }, (_, k) => k / 8) });
    const names = write(path.join(tmp, 'HMDB51_clsname.json'), JSON.stringify({ brush_hair: 'brush hairs', cartwheel: 'cartwheel', climb_stairs: 'climb stairs', unused: 'x' }));
    const ds = loadVideoFeatures(lists, root, { name: 'hmdb51', classNames: names });
    assert.strictEqual(ds.featureDim, D);
    assert.deepStrictEqual(ds.classNames, ['brush hairs', 'cartwheel', 'climb stairs']);
    assert.deepStrictEqual(ds.split('train').map((i) => i.label), [0, 1, 2]);
    assert.deepStrictEqual(ds.split('val'), ds.split('test'));
    assert.deepStrictEqual(ds.manifest.counts, { train: 3, val: 3, test: 3 });
    assert.strictEqual(ds.manifest.id, 'hmdb51-fold1');
    const item = ds.split('train')[1];
    assert.strictEqual(ds.video(item, 'train'), 'cartwheel/wheel_a');
    assert.strictEqual(ds.frameCount(item, 'train'), 6);
    const f = ds.features(item, 'train');
    assert.deepStrictEqual([f.frames, f.dim], [6, D]);
    assert.ok(f.data instanceof Float32Array);
    assert.strictEqual(f.data[D + 2], Math.fround(1 + (D + 2) / 100));
    const clip = ds.clip(item, 'train', 3); // frames 1, 3, 5
    assert.deepStrictEqual(Array.from(clip.subarray(0, 2)), Array.from(f.data.subarray(D, D + 2)));
    assert.deepStrictEqual(Array.from(clip.subarray(2 * D, 2 * D + 1)), [f.data[5 * D]]);
    const h = ds.features(ds.split('test')[0], 'test');
    assert.deepStrictEqual([h.frames, h.data[3]], [4, 3 / 8]);
    assert.strictEqual(ds.clip(ds.split('test')[0], 'test', 8, { sampling: 'official', rng: streamFor(1, 'c') }).length, 8 * D);
    const batch = ds.clips(ds.split('train').slice(1, 3), 'train', 3);
    assert.deepStrictEqual(batch.shape, [2, 3, D]);
    assert.deepStrictEqual(Array.from(batch.data.subarray(0, 3 * D)), Array.from(clip));
    assert.throws(() => ds.clip(item, 'train', 4, { sampling: 'official' }), /official sampling draws at random; pass an rng/);
    assert.throws(() => ds.features({ index: 7, label: 0 }, 'train'), /hmdb51: \{"index":7,"label":0\} is not an item of the train split/);
    assert.throws(() => loadVideoFeatures(lists, root, { classNames: { brush_hair: 'b' } }), /the class name map has no name for class cartwheel/);
  });

  it('missing files, inconsistent D, wrong shapes and hostile files are named with the list line', () => {
    const root = dirIn('hmdb-feat-bad');
    const lists = readHmdb51Splits(splits, 1);
    const all = [...lists.train, ...lists.test];
    const fileOf = (k: number) => path.join(root, `${all[k].video.split('/')[1]}.npy`);
    all.forEach((e, k) => writeNpy(fileOf(k), { shape: [3, D], dtype: '<f4', data: new Float32Array(3 * D) }));
    assert.doesNotThrow(() => loadVideoFeatures(lists, root));
    writeNpy(fileOf(4), { shape: [3, D + 1], dtype: '<f4', data: new Float32Array(3 * (D + 1)) });
    assert.throws(() => loadVideoFeatures(lists, root), new RegExp(`${escape(fileOf(4))}: frame features of dimension 7, but ${escape(fileOf(0))} has 6; every video's features must have the same dimension \\(from ${escape(all[4].source)}\\)`));
    writeNpy(fileOf(4), { shape: [3 * D], dtype: '<f4', data: new Float32Array(3 * D) });
    assert.throws(() => loadVideoFeatures(lists, root), /frame features of shape \[18\]; \[T, D\] with T, D >= 1 is expected/);
    writeNpy(fileOf(4), { shape: [0, D], dtype: '<f4', data: new Float32Array(0) });
    assert.throws(() => loadVideoFeatures(lists, root), /frame features of shape \[0, 6\]/);
    writeNpy(fileOf(4), { shape: [3, D], dtype: '<i4', data: new Int32Array(3 * D) });
    assert.throws(() => loadVideoFeatures(lists, root), /frame features of dtype <i4; float features/);
    write(fileOf(4), rawNpy(header('|O', `(3, ${D})`), 3 * D * 8));
    assert.throws(() => loadVideoFeatures(lists, root), new RegExp(`npy file ${escape(fileOf(4))}: dtype \\|O holds Python objects`));
    fs.rmSync(fileOf(4));
    assert.throws(() => loadVideoFeatures(lists, root), new RegExp(`${escape(all[4].source)}: no frame features for cartwheel/wheel_b: neither ${escape(fileOf(4))} nor ${escape(path.join(root, 'cartwheel', 'wheel_b.npy'))} exists`));
    fs.mkdirSync(fileOf(4));
    assert.throws(() => loadVideoFeatures(lists, root), /wheel_b\.npy is not a regular file \(a directory\)/);
    fs.rmSync(fileOf(4), { recursive: true });
    writeNpy(fileOf(4), { shape: [3, D], dtype: '<f4', data: new Float32Array(3 * D) });
    const ds = loadVideoFeatures(lists, root);
    // a file replaced after loading is noticed
    writeNpy(fileOf(4), { shape: [2, D], dtype: '<f4', data: new Float32Array(2 * D) });
    assert.throws(() => ds.features(ds.split('test')[1], 'test'), /now of shape \[2, 6\], \[3, 6\] when the dataset was loaded/);
    assert.throws(() => loadVideoFeatures(lists, path.join(tmp, 'no-features')), /frame feature folder .*no-features does not exist/);
  });

  it("UCF101 with features in class folders (<root>/<Class>/<video>.npy)", () => {
    const lists = readUcf101Splits(path.join(tmp, 'ucf101', 'lists'), 1);
    const root = dirIn('ucf-feat');
    for (const e of [...lists.train, ...lists.test]) writeNpy(path.join(root, `${e.video}.npy`), { shape: [2, 4], dtype: '<f4', data: new Float32Array(8).fill(e.label) });
    const ds = loadVideoFeatures(lists, root);
    assert.strictEqual(ds.name, 'ucf-feat');
    assert.deepStrictEqual(ds.split('test').map((it) => ds.features(it, 'test').data[0]), [0, 1, 2]);
    assert.deepStrictEqual(ds.classNames, ['Apply Eye Makeup', 'Handstand Pushups', 'Yo Yo']);
  });
});

// --------------------------------------------------------------------------------- frame folders

/** A tiny PNG whose every pixel is (value, 255 - value, 7). */
function framePng(value: number, size = 6): Buffer {
  const px = new Uint8Array(size * size * 3);
  for (let i = 0; i < size * size; i++) px.set([value, 255 - value, 7], 3 * i);
  return encodePng(size, size, 3, px);
}

describe('video frame folders', () => {
  const splits = path.join(tmp, 'hmdb51', 'splits');
  const lists = readHmdb51Splits(splits, 1);
  const root = dirIn('hmdb-frames');
  const frameCount = (k: number) => [3, 12, 5, 8, 1, 10][k];
  [...lists.train, ...lists.test].forEach((e, k) => {
    // videos 0..4 in <root>/<class>/<video>/, the last in <root>/<video>/ (the flat layout)
    const dir = k < 5 ? path.join(root, e.video) : path.join(root, e.video.split('/')[1]);
    for (let t = 1; t <= frameCount(k); t++) write(path.join(dir, `img_${t}.png`), framePng(10 * k + t));
    write(path.join(dir, 'notes.txt'), 'not a frame');
  });

  it('frames in natural order, sampled uniformly to numFrames, decoded from PNG', () => {
    const ds = loadVideoFrames(lists, root, { numFrames: 4, name: 'hmdb51-frames' });
    assert.strictEqual(ds.kind, 'video');
    assert.strictEqual(ds.numFrames, 4);
    const item = ds.split('train')[1]; // video 1: 12 frames -> 2, 5, 8, 11 (0-based 1, 4, 7, 10)
    assert.deepStrictEqual(ds.frameFiles(item, 'train').map((f) => path.basename(f)), ['img_2.png', 'img_5.png', 'img_8.png', 'img_11.png']);
    const frames = ds.frames(item, 'train');
    assert.deepStrictEqual(frames.map((f) => [f.width, f.height, f.channels, f.data[0], f.data[1]]), [2, 5, 8, 11].map((t) => [6, 6, 3, 10 + t, 255 - 10 - t]));
    // a 1-frame video repeats its frame; the flat layout is found too
    assert.deepStrictEqual(ds.frameFiles(ds.split('test')[1], 'test').map((f) => path.basename(f)), ['img_1.png', 'img_1.png', 'img_1.png', 'img_1.png']);
    assert.ok(ds.frameFiles(ds.split('test')[2], 'test')[0].startsWith(path.join(root, 'stairs_a')));
    assert.strictEqual(asVideoDataset(ds).frames(item, 'train').length, 4);
    assert.deepStrictEqual(ds.manifest.counts, { train: 3, val: 3, test: 3 });
  });

  it('missing and empty video folders are named with the list line', () => {
    const bad = dirIn('hmdb-frames-bad');
    const e = lists.train[0];
    assert.throws(() => loadVideoFrames(lists, bad), new RegExp(`${escape(e.source)}: no frame folder for ${escape(e.video)}: neither ${escape(path.join(bad, e.video))} nor ${escape(path.join(bad, e.video.split('/')[1]))} is a folder`));
    fs.mkdirSync(path.join(bad, e.video), { recursive: true });
    write(path.join(bad, e.video, 'readme.txt'), 'x');
    assert.throws(() => loadVideoFrames(lists, bad), new RegExp(`${escape(e.source)}: ${escape(path.join(bad, e.video))} holds no \\.jpg or \\.png frames`));
    assert.throws(() => loadVideoFrames(lists, root, { numFrames: 0 }), /numFrames must be a positive integer/);
  });

  it('links out of the root are refused: a video folder or a frame', () => {
    const outside = dirIn('outside-frames');
    write(path.join(outside, 'img_1.png'), framePng(1));
    const linked = dirIn('hmdb-frames-linked');
    for (const e of [...lists.train, ...lists.test]) {
      const d = path.join(linked, e.video);
      write(path.join(d, 'img_1.png'), framePng(2));
    }
    assert.doesNotThrow(() => loadVideoFrames(lists, linked));
    const e = lists.test[0];
    fs.symlinkSync(path.join(outside, 'img_1.png'), path.join(linked, e.video, 'img_2.png'));
    assert.throws(() => loadVideoFrames(lists, linked), /frame: ".*img_2\.png" is a link out of/);
    fs.rmSync(path.join(linked, e.video), { recursive: true });
    fs.symlinkSync(outside, path.join(linked, e.video));
    assert.throws(() => loadVideoFrames(lists, linked), new RegExp(`${escape(e.source)}: video folder: "${escape(e.video)}" is a link out of`));
  });
});

// ------------------------------------------------------------------------- frame feature cache

const CFG: ClipConfig = {
  embedDim: 16, imageResolution: 16, visionLayers: 1, visionWidth: 16, visionPatchSize: 8, visionHeads: 2,
  contextLength: 8, vocabSize: 50, transformerWidth: 16, transformerHeads: 2, transformerLayers: 1,
  textAct: 'quick_gelu', visionAct: 'quick_gelu', layerNormEps: 1e-5,
};

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

describe('frame features: computed once with the frozen image tower, cached on disk', () => {
  const clip = new ClipModel(CFG, randomStateDict(CFG, 3));
  const counts = { train: 1, val: 1, test: 1 };
  const motion = new WorldMotionDataset(undefined, { quick: true, counts });
  after(() => clip.dispose());

  it('[N, T, 3, H, W] -> [N, T, D]: encodeClips and encodeClipPixels agree with the image tower frame by frame', () => {
    const items = motion.split('test');
    const f = encodeClips(clip, 2, (i) => motion.frames(items[i], 'test'), motion.numFrames, { batchSize: 5 });
    assert.deepStrictEqual(f.shape, [2, 8, 16]);
    const frames = motion.frames(items[1], 'test');
    const direct = encodeImages(clip, 8, (t) => frames[t], () => 0, { normalize: false }).features;
    assert.ok(maxDiff(f.slice([1, 0, 0], [1, 8, 16]).reshape([8, 16]), direct) < 1e-5);
    const pixels = tf.randomNormal([2, 3, 3, 16, 16], 0, 1, 'float32', 5) as tf.Tensor5D;
    const g = encodeClipPixels(clip, pixels, { batchSize: 4 });
    const h = clip.encodeImage(pixels.reshape([6, 3, 16, 16]) as tf.Tensor4D);
    assert.deepStrictEqual(g.shape, [2, 3, 16]);
    assert.ok(maxDiff(g.reshape([6, 16]), h) < 1e-5);
    assert.throws(() => encodeClipPixels(clip, tf.zeros([1, 2, 3, 8, 8]) as tf.Tensor5D), /\[N, T, 3, 16, 16\] expected/);
    assert.throws(() => encodeClips(clip, 1, () => frames.slice(0, 3), 8), /clip 0 has 3 frames, not 8/);
    tf.dispose([f, direct, pixels, g, h]);
  });

  it('a miss computes and writes; the next run reads it back; other weights or other data miss', () => {
    const dir = dirIn('cache');
    const log: string[] = [];
    const first = new FrameFeatures(clip, motion, { cacheDir: dir, log: (l) => log.push(l) });
    const a = first.raw('test');
    assert.deepStrictEqual(a.shape, [motion.split('test').length, 8, 16]);
    assert.deepStrictEqual(first.stats, { computed: 1, loaded: 0 });
    assert.strictEqual(first.raw('test'), a, 'memory');
    const file = first.cacheFile('test') as string;
    assert.ok(fs.existsSync(file) && fs.existsSync(file.replace(/\.npy$/, '.json')));
    assert.deepStrictEqual(readNpy(file).shape, a.shape);
    assert.deepStrictEqual(fs.readdirSync(dir).filter((n) => n.includes('.tmp-')), [], 'no temporaries left');
    const record = JSON.parse(fs.readFileSync(file.replace(/\.npy$/, '.json'), 'utf8'));
    assert.strictEqual(record.model, modelChecksum(clip));
    assert.strictEqual(record.data, clipDataChecksum(motion, 'test'));
    assert.ok(record.data.startsWith(motion.manifest.contentSha256));

    // a new model object with the same weights: a hit
    const same = new ClipModel(CFG, randomStateDict(CFG, 3));
    const second = new FrameFeatures(same, motion, { cacheDir: dir });
    const b = second.raw('test');
    assert.deepStrictEqual(second.stats, { computed: 0, loaded: 1 });
    assert.strictEqual(maxDiff(a, b), 0);
    const sub = second.rawOf('test', [motion.split('test')[2], motion.split('test')[0]]);
    assert.strictEqual(maxDiff(sub, tf.gather(b, [2, 0])), 0);

    // other weights: a miss, another file
    const other = new ClipModel(CFG, randomStateDict(CFG, 4));
    const third = new FrameFeatures(other, motion, { cacheDir: dir });
    const c = third.raw('test');
    assert.deepStrictEqual(third.stats, { computed: 1, loaded: 0 });
    assert.notStrictEqual(third.cacheFile('test'), file);
    assert.ok(maxDiff(a, c) > 1e-3);

    // other data (another seed of the world): a miss
    const motion1 = new WorldMotionDataset(undefined, { quick: true, counts, seed: 1 });
    const fourth = new FrameFeatures(clip, motion1, { cacheDir: dir });
    fourth.raw('test');
    assert.deepStrictEqual(fourth.stats, { computed: 1, loaded: 0 });
    assert.notStrictEqual(fourth.cacheFile('test'), file);
    assert.strictEqual(fs.readdirSync(dir).filter((n) => n.endsWith('.npy')).length, 3);

    // the train split is its own entry
    const fifth = new FrameFeatures(clip, motion, { cacheDir: dir });
    fifth.raw('train');
    fifth.raw('test');
    assert.deepStrictEqual(fifth.stats, { computed: 1, loaded: 1 });
    for (const x of [first, second, third, fourth, fifth]) x.dispose();
    same.dispose();
    other.dispose();
    sub.dispose();
  });

  it('a damaged entry or a record for another key is recomputed, not trusted', () => {
    const dir = dirIn('cache-damaged');
    const ff = new FrameFeatures(clip, motion, { cacheDir: dir });
    const good = ff.raw('test').clone();
    const file = ff.cacheFile('test') as string;
    ff.dispose();
    fs.truncateSync(file, 200);
    const log: string[] = [];
    const again = new FrameFeatures(clip, motion, { cacheDir: dir, log: (l) => log.push(l) });
    assert.strictEqual(maxDiff(again.raw('test'), good), 0);
    assert.deepStrictEqual(again.stats, { computed: 1, loaded: 0 });
    assert.ok(log.some((l) => l.includes('unreadable') && l.includes('truncated')), log.join('\n'));
    assert.deepStrictEqual(readNpy(file).shape, good.shape, 'rewritten whole');
    again.dispose();
    const sidecar = file.replace(/\.npy$/, '.json');
    fs.writeFileSync(sidecar, JSON.stringify({ key: 'another' }));
    const third = new FrameFeatures(clip, motion, { cacheDir: dir, log: (l) => log.push(l) });
    third.raw('test');
    assert.deepStrictEqual(third.stats, { computed: 1, loaded: 0 });
    assert.ok(log.some((l) => l.includes('recorded for another key')));
    fs.rmSync(sidecar);
    const fourth = new FrameFeatures(clip, motion, { cacheDir: dir });
    fourth.raw('test');
    assert.deepStrictEqual(fourth.stats, { computed: 1, loaded: 0 }, 'an entry without its record is a miss');
    for (const x of [third, fourth]) x.dispose();
    good.dispose();
  });

  it('frame-folder videos: a changed frame file changes the key', () => {
    const lists = readHmdb51Splits(path.join(tmp, 'hmdb51', 'splits'), 1);
    const ds = loadVideoFrames(lists, path.join(tmp, 'hmdb-frames'), { numFrames: 4 });
    const dir = dirIn('cache-frames');
    const run = () => {
      const ff = new FrameFeatures(clip, ds, { cacheDir: dir });
      const f = ff.raw('test');
      const out = { stats: { ...ff.stats }, file: ff.cacheFile('test'), shape: f.shape };
      ff.dispose();
      return out;
    };
    const a = run();
    assert.deepStrictEqual([a.stats, a.shape], [{ computed: 1, loaded: 0 }, [3, 4, 16]]);
    assert.deepStrictEqual(run().stats, { computed: 0, loaded: 1 });
    const frame = ds.frameFiles(ds.split('test')[0], 'test')[0];
    fs.writeFileSync(frame, framePng(200));
    const b = run();
    assert.deepStrictEqual(b.stats, { computed: 1, loaded: 0 });
    assert.notStrictEqual(b.file, a.file);
    // memory only: no folder written
    const mem = new FrameFeatures(clip, ds, { cacheDir: null });
    mem.raw('val');
    assert.strictEqual(mem.cacheFile('val'), null);
    mem.dispose();
  });

  it('no tensors leak across a cached run', () => {
    const dir = dirIn('cache-leak');
    new FrameFeatures(clip, motion, { cacheDir: dir }).raw('val').dispose();
    const before = tf.memory().numTensors;
    const ff = new FrameFeatures(clip, motion, { cacheDir: dir });
    ff.raw('val');
    ff.rawOf('val', motion.split('val').slice(0, 2)).dispose();
    ff.dispose();
    assert.strictEqual(tf.memory().numTensors, before);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
