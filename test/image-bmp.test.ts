import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBmp, decodeImage, DEFAULT_MAX_PIXELS, ImageDecodeError, isBmp, MAX_PIXELS } from '../src/image/index.js';
import { pixelsFrom, pseudoRandom, randomPixels, writeBmp, type WriteBmpOptions } from './helpers/image-bmp.js';
import { imagePath, requireShared } from './helpers/shared.js';

const GRACE = imagePath('grace_hopper.bmp');
// Without ../shared the tests that need it are skipped locally; requireShared() fails them on CI.
const haveShared = requireShared();
const sharedIt = haveShared ? it : it.skip;

function colours(n: number, seed = 7): number[][] {
  const rnd = pseudoRandom(seed);
  const out: number[][] = [];
  const seen = new Set<number>();
  while (out.length < n) {
    const c = [rnd() & 0xff, rnd() & 0xff, rnd() & 0xff];
    const key = (c[0]! << 16) | (c[1]! << 8) | c[2]!;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(c);
  }
  return out;
}

/** Quantise 8-bit values to `bits` and back (the values a 5/6-bit channel can hold exactly). */
function levels(rgb: Uint8Array, bits: [number, number, number]): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) {
    const max = 2 ** bits[i % 3]! - 1;
    out[i] = Math.round((Math.round((rgb[i]! * max) / 255) * 255) / max);
  }
  return out;
}

function expectDecodes(w: number, h: number, rgb: Uint8Array, opts: WriteBmpOptions, expected: Uint8Array = rgb): void {
  const file = writeBmp(w, h, rgb, opts);
  const img = decodeBmp(file, 't.bmp');
  expect(img.width).toBe(w);
  expect(img.height).toBe(h);
  expect(Buffer.from(img.data).equals(Buffer.from(expected))).toBe(true);
}

function bmpError(data: Uint8Array, name = 'bad.bmp', maxPixels?: number): ImageDecodeError {
  try {
    decodeBmp(data, name, { maxPixels });
  } catch (err) {
    expect(err).toBeInstanceOf(ImageDecodeError);
    return err as ImageDecodeError;
  }
  throw new Error('expected an ImageDecodeError');
}

const WIDTHS = [1, 2, 3, 5, 7, 13, 33];

describe('BMP palette images', () => {
  for (const bpp of [1, 2, 4, 8] as const) {
    for (const topDown of [false, true]) {
      it(`${bpp}-bit, ${topDown ? 'top-down' : 'bottom-up'}, widths ${WIDTHS.join('/')}`, () => {
        for (const w of WIDTHS) {
          const rgb = pixelsFrom(w, 5, colours(Math.min(1 << bpp, 200)), w);
          expectDecodes(w, 5, rgb, { bpp, topDown });
        }
      });
    }
  }

  it('a full 2^bpp palette when biClrUsed is 0', () => {
    for (const bpp of [1, 4, 8] as const) {
      const rgb = pixelsFrom(9, 4, colours(Math.min(1 << bpp, 3)), 3);
      expectDecodes(9, 4, rgb, { bpp, colorsUsedZero: true });
    }
  });

  it('OS/2 BITMAPCOREHEADER (3-byte palette entries) at 1, 4, 8 and 24 bits', () => {
    for (const bpp of [1, 4, 8] as const) {
      const rgb = pixelsFrom(11, 3, colours(1 << Math.min(bpp, 5)), bpp);
      expectDecodes(11, 3, rgb, { bpp, header: 'core' });
    }
    expectDecodes(11, 3, randomPixels(11, 3, 5), { bpp: 24, header: 'core' });
  });

  it('V4 and V5 headers with palettes', () => {
    const rgb = pixelsFrom(6, 6, colours(16), 9);
    expectDecodes(6, 6, rgb, { bpp: 4, header: 'v4' });
    expectDecodes(6, 6, rgb, { bpp: 8, header: 'v5', topDown: true });
  });

  it('an index past the palette reads as black', () => {
    const file = writeBmp(2, 1, new Uint8Array([10, 20, 30, 40, 50, 60]), { bpp: 8 });
    // 2 palette entries; make the second pixel point at entry 7.
    const pixelOffset = file.readUInt32LE(10);
    file[pixelOffset + 1] = 7;
    expect([...decodeBmp(file).data]).toEqual([10, 20, 30, 0, 0, 0]);
  });
});

describe('BMP direct colour', () => {
  for (const topDown of [false, true]) {
    it(`24-bit, ${topDown ? 'top-down' : 'bottom-up'}, odd widths (row padding)`, () => {
      for (const w of WIDTHS) expectDecodes(w, 4, randomPixels(w, 4, w + 100), { bpp: 24, topDown });
    });
  }

  it('16-bit 555 (BI_RGB), bottom-up and top-down', () => {
    for (const w of [1, 3, 6]) {
      const rgb = levels(randomPixels(w, 3, w), [5, 5, 5]);
      expectDecodes(w, 3, rgb, { bpp: 16 });
      expectDecodes(w, 3, rgb, { bpp: 16, topDown: true });
    }
  });

  it('16-bit 565 with BI_BITFIELDS after a 40-byte header and inside V3/V5 headers', () => {
    const masks = { r: 0xf800, g: 0x07e0, b: 0x001f };
    for (const w of [1, 3, 6]) {
      const rgb = levels(randomPixels(w, 3, w + 7), [5, 6, 5]);
      expectDecodes(w, 3, rgb, { bpp: 16, compression: 'bitfields', masks });
      expectDecodes(w, 3, rgb, { bpp: 16, compression: 'bitfields', masks, header: 'v3', topDown: true });
      expectDecodes(w, 3, rgb, { bpp: 16, compression: 'bitfields', masks, header: 'v5' });
    }
  });

  it('16-bit ARGB1555 with an alpha mask is flattened on white', () => {
    const masks = { r: 0x7c00, g: 0x03e0, b: 0x001f, a: 0x8000 };
    const rgb = new Uint8Array([255, 0, 0, 0, 0, 255]);
    const alpha = new Uint8Array([255, 0]);
    const img = decodeBmp(writeBmp(2, 1, rgb, { bpp: 16, compression: 'bitfields', masks, header: 'v5', alpha }));
    expect([...img.data]).toEqual([255, 0, 0, 255, 255, 255]);
  });

  it('32-bit BI_RGB ignores the 4th byte', () => {
    for (const w of [1, 2, 5]) {
      const rgb = randomPixels(w, 3, w + 50);
      expectDecodes(w, 3, rgb, { bpp: 32, padByte: 0x5a });
      expectDecodes(w, 3, rgb, { bpp: 32, topDown: true, padByte: 0xff });
    }
  });

  it('32-bit BI_BITFIELDS with other channel orders and 10-bit channels', () => {
    const rgb = randomPixels(5, 4, 77);
    expectDecodes(5, 4, rgb, { bpp: 32, compression: 'bitfields', masks: { r: 0xff, g: 0xff00, b: 0xff0000 } });
    expectDecodes(5, 4, rgb, {
      bpp: 32,
      compression: 'bitfields',
      header: 'v4',
      masks: { r: 0x3ff00000, g: 0x000ffc00, b: 0x000003ff },
    });
  });

  it('32-bit with an alpha mask (V5 BI_BITFIELDS, BI_ALPHABITFIELDS) is flattened on white', () => {
    const w = 4;
    const h = 3;
    const rgb = randomPixels(w, h, 3);
    const alpha = randomPixels(w, h, 4, 1);
    alpha[0] = 0;
    alpha[1] = 255;
    const expected = new Uint8Array(rgb.length);
    for (let i = 0; i < w * h; i++) {
      for (let c = 0; c < 3; c++) {
        const a = alpha[i]! / 255;
        expected[i * 3 + c] = Math.round(rgb[i * 3 + c]! * a + 255 * (1 - a));
      }
    }
    const masks = { r: 0xff0000, g: 0xff00, b: 0xff, a: 0xff000000 };
    expectDecodes(w, h, rgb, { bpp: 32, compression: 'bitfields', header: 'v5', masks, alpha }, expected);
    expectDecodes(w, h, rgb, { bpp: 32, compression: 'alphabitfields', header: 'info', masks, alpha }, expected);
    expectDecodes(w, h, rgb, { bpp: 32, compression: 'rgb', header: 'v5', masks, alpha }, expected);
    expect(expected[0]).toBeGreaterThanOrEqual(254); // fully transparent -> white
  });

  it('an alpha channel that is all zero is ignored (opaque image)', () => {
    const rgb = randomPixels(3, 2, 8);
    const masks = { r: 0xff0000, g: 0xff00, b: 0xff, a: 0xff000000 };
    expectDecodes(3, 2, rgb, { bpp: 32, compression: 'bitfields', header: 'v5', masks, alpha: new Uint8Array(6) });
  });
});

describe('BMP RLE', () => {
  it('RLE8 round trip (encoded and absolute runs)', () => {
    for (const w of [1, 2, 3, 7, 20]) {
      // Runs of equal pixels mixed with noise.
      const pal = colours(40, w);
      const rgb = new Uint8Array(w * 6 * 3);
      const rnd = pseudoRandom(w);
      for (let i = 0; i < w * 6; i++) rgb.set(pal[i % 9 < 5 ? 0 : rnd() % 40]!, i * 3);
      expectDecodes(w, 6, rgb, { bpp: 8, compression: 'rle8' });
    }
  });

  it('RLE4 round trip (odd run lengths)', () => {
    for (const w of [1, 2, 3, 5, 8, 21]) {
      const pal = colours(16, w);
      const rgb = new Uint8Array(w * 5 * 3);
      const rnd = pseudoRandom(w + 3);
      for (let i = 0; i < w * 5; i++) rgb.set(pal[i % 7 < 3 ? 1 : rnd() % 16]!, i * 3);
      expectDecodes(w, 5, rgb, { bpp: 4, compression: 'rle4' });
    }
  });

  function rleFile(bpp: 4 | 8, w: number, h: number, palette: number[][], stream: number[]): Buffer {
    const base = writeBmp(w, h, pixelsFrom(w, h, [palette[0]!]), { bpp, colorsUsedZero: true });
    const offset = base.readUInt32LE(10);
    const out = Buffer.concat([base.subarray(0, offset), Buffer.from(stream)]);
    out.writeUInt32LE(bpp === 8 ? 1 : 2, 30);
    for (let i = 0; i < palette.length; i++) {
      out[54 + i * 4] = palette[i]![2]!;
      out[54 + i * 4 + 1] = palette[i]![1]!;
      out[54 + i * 4 + 2] = palette[i]![0]!;
    }
    return out;
  }

  it('RLE8 delta, end of line and early end of bitmap leave white pixels', () => {
    const black = [0, 0, 0];
    const red = [255, 0, 0];
    // 4x3, bottom row first: [red red W W], then delta (+1, +1) to (3, 2)... see below.
    const stream = [2, 1, 0, 0, /* EOL -> row 1 (middle) */ 0, 2, 1, 1, /* delta to x=1,y=2 */ 1, 1, 0, 1];
    const img = decodeBmp(rleFile(8, 4, 3, [black, red], stream));
    const W = [255, 255, 255];
    const R = red;
    // Top row (y=2): x=1 red; middle row: white; bottom row: x=0,1 red.
    expect([...img.data]).toEqual([...W, ...R, ...W, ...W, ...W, ...W, ...W, ...W, ...R, ...R, ...W, ...W]);
  });

  it('RLE4 encoded runs alternate the two nibbles', () => {
    const a = [1, 2, 3];
    const b = [4, 5, 6];
    const img = decodeBmp(rleFile(4, 5, 1, [a, b], [5, 0x01, 0, 1]));
    expect([...img.data]).toEqual([...a, ...b, ...a, ...b, ...a]);
  });

  it('runs past the row end are clipped, not written into the next row', () => {
    const img = decodeBmp(rleFile(8, 2, 2, [[0, 0, 0], [9, 9, 9]], [255, 1, 0, 0, 0, 1]));
    expect([...img.data]).toEqual([255, 255, 255, 255, 255, 255, 9, 9, 9, 9, 9, 9]);
  });
});

describe('BMP errors', () => {
  const good = writeBmp(7, 5, randomPixels(7, 5, 1), { bpp: 24 });

  it('truncated pixel data names the byte counts', () => {
    const cut = good.subarray(0, good.length - 40);
    const err = bmpError(cut, 'cut.bmp');
    expect(err.message).toBe(`cut.bmp: truncated BMP (pixel data ends at byte ${good.length} of ${cut.length})`);
  });

  it('a missing padding of the last row is tolerated', () => {
    const img = decodeBmp(good.subarray(0, good.length - 3));
    expect(img.width).toBe(7);
  });

  it('truncated headers, masks and palettes', () => {
    for (const n of [2, 10, 17, 20, 40, 53]) {
      expect(bmpError(good.subarray(0, n)).message).toMatch(/^bad\.bmp: truncated BMP/);
    }
    const pal = writeBmp(16, 16, pixelsFrom(16, 16, colours(200)), { bpp: 8 });
    expect(bmpError(pal.subarray(0, 54 + 100)).message).toMatch(/truncated BMP \(palette ends at byte/);
    const bf = writeBmp(4, 4, randomPixels(4, 4), { bpp: 16, compression: 'bitfields', masks: { r: 0xf800, g: 0x7e0, b: 0x1f } });
    expect(bmpError(bf.subarray(0, 60)).message).toMatch(/truncated BMP \(bit masks end at byte 66 of 60\)/);
  });

  it('garbage after BM', () => {
    const rnd = pseudoRandom(42);
    for (let t = 0; t < 200; t++) {
      const junk = Buffer.alloc(2 + (rnd() % 300));
      for (let i = 0; i < junk.length; i++) junk[i] = rnd() & 0xff;
      junk.write('BM', 0, 'latin1');
      expect(bmpError(junk, 'junk.bmp').message).toMatch(/^junk\.bmp: /);
    }
  });

  it('unsupported or invalid fields', () => {
    const withField = (write: (b: Buffer) => void) => {
      const b = Buffer.from(good);
      write(b);
      return bmpError(b).message;
    };
    expect(withField((b) => b.writeUInt32LE(13, 14))).toBe('bad.bmp: not a valid BMP (unsupported header size 13)');
    expect(withField((b) => b.writeUInt16LE(7, 28))).toBe('bad.bmp: unsupported BMP bit depth 7');
    expect(withField((b) => b.writeUInt32LE(4, 30))).toBe('bad.bmp: unsupported BMP compression (embedded JPEG)');
    expect(withField((b) => b.writeUInt32LE(5, 30))).toBe('bad.bmp: unsupported BMP compression (embedded PNG)');
    expect(withField((b) => b.writeUInt32LE(99, 30))).toBe('bad.bmp: unsupported BMP compression (type 99)');
    expect(withField((b) => b.writeUInt32LE(1, 30))).toMatch(/RLE8 with 24 bits per pixel/);
    expect(withField((b) => b.writeInt32LE(0, 18))).toMatch(/dimensions 0x5/);
    expect(withField((b) => b.writeUInt32LE(20, 10))).toMatch(/pixel data offset 20 inside the header/);
    expect(withField((b) => b.writeUInt32LE(1e6, 10))).toMatch(/truncated BMP \(pixel data starts at byte 1000000/);
  });

  it('huge declared dimensions are refused before allocating', () => {
    const b = Buffer.from(good);
    b.writeInt32LE(100000, 18);
    b.writeInt32LE(-100000, 22);
    expect(bmpError(b).message).toBe(
      `bad.bmp: image too large (100000×100000 = 10000000000 pixels, the limit is ${DEFAULT_MAX_PIXELS}; --max-pixels raises it)`,
    );
    expect(bmpError(b, 'bad.bmp', MAX_PIXELS).message).toBe(`bad.bmp: image too large (100000×100000 = 10000000000 pixels, the limit is ${MAX_PIXELS})`);
    b.writeInt32LE(-0x80000000, 22);
    expect(bmpError(b).message).toMatch(/image too large/);
    expect(bmpError(b, 'bad.bmp', MAX_PIXELS).message).toMatch(/image too large/);
    // Under the (raised) limit but the file is tiny: a truncation error, no 700 MB allocation.
    b.writeInt32LE(16000, 18);
    b.writeInt32LE(16000, 22);
    expect(bmpError(b, 'bad.bmp', MAX_PIXELS).message).toMatch(/truncated BMP \(pixel data ends at byte 768000054 of/);
    // RLE data can skip pixels, so the file size does not bound the image: a big one needs enough data.
    const rle = writeBmp(4, 4, pixelsFrom(4, 4, colours(3)), { bpp: 8, compression: 'rle8' });
    rle.writeInt32LE(16000, 18);
    rle.writeInt32LE(16000, 22);
    expect(bmpError(rle, 'bad.bmp', MAX_PIXELS).message).toMatch(/^bad\.bmp: not a valid BMP \(\d+ bytes of RLE data for 16000x16000 pixels\)$/);
    rle.writeInt32LE(2048, 18);
    rle.writeInt32LE(2048, 22); // 4 Mpixels: allowed whatever the data size; the rest is white
    const img = decodeBmp(rle);
    expect([img.width, img.height, img.data[img.data.length - 1]]).toEqual([2048, 2048, 255]);
  });

  it('RLE without an end-of-bitmap marker, and top-down RLE', () => {
    const rle = writeBmp(8, 8, pixelsFrom(8, 8, colours(5)), { bpp: 8, compression: 'rle8' });
    expect(bmpError(rle.subarray(0, rle.length - 12)).message).toMatch(/truncated BMP \(RLE data stops at byte \d+ before the end-of-bitmap marker\)/);
    const td = Buffer.from(rle);
    td.writeInt32LE(-8, 22);
    expect(bmpError(td).message).toBe('bad.bmp: not a valid BMP (RLE compression with top-down rows)');
  });

  it('every truncation and many byte mutations of valid BMPs: decoded or ImageDecodeError, nothing else', () => {
    const files = [
      writeBmp(5, 4, pixelsFrom(5, 4, colours(2)), { bpp: 1 }),
      writeBmp(5, 4, pixelsFrom(5, 4, colours(16)), { bpp: 4, header: 'core' }),
      writeBmp(9, 4, pixelsFrom(9, 4, colours(30)), { bpp: 8, compression: 'rle8' }),
      writeBmp(9, 4, pixelsFrom(9, 4, colours(16)), { bpp: 4, compression: 'rle4' }),
      writeBmp(5, 4, randomPixels(5, 4), { bpp: 16, compression: 'bitfields', masks: { r: 0xf800, g: 0x7e0, b: 0x1f } }),
      writeBmp(5, 4, randomPixels(5, 4), { bpp: 24, topDown: true }),
      writeBmp(5, 4, randomPixels(5, 4), { bpp: 32, header: 'v5', alpha: randomPixels(5, 4, 2, 1) }),
    ];
    const rnd = pseudoRandom(9);
    let decoded = 0;
    let refused = 0;
    const attempt = (b: Uint8Array) => {
      try {
        const img = decodeBmp(b, 'f.bmp');
        if (img.data.length !== img.width * img.height * 3) throw new Error('wrong data length');
        decoded++;
      } catch (err) {
        if (!(err instanceof ImageDecodeError) || !err.message.startsWith('f.bmp: ')) throw err;
        refused++;
      }
    };
    for (const f of files) {
      for (let n = 0; n < f.length; n++) attempt(f.subarray(0, n));
      for (let t = 0; t < 2000; t++) {
        const m = Buffer.from(f);
        const k = 1 + (rnd() % 4);
        for (let j = 0; j < k; j++) m[rnd() % Math.min(m.length, 140)] = rnd() & 0xff;
        attempt(m);
      }
    }
    expect(decoded).toBeGreaterThan(1000);
    expect(refused).toBeGreaterThan(1000);
  }, 60_000);
});

describe('BMP through decodeImage', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mobilenet-bmp-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is recognised by the BM signature, whatever the extension', async () => {
    const rgb = randomPixels(6, 5, 11);
    const asPng = join(dir, 'really-a-bmp.png');
    await writeFile(asPng, writeBmp(6, 5, rgb, { bpp: 24 }));
    expect(Buffer.from((await decodeImage(asPng)).data).equals(Buffer.from(rgb))).toBe(true);

    const png = await sharp(Buffer.from(rgb), { raw: { width: 6, height: 5, channels: 3 } }).png().toBuffer();
    const asBmp = join(dir, 'really-a-png.bmp');
    await writeFile(asBmp, png);
    expect(isBmp(png)).toBe(false);
    expect(Buffer.from((await decodeImage(asBmp)).data).equals(Buffer.from(rgb))).toBe(true);
  });

  it('truncated BMP and garbage after BM are ImageErrors naming the file', async () => {
    const file = writeBmp(30, 20, randomPixels(30, 20), { bpp: 24 });
    const cut = join(dir, 'cut.bmp');
    await writeFile(cut, file.subarray(0, 1000));
    await expect(decodeImage(cut)).rejects.toThrow(ImageDecodeError);
    await expect(decodeImage(cut)).rejects.toThrow(`${cut}: truncated BMP (pixel data ends at byte ${file.length} of 1000)`);

    const junk = join(dir, 'junk.bmp');
    await writeFile(junk, Buffer.from('BM this is not a bitmap at all, just some text'));
    await expect(decodeImage(junk)).rejects.toThrow(ImageDecodeError);
    await expect(decodeImage(junk, 'junk.bmp')).rejects.toThrow(/^junk\.bmp: /);
  });
});

describe('grace_hopper.bmp', () => {
  sharedIt('decodes to 512x600 and agrees with the header and a hand parse', async () => {
    const file = readFileSync(GRACE);
    const img = await decodeImage(GRACE);
    // The file's own header: V5 (124 bytes), 512 x 600, 24-bit, BI_RGB, bottom-up.
    expect(file.readUInt32LE(14)).toBe(124);
    expect(file.readUInt16LE(28)).toBe(24);
    expect([img.width, img.height]).toEqual([file.readInt32LE(18), file.readInt32LE(22)]);
    expect([img.width, img.height]).toEqual([512, 600]);
    // Spot checks: pixel (x, y) is at offset + (height-1-y)*stride + 3x, stored B, G, R.
    const offset = file.readUInt32LE(10);
    const stride = Math.ceil((img.width * 3) / 4) * 4;
    for (const [x, y] of [[0, 0], [511, 0], [0, 599], [511, 599], [256, 300], [100, 450], [377, 123]] as const) {
      const s = offset + (img.height - 1 - y) * stride + 3 * x;
      const d = (y * img.width + x) * 3;
      expect([...img.data.subarray(d, d + 3)], `pixel ${x},${y}`).toEqual([file[s + 2], file[s + 1], file[s]]);
    }
  });

  sharedIt('matches a decoding by an independent Python (standard library) reader', async (ctx) => {
    let python: string | undefined;
    for (const p of ['python3', 'python']) {
      try {
        execFileSync(p, ['-c', 'import struct, hashlib'], { stdio: 'ignore' });
        python = p;
        break;
      } catch {
        /* try the next one */
      }
    }
    if (!python) {
      if (process.env.CI) throw new Error('python3 is needed on CI for this cross-check');
      ctx.skip();
      return;
    }
    const script = [
      'import struct, sys, hashlib, json',
      'b = open(sys.argv[1], "rb").read()',
      'off, = struct.unpack_from("<I", b, 10)',
      'w, h, planes, bpp, comp = struct.unpack_from("<iiHHI", b, 18)',
      'assert bpp == 24 and comp == 0',
      'stride = (w * 3 + 3) // 4 * 4',
      'rows = range(h - 1, -1, -1) if h > 0 else range(-h)',
      'out = bytearray()',
      'for r in rows:',
      '    row = b[off + r * stride: off + r * stride + w * 3]',
      '    px = bytearray(row)',
      '    px[0::3], px[2::3] = row[2::3], row[0::3]',
      '    out += px',
      'print(json.dumps({"w": w, "h": abs(h), "sha256": hashlib.sha256(out).hexdigest()}))',
    ].join('\n');
    const ref = JSON.parse(execFileSync(python, ['-c', script, GRACE], { encoding: 'utf8' })) as {
      w: number;
      h: number;
      sha256: string;
    };
    const img = await decodeImage(GRACE);
    expect([img.width, img.height]).toEqual([ref.w, ref.h]);
    expect(createHash('sha256').update(img.data).digest('hex')).toBe(ref.sha256);
  });
});
