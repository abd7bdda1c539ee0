// The library's contract for services: every call reports trouble by rejecting its promise (never a
// synchronous throw), options are checked and named, errors are typed, and backend selection is explicit.
import { spawnSync } from 'node:child_process';
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
