// Collective operations for data-parallel work on one machine: `size` ranks (worker threads, each with
// its own TensorFlow.js) exchange Float32Arrays through one SharedArrayBuffer, synchronously, so an
// exchange can sit inside a tf.variableGrads closure (the embeddings of a contrastive batch are
// gathered mid-forward). Every rank sees the same values in the same order, so ranks that apply the
// same update to the same replica stay bitwise identical.
//
// Layout of the buffer: a control block (arrival count, barrier generation, abort flag), then one slot
// per rank: its length (Int32) and up to `capacity` float32 values.

export interface Collective {
  readonly rank: number;
  readonly size: number;
  /** Every rank's array, in rank order (the caller's own included). */
  allGather(local: Float32Array): Float32Array[];
  /** The element-wise sum of every rank's array, added in rank order. */
  allReduceSum(local: Float32Array): Float32Array;
}

/** One rank alone: the identity. */
export const SOLO: Collective = {
  rank: 0,
  size: 1,
  allGather: (local) => [local],
  allReduceSum: (local) => local,
};

const COUNT = 0;
const GENERATION = 1;
const ABORT = 2;
const CONTROL_INTS = 4;

/** The buffer `SharedCollective` needs for `size` ranks exchanging up to `capacity` floats each. */
export function collectiveBuffer(size: number, capacity: number): SharedArrayBuffer {
  if (!Number.isInteger(size) || size < 1 || !Number.isInteger(capacity) || capacity < 1) {
    throw new Error(`collectiveBuffer: size and capacity must be positive integers, got ${size} and ${capacity}`);
  }
  return new SharedArrayBuffer(4 * CONTROL_INTS + size * 4 * (1 + capacity));
}

/** Marks the buffer aborted: every rank waiting in an exchange throws instead of waiting forever. */
export function abortCollective(buffer: SharedArrayBuffer): void {
  const ctrl = new Int32Array(buffer, 0, CONTROL_INTS);
  Atomics.store(ctrl, ABORT, 1);
  Atomics.notify(ctrl, GENERATION);
}

/** Thrown in a rank whose exchange was aborted because another rank failed. */
export class CollectiveAborted extends Error {
  override name = 'CollectiveAborted';
}

export class SharedCollective implements Collective {
  private readonly ctrl: Int32Array;
  private readonly lengths: Int32Array[];
  private readonly slots: Float32Array[];
  readonly capacity: number;

  constructor(buffer: SharedArrayBuffer, readonly rank: number, readonly size: number) {
    this.capacity = (buffer.byteLength - 4 * CONTROL_INTS) / (4 * size) - 1;
    if (!Number.isInteger(this.capacity) || this.capacity < 1) throw new Error(`SharedCollective: the buffer does not fit ${size} ranks`);
    if (!Number.isInteger(rank) || rank < 0 || rank >= size) throw new Error(`SharedCollective: rank ${rank} is not in [0, ${size})`);
    this.ctrl = new Int32Array(buffer, 0, CONTROL_INTS);
    this.lengths = [];
    this.slots = [];
    for (let r = 0; r < size; r++) {
      const at = 4 * CONTROL_INTS + r * 4 * (1 + this.capacity);
      this.lengths.push(new Int32Array(buffer, at, 1));
      this.slots.push(new Float32Array(buffer, at + 4, this.capacity));
    }
  }

  /** Waits until every rank has arrived (a generation-counting barrier). */
  barrier(): void {
    const gen = Atomics.load(this.ctrl, GENERATION);
    if (Atomics.add(this.ctrl, COUNT, 1) === this.size - 1) {
      Atomics.store(this.ctrl, COUNT, 0);
      Atomics.add(this.ctrl, GENERATION, 1);
      Atomics.notify(this.ctrl, GENERATION);
      return;
    }
    while (Atomics.load(this.ctrl, GENERATION) === gen) {
      if (Atomics.load(this.ctrl, ABORT) !== 0) throw new CollectiveAborted(`rank ${this.rank}: another worker failed; stopping`);
      Atomics.wait(this.ctrl, GENERATION, gen, 1000);
    }
  }

  private publish(local: Float32Array): void {
    if (local.length > this.capacity) throw new Error(`rank ${this.rank}: ${local.length} values exceed the exchange capacity ${this.capacity}`);
    this.slots[this.rank].set(local);
    this.lengths[this.rank][0] = local.length;
    this.barrier();
  }

  allGather(local: Float32Array): Float32Array[] {
    this.publish(local);
    const out = this.slots.map((s, r) => s.slice(0, this.lengths[r][0]));
    this.barrier(); // nobody overwrites a slot before everyone has read it
    return out;
  }

  allReduceSum(local: Float32Array): Float32Array {
    this.publish(local);
    const n = local.length;
    for (let r = 0; r < this.size; r++) {
      if (this.lengths[r][0] !== n) throw new Error(`allReduceSum: rank ${r} sent ${this.lengths[r][0]} values, rank ${this.rank} ${n}`);
    }
    const out = this.slots[0].slice(0, n);
    for (let r = 1; r < this.size; r++) {
      const s = this.slots[r];
      for (let i = 0; i < n; i++) out[i] += s[i];
    }
    this.barrier();
    return out;
  }
}
