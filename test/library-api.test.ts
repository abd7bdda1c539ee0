// The library API as a service uses it: the README's example run exactly as printed (from the package,
// as `import … from 'mobilenet'`), many overlapping calls on one model, raw pixel inputs, typed errors.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ImageDecodeError,
  InputTooLargeError,
  loadModel,
  ModelFormatError,
  ModelNotFoundError,
  type Classifier,
  type ImageInput,
  type Prediction,
  type RawImage,
} from '../src/index.js';
import { decodeImage } from '../src/image/index.js';
import { createRandomModel } from '../src/model/random-model.js';
import { imagePath, modelPath, REPO_ROOT, requireShared } from './helpers/shared.js';

const run = requireShared();
const scratch = mkdtempSync(join(tmpdir(), 'mobilenet-api-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const PHOTOS = ['grace_hopper.bmp', 'kite_and_cold.jpg', 'owl.jpg', 'parrot.jpg'];

/** The first code block of a README section and the output block after it. */
function readmeExample(heading: string): { code: string; output: string } {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(`\n${heading}\n`));
  const blocks = [...section.matchAll(/\n```(\w*)\n([\s\S]*?)\n```\n/g)];
  const [code, output] = blocks;
  if (!code || !output || code[1] !== 'js' || output[1] !== 'text') throw new Error(`README: no js block followed by a text block under ${heading}`);
  return { code: code[2]!, output: output[2]! };
}

/** A photo's pixels as sharp's `.raw()` gives them (BMP, which this libvips does not read, by our decoder). */
async function rawOf(file: string): Promise<RawImage> {
  if (file.endsWith('.bmp')) return { ...(await decodeImage(file)), channels: 3 };
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

describe.skipIf(!run)('the README example', () => {
  it('runs as printed, from the package, and prints the output the README shows', () => {
    const { code, output } = readmeExample('### As a library');
    // A project that depends on mobilenet (and on sharp, which the example uses itself), with the photos
    // it names and the v2 model already in its models folder; no network.
    const project = join(scratch, 'project');
    mkdirSync(join(project, 'node_modules'), { recursive: true });
    symlinkSync(REPO_ROOT, join(project, 'node_modules', 'mobilenet'));
    symlinkSync(join(REPO_ROOT, 'node_modules', 'sharp'), join(project, 'node_modules', 'sharp'));
    mkdirSync(join(project, 'photos'));
    symlinkSync(imagePath('parrot.jpg'), join(project, 'photos', 'parrot.jpg'));
    symlinkSync(imagePath('owl.jpg'), join(project, 'photos', 'owl.jpg'));
    symlinkSync(imagePath('kite_and_cold.jpg'), join(project, 'photos', 'kite.jpg'));
    writeFileSync(join(project, 'photos', 'notes.txt'), 'shopping: milk, eggs\n');
    const home = join(project, 'models');
    mkdirSync(home);
    symlinkSync(modelPath('mobilenet_v2_1.0_224_quant'), join(home, 'mobilenet_v2_1.0_224_quant.tflite'));
    writeFileSync(join(project, 'example.mjs'), code);

    const env: NodeJS.ProcessEnv = { ...process.env, MOBILENET_HOME: home, MOBILENET_OFFLINE: '1' };
    delete env.MOBILENET_MODELS_URL;
    const result = spawnSync(process.execPath, ['example.mjs'], { cwd: project, env, encoding: 'utf8', timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`${output}\n`);
  }, 60_000);
});

describe.skipIf(!run)('overlapping calls on one model', () => {
  /** Every input form: paths, encoded bytes, named bytes, raw pixels. */
  async function inputsOf(): Promise<ImageInput[]> {
    const inputs: ImageInput[] = [];
    for (const photo of PHOTOS) {
      inputs.push(imagePath(photo), readFileSync(imagePath(photo)), { name: photo, bytes: readFileSync(imagePath(photo)) }, await rawOf(imagePath(photo)));
    }
    return inputs;
  }

  it.each([
    ['native, 2 threads: the shared v2', () => modelPath('mobilenet_v2_1.0_224_quant'), { backend: 'native', threads: 2 }],
    // Small random weights: the TypeScript backend is ~100× slower.
    ['reference: random v1 α=0.25 at 64 px', () => createRandomModel({ arch: 'v1', alpha: 0.25, resolution: 64, seed: 5 }), { backend: 'reference' }],
  ] as const)('200 classify calls at once give the serial answers (%s)', async (_name, model, options) => {
    const classifier: Classifier = await loadModel(model(), options);
    try {
      const inputs = await inputsOf();
      const serial: Prediction[][] = [];
      for (const input of inputs) serial.push(await classifier.classify(input, { topK: 5 }));
      // The four forms of one photo are the same image.
      for (let p = 0; p < PHOTOS.length; p++) expect(serial[4 * p + 1]).toEqual(serial[4 * p]);
      const calls = Array.from({ length: 200 }, (_, i) => classifier.classify(inputs[i % inputs.length]!, { topK: 5 }));
      const concurrent = await Promise.all(calls);
      concurrent.forEach((predictions, i) => expect(predictions, `call ${i}`).toEqual(serial[i % inputs.length]));
      // Embeddings mixed in do not disturb classifications, nor the other way round.
      const embedding = await classifier.embed(inputs[0]!);
      const mixed = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? classifier.embed(inputs[0]!) : classifier.classify(inputs[0]!, { topK: 5 }))));
      mixed.forEach((result, i) => expect(result).toEqual(i % 2 ? embedding : serial[0]));
    } finally {
      classifier.dispose();
    }
  }, 120_000);
});

describe.skipIf(!run)('raw pixels', () => {
  let model: Classifier;
  const classifier = async () => (model ??= await loadModel(modelPath('mobilenet_v1_0.5_160_quant'), { backend: 'native' }));
  afterAll(() => model?.dispose());

  it('sharp\'s raw RGB of a PNG classifies as the PNG does', async () => {
    const png = await sharp(imagePath('kite_and_cold.jpg')).png().toBuffer();
    const m = await classifier();
    const fromPng = await m.classify(png);
    const fromRaw = await m.classify(await rawOf(imagePath('kite_and_cold.jpg')));
    expect(fromRaw.map((p) => p.index)).toEqual(fromPng.map((p) => p.index));
    fromRaw.forEach((p, i) => expect(Math.abs(p.score - fromPng[i]!.score)).toBeLessThan(1e-3));
  });

  it('grey, grey + alpha and RGBA become RGB as decoded files do (alpha on white)', async () => {
    const m = await classifier();
    const width = 90;
    const height = 70;
    const grey = Buffer.alloc(width * height);
    for (let i = 0; i < grey.length; i++) grey[i] = (i * 37) % 251;
    const rgb = Buffer.alloc(width * height * 3);
    for (let i = 0; i < grey.length; i++) rgb.fill(grey[i]!, 3 * i, 3 * i + 3);
    const expected = await m.embed({ data: rgb, width, height, channels: 3 });
    expect(await m.embed({ data: grey, width, height, channels: 1 })).toEqual(expected);
    const opaqueGrey = Buffer.alloc(width * height * 2, 255);
    for (let i = 0; i < grey.length; i++) opaqueGrey[2 * i] = grey[i]!;
    expect(await m.embed({ data: opaqueGrey, width, height, channels: 2 })).toEqual(expected);
    const rgba = Buffer.alloc(width * height * 4);
    for (let i = 0; i < grey.length; i++) rgba.set([grey[i]!, grey[i]!, grey[i]!, 255], 4 * i);
    expect(await m.embed({ data: new Uint8ClampedArray(rgba), width, height, channels: 4 })).toEqual(expected);
    // Transparent pixels are white, half-transparent ones halfway to white; as sharp flattens a PNG.
    for (let i = 0; i < grey.length; i++) rgba[4 * i + 3] = i % 3 === 0 ? 0 : i % 3 === 1 ? 128 : 255;
    const png = await sharp(rgba, { raw: { width, height, channels: 4 } }).png().toBuffer();
    const fromRaw = await m.embed({ data: rgba, width, height, channels: 4 });
    const fromPng = await m.embed(png);
    let diff = 0;
    for (let i = 0; i < fromRaw.length; i++) diff = Math.max(diff, Math.abs(fromRaw[i]! - fromPng[i]!));
    expect(diff).toBeLessThan(0.02 * Math.max(...fromPng));
  });

  it('checks sizes, channels, data and maxPixels before copying anything', async () => {
    const m = await classifier();
    const data = Buffer.alloc(12);
    const cases: [unknown, new (...args: never[]) => Error, RegExp][] = [
      [{ data, width: 0, height: 4, channels: 3 }, RangeError, /raw image width must be a whole number ≥ 1, got 0/],
      [{ data, width: 2, height: 1.5, channels: 3 }, RangeError, /raw image height must be a whole number ≥ 1, got 1.5/],
      [{ data, width: 2, height: 2, channels: 5 }, RangeError, /raw image channels must be 1, 2, 3 or 4, got 5/],
      [{ data: [1, 2, 3], width: 1, height: 1, channels: 3 }, TypeError, /raw image data must be a Buffer/],
      [{ data, width: 2, height: 3, channels: 3 }, ImageDecodeError, /^<pixels>: raw pixels have 12 bytes, 2×3×3 needs 18$/],
      [{ data, width: 1e6, height: 1e6, channels: 3 }, InputTooLargeError, /^<pixels>: image too large \(1000000×1000000 = 1000000000000 pixels, the limit is 100000000; --max-pixels raises it\)$/],
    ];
    for (const [input, type, message] of cases) {
      for (const call of [() => m.classify(input as RawImage), () => m.embed(input as RawImage)]) {
        const error = await call().then(() => undefined, (e: unknown) => e);
        expect(error, JSON.stringify(message.source)).toBeInstanceOf(type);
        expect((error as Error).message).toMatch(message);
      }
    }
    const small = { data: Buffer.alloc(40 * 30 * 3), width: 40, height: 30, channels: 3 as const };
    await expect(m.classify(small, { maxPixels: 1199 })).rejects.toMatchObject({ code: 'INPUT_TOO_LARGE', file: '<pixels>' });
    await expect(m.classify(small, { maxPixels: 1200 })).resolves.toHaveLength(5);
  });
});

describe('typed errors', () => {
  it('an unknown model, a file that is not a model, an image that is not one', async () => {
    await expect(loadModel('v9')).rejects.toBeInstanceOf(ModelNotFoundError);
    await expect(loadModel('v9')).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    const notModel = join(scratch, 'text.tflite');
    writeFileSync(notModel, 'hello, this is text\n'.repeat(10));
    const format = await loadModel(notModel).then(() => undefined, (e: unknown) => e);
    expect(format).toBeInstanceOf(ModelFormatError);
    expect(format).toMatchObject({ code: 'MODEL_FORMAT', file: notModel });
    const spec = createRandomModel({ arch: 'v1', alpha: 0.25, resolution: 32 });
    const model = await loadModel(spec, { backend: 'reference' });
    try {
      const image = await model.classify(Buffer.from('GIF89a, or so it says')).then(() => undefined, (e: unknown) => e);
      expect(image).toBeInstanceOf(ImageDecodeError);
      expect(image).toMatchObject({ code: 'IMAGE_DECODE', file: '<buffer>' });
    } finally {
      model.dispose();
    }
  });
});
