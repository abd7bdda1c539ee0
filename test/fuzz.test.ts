// Seeded, bounded fuzzing of the whole library path: mutated model files through loadModel and one
// inference on the native backend, mutated images through classify. Each case must end in a result or
// a typed error naming the file: no crash (a native crash would kill the test worker), no hang, no
// error of another kind. The seed is fixed, so a failure reproduces.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Classifier } from '../src/classifier.js';
import { PlanError } from '../src/engine/planner.js';
import { ImageDecodeError } from '../src/image/errors.js';
import { LabelsError } from '../src/model/labels.js';
import { seededRandom } from '../src/model/random-model.js';
import { ModelFormatError } from '../src/tflite/errors.js';
import { randomPixels, writeBmp } from './helpers/image-bmp.js';
import { modelPath, requireShared } from './helpers/shared.js';

const run = requireShared();
const dir = mkdtempSync(join(tmpdir(), 'mobilenet-fuzz-'));
const CASES = 300;

/** One seeded mutation: a byte, a 32-bit field set to an extreme, a run of bytes, or a truncation. */
function mutate(original: Uint8Array, random: () => number, region: [number, number]): Uint8Array {
  const copy = original.slice();
  const view = new DataView(copy.buffer);
  const at = (span = 1) => Math.floor(region[0] + random() * (region[1] - region[0] - span));
  switch (Math.floor(random() * 5)) {
    case 0:
      copy[at()] = Math.floor(random() * 256);
      return copy;
    case 1: {
      const extremes = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, Math.floor(random() * 2 ** 32)];
      view.setUint32(at(4), extremes[Math.floor(random() * extremes.length)]!, true);
      return copy;
    }
    case 2: {
      const start = at(64);
      for (let i = 0; i < 64; i++) copy[start + i] = Math.floor(random() * 256);
      return copy;
    }
    case 3:
      view.setInt32(at(4), -Math.floor(random() * 1000) - 1, true);
      return copy;
    default:
      return copy.subarray(0, Math.floor(random() * copy.length));
  }
}

describe.skipIf(!run)('fuzz (seeded, bounded)', () => {
  it(`${CASES} mutated model files: a model that runs, or a ModelFormatError/PlanError/LabelsError naming the file`, async () => {
    const original = new Uint8Array(readFileSync(modelPath('mobilenet_v1_0.25_128_quant')));
    // Weights fill the first ~470 KB; the tables (shapes, offsets, options, metadata, zip) follow.
    const tables: [number, number] = [470_000, original.length];
    const random = seededRandom(20261127);
    const outcomes = { ran: 0, refused: 0 };
    for (let i = 0; i < CASES; i++) {
      const file = join(dir, `model-${i}.tflite`);
      writeFileSync(file, mutate(original, random, random() < 0.8 ? tables : [0, original.length]));
      let model: Classifier | undefined;
      try {
        model = await loadModel(file, { backend: 'native', threads: 2, onWarning: () => undefined });
        const input = new Float32Array(model.spec.resolution ** 2 * 3).fill(0.25);
        // Bounded: inference only where a mutation left the network small.
        if (model.plan.arenaSize * 4 <= 16 * 2 ** 20) {
          const probabilities = await model.predict(input);
          expect(probabilities.length).toBe(model.spec.numClasses);
        }
        outcomes.ran++;
      } catch (error) {
        outcomes.refused++;
        const typed = error instanceof ModelFormatError || error instanceof PlanError || error instanceof LabelsError;
        expect(typed, `case ${i}: ${String(error)}`).toBe(true);
        if (error instanceof ModelFormatError) expect((error as Error).message.startsWith(`${file}: `)).toBe(true);
      } finally {
        model?.dispose();
      }
    }
    console.log(`model fuzz: ${outcomes.ran} ran, ${outcomes.refused} refused`);
    expect(outcomes.refused).toBeGreaterThan(CASES / 10);
    expect(outcomes.ran).toBeGreaterThan(CASES / 10);
  }, 240_000);

  describe('mutated images', () => {
    let model: Classifier;
    const originals: { name: string; bytes: Uint8Array }[] = [];
    beforeAll(async () => {
      model = await loadModel(modelPath('mobilenet_v1_0.25_128_quant'), { threads: 2 });
      const pixels = randomPixels(61, 47, 5);
      const raw = { raw: { width: 61, height: 47, channels: 3 as const } };
      originals.push(
        { name: 'jpeg', bytes: await sharp(Buffer.from(pixels), raw).jpeg().toBuffer() },
        { name: 'png', bytes: await sharp(Buffer.from(pixels), raw).png().toBuffer() },
        { name: 'webp', bytes: await sharp(Buffer.from(pixels), raw).webp().toBuffer() },
        { name: 'gif', bytes: await sharp(Buffer.from(pixels), raw).gif().toBuffer() },
        { name: 'bmp', bytes: writeBmp(61, 47, pixels, { bpp: 24 }) },
        { name: 'bmp-rle8', bytes: writeBmp(61, 47, randomPixels(61, 47, 6).map((v) => v & 0xc0), { bpp: 8, compression: 'rle8', topDown: false }) },
      );
    });
    afterAll(() => model.dispose());

    it(`${CASES} mutated JPEG, PNG, WebP, GIF and BMP files: predictions, or an ImageDecodeError naming the file`, async () => {
      const random = seededRandom(7);
      const outcomes = { classified: 0, refused: 0 };
      for (let i = 0; i < CASES; i++) {
        const original = originals[i % originals.length]!;
        const file = join(dir, `image-${i}.${original.name}`);
        // Headers are where sizes live: a third of the mutations go to the first 64 bytes.
        const region: [number, number] = random() < 0.3 ? [0, Math.min(64, original.bytes.length)] : [0, original.bytes.length];
        writeFileSync(file, mutate(original.bytes, random, region));
        try {
          const predictions = await model.classify(file, { topK: 3 });
          expect(predictions).toHaveLength(3);
          outcomes.classified++;
        } catch (error) {
          outcomes.refused++;
          expect(error, `case ${i} (${original.name}): ${String(error)}`).toBeInstanceOf(ImageDecodeError);
          expect((error as Error).message.startsWith(`${file}: `)).toBe(true);
        }
      }
      console.log(`image fuzz: ${outcomes.classified} classified, ${outcomes.refused} refused`);
      expect(outcomes.refused).toBeGreaterThan(CASES / 10);
      // Most mutations of a small compressed image break it; some must still decode.
      expect(outcomes.classified).toBeGreaterThan(CASES / 50);
    }, 240_000);
  });
});
