// Child process of the bench cases image-vitb32-onnx, image-rn50-onnx and text-k100-onnx: writes
// ViT-B/32's image tower (`vit`), RN50's (`rn50`) or ViT-B/32's text tower (`text`) on towerOnly's
// random weights (seed 0) as ONNX to a file.
import * as fs from 'fs';
import { initBackend } from '../backend';
import { ParamReader } from '../clip/params';
import { lazyRandomStateDict, namedConfig } from '../clip/random';
import { TextTower } from '../clip/text';
import { VisionTransformer } from '../clip/vit';
import { exportText } from '../onnx/text';
import { exportVit } from '../onnx/vit';
import { exportResNet } from '../onnx/resnet';
import { ModifiedResNet } from '../clip/resnet';

async function main(tower: string, file: string): Promise<void> {
  await initBackend();
  const c = namedConfig(tower === 'rn50' ? 'RN50' : 'ViT-B/32');
  const p = new ParamReader(lazyRandomStateDict(c, 0), '<random weights>');
  if (tower === 'vit') fs.writeFileSync(file, exportVit(new VisionTransformer(p, c)));
  else if (tower === 'rn50') fs.writeFileSync(file, exportResNet(new ModifiedResNet(p, c)));
  else if (tower === 'text') fs.writeFileSync(file, exportText(new TextTower(p, c)));
  else throw new Error(`export-onnx: tower '${tower}' is not one of vit, rn50, text`);
}

main(process.argv[2], process.argv[3]).catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
