// The integer ONNX export of the peer benchmark (bench/onnx-qlinear-export.mjs) run by ONNX Runtime
// must compute the shared quantized models as TFLite defines them: checked on the logits tensor (the
// ONNX graph ends there) against the integer reference, bit-exact with TFLite's reference kernels.
//
// Measured (onnxruntime-node 1.30, AVX-512 machine): logits within 2-8 LSB of the reference, 40-80 %
// differing, the same top-1 on every photo (the TF2 file as uint8 activations, int8 weights). ORT requantizes QLinearConv from a float product rounded
// to nearest (MLAS), TFLite with a fixed-point multiplier and double rounding: 1 LSB apart at most
// per operator, compounding through the network (on the uint8 files ORT gives the very numbers the
// XNNPACK peer gives).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { nhwcToNchw, onnxOpCounts } from '../onnx-proto.mjs';
import { QLinearExportError, qlinearInput, tfliteToQLinearOnnx } from '../onnx-qlinear-export.mjs';
import { Int8Graph } from '../../test/helpers/int8-mobilenet.js';
import { modelPath, requireShared, SHARED_MODELS } from '../../test/helpers/shared.js';
import { argmax, maxAbsDiff, photoPixels, PHOTOS, referenceTensor } from './helpers/int8-reference.js';

interface OrtTensor { readonly data: ArrayLike<number> }
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface Ort {
  Tensor: new (type: 'uint8', data: Uint8Array, dims: number[]) => OrtTensor;
  InferenceSession: { create(model: Uint8Array, options?: object): Promise<OrtSession> };
}
const ort = createRequire(import.meta.url)('onnxruntime-node') as Ort;

/** Logits against the reference: measured at most 8 (tf2, kite_and_cold), 7 on the uint8 files. */
const MAX_LOGIT_LSB = 10;

describe.runIf(requireShared())('the QLinear ONNX export of the shared quantized models', () => {
  it('writes QLinearConv, QLinearAdd and QLinearGlobalAveragePool, without Clip (the ReLU6 scales are 6/255)', () => {
    const v2 = tfliteToQLinearOnnx(new Uint8Array(readFileSync(modelPath('mobilenet_v2_1.0_224_quant'))), 'v2');
    const expected = { QLinearConv: 53, 'com.microsoft:QLinearAdd': 10, 'com.microsoft:QLinearGlobalAveragePool': 1, Flatten: 1 };
    expect(v2.nodes).toEqual(expected);
    expect(onnxOpCounts(v2.onnx)).toEqual(expected);
    expect([v2.inputShape, v2.inputZeroPointShift, v2.outputType, v2.outputOffset, v2.head]).toEqual([[1, 3, 224, 224], 0, 'uint8', 0, ['RESHAPE', 'SOFTMAX']]);
    // TF2: the int8 activations as uint8 + 128, so the leading QUANTIZE's −128 and the +128 cancel.
    const tf2 = tfliteToQLinearOnnx(new Uint8Array(readFileSync(modelPath('tf2_mobilenet_v2_1.0_224_ptq'))), 'tf2');
    expect([tf2.inputZeroPointShift, tf2.outputType, tf2.outputOffset]).toEqual([0, 'int8', -128]);
    expect(() => tfliteToQLinearOnnx(new Uint8Array(16), 'tiny.tflite')).toThrow(/tiny\.tflite/);
    expect(QLinearExportError).toBeDefined();
  });

  for (const name of SHARED_MODELS) {
    it(`${name}: ONNX Runtime gives the reference's top-1 logit on every photo, logits within ${MAX_LOGIT_LSB} LSB`, async () => {
      const bytes = new Uint8Array(readFileSync(modelPath(name)));
      const graph = new Int8Graph(bytes, name);
      const exported = tfliteToQLinearOnnx(bytes, name);
      const [, c, h, w] = exported.inputShape as [number, number, number, number];
      const session = await ort.InferenceSession.create(exported.onnx, { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
      try {
        const report: string[] = [];
        for (const photo of PHOTOS) {
          const pixels = await photoPixels(photo, h);
          const input = nhwcToNchw(qlinearInput(exported, pixels), h, w, c);
          const result = await session.run({ input: new ort.Tensor('uint8', input, exported.inputShape) });
          const theirs = Array.from(result.output!.data, (v) => v + exported.outputOffset);
          const ours = referenceTensor(graph, pixels, exported.outputTensor, exported.outputType);
          const max = maxAbsDiff(ours, theirs);
          report.push(`${photo} ${max}`);
          expect(argmax(theirs), `${name}, ${photo}: top-1`).toBe(argmax(ours));
          expect(max, `${name}, ${photo}: max |Δ| of the logits`).toBeLessThanOrEqual(MAX_LOGIT_LSB);
        }
        console.log(`ORT QLinear vs reference logits, ${name}: max |Δ| in LSB ${report.join(', ')}`);
      } finally {
        await session.release();
      }
    }, 60_000);
  }
});
