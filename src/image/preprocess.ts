// From a decoded image to the model's input: optional central crop, resize to size×size, normalisation.

import sharp from 'sharp';
import type { Normalization } from '../model/spec.js';
import { resampleLinear } from './resample.js';
import { MAX_PIXELS, type RgbImage } from './types.js';

export type CropMode = 'none' | 'center';

/** The ImageNet evaluation crop: the central 87.5 % of the height and of the width. */
export const CENTRAL_FRACTION = 0.875;

export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * The central `fraction` of an image, with TensorFlow's `central_crop` rounding: the offset is
 * floor((size − size·fraction) / 2) and the kept size is size − 2·offset (so the crop stays centred).
 */
export function centralCropBox(width: number, height: number, fraction = CENTRAL_FRACTION): CropBox {
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`crop fraction must be in (0, 1], got ${fraction}`);
  const top = Math.floor((height - height * fraction) / 2);
  const left = Math.floor((width - width * fraction) / 2);
  return { left, top, width: width - 2 * left, height: height - 2 * top };
}

function checkImage(img: RgbImage): void {
  const { width, height, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`invalid image size ${width}x${height}`);
  }
  if (data.length !== width * height * 3) {
    throw new RangeError(`image data has ${data.length} bytes, expected ${width}x${height}x3 = ${width * height * 3}`);
  }
}

/** @throws RangeError unless `size` is a positive integer and `crop` is 'none' or 'center'. */
export function checkResizeArgs(size: number, crop: CropMode): void {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`model input size must be a positive integer, got ${size}`);
  if (crop !== 'none' && crop !== 'center') throw new RangeError(`crop must be 'none' or 'center', got ${String(crop)}`);
}

/** The pixels of `box` out of `img` (the image itself when the box is all of it). */
export function cropRgb(img: RgbImage, box: CropBox): RgbImage {
  if (box.left === 0 && box.top === 0 && box.width === img.width && box.height === img.height) return img;
  const data = new Uint8Array(box.width * box.height * 3);
  for (let y = 0; y < box.height; y++) {
    const from = ((box.top + y) * img.width + box.left) * 3;
    data.set(img.data.subarray(from, from + box.width * 3), y * box.width * 3);
  }
  return { width: box.width, height: box.height, data };
}

/**
 * Resize the whole image (crop 'none') or its central 87.5 % (crop 'center') to size×size, ignoring the
 * aspect ratio.
 * - Shrinking along both axes: sharp's 'linear' kernel, a triangle filter which averages over the source
 *   footprint (antialiased, like PIL's BILINEAR) rather than sampling 2×2 neighbours like TensorFlow's
 *   resize_bilinear.
 * - Enlarging along either axis: `resampleLinear`, bilinear interpolation with half-pixel centres (as
 *   OpenCV INTER_LINEAR, TensorFlow half_pixel_centers, PIL) along the enlarged axes and PIL's triangle
 *   filter along a shrunk one. (libvips' own upsampling samples a grid shifted by half an output pixel.)
 */
export async function resizeForModel(img: RgbImage, size: number, crop: CropMode): Promise<RgbImage> {
  checkImage(img);
  checkResizeArgs(size, crop);

  const box = crop === 'center' ? centralCropBox(img.width, img.height) : { left: 0, top: 0, width: img.width, height: img.height };
  if (size > box.width || size > box.height) return resampleLinear(cropRgb(img, box), size, size);

  const input = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  let pipeline = sharp(input, {
    raw: { width: img.width, height: img.height, channels: 3 },
    limitInputPixels: MAX_PIXELS,
  });
  if (crop === 'center') pipeline = pipeline.extract(box);
  const { data, info } = await pipeline
    .resize(size, size, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size || info.channels !== 3) {
    throw new Error(`resize gave ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x3`);
  }
  return { width: size, height: size, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/** NHWC floats (batch 1): (pixel − mean[c]) / std[c] for each of R, G, B. */
export function normalize(img: RgbImage, norm: Normalization): Float32Array {
  checkImage(img);
  const { mean, std } = norm;
  if (std.some((s) => s === 0 || !Number.isFinite(s))) throw new RangeError(`std must be finite and non-zero, got [${std.join(', ')}]`);
  const src = img.data;
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i += 3) {
    out[i] = (src[i]! - mean[0]) / std[0];
    out[i + 1] = (src[i + 1]! - mean[1]) / std[1];
    out[i + 2] = (src[i + 2]! - mean[2]) / std[2];
  }
  return out;
}
