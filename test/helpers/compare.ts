// Relative-error comparison against golden tensors, with messages that say where it went wrong.
import * as assert from 'assert';
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../../src/clip/model';

export interface Golden {
  shape: number[];
  data: ArrayLike<number>;
}

/** ||out - ref|| / ||ref|| over all elements (float64 accumulation). */
export function relativeError(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = out[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

export function assertClose(name: string, out: tf.Tensor, ref: Golden, tol = 1e-4): number {
  assert.deepStrictEqual(out.shape, ref.shape, `${name}: shape [${out.shape}] vs reference [${ref.shape}]`);
  const values = out.dataSync();
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) assert.fail(`${name}: non-finite value ${values[i]} at flat index ${i}`);
  }
  const err = relativeError(values, ref.data);
  assert.ok(err <= tol, `${name}: relative error ${err.toExponential(3)} > ${tol}`);
  return err;
}

/** max |out - ref| / max |ref|: the measure the official-code fixtures' READMEs use. */
export function maxRelativeError(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num = Math.max(num, Math.abs(out[i] - ref[i]));
    den = Math.max(den, Math.abs(ref[i]));
  }
  return num / Math.max(den, 1e-30);
}

/** Asserts the shape (for tensors) and maxRelativeError(out, ref) <= tol, naming the array. */
export function assertMaxClose(name: string, out: tf.Tensor | Float32Array, ref: Golden, tol = 1e-4): void {
  const data = out instanceof tf.Tensor ? out.dataSync() : out;
  if (out instanceof tf.Tensor) assert.deepStrictEqual(out.shape, ref.shape, `${name}: shape [${out.shape}] vs [${ref.shape}]`);
  const e = maxRelativeError(data, ref.data);
  assert.ok(e <= tol, `${name}: max relative error ${e.toExponential(3)} > ${tol}`);
}

/** A named tensor of a fixture file, or an error naming the file and the tensor. */
export function fixtureTensor(f: { file: string; tensors: Map<string, Golden> }, name: string): Golden {
  const t = f.tensors.get(name);
  if (!t) throw new Error(`${f.file}: no tensor '${name}'`);
  return t;
}

/** A copy of every weight of a CLIP, to check after training that the frozen model did not move. */
export function snapshot(clip: ClipModel): Map<string, Float32Array> {
  return new Map([...clip.stateDict()].map(([k, t]) => [k, Float32Array.from(t.data)]));
}
