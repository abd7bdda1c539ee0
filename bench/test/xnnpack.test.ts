// The XNNPACK peer (bench/xnnpack: describe.mjs writes the network, mobilenet-xnnpack.c runs it with
// XNNPACK's subgraph API) must compute the shared models as TFLite defines them before its times mean
// anything. Checked on the logits tensor (the XNNPACK graph ends there: its subgraph has no integer
// SOFTMAX) against the integer reference (bit-exact with TFLite's reference kernels) and against
// LiteRT.js, whose CPU path is TFLite with the XNNPACK delegate.
//
// Measured (2022 Debian XNNPACK, AVX-512 machine): logits within 2-7 LSB of the reference, 40-80 % of
// them differing, same top-1 on every photo: XNNPACK rounds each CONV_2D / DEPTHWISE_CONV_2D
// requantization from a float product (at most 1 LSB from TFLite's fixed-point rule per operator, see
// test/litert-oracle.test.ts) and the steps compound through the network. Against LiteRT.js: equal
// on v2, within 1 LSB on v1.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeForXnnpack, XnnpackDescribeError, xnnpackInput } from '../xnnpack/describe.mjs';
import { XnnpackPeer, xnnpackBuilt } from '../xnnpack/peer.mjs';
import { BuiltinOperator, TensorType } from '../../src/tflite/schema.js';
import { Int8Graph } from '../../test/helpers/int8-mobilenet.js';
import { loadLiteRtModel } from '../../test/helpers/litert.js';
import { modelPath, requireShared, SHARED_MODELS } from '../../test/helpers/shared.js';
import { withGraphOutput } from '../../test/helpers/tflite-retarget.js';
import { writeTflite } from '../../test/helpers/tflite-writer.js';
import { argmax, maxAbsDiff, photoPixels, PHOTOS, referenceTensor } from './helpers/int8-reference.js';

/** Logits against the reference: measured at most 7 (v2 and tf2, kite_and_cold). */
const MAX_LOGIT_LSB = 8;

describe.runIf(requireShared())('the XNNPACK description of the shared models', () => {
  it('maps every operator up to the logits, with a leading QUANTIZE as an input shift', () => {
    const v2 = describeForXnnpack(new Uint8Array(readFileSync(modelPath('mobilenet_v2_1.0_224_quant'))), 'v2');
    expect(v2.nodes).toEqual({ CONV_2D: 36, DEPTHWISE_CONV_2D: 17, ADD: 10, AVERAGE_POOL_2D: 1 });
    expect([v2.head, v2.inputZeroPointShift, v2.outputType]).toEqual([['RESHAPE', 'SOFTMAX'], 0, 'uint8']);
    const tf2 = describeForXnnpack(new Uint8Array(readFileSync(modelPath('tf2_mobilenet_v2_1.0_224_ptq'))), 'tf2');
    expect(tf2.nodes).toEqual({ CONV_2D: 36, DEPTHWISE_CONV_2D: 17, ADD: 10, MEAN: 1 });
    // uint8 zero point 127 → int8 zero point −1, same scale.
    expect([tf2.head, tf2.inputZeroPointShift, tf2.outputType]).toEqual([['RESHAPE', 'SOFTMAX', 'QUANTIZE'], -128, 'int8']);
    expect(Array.from(xnnpackInput(tf2, Uint8Array.of(0, 127, 128, 255)))).toEqual([128, 255, 0, 127]);
  });

  it('refuses what it cannot map with an error naming the file and the problem', () => {
    // uint8 x · x: an operator the peer does not map.
    const q = { scale: [0.5], zeroPoint: [128] };
    const uint8 = { shape: [1, 4, 4, 8], type: TensorType.UINT8, quantization: q };
    const square = writeTflite({
      opcodes: [BuiltinOperator.MUL],
      tensors: [uint8, uint8],
      inputs: [0],
      outputs: [1],
      operators: [{ opcode: BuiltinOperator.MUL, inputs: [0, 0], outputs: [1] }],
      buffers: [null],
    });
    expect(() => describeForXnnpack(square, 'mul.tflite')).toThrow(XnnpackDescribeError);
    expect(() => describeForXnnpack(square, 'mul.tflite')).toThrow(/mul\.tflite: operator MUL is not supported/);
    const bytes = new Uint8Array(readFileSync(modelPath('mobilenet_v1_0.25_128_quant')));
    expect(() => describeForXnnpack(bytes.subarray(0, 1000), 'cut.tflite')).toThrow(/cut\.tflite/);
  });
});

describe.skipIf(!xnnpackBuilt())('the XNNPACK peer program (built by bench/setup.mjs when XNNPACK is installed)', () => {
  describe.runIf(requireShared())('on the shared models and photos', () => {
    for (const name of SHARED_MODELS) {
      it(`${name}: the same top-1 logit as the integer reference on every photo, logits within ${MAX_LOGIT_LSB} LSB`, async () => {
        const bytes = new Uint8Array(readFileSync(modelPath(name)));
        const graph = new Int8Graph(bytes, name);
        const description = describeForXnnpack(bytes, name);
        const sg = graph.model.subgraphs[0]!;
        const size = sg.tensors[sg.inputs[0]!]!.shape[1]!;
        const peer = await XnnpackPeer.start(description.bytes, 1);
        try {
          const report: string[] = [];
          for (const photo of PHOTOS) {
            const pixels = await photoPixels(photo, size);
            await peer.setInput(xnnpackInput(description, pixels));
            await peer.run(1);
            const theirs = await peer.output();
            const ours = referenceTensor(graph, pixels, description.outputTensor, description.outputType);
            const max = maxAbsDiff(ours, theirs);
            report.push(`${photo} ${max}`);
            expect(argmax(theirs), `${name}, ${photo}: top-1`).toBe(argmax(ours));
            expect(max, `${name}, ${photo}: max |Δ| of the logits`).toBeLessThanOrEqual(MAX_LOGIT_LSB);
          }
          console.log(`XNNPACK vs reference logits, ${name}: max |Δ| in LSB ${report.join(', ')}`);
        } finally {
          peer.close();
        }
      }, 60_000);
    }

    it('gives the logits LiteRT.js gives (its CPU path is XNNPACK) within 1 LSB on the uint8 files', async () => {
      for (const name of SHARED_MODELS.filter((n) => !n.startsWith('tf2_'))) {
        const bytes = new Uint8Array(readFileSync(modelPath(name)));
        const description = describeForXnnpack(bytes, name);
        const peer = await XnnpackPeer.start(description.bytes, 2);
        const litert = await loadLiteRtModel(withGraphOutput(bytes, description.outputTensor));
        try {
          const pixels = await photoPixels('grace_hopper.bmp', litert.inputShape[1]!);
          await peer.setInput(xnnpackInput(description, pixels));
          await peer.run(1);
          expect(maxAbsDiff(await peer.output(), await litert.run(pixels)), name).toBeLessThanOrEqual(1);
        } finally {
          peer.close();
          litert.delete();
        }
      }
    }, 60_000);
  });

  it('refuses a damaged description or a wrong input with a message, not a crash', async () => {
    const good = describeForXnnpack(new Uint8Array(readFileSync(modelPath('mobilenet_v1_0.25_128_quant'))), 'v1');
    await expect(XnnpackPeer.start(good.bytes.subarray(0, 5000), 1)).rejects.toThrow(/description truncated/);
    const badMagic = good.bytes.slice();
    badMagic[0] = 0;
    await expect(XnnpackPeer.start(badMagic, 1)).rejects.toThrow(/not a description/);
    const huge = good.bytes.slice();
    new DataView(huge.buffer).setUint32(8, 1e9, true); // tensor count
    await expect(XnnpackPeer.start(huge, 1)).rejects.toThrow(/more than 4096 tensors/);
    const peer = await XnnpackPeer.start(good.bytes, 1);
    try {
      await expect(peer.setInput(new Uint8Array(10))).rejects.toThrow(/input bytes/);
      await peer.setInput(new Uint8Array(peer.info.input_bytes));
      expect((await peer.run(3)).length).toBe(3);
    } finally {
      peer.close();
    }
  }, 60_000);
});
