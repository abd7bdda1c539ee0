// A small BMP *writer* for tests: builds BMP files from RGB pixels in the variants the decoder must read.
// Written from the format description, independently of src/image/bmp.ts.

export type BmpHeader = 'core' | 'info' | 'v3' | 'v4' | 'v5';
export type BmpCompression = 'rgb' | 'bitfields' | 'alphabitfields' | 'rle8' | 'rle4';

export interface BmpMasks {
  r: number;
  g: number;
  b: number;
  a?: number;
}

export interface WriteBmpOptions {
  bpp: 1 | 2 | 4 | 8 | 16 | 24 | 32;
  header?: BmpHeader;
  topDown?: boolean;
  compression?: BmpCompression;
  /** Bit masks for 16/32-bit; defaults 555 / BGRX (and written into V3+ headers). */
  masks?: BmpMasks;
  /** One alpha byte per pixel, encoded with masks.a (32-bit) or as the 4th byte (32-bit BI_RGB). */
  alpha?: Uint8Array;
  /** Write biClrUsed = palette size (default) or 0 (then the palette is padded to 2^bpp entries). */
  colorsUsedZero?: boolean;
  /** The 4th byte of each BI_RGB 32-bit pixel when no alpha is given (default 0). */
  padByte?: number;
}

const HEADER_SIZES: Record<BmpHeader, number> = { core: 12, info: 40, v3: 56, v4: 108, v5: 124 };
const COMPRESSION_CODES: Record<BmpCompression, number> = { rgb: 0, rle8: 1, rle4: 2, bitfields: 3, alphabitfields: 6 };

function shiftOf(mask: number): number {
  let s = 0;
  while (mask !== 0 && ((mask >>> s) & 1) === 0) s++;
  return s;
}

/** Encode an 8-bit value into a mask's bits (rounding), e.g. 5 bits for 0x7c00. */
function put(value8: number, mask: number): number {
  if (mask === 0) return 0;
  const shift = shiftOf(mask >>> 0);
  const max = (mask >>> 0) >>> shift;
  return (Math.round((value8 * max) / 255) * 2 ** shift) >>> 0;
}

/** Build the palette (unique colours in order of appearance) and the index of every pixel. */
export function paletteOf(rgb: Uint8Array): { palette: number[][]; indices: Uint8Array } {
  const map = new Map<number, number>();
  const palette: number[][] = [];
  const indices = new Uint8Array(rgb.length / 3);
  for (let i = 0; i < indices.length; i++) {
    const key = (rgb[i * 3]! << 16) | (rgb[i * 3 + 1]! << 8) | rgb[i * 3 + 2]!;
    let idx = map.get(key);
    if (idx === undefined) {
      idx = palette.length;
      map.set(key, idx);
      palette.push([rgb[i * 3]!, rgb[i * 3 + 1]!, rgb[i * 3 + 2]!]);
    }
    indices[i] = idx;
  }
  return { palette, indices };
}

/** RLE-encode one row of indices (RLE8 or RLE4), without the end-of-line marker. */
function rleRow(idx: Uint8Array, four: boolean): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < idx.length) {
    let run = 1;
    while (i + run < idx.length && idx[i + run] === idx[i] && run < 255) run++;
    if (run >= 3 || idx.length - i < 3) {
      // Encoded run (a run of 1 or 2 at the end of the row is fine too).
      const n = run >= 3 ? run : Math.min(run, idx.length - i);
      out.push(n, four ? (idx[i]! << 4) | idx[i]! : idx[i]!);
      i += n;
      continue;
    }
    // Absolute run: collect pixels until a run of 3 starts (at least 3 pixels, at most 255).
    let n = 0;
    while (i + n < idx.length && n < 255) {
      if (n >= 3 && i + n + 2 < idx.length && idx[i + n] === idx[i + n + 1] && idx[i + n] === idx[i + n + 2]) break;
      n++;
    }
    if (n < 3) {
      out.push(1, four ? (idx[i]! << 4) | idx[i]! : idx[i]!);
      i += 1;
      continue;
    }
    out.push(0, n);
    const bytes: number[] = [];
    if (four) {
      for (let k = 0; k < n; k += 2) bytes.push((idx[i + k]! << 4) | (k + 1 < n ? idx[i + k + 1]! : 0));
    } else {
      for (let k = 0; k < n; k++) bytes.push(idx[i + k]!);
    }
    if (bytes.length % 2) bytes.push(0);
    out.push(...bytes);
    i += n;
  }
  return out;
}

export function writeBmp(width: number, height: number, rgb: Uint8Array, o: WriteBmpOptions): Buffer {
  const header = o.header ?? 'info';
  const hdr = HEADER_SIZES[header];
  const compression = o.compression ?? 'rgb';
  const bpp = o.bpp;
  if (rgb.length !== width * height * 3) throw new Error('rgb size mismatch');

  let masks: BmpMasks | null = null;
  if (bpp === 16 || bpp === 32) {
    masks =
      o.masks ??
      (bpp === 16 ? { r: 0x7c00, g: 0x03e0, b: 0x001f } : { r: 0xff0000, g: 0xff00, b: 0xff, a: o.alpha ? 0xff000000 : 0 });
  }
  const extraMasks = header === 'info' && compression === 'bitfields' ? 12 : header === 'info' && compression === 'alphabitfields' ? 16 : 0;

  let palette: number[][] = [];
  let indices: Uint8Array | null = null;
  if (bpp <= 8) {
    ({ palette, indices } = paletteOf(rgb));
    if (palette.length > 1 << bpp) throw new Error(`${palette.length} colours do not fit ${bpp} bits`);
    if (o.colorsUsedZero) while (palette.length < 1 << bpp) palette.push([0, 0, 0]);
  }
  const entry = header === 'core' ? 3 : 4;
  const pixelOffset = 14 + hdr + extraMasks + palette.length * entry;

  // Pixel rows, stored bottom-up unless topDown.
  const rows: number[][] = [];
  if (compression === 'rle8' || compression === 'rle4') {
    const stream: number[] = [];
    for (let r = height - 1; r >= 0; r--) {
      stream.push(...rleRow(indices!.subarray(r * width, (r + 1) * width), compression === 'rle4'));
      if (r > 0) stream.push(0, 0);
    }
    stream.push(0, 1);
    rows.push(stream);
  } else {
    const stride = Math.floor((width * bpp + 31) / 32) * 4;
    for (let k = 0; k < height; k++) {
      const y = o.topDown ? k : height - 1 - k;
      const row = new Array<number>(stride).fill(0);
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        const [r, g, b] = [rgb[i * 3]!, rgb[i * 3 + 1]!, rgb[i * 3 + 2]!];
        if (bpp <= 8) {
          const bit = x * bpp;
          row[bit >> 3]! |= indices![i]! << (8 - bpp - (bit & 7));
        } else if (bpp === 24) {
          row[x * 3] = b;
          row[x * 3 + 1] = g;
          row[x * 3 + 2] = r;
        } else {
          const m = masks!;
          let px = (put(r, m.r) | put(g, m.g) | put(b, m.b)) >>> 0;
          if (o.alpha && m.a) px = (px | put(o.alpha[i]!, m.a)) >>> 0;
          if (bpp === 32 && !o.alpha && compression === 'rgb') px = (px | ((o.padByte ?? 0) << 24)) >>> 0;
          for (let k2 = 0; k2 < bpp / 8; k2++) row[x * (bpp / 8) + k2] = (px >>> (8 * k2)) & 0xff;
        }
      }
      rows.push(row);
    }
  }
  const pixelBytes = rows.reduce((n, r) => n + r.length, 0);
  const buf = Buffer.alloc(pixelOffset + pixelBytes);
  buf.write('BM', 0, 'latin1');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(pixelOffset, 10);
  buf.writeUInt32LE(hdr, 14);
  if (header === 'core') {
    buf.writeUInt16LE(width, 18);
    buf.writeUInt16LE(height, 20);
    buf.writeUInt16LE(1, 22);
    buf.writeUInt16LE(bpp, 24);
  } else {
    buf.writeInt32LE(width, 18);
    buf.writeInt32LE(o.topDown ? -height : height, 22);
    buf.writeUInt16LE(1, 26);
    buf.writeUInt16LE(bpp, 28);
    buf.writeUInt32LE(COMPRESSION_CODES[compression], 30);
    buf.writeUInt32LE(pixelBytes, 34);
    buf.writeInt32LE(2835, 38);
    buf.writeInt32LE(2835, 42);
    buf.writeUInt32LE(bpp <= 8 && !o.colorsUsedZero ? palette.length : 0, 46);
    if (masks && (hdr > 40 || extraMasks > 0)) {
      buf.writeUInt32LE(masks.r >>> 0, 54);
      buf.writeUInt32LE(masks.g >>> 0, 58);
      buf.writeUInt32LE(masks.b >>> 0, 62);
      if (hdr > 40 || extraMasks === 16) buf.writeUInt32LE((masks.a ?? 0) >>> 0, 66);
    }
    if (hdr >= 108) buf.write('BGRs', 70, 'latin1'); // LCS_sRGB, stored little-endian
    if (hdr >= 124) buf.writeUInt32LE(4, 122); // LCS_GM_IMAGES
  }
  let p = 14 + hdr + extraMasks;
  for (const [r, g, b] of palette) {
    buf[p++] = b!;
    buf[p++] = g!;
    buf[p++] = r!;
    if (entry === 4) buf[p++] = 0;
  }
  for (const row of rows) {
    for (const v of row) buf[p++] = v;
  }
  return buf;
}

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
export function pseudoRandom(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** RGB pixels drawn from `colours` (at most that many distinct colours), pseudo-random. */
export function pixelsFrom(width: number, height: number, colours: number[][], seed = 1): Uint8Array {
  const rnd = pseudoRandom(seed);
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const c = colours[rnd() % colours.length]!;
    out.set(c, i * 3);
  }
  return out;
}

/** Fully random RGB pixels. */
export function randomPixels(width: number, height: number, seed = 1, channels = 3): Uint8Array {
  const rnd = pseudoRandom(seed);
  const out = new Uint8Array(width * height * channels);
  for (let i = 0; i < out.length; i++) out[i] = rnd() & 0xff;
  return out;
}

/**
 * A real RLE8 BMP declaring width × height whose pixel stream is exactly `streamBytes` long (even, at least
 * 4): rows of encoded 255-pixel runs from the bottom up (two colours, alternating by row), end-of-line
 * markers for the rows left (legal: skipped pixels are white), then the end-of-bitmap marker. A 1 MiB file
 * can declare 16384×16384 pixels (805 MB as RGB) and be valid: 256 pixels per byte of RLE data.
 */
export function writeSparseRle8(width: number, height: number, streamBytes: number): Buffer {
  if (streamBytes % 2 !== 0 || streamBytes < 4) throw new Error('streamBytes must be even and at least 4');
  const runsPerRow = Math.ceil(width / 255);
  const rowBytes = 2 * runsPerRow + 2;
  const stream = Buffer.alloc(streamBytes);
  let p = 0;
  let rows = 0;
  while (rows < height - 1 && p + rowBytes <= streamBytes - 2) {
    for (let left = width; left > 0; left -= 255) {
      stream[p++] = Math.min(left, 255);
      stream[p++] = rows % 2;
    }
    stream[p++] = 0; // end of line
    stream[p++] = 0;
    rows++;
  }
  // Pad with end-of-line markers (rows skipped), as long as rows remain; then end of bitmap.
  while (p < streamBytes - 2 && rows < height - 1) {
    stream[p++] = 0;
    stream[p++] = 0;
    rows++;
  }
  if (p !== streamBytes - 2) throw new Error(`cannot fill ${streamBytes} bytes of RLE for ${width}x${height}`);
  stream[p++] = 0;
  stream[p++] = 1;

  const pixelOffset = 14 + 40 + 2 * 4;
  const head = Buffer.alloc(pixelOffset);
  head.write('BM', 0, 'latin1');
  head.writeUInt32LE(pixelOffset + streamBytes, 2);
  head.writeUInt32LE(pixelOffset, 10);
  head.writeUInt32LE(40, 14);
  head.writeInt32LE(width, 18);
  head.writeInt32LE(height, 22);
  head.writeUInt16LE(1, 26);
  head.writeUInt16LE(8, 28);
  head.writeUInt32LE(1, 30); // BI_RLE8
  head.writeUInt32LE(streamBytes, 34);
  head.writeUInt32LE(2, 46); // two palette entries (B, G, R, 0)
  head.set([200, 40, 10, 0, 10, 160, 240, 0], 54);
  return Buffer.concat([head, stream]);
}
