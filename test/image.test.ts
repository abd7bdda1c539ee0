import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  centralCropBox,
  decodeImage,
  ImageError,
  loadImageTensor,
  normalize,
  resizeForModel,
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
  async function imageError(source: string | Buffer, name?: string): Promise<ImageError> {
    try {
      await decodeImage(source, name);
    } catch (err) {
      expect(err).toBeInstanceOf(ImageError);
      const e = err as ImageError;
      expect(e.message).not.toMatch(/vips|\n\s+at /i);
      return e;
    }
    throw new Error('expected an ImageError');
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

  it('huge declared dimensions are refused (more than 2^28 pixels)', async () => {
    const png = writePng16(1, 1, 3, new Uint16Array(3));
    expect((await imageError(withDeclaredSize(png, 20000, 20000), 'huge.png')).message).toBe(
      `huge.png: image too large (more than ${2 ** 28} pixels)`,
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
