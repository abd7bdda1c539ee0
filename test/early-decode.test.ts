// Cold start of `classify`: the first image decodes while the model loads (src/image/early.ts,
// src/cli/early-start.ts), the input size read from the model file's header. What a run prints must
// not depend on it: the early pixels are the pipeline's own, a decode started for another size is
// redone, a bad first image fails as it would have, and an unusual model loads as it always did.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../src/classifier.js';
import { loadModelDecodingFirst } from '../src/cli/early-start.js';
import { EarlyDecode } from '../src/image/early.js';
import { loadImagePixels } from '../src/image/index.js';
import { DEFAULT_MAX_PIXELS } from '../src/image/limits.js';
import { parseTflite, readInputSize } from '../src/tflite/index.js';
import { runMobilenet } from './helpers/child.js';
import { buildSyntheticMobilenet } from './helpers/tflite-mobilenet.js';
import { imagePath, modelPath, requireShared, SHARED_MODELS } from './helpers/shared.js';

const runShared = requireShared();
const V2 = 'mobilenet_v2_1.0_224_quant';
const OPTIONS = { crop: 'none', maxPixels: DEFAULT_MAX_PIXELS, resize: 'default' } as const;

describe('readInputSize: the input size from the header alone', () => {
  it.runIf(runShared).each(SHARED_MODELS)('%s: the resolution the full reader finds', (name) => {
    const bytes = new Uint8Array(readFileSync(modelPath(name)));
    expect(readInputSize(bytes, name)).toBe(parseTflite(bytes, name).resolution);
  });

  it('a synthetic model of another size', () => {
    const { bytes } = buildSyntheticMobilenet({ arch: 'v1', alpha: 0.25, resolution: 96 });
    expect(readInputSize(bytes, 'synthetic')).toBe(96);
  });

  it('nothing (and no throw) for what is not plainly a model input', () => {
    const { bytes } = buildSyntheticMobilenet({ arch: 'v1', alpha: 0.25, resolution: 96 });
    expect(readInputSize(new Uint8Array(0), 'empty')).toBeUndefined();
    expect(readInputSize(new TextEncoder().encode('not a model at all, just some text'), 'text')).toBeUndefined();
    expect(readInputSize(bytes.subarray(0, 64), 'truncated')).toBeUndefined();
    const nonSquare = buildSyntheticMobilenet({ arch: 'v1', alpha: 0.25, resolution: 96, mutate: (def) => {
      const input = def.tensors[def.inputs[0]!]!;
      input.shape = [1, 96, 64, 3];
    } });
    expect(readInputSize(nonSquare.bytes, 'non-square')).toBeUndefined();
  });
});

describe.runIf(runShared)('EarlyDecode in the pipeline', () => {
  it.each([
    ['none', 'default'], ['center', 'default'], ['none', 'tflite'], ['center', 'tflite'],
  ] as const)('crop %s, resize %s: the same pixels and the same predictions as the path', async (crop, resize) => {
    const options = { ...OPTIONS, crop, resize, size: 224 };
    const early = new EarlyDecode(imagePath('parrot.jpg'), options);
    await early.running;
    const { image } = await early.pixels;
    expect(image.data).toEqual((await loadImagePixels(imagePath('parrot.jpg'), options)).image.data);
    const model = await loadModel(modelPath(V2), { threads: 1 });
    try {
      const fromPath = await model.classify(imagePath('parrot.jpg'), { crop, resize, topK: 5 });
      expect(await model.classify(new EarlyDecode(imagePath('parrot.jpg'), options), { crop, resize, topK: 5 })).toEqual(fromPath);
    } finally {
      model.dispose();
    }
  });

  it('a decode started for another input size or crop is done again for the model', async () => {
    const model = await loadModel(modelPath(V2), { threads: 1 });
    try {
      const fromPath = await model.classify(imagePath('parrot.jpg'), { topK: 5 });
      const wrongSize = new EarlyDecode(imagePath('parrot.jpg'), { ...OPTIONS, size: 192 });
      expect(await model.classify(wrongSize, { topK: 5 })).toEqual(fromPath);
      const wrongCrop = new EarlyDecode(imagePath('parrot.jpg'), { ...OPTIONS, crop: 'center', size: 224 });
      expect(wrongCrop.fits({ ...OPTIONS, size: 224 })).toBe(false);
      expect(await model.classify(wrongCrop, { topK: 5 })).toEqual(fromPath);
    } finally {
      model.dispose();
    }
  });

  it('a bad image fails with the error its path gives, and running still settles', async () => {
    const model = await loadModel(modelPath(V2), { threads: 1 });
    try {
      const path = modelPath(V2); // not an image
      const early = new EarlyDecode(path, { ...OPTIONS, size: 224 });
      await early.running;
      const expected = await model.classify(path).then(() => 'resolved', (error: Error) => error.message);
      expect(expected).toMatch(/^.*\.tflite: /);
      await expect(model.classify(early)).rejects.toThrow(expected);
    } finally {
      model.dispose();
    }
  });
});

describe.runIf(runShared)('loadModelDecodingFirst', () => {
  it('a model file: the first image is decoding before the model loads', async () => {
    const { classifier, early } = await loadModelDecodingFirst(modelPath(V2), { threads: 1 }, imagePath('parrot.jpg'), OPTIONS);
    try {
      expect(early).toBeInstanceOf(EarlyDecode);
      expect(early!.fits({ ...OPTIONS, size: classifier.spec.resolution })).toBe(true);
      expect((await classifier.classify(early!, { topK: 1 }))[0]!.label).toBe('macaw');
    } finally {
      classifier.dispose();
    }
  });

  it('stdin, or a model that is not there: no early start, and the usual error', async () => {
    const fromStdin = await loadModelDecodingFirst(modelPath(V2), { threads: 1 }, '-', OPTIONS);
    fromStdin.classifier.dispose();
    expect(fromStdin.early).toBeUndefined();
    await expect(loadModelDecodingFirst('/nonexistent/model.tflite', {}, imagePath('parrot.jpg'), OPTIONS))
      .rejects.toThrow('/nonexistent/model.tflite: no such file');
  });

  it('the CLI: a bad first image is reported and the next one classified, as without the early start', async () => {
    const run = await runMobilenet(['classify', modelPath(V2), imagePath('parrot.jpg'), '--model', modelPath(V2), '-k', '1']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`mobilenet: ${modelPath(V2)}: `);
    expect(run.stdout).toBe(`${imagePath('parrot.jpg')}\n  0.9961  macaw\n`);
  });
});
