// Decoding any supported image file to 8-bit RGB: BMP with our own decoder, everything else with sharp.

import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { decodeBmp, isBmp } from './bmp.js';
import { ImageError } from './errors.js';
import { MAX_PIXELS, type RgbImage } from './types.js';

export type { RgbImage } from './types.js';

/**
 * Decode an image file (path) or its bytes to 8-bit sRGB, 3 channels, top row first.
 *
 * - JPEG, PNG, WebP, AVIF, TIFF, GIF (and whatever else the installed libvips reads) go through sharp:
 *   first page/frame only, EXIF orientation applied, alpha flattened on white, grayscale/CMYK/16-bit
 *   converted to 8-bit sRGB.
 * - BMP (recognised by its 'BM' signature, not by the file extension) goes through `decodeBmp`.
 *
 * @param name the name used in error messages; defaults to the path, or `<buffer>` for bytes.
 * @throws ImageError (message `<name>: <problem>`) for unreadable, empty, unknown, corrupt or truncated input.
 */
export async function decodeImage(source: string | Uint8Array, name?: string): Promise<RgbImage> {
  const label = name ?? (typeof source === 'string' ? source : '<buffer>');
  const bytes = typeof source === 'string' ? await readImageFile(source, label) : source;
  if (bytes.length === 0) throw new ImageError(label, typeof source === 'string' ? 'file is empty' : 'image data is empty');
  if (isBmp(bytes)) return decodeBmp(bytes, label);
  return decodeWithSharp(bytes, label);
}

async function readImageFile(path: string, label: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a directory, not an image file'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : code === 'ERR_FS_FILE_TOO_LARGE'
              ? 'file too large to read'
              : `cannot read file (${code ?? String(err)})`;
    throw new ImageError(label, problem, { cause: err });
  }
}

async function decodeWithSharp(bytes: Uint8Array, label: string): Promise<RgbImage> {
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let result: { data: Buffer; info: sharp.OutputInfo };
  try {
    result = await sharp(input, {
      pages: 1,
      page: 0,
      // Reject truncated and corrupt data; tolerate mere warnings (e.g. extraneous bytes in a JPEG).
      failOn: 'error',
      limitInputPixels: MAX_PIXELS,
    })
      .autoOrient()
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new ImageError(label, describeSharpError(err, sniffFormat(bytes)), { cause: err });
  }
  const { data, info } = result;
  if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
    throw new ImageError(label, `could not convert to RGB (decoder gave ${info.channels} channels)`);
  }
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/** The container format from the first bytes, for error messages only (sharp does the real detection). */
export function sniffFormat(b: Uint8Array): string | undefined {
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
function describeSharpError(err: unknown, format: string | undefined): string {
  const raw = err instanceof Error ? err.message : String(err);
  const lower = raw.toLowerCase();
  if (lower.includes('unsupported image format')) {
    // The signature says e.g. TIFF but libvips could not even read the header: damaged, not unknown.
    return format ? `corrupt or truncated ${format} (unreadable header)` : 'not a supported image (unrecognised format)';
  }
  if (lower.includes('pixel limit')) return `image too large (more than ${MAX_PIXELS} pixels)`;
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
