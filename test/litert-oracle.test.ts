// The integer reference (src/engine/int8, run by test/helpers/int8-mobilenet.ts) against LiteRT.js,
// Google's TFLite runtime compiled to WebAssembly (test/helpers/litert.ts), on the shared models and
// photos: the input tensor is the photo resized by the project's own decoder, as uint8 (every shared
// file takes uint8 input and gives uint8 output).
//
// What LiteRT.js runs: its CPU path is the TFLite interpreter with the XNNPACK delegate ("Created
// TensorFlow Lite XNNPACK delegate for CPU" in its log). The delegate takes CONV_2D, DEPTHWISE_CONV_2D,
// FULLY_CONNECTED, ADD and MEAN; XNNPACK requantizes through a float32 product rounded to nearest-even
// and has its own integer ADD and float MEAN (src/engine/int8/xnnpack.ts). Quantized AVERAGE_POOL_2D
// and SOFTMAX stay with TFLite. TFLite's reference kernels (the default 'tflite' rounding, which our
// reference reproduces bit for bit) requantize through a fixed-point multiplier with double rounding.
//
// Measured here operator by operator, each run on LiteRT.js's own input tensors (grace_hopper, the
// four uint8 files): with the 'tflite' rounding CONV_2D / DEPTHWISE_CONV_2D differ by at most 1 LSB on
// 0.1-12 % of the values, ADD by 1 LSB on a few; through a whole network those steps compound and the
// softmax outputs differ by up to 14 LSB (of 1/256), the same top-1. With the 'xnnpack' rounding every
// operator and every whole model (the five files × four photos, the TF2 file included) gives LiteRT.js's
// bytes exactly, on the reference and on the native kernels (the best ISA here). The operator check reads the intermediate tensors by retargeting the graph output
// (tflite-retarget.ts); LiteRT.js's JS API has no int8 tensors (float32, int32, uint8 only), so the TF2
// file, int8 inside, is checked whole.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createNativeInt8Backend } from '../src/engine/int8/native-backend.js';
import { planQuantized } from '../src/engine/int8/planner.js';
import { runQPlan } from '../src/engine/int8/reference-backend.js';
import { storageToUint8, uint8ToStorage } from '../src/engine/int8/quantize.js';
import { decodeResized } from '../src/image/decode.js';
import { parseTflite } from '../src/tflite/index.js';
import { Int8Graph, type Int8Value } from './helpers/int8-mobilenet.js';
import { loadLiteRtModel, loadLiteRtRuntime } from './helpers/litert.js';
import { imagePath, modelPath, requireShared, SHARED_MODELS } from './helpers/shared.js';
import { withGraphOutput } from './helpers/tflite-retarget.js';

const PHOTOS = ['grace_hopper.bmp', 'kite_and_cold.jpg', 'owl.jpg', 'parrot.jpg'];
/** Whole models, 'tflite' rounding: measured at most 14 (tf2, grace_hopper), 12 (v1 0.5, owl), 9 (v2, owl). */
const WHOLE_MODEL_MAX_LSB = 16;
/** The uint8 (TF1) files, whose every tensor LiteRT.js can hand out. */
const UINT8_MODELS = SHARED_MODELS.filter((name) => !name.startsWith('tf2_'));
/** Operators that only move bytes: identical in any runtime. */
const EXACT_OPS = new Set(['RESHAPE']);

/** max |a − b| over the elements, and how many differ. */
function lsbDiff(a: Uint8Array, b: Uint8Array): { max: number; count: number } {
  expect(a.length).toBe(b.length);
  let max = 0;
  let count = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d > max) max = d;
    if (d) count++;
  }
  return { max, count };
}

const argmax = (a: Uint8Array) => a.reduce((best, v, i) => (v > a[best]! ? i : best), 0);

async function photoTensor(photo: string, size: number): Promise<Uint8Array> {
  const { image } = await decodeResized(imagePath(photo), size, 'none');
  return image.data;
}

describe.runIf(requireShared())('LiteRT.js as an oracle for the integer reference', () => {
  it('loads its CPU runtime in Node, with the XNNPACK delegate', async () => {
    const { script } = await loadLiteRtRuntime();
    expect(script).toMatch(/litert_wasm_(compat_)?internal\.js$/);
    const bytes = new Uint8Array(readFileSync(modelPath('mobilenet_v1_0.25_128_quant')));
    const model = await loadLiteRtModel(bytes);
    try {
      expect(model.inputShape).toEqual([1, 128, 128, 3]);
      expect([model.inputType, model.outputType]).toEqual(['uint8', 'uint8']);
      expect((await loadLiteRtRuntime()).log.join('\n')).toContain('XNNPACK delegate for CPU');
    } finally {
      model.delete();
    }
  }, 60_000);

  for (const name of SHARED_MODELS) {
    it(`${name}: 'xnnpack' plan exact on every photo (reference and native); 'tflite' the same top-1, softmax within ${WHOLE_MODEL_MAX_LSB} LSB`, async () => {
      const bytes = new Uint8Array(readFileSync(modelPath(name)));
      const graph = new Int8Graph(bytes, name);
      const xnnpackPlan = planQuantized(parseTflite(bytes, name), name, undefined, { rounding: 'xnnpack' });
      const model = await loadLiteRtModel(bytes);
      const native = createNativeInt8Backend(xnnpackPlan, { threads: 2 });
      try {
        const report: string[] = [];
        for (const photo of PHOTOS) {
          const input = await photoTensor(photo, model.inputShape[1]!);
          const ours = graph.run(input).output;
          const theirs = await model.run(input);
          const { max, count } = lsbDiff(ours, theirs);
          report.push(`${photo} max |Δ| ${max} (${count} of ${ours.length} differ)`);
          expect(argmax(ours), `${name}, ${photo}: top-1`).toBe(argmax(theirs));
          expect(max, `${name}, ${photo}: max |Δ| in LSB`).toBeLessThanOrEqual(WHOLE_MODEL_MAX_LSB);
          const xnnpack = storageToUint8(runQPlan(xnnpackPlan, uint8ToStorage(input)));
          expect(lsbDiff(xnnpack, theirs), `${name}, ${photo}: the 'xnnpack' plan`).toEqual({ max: 0, count: 0 });
          const onNative = storageToUint8(await native.run(uint8ToStorage(input)));
          expect(lsbDiff(onNative, theirs), `${name}, ${photo}: the 'xnnpack' plan, native ${native.isa}`).toEqual({ max: 0, count: 0 });
        }
        console.log(`LiteRT.js vs reference, ${name}: ${report.join('; ')}`);
      } finally {
        model.delete();
        native.dispose();
      }
    }, 60_000);
  }

  for (const name of UINT8_MODELS) {
    it(`${name}: every operator on LiteRT.js's own inputs exact with 'xnnpack', within ±1 LSB with 'tflite'`, async () => {
      const bytes = new Uint8Array(readFileSync(modelPath(name)));
      const graph = new Int8Graph(bytes, name);
      const xnnpackGraph = new Int8Graph(bytes, name, 'xnnpack');
      const sg = graph.model.subgraphs[0]!;
      const input = await photoTensor('grace_hopper.bmp', sg.tensors[sg.inputs[0]!]!.shape[1]!);
      // LiteRT.js's value of every tensor so far, in the storage domain the reference ops take.
      const theirs = new Map<number, Int8Value>([[sg.inputs[0]!, graph.tensorValue(sg.inputs[0]!, input)]]);
      const worst = new Map<string, number>();
      let lastOut: Uint8Array = new Uint8Array();
      for (const [index, op] of sg.operators.entries()) {
        const opName = graph.model.operatorCodes[op.opcodeIndex]!.name;
        const outIndex = op.outputs[0]!;
        const model = await loadLiteRtModel(withGraphOutput(bytes, outIndex));
        const out = await model.run(input).finally(() => model.delete());
        const ours = graph.runOperator(index, theirs);
        const { max } = lsbDiff(ours, out);
        worst.set(opName, Math.max(worst.get(opName) ?? 0, max));
        expect(max, `${name} operator ${index} (${opName})`).toBeLessThanOrEqual(EXACT_OPS.has(opName) ? 0 : 1);
        const xnnpack = xnnpackGraph.runOperator(index, theirs);
        expect(lsbDiff(xnnpack, out), `${name} operator ${index} (${opName}), 'xnnpack'`).toEqual({ max: 0, count: 0 });
        theirs.set(outIndex, graph.tensorValue(outIndex, out));
        lastOut = out;
      }
      // Retargeting changes what is handed out, not what is computed: the graph output read as the
      // last operator's output is the unmodified model's output.
      const whole = await loadLiteRtModel(bytes);
      const wholeOut = await whole.run(input).finally(() => whole.delete());
      expect(lastOut).toEqual(wholeOut);
      console.log(`LiteRT.js vs reference per operator, ${name}: max |Δ| ${JSON.stringify(Object.fromEntries(worst))}`);
    }, 120_000);
  }
});
