// Raw pixels as an input: 8-bit interleaved samples, rows top first, with 1 (grey), 2 (grey + alpha),
// 3 (RGB) or 4 (RGBA) channels — what sharp's `.raw()` gives (`{ data, ...info }`), or a canvas'
// ImageData. They become RGB as a decoded file does (grey to R, G and B; alpha flattened on white),
// then are cropped and resized like any decoded image.

import { decodeBudget } from './budget.js';
import { ImageDecodeError, InputTooLargeError } from './errors.js';
import { pixelLimitProblem, resolveMaxPixels } from './limits.js';
import type { ResizeMode } from './decode.js';
import { centralCropBox, cropRgb, resizeForModel, type CropMode } from './preprocess.js';
import { resizeBilinearTflite } from './resize-tflite.js';
import type { RgbImage } from './types.js';

export interface RawImage {
  /** width × height × channels bytes (a Buffer, Uint8Array or Uint8ClampedArray). */
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/** The name raw pixels carry in error messages (they have no file name). */
export const RAW_IMAGE_NAME = '<pixels>';

/** An object that says it is raw pixels (has data, width, height and channels); rawToRgb checks the rest. */
export function isRawImage(value: unknown): value is RawImage {
  return typeof value === 'object' && value !== null && 'data' in value && 'width' in value && 'height' in value && 'channels' in value;
}

function checkDimension(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`raw image ${name} must be a whole number ≥ 1, got ${typeof value === 'number' ? value : typeof value}`);
  }
  return value;
}

/** Raw pixels whose description and length were checked. */
interface CheckedRaw {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  bytes: Uint8Array;
}

/**
 * Checks raw pixels before anything is copied: a malformed description (sizes that are not whole
 * numbers ≥ 1, channels other than 1 to 4, data that is not bytes) is a RangeError / TypeError; more
 * pixels than `maxPixels` an InputTooLargeError, data of the wrong length an ImageDecodeError.
 */
export function checkRawImage(raw: RawImage, maxPixels?: number): CheckedRaw {
  const width = checkDimension('width', raw.width);
  const height = checkDimension('height', raw.height);
  const channels = raw.channels as unknown;
  if (channels !== 1 && channels !== 2 && channels !== 3 && channels !== 4) {
    throw new RangeError(`raw image channels must be 1, 2, 3 or 4, got ${String(channels)}`);
  }
  const { data } = raw;
  if (!(data instanceof Uint8Array) && !(data instanceof Uint8ClampedArray)) {
    throw new TypeError('raw image data must be a Buffer, Uint8Array or Uint8ClampedArray of 8-bit samples');
  }
  const limit = resolveMaxPixels(maxPixels);
  if (width * height > limit) throw new InputTooLargeError(RAW_IMAGE_NAME, pixelLimitProblem(width, height, limit));
  const expected = width * height * channels;
  if (data.length !== expected) {
    throw new ImageDecodeError(RAW_IMAGE_NAME, `raw pixels have ${data.length} bytes, ${width}×${height}×${channels} needs ${expected}`);
  }
  return { width, height, channels, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** The pixels as RGB: grey copied to R, G and B, alpha flattened on white (3 channels: the same bytes). */
function toRgb({ width, height, channels, bytes }: CheckedRaw): RgbImage {
  if (channels === 3) return { width, height, data: bytes };
  const rgb = new Uint8Array(width * height * 3);
  const colour = channels === 4;
  const alpha = channels === 2 || channels === 4;
  for (let p = 0, i = 0; p < rgb.length; p += 3, i += channels) {
    const a = alpha ? bytes[i + channels - 1]! : 255;
    for (let c = 0; c < 3; c++) {
      const value = bytes[i + (colour ? c : 0)]!;
      // On white: value·α + 255·(1 − α), α = a / 255.
      rgb[p + c] = alpha ? Math.round(255 - ((255 - value) * a) / 255) : value;
    }
  }
  return { width, height, data: rgb };
}

/** Raw pixels checked, made RGB and resized to size × size (holding their pixels in the shared decode budget). */
export async function resizeRawImage(raw: RawImage, size: number, crop: CropMode, maxPixels?: number, resize: ResizeMode = 'default'): Promise<RgbImage> {
  const checked = checkRawImage(raw, maxPixels);
  return decodeBudget.run(checked.width * checked.height, async () => {
    const rgb = toRgb(checked);
    if (resize === 'default') return resizeForModel(rgb, size, crop);
    const box = crop === 'center' ? centralCropBox(rgb.width, rgb.height) : { left: 0, top: 0, width: rgb.width, height: rgb.height };
    return resizeBilinearTflite(cropRgb(rgb, box), size, size);
  });
}
