// A small BMP decoder (sharp/libvips cannot read BMP).
//
// Supported: the Windows BITMAPINFOHEADER (40 bytes) and its successors V2/V3/V4/V5 (52/56/108/124), the
// OS/2 1.x BITMAPCOREHEADER (12) and OS/2 2.x headers (16..64, uncompressed only); 1/2/4/8-bit palettes,
// 16-bit (555 by default, any masks with BI_BITFIELDS), 24-bit, 32-bit (BGRX by default, any masks with
// BI_BITFIELDS / BI_ALPHABITFIELDS); RLE8 and RLE4; bottom-up and top-down rows; rows padded to 4 bytes.
// Refused with an ImageDecodeError: embedded JPEG/PNG, OS/2 Huffman and RLE24, anything malformed.
//
// Alpha: used when a mask says so (a BI_BITFIELDS / BI_ALPHABITFIELDS alpha mask, or the alpha mask field of
// a V3+ header), then flattened on white. If every alpha value is 0 the channel is taken to be unused padding
// (a common writer bug) and the image is opaque.
//
// Every read is bounds-checked: truncated or garbage input gives an ImageDecodeError, never a crash; the work done
// is bounded by the file size, and an image over the pixel limit (DEFAULT_MAX_PIXELS, or the maxPixels
// option up to MAX_PIXELS) is refused from its header, before anything is allocated.

import { ImageDecodeError, InputTooLargeError } from './errors.js';
import { pixelLimitProblem, resolveMaxPixels } from './limits.js';
import type { RgbImage } from './types.js';

const FILE_HEADER_SIZE = 14;
/** RLE images up to this many pixels may have any amount of data; larger ones need 1 byte per 256 pixels. */
const RLE_FREE_PIXELS = 1 << 22;

const BI_RGB = 0;
const BI_RLE8 = 1;
const BI_RLE4 = 2;
const BI_BITFIELDS = 3;
const BI_JPEG = 4;
const BI_PNG = 5;
const BI_ALPHABITFIELDS = 6;

/** True when the data starts with the BMP magic 'BM'. */
export function isBmp(data: Uint8Array): boolean {
  return data.length >= 2 && data[0] === 0x42 && data[1] === 0x4d;
}

/** One colour channel of a 16/32-bit pixel: (pixel & mask) >>> shift, scaled from 0..max to 0..255. */
interface Channel {
  mask: number;
  shift: number;
  /** Scale table for max <= 0xffff, else computed per pixel. */
  lut: Uint8Array | null;
  max: number;
}

function channel(mask: number): Channel | null {
  mask >>>= 0;
  if (mask === 0) return null;
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  const max = mask >>> shift;
  let lut: Uint8Array | null = null;
  if (max <= 0xffff) {
    lut = new Uint8Array(max + 1);
    for (let v = 0; v <= max; v++) lut[v] = Math.round((v * 255) / max);
  }
  return { mask, shift, lut, max };
}

function sample(c: Channel | null, px: number): number {
  if (c === null) return 0;
  const v = (px & c.mask) >>> c.shift;
  return c.lut !== null ? c.lut[v]! : Math.round((v * 255) / c.max);
}

interface Header {
  width: number;
  height: number;
  topDown: boolean;
  bpp: number;
  compression: number;
  headerSize: number;
  /** Bytes per palette entry: 3 (BITMAPCOREHEADER) or 4. */
  paletteEntrySize: number;
  colorsUsed: number;
  isOs2: boolean;
}

function readers(data: Uint8Array) {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return {
    u16: (o: number) => view.getUint16(o, true),
    u32: (o: number) => view.getUint32(o, true),
    i32: (o: number) => view.getInt32(o, true),
  };
}

/**
 * The width and height a BMP declares, from its header alone; undefined when there is no readable,
 * plausible header (decodeBmp then says what is wrong).
 */
export function bmpSize(data: Uint8Array): { width: number; height: number } | undefined {
  if (!isBmp(data) || data.length < FILE_HEADER_SIZE + 4) return undefined;
  const { u16, u32, i32 } = readers(data);
  const headerSize = u32(14);
  if (headerSize !== 12 && (headerSize < 16 || headerSize > 4096)) return undefined;
  if (FILE_HEADER_SIZE + headerSize > data.length) return undefined;
  const { width, height } = readHeader(headerSize, u16, u32, i32);
  return width >= 1 && height >= 1 ? { width, height } : undefined;
}

export interface DecodeBmpOptions {
  /** Largest width × height accepted (default DEFAULT_MAX_PIXELS, at most MAX_PIXELS); checked before allocating. */
  maxPixels?: number;
}

/**
 * Decode a BMP file held in memory to 8-bit RGB, top row first.
 * @param name used in error messages (the file name).
 * @throws ImageDecodeError for anything unsupported, truncated or malformed, or over the pixel limit;
 *   RangeError for a bad maxPixels.
 */
export function decodeBmp(data: Uint8Array, name = '<buffer>', options: DecodeBmpOptions = {}): RgbImage {
  const steps = decodeSteps(data, name, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** Work (pixels) between two chances for the event loop to run in decodeBmpAsync: about 10 ms. */
const PIXELS_PER_SLICE = 1 << 21;

/** `decodeBmp`, letting the event loop run every few million pixels (a large image takes a second). */
export async function decodeBmpAsync(data: Uint8Array, name = '<buffer>', options: DecodeBmpOptions = {}): Promise<RgbImage> {
  const steps = decodeSteps(data, name, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** The decoder, as a generator that yields after every PIXELS_PER_SLICE pixels or so of work. */
function* decodeSteps(data: Uint8Array, name: string, options: DecodeBmpOptions): Generator<void, RgbImage, void> {
  const maxPixels = resolveMaxPixels(options.maxPixels);
  const fail = (problem: string): never => {
    throw new ImageDecodeError(name, problem);
  };
  const len = data.length;
  const { u16, u32, i32 } = readers(data);

  if (!isBmp(data)) fail('not a BMP file (no BM signature)');
  if (len < FILE_HEADER_SIZE + 4) fail(`truncated BMP (header needs ${FILE_HEADER_SIZE + 4} bytes, file has ${len})`);

  let pixelOffset = u32(10);
  const headerSize = u32(14);
  if (headerSize !== 12 && (headerSize < 16 || headerSize > 4096)) {
    fail(`not a valid BMP (unsupported header size ${headerSize})`);
  }
  const headerEnd = FILE_HEADER_SIZE + headerSize;
  if (headerEnd > len) fail(`truncated BMP (header ends at byte ${headerEnd} of ${len})`);

  const h = readHeader(headerSize, u16, u32, i32);
  const { width, height, bpp, compression } = h;

  if (width < 1 || height < 1) fail(`not a valid BMP (dimensions ${width}x${h.topDown ? -height : height})`);
  if (width * height > maxPixels) throw new InputTooLargeError(name, pixelLimitProblem(width, height, maxPixels));
  if (![1, 2, 4, 8, 16, 24, 32].includes(bpp)) fail(`unsupported BMP bit depth ${bpp}`);

  if (h.isOs2 && (compression === 3 || compression === 4)) {
    fail(`unsupported BMP compression (OS/2 ${compression === 3 ? 'Huffman 1D' : 'RLE24'})`);
  }
  switch (compression) {
    case BI_RGB:
      break;
    case BI_RLE8:
    case BI_RLE4:
      if (bpp !== (compression === BI_RLE8 ? 8 : 4)) {
        fail(`not a valid BMP (RLE${compression === BI_RLE8 ? 8 : 4} with ${bpp} bits per pixel)`);
      }
      if (h.topDown) fail('not a valid BMP (RLE compression with top-down rows)');
      break;
    case BI_BITFIELDS:
    case BI_ALPHABITFIELDS:
      if (bpp !== 16 && bpp !== 32) fail(`not a valid BMP (bit fields with ${bpp} bits per pixel)`);
      break;
    case BI_JPEG:
    case BI_PNG:
      fail(`unsupported BMP compression (embedded ${compression === BI_JPEG ? 'JPEG' : 'PNG'})`);
      break;
    default:
      fail(`unsupported BMP compression (type ${compression})`);
  }

  // Bit masks (16/32-bit). With a 40-byte header they follow it; V2+ headers hold them at the same offsets.
  let tableStart = headerEnd;
  let red: Channel | null = null;
  let green: Channel | null = null;
  let blue: Channel | null = null;
  let alpha: Channel | null = null;
  if (bpp === 16 || bpp === 32) {
    if (compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS) {
      const withAlpha = compression === BI_ALPHABITFIELDS || headerSize >= 56;
      const masksEnd = FILE_HEADER_SIZE + 40 + (withAlpha ? 16 : 12);
      if (masksEnd > len) fail(`truncated BMP (bit masks end at byte ${masksEnd} of ${len})`);
      if (headerSize < 52) tableStart = masksEnd;
      red = channel(u32(54));
      green = channel(u32(58));
      blue = channel(u32(62));
      alpha = withAlpha ? channel(u32(66)) : null;
    } else if (bpp === 16) {
      red = channel(0x7c00);
      green = channel(0x03e0);
      blue = channel(0x001f);
    } else {
      red = channel(0x00ff0000);
      green = channel(0x0000ff00);
      blue = channel(0x000000ff);
      // A V3+ header may declare an alpha channel even without BI_BITFIELDS.
      if (headerSize >= 56 && !h.isOs2) alpha = channel(u32(66));
    }
  }

  // Palette, in the bytes between the header (and masks) and the pixels.
  const palette = new Uint8Array(256 * 3); // indices past the palette read as black
  if (bpp <= 8) {
    const entry = h.paletteEntrySize;
    let count = 1 << bpp;
    if (h.colorsUsed > 0 && h.colorsUsed < count) count = h.colorsUsed;
    if (pixelOffset > tableStart) count = Math.min(count, Math.floor((pixelOffset - tableStart) / entry));
    if (tableStart + count * entry > len) fail(`truncated BMP (palette ends at byte ${tableStart + count * entry} of ${len})`);
    if (count < 1) fail('not a valid BMP (palette missing)');
    for (let i = 0; i < count; i++) {
      const o = tableStart + i * entry;
      palette[i * 3] = data[o + 2]!;
      palette[i * 3 + 1] = data[o + 1]!;
      palette[i * 3 + 2] = data[o]!;
    }
    if (pixelOffset === 0) pixelOffset = tableStart + count * entry;
  } else if (pixelOffset === 0) {
    pixelOffset = tableStart;
  }
  if (pixelOffset < headerEnd) fail(`not a valid BMP (pixel data offset ${pixelOffset} inside the header)`);
  if (pixelOffset >= len) fail(`truncated BMP (pixel data starts at byte ${pixelOffset} of ${len})`);

  if (compression === BI_RLE8 || compression === BI_RLE4) {
    // A small file must not make us allocate and fill a huge canvas. Encoded runs give at most 127.5 pixels
    // per byte; skipping most of an image with delta / end-of-bitmap is legal but only allowed when small.
    const streamBytes = len - pixelOffset;
    if (width * height > Math.max(RLE_FREE_PIXELS, streamBytes * 256)) {
      fail(`not a valid BMP (${streamBytes} bytes of RLE data for ${width}x${height} pixels)`);
    }
    return yield* decodeRle(data, pixelOffset, width, height, compression === BI_RLE4, palette, fail);
  }

  const stride = Math.floor((width * bpp + 31) / 32) * 4;
  const rowBytes = Math.ceil((width * bpp) / 8);
  // The last row's padding may be missing; everything else must be there.
  if (pixelOffset + stride * (height - 1) + rowBytes > len) {
    fail(`truncated BMP (pixel data ends at byte ${pixelOffset + stride * height} of ${len})`);
  }

  const out = new Uint8Array(width * height * 3);
  const alphaOut = alpha !== null ? new Uint8Array(width * height) : null;
  let work = 0;
  for (let row = 0; row < height; row++) {
    work += width;
    if (work >= PIXELS_PER_SLICE) {
      work = 0;
      yield;
    }
    const src = pixelOffset + row * stride;
    const y = h.topDown ? row : height - 1 - row;
    let d = y * width * 3;
    if (bpp <= 8) {
      const perByte = 8 / bpp;
      const mask = (1 << bpp) - 1;
      for (let x = 0; x < width; x++) {
        const byte = data[src + Math.floor(x / perByte)]!;
        const shift = 8 - bpp * ((x % perByte) + 1);
        const p = ((byte >> shift) & mask) * 3;
        out[d++] = palette[p]!;
        out[d++] = palette[p + 1]!;
        out[d++] = palette[p + 2]!;
      }
    } else if (bpp === 24) {
      for (let x = 0, s = src; x < width; x++, s += 3) {
        out[d++] = data[s + 2]!;
        out[d++] = data[s + 1]!;
        out[d++] = data[s]!;
      }
    } else {
      const bytes = bpp / 8;
      for (let x = 0, s = src; x < width; x++, s += bytes) {
        const px =
          bytes === 2
            ? data[s]! | (data[s + 1]! << 8)
            : (data[s]! | (data[s + 1]! << 8) | (data[s + 2]! << 16) | (data[s + 3]! << 24)) >>> 0;
        out[d++] = sample(red, px);
        out[d++] = sample(green, px);
        out[d++] = sample(blue, px);
        if (alphaOut !== null) alphaOut[y * width + x] = sample(alpha, px);
      }
    }
  }
  if (alphaOut !== null) yield* flattenOnWhite(out, alphaOut);
  return { width, height, data: out };
}

function readHeader(
  headerSize: number,
  u16: (o: number) => number,
  u32: (o: number) => number,
  i32: (o: number) => number,
): Header {
  if (headerSize === 12) {
    // OS/2 1.x / Windows 2.x BITMAPCOREHEADER: unsigned 16-bit dimensions, always bottom-up, RGB triples.
    return {
      width: u16(18),
      height: u16(20),
      topDown: false,
      bpp: u16(24),
      compression: BI_RGB,
      headerSize,
      paletteEntrySize: 3,
      colorsUsed: 0,
      isOs2: true,
    };
  }
  const rawHeight = i32(22);
  return {
    width: i32(18),
    height: Math.abs(rawHeight),
    topDown: rawHeight < 0,
    bpp: u16(28),
    compression: headerSize >= 20 ? u32(30) : BI_RGB,
    headerSize,
    paletteEntrySize: 4,
    colorsUsed: headerSize >= 36 ? u32(46) : 0,
    // OS/2 2.x headers are 16..64 bytes; the Windows ones are 40, 52, 56, 108, 124 (and maybe larger later).
    isOs2: headerSize < 40 || headerSize === 64,
  };
}

/** Decode RLE8 / RLE4 data. Pixels the stream skips (delta, early end of line / bitmap) are white. */
function* decodeRle(
  data: Uint8Array,
  start: number,
  width: number,
  height: number,
  four: boolean,
  palette: Uint8Array,
  fail: (problem: string) => never,
): Generator<void, RgbImage, void> {
  const len = data.length;
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < out.length; i += PIXELS_PER_SLICE * 3) {
    out.fill(255, i, i + PIXELS_PER_SLICE * 3);
    yield;
  }
  let work = 0;
  let x = 0;
  let y = 0; // counted from the bottom row
  let pos = start;
  const put = (index: number) => {
    if (x < width && y < height) {
      const d = ((height - 1 - y) * width + x) * 3;
      const p = index * 3;
      out[d] = palette[p]!;
      out[d + 1] = palette[p + 1]!;
      out[d + 2] = palette[p + 2]!;
    }
    x++;
  };
  let ended = false;
  // Every step consumes at least two bytes, so the loop ends; each writes at most 255 pixels.
  while (y < height) {
    if (pos + 2 > len) break;
    const n = data[pos]!;
    const c = data[pos + 1]!;
    pos += 2;
    work += 8 + n + (n === 0 && c > 2 ? c : 0);
    if (work >= PIXELS_PER_SLICE) {
      work = 0;
      yield;
    }
    if (n > 0) {
      for (let i = 0; i < n; i++) put(four ? (i & 1 ? c & 0x0f : c >> 4) : c);
    } else if (c === 0) {
      x = 0;
      y++;
    } else if (c === 1) {
      ended = true;
      break;
    } else if (c === 2) {
      if (pos + 2 > len) break;
      x += data[pos]!;
      y += data[pos + 1]!;
      pos += 2;
    } else {
      const bytes = four ? Math.ceil(c / 2) : c;
      if (pos + bytes > len) break;
      for (let i = 0; i < c; i++) {
        const b = data[pos + (four ? i >> 1 : i)]!;
        put(four ? (i & 1 ? b & 0x0f : b >> 4) : b);
      }
      pos += bytes + (bytes & 1); // absolute runs are padded to 16 bits
    }
  }
  if (!ended && y < height) fail(`truncated BMP (RLE data stops at byte ${len} before the end-of-bitmap marker)`);
  return { width, height, data: out };
}

/** out = colour·a + white·(1 − a), rounded; alpha all zero means no alpha at all. */
function* flattenOnWhite(rgb: Uint8Array, alpha: Uint8Array): Generator<void, void, void> {
  let any = false;
  for (let i = 0; i < alpha.length; i++) {
    if (alpha[i] !== 0) {
      any = true;
      break;
    }
  }
  if (!any) return;
  for (let i = 0; i < alpha.length; i++) {
    if (i % PIXELS_PER_SLICE === PIXELS_PER_SLICE - 1) yield;
    const a = alpha[i]!;
    if (a === 255) continue;
    const bg = 255 * (255 - a);
    for (let k = i * 3; k < i * 3 + 3; k++) rgb[k] = Math.round((rgb[k]! * a + bg) / 255);
  }
}
