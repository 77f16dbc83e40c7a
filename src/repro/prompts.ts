// Notebook 00's study of prompt engineering on one benchmark: zero-shot test accuracy with each
// template alone and with their ensemble, and what the logit scale does (it leaves the argmax, so
// accuracy, unchanged, but decides how confident the softmax is: mean top-1 probability and the
// test negative log-likelihood at each scale, against CLIP's learned one).
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import type { ClassificationDataset } from '../data/dataset';
import { getWorldDataset, WORLD_CLASSIFICATION } from '../data/world-benchmarks';
import { accuracy, encodeImages, zeroshotWeights, zeroshotAccuracyOf } from '../eval/features';

export interface TemplateScore {
  template: string; // a template, or 'ensemble of N'
  accuracy: number; // %
}

export interface ScaleScore {
  scale: number;      // the multiplier of the cosine similarities (CLIP's exp(logit_scale))
  learned: boolean;   // whether it is the model's own
  accuracy: number;   // %
  confidence: number; // mean top-1 softmax probability, %
  nll: number;        // mean negative log-likelihood of the true class
}

export interface PromptStudy {
  dataset: string;
  /** Chance accuracy (%): 100 / classes. */
  chance: number;
  templates: TemplateScore[];
  scales: ScaleScore[];
}

export const STUDY_SCALES = [1, 3, 10, 30, 100];

export function runPromptStudy(model: ClipModel, tokenizer: ClipTokenizer, opts: { dataset?: string; quick?: boolean; scales?: number[] } = {}): PromptStudy {
  const name = opts.dataset ?? 'world-shapes';
  if (!(WORLD_CLASSIFICATION as readonly string[]).includes(name)) throw new Error(`prompt study: unknown dataset "${name}" (valid: ${WORLD_CLASSIFICATION.join(', ')})`);
  const ds = getWorldDataset(name, { quick: opts.quick }) as ClassificationDataset;
  const items = ds.split('test');
  const test = encodeImages(model, items.length, (i) => ds.image(items[i], 'test'), (i) => items[i].label);
  try {
    const score = (templates: string[]) => 100 * zeroshotAccuracyOf(model, tokenizer, test.features, test.labels, ds.classNames, templates);
    const templates: TemplateScore[] = ds.templates.map((t) => ({ template: t, accuracy: score([t]) }));
    templates.push({ template: `ensemble of ${ds.templates.length}`, accuracy: score(ds.templates) });
    const learned = Math.exp(model.logitScale);
    const scales = [...new Set([...(opts.scales ?? STUDY_SCALES), learned])].sort((a, b) => a - b);
    const w = zeroshotWeights(model, tokenizer, ds.classNames, [ds.template]);
    const labels = tf.tensor1d(test.labels, 'int32');
    try {
      const scaleScores = scales.map((scale) => tf.tidy(() => {
        const logits = tf.mul(tf.matMul(test.features, w, false, true), scale) as tf.Tensor2D;
        const logp = tf.logSoftmax(logits);
        const nll = -tf.mean(tf.sum(tf.mul(logp, tf.oneHot(labels, ds.classNames.length)), 1)).dataSync()[0];
        const confidence = 100 * tf.mean(tf.exp(tf.max(logp, 1))).dataSync()[0];
        return { scale, learned: scale === learned, accuracy: 100 * accuracy(logits, test.labels), confidence, nll };
      }));
      return { dataset: name, chance: 100 / ds.classNames.length, templates, scales: scaleScores };
    } finally {
      tf.dispose([w, labels]);
    }
  } finally {
    test.features.dispose();
  }
}
