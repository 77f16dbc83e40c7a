// Command-line parsing on Node's util.parseArgs, with errors that say what is valid.
import { parseArgs } from 'util';

export class UsageError extends Error {}

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

export function parse(command: string, argv: string[], options: OptionSpec): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as never;
  } catch (e) {
    const valid = Object.keys(options).map((o) => `--${o}`).join(', ');
    throw new UsageError(`promptlab ${command}: ${(e as Error).message} (valid options: ${valid})`);
  }
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
