// onnxruntime-node (an optional dependency: its CPU runtime ships inside the npm package) for frozen
// image and text features: a tower exported to ONNX (src/onnx/vit.ts, resnet.ts, text.ts) runs on
// onnxruntime's own threads.
// Inference only (no gradients); its features match tfjs's within 1e-5 (test/unit/onnx.test.ts).
import * as os from 'os';
import * as tf from '@tensorflow/tfjs';
import type { VisionTransformer } from '../clip/vit';
import { ModifiedResNet } from '../clip/resnet';
import { exportResNet } from './resnet';
import { exportVit } from './vit';
import { exportText } from './text';
import { positionsUsed, type TextTower } from '../clip/text';
import type { ClipConfig } from '../clip/config';

interface OrtTensor { data: Float32Array | BigInt64Array; dims: readonly number[] }
/** onnxruntime-node's native session: it loads and runs synchronously (the package's own `run` wraps it in a promise). */
interface NativeSession {
  loadModel(file: string, options: object): void;
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, OrtTensor>, fetches: Record<string, null>, options: object): Record<string, OrtTensor>;
  dispose(): void;
}
interface Ort {
  Tensor: new (type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: number[]) => OrtTensor;
  Session: new () => NativeSession;
  version: string;
}

let loaded: Ort | null | undefined;
let loadError = '';

/**
 * onnxruntime-node, or null (with `onnxRuntimeProblem()` saying why) where it is not installed or does
 * not load. Its sessions are run through the package's native binding, which is synchronous, so that
 * ClipModel's encodeImage and encodeText (synchronous, as tfjs ops are) can call them.
 */
export function onnxRuntime(): Ort | null {
  if (loaded === undefined) {
    try {
      const ort = require('onnxruntime-node') as { Tensor: Ort['Tensor']; env?: { versions?: { node?: string } } };
      const native = require('onnxruntime-node/dist/binding') as { binding?: { InferenceSession?: unknown }; initOrt?: () => void };
      const version = ort.env?.versions?.node ?? 'unknown';
      if (typeof native.initOrt !== 'function' || typeof native.binding?.InferenceSession !== 'function') {
        throw new Error(`onnxruntime-node ${version} has no native binding where 1.30.0 has it (dist/binding.js: binding.InferenceSession, initOrt)`);
      }
      native.initOrt();
      loaded = { Tensor: ort.Tensor, Session: native.binding.InferenceSession as Ort['Session'], version };
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

/**
 * What runs the frozen towers' calls without a gradient tape, as PROMPTLAB_FROZEN asks: 'tfjs' (the
 * default: the backend, bitwise reproducible) or 'onnx' (onnxruntime-node, within 1e-5 of tfjs).
 */
export function frozenRuntime(): 'tfjs' | 'onnx' {
  const asked = process.env.PROMPTLAB_FROZEN ?? '';
  if (asked === '' || asked === 'tfjs') return 'tfjs';
  if (asked === 'onnx') return 'onnx';
  throw new Error(`PROMPTLAB_FROZEN='${asked}' must be tfjs (the default) or onnx`);
}

/** onnxruntime-node's version where it loads (run records name it), else null. */
export function onnxRuntimeVersion(): string | null {
  return onnxRuntime()?.version ?? null;
}

/** An onnxruntime session on `threads` threads (default: the cores), sequential, all graph optimisations. */
function startSession(model: Uint8Array | string, threads = Math.max(1, os.cpus().length)): { ort: Ort; session: NativeSession } {
  const ort = onnxRuntime();
  if (!ort) throw new Error(onnxRuntimeProblem()!);
  const options = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // MLAS would keep a packed copy of every weight matrix (ViT-B/32: +220 MB of peak RSS) for about
    // 8% more speed; packing per run keeps one copy (src/bench/README.md has both)
    extra: { session: { disable_prepacking: '1' } },
  };
  const session = new ort.Session();
  if (typeof model === 'string') session.loadModel(model, options);
  else session.loadModel(model.buffer, model.byteOffset, model.byteLength, options);
  return { ort, session };
}

/** A session and what both encoders share: running it into a [K, E] tensor, and its release. */
abstract class OnnxTower {
  protected constructor(protected readonly ort: Ort, private session: NativeSession | null) {}

  /** Runs the session (synchronously); its `features` output as a tensor. */
  protected features(feeds: Record<string, OrtTensor>): tf.Tensor2D {
    const f = this.live().run(feeds, { features: null }, {}).features;
    return tf.tensor2d(f.data as Float32Array, [f.dims[0], f.dims[1]]);
  }

  /** The session, or an error that names the encoder when it was disposed. */
  protected live(): NativeSession {
    if (!this.session) throw new Error(`${this.constructor.name}: used after dispose()`);
    return this.session;
  }

  dispose(): void {
    const s = this.session;
    this.session = null;
    s?.dispose();
  }
}

/** A frozen image tower (ViT or ModifiedResNet) on onnxruntime: pixels [N, 3, R, R] -> features [N, E]. */
export class OnnxImageEncoder extends OnnxTower {
  private constructor(ort: Ort, session: NativeSession, readonly resolution: number) {
    super(ort, session);
  }

  /** Exports the tower (its tensors are read, not kept) and starts a session on `threads` threads (default: the cores). */
  static fromTower(tower: VisionTransformer | ModifiedResNet, threads?: number): OnnxImageEncoder {
    const model = tower instanceof ModifiedResNet ? exportResNet(tower) : exportVit(tower);
    const { ort, session } = startSession(model, threads);
    return new OnnxImageEncoder(ort, session, tower.config.imageResolution);
  }

  /** A session on an exported tower (`exportVit`'s or `exportResNet`'s bytes written to `file`) whose input is R x R. */
  static fromFile(file: string, resolution: number, threads?: number): OnnxImageEncoder {
    const { ort, session } = startSession(file, threads);
    return new OnnxImageEncoder(ort, session, resolution);
  }

  encode(pixels: tf.Tensor4D): tf.Tensor2D {
    this.live();
    const [n, c, h, w] = pixels.shape;
    const r = this.resolution;
    if (c !== 3 || h !== r || w !== r) throw new Error(`OnnxImageEncoder.encode: pixels have shape [${pixels.shape.join(', ')}], this tower expects [N, 3, ${r}, ${r}]`);
    return this.features({ pixels: new this.ort.Tensor('float32', pixels.dataSync() as Float32Array, [n, c, h, w]) });
  }
}

/**
 * A frozen text tower on onnxruntime, behind the prompt hook's signature: embeddings [K, L, D] and
 * each prompt's EOT position -> features [K, E], cut after the last EOT as TextTower does (exact).
 */
export class OnnxTextEncoder extends OnnxTower {
  private constructor(ort: Ort, session: NativeSession, readonly config: ClipConfig) {
    super(ort, session);
  }

  static fromText(text: TextTower, threads?: number): OnnxTextEncoder {
    const { ort, session } = startSession(exportText(text), threads);
    return new OnnxTextEncoder(ort, session, text.config);
  }

  /** A session on an exported text tower (`exportText`'s bytes written to `file`) of a CLIP with this config. */
  static fromFile(file: string, config: ClipConfig, threads?: number): OnnxTextEncoder {
    const { ort, session } = startSession(file, threads);
    return new OnnxTextEncoder(ort, session, config);
  }

  encodeTokenEmbeddings(embeds: tf.Tensor3D, eotIndex: ArrayLike<number>, truncate = true): tf.Tensor2D {
    this.live();
    const [k, length, d] = embeds.shape;
    const used = positionsUsed(this.config, embeds.shape, eotIndex, truncate);
    const data = tf.tidy(() => (used < length ? embeds.slice([0, 0, 0], [k, used, d]) : embeds).dataSync() as Float32Array);
    const rows = BigInt64Array.from(Array.from(eotIndex, (e, i) => BigInt(i * used + e)));
    return this.features({
      embeds: new this.ort.Tensor('float32', data, [k, used, d]),
      rows: new this.ort.Tensor('int64', rows, [k]),
    });
  }
}
