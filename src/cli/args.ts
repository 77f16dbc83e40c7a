// Command-line parsing on Node's util.parseArgs, with errors that say what is valid.
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';

export class UsageError extends Error {}

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

export function parse(command: string, argv: string[], options: OptionSpec): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as never;
  } catch (e) {
    const valid = Object.keys(options).map((o) => `--${o}`).join(', ');
    throw new UsageError(`promptlab ${command}: ${parseArgsMessage(e as Error & { code?: string }, options)} (valid options: ${valid})`);
  }
}

/** Node's parseArgs errors, said in a sentence (its own text suggests '--' tricks, not what is valid). */
function parseArgsMessage(e: Error & { code?: string }, options: OptionSpec): string {
  const flag = /'(-{1,2}[^'\s]+)/.exec(e.message)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${flag ?? ''}`.trim();
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const name = flag?.replace(/^-+/, '').replace(/\s.*$/, '');
      const spec = name === undefined ? undefined : options[name];
      return spec?.type === 'boolean' ? `--${name} takes no value` : `option ${flag ?? ''} needs a value`.replace('  ', ' ');
    }
    default:
      return e.message;
  }
}

/**
 * A model given on the command line (--model, --weights): a folder holding model.safetensors (or its
 * shard index), or a .safetensors file. Checked before any backend starts or any work is done.
 */
export function requireModel(command: string, flag: string, source: string | undefined): string | undefined {
  if (source === undefined) return undefined;
  const what = `promptlab ${command}: ${flag} ${source}`;
  const valid = 'a folder with model.safetensors (or pytorch_model.bin) and config.json (like models/miniclip, or a Hugging Face CLIP folder), or a weights file (.safetensors, .pt, .pth, .bin)';
  if (!fs.existsSync(source)) throw new UsageError(`${what} does not exist; expected ${valid}`);
  const st = fs.statSync(source);
  if (st.isDirectory()) {
    if (!['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin'].some((f) => fs.existsSync(path.join(source, f)))) {
      throw new UsageError(`${what} holds no model.safetensors nor pytorch_model.bin (found: ${fs.readdirSync(source).slice(0, 8).join(', ') || 'nothing'}); expected ${valid}`);
    }
  } else if (!st.isFile()) {
    throw new UsageError(`${what} is not a regular file or folder; expected ${valid}`);
  }
  return source;
}

export function requireString(command: string, values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`promptlab ${command}: --${name} is required`);
  return v;
}

export function positiveInt(command: string, name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`promptlab ${command}: --${name} must be a positive integer, got '${raw}'`);
  return n;
}
