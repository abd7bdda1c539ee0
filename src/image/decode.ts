// Decoding any supported image file to 8-bit RGB: BMP with our own decoder, everything else with sharp.

import sharp from 'sharp';
import { decodeBudget } from './budget.js';
import { bmpSize, decodeBmp, decodeBmpAsync, isBmp } from './bmp.js';
import { ImageDecodeError, InputTooLargeError } from './errors.js';
import { pixelLimitProblem, pixelLimitProblemUnknownSize, resolveMaxPixels } from './limits.js';
import { centralCropBox, checkResizeArgs, cropRgb, resizeForModel, type CropMode } from './preprocess.js';
import { resizeBilinearTflite } from './resize-tflite.js';
import { readImageFile } from './read.js';
import { resampleLinear } from './resample.js';
import type { RgbImage } from './types.js';

export type { RgbImage } from './types.js';

/** Options of decodeImage and decodeResized. */
export interface DecodeOptions {
  /** Name for error messages; defaults to the path, or `<buffer>` for bytes. */
  name?: string;
  /**
   * Largest image accepted, width × height as its header declares: default DEFAULT_MAX_PIXELS (100 million),
   * at most MAX_PIXELS (2^28). Checked before anything is decoded.
   */
  maxPixels?: number;
  /**
   * Called once sharp has been handed the decode proper (header read and accepted), which then runs on
   * libuv's threads: from then on the caller's thread is free for other work (see image/early.ts).
   * Only decodeResized with the default resizer calls it (not for BMP, which decodes in JS).
   */
  onDecoding?: () => void;
}

/** How decodeResized resizes: our default, or TFLite's RESIZE_BILINEAR (see resize-tflite.ts). */
export type ResizeMode = 'default' | 'tflite';

function decodeOptions(nameOrOptions: string | DecodeOptions | undefined): { name: string | undefined; maxPixels: number; onDecoding?: () => void } {
  const o = typeof nameOrOptions === 'string' ? { name: nameOrOptions } : (nameOrOptions ?? {});
  return { name: o.name, maxPixels: resolveMaxPixels(o.maxPixels), onDecoding: o.onDecoding };
}

/**
 * Decode an image file (path) or its bytes to 8-bit sRGB, 3 channels, top row first.
 *
 * - JPEG, PNG, WebP, AVIF, TIFF, GIF (and whatever else the installed libvips reads) go through sharp:
 *   first page/frame only, EXIF orientation applied, alpha flattened on white, grayscale/CMYK/16-bit
 *   converted to 8-bit sRGB.
 * - BMP (recognised by its 'BM' signature, not by the file extension) goes through `decodeBmp`.
 *
 * A path must be a regular file of at most MAX_FILE_BYTES (a FIFO, device, socket or directory is refused
 * without reading it); an image declaring more than `maxPixels` pixels is refused from its header. The
 * decode waits for its pixels in the shared `decodeBudget`.
 *
 * @param nameOrOptions the name used in error messages (defaults to the path, or `<buffer>` for bytes), or
 *   DecodeOptions.
 * @throws ImageDecodeError (message `<name>: <problem>`) for unreadable, empty, unknown, corrupt, truncated or too
 *   large input; RangeError for a bad maxPixels.
 */
export async function decodeImage(source: string | Uint8Array, nameOrOptions?: string | DecodeOptions): Promise<RgbImage> {
  const { name, maxPixels } = decodeOptions(nameOrOptions);
  const { bytes, label } = await readSource(source, name);
  if (isBmp(bytes)) {
    const { width, height } = bmpHeader(bytes, label, maxPixels);
    return decodeBudget.run(width * height, () => decodeBmpAsync(bytes, label, { maxPixels }));
  }
  const meta = await headerWithSharp(bytes, label, maxPixels);
  return decodeBudget.run(meta.width * meta.height, () => decodeWithSharp(bytes, label, maxPixels));
}

/** An image decoded straight to the model's input size, and the size it had before (after EXIF orientation). */
export interface ResizedImage {
  /** size × size × 3, 8-bit sRGB. */
  image: RgbImage;
  /** The decoded image's size after EXIF orientation, before crop and resize. */
  width: number;
  height: number;
}

/**
 * `resizeForModel(await decodeImage(source, name), size, crop)`, but much faster for large images: for
 * every format but BMP, decoding, orientation, alpha flattening, sRGB conversion, the central crop and
 * the resize are one libvips pipeline over the encoded bytes. The full-size image is never copied out,
 * and with crop 'none' JPEG and WebP are decoded already reduced (shrink-on-load: DCT scaling for JPEG,
 * libwebp's scaler for WebP) before the final 'linear' resize. When shrinking, EXIF orientation is
 * applied to the small result. Both change pixels slightly (a mean difference below one grey level on
 * photos) but not what a classifier sees. With crop 'center' libvips cannot shrink on load (sharp does
 * not combine a pre-resize crop with it), but it is still faster as the full-size image is never
 * copied out or turned.
 * When the (cropped) image is smaller than `size` along either axis, libvips decodes, orients and crops,
 * and the resize is `resampleLinear` (half-pixel bilinear; libvips' upsampling grid is shifted).
 * BMP goes through `decodeBmp`, then `resizeForModel`.
 *
 * Limits as decodeImage: regular files up to MAX_FILE_BYTES, `maxPixels`, and the shared `decodeBudget`,
 * charged the pixels really decoded (JPEG and WebP shrink-on-load: their reduced size).
 *
 * @param nameOrOptions as for decodeImage.
 * @throws ImageDecodeError (message `<name>: <problem>`) exactly as `decodeImage`; RangeError for a bad size, crop
 *   or maxPixels.
 */
export async function decodeResized(
  source: string | Uint8Array,
  size: number,
  crop: CropMode,
  nameOrOptions?: string | DecodeOptions,
  resize: ResizeMode = 'default',
): Promise<ResizedImage> {
  checkResizeArgs(size, crop);
  if (resize === 'tflite') return decodeResizedTflite(source, size, crop, nameOrOptions);
  const { name, maxPixels, onDecoding } = decodeOptions(nameOrOptions);
  const { bytes, label } = await readSource(source, name);
  if (isBmp(bytes)) {
    const { width, height } = bmpHeader(bytes, label, maxPixels);
    return decodeBudget.run(width * height, async () => {
      const img = await decodeBmpAsync(bytes, label, { maxPixels });
      return { image: await resizeForModel(img, size, crop), width: img.width, height: img.height };
    });
  }
  return decodeResizedWithSharp(bytes, label, size, crop, maxPixels, onDecoding);
}

/**
 * The whole image decoded at full size (TFLite's resizer samples the original pixels), cropped, then
 * resized by TFLite's RESIZE_BILINEAR. Slower than the default for large photos; for comparisons.
 */
async function decodeResizedTflite(source: string | Uint8Array, size: number, crop: CropMode, nameOrOptions?: string | DecodeOptions): Promise<ResizedImage> {
  const img = await decodeImage(source, nameOrOptions);
  const box = crop === 'center' ? centralCropBox(img.width, img.height) : { left: 0, top: 0, width: img.width, height: img.height };
  return { image: resizeBilinearTflite(cropRgb(img, box), size, size), width: img.width, height: img.height };
}

async function readSource(source: string | Uint8Array, name: string | undefined): Promise<{ bytes: Uint8Array; label: string }> {
  const label = name ?? (typeof source === 'string' ? source : '<buffer>');
  const bytes = typeof source === 'string' ? await readImageFile(source, label) : source;
  if (bytes.length === 0) throw new ImageDecodeError(label, typeof source === 'string' ? 'file is empty' : 'image data is empty');
  return { bytes, label };
}

/** A BMP's declared size, within maxPixels; decodeBmp's own error when the header is unreadable. */
function bmpHeader(bytes: Uint8Array, label: string, maxPixels: number): { width: number; height: number } {
  const dims = bmpSize(bytes);
  if (dims === undefined) {
    decodeBmp(bytes, label, { maxPixels }); // throws, saying what is wrong with the header
    throw new ImageDecodeError(label, 'not a valid BMP (unreadable header)');
  }
  checkPixels(label, dims.width, dims.height, maxPixels);
  return dims;
}

function checkPixels(label: string, width: number, height: number, maxPixels: number): void {
  if (width * height > maxPixels) throw new InputTooLargeError(label, pixelLimitProblem(width, height, maxPixels));
}

function sharpInput(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The header only (format, declared size, orientation), checked against maxPixels. */
async function headerWithSharp(bytes: Uint8Array, label: string, maxPixels: number): Promise<sharp.Metadata> {
  let meta: sharp.Metadata;
  try {
    // No pixel limit here: sharp would refuse without saying the size; nothing is decoded.
    meta = await sharp(sharpInput(bytes), { pages: 1, page: 0, failOn: 'error', limitInputPixels: false }).metadata();
  } catch (err) {
    throw new ImageDecodeError(label, describeSharpError(err, sniffFormat(bytes), maxPixels), { cause: err });
  }
  checkPixels(label, meta.width, meta.height, maxPixels);
  return meta;
}

/** A sharp pipeline over encoded bytes: first page/frame only, within the pixel limit. */
function openWithSharp(bytes: Uint8Array, maxPixels: number): sharp.Sharp {
  return sharp(sharpInput(bytes), {
    pages: 1,
    page: 0,
    // Reject truncated and corrupt data; tolerate mere warnings (e.g. extraneous bytes in a JPEG).
    failOn: 'error',
    limitInputPixels: maxPixels,
  });
}

/** The end of every sharp pipeline: alpha flattened on white, 8-bit sRGB, 3 channels, raw. */
function toRgb(pipeline: sharp.Sharp): Promise<{ data: Buffer; info: sharp.OutputInfo }> {
  return pipeline
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .toColourspace('srgb')
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
}

function checkRgb(label: string, data: Buffer, info: sharp.OutputInfo): Uint8Array {
  if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
    throw new ImageDecodeError(label, `could not convert to RGB (decoder gave ${info.channels} channels)`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

async function decodeWithSharp(bytes: Uint8Array, label: string, maxPixels: number): Promise<RgbImage> {
  let result: { data: Buffer; info: sharp.OutputInfo };
  try {
    result = await toRgb(openWithSharp(bytes, maxPixels).autoOrient());
  } catch (err) {
    throw new ImageDecodeError(label, describeSharpError(err, sniffFormat(bytes), maxPixels), { cause: err });
  }
  const { data, info } = result;
  return { width: info.width, height: info.height, data: checkRgb(label, data, info) };
}

/**
 * EXIF orientation as sharp's post-resize operations, which mirror (flop) first and then rotate
 * clockwise: autoOrient rotates by a then mirrors, and mirror ∘ rotate(a) = rotate(−a) ∘ mirror.
 */
const ORIENT_AFTER_RESIZE: Record<number, { flop: boolean; angle: 0 | 90 | 180 | 270 }> = {
  1: { flop: false, angle: 0 },
  2: { flop: true, angle: 0 },
  3: { flop: false, angle: 180 },
  4: { flop: true, angle: 180 },
  5: { flop: true, angle: 270 },
  6: { flop: false, angle: 90 },
  7: { flop: true, angle: 90 },
  8: { flop: false, angle: 270 },
};

/**
 * The pixels a decodeResized pipeline really decodes, charged to the decode budget: JPEG and WebP shrink on
 * load when the whole image is shrunk (the same rules as sharp 0.34's pipeline: DCT scaling by 8, 4 or 2 for
 * JPEG, one step less when the shrink is exactly that integer; libwebp's scaler for WebP); everything else,
 * and any crop or enlargement, decodes at full size.
 */
function decodedPixels(meta: { format?: string; width: number; height: number }, size: number, crop: CropMode): number {
  const { width, height } = meta;
  const full = width * height;
  // Enlarging either axis, or a crop before the resize: no shrink-on-load.
  if (crop !== 'none' || size > width || size > height) return full;
  const shrink = Math.min(width, height) / size;
  let factor = 1;
  if (meta.format === 'jpeg') {
    factor = shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
    if (factor > 1 && Math.trunc(shrink) === factor) factor /= 2;
  } else if (meta.format === 'webp' && shrink > 1) {
    factor = shrink;
  }
  return Math.ceil(width / factor) * Math.ceil(height / factor);
}

async function decodeResizedWithSharp(
  bytes: Uint8Array,
  label: string,
  size: number,
  crop: CropMode,
  maxPixels: number,
  onDecoding?: () => void,
): Promise<ResizedImage> {
  // The header only: the size as displayed, which the crop box is computed from.
  const meta = await headerWithSharp(bytes, label, maxPixels);
  // EXIF orientations 5 to 8 turn the image a quarter turn (sharp's autoOrient does the same).
  const orientation = meta.orientation !== undefined && meta.orientation >= 1 && meta.orientation <= 8 ? meta.orientation : 1;
  const [width, height] = orientation >= 5 ? [meta.height, meta.width] : [meta.width, meta.height];
  const box = crop === 'center' ? centralCropBox(width, height) : { left: 0, top: 0, width, height };
  const enlarging = size > box.width || size > box.height;
  const pipeline = openWithSharp(bytes, maxPixels);
  if (enlarging) {
    // Enlarging (at least along one side): libvips decodes, orients first (as decodeImage does) and crops;
    // resampleLinear resizes (libvips' upsampling grid is shifted by half an output pixel). An extract without a
    // resize is a pre-resize extract, which sharp does after orienting.
    pipeline.autoOrient().extract(box);
  } else if (crop === 'center') {
    // The central crop has equal margins on opposite sides, so turning or mirroring the image moves it
    // onto the central crop of the stored image: crop that, resize, then orient the small result (with
    // autoOrient, sharp would turn the whole full-size image before the crop). A crop before the resize
    // keeps libvips from shrinking on load, so the crop is exact but the decode is full size.
    // Called after resize(), rotate() and flop() apply after it; called before, sharp would turn first.
    pipeline.extract(centralCropBox(meta.width, meta.height)).resize(size, size, { fit: 'fill', kernel: 'linear' });
    const { flop, angle } = ORIENT_AFTER_RESIZE[orientation]!;
    if (angle !== 0) pipeline.rotate(angle);
    if (flop) pipeline.flop();
  } else {
    // Shrinking the whole image: sharp orients after the resize and JPEG/WebP shrink on load.
    // fastShrinkOnLoad (sharp's default) lets JPEG DCT scaling take the whole integer factor (false keeps
    // 2x for the linear kernel). On the shared photos and models both move top-1 scores by under 0.05 from
    // the full-size decode and neither is consistently closer; true is up to 1.7x faster on large photos.
    pipeline.autoOrient().resize(size, size, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: true });
  }
  const image = await decodeBudget.run(decodedPixels(meta, size, crop), async (): Promise<RgbImage> => {
    let result: { data: Buffer; info: sharp.OutputInfo };
    try {
      const decoded = toRgb(pipeline);
      onDecoding?.();
      result = await decoded;
    } catch (err) {
      throw new ImageDecodeError(label, describeSharpError(err, sniffFormat(bytes), maxPixels), { cause: err });
    }
    const { data, info } = result;
    const rgb = checkRgb(label, data, info);
    const [wantWidth, wantHeight] = enlarging ? [box.width, box.height] : [size, size];
    if (info.width !== wantWidth || info.height !== wantHeight) {
      throw new Error(`${label}: sharp gave ${info.width}x${info.height}, expected ${wantWidth}x${wantHeight}`);
    }
    const decoded = { width: info.width, height: info.height, data: rgb };
    return enlarging ? resampleLinear(decoded, size, size) : decoded;
  });
  return { image, width, height };
}

/** The container format from the first bytes, for error messages only (sharp does the real detection). */
function sniffFormat(b: Uint8Array): string | undefined {
  const ascii = (start: number, end: number) => String.fromCharCode(...b.subarray(start, end));
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'JPEG';
  if (b.length >= 8 && b[0] === 0x89 && ascii(1, 4) === 'PNG') return 'PNG';
  if (b.length >= 6 && ascii(0, 4) === 'GIF8') return 'GIF';
  if (b.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'WebP';
  if (b.length >= 4 && (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*')) return 'TIFF';
  if (b.length >= 12 && ascii(4, 8) === 'ftyp') {
    const brand = ascii(8, 12);
    return brand === 'avif' || brand === 'avis' ? 'AVIF' : 'HEIF';
  }
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return 'BMP';
  return undefined;
}

/** Turn a sharp/libvips error into a short problem description (without the file name). */
function describeSharpError(err: unknown, format: string | undefined, maxPixels: number): string {
  const raw = err instanceof Error ? err.message : String(err);
  const lower = raw.toLowerCase();
  if (lower.includes('unsupported image format')) {
    // The signature says e.g. TIFF but libvips could not even read the header: damaged, not unknown.
    return format ? `corrupt or truncated ${format} (unreadable header)` : 'not a supported image (unrecognised format)';
  }
  if (lower.includes('pixel limit')) return pixelLimitProblemUnknownSize(maxPixels);
  if (lower.includes('is empty')) return 'file is empty';
  const what = format ?? 'image';
  const detail = cleanDetail(raw);
  const truncated = /premature end|truncat|unexpected end|end of (file|data|input|stream)|not enough data|short read|out of data/.test(lower);
  return `${truncated ? 'truncated' : 'corrupt'} ${what}${detail ? ` (${detail})` : ''}`;
}

/** libvips' own words, minus prefixes such as `Input buffer has corrupt header: VipsJpeg: `. */
function cleanDetail(message: string): string {
  let line = (message.split('\n').find((l) => l.trim() !== '') ?? '').trim();
  line = line.replace(/^input (buffer|file) has corrupt header:\s*/i, '');
  line = line.replace(/^(vips\w*|\w+load\w*|\w+_load\w*):\s*/i, '');
  line = line.replace(/^(vips\w*|\w+load\w*|\w+_load\w*):\s*/i, '');
  line = line.replace(/[.:\s]+$/, '');
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}
