// One measured contrastive step on the toy world (test/helpers/toy-pretrain.ts), for the tests of the
// backward's memory (backprop.test.ts, recompute.test.ts).
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../../src/clip/model';
import { useRecompute } from '../../src/clip/recompute';
import { infoNceLoss } from '../../src/train/contrastive';
import { toySource, toyTokenize } from './toy-pretrain';

export type VariableGrads = (f: () => tf.Scalar, vars: tf.Variable[]) => { value: tf.Scalar; grads: Record<string, tf.Tensor | null> };

/**
 * A step's loss, every gradient (through `grads`, default tf.variableGrads) and the recorded BatchNorm
 * statistics, with checkpointing on or off, and the peak bytes the step added in tensors.
 */
export async function toyStep(model: ClipModel, opts: { recompute: boolean; grads?: VariableGrads }) {
  const was = useRecompute(opts.recompute);
  const variableGrads = opts.grads ?? tf.variableGrads;
  try {
    const b = toySource(model.config.imageResolution).batch(0, 8);
    const pixels = tf.tensor4d(b.pixels, b.shape as [number, number, number, number]);
    const text = toyTokenize(b.captions);
    const vars = model.trainableVariables().map((p) => p.variable);
    let loss = 0;
    let grads: Float32Array[] = [];
    const base = tf.memory().numBytes; // tensors alive before (other tests' constants too): not the step's
    const prof = await tf.profile(() => {
      const r = variableGrads(() => infoNceLoss(model, pixels, text), vars);
      loss = r.value.dataSync()[0];
      grads = vars.map((v) => (r.grads[v.name] as tf.Tensor).dataSync() as Float32Array);
      tf.dispose([r.value, ...Object.values(r.grads).filter((t): t is tf.Tensor => t !== null)]);
    });
    pixels.dispose();
    return { loss, grads, stats: model.takeBatchStats(), peak: prof.peakBytes - base };
  } finally {
    useRecompute(was);
  }
}
