// onnxruntime-node (an optional dependency: its CPU runtime ships inside the npm package) for frozen
// image features: the tower exported to ONNX (src/onnx/vit.ts) runs on onnxruntime's own threads.
// Inference only (no gradients); its features match tfjs's within 1e-5 (test/unit/onnx.test.ts).
import * as os from 'os';
import * as tf from '@tensorflow/tfjs';
import type { VisionTransformer } from '../clip/vit';
import { exportVit } from './vit';

interface OrtTensor { data: Float32Array; dims: readonly number[] }
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface Ort {
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => OrtTensor;
  InferenceSession: { create(model: Uint8Array | string, options: object): Promise<OrtSession> };
}

let loaded: Ort | null | undefined;
let loadError = '';

/** onnxruntime-node, or null (with `onnxRuntimeProblem()` saying why) where it is not installed or does not load. */
export function onnxRuntime(): Ort | null {
  if (loaded === undefined) {
    try {
      loaded = require('onnxruntime-node') as Ort;
    } catch (e) {
      loaded = null;
      loadError = `onnxruntime-node does not load here (${(e instanceof Error ? e.message : String(e)).split('\n')[0]}); it is an optional dependency: npm install onnxruntime-node@1.30.0`;
    }
  }
  return loaded;
}

export function onnxRuntimeProblem(): string | null {
  onnxRuntime();
  return loaded ? null : loadError;
}

/** A frozen ViT image tower on onnxruntime: pixels [N, 3, R, R] -> features [N, E]. */
export class OnnxImageEncoder {
  private constructor(private readonly ort: Ort, private session: OrtSession | null, readonly resolution: number) {}

  /** Exports `vit` (its tensors are read, not kept) and starts a session on `threads` threads (default: the cores). */
  static async fromVit(vit: VisionTransformer, threads?: number): Promise<OnnxImageEncoder> {
    return OnnxImageEncoder.start(exportVit(vit), vit.config.imageResolution, threads);
  }

  /** A session on an exported tower (`exportVit`'s bytes written to `file`) whose input is R x R. */
  static async fromFile(file: string, resolution: number, threads?: number): Promise<OnnxImageEncoder> {
    return OnnxImageEncoder.start(file, resolution, threads);
  }

  private static async start(model: Uint8Array | string, resolution: number, threads = Math.max(1, os.cpus().length)): Promise<OnnxImageEncoder> {
    const ort = onnxRuntime();
    if (!ort) throw new Error(onnxRuntimeProblem()!);
    const session = await ort.InferenceSession.create(model, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    return new OnnxImageEncoder(ort, session, resolution);
  }

  async encode(pixels: tf.Tensor4D): Promise<tf.Tensor2D> {
    if (!this.session) throw new Error('OnnxImageEncoder: used after dispose()');
    const [n, c, h, w] = pixels.shape;
    const r = this.resolution;
    if (c !== 3 || h !== r || w !== r) throw new Error(`OnnxImageEncoder.encode: pixels have shape [${pixels.shape.join(', ')}], this tower expects [N, 3, ${r}, ${r}]`);
    const out = await this.session.run({ pixels: new this.ort.Tensor('float32', pixels.dataSync() as Float32Array, [n, c, h, w]) });
    const f = out.features;
    return tf.tensor2d(f.data, [f.dims[0], f.dims[1]]);
  }

  async dispose(): Promise<void> {
    const s = this.session;
    this.session = null;
    if (s) await s.release();
  }
}
