// Where the parity suites find their cases (pinned in architecture.md):
// PROMPTLAB_PARITY_DIR / PROMPTLAB_COOP_DIR / PROMPTLAB_LINEAR_PROBE_DIR / PROMPTLAB_CZSL_DIR / PROMPTLAB_CSP_DIR / PROMPTLAB_DENSECLIP_DIR / PROMPTLAB_VIDEO_DIR when set (must exist and hold cases), else the shared
// fixtures beside the checkout (CI), else the copies under test/fixtures (a user's clone).
import * as fs from 'fs';
import * as path from 'path';
import { userCacheDir } from '../src/data/fetch';

const ROOT = path.resolve(__dirname, '..');

export interface FixtureDir {
  dir: string;
  source: 'env' | 'shared' | 'bundled';
}

function resolveDir(envVar: string, sharedRel: string, bundledRel: string): FixtureDir {
  const fromEnv = process.env[envVar];
  if (fromEnv !== undefined && fromEnv !== '') {
    // A missing directory is reported by the suites' first test, which then fails (never skips).
    return { dir: path.resolve(fromEnv), source: 'env' };
  }
  const shared = path.resolve(ROOT, sharedRel);
  if (fs.existsSync(shared)) return { dir: shared, source: 'shared' };
  return { dir: path.resolve(ROOT, bundledRel), source: 'bundled' };
}

export function parityDir(): FixtureDir {
  return resolveDir('PROMPTLAB_PARITY_DIR', '../shared/fixtures/clip-parity', 'test/fixtures/clip-parity');
}

export function coopDir(): FixtureDir {
  return resolveDir('PROMPTLAB_COOP_DIR', '../shared/fixtures/coop-official', 'test/fixtures/coop-official');
}

export function linearProbeDir(): FixtureDir {
  return resolveDir('PROMPTLAB_LINEAR_PROBE_DIR', '../shared/fixtures/linear-probe', 'test/fixtures/linear-probe');
}

export function czslDir(): FixtureDir {
  return resolveDir('PROMPTLAB_CZSL_DIR', '../shared/fixtures/czsl-eval', 'test/fixtures/czsl-eval');
}

export function cspDir(): FixtureDir {
  return resolveDir('PROMPTLAB_CSP_DIR', '../shared/fixtures/csp-official', 'test/fixtures/csp-official');
}

export function denseclipDir(): FixtureDir {
  return resolveDir('PROMPTLAB_DENSECLIP_DIR', '../shared/fixtures/denseclip-official', 'test/fixtures/denseclip-official');
}

export function videoDir(): FixtureDir {
  return resolveDir('PROMPTLAB_VIDEO_DIR', '../shared/fixtures/video-official', 'test/fixtures/video-official');
}

/** CLIP's BPE merges file: beside the parity cases, in the shared fixtures, or where `npx promptlab fetch clip-bpe` puts it; never in the repo. */
export const FETCH_CLIP_BPE = 'npx promptlab fetch clip-bpe';
export function clipVocabFile(): string | null {
  const candidates = [
    path.join(parityDir().dir, 'tokenizer', 'bpe_simple_vocab_16e6.txt.gz'),
    path.resolve(ROOT, '../shared/fixtures/clip-parity/tokenizer/bpe_simple_vocab_16e6.txt.gz'),
    process.env.PROMPTLAB_CLIP_VOCAB ?? '',
    path.join(userCacheDir(), 'clip-bpe', 'bpe_simple_vocab_16e6.txt.gz'), // npx promptlab fetch clip-bpe
  ];
  return candidates.find((c) => c !== '' && fs.existsSync(c)) ?? null;
}
