// Images: decoding (sharp, plus our own BMP decoder) and preprocessing into a model input tensor.

import type { Normalization } from '../model/spec.js';
import { decodeResized, type ResizedImage, type ResizeMode } from './decode.js';
import { normalize, type CropMode } from './preprocess.js';
import { isRawImage, resizeRawImage, type RawImage } from './raw.js';

export { decodeBmp, isBmp } from './bmp.js';
export type { DecodeBmpOptions } from './bmp.js';
export { DECODE_BUDGET_PIXELS, decodeBudget, PixelBudget } from './budget.js';
export type { PixelBudgetStats } from './budget.js';
export { decodeImage, decodeResized } from './decode.js';
export type { DecodeOptions, ResizedImage, ResizeMode } from './decode.js';
export { ImageDecodeError, InputTooLargeError } from './errors.js';
export { DEFAULT_MAX_PIXELS, MAX_FILE_BYTES } from './limits.js';
export { readImageStream } from './read.js';
export { checkRawImage, isRawImage, RAW_IMAGE_NAME, resizeRawImage } from './raw.js';
export type { RawImage } from './raw.js';
export { CENTRAL_FRACTION, centralCropBox, normalize, resizeForModel } from './preprocess.js';
export type { CropBox, CropMode } from './preprocess.js';
export { MAX_PIXELS } from './types.js';
export type { RgbImage } from './types.js';

export interface LoadImageTensorOptions {
  /** The model's input size: the tensor is size×size×3. */
  size: number;
  /** 'none' (default): resize the whole image; 'center': the central 87.5 % first. */
  crop?: CropMode;
  normalization: Normalization;
  /** Name for error messages; defaults to the path, or `<buffer>`. */
  name?: string;
  /**
   * Largest image accepted (width × height as declared in its header): default DEFAULT_MAX_PIXELS
   * (100 million), at most MAX_PIXELS (2^28). Larger images are an ImageDecodeError, before any decoding.
   */
  maxPixels?: number;
  /** 'default', or 'tflite': TFLite's RESIZE_BILINEAR, for pixel-exact comparisons with TFLite. */
  resize?: ResizeMode;
  /** As DecodeOptions.onDecoding. */
  onDecoding?: () => void;
}

export interface ImageTensor {
  /** NHWC, batch 1: size × size × 3 floats. */
  tensor: Float32Array;
  /** The decoded image's size (after EXIF orientation), before crop and resize. */
  width: number;
  height: number;
}

/**
 * Decode (or take raw pixels), (crop,) and resize an image to the model's input size, as 8-bit RGB.
 * Decoding and resizing are one pass (see `decodeResized`): a large JPEG is never decoded at full size.
 * Limits as `decodeResized`: a path must be a regular file of at most MAX_FILE_BYTES, the image at most
 * `maxPixels`, and the decode waits for its pixels in the shared `decodeBudget`. (For stdin:
 * `readImageStream`, then pass the bytes with `name: '<stdin>'`.) Raw pixels (RawImage) are checked (see
 * checkRawImage), then cropped and resized the same way.
 */
export async function loadImagePixels(source: string | Uint8Array | RawImage, options: Omit<LoadImageTensorOptions, 'normalization'>): Promise<ResizedImage> {
  const crop = options.crop ?? 'none';
  if (isRawImage(source)) {
    const image = await resizeRawImage(source, options.size, crop, options.maxPixels, options.resize);
    return { image, width: source.width, height: source.height };
  }
  return decodeResized(source, options.size, crop, { name: options.name, maxPixels: options.maxPixels, onDecoding: options.onDecoding }, options.resize);
}

/** `loadImagePixels`, then normalised into a model input tensor. */
export async function loadImageTensor(source: string | Uint8Array | RawImage, options: LoadImageTensorOptions): Promise<ImageTensor> {
  const { image, width, height } = await loadImagePixels(source, options);
  return { tensor: normalize(image, options.normalization), width, height };
}
