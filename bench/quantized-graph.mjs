// What the integer peers of the benchmark (bench/xnnpack/describe.mjs, bench/onnx-qlinear-export.mjs)
// take from a quantized TFLite MobileNet, read with the project's reader: the body of operators they
// run, and TFLite's rules for padding and fused activations.
//
// - A leading QUANTIZE uint8 → int8 with the same scale (the TF2 file) is a zero-point shift of the
//   input bytes (`inputZeroPointShift`, applied by quantizedInput before the tensor is handed over).
// - The head after the last convolution / pooling (RESHAPE, SOFTMAX, a final QUANTIZE) is left out:
//   neither XNNPACK's subgraph nor ONNX has TFLite's integer SOFTMAX, so the peers end at the logits
//   tensor (`outputTensor`), which is what their outputs are compared on.
import { readModel, TensorType } from '../dist/tflite/schema.js';

const HEAD_OPS = new Set(['RESHAPE', 'SOFTMAX', 'QUANTIZE']);
const PADDING_VALID = 1; // TFLite Padding: SAME 0, VALID 1
const ACTIVATIONS = { 0: [-Infinity, Infinity], 1: [0, Infinity], 3: [0, 6] }; // NONE, RELU, RELU6

export class QuantizedGraphError extends Error {}

/**
 * The integer body of a .tflite file's subgraph 0.
 * @returns {{ model, tensors, body: { op, name }[], inputTensor: number, inputZeroPointShift: number,
 *   outputTensor: number, outputType: 'uint8' | 'int8', head: string[], counts: Record<string, number>,
 *   fail: (message: string) => never }}
 */
export function quantizedBody(tfliteBytes, name) {
  const fail = (message) => {
    throw new QuantizedGraphError(`${name}: ${message}`);
  };
  const model = readModel(tfliteBytes, name);
  const sg = model.subgraphs[0];
  if (!sg || sg.inputs.length !== 1 || sg.outputs.length !== 1) fail('expected one subgraph with one input and one output');
  const tensors = sg.tensors;
  let body = sg.operators.map((op) => ({ op, name: model.operatorCodes[op.opcodeIndex].name }));

  let inputTensor = sg.inputs[0];
  let inputZeroPointShift = 0;
  if (body.length && body[0].name === 'QUANTIZE' && body[0].op.inputs[0] === inputTensor) {
    const from = perTensorQuant(tensors[inputTensor], fail);
    const to = perTensorQuant(tensors[body[0].op.outputs[0]], fail);
    if (Math.fround(from.scale) !== Math.fround(to.scale)) fail('the leading QUANTIZE changes the scale');
    inputZeroPointShift = to.zeroPoint - from.zeroPoint;
    inputTensor = body[0].op.outputs[0];
    body = body.slice(1);
  }
  let headStart = body.length;
  while (headStart > 0 && HEAD_OPS.has(body[headStart - 1].name)) headStart--;
  const head = body.slice(headStart).map((b) => b.name);
  body = body.slice(0, headStart);
  if (!body.length) fail('no operator to run before the head');
  for (const { op, name: opName } of body) {
    for (const i of [...op.inputs, ...op.outputs]) {
      if (!tensors[i]) fail(`${opName} refers to tensor ${i}, which the graph does not have`);
    }
  }
  const outputTensor = body[body.length - 1].op.outputs[0];
  const counts = {};
  for (const b of body) counts[b.name] = (counts[b.name] ?? 0) + 1;
  const outputType = tensors[outputTensor].type === TensorType.UINT8 ? 'uint8' : 'int8';
  return { model, tensors, body, inputTensor, inputZeroPointShift, outputTensor, outputType, head, counts, fail };
}

/** The photo's uint8 NHWC bytes as the body's input tensor (two's complement bytes when int8). */
export function quantizedInput(graph, pixels) {
  const shift = graph.inputZeroPointShift;
  if (shift === 0) return pixels;
  return Uint8Array.from(pixels, (p) => (p + shift) & 0xff);
}

export function perTensorQuant(t, fail) {
  const q = t.quantization;
  if (!q || q.scale.length !== 1) fail(`tensor ${t.name}: expected per-tensor quantization`);
  return { scale: q.scale[0], zeroPoint: q.zeroPoint[0] ?? 0 };
}

/** TFLite's explicit padding [before, after] for SAME / VALID. */
export function tflitePadding(mode, inSize, outSize, kernel, stride) {
  if (mode === PADDING_VALID) return [0, 0];
  const total = Math.max((outSize - 1) * stride + kernel - inSize, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** The 8-bit range of a tensor's type. */
export function typeRange(t) {
  return t.type === TensorType.UINT8 ? [0, 255] : [-128, 127];
}

/** A fused activation as TFLite's quantized clamp [qmin, qmax] (CalculateActivationRangeQuantized). */
export function activationClamp(code, t, { scale, zeroPoint }, fail) {
  const range = ACTIVATIONS[code];
  if (!range) fail(`fused activation ${code} is not supported`);
  const [typeMin, typeMax] = typeRange(t);
  const qmin = range[0] === -Infinity ? typeMin : Math.max(typeMin, zeroPoint + Math.round(range[0] / scale));
  const qmax = range[1] === Infinity ? typeMax : Math.min(typeMax, zeroPoint + Math.round(range[1] / scale));
  return [qmin, qmax];
}

/** The values of a constant INT32 tensor, or null. */
export function constInt32s(model, t) {
  const data = model.buffers[t.buffer]?.data;
  if (!data || t.type !== TensorType.INT32) return null;
  const view = new DataView(data.buffer, data.byteOffset, data.length);
  return Array.from({ length: data.length / 4 }, (_, i) => view.getInt32(4 * i, true));
}

/** Checks a global pooling (AVERAGE_POOL_2D over the whole map, MEAN over H and W); returns C. */
export function globalPoolChannels(model, tensors, op, kind, fail) {
  const [, h, w, c] = tensors[op.inputs[0]].shape;
  const o = op.options;
  if (kind === 'AVERAGE_POOL_2D' && (o.filterH !== h || o.filterW !== w || o.activation !== 0)) fail('AVERAGE_POOL_2D: only a global pool without activation');
  if (kind === 'MEAN' && constInt32s(model, tensors[op.inputs[1]])?.slice().sort().join() !== '1,2') fail('MEAN: only over height and width');
  if (tensors[op.outputs[0]].shape.reduce((a, b) => a * b, 1) !== c) fail(`${kind}: the output is not one value per channel`);
  return c;
}
