// The text side of video prompting (Ju et al., ECCV 2022; methods.md 5.2): learnable vectors before
// and after each class name's tokens, taken from one learnable table `embedding` [L, D] (the official
// nn.Embedding(77, 512)), then CLIP's frozen text tower.
//
// Two layouts of the same table:
//   'official' (Efficient-Prompt src/model.py replace_text_embedding): position j of every prompt is
//     table row j, except the SOT, the name's n tokens (positions prefix+1 .. prefix+n) and the EOT
//     (position prefix+n+1+postfix), which are CLIP token embeddings. The prefix vectors are rows
//     1..prefix for every class, but the postfix vectors are rows prefix+n+1 .., so which rows act as
//     postfix depends on the name's length (rows are shared by position, not by role).
//   'paper' (the paper's description): the prefix vectors are rows 1..prefix and the postfix vectors
//     rows prefix+1 .. prefix+postfix for every class, whatever the name's length; after EOT, zeros.
import * as tf from '@tensorflow/tfjs';
import { eotPositions, type ClipModel } from '../../clip/model';
import { matMul } from '../../clip/ops';

export type PromptLayout = 'official' | 'paper';
export const PROMPT_LAYOUTS: readonly PromptLayout[] = ['official', 'paper'];

/** One class's prompt: which token or which table row fills each of the L positions. */
export interface ClassPrompt {
  /** [L] the official `prompt_actiontoken`: SOT, the name's ids and EOT at their positions, 0 elsewhere. */
  ids: Int32Array;
  /** [L] 1 where a CLIP token embedding (SOT, name, EOT) fills the position. */
  isToken: Uint8Array;
  /** [L] the table row that fills the position, or -1 (a token, or the paper layout's padding). */
  tableRow: Int32Array;
  /** The EOT position (the argmax of `ids`), where the text feature is read. */
  eot: number;
}

/**
 * Lays out one class name's prompt from its plain tokenization `tokens` [L] = [SOT, name (n ids),
 * EOT, 0...], whose argmax is the EOT (n + 1), as the official code finds it. Throws when the prompt
 * does not fit: prefix + n + postfix + 2 > L.
 */
export function layoutPrompt(tokens: Int32Array, prefix: number, postfix: number, layout: PromptLayout, name = 'class name'): ClassPrompt {
  const length = tokens.length;
  const ind = eotPositions(tokens, 1, length)[0];   // n + 1
  const n = ind - 1;
  const eot = prefix + ind + postfix;
  if (eot >= length) {
    throw new Error(`video prompt for "${name}": ${prefix} prefix + ${n} name tokens + ${postfix} postfix vectors + SOT and EOT need ${eot + 1} positions, the context length is ${length}`);
  }
  const ids = new Int32Array(length);
  const isToken = new Uint8Array(length);
  const tableRow = new Int32Array(length).fill(-1);
  const put = (pos: number, id: number) => { ids[pos] = id; isToken[pos] = 1; };
  put(0, tokens[0]);                                                  // SOT
  for (let i = 1; i <= n; i++) put(prefix + i, tokens[i]);            // the name
  put(eot, tokens[ind]);                                              // EOT
  for (let pos = 0; pos < length; pos++) {
    if (isToken[pos]) continue;
    if (layout === 'official') tableRow[pos] = pos;                   // absolute position, rows after EOT included
    else if (pos <= prefix) tableRow[pos] = pos;                      // prefix vectors: rows 1..prefix
    else if (pos < eot) tableRow[pos] = pos - n;                      // postfix vectors: rows prefix+1 .. prefix+postfix
  }
  return { ids, isToken, tableRow, eot };
}

/**
 * The spliced input embeddings [K, L, D] of `prompts`: CLIP's token embeddings where isToken, the
 * table's rows where tableRow >= 0, zeros elsewhere. Rows are picked by a one-hot matMul (exact, and
 * its gradient reaches the table on every backend; a gather's does not on WASM).
 */
export function splicePrompts(clip: ClipModel, table: tf.Tensor2D, prompts: readonly ClassPrompt[]): tf.Tensor3D {
  const k = prompts.length;
  const [rows, d] = table.shape;
  const length = prompts[0].ids.length;
  const ids = new Int32Array(k * length);
  const tokenMask = new Float32Array(k * length);
  const select = new Float32Array(k * length * rows);
  prompts.forEach((p, i) => {
    if (p.ids.length !== length) throw new Error(`splicePrompts: prompt ${i} has ${p.ids.length} positions, prompt 0 has ${length}`);
    ids.set(p.ids, i * length);
    for (let pos = 0; pos < length; pos++) {
      tokenMask[i * length + pos] = p.isToken[pos];
      const r = p.tableRow[pos];
      if (r >= rows) throw new Error(`splicePrompts: position ${pos} of prompt ${i} wants table row ${r}, the table has ${rows}`);
      if (r >= 0) select[(i * length + pos) * rows + r] = 1;
    }
  });
  return tf.tidy(() => {
    const tokens = tf.mul(clip.tokenEmbeddings({ ids, shape: [k, length] }), tf.tensor3d(tokenMask, [k, length, 1])); // [K, L, D]
    const learned = matMul(tf.tensor2d(select, [k * length, rows]), table).reshape([k, length, d]);                // [K, L, D]
    return tf.add(tokens, learned) as tf.Tensor3D;
  });
}
