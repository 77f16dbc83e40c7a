// Child process of test/unit/wasm-threads.test.ts: computes CLIP forwards and a gradient on the
// backend promptlab picks (PROMPTLAB_WASM_THREADS set by the test) and prints one JSON line: the
// threads in use and a sha256 of every output's bytes, so that runs on 1 and N threads compare bit for bit.
import * as crypto from 'crypto';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { ClipModel } from '../../src/clip/model';
import { randomStateDict } from '../../src/clip/random';
import type { ClipConfig } from '../../src/clip/config';

async function main(): Promise<void> {
  const info = await initBackend();
  const text = { contextLength: 24, vocabSize: 300, transformerWidth: 128, transformerHeads: 4, transformerLayers: 2 };
  const common = { textAct: 'quick_gelu' as const, visionAct: 'quick_gelu' as const, layerNormEps: 1e-5, embedDim: 96 };
  const vit: ClipConfig = { ...text, ...common, imageResolution: 64, visionLayers: 2, visionWidth: 128, visionPatchSize: 8, visionHeads: 4 };
  const rn: ClipConfig = { ...text, ...common, imageResolution: 64, visionLayers: [1, 1, 1, 1], visionWidth: 16, visionPatchSize: null, visionHeads: 4 };
  const hashes: Record<string, string> = {};
  const hash = (name: string, t: tf.Tensor) => {
    hashes[name] = crypto.createHash('sha256').update(Buffer.from((t.dataSync() as Float32Array).buffer)).digest('hex');
  };
  for (const [name, c] of [['vit', vit], ['rn', rn]] as const) {
    const model = new ClipModel(c, randomStateDict(c, 1));
    const pixels = tf.randomNormal([6, 3, 64, 64], 0, 1, 'float32', 2) as tf.Tensor4D;
    tf.tidy(() => hash(`${name}.image`, model.encodeImage(pixels)));
    const ids = new Int32Array(40 * 24);
    const eot: number[] = [];
    for (let i = 0; i < 40; i++) {
      const n = 3 + (i % 17);
      ids[i * 24] = 298;
      for (let j = 1; j <= n; j++) ids[i * 24 + j] = 1 + ((i * 31 + j * 7) % 290);
      ids[i * 24 + n + 1] = 299;
      eot.push(n + 1);
    }
    const embeds = model.tokenEmbeddings({ ids, shape: [40, 24] });
    tf.tidy(() => {
      hash(`${name}.text`, model.text.encodeTokenEmbeddings(embeds, eot, true));
      const g = tf.grad((x: tf.Tensor) => tf.sum(tf.square(model.text.encodeTokenEmbeddings(x as tf.Tensor3D, eot, true))))(embeds);
      hash(`${name}.textGrad`, g);
    });
    embeds.dispose();
    pixels.dispose();
    model.dispose();
  }
  process.stdout.write(JSON.stringify({ backend: info.name, threads: info.threads, hashes }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
