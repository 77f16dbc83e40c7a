// A second, deliberately naive CLIP forward in float64 plain JavaScript, written from the
// reference clip/model.py and reading the state dict in PyTorch's own layouts. It checks that
// the tfjs model's parity is a property of the code (any size, head count, context length),
// not of the fixture shapes. Slow; for tiny models only.
import type { StateDict } from '../../src/clip/weights';
import type { ClipConfig } from '../../src/clip/config';

type M = Float64Array<ArrayBufferLike>; // row-major matrices: [rows, cols]

function get(sd: StateDict, k: string): M {
  const t = sd.get(k);
  if (!t) throw new Error(`reference: missing ${k}`);
  return Float64Array.from(t.data);
}

/** x [T, in] -> x W^T + b with W in PyTorch layout [out, in]. */
function linear(x: M, t: number, w: M, b: M | null, out: number): M {
  const inD = x.length / t;
  const y = new Float64Array(t * out);
  for (let i = 0; i < t; i++) for (let o = 0; o < out; o++) {
    let s = b ? b[o] : 0;
    for (let k = 0; k < inD; k++) s += x[i * inD + k] * w[o * inD + k];
    y[i * out + o] = s;
  }
  return y;
}

function layerNorm(x: M, t: number, w: M, b: M, eps = 1e-5): M {
  const d = x.length / t;
  const y = new Float64Array(x.length);
  for (let i = 0; i < t; i++) {
    let mu = 0;
    for (let k = 0; k < d; k++) mu += x[i * d + k];
    mu /= d;
    let v = 0;
    for (let k = 0; k < d; k++) v += (x[i * d + k] - mu) ** 2;
    v /= d;
    for (let k = 0; k < d; k++) y[i * d + k] = ((x[i * d + k] - mu) / Math.sqrt(v + eps)) * w[k] + b[k];
  }
  return y;
}

/** nn.MultiheadAttention with packed in_proj; query rows tq, key/value rows tk. */
function mha(q0: M, tq: number, kv0: M, tk: number, inW: M, inB: M, outW: M, outB: M, heads: number, causal: boolean, outDim?: number): M {
  const d = q0.length / tq;
  const slice = (m: M, i: number, n: number) => m.subarray(i * n, (i + 1) * n);
  const q = linear(q0, tq, slice(inW, 0, d * d), slice(inB, 0, d), d);
  const k = linear(kv0, tk, slice(inW, 1, d * d), slice(inB, 1, d), d);
  const v = linear(kv0, tk, slice(inW, 2, d * d), slice(inB, 2, d), d);
  const hd = d / heads;
  const ctx = new Float64Array(tq * d);
  for (let h = 0; h < heads; h++) for (let i = 0; i < tq; i++) {
    const s = new Float64Array(tk);
    let mx = -Infinity;
    for (let j = 0; j < tk; j++) {
      if (causal && j > i) { s[j] = -Infinity; continue; }
      let a = 0;
      for (let e = 0; e < hd; e++) a += q[i * d + h * hd + e] * k[j * d + h * hd + e];
      s[j] = a / Math.sqrt(hd);
      mx = Math.max(mx, s[j]);
    }
    let z = 0;
    for (let j = 0; j < tk; j++) { s[j] = Math.exp(s[j] - mx); z += s[j]; }
    for (let e = 0; e < hd; e++) {
      let a = 0;
      for (let j = 0; j < tk; j++) a += (s[j] / z) * v[j * d + h * hd + e];
      ctx[i * d + h * hd + e] = a;
    }
  }
  return linear(ctx, tq, outW, outB, outDim ?? d);
}

function transformer(sd: StateDict, pre: string, x: M, t: number, layers: number, heads: number, causal: boolean): M {
  const d = x.length / t;
  for (let l = 0; l < layers; l++) {
    const p = `${pre}${l}.`;
    const h = layerNorm(x, t, get(sd, p + 'ln_1.weight'), get(sd, p + 'ln_1.bias'));
    const a = mha(h, t, h, t, get(sd, p + 'attn.in_proj_weight'), get(sd, p + 'attn.in_proj_bias'), get(sd, p + 'attn.out_proj.weight'), get(sd, p + 'attn.out_proj.bias'), heads, causal);
    x = x.map((v, i) => v + a[i]);
    const h2 = layerNorm(x, t, get(sd, p + 'ln_2.weight'), get(sd, p + 'ln_2.bias'));
    const fc = linear(h2, t, get(sd, p + 'mlp.c_fc.weight'), get(sd, p + 'mlp.c_fc.bias'), 4 * d).map((v) => v / (1 + Math.exp(-1.702 * v)));
    const m = linear(fc, t, get(sd, p + 'mlp.c_proj.weight'), get(sd, p + 'mlp.c_proj.bias'), d);
    x = x.map((v, i) => v + m[i]);
  }
  return x;
}

/** encode_text for one row of ids (full length, argmax pooling). */
export function refEncodeText(sd: StateDict, c: ClipConfig, ids: ArrayLike<number>): M {
  const t = ids.length;
  const d = c.transformerWidth;
  const tok = get(sd, 'token_embedding.weight');
  const pos = get(sd, 'positional_embedding');
  let x: M = new Float64Array(t * d);
  for (let i = 0; i < t; i++) for (let k = 0; k < d; k++) x[i * d + k] = tok[ids[i] * d + k] + pos[i * d + k];
  x = transformer(sd, 'transformer.resblocks.', x, t, c.transformerLayers, c.transformerHeads, true);
  x = layerNorm(x, t, get(sd, 'ln_final.weight'), get(sd, 'ln_final.bias'));
  let eot = 0;
  for (let i = 1; i < t; i++) if (ids[i] > ids[eot]) eot = i;
  const proj = get(sd, 'text_projection'); // [D, E]
  const e = new Float64Array(c.embedDim);
  for (let o = 0; o < c.embedDim; o++) for (let k = 0; k < d; k++) e[o] += x[eot * d + k] * proj[k * c.embedDim + o];
  return e;
}

/** encode_image for one CHW image with a ViT tower. */
export function refEncodeImageVit(sd: StateDict, c: ClipConfig, img: ArrayLike<number>): M {
  const p = c.visionPatchSize as number;
  const r = c.imageResolution;
  const g = r / p;
  const w = c.visionWidth;
  const conv = get(sd, 'visual.conv1.weight'); // [w, 3, p, p]
  const t = 1 + g * g;
  let x: M = new Float64Array(t * w);
  const cls = get(sd, 'visual.class_embedding');
  const pos = get(sd, 'visual.positional_embedding');
  for (let k = 0; k < w; k++) x[k] = cls[k];
  for (let gy = 0; gy < g; gy++) for (let gx = 0; gx < g; gx++) for (let o = 0; o < w; o++) {
    let s = 0;
    for (let ch = 0; ch < 3; ch++) for (let dy = 0; dy < p; dy++) for (let dx = 0; dx < p; dx++) {
      s += img[ch * r * r + (gy * p + dy) * r + gx * p + dx] * conv[((o * 3 + ch) * p + dy) * p + dx];
    }
    x[(1 + gy * g + gx) * w + o] = s;
  }
  x = x.map((v, i) => v + pos[i]);
  x = layerNorm(x, t, get(sd, 'visual.ln_pre.weight'), get(sd, 'visual.ln_pre.bias'));
  x = transformer(sd, 'visual.transformer.resblocks.', x, t, c.visionLayers as number, c.visionHeads, false);
  const clsOut = layerNorm(x.subarray(0, w), 1, get(sd, 'visual.ln_post.weight'), get(sd, 'visual.ln_post.bias'));
  const proj = get(sd, 'visual.proj');
  const e = new Float64Array(c.embedDim);
  for (let o = 0; o < c.embedDim; o++) for (let k = 0; k < w; k++) e[o] += clsOut[k] * proj[k * c.embedDim + o];
  return e;
}

interface Fm { c: number; h: number; w: number; d: M }

function conv2d(x: Fm, wt: M, out: number, k: number, stride: number, pad: number): Fm {
  const h = Math.floor((x.h + 2 * pad - k) / stride) + 1;
  const w = Math.floor((x.w + 2 * pad - k) / stride) + 1;
  const d = new Float64Array(out * h * w);
  for (let o = 0; o < out; o++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) {
    let s = 0;
    for (let ci = 0; ci < x.c; ci++) for (let dy = 0; dy < k; dy++) for (let dx = 0; dx < k; dx++) {
      const iy = y * stride + dy - pad;
      const ix = xx * stride + dx - pad;
      if (iy < 0 || ix < 0 || iy >= x.h || ix >= x.w) continue;
      s += x.d[(ci * x.h + iy) * x.w + ix] * wt[((o * x.c + ci) * k + dy) * k + dx];
    }
    d[(o * h + y) * w + xx] = s;
  }
  return { c: out, h, w, d };
}

function bn(x: Fm, sd: StateDict, pre: string, relu: boolean): Fm {
  const w = get(sd, pre + '.weight'), b = get(sd, pre + '.bias'), m = get(sd, pre + '.running_mean'), v = get(sd, pre + '.running_var');
  const d = x.d.map((val, i) => {
    const ch = Math.floor(i / (x.h * x.w));
    const y = ((val - m[ch]) / Math.sqrt(v[ch] + 1e-5)) * w[ch] + b[ch];
    return relu ? Math.max(0, y) : y;
  });
  return { ...x, d };
}

function avg(x: Fm, k: number): Fm {
  if (k === 1) return x;
  const h = Math.floor(x.h / k), w = Math.floor(x.w / k);
  const d = new Float64Array(x.c * h * w);
  for (let c = 0; c < x.c; c++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) {
    let s = 0;
    for (let dy = 0; dy < k; dy++) for (let dx = 0; dx < k; dx++) s += x.d[(c * x.h + y * k + dy) * x.w + xx * k + dx];
    d[(c * h + y) * w + xx] = s / (k * k);
  }
  return { c: x.c, h, w, d };
}

/** encode_image for one CHW image with a ModifiedResNet tower. */
export function refEncodeImageResNet(sd: StateDict, c: ClipConfig, img: ArrayLike<number>): M {
  const r = c.imageResolution;
  const wd = c.visionWidth;
  let x: Fm = { c: 3, h: r, w: r, d: Float64Array.from(img) };
  x = bn(conv2d(x, get(sd, 'visual.conv1.weight'), wd / 2, 3, 2, 1), sd, 'visual.bn1', true);
  x = bn(conv2d(x, get(sd, 'visual.conv2.weight'), wd / 2, 3, 1, 1), sd, 'visual.bn2', true);
  x = bn(conv2d(x, get(sd, 'visual.conv3.weight'), wd, 3, 1, 1), sd, 'visual.bn3', true);
  x = avg(x, 2);
  (c.visionLayers as number[]).forEach((n, st) => {
    const planes = wd * 2 ** st;
    for (let b = 0; b < n; b++) {
      const pre = `visual.layer${st + 1}.${b}`;
      const stride = b === 0 && st > 0 ? 2 : 1;
      let o = bn(conv2d(x, get(sd, pre + '.conv1.weight'), planes, 1, 1, 0), sd, pre + '.bn1', true);
      o = bn(conv2d(o, get(sd, pre + '.conv2.weight'), planes, 3, 1, 1), sd, pre + '.bn2', true);
      o = bn(conv2d(avg(o, stride), get(sd, pre + '.conv3.weight'), planes * 4, 1, 1, 0), sd, pre + '.bn3', false);
      const id = sd.has(pre + '.downsample.0.weight')
        ? bn(conv2d(avg(x, stride), get(sd, pre + '.downsample.0.weight'), planes * 4, 1, 1, 0), sd, pre + '.downsample.1', false)
        : x;
      x = { ...o, d: o.d.map((v, i) => Math.max(0, v + id.d[i])) };
    }
  });
  // attention pool: tokens [1 + HW, C], mean token first
  const hw = x.h * x.w;
  const ch = x.c;
  const tok = new Float64Array((1 + hw) * ch);
  const pos = get(sd, 'visual.attnpool.positional_embedding');
  for (let k = 0; k < ch; k++) {
    let s = 0;
    for (let i = 0; i < hw; i++) {
      tok[(1 + i) * ch + k] = x.d[k * hw + i];
      s += x.d[k * hw + i];
    }
    tok[k] = s / hw;
  }
  const t = tok.map((v, i) => v + pos[i]);
  const cat = (a: string) => get(sd, `visual.attnpool.${a}`);
  const inW = new Float64Array([...cat('q_proj.weight'), ...cat('k_proj.weight'), ...cat('v_proj.weight')]);
  const inB = new Float64Array([...cat('q_proj.bias'), ...cat('k_proj.bias'), ...cat('v_proj.bias')]);
  return mha(t.subarray(0, ch), 1, t, 1 + hw, inW, inB, cat('c_proj.weight'), cat('c_proj.bias'), c.visionHeads, false, c.embedDim);
}
