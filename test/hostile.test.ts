// Hostile and careless inputs, each reproduced with the real thing (a FIFO made with mkfifo, device
// files, a reader that goes away, a full device, zip bombs in a model) against `bin/mobilenet` as a
// child process: a clean error naming the file, never a hang, a crash or unbounded memory.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/classifier.js';
import { BIN, runMobilenet, UNBUNDLED_CLI } from './helpers/child.js';
import { buildSyntheticMobilenet } from './helpers/tflite-mobilenet.js';
import { writeSparseRle8 } from './helpers/image-bmp.js';
import { withDeclaredSize } from './helpers/image-png.js';
import { makeZip } from './helpers/tflite-writer.js';
import { modelPath, REPO_ROOT, requireShared } from './helpers/shared.js';

const run = requireShared();
const dir = mkdtempSync(join(tmpdir(), 'mobilenet-hostile-'));
const SMALL_MODEL = () => modelPath('mobilenet_v1_0.25_128_quant');
let photo: string;

beforeAll(async () => {
  photo = join(dir, 'photo.jpg');
  const pixels = Buffer.alloc(96 * 80 * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7919) % 251;
  await sharp(pixels, { raw: { width: 96, height: 80, channels: 3 } }).jpeg().toFile(photo);
});

/** A synthetic model (3 classes) whose appended label archive is replaced by `zip`. */
function modelWithZip(name: string, zip: Uint8Array): string {
  const { bytes } = buildSyntheticMobilenet({ arch: 'v1', alpha: 0.25, resolution: 32, numClasses: 3, metadata: { labels: ['a', 'b', 'c'] } });
  const zipStart = Buffer.from(bytes).lastIndexOf(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
  expect(zipStart).toBeGreaterThan(0);
  const file = join(dir, name);
  writeFileSync(file, Buffer.concat([bytes.subarray(0, zipStart), zip]));
  return file;
}

/** Sets the uncompressed size that a one-entry archive declares (local header and central directory). */
function declareSize(zip: Uint8Array, size: number): Uint8Array {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  view.setUint32(22, size, true);
  const central = Buffer.from(zip).lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  view.setUint32(central + 24, size, true);
  return zip;
}

describe('hostile model files', () => {
  it('a label archive declaring a 2 GB entry is refused before inflating (library and CLI)', async () => {
    const file = modelWithZip('declares-2gb.tflite', declareSize(makeZip([{ name: 'labels.txt', data: Buffer.from('a\nb\nc\n') }], 8), 2 ** 31));
    await expect(loadModel(file)).rejects.toThrow(/labels\.txt declares 2147483648 bytes, more than the 4194304 a label file may have/);
    const result = await runMobilenet(['classify', photo, '--model', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^mobilenet: ${file}: corrupt zip archive: .*declares 2147483648 bytes`));
    expect(result.maxRssMiB).toBeLessThan(300);
  }, 30_000);

  it('a deflate bomb (64 MiB of newlines declared as 6 bytes) stops at the declared size', async () => {
    const zip = declareSize(makeZip([{ name: 'labels.txt', data: Buffer.alloc(64 * 2 ** 20, 10) }], 8), 6);
    const file = modelWithZip('bomb.tflite', zip);
    expect(readFileSync(file).length).toBeLessThan(2 ** 20);
    await expect(loadModel(file)).rejects.toThrow(/corrupt zip archive: entry labels\.txt/);
    const result = await runMobilenet(['classify', photo, '--model', file]);
    expect(result.code).toBe(2);
    expect(result.maxRssMiB).toBeLessThan(300);
  }, 30_000);

  it('a FIFO as --model is refused at once, not waited on', async () => {
    const fifo = join(dir, 'pipe.tflite');
    execFileSync('mkfifo', [fifo]);
    const result = await runMobilenet(['classify', photo, '--model', fifo], { timeoutMs: 15_000 });
    expect(result.signal).toBeNull();
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`mobilenet: ${fifo}: is a named pipe (FIFO), not a regular file\n`);
  }, 30_000);

  it('/dev/zero as --model is refused, not read without end', async () => {
    const result = await runMobilenet(['classify', photo, '--model', '/dev/zero'], { timeoutMs: 15_000 });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('mobilenet: /dev/zero: is a device (character device), not a regular file\n');
  }, 30_000);
});

describe.skipIf(!run)('shell citizenship', () => {
  it('`classify … | head -1`: the reader going away ends the run quietly with status 0', async () => {
    const images = Array.from({ length: 60 }, () => photo);
    const child = spawn(process.execPath, [BIN, 'classify', '--model', SMALL_MODEL(), ...images], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk; });
    // Like head -1: read the first line, then close the pipe.
    child.stdout.once('data', () => child.stdout.destroy());
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
    expect(stderr).toBe('');
    expect(signal).toBeNull();
    expect(code).toBe(0);
  }, 60_000);

  it('stdout on a full device is one line on stderr and status 2', async () => {
    const full = openSync('/dev/full', 'w');
    try {
      const result = await runMobilenet(['classify', '--model', SMALL_MODEL(), photo], { stdoutFd: full });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^mobilenet: cannot write the output: .*ENOSPC.*\n$/);
    } finally {
      closeSync(full);
    }
  }, 30_000);

  it('--json stays one parseable document when some images fail', async () => {
    const result = await runMobilenet(['classify', '--json', '--model', SMALL_MODEL(), photo, join(dir, 'missing.jpg'), '/dev/zero', photo]);
    expect(result.code).toBe(1);
    const parsed = JSON.parse(result.stdout) as ({ file: string; error: string } | { file: string; predictions: unknown[] })[];
    expect(parsed.map((r) => r.file)).toEqual([photo, join(dir, 'missing.jpg'), '/dev/zero', photo]);
    expect(parsed.map((r) => ('error' in r ? 'error' : 'ok'))).toEqual(['ok', 'error', 'error', 'ok']);
    expect(JSON.parse((await runMobilenet(['classify', '--json', '--model', SMALL_MODEL(), join(dir, 'missing.jpg')])).stdout)).toEqual([
      { file: join(dir, 'missing.jpg'), error: `${join(dir, 'missing.jpg')}: no such file` },
    ]);
  }, 30_000);

  // fp32: in int8 (the default) a short run ends before the heap and the allocator reach the level a
  // long one settles at (200 images: 98 MiB, 2,000: 119, as label measures too; nothing accumulates),
  // so int8 is held to fp32's level instead.
  it('memory stays flat with the number of images: 2,000 within 1.2× the peak RSS of 200 (medians of 3 runs, fp32), int8 below that', async () => {
    const peak = async (count: number, precision = 'fp32') => {
      const result = await runMobilenet(['classify', '--json', '--precision', precision, '--model', SMALL_MODEL(), ...Array.from({ length: count }, () => photo)], { timeoutMs: 120_000 });
      expect(result.code, result.stderr).toBe(0);
      expect((JSON.parse(result.stdout) as unknown[]).length).toBe(count);
      return result.maxRssMiB;
    };
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[1]!;
    const small: number[] = [];
    const large: number[] = [];
    // Alternating, so that machine noise hits both sizes alike.
    for (let round = 0; round < 3; round++) {
      small.push(await peak(200));
      large.push(await peak(2000));
    }
    const summary = `peak RSS (MiB): 200 images ${small.map((v) => v.toFixed(0)).join('/')}, 2000 images ${large.map((v) => v.toFixed(0)).join('/')}`;
    console.log(summary);
    expect(median(large), summary).toBeLessThanOrEqual(median(small) * 1.2);
    const int8 = await peak(2000, 'int8');
    expect(int8, `${summary}; int8, 2000 images: ${int8.toFixed(0)}`).toBeLessThanOrEqual(median(large) * 1.1);
  }, 300_000);
});

describe.skipIf(!run)('classify - and --max-pixels', () => {
  it('reads one image from stdin with -', async () => {
    const result = await runMobilenet(['classify', '--json', '--model', SMALL_MODEL(), '-', photo], { input: readFileSync(photo) });
    expect(result.code, result.stderr).toBe(0);
    const parsed = JSON.parse(result.stdout) as { file: string; predictions: { index: number }[] }[];
    expect(parsed.map((r) => r.file)).toEqual(['-', photo]);
    expect(parsed[0]!.predictions).toEqual(parsed[1]!.predictions);
  }, 30_000);

  it('an empty or broken stdin is that input failing (exit 1); - twice is a usage error', async () => {
    const empty = await runMobilenet(['classify', '--model', SMALL_MODEL(), '-'], { input: '' });
    expect(empty.code).toBe(1);
    expect(empty.stderr).toBe('mobilenet: -: input is empty\n');
    const text = await runMobilenet(['classify', '--model', SMALL_MODEL(), '-'], { input: 'hello' });
    expect(text.code).toBe(1);
    expect(text.stderr).toMatch(/^mobilenet: -: not a supported image/);
    const twice = await runMobilenet(['classify', '--model', SMALL_MODEL(), '-', '-'], { input: '' });
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/'-' \(stdin\) may be given only once/);
  }, 30_000);

  it('--max-pixels refuses larger images by their header, naming the size and the limit', async () => {
    const result = await runMobilenet(['classify', '--model', SMALL_MODEL(), '--max-pixels', '7000', photo]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`mobilenet: ${photo}: image too large (96×80 = 7680 pixels, the limit is 7000; --max-pixels raises it)\n`);
    expect((await runMobilenet(['classify', '--model', SMALL_MODEL(), '--max-pixels', '8000', photo])).code).toBe(0);
    expect((await runMobilenet(['classify', '--model', SMALL_MODEL(), '--max-pixels', '0', photo])).code).toBe(2);
  }, 30_000);
});

describe.skipIf(!run)('peak memory of a single-image classify, whatever the input', () => {
  const cases: [string, () => Promise<Buffer> | Buffer, number][] = [
    // Just under the default pixel limit: decoded for real.
    ['an 800 KB RLE8 BMP of 10000×10000 pixels', () => writeSparseRle8(10_000, 10_000, 82 * 9_999 + 2), 0],
    ['a PNG of 10000×10000 pixels', () => sharp({ create: { width: 10_000, height: 10_000, channels: 3, background: '#4080c0' } }).png().toBuffer(), 0],
    // Over it: refused by the header.
    ['a 1 MiB RLE8 BMP declaring 16384×16384', () => writeSparseRle8(16_384, 16_384, 2 ** 20), 1],
    ['a PNG declaring 30000×30000', async () => withDeclaredSize(await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } }).png().toBuffer(), 30_000, 30_000), 1],
  ];
  for (const [what, make, code] of cases) {
    it(`${what}: exit ${code}, peak RSS under 1 GiB`, async () => {
      const file = join(dir, `${what.replace(/\W+/g, '_')}.${what.includes('PNG') ? 'png' : 'bmp'}`);
      writeFileSync(file, await make());
      const result = await runMobilenet(['classify', '--model', SMALL_MODEL(), file], { timeoutMs: 120_000 });
      expect(result.code, result.stderr).toBe(code);
      if (code === 1) expect(result.stderr).toMatch(/image too large .* the limit is 100000000; --max-pixels raises it/);
      expect(result.maxRssMiB).toBeLessThan(1024);
      console.log(`${what}: peak RSS ${result.maxRssMiB.toFixed(0)} MiB`);
    }, 150_000);
  }
});

describe.skipIf(!run)('a failure during inference', () => {
  it('is exit status 3 with the message, and the --json results already computed are still printed whole', async () => {
    // Fault injection: a preloaded module makes the work after every inference from the third on
    // fail, as a bug would (topK reads each inference's output, in either precision).
    const inject = join(dir, 'inject-failure.mjs');
    writeFileSync(inject, `
      import { Classifier } from ${JSON.stringify(join(REPO_ROOT, 'dist', 'classifier.js'))};
      const topK = Classifier.prototype.topK;
      let calls = 0;
      Classifier.prototype.topK = function (...args) {
        if (++calls >= 3) throw new Error('injected failure');
        return topK.apply(this, args);
      };
    `);
    const images = Array.from({ length: 6 }, () => photo);
    const result = await runMobilenet(['classify', '--json', '--model', SMALL_MODEL(), ...images], { nodeOptions: ['--import', inject], script: UNBUNDLED_CLI });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^mobilenet: internal error: injected failure\n/);
    const parsed = JSON.parse(result.stdout) as { file: string; predictions: unknown[] }[];
    // Results are printed in input order up to the first failure: the two inferences that succeeded,
    // or fewer when a later image's inference ran first.
    expect(parsed.length).toBeLessThanOrEqual(2);
    expect(parsed.map((entry) => entry.file)).toEqual(images.slice(0, parsed.length));
    for (const entry of parsed) expect(entry.predictions.length).toBe(5);
  }, 30_000);
});
