// TFLite's RESIZE_BILINEAR (half-pixel centres, float32 arithmetic, +0.5 and truncation) on cases
// worked out by hand from the reference kernel's formulas, and through the library.
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { resizeBilinearTflite } from '../src/image/resize-tflite.js';
import { decodeResized } from '../src/image/decode.js';
import type { RgbImage } from '../src/image/types.js';

const gray = (width: number, height: number, values: number[]): RgbImage => ({
  width, height, data: Uint8Array.from(values.flatMap((v) => [v, v, v])),
});
const channel0 = (img: RgbImage) => Array.from(img.data.filter((_, i) => i % 3 === 0));

describe('resizeBilinearTflite', () => {
  it('keeps an image of the same size unchanged', () => {
    const img = gray(3, 2, [0, 17, 255, 128, 1, 254]);
    expect(channel0(resizeBilinearTflite(img, 3, 2))).toEqual([0, 17, 255, 128, 1, 254]);
  });

  it('halving samples the centre of each 2×2 block: the mean, halves rounded up (+0.5, truncation)', () => {
    // Output x=0: (0 + 0.5)·2 − 0.5 = 0.5 → x0 0, x1 1, weights 0.5 / 0.5.
    const img = gray(4, 2, [0, 1, 10, 20, 0, 0, 30, 40]);
    // (0+1+0+0)/4 = 0.25 → 0; (10+20+30+40)/4 = 25 → 25.
    expect(channel0(resizeBilinearTflite(img, 2, 1))).toEqual([0, 25]);
    const odd = gray(2, 2, [0, 1, 1, 0]); // 0.5 → +0.5 → 1
    expect(channel0(resizeBilinearTflite(odd, 1, 1))).toEqual([1]);
  });

  it('no antialiasing: shrinking 4 → 1 interpolates only the 2×2 pixels around the centre', () => {
    // scale 4: (0.5)·4 − 0.5 = 1.5 → pixels 1 and 2 of each axis only.
    const img = gray(4, 1, [200, 10, 20, 200]);
    expect(channel0(resizeBilinearTflite(img, 1, 1))).toEqual([15]);
  });

  it('enlarging 2 → 4 with the edge rule (negative offset at the first pixel clamps to the edge)', () => {
    // x = 0: (0.5)·0.5 − 0.5 = −0.25 → x0 = x1 = 0 → 100. x = 1: 0.25 → 100·0.75 + 200·0.25 = 125.
    // x = 2: 0.75 → 175. x = 3: 1.25 → x0 1, x1 min(2, 1) = 1 → 200.
    expect(channel0(resizeBilinearTflite(gray(2, 1, [100, 200]), 4, 1))).toEqual([100, 125, 175, 200]);
  });

  it('differs from the default (antialiased) resizer on a detailed image, and both keep the size', async () => {
    const width = 97;
    const height = 61;
    const data = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37 + (i >> 5) * 11) & 255);
    const png = await sharp(Buffer.from(data), { raw: { width, height, channels: 3 } }).png().toBuffer();
    const tflite = await decodeResized(png, 24, 'none', 'pattern.png', 'tflite');
    const ours = await decodeResized(png, 24, 'none', 'pattern.png');
    expect(tflite.image.data.length).toBe(24 * 24 * 3);
    expect(tflite.image.data).toEqual(resizeBilinearTflite({ width, height, data }, 24, 24).data);
    expect(Buffer.compare(Buffer.from(tflite.image.data), Buffer.from(ours.image.data))).not.toBe(0);
  });
});
