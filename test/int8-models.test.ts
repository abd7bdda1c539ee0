// Whole quantized models in int8 through the library: the top-1 of every shared photo agrees with
// fp32, the pixels go in without a float round trip (uint8 input = the resized pixel bytes), and the
// precision option's contract.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadModel, PlanError } from '../src/index.js';
import { decodeResized } from '../src/image/decode.js';
import { runQPlan } from '../src/engine/int8/reference-backend.js';
import { isQuantizedBackend } from '../src/engine/int8/engine.js';
import { storageToUint8 } from '../src/engine/int8/quantize.js';
import { createRandomModel } from '../src/model/random-model.js';
import { IMAGES_DIR, imagePath, modelPath, requireShared, SHARED_MODELS } from './helpers/shared.js';

const run = requireShared();
const photos = run ? readdirSync(IMAGES_DIR).filter((f) => /\.(jpe?g|bmp|png)$/i.test(f)).sort() : [];

describe.runIf(run)('int8 on the shared models and photos', () => {
  for (const name of SHARED_MODELS) {
    it(`${name}: int8 and fp32 agree on the top-1 of every photo`, async () => {
      const int8 = await loadModel(modelPath(name), { precision: 'int8' });
      const fp32 = await loadModel(modelPath(name), { precision: 'fp32' });
      try {
        expect(int8.precision).toBe('int8');
        expect(fp32.precision).toBe('fp32');
        for (const photo of photos) {
          const [q] = await int8.classify(imagePath(photo), { topK: 1 });
          const all = await int8.classify(imagePath(photo), { topK: 5 });
          const [f] = await fp32.classify(imagePath(photo), { topK: 1 });
          // 8-bit probabilities come in steps of 1/256: classes tied at the top are all int8's top-1.
          const tiedTop = all.filter((p) => p.score === q!.score).map((p) => p.index);
          expect(tiedTop, `${photo}: fp32 says ${f!.label} (${f!.score.toFixed(3)}), int8 ${q!.label} (${q!.score})`).toContain(f!.index);
          expect(Math.abs(q!.score - f!.score), photo).toBeLessThan(0.1);
          expect(q!.score * 256).toBe(Math.round(q!.score * 256));
        }
      } finally {
        int8.dispose();
        fp32.dispose();
      }
    });
  }

  it('a uint8 input tensor is fed the resized pixel bytes themselves (no float round trip)', async () => {
    const model = await loadModel(modelPath('mobilenet_v1_0.25_128_quant'), { precision: 'int8', backend: 'reference' });
    try {
      const backend = model.backend;
      if (!isQuantizedBackend(backend)) throw new Error('expected the int8 backend');
      const { image } = await decodeResized(imagePath('parrot.jpg'), 128, 'none');
      const input = backend.quantizePixels(image.data);
      expect(Array.from(storageToUint8(input))).toEqual(Array.from(image.data));
      const expected = runQPlan(backend.qplan, input);
      const probabilities = await backend.runQuantized(input);
      expect(Array.from(probabilities)).toEqual(Array.from(expected, (q) => (q + 128) / 256));
      const [top] = await model.classify(imagePath('parrot.jpg'), { topK: 1 });
      expect(top!.score).toBe(Math.max(...probabilities));
    } finally {
      model.dispose();
    }
  });

  it('embeds in int8: the global pool\'s output dequantized, pointing where fp32\'s does', async () => {
    const int8 = await loadModel(modelPath('mobilenet_v1_0.5_160_quant'), { precision: 'int8', backend: 'reference' });
    const fp32 = await loadModel(modelPath('mobilenet_v1_0.5_160_quant'), { precision: 'fp32' });
    try {
      const cosine = (a: Float32Array, b: Float32Array) => a.reduce((sum, v, i) => sum + v * b[i]!, 0);
      const [q, f] = [await int8.embed(imagePath('owl.jpg'), { normalize: true }), await fp32.embed(imagePath('owl.jpg'), { normalize: true })];
      expect(q).toHaveLength(512);
      expect(cosine(q, f)).toBeGreaterThan(0.97);
      const other = await int8.embed(imagePath('parrot.jpg'), { normalize: true });
      expect(cosine(q, other)).toBeLessThan(cosine(q, f) - 0.2);
    } finally {
      int8.dispose();
      fp32.dispose();
    }
  });

  it('predict() takes a normalised float tensor in either precision', async () => {
    const model = await loadModel(modelPath('mobilenet_v1_0.25_128_quant'), { precision: 'int8', backend: 'reference' });
    try {
      const tensor = await model.prepare(imagePath('parrot.jpg'));
      const probabilities = await model.predict(tensor);
      expect(probabilities).toHaveLength(1001);
      expect(model.topK(probabilities, { topK: 1 })[0]!.label).toBe('macaw');
    } finally {
      model.dispose();
    }
  });
});

describe('the precision option', () => {
  it('int8 on a float model is a PlanError saying why; a bad value is a RangeError', async () => {
    const spec = createRandomModel({ arch: 'v1', alpha: 0.25, resolution: 32, seed: 3 });
    const error = await loadModel(spec, { precision: 'int8' }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(PlanError);
    expect((error as PlanError).code).toBe('MODEL_UNSUPPORTED');
    expect((error as Error).message).toMatch(/int8 needs a quantized model/);
    await expect(loadModel(spec, { precision: 'int4' as never })).rejects.toThrow(RangeError);
    const fp32 = await loadModel(spec, { backend: 'reference' });
    expect(fp32.precision).toBe('fp32');
    fp32.dispose();
  });
});
