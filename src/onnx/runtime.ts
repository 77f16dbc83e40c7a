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
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface Ort {
  Tensor: new (type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: number[]) => OrtTensor;
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

/** An onnxruntime session on `threads` threads (default: the cores), sequential, all graph optimisations. */
async function startSession(model: Uint8Array | string, threads = Math.max(1, os.cpus().length)): Promise<{ ort: Ort; session: OrtSession }> {
  const ort = onnxRuntime();
  if (!ort) throw new Error(onnxRuntimeProblem()!);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // MLAS would keep a packed copy of every weight matrix (ViT-B/32: +220 MB of peak RSS) for about
    // 8% more speed; packing per run keeps one copy (src/bench/README.md has both)
    extra: { session: { disable_prepacking: '1' } },
  });
  return { ort, session };
}

/** A session and what both encoders share: running it into a [K, E] tensor, and its release. */
abstract class OnnxTower {
  protected constructor(protected readonly ort: Ort, private session: OrtSession | null) {}

  /** Runs the session; its `features` output as a tensor. */
  protected async features(feeds: Record<string, OrtTensor>): Promise<tf.Tensor2D> {
    const f = (await this.live().run(feeds)).features;
    return tf.tensor2d(f.data as Float32Array, [f.dims[0], f.dims[1]]);
  }

  /** The session, or an error that names the encoder when it was disposed. */
  protected live(): OrtSession {
    if (!this.session) throw new Error(`${this.constructor.name}: used after dispose()`);
    return this.session;
  }

  async dispose(): Promise<void> {
    const s = this.session;
    this.session = null;
    if (s) await s.release();
  }
}

/** A frozen image tower (ViT or ModifiedResNet) on onnxruntime: pixels [N, 3, R, R] -> features [N, E]. */
export class OnnxImageEncoder extends OnnxTower {
  private constructor(ort: Ort, session: OrtSession, readonly resolution: number) {
    super(ort, session);
  }

  /** Exports the tower (its tensors are read, not kept) and starts a session on `threads` threads (default: the cores). */
  static async fromTower(tower: VisionTransformer | ModifiedResNet, threads?: number): Promise<OnnxImageEncoder> {
    const model = tower instanceof ModifiedResNet ? exportResNet(tower) : exportVit(tower);
    const { ort, session } = await startSession(model, threads);
    return new OnnxImageEncoder(ort, session, tower.config.imageResolution);
  }

  /** A session on an exported tower (`exportVit`'s or `exportResNet`'s bytes written to `file`) whose input is R x R. */
  static async fromFile(file: string, resolution: number, threads?: number): Promise<OnnxImageEncoder> {
    const { ort, session } = await startSession(file, threads);
    return new OnnxImageEncoder(ort, session, resolution);
  }

  async encode(pixels: tf.Tensor4D): Promise<tf.Tensor2D> {
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
  private constructor(ort: Ort, session: OrtSession, readonly config: ClipConfig) {
    super(ort, session);
  }

  static async fromText(text: TextTower, threads?: number): Promise<OnnxTextEncoder> {
    const { ort, session } = await startSession(exportText(text), threads);
    return new OnnxTextEncoder(ort, session, text.config);
  }

  /** A session on an exported text tower (`exportText`'s bytes written to `file`) of a CLIP with this config. */
  static async fromFile(file: string, config: ClipConfig, threads?: number): Promise<OnnxTextEncoder> {
    const { ort, session } = await startSession(file, threads);
    return new OnnxTextEncoder(ort, session, config);
  }

  async encodeTokenEmbeddings(embeds: tf.Tensor3D, eotIndex: ArrayLike<number>, truncate = true): Promise<tf.Tensor2D> {
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
