// Rewrites data-manifests/world/*.json from the current generator:
//   npx tsx src/data/write-world-manifests.ts [DIR]
// Run it after bumping WORLD_GENERATOR_VERSION (src/world) or WORLD_BENCHMARKS_VERSION (src/data).
import { writeWorldManifests } from './world-benchmarks';

if (require.main === module) {
  const dir = process.argv[2];
  const t0 = Date.now();
  writeWorldManifests(dir, (line) => console.log(line));
  console.log(`all manifests in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
