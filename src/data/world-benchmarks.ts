// The embedded world's benchmarks by name: five classification datasets of different character, a
// compositional one (CZSL), a segmentation one and a video one. Each is built from its name and a seed
// (default 0); `quick` gives a smaller variant whose items are the full variant's first items.
import { performance } from 'perf_hooks';
import { WORLD_MANIFEST_DIR, computeManifest, writeManifest, type WorldManifest } from './manifest';
import { CLASSIFICATION_CONFIGS, WORLD_CLASSIFICATION, WorldClassificationDataset, type WorldClassificationName } from './world-classification';
import type { WorldDatasetOptions } from './world-common';
import { WorldCzslDataset } from './world-czsl';
import { WorldMotionDataset } from './world-motion';
import { WorldScenesDataset } from './world-scenes';

export { WORLD_CLASSIFICATION, type WorldClassificationName };

export interface WorldDatasetTypes {
  'world-shapes': WorldClassificationDataset;
  'world-sketches': WorldClassificationDataset;
  'world-patterns': WorldClassificationDataset;
  'world-colors': WorldClassificationDataset;
  'world-positions': WorldClassificationDataset;
  'world-czsl': WorldCzslDataset;
  'world-scenes': WorldScenesDataset;
  'world-motion': WorldMotionDataset;
}

export type WorldDatasetName = keyof WorldDatasetTypes;
export type WorldDataset = WorldDatasetTypes[WorldDatasetName];

/** Every world benchmark, in the order the manifests are written. */
export const WORLD_BENCHMARKS: readonly WorldDatasetName[] = [...WORLD_CLASSIFICATION, 'world-czsl', 'world-scenes', 'world-motion'];

export function isWorldDatasetName(name: string): name is WorldDatasetName {
  return (WORLD_BENCHMARKS as readonly string[]).includes(name);
}

/** A world benchmark by name, e.g. getWorldDataset('world-shapes', { quick: true }). */
export function getWorldDataset<N extends WorldDatasetName>(name: N, opts?: WorldDatasetOptions): WorldDatasetTypes[N];
export function getWorldDataset(name: string, opts?: WorldDatasetOptions): WorldDataset;
export function getWorldDataset(name: string, opts: WorldDatasetOptions = {}): WorldDataset {
  if (!isWorldDatasetName(name)) throw new Error(`unknown world dataset "${name}" (valid: ${WORLD_BENCHMARKS.join(', ')})`);
  if (name === 'world-czsl') return new WorldCzslDataset(undefined, opts);
  if (name === 'world-scenes') return new WorldScenesDataset(undefined, opts);
  if (name === 'world-motion') return new WorldMotionDataset(undefined, opts);
  return new WorldClassificationDataset(CLASSIFICATION_CONFIGS[name], opts);
}

/**
 * Computes the full variants' manifests (seed 0) and writes them as `<dir>/<name>.json`; returns
 * each manifest with the seconds it took.
 */
export function writeWorldManifests(
  dir = WORLD_MANIFEST_DIR,
  log: (line: string) => void = () => {},
): { manifest: WorldManifest; file: string; seconds: number }[] {
  return WORLD_BENCHMARKS.map((name) => {
    const t0 = performance.now();
    const manifest = computeManifest(getWorldDataset(name));
    const seconds = (performance.now() - t0) / 1000;
    const file = writeManifest(manifest, dir);
    log(`${file}: ${Object.values(manifest.counts).reduce((a, b) => a + b, 0)} items, sha256 ${manifest.contentSha256.slice(0, 12)}, ${seconds.toFixed(1)} s`);
    return { manifest, file, seconds };
  });
}
