// The frozen CLIP backbone: image tower (ViT or ModifiedResNet), causal text transformer, and the
// prompt hook `encodeTokenEmbeddings` through which every prompt-learning method runs.
import * as tf from '@tensorflow/tfjs';
import { ClipConfig, isVit, checkHeads } from './config';
import { ParamReader } from './params';
import { TextTower } from './text';
import { VisionTransformer } from './vit';
import { ModifiedResNet } from './resnet';
import { loadWeights, StateDict } from './weights';
import { defaultThreads, splitRows, towerKeys, TowerWorkers, type Tower } from './workers';
import { frozenRuntime, OnnxImageEncoder, OnnxTextEncoder, onnxRuntimeVersion } from '../onnx/runtime';

/** Token ids [M, L]: a tensor, or a flat Int32Array with its shape (e.g. a tokenizer batch). */
export type TextInput = tf.Tensor2D | { ids: Int32Array; shape: [number, number] };

export interface VisionTokens {
  /** ViT: ln_post(every token) @ proj; ResNet: the attention pool at every position. [N, 1 + HW, E], token 0 global. */
  tokens: tf.Tensor3D;
  /** ResNet only: the layer4 map that enters the attention pool, NCHW [N, C, h, w]. */
  featureMap?: tf.Tensor4D;
}

export interface ClipLogits {
  logitsPerImage: tf.Tensor2D; // [N, M]
  imageEmbeds: tf.Tensor2D;    // [N, E]
  textEmbeds: tf.Tensor2D;     // [M, E]
}

function readIds(input: TextInput, vocabSize: number): { ids: Int32Array; rows: number; length: number } {
  let ids: Int32Array;
  let rows: number;
  let length: number;
  if (input instanceof tf.Tensor) {
    if (input.rank !== 2) throw new Error(`input_ids must be [M, L], got shape [${input.shape.join(', ')}]`);
    [rows, length] = input.shape;
    ids = Int32Array.from(input.dataSync());
  } else {
    [rows, length] = input.shape;
    if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(length) || rows < 0 || length < 0) throw new Error(`input_ids: shape [${input.shape.join(', ')}] is not two whole numbers`);
    if (input.ids.length !== rows * length) throw new Error(`input_ids: ${input.ids.length} values for shape [${rows}, ${length}]`);
    ids = input.ids;
  }
  if (rows === 0 || length === 0) throw new Error(`input_ids has shape [${rows}, ${length}]: at least one row of at least one token is needed`);
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < 0 || ids[i] >= vocabSize) throw new Error(`input_ids: id ${ids[i]} at row ${Math.floor(i / length)}, position ${i % length} is outside the vocabulary (0..${vocabSize - 1})`);
  }
  return { ids, rows, length };
}

/** The position of each row's EOT token: the argmax of the ids (EOT is the largest id), first on ties. */
export function eotPositions(ids: Int32Array, rows: number, length: number): Int32Array {
  const eot = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < length; j++) if (ids[r * length + j] > ids[r * length + best]) best = j;
    eot[r] = best;
  }
  return eot;
}

/** Prompts encoded at once by encodeText (rows are independent: chunking changes no value). */
const TEXT_CHUNK_ROWS = 4096;

export class ClipModel {
  readonly text: TextTower;
  readonly visual: VisionTransformer | ModifiedResNet;
  /** log of the logits' temperature: logits = exp(logitScale) * cosine. */
  readonly logitScaleParam: tf.Scalar;
  private readonly params: ParamReader;
  private disposed = false;

  /**
   * `trainable`: weights become tf.Variables (for pretraining); otherwise frozen tensors, which is
   * what every prompt-learning method wants (gradients still flow through them to the prompts).
   */
  constructor(readonly config: ClipConfig, stateDict: StateDict, source = '<state dict>', readonly trainable = false) {
    checkHeads(config, source);
    const p = new ParamReader(stateDict, source, trainable);
    this.text = new TextTower(p, config);
    this.visual = isVit(config) ? new VisionTransformer(p, config) : new ModifiedResNet(p, config);
    this.logitScaleParam = p.scalar('logit_scale');
    this.params = p;
  }

  get logitScale(): number {
    return this.logitScaleParam.dataSync()[0];
  }

  /** The trainable variables with the state-dict key each comes from (empty for a frozen model). */
  trainableVariables(): { key: string; variable: tf.Variable }[] {
    return this.params.entries
      .filter((e) => e.tensor instanceof tf.Variable && e.tensor.trainable)
      .map((e) => ({ key: e.key, variable: e.tensor as tf.Variable }));
  }

  /** Training mode: BatchNorm (ModifiedResNet) normalises with batch statistics. */
  setTraining(on: boolean): void {
    if (this.visual instanceof ModifiedResNet) this.visual.training = on;
  }

  /** After an optimiser step in training mode: fold the batch statistics into the running ones. */
  updateRunningStats(): void {
    if (this.visual instanceof ModifiedResNet) this.visual.updateRunningStats();
  }

  /** The BatchNorm statistics recorded in training mode, as an array (empty for a ViT), forgotten here. */
  takeBatchStats(): Float32Array {
    return this.visual instanceof ModifiedResNet ? this.visual.takeBatchStats() : new Float32Array(0);
  }

  /** Folds statistics as takeBatchStats returns them (one or more forward passes, in order) into the running ones. */
  foldBatchStats(stats: Float32Array): void {
    if (this.visual instanceof ModifiedResNet) this.visual.foldBatchStats(stats);
  }

  /**
   * The current weights as a state dict (OpenAI key names and PyTorch layouts); `keys` selects
   * entries, `shared` puts each in a SharedArrayBuffer (for worker threads, without a copy each).
   */
  stateDict(opts: { keys?: (key: string) => boolean; shared?: boolean } = {}): StateDict {
    return this.params.stateDict(opts);
  }

  /** Loads a safetensors file or a Hugging Face / OpenAI-layout folder. */
  static load(source: string): ClipModel {
    const w = loadWeights(source);
    return new ClipModel(w.config, w.stateDict, source);
  }

  get kind(): 'vit' | 'resnet' {
    return isVit(this.config) ? 'vit' : 'resnet';
  }

  private live(): void {
    if (this.disposed) throw new Error('this ClipModel has been disposed');
  }

  /** pixel_values NCHW [N, 3, R, R] (normalised) -> image features [N, E], not normalised. */
  encodeImage(pixels: tf.Tensor4D): tf.Tensor2D {
    this.live();
    if (this.onnx.image && !tf.engine().isTapeOn()) return this.onnx.image.encode(pixels);
    const pool = this.workers;
    if (pool?.towers.includes('image') && pixels.shape[0] >= pool.size && !tf.engine().isTapeOn()) {
      return tf.tidy(() => splitRows(pool, 'image', pixels, null, this.config.embedDim, false, (part) => this.visual.encode(part as tf.Tensor4D)));
    }
    return this.visual.encode(pixels);
  }

  private workers: TowerWorkers | null = null;

  /**
   * Starts worker threads that share the rows of the frozen towers' calls: prompts through
   * encodeTokenEmbeddings / encodeText (also under a gradient tape, for prompt learning) and images
   * through encodeImage (without a tape). Each worker holds a copy of the towers named. `threads`
   * counts this one (default: defaultThreads(), from PROMPTLAB_WORKERS or the cores on WASM/CPU);
   * fewer than 2 starts nothing. Values equal the one-thread ones (rows are independent). A model
   * whose weights train (pretraining) keeps to its own thread: the copies would go stale.
   */
  async startWorkers(threads = defaultThreads(), towers: Tower[] = ['text', 'image']): Promise<number> {
    this.live();
    if (this.trainable || threads < 2) return 1;
    await this.stopWorkers();
    const pool = await TowerWorkers.start(this.config, this.stateDict({ keys: towerKeys(towers), shared: true }), threads, towers);
    this.workers = pool;
    this.text.workers = pool;
    return pool.size;
  }

  /** Stops the worker threads (if any); calls run on this thread again. */
  async stopWorkers(): Promise<void> {
    const pool = this.workers;
    this.workers = null;
    this.text.workers = null;
    await pool?.stop();
  }

  private onnx: { image: OnnxImageEncoder | null; text: OnnxTextEncoder | null } = { image: null, text: null };

  /**
   * Runs the frozen towers' calls made without a gradient tape (encodeImage; encodeText and
   * encodeTokenEmbeddings) on onnxruntime-node, an optional dependency: the towers named are exported
   * to ONNX once from this model's weights (src/onnx) and run on onnxruntime's `threads` threads
   * (default: the cores). Their features equal tfjs's within 1e-5 (float32 sums in another order),
   * not bitwise. Calls under a tape (prompt learning's text tower) stay on tfjs and its workers. A
   * model whose weights train keeps to tfjs: the export would go stale. Throws, naming why, where
   * onnxruntime-node does not load.
   */
  startOnnx(towers: Tower[] = ['image', 'text'], threads?: number): void {
    this.live();
    if (this.trainable) throw new Error('startOnnx: this ClipModel trains its own weights; an ONNX export of them would go stale (frozen models only)');
    this.stopOnnx();
    try {
      if (towers.includes('image')) this.onnx.image = OnnxImageEncoder.fromTower(this.visual, threads);
      if (towers.includes('text')) this.onnx.text = OnnxTextEncoder.fromText(this.text, threads);
    } catch (e) {
      this.stopOnnx();
      throw e;
    }
  }

  /** Ends the onnxruntime sessions (if any); every call runs on tfjs again. */
  stopOnnx(): void {
    this.onnx.image?.dispose();
    this.onnx.text?.dispose();
    this.onnx = { image: null, text: null };
  }

  /** The towers whose calls without a tape run on onnxruntime (startOnnx), and its version. */
  get onnxTowers(): { towers: Tower[]; version: string | null } {
    const towers: Tower[] = [];
    if (this.onnx.image) towers.push('image');
    if (this.onnx.text) towers.push('text');
    return { towers, version: towers.length ? onnxRuntimeVersion() : null };
  }

  /**
   * Starts what runs the frozen towers' calls, as PROMPTLAB_FROZEN asks: 'tfjs' (the default) worker
   * threads over the cores (startWorkers: bitwise the one-thread values); 'onnx' onnxruntime for the
   * calls without a tape (startOnnx: within 1e-5) and tfjs workers for the text tower's calls under a
   * tape. Returns a line that says what runs where, for a command's log ('' when nothing started).
   */
  async startFrozenTowers(): Promise<string> {
    if (frozenRuntime() === 'onnx') {
      this.startOnnx();
      const threads = await this.startWorkers(defaultThreads(), ['text']);
      const taped = threads > 1 ? `; the text tower under a gradient tape on ${threads} tfjs threads` : '';
      return `the frozen towers on onnxruntime-node ${onnxRuntimeVersion() ?? ''} (PROMPTLAB_FROZEN=onnx: features within 1e-5 of tfjs's)${taped}`;
    }
    const threads = await this.startWorkers();
    return threads > 1 ? `the frozen towers on ${threads} threads (PROMPTLAB_WORKERS=1 for one)` : '';
  }

  /** Stops what startFrozenTowers started. */
  async stopFrozenTowers(): Promise<void> {
    this.stopOnnx();
    await this.stopWorkers();
  }

  /** Threads sharing the frozen towers' calls (1: this one only). */
  get threads(): number {
    return this.workers?.size ?? 1;
  }

  /** Token ids [M, L] -> text features [M, E], not normalised; computed up to the last EOT only. */
  encodeText(input: TextInput): tf.Tensor2D {
    this.live();
    const { ids, rows, length } = readIds(input, this.config.vocabSize);
    if (length > this.config.contextLength) {
      throw new Error(`input_ids have length ${length}, the model's context length is ${this.config.contextLength}`);
    }
    const eot = eotPositions(ids, rows, length);
    // in chunks of rows: a batch of 200,000 prompts at once runs out of WASM memory
    const parts: tf.Tensor2D[] = [];
    for (let from = 0; from < rows; from += TEXT_CHUNK_ROWS) {
      const to = Math.min(rows, from + TEXT_CHUNK_ROWS);
      const chunkEot = eot.subarray(from, to);
      let last = 0;
      for (const e of chunkEot) if (e > last) last = e;
      parts.push(tf.tidy(() => {
        const cut = tf.tensor2d(ids.subarray(from * length, to * length), [to - from, length], 'int32').slice([0, 0], [to - from, last + 1]) as tf.Tensor2D;
        return this.encodeEmbeddings(this.text.embed(cut), chunkEot);
      }));
    }
    if (parts.length === 1) return parts[0];
    const out = tf.concat(parts, 0);
    tf.dispose(parts);
    return out;
  }

  /** Frozen token embeddings of ids [K, L] -> [K, L, D]: the pieces a method splices prompts from. */
  tokenEmbeddings(input: TextInput): tf.Tensor3D {
    this.live();
    const { ids, rows, length } = readIds(input, this.config.vocabSize);
    return tf.tidy(() => this.text.embed(tf.tensor2d(ids, [rows, length], 'int32')));
  }

  /** The prompt hook for prompts that share their first embeddings (see TextTower.encodeWithSharedPrefix). */
  encodeWithSharedPrefix(prefix: tf.Tensor3D, rest: tf.Tensor3D, eotIndex: ArrayLike<number>): tf.Tensor2D {
    this.live();
    return this.text.encodeWithSharedPrefix(prefix, rest, eotIndex);
  }

  /** The prompt hook: embeds [K, L, D] and each sequence's EOT position [K] -> text features [K, E]. */
  encodeTokenEmbeddings(embeds: tf.Tensor3D, eotIndex: ArrayLike<number>): tf.Tensor2D {
    this.live();
    return this.encodeEmbeddings(embeds, eotIndex);
  }

  /** The text tower's call: on onnxruntime without a tape where startOnnx put it there, else tfjs (and its workers). */
  private encodeEmbeddings(embeds: tf.Tensor3D, eotIndex: ArrayLike<number>): tf.Tensor2D {
    if (this.onnx.text && !tf.engine().isTapeOn()) return this.onnx.text.encodeTokenEmbeddings(embeds, eotIndex);
    return this.text.encodeTokenEmbeddings(embeds, eotIndex);
  }

  /** ln_final output at every position, [M, L, width]. */
  textTokens(input: TextInput): tf.Tensor3D {
    this.live();
    const { ids, rows, length } = readIds(input, this.config.vocabSize);
    return tf.tidy(() => this.text.tokens(tf.tensor2d(ids, [rows, length], 'int32')));
  }

  /** Per-token image features (see VisionTokens). */
  visionTokens(pixels: tf.Tensor4D): VisionTokens {
    this.live();
    if (this.visual instanceof VisionTransformer) return { tokens: this.visual.tokens(pixels) };
    return this.visual.tokens(pixels);
  }

  /**
   * Per-position image features in the joint embedding space, for dense prediction without training
   * (MaskCLIP): [N, H/32, W/32, E] for a ModifiedResNet (the attention pool's value and output
   * projections at every position); a ViT's are its per-patch tokens.
   */
  denseFeatures(pixels: tf.Tensor4D): tf.Tensor4D {
    this.live();
    if (this.visual instanceof ModifiedResNet) return this.visual.denseFeatures(pixels);
    return tf.tidy(() => {
      const t = this.visual.tokens(pixels) as tf.Tensor3D;              // [N, 1 + g*g, E]
      const [n, len, e] = t.shape;
      const g = Math.round(Math.sqrt(len - 1));
      return t.slice([0, 1, 0], [n, len - 1, e]).reshape([n, g, g, e]) as tf.Tensor4D;
    });
  }

  /** CLIP's forward: exp(logit_scale) * cos(image, text), with both embeddings. */
  logits(pixels: tf.Tensor4D, input: TextInput): ClipLogits {
    const imageEmbeds = this.encodeImage(pixels);
    const textEmbeds = this.encodeText(input);
    const logitsPerImage = tf.tidy(() => {
      const i = tf.div(imageEmbeds, tf.norm(imageEmbeds, 2, -1, true));
      const t = tf.div(textEmbeds, tf.norm(textEmbeds, 2, -1, true));
      return tf.mul(tf.matMul(i, tf.transpose(t)), Math.exp(this.logitScale)) as tf.Tensor2D;
    });
    return { logitsPerImage, imageEmbeds, textEmbeds };
  }

  dispose(): void {
    if (this.disposed) return;
    this.stopOnnx();
    void this.stopWorkers();
    for (const t of this.params.created) t.dispose();
    this.disposed = true;
  }
}
