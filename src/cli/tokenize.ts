// promptlab tokenize [--vocab FILE] [--context-length N] [--truncate] TEXT...
// Prints the token ids of each text as JSON: one row of contextLength ids per text.
import * as fs from 'fs';
import { ClipTokenizer } from '../clip/tokenizer';
import { parse, positiveInt, UsageError } from './args';

/** A merges file (.txt/.txt.gz), a tokenizer.json, or a Hugging Face folder. */
export function loadTokenizer(vocab: string): ClipTokenizer {
  if (!fs.existsSync(vocab)) throw new UsageError(`--vocab ${vocab}: no such file or folder`);
  if (fs.statSync(vocab).isDirectory() || vocab.endsWith('.json')) return ClipTokenizer.fromHuggingFace(vocab);
  return ClipTokenizer.fromMergesFile(vocab);
}

export async function tokenizeCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values, positionals } = parse('tokenize', argv, {
    vocab: { type: 'string' },
    'context-length': { type: 'string' },
    truncate: { type: 'boolean' },
  });
  const vocab = (values.vocab as string | undefined) ?? process.env.PROMPTLAB_CLIP_VOCAB;
  if (!vocab) {
    throw new UsageError(
      'promptlab tokenize: no vocabulary given. Pass --vocab with a BPE merges file (bpe_simple_vocab_16e6.txt.gz), a tokenizer.json or a Hugging Face folder, or set PROMPTLAB_CLIP_VOCAB',
    );
  }
  if (positionals.length === 0) throw new UsageError('promptlab tokenize: give at least one TEXT to tokenize');
  const contextLength = positiveInt('tokenize', 'context-length', values['context-length'] as string | undefined, 77);
  const tok = loadTokenizer(vocab);
  const batch = tok.tokenize(positionals, { contextLength, truncate: values.truncate === true });
  const rows: number[][] = [];
  for (let i = 0; i < positionals.length; i++) rows.push(Array.from(batch.ids.subarray(i * contextLength, (i + 1) * contextLength)));
  log(JSON.stringify(rows));
}
