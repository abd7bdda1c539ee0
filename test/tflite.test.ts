// The TFLite reader on the published models in ../shared/models, and on broken files.
//
// Expected counts and spot values were read independently of the reader, with a separate
// Python-stdlib FlatBuffers walk of each file (tensor/operator/buffer counts, operator histogram,
// the raw bytes and quantization of the weights spot-checked below).
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { architectureShapes, describeShape, shapeOf } from '../src/model/architecture.js';
import type { Conv2dLayer, BottleneckLayer, ModelSpec } from '../src/model/spec.js';
import { describeTflite, loadTfliteFile, ModelFormatError, parseTflite } from '../src/tflite/index.js';
import { inputNormalization } from '../src/tflite/normalization.js';
import { readModel } from '../src/tflite/schema.js';
import { findZip } from '../src/tflite/zip.js';
import { seededRandom as rng } from '../src/model/random-model.js';
import { writeTflite } from './helpers/tflite-writer.js';
import { MODELS_DIR, requireShared } from './helpers/shared.js';

const MODELS = MODELS_DIR;
const haveModels = requireShared();

interface Expected {
  file: string;
  arch: 'v1' | 'v2';
  alpha: number;
  resolution: number;
  tensors: number;
  operators: number;
  buffers: number;
  opcodes: Record<string, number>;
  inputType: string;
  inputScale: number;
  inputZeroPoint: number;
  /** Stem filter element 139: its byte offset in the file, the scale and zero point that apply. */
  stem139: { offset: number; signed: boolean; scale: number; zeroPoint: number; value: number };
  /** Stem bias element 5 (int32): offset, scale. */
  bias5: { offset: number; scale: number; value: number };
  /** First depthwise filter element (ky=1, kx=2, c=7). */
  dw: { offset: number; signed: boolean; scale: number; zeroPoint: number; value: number };
}

const V1_OPS = { CONV_2D: 15, DEPTHWISE_CONV_2D: 13, AVERAGE_POOL_2D: 1, RESHAPE: 1, SOFTMAX: 1 };
const EXPECTED: Expected[] = [
  {
    file: 'mobilenet_v1_0.25_128_quant.tflite', arch: 'v1', alpha: 0.25, resolution: 128,
    tensors: 89, operators: 31, buffers: 92, opcodes: V1_OPS,
    inputType: 'UINT8', inputScale: 0.0078125, inputZeroPoint: 128,
    stem139: { offset: 465503, signed: false, scale: 0.008882409892976284, zeroPoint: 157, value: 0.026647229678928852 },
    bias5: { offset: 465612, scale: 6.939382728887722e-5, value: 0.28715165732137393 },
    dw: { offset: 465323, signed: false, scale: 0.08940034359693527, zeroPoint: 204, value: -1.2516048103570938 },
  },
  {
    file: 'mobilenet_v1_0.5_160_quant.tflite', arch: 'v1', alpha: 0.5, resolution: 160,
    tensors: 89, operators: 31, buffers: 92, opcodes: V1_OPS,
    inputType: 'UINT8', inputScale: 0.0078125, inputZeroPoint: 128,
    stem139: { offset: 1321591, signed: false, scale: 0.014518576674163342, zeroPoint: 171, value: -0.1742229200899601 },
    bias5: { offset: 1321916, scale: 0.0001134263802669011, value: 2.8829583072438254 },
    dw: { offset: 1321379, signed: false, scale: 0.3292766809463501, zeroPoint: 208, value: 3.622043490409851 },
  },
  {
    file: 'mobilenet_v1_0.75_192_quant.tflite', arch: 'v1', alpha: 0.75, resolution: 192,
    tensors: 89, operators: 31, buffers: 92, opcodes: V1_OPS,
    inputType: 'UINT8', inputScale: 0.0078125, inputZeroPoint: 128,
    stem139: { offset: 2570127, signed: false, scale: 0.023622218519449234, zeroPoint: 106, value: 0.8267776481807232 },
    bias5: { offset: 2570668, scale: 0.00018454858218319714, value: 2.4971268655208405 },
    dw: { offset: 2569883, signed: false, scale: 0.4552032947540283, zeroPoint: 147, value: -2.2760164737701416 },
  },
  {
    file: 'mobilenet_v2_1.0_224_quant.tflite', arch: 'v2', alpha: 1, resolution: 224,
    tensors: 174, operators: 66, buffers: 177,
    opcodes: { CONV_2D: 36, DEPTHWISE_CONV_2D: 17, ADD: 10, AVERAGE_POOL_2D: 1, RESHAPE: 1, SOFTMAX: 1 },
    inputType: 'UINT8', inputScale: 0.0078125, inputZeroPoint: 128,
    stem139: { offset: 3472819, signed: false, scale: 0.03396892547607422, zeroPoint: 122, value: -0.06793785095214844 },
    bias5: { offset: 3473576, scale: 0.00026538223028182983, value: 3.380969613790512 },
    dw: { offset: 3472543, signed: false, scale: 0.3436955213546753, zeroPoint: 165, value: 6.530214905738831 },
  },
  {
    // TF2 post-training quantization: uint8 input → QUANTIZE → int8 graph with per-channel weights
    // (conv filters along axis 0, depthwise along axis 3), MEAN instead of AVERAGE_POOL_2D.
    file: 'tf2_mobilenet_v2_1.0_224_ptq.tflite', arch: 'v2', alpha: 1, resolution: 224,
    tensors: 177, operators: 68, buffers: 180,
    opcodes: { QUANTIZE: 2, CONV_2D: 36, DEPTHWISE_CONV_2D: 17, ADD: 10, MEAN: 1, RESHAPE: 1, SOFTMAX: 1 },
    inputType: 'UINT8', inputScale: 0.007843137718737125, inputZeroPoint: 127,
    stem139: { offset: 3545703, signed: true, scale: 0.005035129375755787, zeroPoint: 0, value: -0.05035129375755787 },
    bias5: { offset: 3545444, scale: 3.9491213101428e-5, value: 3.4838358373817755 },
    dw: { offset: 3545291, signed: true, scale: 0.08821503818035126, zeroPoint: 0, value: 6.704342901706696 },
  },
];

function std(values: Float32Array): number {
  let mean = 0;
  for (const v of values) mean += v;
  mean /= values.length;
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  return Math.sqrt(sq / values.length);
}

/** Runs `fn` and returns the ModelFormatError it throws; fails the test on success or on any other error. */
function modelError(fn: () => unknown): ModelFormatError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ModelFormatError);
    return error as ModelFormatError;
  }
  throw new Error('expected a ModelFormatError, but the call succeeded');
}

describe.skipIf(!haveModels)('published MobileNet models', () => {
  const cache = new Map<string, { bytes: Uint8Array; spec: ModelSpec }>();
  const load = (file: string) => {
    let entry = cache.get(file);
    if (!entry) {
      // A plain Uint8Array (not a Buffer, whose slice() shares memory): tests below corrupt copies.
      const bytes = new Uint8Array(readFileSync(join(MODELS, file)));
      entry = { bytes, spec: parseTflite(bytes, file) };
      cache.set(file, entry);
    }
    return entry;
  };

  describe.each(EXPECTED)('$file', (e) => {
    it('is recognised: arch, α, resolution, classes', () => {
      const { spec } = load(e.file);
      expect(spec.arch).toBe(e.arch);
      expect(spec.alpha).toBe(e.alpha);
      expect(spec.resolution).toBe(e.resolution);
      expect(spec.numClasses).toBe(1001);
    });

    it('has the expected tensors, operators and input', () => {
      const d = describeTflite(load(e.file).bytes, e.file);
      expect(d.tensorCount).toBe(e.tensors);
      expect(d.operatorCount).toBe(e.operators);
      expect(d.bufferCount).toBe(e.buffers);
      expect(d.subgraphCount).toBe(1);
      expect(d.opcodes).toEqual(e.opcodes);
      expect(d.input?.shape).toEqual([1, e.resolution, e.resolution, 3]);
      expect(d.input?.type).toBe(e.inputType);
      expect(d.input?.scale[0]).toBeCloseTo(e.inputScale, 9);
      expect(d.input?.zeroPoint).toEqual([e.inputZeroPoint]);
      expect(d.zipEntries).toEqual(['imagenet_labels.txt']);
      expect(d.metadata?.labelFile).toBe('imagenet_labels.txt');
    });

    it('carries the ImageNet labels', () => {
      const { spec } = load(e.file);
      expect(spec.labels).toHaveLength(1001);
      expect(spec.labels?.[0]).toBe('background');
      expect(spec.labels?.[653]).toBe('military uniform');
      // The packed file equals the shared label file.
      const shared = readFileSync(join(MODELS, 'imagenet_labels.txt'), 'utf8').split('\n').filter((l, i, a) => i < a.length - 1 || l);
      expect(spec.labels).toEqual(shared);
    });

    it('normalises with the metadata mean/std 127.5', () => {
      expect(load(e.file).spec.normalization).toEqual({ mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] });
    });

    it('has exactly the layer list of the architecture tables', () => {
      const { spec } = load(e.file);
      expect(spec.layers.map(shapeOf)).toEqual(architectureShapes(e.arch, e.alpha, 1001));
    });

    it('has finite, non-trivial weights', () => {
      const { spec } = load(e.file);
      const stem = spec.layers[0] as Conv2dLayer;
      const s = std(stem.weights);
      expect(s).toBeGreaterThan(0.05);
      expect(s).toBeLessThan(2);
      for (const layer of spec.layers) {
        const parts = layer.type === 'bottleneck'
          ? [layer.expand, layer.depthwise, layer.project].filter((p) => p !== null)
          : 'weights' in layer ? [layer] : [];
        for (const p of parts) {
          expect(p.weights.every(Number.isFinite)).toBe(true);
          expect(p.bias.every(Number.isFinite)).toBe(true);
          expect(p.weights.some((v) => v !== 0)).toBe(true);
        }
      }
    });

    it('dequantizes weights as scale · (q − zero point)', () => {
      const { bytes, spec } = load(e.file);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const byteAt = (offset: number, signed: boolean) => (signed ? view.getInt8(offset) : view.getUint8(offset));

      const stem = spec.layers[0] as Conv2dLayer;
      const w = e.stem139;
      const expectedW = w.scale * (byteAt(w.offset, w.signed) - w.zeroPoint);
      expect(expectedW).toBeCloseTo(w.value, 6);
      expect(stem.weights[139]).toBeCloseTo(expectedW, 6);

      const b = e.bias5;
      expect(stem.bias[5]).toBeCloseTo(b.scale * view.getInt32(b.offset, true), 5);
      expect(stem.bias[5]).toBeCloseTo(b.value, 5);

      const second = spec.layers[1]!;
      const dw = second.type === 'bottleneck' ? second.depthwise : second;
      if (dw.type !== 'depthwise') throw new Error('expected a depthwise layer');
      const d = e.dw;
      const index = (1 * 3 + 2) * dw.channels + 7;
      expect(dw.weights[index]).toBeCloseTo(d.scale * (byteAt(d.offset, d.signed) - d.zeroPoint), 6);
      expect(dw.weights[index]).toBeCloseTo(d.value, 5);
    });
  });

  it('v2: residual blocks where the table has them, the first block without expansion', () => {
    const { spec } = load('tf2_mobilenet_v2_1.0_224_ptq.tflite');
    const blocks = spec.layers.filter((l): l is BottleneckLayer => l.type === 'bottleneck');
    expect(blocks).toHaveLength(17);
    expect(blocks.filter((b) => b.residual)).toHaveLength(10);
    expect(blocks[0]!.expand).toBeNull();
    for (const b of blocks.slice(1)) expect(b.expand?.act).toBe('relu6');
    for (const b of blocks) {
      expect(b.depthwise.act).toBe('relu6');
      expect(b.project.act).toBe('none');
    }
  });

  it('TF2 model: without metadata, the uint8 input quantization gives mean 127, std 127.5', () => {
    const file = 'tf2_mobilenet_v2_1.0_224_ptq.tflite';
    const model = readModel(load(file).bytes, file);
    const sg = model.subgraphs[0]!;
    const n = inputNormalization(sg.tensors[sg.inputs[0]!]!, null, file);
    expect(n.mean).toEqual([127, 127, 127]);
    for (const s of n.std) expect(s).toBeCloseTo(127.5, 3);
  });

  it('parses the 4 MB v2 model quickly', () => {
    const file = 'tf2_mobilenet_v2_1.0_224_ptq.tflite';
    const bytes = load(file).bytes;
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      parseTflite(bytes, file);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    console.log(`parseTflite(${file}, ${bytes.length} bytes): median ${times[2]!.toFixed(1)} ms, min ${times[0]!.toFixed(1)} ms`);
    expect(times[2]).toBeLessThan(1000);
  });

  describe('broken files', () => {
    const file = 'mobilenet_v1_0.25_128_quant.tflite';
    const bytes = () => load(file).bytes;
    /** Where the flatbuffer ends and the appended zip starts. */
    const zipStart = () => findZip(bytes(), file)!.start;

    it('the zip starts where the independent walk found it', () => {
      expect(zipStart()).toBe(503776);
    });

    it.each([
      ['10 bytes', () => 10],
      ['half', () => Math.floor(bytes().length / 2)],
      ['just before the end of the flatbuffer', () => zipStart() - 1],
      ['at the end of the flatbuffer (zip missing)', () => zipStart()],
      ['inside the zip', () => zipStart() + 100],
      ['one byte short', () => bytes().length - 1],
    ])('truncated: %s', (_label, cut) => {
      const err = modelError(() => parseTflite(bytes().subarray(0, cut()), 'cut.tflite'));
      expect(err.message).toMatch(/^cut\.tflite: /);
    });

    it('random bytes', () => {
      const random = rng(42);
      for (const length of [0, 3, 8, 64, 4096, 100_000]) {
        const junk = Uint8Array.from({ length }, () => Math.floor(random() * 256));
        expect(modelError(() => parseTflite(junk, 'junk.tflite')).message).toMatch(/^junk\.tflite: /);
      }
    });

    it('random bytes behind a valid identifier', () => {
      const random = rng(7);
      for (let i = 0; i < 50; i++) {
        const junk = Uint8Array.from({ length: 256 + i * 37 }, () => Math.floor(random() * 256));
        junk.set(new TextEncoder().encode('TFL3'), 4);
        expect(modelError(() => parseTflite(junk, 'junk.tflite')).message).toMatch(/^junk\.tflite: /);
      }
    });

    it('a root offset past the end', () => {
      const copy = bytes().slice();
      new DataView(copy.buffer).setUint32(0, copy.length + 100, true);
      const err = modelError(() => parseTflite(copy, 'root.tflite'));
      expect(err.message).toMatch(/^root\.tflite: corrupt model: .*outside/);
    });

    it('a zero-length file', () => {
      expect(modelError(() => parseTflite(new Uint8Array(0), 'empty.tflite')).message).toBe('empty.tflite: empty file');
    });

    it('fuzz: 200 seeded corruptions and truncations end in success or a ModelFormatError', () => {
      const original = bytes();
      const random = rng(20240611);
      const tablesStart = 480_000; // tensors, operators and metadata sit after the weight data
      const end = zipStart();
      let failures = 0;
      for (let i = 0; i < 200; i++) {
        const copy = original.slice();
        const view = new DataView(copy.buffer);
        const kind = i % 5;
        let input: Uint8Array = copy;
        if (kind === 0) {
          copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
        } else if (kind === 1 || kind === 2) {
          const at = Math.floor(tablesStart + random() * (end - tablesStart));
          copy[at] = Math.floor(random() * 256);
        } else if (kind === 3) {
          const at = Math.floor(tablesStart + random() * (end - tablesStart - 4));
          view.setUint32(at, random() < 0.5 ? 0xffffffff - Math.floor(random() * 64) : Math.floor(random() * 2 ** 32), true);
        } else {
          input = copy.subarray(0, Math.floor(random() * copy.length));
        }
        try {
          parseTflite(input, 'fuzz.tflite');
        } catch (error) {
          failures++;
          expect(error).toBeInstanceOf(ModelFormatError);
          expect((error as Error).message).toMatch(/^fuzz\.tflite: /);
          // Not an internal error wrapped by the last-resort guard.
          expect((error as Error & { cause?: unknown }).cause, (error as Error).message).toBeUndefined();
        }
      }
      console.log(`fuzz: ${200 - failures} parsed, ${failures} ModelErrors`);
      expect(failures).toBeGreaterThan(40);
      expect(failures).toBeLessThan(200);
    });
  });
});

describe('files on disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tflite-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a missing file', async () => {
    const path = join(dir, 'nope.tflite');
    await expect(loadTfliteFile(path)).rejects.toThrow(new ModelFormatError(path, 'no such file'));
    await expect(loadTfliteFile(path)).rejects.toBeInstanceOf(ModelFormatError);
  });

  it('a text file renamed .tflite', async () => {
    const path = join(dir, 'readme.tflite');
    writeFileSync(path, 'This is not a model.\nJust some text that is long enough to have a root offset.\n');
    const error = await loadTfliteFile(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelFormatError);
    expect((error as Error).message).toBe(`${path}: not a TFLite model (file identifier " is ", expected "TFL3")`);
  });

  it('a directory', async () => {
    await expect(loadTfliteFile(dir)).rejects.toThrow(`${dir}: is a directory`);
  });

  it.runIf(haveModels)('a real model from disk', async () => {
    const spec = await loadTfliteFile(join(MODELS, 'mobilenet_v1_0.25_128_quant.tflite'));
    expect(spec.layers.map((l) => describeShape(shapeOf(l)))[0]).toBe(
      'conv2d(kernel=3, stride=2, inC=3, outC=8, act=relu6)',
    );
  });
});

describe('a model that is not a MobileNet', () => {
  it('names the unsupported operator (hand-built LOGISTIC model)', () => {
    const bytes = writeTflite({
      opcodes: [14],
      tensors: [
        { shape: [1, 4, 4, 3], type: 0, name: 'in' },
        { shape: [1, 4, 4, 3], type: 0, name: 'out' },
      ],
      inputs: [0],
      outputs: [1],
      operators: [{ opcode: 14, inputs: [0], outputs: [1] }],
      buffers: [null],
    });
    expect(modelError(() => parseTflite(bytes, 'tiny.tflite')).message).toBe(
      'tiny.tflite: operator 0 (LOGISTIC) is not part of MobileNet v1/v2',
    );
    expect(describeTflite(bytes, 'tiny.tflite').opcodes).toEqual({ LOGISTIC: 1 });
  });
});
