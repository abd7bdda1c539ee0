// Hardening of the image input: only regular files (FIFOs, devices, sockets, directories refused without
// reading), a byte cap, stdin through readImageStream, a pixel limit checked from the header, and a decode
// budget in pixels shared by concurrent decodes. Reproduces each finding with the real thing.
import { execFileSync, spawn } from 'node:child_process';
import { constants, closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeBmp,
  decodeBudget,
  decodeImage,
  decodeResized,
  DECODE_BUDGET_PIXELS,
  DEFAULT_MAX_PIXELS,
  ImageDecodeError,
  loadImageTensor,
  MAX_FILE_BYTES,
  MAX_PIXELS,
  PixelBudget,
  readImageStream,
} from '../src/image/index.js';
import { withEventLoopTurns } from './helpers/event-loop.js';
import { randomPixels, writeBmp, writeSparseRle8 } from './helpers/image-bmp.js';
import { withDeclaredSize, writePng16 } from './helpers/image-png.js';

const NORM = { mean: [0, 0, 0], std: [1, 1, 1] } as { mean: [number, number, number]; std: [number, number, number] };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mobilenet-image-limits-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The ImageDecodeError `work` rejects with, within `ms` (a hang fails the test instead of stalling the run). */
async function imageErrorWithin(work: () => Promise<unknown>, ms = 5000): Promise<ImageDecodeError> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([work(), timeout]);
  } catch (err) {
    if (!(err instanceof ImageDecodeError)) throw err;
    expect(err.message).not.toMatch(/vips|\n\s+at /i);
    return err;
  } finally {
    clearTimeout(timer);
  }
  throw new Error('expected an ImageDecodeError');
}

/** Every entry point that reads a path: decodeImage, decodeResized (both crops) and loadImageTensor. */
const readers: [string, (path: string) => Promise<unknown>][] = [
  ['decodeImage', (p) => decodeImage(p)],
  ['decodeResized none', (p) => decodeResized(p, 32, 'none')],
  ['decodeResized center', (p) => decodeResized(p, 32, 'center')],
  ['loadImageTensor', (p) => loadImageTensor(p, { size: 32, normalization: NORM })],
];

const rawPng = (w: number, h: number, seed = 1) =>
  sharp(Buffer.from(randomPixels(w, h, seed)), { raw: { width: w, height: h, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();

describe('only regular files are read', () => {
  it('a FIFO (mkfifo) is refused at once, not waited on', async () => {
    const fifo = join(dir, 'x.jpg');
    execFileSync('mkfifo', [fifo]);
    try {
      for (const [what, read] of readers) {
        const started = performance.now();
        const e = await imageErrorWithin(() => read(fifo));
        expect(e.message, what).toBe(`${fifo}: is a named pipe (FIFO), not a regular file`);
        expect(performance.now() - started, what).toBeLessThan(2000);
      }
    } finally {
      // Should a reader be stuck opening it (the bug), give it a writer so that the test run can end.
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        /* ENXIO: nobody is reading it, as it should be */
      }
    }
  });

  it('/dev/zero and /dev/null are devices, refused without reading', async () => {
    for (const dev of ['/dev/zero', '/dev/null']) {
      for (const [what, read] of readers) {
        const before = process.memoryUsage().rss;
        const e = await imageErrorWithin(() => read(dev));
        expect(e.message, `${dev} ${what}`).toBe(`${dev}: is a device (character device), not a regular file`);
        expect(e.file).toBe(dev);
        expect(process.memoryUsage().rss - before).toBeLessThan(64 * 2 ** 20);
      }
    }
  });

  it('a directory named x.jpg', async () => {
    const folder = join(dir, 'folder', 'x.jpg');
    await mkdir(folder, { recursive: true });
    for (const [what, read] of readers) {
      expect((await imageErrorWithin(() => read(folder))).message, what).toBe(`${folder}: is a directory, not an image file`);
    }
  });

  it('a Unix socket', async () => {
    const path = join(dir, 'sock.png');
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      for (const [what, read] of readers) {
        expect((await imageErrorWithin(() => read(path))).message, what).toBe(`${path}: is a socket, not a regular file`);
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a missing file and a path through a file', async () => {
    const missing = join(dir, 'missing.png');
    expect((await imageErrorWithin(() => decodeImage(missing))).message).toBe(`${missing}: no such file`);
    const file = join(dir, 'plain.txt');
    await writeFile(file, 'x');
    expect((await imageErrorWithin(() => decodeImage(join(file, 'a.png')))).message).toMatch(/: cannot read file \(ENOTDIR\)$/);
  });

  it(`a file over MAX_FILE_BYTES (${MAX_FILE_BYTES}) is refused from its size, before reading`, async () => {
    expect(MAX_FILE_BYTES).toBe(256 * 2 ** 20);
    const big = join(dir, 'sparse.jpg');
    await writeFile(big, Buffer.from([0xff, 0xd8, 0xff]));
    await truncate(big, MAX_FILE_BYTES + 1); // sparse: no disk used
    for (const [what, read] of readers) {
      const before = process.memoryUsage().rss;
      const started = performance.now();
      const e = await imageErrorWithin(() => read(big));
      expect(e.message, what).toBe(`${big}: file too large (${MAX_FILE_BYTES + 1} bytes, the limit is ${MAX_FILE_BYTES} bytes)`);
      expect(performance.now() - started).toBeLessThan(1000);
      expect(process.memoryUsage().rss - before).toBeLessThan(64 * 2 ** 20);
    }
  });

  it('a file read through its descriptor gives exactly its bytes', async () => {
    const file = join(dir, 'ok.png');
    const bytes = await rawPng(37, 23);
    await writeFile(file, bytes);
    const fromPath = await decodeImage(file);
    const fromBytes = await decodeImage(bytes);
    expect([fromPath.width, fromPath.height]).toEqual([37, 23]);
    expect(Buffer.from(fromPath.data).equals(Buffer.from(fromBytes.data))).toBe(true);
  });
});

describe('readImageStream (stdin)', () => {
  it('concatenates the chunks of a binary stream; the bytes decode like the file', async () => {
    const png = await rawPng(31, 17);
    const chunks = [png.subarray(0, 10), png.subarray(10, 500), png.subarray(500)];
    const bytes = await readImageStream(Readable.from(chunks));
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(bytes).equals(png)).toBe(true);
    const t = await loadImageTensor(bytes, { size: 8, normalization: NORM, name: '<stdin>' });
    expect([t.width, t.height]).toEqual([31, 17]);
  });

  it('reads a real pipe (a child process writing an image to it)', async () => {
    const png = await rawPng(64, 48);
    const file = join(dir, 'piped.png');
    await writeFile(file, png);
    const child = spawn('cat', [file], { stdio: ['ignore', 'pipe', 'inherit'] });
    const bytes = await readImageStream(child.stdout);
    expect(Buffer.from(bytes).equals(png)).toBe(true);
  });

  it('empty input, and the name in messages (default <stdin>)', async () => {
    expect((await imageErrorWithin(() => readImageStream(Readable.from([])))).message).toBe('<stdin>: input is empty');
    expect((await imageErrorWithin(() => readImageStream(Readable.from([Buffer.alloc(0)]), 'in'))).message).toBe('in: input is empty');
  });

  it('stops reading at the byte cap', async () => {
    const chunk = Buffer.alloc(2 ** 20, 7); // the same 1 MiB chunk again and again: no memory used by the test
    let produced = 0;
    function* endless() {
      for (;;) {
        produced++;
        yield chunk;
      }
    }
    const stream = Readable.from(endless());
    const e = await imageErrorWithin(() => readImageStream(stream));
    expect(e.message).toBe(`<stdin>: input too large (more than the limit of ${MAX_FILE_BYTES} bytes)`);
    expect(produced).toBeLessThanOrEqual(MAX_FILE_BYTES / chunk.length + 20); // a few read ahead, no more
    expect(stream.destroyed).toBe(true);
  });

  it('a stream error is an ImageDecodeError; a text stream a TypeError', async () => {
    const failing = new Readable({
      read() {
        this.destroy(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }));
      },
    });
    const e = await imageErrorWithin(() => readImageStream(failing, '<stdin>'));
    expect(e.message).toBe('<stdin>: cannot read input (EIO)');
    const text = Readable.from(['not', 'bytes']);
    await expect(readImageStream(text)).rejects.toThrow(TypeError);
  });
});

describe('the pixel limit (maxPixels)', () => {
  it(`DEFAULT_MAX_PIXELS is 100 million; MAX_PIXELS (2^28) is the ceiling of the option`, async () => {
    expect(DEFAULT_MAX_PIXELS).toBe(100_000_000);
    expect(MAX_PIXELS).toBe(2 ** 28);
    const png = await rawPng(4, 4);
    for (const bad of [0, -1, 1.5, Number.NaN, MAX_PIXELS + 1, Infinity]) {
      await expect(decodeImage(png, { maxPixels: bad }), String(bad)).rejects.toThrow(RangeError);
      await expect(decodeResized(png, 8, 'none', { maxPixels: bad }), String(bad)).rejects.toThrow(RangeError);
      await expect(loadImageTensor(png, { size: 8, normalization: NORM, maxPixels: bad }), String(bad)).rejects.toThrow(RangeError);
      expect(() => decodeBmp(writeBmp(2, 2, randomPixels(2, 2), { bpp: 24 }), 'a.bmp', { maxPixels: bad }), String(bad)).toThrow(RangeError);
    }
  });

  it('an image just over the limit is refused, one at the limit decoded: PNG, JPEG, BMP, every entry point', async () => {
    const W = 300;
    const H = 200;
    const rgb = randomPixels(W, H, 9);
    const files: [string, Uint8Array][] = [
      ['a.png', await rawPng(W, H, 9)],
      ['a.jpg', await sharp(Buffer.from(rgb), { raw: { width: W, height: H, channels: 3 } }).jpeg().toBuffer()],
      ['a.bmp', writeBmp(W, H, rgb, { bpp: 24 })],
    ];
    for (const [name, bytes] of files) {
      const path = join(dir, name);
      await writeFile(path, bytes);
      const calls: [string, (maxPixels: number) => Promise<unknown>][] = [
        ['decodeImage', (maxPixels) => decodeImage(path, { maxPixels })],
        ['decodeResized none', (maxPixels) => decodeResized(path, 100, 'none', { maxPixels })],
        ['decodeResized center', (maxPixels) => decodeResized(bytes, 100, 'center', { name: path, maxPixels })],
        ['decodeResized enlarging', (maxPixels) => decodeResized(path, 400, 'none', { maxPixels })],
        ['loadImageTensor', (maxPixels) => loadImageTensor(path, { size: 100, normalization: NORM, maxPixels })],
      ];
      for (const [what, call] of calls) {
        const e = await imageErrorWithin(() => call(W * H - 1));
        expect(e.message, `${name} ${what}`).toBe(`${path}: image too large (300×200 = 60000 pixels, the limit is 59999; --max-pixels raises it)`);
        await expect(call(W * H), `${name} ${what}`).resolves.toBeDefined();
      }
    }
    expect(() => decodeBmp(files[2]![1], 'a.bmp', { maxPixels: 59_999 })).toThrow(
      'a.bmp: image too large (300×200 = 60000 pixels, the limit is 59999; --max-pixels raises it)',
    );
  });

  it('the default refuses 100 000 001 pixels; maxPixels raises it (then the missing data is the problem)', async () => {
    const png = withDeclaredSize(writePng16(1, 1, 3, new Uint16Array(3)), 10_001, 10_000);
    const e = await imageErrorWithin(() => decodeResized(png, 224, 'none', 'big.png'));
    expect(e.message).toBe('big.png: image too large (10001×10000 = 100010000 pixels, the limit is 100000000; --max-pixels raises it)');
    for (const call of [
      () => decodeResized(png, 224, 'none', { name: 'big.png', maxPixels: MAX_PIXELS }),
      () => decodeImage(png, { name: 'big.png', maxPixels: 200_000_000 }),
    ]) {
      const raised = await imageErrorWithin(call);
      expect(raised.message).toMatch(/^big\.png: (truncated|corrupt)/);
      expect(raised.message).not.toMatch(/too large/);
    }
  });
});

describe('the 16384×16384 RLE8 BMP of 1 MiB', () => {
  it('is refused from its header: no allocation, no blocking, even four at once', async () => {
    const bmp = writeSparseRle8(16384, 16384, 2 ** 20);
    expect(bmp.length).toBeLessThan(1.1e6);
    // A real, valid file: a small canvas with the same stream decodes (rows past the end are skipped).
    const small = Buffer.from(bmp);
    small.writeInt32LE(1024, 22);
    const img = decodeBmp(small, 'small.bmp', { maxPixels: MAX_PIXELS });
    expect([img.width, img.height, ...img.data.subarray(0, 3)]).toEqual([16384, 1024, 240, 160, 10]);

    const paths = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const p = join(dir, `huge-${i}.bmp`);
        await writeFile(p, bmp);
        return p;
      }),
    );
    const want = (p: string) => `${p}: image too large (16384×16384 = 268435456 pixels, the limit is ${DEFAULT_MAX_PIXELS}; --max-pixels raises it)`;
    global.gc?.();
    const before = process.memoryUsage();
    const started = performance.now();
    // As the CLI does: four decoded ahead.
    const errors = await Promise.all(paths.map((p) => imageErrorWithin(() => loadImageTensor(p, { size: 224, normalization: NORM }))));
    const elapsed = performance.now() - started;
    const after = process.memoryUsage();
    errors.forEach((e, i) => expect(e.message).toBe(want(paths[i]!)));
    expect(() => decodeBmp(bmp, paths[0]!)).toThrow(want(paths[0]!));
    await expect(decodeImage(paths[0]!)).rejects.toThrow(want(paths[0]!));
    expect(elapsed).toBeLessThan(1000);
    expect(after.rss - before.rss).toBeLessThan(100 * 2 ** 20);
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(50 * 2 ** 20);
  });
});

describe('large BMPs do not block the event loop', () => {
  it('decodeImage and decodeResized let other work run while a 4096×4096 RLE8 BMP decodes', async () => {
    const bmp = writeSparseRle8(4096, 4096, 2 ** 17);
    for (const decode of [() => decodeImage(bmp, 'big.bmp'), () => decodeResized(bmp, 224, 'none', 'big.bmp')]) {
      const { result, turns } = await withEventLoopTurns<unknown>(decode);
      expect(result).toBeDefined();
      expect(turns).toBeGreaterThan(4);
    }
    const viaAsync = await decodeImage(bmp, 'big.bmp');
    expect(Buffer.from(viaAsync.data).equals(Buffer.from(decodeBmp(bmp, 'big.bmp').data))).toBe(true);
  });
});

describe('PixelBudget', () => {
  it('grants in order while the pixels fit, and waits otherwise', async () => {
    const budget = new PixelBudget(10);
    const order: string[] = [];
    const take = (name: string, pixels: number) =>
      budget.acquire(pixels).then((release) => {
        order.push(name);
        return release;
      });
    const a = take('a', 6);
    const b = take('b', 6);
    const c = take('c', 1); // would fit beside a, but waits behind b: no starving a large request
    const releaseA = await a;
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['a']);
    expect(budget.stats()).toMatchObject({ inFlightPixels: 6, inFlightCount: 1, waiting: 2 });
    releaseA();
    releaseA(); // twice: no effect
    const releaseB = await b;
    const releaseC = await c;
    expect(order).toEqual(['a', 'b', 'c']);
    expect(budget.stats()).toMatchObject({ inFlightPixels: 7, inFlightCount: 2, waiting: 0, peakPixels: 7, peakCount: 2 });
    releaseB();
    releaseC();
    expect(budget.stats()).toMatchObject({ inFlightPixels: 0, inFlightCount: 0 });
  });

  it('one request larger than the capacity runs alone', async () => {
    const budget = new PixelBudget(10);
    const releaseBig = await budget.acquire(25);
    let small = false;
    const pending = budget.acquire(1).then((r) => {
      small = true;
      return r;
    });
    await new Promise((r) => setImmediate(r));
    expect(small).toBe(false);
    releaseBig();
    (await pending)();
    expect(small).toBe(true);
    expect(budget.stats()).toMatchObject({ peakPixels: 25, peakCount: 1 });
  });

  it('run() gives the pixels back when the work fails; a larger capacity lets waiters in', async () => {
    const budget = new PixelBudget(10);
    await expect(budget.run(8, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(budget.stats().inFlightPixels).toBe(0);
    const release = await budget.acquire(8);
    let second = false;
    const pending = budget.acquire(8).then((r) => ((second = true), r));
    await new Promise((r) => setImmediate(r));
    expect(second).toBe(false);
    budget.capacity = 16;
    (await pending)();
    release();
    expect(second).toBe(true);
    expect(() => new PixelBudget(0)).toThrow(RangeError);
    expect(() => (budget.capacity = 1.5)).toThrow(RangeError);
  });
});

describe('the shared decode budget', () => {
  const capacity = decodeBudget.capacity;
  afterEach(() => {
    decodeBudget.capacity = capacity;
  });

  it(`defaults to ${DECODE_BUDGET_PIXELS} pixels`, () => {
    expect(DECODE_BUDGET_PIXELS).toBe(2 ** 27);
    expect(capacity).toBe(DECODE_BUDGET_PIXELS);
  });

  it('two large images are not decoded at once (decodeResized, decodeImage, BMP)', async () => {
    decodeBudget.capacity = 4_000_000;
    const W = 1800;
    const H = 1500; // 2.7 M pixels: two do not fit in 4 M
    const pngs = await Promise.all([rawPng(W, H, 1), rawPng(W, H, 2)]);
    const bmps = [0, 1].map(() => writeSparseRle8(W, H, 2 ** 14));
    for (const [what, run] of [
      ['decodeResized', () => Promise.all(pngs.map((p) => decodeResized(p, 224, 'none')))],
      ['decodeResized center', () => Promise.all(pngs.map((p) => decodeResized(p, 224, 'center')))],
      ['decodeImage', () => Promise.all(pngs.map((p) => decodeImage(p)))],
      ['BMP', () => Promise.all(bmps.map((b) => decodeResized(b, 224, 'none')))],
    ] as const) {
      decodeBudget.resetPeak();
      await run();
      expect(decodeBudget.stats(), what).toMatchObject({ peakCount: 1, peakPixels: W * H, inFlightPixels: 0, waiting: 0 });
    }
  });

  it('small images are decoded concurrently', async () => {
    decodeBudget.capacity = 4_000_000;
    const pngs = await Promise.all([1, 2, 3, 4, 5, 6].map((seed) => rawPng(300, 200, seed)));
    decodeBudget.resetPeak();
    await Promise.all(pngs.map((p) => decodeResized(p, 96, 'none')));
    const stats = decodeBudget.stats();
    expect(stats.peakCount).toBeGreaterThanOrEqual(2);
    expect(stats.peakPixels).toBeLessThanOrEqual(6 * 300 * 200);
    expect(stats.inFlightCount).toBe(0);
  });

  it('JPEG and WebP shrinking on load are charged their reduced size; crops and other formats full size', async () => {
    const W = 2000;
    const H = 1500;
    const raw = sharp({ create: { width: W, height: H, channels: 3, background: { r: 48, g: 112, b: 160 } } });
    const jpg = await raw.clone().jpeg({ quality: 80 }).toBuffer();
    const webp = await raw.clone().webp({ quality: 80 }).toBuffer();
    const charged = async (run: () => Promise<unknown>) => {
      decodeBudget.resetPeak();
      await run();
      return decodeBudget.stats().peakPixels;
    };
    // 224 from a 1500-pixel side: a shrink of 6.7, so libjpeg scales by 1/4 → 500×375.
    expect(await charged(() => decodeResized(jpg, 224, 'none'))).toBe(500 * 375);
    // 128: a shrink of 11.7 → 1/8 → 250×188.
    expect(await charged(() => decodeResized(jpg, 128, 'none'))).toBe(250 * 188);
    const webpPixels = await charged(() => decodeResized(webp, 224, 'none'));
    expect(webpPixels).toBeGreaterThanOrEqual(224 * 224);
    expect(webpPixels).toBeLessThan(W * H / 40);
    expect(await charged(() => decodeResized(jpg, 224, 'center'))).toBe(W * H);
    expect(await charged(() => decodeImage(jpg))).toBe(W * H);
    const png = await rawPng(W, H);
    expect(await charged(() => decodeResized(png, 224, 'none'))).toBe(W * H);
  });

  it('a failed decode gives its pixels back', async () => {
    const png = await rawPng(600, 400);
    const cut = png.subarray(0, png.length >> 1);
    await expect(decodeResized(cut, 64, 'none', 'cut.png')).rejects.toThrow(ImageDecodeError);
    await expect(decodeImage(cut, 'cut.png')).rejects.toThrow(ImageDecodeError);
    expect(decodeBudget.stats()).toMatchObject({ inFlightPixels: 0, inFlightCount: 0, waiting: 0 });
  });
});
