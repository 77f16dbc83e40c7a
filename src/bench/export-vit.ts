// Child process of the bench case image-vitb32-onnx: writes ViT-B/32's image tower on random
// weights (towerOnly's, seed 0) as ONNX to the file named by its argument.
import * as fs from 'fs';
import { initBackend } from '../backend';
import { ParamReader } from '../clip/params';
import { lazyRandomStateDict, namedConfig } from '../clip/random';
import { VisionTransformer } from '../clip/vit';
import { exportVit } from '../onnx/vit';

async function main(file: string): Promise<void> {
  await initBackend();
  const c = namedConfig('ViT-B/32');
  fs.writeFileSync(file, exportVit(new VisionTransformer(new ParamReader(lazyRandomStateDict(c, 0), '<random weights>'), c)));
}

main(process.argv[2]).catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
