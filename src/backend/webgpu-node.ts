// TensorFlow.js's WebGPU backend in Node, for the GPU check (scripts/gpu-check.sh): Google's Dawn
// (the `webgpu` npm package, over Vulkan) under @tensorflow/tfjs-backend-webgpu. Only
// PROMPTLAB_BACKEND=webgpu loads it, and none of its three packages is a dependency of promptlab.
//
// The backend reads a tensor synchronously (dataSync) by drawing it onto an OffscreenCanvas, which
// Node lacks, while promptlab reads synchronously inside ops and training loops (the convolution's
// phase gather, a step's loss). So here a synchronous read does what the backend's asynchronous read
// does (copy to a mappable buffer, mapAsync) and waits by running Node's event loop in place
// (`deasync`'s loopWhile), which is where Dawn completes the map. The bytes are the same; a
// synchronous read stalls the GPU's queue, as it does in a browser.

interface StagingBuffer {
  size: number;
  mapState: 'unmapped' | 'pending' | 'mapped';
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
}

/** The parts of tfjs-backend-webgpu's WebGPUBackend that its own asynchronous read uses. */
interface WebgpuBackend {
  tensorMap: { get(dataId: object): { values: unknown; dtype: string; resource: StagingBuffer } | undefined };
  bufferManager: { acquireBuffer(size: number, usage: number): StagingBuffer; releaseBuffer(b: StagingBuffer): void };
  commandEncoder: { copyBufferToBuffer(src: StagingBuffer, srcOffset: number, dst: StagingBuffer, dstOffset: number, size: number): void };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  convertAndCacheOnCPU(dataId: object, values: unknown): unknown;
}

interface WebgpuBackendModule {
  WebGPUBackend: { prototype: WebgpuBackend & { readSync(dataId: object): unknown } };
}

interface Dawn {
  create(flags: string[]): unknown;
  globals: { GPUBufferUsage: { COPY_DST: number; MAP_READ: number }; GPUMapMode: { READ: number } } & Record<string, unknown>;
}

interface Deasync {
  loopWhile(pred: () => boolean): void;
}

interface TfUtil {
  util: { convertBackendValuesAndArrayBuffer(data: ArrayBuffer, dtype: string): unknown };
}

/** How long a synchronous read waits for the GPU before it fails (instead of hanging). */
const READ_TIMEOUT_MS = 600_000;

/** Installs Dawn's WebGPU as navigator.gpu, loads the tfjs backend and gives it synchronous reads. */
export function loadWebgpu(load: (pkg: string) => unknown): void {
  const dawn = load('webgpu') as Dawn;
  Object.assign(globalThis, dawn.globals);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: dawn.create([]) }, configurable: true, writable: true });
  const backend = load('@tensorflow/tfjs-backend-webgpu') as WebgpuBackendModule;
  const { util } = load('@tensorflow/tfjs-core') as TfUtil;
  let deasync: Deasync;
  try {
    deasync = load('deasync') as Deasync;
  } catch (e) {
    throw new Error(`the WebGPU backend needs the deasync package in Node for synchronous reads (${e instanceof Error ? e.message.split('\n')[0] : e})`);
  }
  const { GPUBufferUsage, GPUMapMode } = dawn.globals;
  // The backend's getBufferData, waited for in place. The wait watches the staging buffer's map
  // state, not the promise: a read inside a promise's continuation (an async training loop) runs in
  // V8's microtask checkpoint, where no further continuation can run until it returns.
  backend.WebGPUBackend.prototype.readSync = function readSync(this: WebgpuBackend, dataId: object): unknown {
    const data = this.tensorMap.get(dataId);
    if (!data) throw new Error('readSync: the tensor is not registered with the WebGPU backend (disposed?)');
    if (data.values != null || data.dtype === 'string') return data.values;
    if (data.dtype === 'complex64') throw new Error('readSync: complex64 tensors are not read synchronously on WebGPU in Node; use data()');
    const size = data.resource.size;
    const staging = this.bufferManager.acquireBuffer(size, GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ);
    this.ensureCommandEncoderReady();
    this.endComputePassEncoder();
    this.commandEncoder.copyBufferToBuffer(data.resource, 0, staging, 0, size);
    this.submitQueue();
    // a failed map leaves the state 'unmapped' (its rejection's handler could not run here)
    staging.mapAsync(GPUMapMode.READ).catch(() => undefined);
    const t0 = Date.now();
    deasync.loopWhile(() => staging.mapState === 'pending' && Date.now() - t0 < READ_TIMEOUT_MS);
    if (staging.mapState !== 'mapped') {
      const pending = staging.mapState === 'pending';
      if (!pending) this.bufferManager.releaseBuffer(staging);
      throw new Error(pending ? `readSync: the GPU did not hand back ${size} bytes within ${READ_TIMEOUT_MS / 1000} s` : 'readSync: mapping the staging buffer failed');
    }
    const bytes = staging.getMappedRange().slice(0);
    staging.unmap();
    this.bufferManager.releaseBuffer(staging);
    return this.convertAndCacheOnCPU(dataId, util.convertBackendValuesAndArrayBuffer(bytes, data.dtype));
  };
}
