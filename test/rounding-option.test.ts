// `rounding` (library) / `--rounding` (CLI): which integer rounding an int8 run reproduces. The
// arithmetic itself is tested in int8-xnnpack.test.ts and against LiteRT.js in litert-oracle.test.ts;
// here, that the option reaches the engine, is reported, and is refused where it means nothing.
import { describe, expect, it } from 'vitest';
import { loadModel } from '../src/classifier.js';
import { PlanError } from '../src/engine/planner.js';
import { runMobilenet } from './helpers/child.js';
import { imagePath, modelPath, requireShared } from './helpers/shared.js';

const runShared = requireShared();

describe.runIf(runShared)('the rounding option', () => {
  it.each(['mobilenet_v2_1.0_224_quant', 'tf2_mobilenet_v2_1.0_224_ptq'])(
    '%s: xnnpack on the default backend gives the reference backend\'s xnnpack answers, tflite is the default',
    async (name) => {
      const byDefault = await loadModel(modelPath(name), { threads: 2 });
      const xnnpack = await loadModel(modelPath(name), { threads: 2, rounding: 'xnnpack' });
      const reference = await loadModel(modelPath(name), { threads: 1, rounding: 'xnnpack', backend: 'reference' });
      try {
        expect([byDefault.rounding, xnnpack.rounding, reference.rounding]).toEqual(['tflite', 'xnnpack', 'xnnpack']);
        for (const photo of ['parrot.jpg', 'grace_hopper.bmp']) {
          const expected = await reference.classify(imagePath(photo), { topK: 10 });
          expect(await xnnpack.classify(imagePath(photo), { topK: 10 })).toEqual(expected);
          expect(expected[0]!.label).toBe((await byDefault.classify(imagePath(photo), { topK: 1 }))[0]!.label);
        }
      } finally {
        for (const model of [byDefault, xnnpack, reference]) model.dispose();
      }
    }, 60_000);

  it('means nothing in fp32: a PlanError naming the file; a bad value is a RangeError', async () => {
    const file = modelPath('mobilenet_v2_1.0_224_quant');
    await expect(loadModel(file, { precision: 'fp32', rounding: 'xnnpack' })).rejects.toThrow(PlanError);
    await expect(loadModel(file, { precision: 'fp32', rounding: 'xnnpack' })).rejects.toThrow(`${file}: rounding 'xnnpack' is a rule of int8 arithmetic`);
    const fp32 = await loadModel(file, { precision: 'fp32', rounding: 'tflite' });
    expect(fp32.rounding).toBeUndefined();
    fp32.dispose();
    await expect(loadModel(file, { rounding: 'nearest' as 'tflite' })).rejects.toThrow(/rounding/);
  });

  it('the CLI: --rounding xnnpack classifies, and with --precision fp32 is a usage error (exit 2)', async () => {
    const file = modelPath('mobilenet_v2_1.0_224_quant');
    const ok = await runMobilenet(['classify', imagePath('parrot.jpg'), '--model', file, '--rounding', 'xnnpack', '-k', '1']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe(`${imagePath('parrot.jpg')}\n  0.9961  macaw\n`);
    const bad = await runMobilenet(['classify', imagePath('parrot.jpg'), '--model', file, '--rounding', 'xnnpack', '--precision', 'fp32']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(`mobilenet: ${file}: rounding 'xnnpack' is a rule of int8 arithmetic, and the model runs in fp32 (precision fp32)\n`);
  });
});
