// The small PNG encoder behind figures' embedded images: what it writes decodes to the same pixels.
import * as assert from 'assert';
import { decodeImage } from '../../src/clip/image';
import { encodePng, pngDataUri } from '../../src/viz/png';

describe('PNG encoder', () => {
  it('RGB and grey images decode (with the project decoder) to the same pixels', () => {
    const w = 7, h = 5;
    const rgb = Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 256);
    const a = decodeImage(encodePng(w, h, 3, rgb));
    assert.deepStrictEqual([a.width, a.height], [w, h]);
    for (let p = 0; p < w * h; p++) for (let c = 0; c < 3; c++) assert.strictEqual(a.data[p * a.channels + c], rgb[p * 3 + c]);
    const grey = Array.from({ length: w * h }, (_, i) => i * 7);
    const g = decodeImage(encodePng(w, h, 1, grey));
    for (let p = 0; p < w * h; p++) for (let c = 0; c < 3; c++) assert.strictEqual(g.data[p * g.channels + c], grey[p]);
    assert.match(pngDataUri(1, 1, 3, [1, 2, 3]), /^data:image\/png;base64,iVBORw0KGgo/);
    assert.throws(() => encodePng(0, 3, 3, []), /bad size 0 x 3/);
    assert.throws(() => encodePng(2, 2, 3, [1, 2]), /2 values for 2 x 2 x 3/);
  });
});
