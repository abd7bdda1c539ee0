// An int8 engine seen through the fp32 Backend contract, so that the Classifier, `bench` and the
// batch pipeline run either precision the same way: run(Float32Array) quantizes a normalised float
// tensor by the model's input quantization and returns the dequantized output. The faster path from
// pixels — quantizePixels, a per-channel 256-entry table, then runQuantized — never makes floats.
import type { Normalization } from '../../model/spec.js';
import type { Backend } from '../backend.js';
import type { Int8Backend } from './backend.js';
import * as ops from './ops.js';
import type { EdgeQuant, QPlan } from './plan.js';

export interface QuantizedBackend extends Backend {
  readonly precision: 'int8';
  readonly qplan: QPlan;
  /**
   * The input tensor for resized RGB pixels (H·W·3 bytes), in the storage domain. `inPlace`: written
   * over the pixels' own memory (for a buffer nobody else reads: no 150 KB allocation per image).
   */
  quantizePixels(pixels: Uint8Array, inPlace?: boolean): Int8Array;
  /** Runs a storage-domain input tensor (its first `steps` plan steps); resolves to the dequantized output. */
  runQuantized(input: Int8Array, steps?: number): Promise<Float32Array>;
}

/**
 * Pixel → stored input value, per channel. A uint8 input tensor is fed the pixel bytes themselves,
 * as TFLite's users feed such a model (its input quantization defines what they mean); an int8 one
 * gets round((p − mean) / std / scale) + zero point, clamped — QUANTIZE of the normalised pixel.
 */
function pixelTables(quant: EdgeQuant, normalization: Normalization): Int8Array[] {
  return [0, 1, 2].map((c) => {
    const table = new Int8Array(256);
    if (quant.type === 'uint8') {
      for (let p = 0; p < 256; p++) table[p] = p - 128;
    } else {
      const normalized = Float32Array.from({ length: 256 }, (_, p) => (p - normalization.mean[c]!) / normalization.std[c]!);
      ops.quantize(normalized, table, quant.scale, quant.zeroPoint);
    }
    return table;
  });
}

export function asBackend(plan: QPlan, int8: Int8Backend, normalization: Normalization): QuantizedBackend {
  const tables = pixelTables(plan.inputQuant, normalization);
  const inputSize = plan.inputH * plan.inputW * plan.inputC;
  // The output of the last step run, in reals (probabilities after the softmax, features after the pool).
  const dequantize = (output: Int8Array, steps = plan.steps.length) => {
    const quant = plan.stepQuant[steps - 1]!;
    const values = new Float32Array(output.length);
    ops.dequantize(output, values, quant.scale, quant.zeroPoint);
    return values;
  };
  const fromFloats = (input: Float32Array) => {
    if (!(input instanceof Float32Array) || input.length !== inputSize) {
      throw new TypeError(`input must be a Float32Array of ${inputSize} values`);
    }
    const quantized = new Int8Array(inputSize);
    ops.quantize(input, quantized, plan.inputQuant.scale, plan.inputQuant.zeroPoint);
    return quantized;
  };
  return {
    precision: 'int8',
    qplan: plan,
    name: int8.name,
    isa: int8.isa,
    threads: int8.threads,
    activationBytes: int8.activationBytes,
    run: async (input, steps) => dequantize(await int8.run(fromFloats(input), steps), steps),
    profile: async (input) => int8.profile(fromFloats(input)),
    quantizePixels: (pixels, inPlace = false) => {
      if (plan.inputC !== 3 || pixels.length !== inputSize) throw new RangeError(`expected ${inputSize} bytes of RGB pixels, got ${pixels.length}`);
      const [r, g, b] = tables as [Int8Array, Int8Array, Int8Array];
      // In place, each byte is read before it is written.
      const out = inPlace ? new Int8Array(pixels.buffer, pixels.byteOffset, inputSize) : new Int8Array(inputSize);
      for (let i = 0; i < inputSize; i += 3) {
        out[i] = r[pixels[i]!]!;
        out[i + 1] = g[pixels[i + 1]!]!;
        out[i + 2] = b[pixels[i + 2]!]!;
      }
      return out;
    },
    runQuantized: async (input, steps) => dequantize(await int8.run(input, steps), steps),
    dispose: () => int8.dispose(),
  };
}

export function isQuantizedBackend(backend: Backend): backend is QuantizedBackend {
  return (backend as Partial<QuantizedBackend>).precision === 'int8';
}
