// promptlab's one seeded random generator: the world generator, few-shot sampling, data order,
// augmentation, weight initialisation and every other random start draw from it, so the same seed gives
// the same numbers on every machine.
//
// The generator is sfc32 (Chris Doty-Humphrey's "small fast chaotic" generator: 128 bits of state,
// 32-bit integer operations only, so every JavaScript engine produces the same stream). A stream is
// named by an integer seed plus a path of keys, e.g. streamFor(seed, 'pretrain', index),
// streamFor(seed, 'benchmark', name, split, i) or streamFor(seed, 'epoch-order', epoch); the names are hashed into the 128-bit state, so two
// different names give streams that, for any practical purpose, never overlap (unlike a 32-bit
// generator, where a million streams of a hundred draws would collide somewhere).

/** Multiplicative 32-bit mixing (murmur3's finaliser): every input bit affects every output bit. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A key: a string, or an integer (any safe integer, negative included). */
export type StreamKey = string | number;

/** The 32-bit words that identify a key, with a type tag and length so that ('ab','c') != ('a','bc'). */
function keyWords(key: StreamKey): number[] {
  if (typeof key === 'number') {
    if (!Number.isSafeInteger(key)) throw new Error(`random: stream keys must be safe integers or strings, got ${key}`);
    const neg = key < 0 ? 1 : 0;
    const abs = Math.abs(key);
    const lo = abs % 4294967296;
    const hi = Math.floor(abs / 4294967296);
    return [0x6e756d00 | neg, lo >>> 0, hi >>> 0];
  }
  const words = [0x73747200, key.length];
  for (let i = 0; i < key.length; i++) words.push(key.charCodeAt(i));
  return words;
}

/** A seeded random stream (sfc32). `next()` is uniform in [0, 1) with 32 bits of resolution. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Prefer `streamFor`; the four words are the raw 128-bit state. */
  constructor(a: number, b: number, c: number, d: number) {
    this.a = a >>> 0;
    this.b = b >>> 0;
    this.c = c >>> 0;
    this.d = d >>> 0;
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /** The next 32-bit unsigned integer. */
  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [lo, hi] (both ends included). */
  intIn(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element, uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('random: pick from an empty list');
    return items[this.int(items.length)];
  }

  /** One element with probability proportional to its weight. */
  weighted<T>(items: readonly T[], weights: readonly number[]): T {
    let total = 0;
    for (const w of weights) total += w;
    let r = this.next() * total;
    for (let i = 0; i < items.length; i++) {
      r -= weights[i];
      if (r < 0) return items[i];
    }
    return items[items.length - 1];
  }

  /** Approximately standard normal: the sum of four uniforms, rescaled (pure arithmetic, no log/cos). */
  normal(): number {
    return (this.next() + this.next() + this.next() + this.next() - 2) * 1.7320508075688772;
  }

  /** A new array with the elements in a uniformly random order (Fisher-Yates). */
  shuffled<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = out[i];
      out[i] = out[j];
      out[j] = t;
    }
    return out;
  }
}

/**
 * The stream named by `seed` and `keys`: e.g. streamFor(0, 'pretrain', 17) for pretraining pair 17.
 * Different names (seed or any key) give independent streams; the same name always the same stream.
 */
export function streamFor(seed: number, ...keys: StreamKey[]): Rng {
  const words = keyWords(seed);
  for (const k of keys) for (const w of keyWords(k)) words.push(w);
  // Four lanes of a multiply-xor hash over the words, each with its own start and salt.
  const lanes = [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344];
  const salts = [0x9e3779b9, 0x7f4a7c15, 0x94d049bb, 0xbf58476d];
  const state = [0, 0, 0, 0];
  for (let l = 0; l < 4; l++) {
    let h = lanes[l];
    for (const w of words) h = mix32((h ^ mix32((w + salts[l]) >>> 0)) + 0x632be5ab);
    state[l] = mix32(h ^ words.length);
  }
  return new Rng(state[0], state[1], state[2], state[3]);
}

/** Rounds a number to a multiple of 2^-30, so that a last-bit difference in Math.sin/cos/exp between
 *  engines cannot reach stored geometry or pixels. */
export function q30(x: number): number {
  return Math.round(x * 1073741824) / 1073741824;
}

/** Uniform [0, 1) draws from the stream named by `seed` and `keys` (a function, for code that takes one). */
export function uniform(seed: number, ...keys: StreamKey[]): () => number {
  const r = streamFor(seed, ...keys);
  return () => r.next();
}

/** Standard normal draws (Box-Muller, the first of each pair) from a uniform stream. */
export function gaussian(next: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

/** `count` draws of Normal(mean, std) from the stream named by `seed` and `keys`. */
export function normalArray(count: number, std: number, seed: number, ...keys: StreamKey[]): Float32Array {
  const g = gaussian(uniform(seed, ...keys));
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = std * g();
  return out;
}
