import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  centralCropBox,
  decodeImage,
  decodeResized,
  DEFAULT_MAX_PIXELS,
  ImageDecodeError,
  MAX_PIXELS,
  loadImageTensor,
  normalize,
  resizeForModel,
  type DecodeOptions,
  type RgbImage,
} from '../src/image/index.js';
import { pixelsFrom, randomPixels, writeBmp } from './helpers/image-bmp.js';
import { withDeclaredSize, writePng16 } from './helpers/image-png.js';
import { IMAGES_DIR, requireShared } from './helpers/shared.js';

const SHARED_IMAGES = IMAGES_DIR;
// Without ../shared the tests that need it are skipped locally; requireShared() fails them on CI.
const haveShared = requireShared();
const sharedIt = haveShared ? it : it.skip;

const W = 37;
const H = 23;
const SRC = randomPixels(W, H, 1234);

const raw = (data: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4 = 3) =>
  sharp(Buffer.from(data), { raw: { width, height, channels } });

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

function pixel(img: RgbImage, x: number, y: number): number[] {
  const i = (y * img.width + x) * 3;
  return [...img.data.subarray(i, i + 3)];
}

/** Blocks of flat colour (so lossy codecs keep them) in a grid. */
function blocks(width: number, height: number, grid: number[][][]): Uint8Array {
  const rows = grid.length;
  const cols = grid[0]!.length;
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      out.set(grid[Math.floor((y * rows) / height)]![Math.floor((x * cols) / width)]!, (y * width + x) * 3);
    }
  }
  return out;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mobilenet-image-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function saved(name: string, data: Uint8Array | string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, data);
  return path;
}

describe('decodeImage: formats', () => {
  it('PNG: exact pixels, from a path and from a buffer', async () => {
    const png = await raw(SRC, W, H).png().toBuffer();
    const fromPath = await decodeImage(await saved('a.png', png));
    expect([fromPath.width, fromPath.height]).toEqual([W, H]);
    expect(fromPath.data).toBeInstanceOf(Uint8Array);
    expect(same(fromPath.data, SRC)).toBe(true);
    expect(same((await decodeImage(png)).data, SRC)).toBe(true);
  });

  it('lossless WebP and TIFF: exact pixels', async () => {
    for (const [name, buf] of [
      ['a.webp', await raw(SRC, W, H).webp({ lossless: true }).toBuffer()],
      ['a.tif', await raw(SRC, W, H).tiff({ compression: 'lzw' }).toBuffer()],
      ['b.tif', await raw(SRC, W, H).tiff({ compression: 'none' }).toBuffer()],
    ] as const) {
      const img = await decodeImage(buf, name);
      expect([img.width, img.height], name).toEqual([W, H]);
      expect(same(img.data, SRC), name).toBe(true);
    }
  });

  it('GIF with few colours: exact pixels', async () => {
    const src = pixelsFrom(W, H, [[255, 0, 0], [0, 0, 255], [16, 200, 32], [250, 250, 250]], 5);
    const gif = await raw(src, W, H).gif({ dither: 0 }).toBuffer();
    const img = await decodeImage(gif, 'a.gif');
    expect([img.width, img.height]).toEqual([W, H]);
    expect(same(img.data, src)).toBe(true);
  });

  it('JPEG and AVIF (lossy): right size, close pixels', async () => {
    const src = blocks(64, 48, [
      [[200, 30, 30], [30, 200, 30]],
      [[30, 30, 200], [220, 220, 220]],
    ]);
    for (const [name, buf] of [
      ['a.jpg', await raw(src, 64, 48).jpeg({ quality: 95 }).toBuffer()],
      ['a.avif', await raw(src, 64, 48).avif({ quality: 90 }).toBuffer()],
    ] as const) {
      const img = await decodeImage(buf, name);
      expect([img.width, img.height], name).toEqual([64, 48]);
      expect(meanAbsDiff(img.data, src), name).toBeLessThan(4);
    }
  });

  it('animated GIF and WebP: the first frame only', async () => {
    const f1 = blocks(16, 12, [[[255, 0, 0]]]);
    const f2 = blocks(16, 12, [[[0, 0, 255]]]);
    const frames = [raw(f1, 16, 12).png().toBuffer(), raw(f2, 16, 12).png().toBuffer()];
    const [p1, p2] = await Promise.all(frames);
    for (const fmt of ['gif', 'webp'] as const) {
      const anim = await sharp([p1!, p2!], { join: { animated: true } })
        [fmt]()
        .toBuffer();
      expect((await sharp(anim).metadata()).pages, fmt).toBe(2);
      const img = await decodeImage(anim, `anim.${fmt}`);
      expect([img.width, img.height], fmt).toEqual([16, 12]);
      expect(pixel(img, 8, 6)[0], fmt).toBeGreaterThan(200);
      expect(pixel(img, 8, 6)[2], fmt).toBeLessThan(50);
    }
  });

  it('CMYK JPEG becomes RGB', async () => {
    const src = blocks(32, 32, [[[200, 40, 40]]]);
    const cmyk = await raw(src, 32, 32).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    expect((await sharp(cmyk).metadata()).channels).toBe(4);
    const img = await decodeImage(cmyk, 'cmyk.jpg');
    expect(img.data.length).toBe(32 * 32 * 3);
    expect(meanAbsDiff(img.data, src)).toBeLessThan(12);
  });
});

describe('decodeImage: channels and bit depth', () => {
  it('grayscale → three equal channels', async () => {
    const gray = randomPixels(W, H, 99, 1);
    const png = await raw(gray, W, H, 1).toColourspace('b-w').png().toBuffer();
    expect((await sharp(png).metadata()).channels).toBe(1);
    const img = await decodeImage(png, 'gray.png');
    expect(img.data.length).toBe(W * H * 3);
    for (let i = 0; i < W * H; i++) {
      expect([img.data[i * 3], img.data[i * 3 + 1], img.data[i * 3 + 2]]).toEqual([gray[i], gray[i], gray[i]]);
    }
  });

  it('RGBA → flattened on white', async () => {
    const rgba = randomPixels(W, H, 5, 4);
    rgba[3] = 0; // first pixel fully transparent
    rgba[7] = 255; // second opaque
    const png = await raw(rgba, W, H, 4).png().toBuffer();
    const img = await decodeImage(png, 'rgba.png');
    expect(img.data.length).toBe(W * H * 3);
    let worst = 0;
    for (let i = 0; i < W * H; i++) {
      const a = rgba[i * 4 + 3]! / 255;
      for (let c = 0; c < 3; c++) {
        const want = rgba[i * 4 + c]! * a + 255 * (1 - a);
        worst = Math.max(worst, Math.abs(img.data[i * 3 + c]! - want));
      }
    }
    expect(worst).toBeLessThanOrEqual(1);
    expect(pixel(img, 0, 0)).toEqual([255, 255, 255]);
    expect(pixel(img, 1, 0)).toEqual([rgba[4], rgba[5], rgba[6]]);
  });

  it('grayscale + alpha → flattened, three equal channels', async () => {
    const ga = new Uint8Array([0, 255, 100, 0, 100, 128, 200, 255]);
    const img = await decodeImage(await raw(ga, 2, 2, 2).png().toBuffer(), 'ga.png');
    const v = img.data;
    expect([...v.subarray(0, 3)]).toEqual([0, 0, 0]);
    expect([...v.subarray(3, 6)]).toEqual([255, 255, 255]);
    expect(Math.abs(v[6]! - (100 * 128 + 255 * 127) / 255)).toBeLessThanOrEqual(1);
    expect(v[6]).toBe(v[7]);
    expect(v[7]).toBe(v[8]);
    expect([...v.subarray(9, 12)]).toEqual([200, 200, 200]);
  });

  it('16-bit PNG (RGB, gray, RGBA) → 8-bit', async () => {
    const samples = new Uint16Array(W * H * 4);
    const r = randomPixels(W, H, 17, 8);
    for (let i = 0; i < samples.length; i++) samples[i] = r[2 * i]! * 256 + r[2 * i + 1]!;
    for (const channels of [3, 1, 4] as const) {
      const png = writePng16(W, H, channels, samples.subarray(0, W * H * channels));
      const meta = await sharp(png).metadata();
      expect([meta.depth, meta.channels]).toEqual(['ushort', channels]);
      const img = await decodeImage(png, `16bit-${channels}.png`);
      expect(img.data.length).toBe(W * H * 3);
      let worst = 0;
      for (let i = 0; i < W * H; i++) {
        for (let c = 0; c < 3; c++) {
          let want: number;
          if (channels === 1) want = samples[i]! / 257;
          else if (channels === 3) want = samples[i * 3 + c]! / 257;
          else {
            const a = samples[i * 4 + 3]! / 65535;
            want = (samples[i * 4 + c]! / 257) * a + 255 * (1 - a);
          }
          worst = Math.max(worst, Math.abs(img.data[i * 3 + c]! - want));
        }
      }
      expect(worst, `channels ${channels}`).toBeLessThanOrEqual(1.5);
    }
  });
});

describe('decodeImage: EXIF orientation', () => {
  // Stored 32x16: top-left red, top-right green, bottom-left blue, bottom-right white.
  const RED = [255, 0, 0];
  const GREEN = [0, 255, 0];
  const BLUE = [0, 0, 255];
  const WHITE = [255, 255, 255];
  const stored = blocks(32, 16, [
    [RED, GREEN],
    [BLUE, WHITE],
  ]);
  const near = (got: number[], want: number[]) => got.every((v, i) => Math.abs(v - want[i]!) < 24);

  it('orientation 6 (rotate 90° clockwise) is applied: JPEG', async () => {
    const jpg = await raw(stored, 32, 16).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(jpg).metadata()).orientation).toBe(6);
    const img = await decodeImage(jpg, 'rotated.jpg');
    expect([img.width, img.height]).toEqual([16, 32]);
    // Displayed: top-left = stored bottom-left, top-right = stored top-left, etc.
    expect(near(pixel(img, 4, 8), BLUE), String(pixel(img, 4, 8))).toBe(true);
    expect(near(pixel(img, 12, 8), RED), String(pixel(img, 12, 8))).toBe(true);
    expect(near(pixel(img, 4, 24), WHITE), String(pixel(img, 4, 24))).toBe(true);
    expect(near(pixel(img, 12, 24), GREEN), String(pixel(img, 12, 24))).toBe(true);
  });

  it('orientation 6 is applied: TIFF and PNG, pixel-exact', async () => {
    const src = randomPixels(5, 3, 3);
    for (const [name, file] of [
      ['rotated.tif', await raw(src, 5, 3).tiff({ compression: 'lzw' }).withMetadata({ orientation: 6 }).toBuffer()],
      ['rotated.png', await raw(src, 5, 3).png().withMetadata({ orientation: 6 }).toBuffer()],
    ] as const) {
    expect((await sharp(file).metadata()).orientation, name).toBe(6);
    const img = await decodeImage(file, name);
    expect([img.width, img.height]).toEqual([3, 5]);
    // Rotating 90° clockwise: displayed (x, y) = stored (y, H-1-x), with stored H = 3.
    for (let y = 0; y < 5; y++) {
      for (let x = 0; x < 3; x++) {
        const s = ((3 - 1 - x) * 5 + y) * 3;
        expect(pixel(img, x, y), name).toEqual([...src.subarray(s, s + 3)]);
      }
    }
    }
  });
});

describe('decodeImage: errors', () => {
  async function imageError(source: string | Buffer, name?: string | DecodeOptions): Promise<ImageDecodeError> {
    try {
      await decodeImage(source, name);
    } catch (err) {
      expect(err).toBeInstanceOf(ImageDecodeError);
      const e = err as ImageDecodeError;
      expect(e.message).not.toMatch(/vips|\n\s+at /i);
      return e;
    }
    throw new Error('expected an ImageDecodeError');
  }

  it('missing file', async () => {
    const path = join(dir, 'missing.jpg');
    expect((await imageError(path)).message).toBe(`${path}: no such file`);
    expect((await imageError(path, 'missing.jpg')).message).toBe('missing.jpg: no such file');
  });

  it('0-byte file', async () => {
    const path = await saved('empty.jpg', '');
    expect((await imageError(path)).message).toBe(`${path}: file is empty`);
    expect((await imageError(Buffer.alloc(0), 'x.jpg')).message).toBe('x.jpg: image data is empty');
  });

  it('a directory', async () => {
    const path = join(dir, 'folder.jpg');
    await mkdir(path);
    expect((await imageError(path)).message).toBe(`${path}: is a directory, not an image file`);
  });

  it('a text file named .jpg', async () => {
    const path = await saved('owl.jpg', 'this is not a JPEG, just some text\n');
    const e = await imageError(path);
    expect(e.message).toBe(`${path}: not a supported image (unrecognised format)`);
    expect(e.file).toBe(path);
    expect(e.problem).toBe('not a supported image (unrecognised format)');
    expect(e.cause).toBeInstanceOf(Error);
  });

  it('truncated JPEG, PNG and WebP', async () => {
    const src = randomPixels(64, 64, 8);
    for (const [name, buf] of [
      ['cut.jpg', await raw(src, 64, 64).jpeg().toBuffer()],
      ['cut.png', await raw(src, 64, 64).png().toBuffer()],
      ['cut.webp', await raw(src, 64, 64).webp().toBuffer()],
      ['cut.tif', await raw(src, 64, 64).tiff().toBuffer()],
      ['cut.gif', await raw(src, 64, 64).gif().toBuffer()],
    ] as const) {
      const path = await saved(name, buf.subarray(0, Math.floor(buf.length / 2)));
      const e = await imageError(path);
      expect(e.message.startsWith(`${path}: `), e.message).toBe(true);
      expect(e.message, name).toMatch(/: (truncated|corrupt|corrupt or truncated) (JPEG|PNG|WebP|TIFF|GIF) /);
    }
    // Only the first bytes of a JPEG.
    const jpg = await raw(src, 64, 64).jpeg().toBuffer();
    expect((await imageError(jpg.subarray(0, 30), 'head.jpg')).message).toMatch(/^head\.jpg: (truncated|corrupt) JPEG/);
  });

  it('truncated BMP and garbage after BM', async () => {
    const bmp = writeBmp(20, 20, randomPixels(20, 20), { bpp: 24 });
    const cut = await saved('cut.bmp', bmp.subarray(0, 500));
    expect((await imageError(cut)).message).toBe(`${cut}: truncated BMP (pixel data ends at byte ${bmp.length} of 500)`);
    const junk = await saved('junk.bmp', 'BM\x00\x01garbage garbage garbage garbage');
    expect((await imageError(junk)).message).toMatch(new RegExp(`^${junk.replace(/[.\\/]/g, '\\$&')}: `));
  });

  it('huge declared dimensions are refused (over the pixel limit, even the largest one: 2^28)', async () => {
    const png = writePng16(1, 1, 3, new Uint16Array(3));
    expect((await imageError(withDeclaredSize(png, 20000, 20000), 'huge.png')).message).toBe(
      `huge.png: image too large (20000×20000 = 400000000 pixels, the limit is ${DEFAULT_MAX_PIXELS}; --max-pixels raises it)`,
    );
    expect((await imageError(withDeclaredSize(png, 20000, 20000), { name: 'huge.png', maxPixels: MAX_PIXELS })).message).toBe(
      `huge.png: image too large (20000×20000 = 400000000 pixels, the limit is ${2 ** 28})`,
    );
  });

  it('a buffer without a name is called <buffer>', async () => {
    expect((await imageError(Buffer.from('nope'))).message).toBe('<buffer>: not a supported image (unrecognised format)');
  });
});

describe('resizeForModel', () => {
  const img: RgbImage = { width: W, height: H, data: SRC };

  it('gives size×size for up- and down-scaling and both crops', async () => {
    for (const size of [1, 8, 30, 224]) {
      for (const crop of ['none', 'center'] as const) {
        const out = await resizeForModel(img, size, crop);
        expect([out.width, out.height, out.data.length]).toEqual([size, size, size * size * 3]);
      }
    }
  });

  it('the same size is the identity', async () => {
    const sq = randomPixels(31, 31, 4);
    const out = await resizeForModel({ width: 31, height: 31, data: sq }, 31, 'none');
    expect(same(out.data, sq)).toBe(true);
  });

  it('a flat colour stays that colour (any scale, non-square)', async () => {
    const flat = blocks(50, 20, [[[12, 200, 77]]]);
    for (const size of [7, 33, 96]) {
      const out = await resizeForModel({ width: 50, height: 20, data: flat }, size, 'none');
      for (let i = 0; i < out.data.length; i += 3) expect([...out.data.subarray(i, i + 3)]).toEqual([12, 200, 77]);
    }
  });

  it('aspect is not kept: a left/right split stays at the middle column', async () => {
    const split = blocks(100, 20, [[[255, 0, 0], [0, 0, 255]]]);
    const out = await resizeForModel({ width: 100, height: 20, data: split }, 10, 'none');
    for (let y = 0; y < 10; y++) {
      expect(pixel(out, 0, y)).toEqual([255, 0, 0]);
      expect(pixel(out, 3, y)).toEqual([255, 0, 0]);
      expect(pixel(out, 6, y)).toEqual([0, 0, 255]);
      expect(pixel(out, 9, y)).toEqual([0, 0, 255]);
    }
  });

  it('centralCropBox follows TensorFlow central_crop rounding', () => {
    expect(centralCropBox(64, 64)).toEqual({ left: 4, top: 4, width: 56, height: 56 });
    expect(centralCropBox(80, 48)).toEqual({ left: 5, top: 3, width: 70, height: 42 });
    expect(centralCropBox(100, 7)).toEqual({ left: 6, top: 0, width: 88, height: 7 });
    expect(centralCropBox(517, 606)).toEqual({ left: 32, top: 37, width: 453, height: 532 });
    expect(centralCropBox(1, 1)).toEqual({ left: 0, top: 0, width: 1, height: 1 });
  });

  it("'center' keeps exactly the central 87.5 %: a red border disappears", async () => {
    // 80x48: border of 5 columns left/right and 3 rows top/bottom is red, the centre green.
    const data = new Uint8Array(80 * 48 * 3);
    for (let y = 0; y < 48; y++) {
      for (let x = 0; x < 80; x++) {
        const inner = x >= 5 && x < 75 && y >= 3 && y < 45;
        data.set(inner ? [0, 255, 0] : [255, 0, 0], (y * 80 + x) * 3);
      }
    }
    const src = { width: 80, height: 48, data };
    const cropped = await resizeForModel(src, 24, 'center');
    for (let i = 0; i < cropped.data.length; i += 3) expect([...cropped.data.subarray(i, i + 3)]).toEqual([0, 255, 0]);
    const whole = await resizeForModel(src, 24, 'none');
    expect(pixel(whole, 0, 0)[0]).toBeGreaterThan(200);
    expect(pixel(whole, 12, 12)).toEqual([0, 255, 0]);
  });

  it("'center' at the crop's own size is exactly the central sub-image", async () => {
    const data = randomPixels(64, 64, 21);
    const out = await resizeForModel({ width: 64, height: 64, data }, 56, 'center');
    const want = new Uint8Array(56 * 56 * 3);
    for (let y = 0; y < 56; y++) want.set(data.subarray(((y + 4) * 64 + 4) * 3, ((y + 4) * 64 + 60) * 3), y * 56 * 3);
    expect(same(out.data, want)).toBe(true);
  });

  it('rejects bad arguments', async () => {
    await expect(resizeForModel(img, 0, 'none')).rejects.toThrow(RangeError);
    await expect(resizeForModel(img, 2.5, 'none')).rejects.toThrow(RangeError);
    await expect(resizeForModel({ width: 2, height: 2, data: new Uint8Array(5) }, 4, 'none')).rejects.toThrow(/expected 2x2x3/);
  });
});

describe('normalize', () => {
  it('(pixel − mean[c]) / std[c], NHWC', () => {
    const data = new Uint8Array([0, 128, 255, 10, 20, 30]);
    const out = normalize({ width: 2, height: 1, data }, { mean: [0, 128, 127.5], std: [255, 2, 127.5] });
    expect(out).toBeInstanceOf(Float32Array);
    expect(out.length).toBe(6);
    const want = [0, 0, 1, 10 / 255, -54, (30 - 127.5) / 127.5];
    want.forEach((v, i) => expect(out[i]).toBeCloseTo(v, 6));
  });

  it('the common MobileNet ranges', () => {
    const data = new Uint8Array([0, 255, 127]);
    const img = { width: 1, height: 1, data };
    expect([...normalize(img, { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] })]).toEqual([-1, 1, Math.fround(-0.5 / 127.5)]);
    expect([...normalize(img, { mean: [0, 0, 0], std: [1, 1, 1] })]).toEqual([0, 255, 127]);
  });

  it('rejects a zero std', () => {
    expect(() => normalize({ width: 1, height: 1, data: new Uint8Array(3) }, { mean: [0, 0, 0], std: [1, 0, 1] })).toThrow(RangeError);
  });
});

describe('loadImageTensor', () => {
  it('decodes, resizes and normalises; reports the original size', async () => {
    const png = await raw(SRC, W, H).png().toBuffer();
    const path = await saved('t.png', png);
    const norm = { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] } as { mean: [number, number, number]; std: [number, number, number] };
    const { tensor, width, height } = await loadImageTensor(path, { size: 16, normalization: norm });
    expect([width, height]).toEqual([W, H]);
    expect(tensor.length).toBe(16 * 16 * 3);
    expect(Math.min(...tensor)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...tensor)).toBeLessThanOrEqual(1);
    const resized = await resizeForModel({ width: W, height: H, data: SRC }, 16, 'center');
    const viaBuffer = await loadImageTensor(png, { size: 16, crop: 'center', normalization: norm, name: 't.png' });
    expect([...viaBuffer.tensor]).toEqual([...normalize(resized, norm)]);
  });

  it('errors name the file', async () => {
    const norm = { mean: [0, 0, 0], std: [1, 1, 1] } as { mean: [number, number, number]; std: [number, number, number] };
    await expect(loadImageTensor(Buffer.from('x'), { size: 8, normalization: norm, name: 'x.jpg' })).rejects.toThrow(
      'x.jpg: not a supported image (unrecognised format)',
    );
  });
});

describe('decodeResized / loadImageTensor: decode and resize in one pipeline', () => {
  type Crop = 'none' | 'center';
  const NORM = { mean: [0, 0, 0], std: [1, 1, 1] } as { mean: [number, number, number]; std: [number, number, number] };

  /** The two-step result the one pipeline must match: decode at full size, then crop and resize. */
  async function twoStep(source: string | Uint8Array, size: number, crop: Crop): Promise<RgbImage> {
    return resizeForModel(await decodeImage(source), size, crop);
  }

  function maxAbsDiff(a: Uint8Array, b: Uint8Array): number {
    expect(a.length).toBe(b.length);
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
    return m;
  }

  /** A smooth, non-separable colour field: what a photo looks like to a resizer, without noise. */
  function gradient(width: number, height: number): Uint8Array {
    const out = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 3;
        out[i] = Math.round((255 * x) / (width - 1));
        out[i + 1] = Math.round((255 * y) / (height - 1));
        out[i + 2] = Math.round(128 + 100 * Math.sin(x / 97 + y / 131) * Math.cos((x - y) / 211));
      }
    }
    return out;
  }

  let bigJpeg: Buffer;
  let bigPng: Buffer;
  let bigWebp: Buffer;
  beforeAll(async () => {
    const g = gradient(2000, 1500);
    [bigJpeg, bigPng, bigWebp] = await Promise.all([
      raw(g, 2000, 1500).jpeg({ quality: 92 }).toBuffer(),
      raw(g, 2000, 1500).png({ compressionLevel: 1 }).toBuffer(),
      raw(g, 2000, 1500).webp({ quality: 90 }).toBuffer(),
    ]);
  });

  it('a 2000x1500 PNG (no shrink-on-load): decode → resize to within one grey level, both crops', async () => {
    for (const crop of ['none', 'center'] as const) {
      for (const size of [224, 128]) {
        const got = await decodeResized(bigPng, size, crop, 'big.png');
        expect([got.width, got.height, got.image.width, got.image.height]).toEqual([2000, 1500, size, size]);
        expect(got.image.data.length).toBe(size * size * 3);
        const want = await twoStep(bigPng, size, crop);
        // libvips keeps its box pre-shrink unrounded inside one pipeline: at most one level of difference.
        expect(maxAbsDiff(got.image.data, want.data), `${crop} ${size}`).toBeLessThanOrEqual(1);
        expect(meanAbsDiff(got.image.data, want.data), `${crop} ${size}`).toBeLessThan(0.1);
      }
    }
  });

  it('a 2000x1500 JPEG and WebP (shrink-on-load with crop none): within a grey level or two of decode → resize', async () => {
    for (const [name, buf] of [
      ['big.jpg', bigJpeg],
      ['big.webp', bigWebp],
    ] as const) {
      for (const crop of ['none', 'center'] as const) {
        for (const size of [224, 128, 96]) {
          const got = await decodeResized(buf, size, crop, name);
          const want = await twoStep(buf, size, crop);
          const what = `${name} ${crop} ${size}`;
          expect([got.width, got.height], what).toEqual([2000, 1500]);
          expect(got.image.data.length, what).toBe(size * size * 3);
          expect(meanAbsDiff(got.image.data, want.data), what).toBeLessThan(1);
          expect(maxAbsDiff(got.image.data, want.data), what).toBeLessThanOrEqual(crop === 'center' ? 1 : 8);
        }
      }
    }
  });

  it('loadImageTensor gives the normalised one-pipeline pixels and the original size', async () => {
    const path = await saved('big.jpg', bigJpeg);
    const norm = { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] } as typeof NORM;
    for (const crop of ['none', 'center'] as const) {
      const t = await loadImageTensor(path, { size: 160, crop, normalization: norm });
      expect([t.width, t.height]).toEqual([2000, 1500]);
      const { image } = await decodeResized(path, 160, crop);
      expect([...t.tensor]).toEqual([...normalize(image, norm)]);
    }
  });

  it('small, enlarged, grey, RGBA, 16-bit, CMYK, GIF, TIFF, AVIF and BMP inputs: as decode → resize', async () => {
    const rgba = randomPixels(W, H, 5, 4);
    const gray = randomPixels(W, H, 6, 1);
    const smooth = gradient(300, 200);
    const inputs: [string, Uint8Array, number][] = [
      ['small.png', await raw(SRC, W, H).png().toBuffer(), 0],
      ['rgba.png', await raw(rgba, W, H, 4).png().toBuffer(), 0],
      ['gray.png', await raw(gray, W, H, 1).toColourspace('b-w').png().toBuffer(), 0],
      ['16bit.png', writePng16(W, H, 3, new Uint16Array(W * H * 3).map((_, i) => (i * 2654435761) % 65536)), 1],
      ['a.tif', await raw(SRC, W, H).tiff({ compression: 'lzw' }).toBuffer(), 0],
      ['a.gif', await raw(pixelsFrom(W, H, [[255, 0, 0], [0, 0, 255], [250, 250, 250]], 5), W, H).gif({ dither: 0 }).toBuffer(), 0],
      ['cmyk.jpg', await raw(smooth, 300, 200).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer(), 8],
      ['smooth.avif', await raw(smooth, 300, 200).avif({ quality: 80 }).toBuffer(), 0],
      ['smooth.jpg', await raw(smooth, 300, 200).jpeg({ quality: 90 }).toBuffer(), 8],
      ['a.bmp', writeBmp(W, H, SRC, { bpp: 24 }), 0],
    ];
    for (const [name, buf, tolerance] of inputs) {
      for (const crop of ['none', 'center'] as const) {
        for (const size of [16, 64]) {
          const got = await decodeResized(buf, size, crop, name);
          const want = await twoStep(buf, size, crop);
          const what = `${name} ${crop} ${size}`;
          expect(got.image.data.length, what).toBe(size * size * 3);
          expect(maxAbsDiff(got.image.data, want.data), what).toBeLessThanOrEqual(crop === 'center' ? Math.min(tolerance, 1) : tolerance);
          const decoded = await decodeImage(buf);
          expect([got.width, got.height], what).toEqual([decoded.width, decoded.height]);
        }
      }
    }
  });

  it('animated GIF and WebP: the first frame only', async () => {
    const frames = await Promise.all(
      [[255, 0, 0], [0, 0, 255]].map((c) => raw(blocks(40, 30, [[c]]), 40, 30).png().toBuffer()),
    );
    for (const fmt of ['gif', 'webp'] as const) {
      const anim = await sharp(frames, { join: { animated: true } })[fmt]().toBuffer();
      const got = await decodeResized(anim, 8, 'none', `anim.${fmt}`);
      expect([got.width, got.height], fmt).toEqual([40, 30]);
      expect(pixel(got.image, 4, 4)[0], fmt).toBeGreaterThan(200);
      expect(pixel(got.image, 4, 4)[2], fmt).toBeLessThan(50);
    }
  });

  describe('EXIF orientation through the one pipeline', () => {
    // Stored 480x240: top-left red, top-right green, bottom-left blue, bottom-right white.
    const RED = [255, 0, 0];
    const GREEN = [0, 255, 0];
    const BLUE = [0, 0, 255];
    const WHITE = [255, 255, 255];
    const stored = blocks(480, 240, [
      [RED, GREEN],
      [BLUE, WHITE],
    ]);
    // What the displayed quadrants (top-left, top-right, bottom-left, bottom-right) are for each orientation.
    const DISPLAYED: Record<number, number[][]> = {
      1: [RED, GREEN, BLUE, WHITE],
      2: [GREEN, RED, WHITE, BLUE],
      3: [WHITE, BLUE, GREEN, RED],
      4: [BLUE, WHITE, RED, GREEN],
      5: [RED, BLUE, GREEN, WHITE],
      6: [BLUE, RED, WHITE, GREEN],
      7: [WHITE, GREEN, BLUE, RED],
      8: [GREEN, WHITE, RED, BLUE],
    };
    const near = (got: number[], want: number[]) => got.every((v, i) => Math.abs(v - want[i]!) < 24);

    for (const orientation of [1, 2, 3, 4, 5, 6, 7, 8]) {
      it(`JPEG with orientation ${orientation}: oriented size, quadrants and crop as decode → resize`, async () => {
        const jpg = await raw(stored, 480, 240).jpeg({ quality: 95 }).withMetadata({ orientation }).toBuffer();
        expect((await sharp(jpg).metadata()).orientation ?? 1).toBe(orientation);
        const turned = orientation >= 5;
        for (const crop of ['none', 'center'] as const) {
          // 16 px from 480x240 (or 240x480): a shrink of 15 to 30, so JPEG shrink-on-load applies with crop none.
          const got = await decodeResized(jpg, 16, crop, `o${orientation}.jpg`);
          expect([got.width, got.height]).toEqual(turned ? [240, 480] : [480, 240]);
          const [tl, tr, bl, br] = DISPLAYED[orientation]!;
          for (const [x, y, want] of [[3, 3, tl], [12, 3, tr], [3, 12, bl], [12, 12, br]] as [number, number, number[]][]) {
            expect(near(pixel(got.image, x, y), want), `${crop} (${x},${y}) = ${pixel(got.image, x, y)}, want ${want}`).toBe(true);
          }
          const want = await twoStep(jpg, 16, crop);
          expect(meanAbsDiff(got.image.data, want.data), crop).toBeLessThan(2);
        }
      });
    }

    it('PNG of noise, every orientation, both crops, down and up: as decode → resize', async () => {
      const src = randomPixels(301, 187, 42);
      for (const orientation of [1, 2, 3, 4, 5, 6, 7, 8]) {
        const png = await raw(src, 301, 187).png().withMetadata({ orientation }).toBuffer();
        for (const crop of ['none', 'center'] as const) {
          for (const size of [24, 96, 400]) {
            const got = await decodeResized(png, size, crop, 'o.png');
            const want = await twoStep(png, size, crop);
            const what = `orientation ${orientation} ${crop} ${size}`;
            expect([got.width, got.height], what).toEqual(orientation >= 5 ? [187, 301] : [301, 187]);
            // Enlarging orients first (exact); shrinking orients the small result, which on pure noise moves
            // pixels a little (libvips' resampling grid is not mirror-symmetric), on photos a fraction of a level.
            if (size === 24) expect(meanAbsDiff(got.image.data, want.data), what).toBeLessThan(2);
            else expect(maxAbsDiff(got.image.data, want.data), what).toBeLessThanOrEqual(1);
          }
        }
      }
    });

    it("crop 'center' uses the displayed size: a border of the central-crop margins disappears (orientation 6)", async () => {
      // Displayed 200x400 (stored 400x200 turned a quarter): central crop margins 12 px left/right and 25 px top/bottom.
      const box = centralCropBox(200, 400);
      expect(box).toEqual({ left: 12, top: 25, width: 176, height: 350 });
      const shown = new Uint8Array(200 * 400 * 3);
      for (let y = 0; y < 400; y++) {
        for (let x = 0; x < 200; x++) {
          const inner = x >= box.left && x < box.left + box.width && y >= box.top && y < box.top + box.height;
          shown.set(inner ? [0, 200, 0] : [255, 0, 255], (y * 200 + x) * 3);
        }
      }
      // Store it turned back (90° anticlockwise), tagged orientation 6 ("rotate 90° clockwise to display").
      const png = await raw(shown, 200, 400).rotate(-90).png().withMetadata({ orientation: 6 }).toBuffer();
      expect(await sharp(png).metadata()).toMatchObject({ width: 400, height: 200, orientation: 6 });
      const cropped = await decodeResized(png, 24, 'center', 'border.png');
      expect([cropped.width, cropped.height]).toEqual([200, 400]);
      for (let i = 0; i < cropped.image.data.length; i += 3) expect([...cropped.image.data.subarray(i, i + 3)]).toEqual([0, 200, 0]);
      const whole = await decodeResized(png, 24, 'none', 'border.png');
      expect(pixel(whole.image, 0, 0)[0]).toBeGreaterThan(200);
    });
  });

  describe('errors still name the file', () => {
    async function loadError(source: string | Uint8Array, name?: string, crop: Crop = 'none'): Promise<ImageDecodeError> {
      try {
        await loadImageTensor(source, { size: 32, crop, normalization: NORM, name });
      } catch (err) {
        expect(err).toBeInstanceOf(ImageDecodeError);
        const e = err as ImageDecodeError;
        expect(e.message).not.toMatch(/vips|\n\s+at /i);
        return e;
      }
      throw new Error('expected an ImageDecodeError');
    }

    it('missing, empty, directory, not an image', async () => {
      for (const crop of ['none', 'center'] as const) {
        const missing = join(dir, 'nope.jpg');
        expect((await loadError(missing, undefined, crop)).message).toBe(`${missing}: no such file`);
        const empty = await saved('empty2.jpg', '');
        expect((await loadError(empty, undefined, crop)).message).toBe(`${empty}: file is empty`);
        expect((await loadError(new Uint8Array(0), 'x.jpg', crop)).message).toBe('x.jpg: image data is empty');
        const folder = join(dir, `folder-${crop}.png`);
        await mkdir(folder);
        expect((await loadError(folder, undefined, crop)).message).toBe(`${folder}: is a directory, not an image file`);
        const text = await saved('text.jpg', 'not a JPEG\n');
        const e = await loadError(text, undefined, crop);
        expect(e.message).toBe(`${text}: not a supported image (unrecognised format)`);
        expect(e.file).toBe(text);
        expect(e.cause).toBeInstanceOf(Error);
      }
    });

    it('truncated files, as decodeImage reports them', async () => {
      const src = randomPixels(600, 400, 8);
      for (const [name, buf] of [
        ['cut.jpg', await raw(src, 600, 400).jpeg().toBuffer()],
        ['cut.png', await raw(src, 600, 400).png().toBuffer()],
        ['cut.webp', await raw(src, 600, 400).webp().toBuffer()],
        ['cut.tif', await raw(src, 600, 400).tiff().toBuffer()],
        ['cut.bmp', writeBmp(600, 400, src, { bpp: 24 })],
      ] as const) {
        const path = await saved(name, buf.subarray(0, Math.floor(buf.length / 2)));
        let decodeMessage = '';
        await decodeImage(path).catch((err: Error) => (decodeMessage = err.message));
        expect(decodeMessage, name).toMatch(new RegExp(`^${path.replace(/[.\\/]/g, '\\$&')}: `));
        for (const crop of ['none', 'center'] as const) {
          const e = await loadError(path, undefined, crop);
          expect(e.message.startsWith(`${path}: `), e.message).toBe(true);
          expect(e.message, `${name} ${crop}`).toMatch(/: (truncated|corrupt|corrupt or truncated) (JPEG|PNG|WebP|TIFF|BMP)\b/);
        }
      }
    });

    it('huge declared dimensions', async () => {
      const png = withDeclaredSize(writePng16(1, 1, 3, new Uint16Array(3)), 20000, 20000);
      for (const crop of ['none', 'center'] as const) {
        expect((await loadError(png, 'huge.png', crop)).message).toBe(
          `huge.png: image too large (20000×20000 = 400000000 pixels, the limit is ${DEFAULT_MAX_PIXELS}; --max-pixels raises it)`,
        );
      }
    });

    it('bad size or crop: RangeError', async () => {
      const png = await raw(SRC, W, H).png().toBuffer();
      await expect(decodeResized(png, 0, 'none')).rejects.toThrow(RangeError);
      await expect(decodeResized(png, 2.5, 'center')).rejects.toThrow(RangeError);
      await expect(decodeResized(png, 8, 'middle' as Crop)).rejects.toThrow(RangeError);
    });
  });
});

describe('shared test photos', () => {
  sharedIt('the JPEGs decode to their (oriented) sizes', async () => {
    for (const name of ['parrot.jpg', 'owl.jpg', 'kite_and_cold.jpg']) {
      const path = join(SHARED_IMAGES, name);
      const meta = await sharp(path).metadata();
      const swap = (meta.orientation ?? 1) >= 5;
      const img = await decodeImage(path);
      expect([img.width, img.height], name).toEqual(swap ? [meta.height, meta.width] : [meta.width, meta.height]);
      expect(img.data.length).toBe(img.width * img.height * 3);
    }
  });

  sharedIt('grace_hopper.bmp through loadImageTensor at 224, both crops', async () => {
    const norm = { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] } as { mean: [number, number, number]; std: [number, number, number] };
    for (const crop of ['none', 'center'] as const) {
      const t = await loadImageTensor(join(SHARED_IMAGES, 'grace_hopper.bmp'), { size: 224, crop, normalization: norm });
      expect([t.width, t.height]).toEqual([512, 600]);
      expect(t.tensor.length).toBe(224 * 224 * 3);
    }
  });
});
