// The library's contract for services: every call reports trouble by rejecting its promise (never a
// synchronous throw), options are checked and named, errors are typed, and backend selection is explicit.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { loadModel, ModelDisposedError } from '../src/classifier.js';
import { createRandomModel } from '../src/model/random-model.js';
import { REPO_ROOT } from './helpers/shared.js';

const spec = () => createRandomModel({ arch: 'v1', alpha: 0.25, resolution: 32, seed: 3 });

/** Calls fn, which must not throw synchronously, and returns what its promise rejects with. */
async function rejection(fn: () => Promise<unknown>): Promise<unknown> {
  let promise: Promise<unknown>;
  try {
    promise = fn();
  } catch (error) {
    throw new Error(`threw synchronously instead of rejecting: ${String(error)}`);
  }
  return promise.then(() => { throw new Error('resolved, expected a rejection'); }, (error: unknown) => error);
}

describe('library contract', () => {
  it('checks loadModel options and names the bad one', async () => {
    const cases: [object, RegExp][] = [
      [{ backend: 'bogus' }, /backend must be one of 'auto', 'native', 'reference', got "bogus"/],
      [{ threads: 0 }, /threads must be a whole number from 1 to 256, got 0/],
      [{ threads: 1.5 }, /threads/],
      [{ threads: NaN }, /threads/],
    ];
    for (const [options, message] of cases) {
      const error = await rejection(() => loadModel(spec(), options));
      expect(error).toBeInstanceOf(RangeError);
      expect((error as Error).message).toMatch(message);
    }
    expect(await rejection(() => loadModel(spec(), 'fast' as never))).toBeInstanceOf(TypeError);
    expect(await rejection(() => loadModel(null as never))).toBeInstanceOf(TypeError);
  });

  for (const backend of ['native', 'reference'] as const) {
    it(`rejects bad calls on the ${backend} backend without throwing`, async () => {
      const model = await loadModel(spec(), { backend });
      const size = 32 * 32 * 3;
      expect(await rejection(() => model.predict(new Float32Array(size - 1)))).toBeInstanceOf(TypeError);
      expect(await rejection(() => model.predict([1, 2, 3] as never))).toBeInstanceOf(TypeError);
      expect(await rejection(() => model.classify(null as never))).toBeInstanceOf(TypeError);
      expect(await rejection(() => model.classify(42 as never))).toBeInstanceOf(TypeError);
      for (const options of [{ topK: -1 }, { topK: NaN }, { topK: 0 }, { threshold: 2 }, { crop: 'middle' }]) {
        const error = await rejection(() => model.classify('whatever.jpg', options as never));
        expect(error, JSON.stringify(options)).toBeInstanceOf(RangeError);
        expect((error as Error).message).toContain(Object.keys(options)[0]);
      }
      const probabilities = await model.predict(new Float32Array(size));
      expect(model.topK(probabilities, { topK: 3 })).toHaveLength(3);
      expect(model.topK(probabilities, { topK: 5000 })).toHaveLength(1001);
      expect(() => model.topK(probabilities, { topK: -1 })).toThrow(RangeError);

      model.dispose();
      model.dispose();
      expect(await rejection(() => model.predict(new Float32Array(size)))).toBeInstanceOf(ModelDisposedError);
      expect(await rejection(() => model.classify('x.jpg'))).toBeInstanceOf(ModelDisposedError);
    });
  }

  it('backend native fails without the addon, auto falls back and warns once through process.emitWarning', () => {
    // A child process, so that the addon is really absent (MOBILENET_ADDON points nowhere).
    const script = `
      import { loadModel, createRandomModel } from './dist/index.js';
      const spec = createRandomModel({ arch: 'v1', alpha: 0.25, resolution: 32, seed: 3 });
      const warnings = [];
      process.on('warning', (w) => warnings.push(w.code + ': ' + w.message));
      const native = await loadModel(spec, { backend: 'native' }).then(() => 'loaded', (e) => e.name + ': ' + e.code);
      const a = await loadModel(spec);
      const b = await loadModel(spec, { backend: 'auto' });
      await new Promise((r) => setImmediate(r));
      console.log(JSON.stringify({ native, backends: [a.backend.name, b.backend.name], warnings }));
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, MOBILENET_ADDON: '/nonexistent/mobilenet_native.node' },
    });
    expect(result.status, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout) as { native: string; backends: string[]; warnings: string[] };
    expect(out.native).toBe('NativeUnavailableError: NATIVE_UNAVAILABLE');
    expect(out.backends).toEqual(['reference', 'reference']);
    expect(out.warnings).toHaveLength(1);
    expect(out.warnings[0]).toMatch(/^MOBILENET_NATIVE_UNAVAILABLE: the native addon could not be loaded/);
  });
});

describe('classifyAll', () => {
  const image = (seed: number) => {
    const pixels = Buffer.alloc(40 * 30 * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 31 + seed * 97) % 256;
    return sharp(pixels, { raw: { width: 40, height: 30, channels: 3 } }).png().toBuffer();
  };

  it('yields one result per input in order, bad inputs as errors, pulling only a bounded window ahead', async () => {
    const model = await loadModel(spec(), { threads: 2 });
    const good = await Promise.all([1, 2, 3].map(image));
    let pulled = 0;
    let maxAhead = 0;
    let yielded = 0;
    async function* inputs() {
      for (let i = 0; i < 40; i++) {
        pulled++;
        maxAhead = Math.max(maxAhead, pulled - yielded);
        yield i % 10 === 7 ? Buffer.from('not an image') : good[i % 3]!;
      }
    }
    const results = [];
    for await (const result of model.classifyAll(inputs(), { concurrency: 3, topK: 2 })) {
      yielded++;
      results.push(result);
    }
    expect(results.map((r) => r.index)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(results.filter((r) => 'error' in r).map((r) => r.index)).toEqual([7, 17, 27, 37]);
    for (const r of results) if ('predictions' in r) expect(r.predictions).toHaveLength(2);
    // The same image gives the same answer wherever it sits in the stream.
    const first = results[0] as { predictions: { index: number; score: number }[] };
    const again = results[3] as { predictions: { index: number; score: number }[] };
    expect(again.predictions).toEqual(first.predictions);
    expect(maxAhead).toBeLessThanOrEqual(4);
    model.dispose();
  });

  it('stops taking inputs once its signal is aborted, still yielding what it started', async () => {
    const model = await loadModel(spec());
    const png = await image(4);
    const controller = new AbortController();
    let pulled = 0;
    function* endless() {
      for (;;) {
        pulled++;
        yield png;
      }
    }
    let count = 0;
    for await (const result of model.classifyAll(endless(), { concurrency: 2, signal: controller.signal, ordered: false })) {
      expect('predictions' in result).toBe(true);
      if (++count === 5) controller.abort();
    }
    expect(count).toBeGreaterThanOrEqual(5);
    expect(count).toBeLessThanOrEqual(7);
    expect(pulled).toBe(count);
    model.dispose();
  });

  it('rejects bad arguments from its first step', async () => {
    const model = await loadModel(spec());
    await expect(model.classifyAll(42 as never).next()).rejects.toThrow(TypeError);
    await expect(model.classifyAll([], { concurrency: 0 }).next()).rejects.toThrow(/concurrency must be a whole number/);
    model.dispose();
  });
});

describe('typed errors a service can map', () => {
  it('each failure has its exported class, a code and the file', async () => {
    const lib = await import('../src/index.js');
    const dir = mkdtempSync(join(tmpdir(), 'mobilenet-errors-'));
    const text = join(dir, 'notes.jpg');
    writeFileSync(text, 'not an image');
    const corrupt = join(dir, 'broken.tflite');
    writeFileSync(corrupt, 'TFL3 but not really a model');
    const labels = join(dir, 'two.txt');
    writeFileSync(labels, 'a\nb\n');
    const png = join(dir, 'big.png');
    await sharp(Buffer.alloc(50 * 40 * 3), { raw: { width: 50, height: 40, channels: 3 } }).png().toFile(png);

    const model = await lib.loadModel(spec());
    const cases: [() => Promise<unknown>, new (...args: never[]) => Error, string, string | undefined][] = [
      [() => lib.loadModel('no_such_model', { offline: true }), lib.ModelNotFoundError, 'MODEL_NOT_FOUND', undefined],
      [() => lib.loadModel(corrupt), lib.ModelFormatError, 'MODEL_FORMAT', corrupt],
      [() => lib.loadModel(spec(), { labelsFile: labels }), lib.LabelsError, 'LABELS_INVALID', labels],
      [() => model.classify(text), lib.ImageDecodeError, 'IMAGE_DECODE', text],
      [() => model.classify(png, { maxPixels: 1999 }), lib.InputTooLargeError, 'INPUT_TOO_LARGE', png],
    ];
    for (const [call, type, code, file] of cases) {
      const error = await call().then(() => undefined, (e: unknown) => e) as Error & { code: string; file?: string };
      expect(error, code).toBeInstanceOf(type);
      expect(error.code).toBe(code);
      expect(error.name).toBe(type.name);
      if (file) expect(error.file).toBe(file);
    }
    // A too-large input is still an image error for callers that only tell images from models.
    expect(await model.classify(png, { maxPixels: 1999 }).catch((e: unknown) => e)).toBeInstanceOf(lib.ImageDecodeError);
    model.dispose();
    expect(await model.classify(png).catch((e: unknown) => e)).toBeInstanceOf(lib.ModelDisposedError);
  });
});
