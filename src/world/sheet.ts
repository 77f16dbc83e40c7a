// Contact sheets: many images tiled into one (for looking at samples in notebooks or as PNG files).
import type { WorldImage } from './render';

/** Tiles equally sized RGB images into a grid `cols` wide, with a `gap`-pixel border of `fill`, each
 *  tile enlarged `zoom` times (nearest neighbour). */
export function contactSheet(images: readonly WorldImage[], cols: number, zoom = 1, gap = 2, fill = 255): WorldImage {
  if (images.length === 0) throw new Error('world: contact sheet of no images');
  const tw = images[0].width * zoom;
  const th = images[0].height * zoom;
  const rows = Math.ceil(images.length / cols);
  const width = cols * tw + (cols + 1) * gap;
  const height = rows * th + (rows + 1) * gap;
  const data = new Uint8Array(width * height * 3).fill(fill);
  images.forEach((img, k) => {
    if (img.width * zoom !== tw || img.height * zoom !== th) throw new Error('world: contact sheet images differ in size');
    const ox = gap + (k % cols) * (tw + gap);
    const oy = gap + Math.floor(k / cols) * (th + gap);
    for (let y = 0; y < th; y++) for (let x = 0; x < tw; x++) {
      const s = (Math.floor(y / zoom) * img.width + Math.floor(x / zoom)) * 3;
      const d = ((oy + y) * width + ox + x) * 3;
      data[d] = img.data[s];
      data[d + 1] = img.data[s + 1];
      data[d + 2] = img.data[s + 2];
    }
  });
  return { width, height, channels: 3, data };
}
