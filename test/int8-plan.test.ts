// The int8 planner on the real quantized models: the quantization read from each file, the QPlan run
// by the TS reference backend against TFLite's own output bytes (reference kernels, int8-golden.ts),
// and malformed or unsupported quantization.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planQuantized, Int8UnsupportedError } from '../src/engine/int8/planner.js';
import { runQPlan } from '../src/engine/int8/reference-backend.js';
import { storageToUint8, uint8ToStorage } from '../src/engine/int8/quantize.js';
import { parseTflite } from '../src/tflite/index.js';
import { ModelFormatError } from '../src/tflite/errors.js';
import { readQuantization } from '../src/tflite/quantized.js';
import { readModel } from '../src/tflite/schema.js';
import { INT8_GOLDEN } from './helpers/int8-golden.js';
import { int8Pattern } from './helpers/int8-mobilenet.js';
import { modelPath, requireShared, SHARED_MODELS } from './helpers/shared.js';

const run = requireShared();

describe.runIf(run)('int8 plans of the shared models', () => {
  for (const name of SHARED_MODELS) {
    it(`${name}: TFLite's output bytes (reference kernels) for both golden inputs`, () => {
      const bytes = readFileSync(modelPath(name));
      const spec = parseTflite(bytes, name);
      const plan = planQuantized(spec);
      expect(plan.dtype).toBe('int8');
      for (const golden of INT8_GOLDEN[name]!.runs) {
        const pixels = int8Pattern(plan.inputH, plan.inputW, golden.seed);
        const output = storageToUint8(runQPlan(plan, uint8ToStorage(pixels)));
        expect(Buffer.from(output).toString('base64')).toBe(golden.output);
      }
    });
  }

  it('reads both schemes\' quantization', () => {
    const v1 = parseTflite(readFileSync(modelPath('mobilenet_v1_0.25_128_quant')), 'v1');
    expect(v1.quantization!.input).toEqual({ type: 'uint8', scale: 0.0078125, zeroPoint: 128 });
    expect(v1.quantization!.ops.map((o) => o.kind).join(' ')).toBe(
      `conv ${'depthwise conv '.repeat(13)}avgpool conv softmax`);
    const ptq = parseTflite(readFileSync(modelPath('tf2_mobilenet_v2_1.0_224_ptq')), 'ptq');
    expect(ptq.quantization!.input).toMatchObject({ type: 'uint8', zeroPoint: 127 });
    expect(ptq.quantization!.ops.filter((o) => o.kind === 'add')).toHaveLength(10);
    expect(ptq.quantization!.ops.slice(-3).map((o) => o.kind)).toEqual(['mean', 'conv', 'softmax']);
    expect(ptq.quantization!.ops[0]!.input).toMatchObject({ type: 'int8', zeroPoint: -1 });
    const plan = planQuantized(ptq);
    // The stem's per-channel multipliers differ across channels (per-channel weight scales).
    const stem = plan.steps[0]!;
    expect(stem.op).toBe('conv2d');
    if (stem.op === 'conv2d') expect(new Set(stem.requant.multiplier).size).toBeGreaterThan(1);
    expect(plan.arenaBytes).toBeLessThan(2 ** 20);
  });
});

describe.runIf(run)('malformed and unsupported quantization', () => {
  const load = () => readModel(readFileSync(modelPath('mobilenet_v1_0.25_128_quant')), 'v1.tflite');
  const firstConvOutput = (model: ReturnType<typeof load>) => {
    const sg = model.subgraphs[0]!;
    return sg.tensors[sg.operators[0]!.outputs[0]!]!;
  };
  const weightsOfFirstConv = (model: ReturnType<typeof load>) => {
    const sg = model.subgraphs[0]!;
    return sg.tensors[sg.operators[0]!.inputs[1]!]!;
  };

  for (const [what, mutate, message] of [
    ['a zero scale', (m: ReturnType<typeof load>) => { firstConvOutput(m).quantization!.scale = Float32Array.of(0); }, /scale 0 is 0/],
    ['a negative scale', (m: ReturnType<typeof load>) => { firstConvOutput(m).quantization!.scale = Float32Array.of(-0.5); }, /scales must be positive/],
    ['a zero point out of range', (m: ReturnType<typeof load>) => { firstConvOutput(m).quantization!.zeroPoint = [300]; }, /zero point 0 is 300, outside the uint8 range/],
    ['a per-axis count mismatch', (m: ReturnType<typeof load>) => {
      const q = weightsOfFirstConv(m).quantization!;
      q.scale = Float32Array.of(0.1, 0.2, 0.3);
      q.zeroPoint = [1, 1, 1];
      q.quantizedDimension = 0;
    }, /3 per-channel scales along axis 0/],
  ] as const) {
    it(`${what} is a ModelFormatError naming the file and the tensor`, () => {
      const model = load();
      mutate(model);
      let error: unknown;
      try {
        readQuantization(model, 'v1.tflite');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ModelFormatError);
      expect((error as Error).message).toMatch(/^v1\.tflite: tensor \d+/);
      expect((error as Error).message).toMatch(message);
    });
  }

  it('a QUANTIZE that rescales is reported as unsupported, and the plan refuses with the reason', () => {
    const bytes = readFileSync(modelPath('tf2_mobilenet_v2_1.0_224_ptq'));
    const model = readModel(bytes, 'ptq');
    const sg = model.subgraphs[0]!;
    sg.tensors[sg.operators[0]!.outputs[0]!]!.quantization!.scale = Float32Array.of(0.01);
    const reading = readQuantization(model, 'ptq');
    expect(reading).toEqual({ unsupported: expect.stringMatching(/operator 0 \(QUANTIZE\) rescales its input/) });
    const spec = parseTflite(bytes, 'ptq');
    delete spec.quantization;
    spec.int8Unsupported = (reading as { unsupported: string }).unsupported;
    expect(() => planQuantized(spec, 'ptq.tflite')).toThrow(Int8UnsupportedError);
    expect(() => planQuantized(spec, 'ptq.tflite')).toThrow(/^ptq\.tflite: operator 0 \(QUANTIZE\) rescales/);
  });
});
