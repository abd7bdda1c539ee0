// Whole models against ../shared/golden: for each shared model, an input tensor and the probabilities
// an independent fp32 implementation (float64, dequantized weights; shares none of our code) computes
// from it. Both backends must match it to 1e-5 on every class, so that a bug in the reader,
// dequantisation or planner cannot hide behind two backends that run the same plan.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../src/classifier.js';
import { modelPath, requireShared, SHARED_DIR, SHARED_MODELS } from './helpers/shared.js';

const run = requireShared();
const GOLDEN = join(SHARED_DIR, 'golden');
const TOLERANCE = 1e-5;

function readF32(file: string): Float32Array {
  const bytes = readFileSync(join(GOLDEN, file));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

describe.skipIf(!run)('golden outputs of an independent implementation', () => {
  for (const name of SHARED_MODELS) {
    for (const backend of ['native', 'reference'] as const) {
      it(`${backend}: ${name} on the parrot tensor, every class within ${TOLERANCE}`, async () => {
        const input = readF32(`${name}.parrot.input.f32`);
        const expected = readF32(`${name}.parrot.probs.f32`);
        // The golden outputs are float computations on the dequantized weights: fp32.
        const model = await loadModel(modelPath(name), { backend, threads: 2, precision: 'fp32' });
        try {
          expect(input.length).toBe(model.spec.resolution ** 2 * 3);
          const probs = await model.predict(input);
          expect(probs.length).toBe(expected.length);
          let worst = 0;
          let at = -1;
          for (let i = 0; i < expected.length; i++) {
            const diff = Math.abs(probs[i] - expected[i]);
            if (!(diff <= worst)) [worst, at] = [Number.isNaN(diff) ? Infinity : diff, i];
          }
          expect(worst, `class ${at}: ours ${probs[at]}, golden ${expected[at]}`).toBeLessThanOrEqual(TOLERANCE);
          expect(model.topK(probs, { topK: 1 })[0].index).toBe(89);
        } finally {
          model.dispose();
        }
      }, 60_000);
    }
  }
});
