// Embeddings through the library: the global pool's output (what the classifier reads), on the shared
// models and photos, on both backends and any thread count; models without classifier (synthetic
// feature-vector files, test/helpers/tflite-mobilenet.ts) embed and refuse to classify.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, NoClassifierError, type Classifier, type EmbedResult } from '../src/index.js';
import { createEngine, planModel } from '../src/engine/index.js';
import { createNativeBackend } from '../src/engine/native.js';
import { createRandomModel } from '../src/model/random-model.js';
import { runPlan } from '../src/engine/reference/run.js';
import type { FullyConnectedLayer } from '../src/model/spec.js';
import { parseTflite } from '../src/tflite/index.js';
import { randomPixels, writeBmp } from './helpers/image-bmp.js';
import { imagePath, modelPath, requireShared } from './helpers/shared.js';
import { buildSyntheticMobilenet, OP, specOfSynthetic, type SyntheticOptions } from './helpers/tflite-mobilenet.js';

const run = requireShared();
const scratch = mkdtempSync(join(tmpdir(), 'mobilenet-embed-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

async function withModel<T>(model: Promise<Classifier>, fn: (m: Classifier) => Promise<T>): Promise<T> {
  const m = await model;
  try {
    return await fn(m);
  } finally {
    m.dispose();
  }
}

describe.skipIf(!run)('embeddings of the shared models', () => {
  it.each([
    ['mobilenet_v2_1.0_224_quant', 1280],
    ['tf2_mobilenet_v2_1.0_224_ptq', 1280],
    ['mobilenet_v1_0.75_192_quant', 768],
    ['mobilenet_v1_0.25_128_quant', 256],
  ])('%s: one vector of the pool\'s %i channels, the features its classifier reads', async (name, channels) => {
    // fp32: its classifier's float fc + softmax are recomputed here.
    await withModel(loadModel(modelPath(name), { backend: 'native', precision: 'fp32' }), async (model) => {
      expect(model.embeddingSize).toBe(channels);
      const tensor = await model.prepare(imagePath('parrot.jpg'));
      const embedding = await model.embed(imagePath('parrot.jpg'));
      expect(embedding).toBeInstanceOf(Float32Array);
      expect(embedding.length).toBe(channels);
      // After ReLU6 and an average: every feature in [0, 6], and not all alike.
      expect(Math.min(...embedding)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...embedding)).toBeLessThanOrEqual(6);
      expect(new Set(embedding).size).toBeGreaterThan(channels / 4);
      // The classifier's own fc + softmax on the embedding give the model's probabilities.
      const fc = model.spec.layers.find((l): l is FullyConnectedLayer => l.type === 'fc')!;
      const logits = Array.from({ length: fc.outC }, (_, o) => {
        let sum = fc.bias[o]!;
        for (let i = 0; i < fc.inC; i++) sum += fc.weights[o * fc.inC + i]! * embedding[i]!;
        return sum;
      });
      const top = Math.max(...logits);
      const exp = logits.map((l) => Math.exp(l - top));
      const total = exp.reduce((s, e) => s + e, 0);
      expect(maxDiff(exp.map((e) => e / total), await model.predict(tensor))).toBeLessThan(1e-5);
    });
  }, 60_000);

  it.each(['fp32', 'int8'] as const)('%s: the same on either backend and any thread count (int8: bit for bit), and again on the same model', async (precision) => {
    const name = modelPath('mobilenet_v2_1.0_224_quant');
    const image = imagePath('grace_hopper.bmp');
    const [one, two, reference] = await Promise.all([
      loadModel(name, { backend: 'native', threads: 1, precision }),
      loadModel(name, { backend: 'native', threads: 2, precision }),
      loadModel(name, { backend: 'reference', precision }),
    ]);
    try {
      const a = await one.embed(image);
      expect(Array.from(await one.embed(image))).toEqual(Array.from(a)); // deterministic, bit for bit
      const b = await two.embed(image);
      const r = await reference.embed(image);
      const scale = Math.max(...a);
      expect(maxDiff(a, b) / scale).toBeLessThan(precision === 'int8' ? Number.MIN_VALUE : 1e-5);
      expect(maxDiff(a, r) / scale).toBeLessThan(precision === 'int8' ? Number.MIN_VALUE : 1e-4);
      expect(cosine(a, r)).toBeGreaterThan(0.99999);
    } finally {
      for (const m of [one, two, reference]) m.dispose();
    }
  }, 120_000);

  it('a resized, re-encoded copy of a photo is close (cosine > 0.95), another photo is not', async () => {
    await withModel(loadModel(modelPath('mobilenet_v2_1.0_224_quant'), { backend: 'native' }), async (model) => {
      const original = imagePath('parrot.jpg');
      const meta = await sharp(original).metadata();
      const copy = await sharp(original).resize(Math.round(meta.width * 0.6)).webp({ quality: 70 }).toBuffer();
      const [a, b, other, another] = await Promise.all([
        model.embed(original), model.embed(copy), model.embed(imagePath('owl.jpg')), model.embed(imagePath('kite_and_cold.jpg')),
      ]);
      const same = cosine(a, b);
      expect(same).toBeGreaterThan(0.95);
      for (const unrelated of [other, another]) expect(cosine(a, unrelated)).toBeLessThan(same - 0.2);
      // normalize: length 1, same direction, so the dot product is the cosine.
      const unit = await model.embed(copy, { normalize: true });
      expect(norm(unit)).toBeCloseTo(1, 5);
      expect(maxDiff(unit, b.map((x) => x / norm(b)))).toBeLessThan(1e-6);
    });
  }, 60_000);

  it('embedAll: one result per input in order, a bad image as its error, the same vectors as embed', async () => {
    await withModel(loadModel(modelPath('mobilenet_v1_0.25_128_quant'), { backend: 'native' }), async (model) => {
      const inputs = [imagePath('parrot.jpg'), Buffer.from('not an image'), imagePath('owl.jpg'), join(scratch, 'missing.jpg')];
      const results: EmbedResult[] = [];
      for await (const result of model.embedAll(inputs, { concurrency: 3, normalize: true })) results.push(result);
      expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3]);
      expect(results.map((r) => ('error' in r ? (r.error as Error & { code: string }).code : 'ok'))).toEqual(['ok', 'IMAGE_DECODE', 'ok', 'IMAGE_DECODE']);
      for (const i of [0, 2]) {
        const r = results[i]!;
        expect('embedding' in r && maxDiff(r.embedding, await model.embed(inputs[i] as string, { normalize: true }))).toBe(0);
      }
      await expect(model.embed(imagePath('owl.jpg'), { normalize: 'yes' as never })).rejects.toThrow(TypeError);
      await expect(model.embed(imagePath('owl.jpg'), { crop: 'middle' as never })).rejects.toThrow(/crop/);
    });
  }, 60_000);
});

describe('a prefix of the plan', () => {
  it.each(['native', 'reference'] as const)('the %s backend runs the first k steps and returns step k\'s output, for every k', async (backend) => {
    const spec = createRandomModel({ arch: 'v2', alpha: 0.35, resolution: 48, seed: 9 });
    const { plan, backend: engine } = createEngine(spec, { backend, threads: 2 });  // a random model: fp32
    try {
      const input = Float32Array.from({ length: 48 * 48 * 3 }, (_, i) => Math.sin(i * 0.37));
      for (let k = 1; k <= plan.steps.length; k++) {
        const want = runPlan(plan, input, k); // the reference: the arena after k steps
        const got = await engine.run(input, k);
        expect(got.length, `k=${k}`).toBe(want.length);
        const scale = Math.max(1e-3, ...want.map(Math.abs));
        expect(maxDiff(got, want) / scale, `k=${k} (${plan.steps[k - 1]!.op})`).toBeLessThan(1e-4);
      }
      expect(Array.from(await engine.run(input))).toEqual(Array.from(await engine.run(input, plan.steps.length)));
      for (const bad of [0, plan.steps.length + 1, 1.5, NaN]) {
        await expect(engine.run(input, bad)).rejects.toThrow(RangeError);
      }
    } finally {
      engine.dispose();
    }
  }, 60_000);

  it('the addon refuses a plan whose output is not its last step\'s (a full run returns the last step\'s output)', () => {
    const plan = planModel(createRandomModel({ arch: 'v1', alpha: 0.25, resolution: 32, seed: 2 }));
    createNativeBackend(plan, {}).dispose();
    const moved = { ...plan, output: plan.steps[plan.steps.length - 2]!.output, outputSize: 1 };
    expect(() => createNativeBackend(moved, {})).toThrow(/output\/outputSize must be the last step's output tensor/);
  });
});

describe('models without classifier', () => {
  const VARIANTS: [string, SyntheticOptions][] = [
    ['Keras include_top=False, pooling=None: ends at the last convolution', { arch: 'v2', alpha: 0.35, numClasses: 0, pool: 'none', explicitPad: true, seed: 31 }],
    ['Keras include_top=False, pooling=avg: MEAN without keep_dims', { arch: 'v2', alpha: 0.35, numClasses: 0, pool: 'mean', keepDims: false, seed: 32 }],
    ['feature-vector file: v1 ending with AVERAGE_POOL_2D', { arch: 'v1', alpha: 0.25, numClasses: 0, seed: 33 }],
  ];

  it.each(VARIANTS)('%s: loads, embeds as the written weights do, refuses to classify', async (_name, opts) => {
    const { bytes, def, params } = buildSyntheticMobilenet(opts);
    const hasPool = def.operators.some((o) => o.opcode === OP.MEAN || o.opcode === OP.AVERAGE_POOL_2D);
    expect(hasPool).toBe(opts.pool !== 'none');
    const file = join(scratch, `headless-${opts.seed}.tflite`);
    writeFileSync(file, bytes);
    const spec = parseTflite(bytes, file);
    expect(spec.numClasses).toBe(0);
    expect(spec.layers[spec.layers.length - 1]).toEqual({ type: 'avgpool' });

    const pixels = randomPixels(64, 64, opts.seed);
    const image = join(scratch, `image-${opts.seed}.bmp`);
    writeFileSync(image, writeBmp(64, 64, pixels, { bpp: 24 }));
    const written = planModel(specOfSynthetic(opts, params));
    for (const backend of ['native', 'reference'] as const) {
      await withModel(loadModel(file, { backend }), async (model) => {
        expect(model.hasClassifier).toBe(false);
        const expected = runPlan(written, await model.prepare(image));
        expect(model.embeddingSize).toBe(expected.length);
        const embedding = await model.embed(image);
        expect(maxDiff(embedding, expected)).toBeLessThan(1e-4);
        expect(Math.max(...expected) - Math.min(...expected)).toBeGreaterThan(0.01); // a real comparison

        for (const call of [() => model.classify(image), () => model.predict(new Float32Array(64 * 64 * 3))]) {
          const error = await call().then(() => undefined, (e: unknown) => e);
          expect(error).toBeInstanceOf(NoClassifierError);
          expect(error).toMatchObject({ code: 'MODEL_HAS_NO_CLASSIFIER', file });
          expect((error as Error).message).toBe(`${file}: the model has no classifier (a feature-vector model): it can embed images, not classify them`);
        }
        await expect(model.classifyAll([image]).next()).rejects.toThrow(NoClassifierError);
        expect(() => model.topK(new Float32Array(4))).toThrow(NoClassifierError);
      });
    }
    await expect(loadModel(file, { labelsFile: image })).rejects.toThrow(NoClassifierError);
  }, 60_000);

  it('a graph that stops inside the body is still refused, naming what is missing', () => {
    const { bytes } = buildSyntheticMobilenet({
      arch: 'v1', alpha: 0.25, numClasses: 0, pool: 'none',
      mutate: (def) => {
        // Keep the stem and 10 of the 13 depthwise-separable blocks: the output is an intermediate map.
        const cut = def.operators.slice(0, 21);
        def.operators = cut;
        def.outputs = [cut[cut.length - 1]!.outputs[0]!];
      },
    });
    expect(() => parseTflite(bytes, 'cut.tflite')).toThrow(/cut\.tflite: the graph ends after \d+ layers; MobileNet v1 α=0\.25 continues with/);
  });
});
