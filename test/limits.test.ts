// Size limits: a model, an edited file or a benchmark option that asks for a huge network is refused
// with a message naming the limit, before anything big is allocated.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../src/classifier.js';
import { PlanError, planLayers, planModel } from '../src/engine/planner.js';
import { MAX_RESOLUTION } from '../src/model/limits.js';
import { createRandomModel } from '../src/model/random-model.js';
import type { Layer } from '../src/model/spec.js';
import { buildSyntheticMobilenet } from './helpers/tflite-mobilenet.js';
import { imagePath, REPO_ROOT } from './helpers/shared.js';

const BIN = join(REPO_ROOT, 'bin', 'mobilenet');

function mobilenet(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, MOBILENET_OFFLINE: '1' } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}

describe('size limits', () => {
  it('refuses random models too wide or too large before drawing a weight', () => {
    const heapBefore = process.memoryUsage().heapUsed;
    expect(() => createRandomModel({ arch: 'v2', alpha: 100 })).toThrow(/alpha must be a number in \(0, 4\], got 100/);
    expect(() => createRandomModel({ arch: 'v1', resolution: 100_000 })).toThrow(/resolution must be a whole number from 1 to 1024/);
    expect(() => createRandomModel({ arch: 'v1', alpha: 4, numClasses: 100_000 })).toThrow(/more than the limit of/);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 2 ** 20);
  });

  it('refuses a plan whose input or activations exceed the limits', () => {
    const spec = createRandomModel({ arch: 'v1', alpha: 0.25, resolution: 32 });
    expect(() => planModel({ ...spec, resolution: MAX_RESOLUTION + 1 })).toThrow(PlanError);
    expect(() => planModel({ ...spec, resolution: 0 })).toThrow(/outside the supported 1 to 1024/);
    // 1024×1024 in, 512×512×1024 out: 1 GiB of activations from 110 KB of weights.
    const wide: Layer = {
      type: 'conv2d', kernel: 3, stride: 2, inC: 3, outC: 1024, act: 'relu6',
      weights: new Float32Array(1024 * 27), bias: new Float32Array(1024),
    };
    expect(() => planLayers([wide], { h: 1024, w: 1024, c: 3 })).toThrow(/activations need 1036 MiB, more than the limit of 512 MiB/);
    // The widest and largest random model the limits allow still plans.
    expect(planModel(createRandomModel({ arch: 'v1', alpha: 4, resolution: 1024 })).arenaSize * 4).toBeLessThanOrEqual(512 * 2 ** 20);
  });

  it('bench options beyond the limits are usage errors (exit 2) naming the limit', async () => {
    for (const [option, value, limit] of [['--alpha', '100', '4'], ['--resolution', '10000', '1024'], ['--resolution', '100000', '1024']]) {
      const result = await mobilenet(['bench', option, value, '--runs', '1']);
      expect(result.code, `${option} ${value}`).toBe(2);
      expect(result.stderr).toContain(option);
      expect(result.stderr).toContain(limit);
    }
  }, 30_000);

  it('refuses a model file whose shapes ask for a 4096×4096 input (a few KB of weights, GBs of activations)', async () => {
    const { bytes } = buildSyntheticMobilenet({ arch: 'v1', alpha: 0.25, resolution: 4096, numClasses: 3 });
    const file = join(mkdtempSync(join(tmpdir(), 'mobilenet-limits-')), 'huge-input.tflite');
    writeFileSync(file, bytes);
    await expect(loadModel(file)).rejects.toThrow(/4096×4096 is outside the supported 1 to 1024 pixels a side/);
    const result = await mobilenet(['classify', imagePath('parrot.jpg'), '--model', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^mobilenet: .*4096×4096.*1024/);
  }, 30_000);
});
