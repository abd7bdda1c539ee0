// Writes the binary description bench/xnnpack/mobilenet-xnnpack.c builds its XNNPACK subgraph from
// (the format is at the top of that file), from a quantized TFLite MobileNet read with the project's
// reader. Every tensor keeps the file's own type, shape, scales, zero points and weights: uint8 files
// become XNNPACK qu8, int8 ones qs8 activations with per-channel (qc8) weights and biases.
//
// Operators: CONV_2D, DEPTHWISE_CONV_2D, ADD, and AVERAGE_POOL_2D / MEAN over the whole map (global
// average pooling). Around them:
// - a leading QUANTIZE uint8 → int8 with the same scale (the TF2 file) is a zero-point shift of the
//   input bytes, done by the caller (`inputZeroPointShift`) before the tensor is handed over;
// - the head after the last of those operators (RESHAPE, SOFTMAX, QUANTIZE) stays out: XNNPACK's
//   subgraph has no integer SOFTMAX, so the XNNPACK graph ends at the logits tensor (`outputTensor`).
import { readModel, TensorType } from '../../dist/tflite/schema.js';

const TYPE = { QU8: 1, QS8: 2, QC8: 3, QS32: 4, QC32: 5 };
const NODE = { CONV: 1, DEPTHWISE: 2, ADD: 3, GLOBAL_AVERAGE_POOL: 4 };
const FLAG_INPUT = 1;
const FLAG_OUTPUT = 2;
const NO_VALUE = 0xffffffff;
const HEAD_OPS = new Set(['RESHAPE', 'SOFTMAX', 'QUANTIZE']);
const PADDING_VALID = 1; // TFLite Padding: SAME 0, VALID 1
const ACTIVATIONS = { 0: [-Infinity, Infinity], 1: [0, Infinity], 3: [0, 6] }; // NONE, RELU, RELU6

export class XnnpackDescribeError extends Error {}

/**
 * The description of a .tflite file's integer network for the XNNPACK peer.
 * @returns {{ bytes: Uint8Array, inputTensor: number, inputZeroPointShift: number, outputTensor: number,
 *   outputType: 'uint8' | 'int8', head: string[], nodes: Record<string, number> }}
 *   tensors are indices into the file's subgraph 0.
 */
export function describeForXnnpack(tfliteBytes, name) {
  const model = readModel(tfliteBytes, name);
  const sg = model.subgraphs[0];
  if (!sg || sg.inputs.length !== 1 || sg.outputs.length !== 1) throw new XnnpackDescribeError(`${name}: expected one subgraph with one input and one output`);
  const fail = (message) => {
    throw new XnnpackDescribeError(`${name}: ${message}`);
  };
  const opName = (op) => model.operatorCodes[op.opcodeIndex].name;
  const tensor = (i) => sg.tensors[i];

  let ops = sg.operators;
  let inputTensor = sg.inputs[0];
  let inputZeroPointShift = 0;
  if (ops.length && opName(ops[0]) === 'QUANTIZE' && ops[0].inputs[0] === inputTensor) {
    const from = quant(tensor(inputTensor), fail);
    const to = quant(tensor(ops[0].outputs[0]), fail);
    if (Math.fround(from.scale) !== Math.fround(to.scale)) fail('the leading QUANTIZE changes the scale');
    inputZeroPointShift = to.zeroPoint - from.zeroPoint;
    inputTensor = ops[0].outputs[0];
    ops = ops.slice(1);
  }
  let headStart = ops.length;
  while (headStart > 0 && HEAD_OPS.has(opName(ops[headStart - 1]))) headStart--;
  const head = ops.slice(headStart).map(opName);
  ops = ops.slice(0, headStart);
  if (!ops.length) fail('no operator XNNPACK can run');
  const outputTensor = ops[ops.length - 1].outputs[0];

  const tensors = []; // the description's tensors, in order
  const indexOf = new Map(); // file tensor index → description index
  const nodes = [];
  const use = (fileIndex, role, extra = {}) => {
    if (indexOf.has(fileIndex)) return indexOf.get(fileIndex);
    const flags = fileIndex === inputTensor ? FLAG_INPUT : fileIndex === outputTensor ? FLAG_OUTPUT : 0;
    tensors.push(describeTensor(model, tensor(fileIndex), role, flags, extra, fail));
    indexOf.set(fileIndex, tensors.length - 1);
    return tensors.length - 1;
  };
  const counts = {};

  const operands = { CONV_2D: 3, DEPTHWISE_CONV_2D: 3, ADD: 2, AVERAGE_POOL_2D: 1, MEAN: 2 };
  for (const op of ops) {
    const kind = opName(op);
    if (!(kind in operands)) fail(`operator ${kind} is not supported by the XNNPACK peer`);
    if (op.inputs.length !== operands[kind] || op.outputs.length !== 1) fail(`${kind}: ${op.inputs.length} inputs and ${op.outputs.length} outputs`);
    for (const i of [...op.inputs, ...op.outputs]) {
      if (!tensor(i)) fail(`${kind} refers to tensor ${i}, which the graph does not have`);
    }
    counts[kind] = (counts[kind] ?? 0) + 1;
    const o = op.options;
    const out = tensor(op.outputs[0]);
    const outQuant = quant(out, fail);
    const node = { inputs: [NO_VALUE, NO_VALUE, NO_VALUE], pads: [0, 0, 0, 0], kernel: [0, 0], stride: [0, 0] };
    if (kind === 'CONV_2D' || kind === 'DEPTHWISE_CONV_2D') {
      if (o.dilationH !== 1 || o.dilationW !== 1) fail(`${kind}: dilation is not supported`);
      if (kind === 'DEPTHWISE_CONV_2D' && tensor(op.inputs[1]).shape[3] !== tensor(op.inputs[0]).shape[3]) {
        fail('DEPTHWISE_CONV_2D: depth multiplier other than 1');
      }
      const [, inH, inW] = tensor(op.inputs[0]).shape;
      const [, kh, kw] = tensor(op.inputs[1]).shape;
      const [, outH, outW] = out.shape;
      const [top, bottom] = padding(o.padding, inH, outH, kh, o.strideH);
      const [left, right] = padding(o.padding, inW, outW, kw, o.strideW);
      node.kind = kind === 'CONV_2D' ? NODE.CONV : NODE.DEPTHWISE;
      const channelDim = kind === 'CONV_2D' ? 0 : 3;
      node.inputs = [use(op.inputs[0], 'activation'), use(op.inputs[1], 'filter', { channelDim }), use(op.inputs[2], 'bias')];
      node.pads = [top, right, bottom, left];
      node.kernel = [kh, kw];
      node.stride = [o.strideH, o.strideW];
      node.range = activationRange(o.activation, out, outQuant, fail);
    } else if (kind === 'ADD') {
      node.kind = NODE.ADD;
      node.inputs = [use(op.inputs[0], 'activation'), use(op.inputs[1], 'activation'), NO_VALUE];
      node.range = activationRange(o.activation, out, outQuant, fail);
    } else if (kind === 'AVERAGE_POOL_2D' || kind === 'MEAN') {
      const [, h, w, c] = tensor(op.inputs[0]).shape;
      if (kind === 'AVERAGE_POOL_2D' && (o.filterH !== h || o.filterW !== w || o.activation !== 0)) fail('AVERAGE_POOL_2D: only a global pool without activation');
      if (kind === 'MEAN') {
        const axes = constInt32s(model, tensor(op.inputs[1]));
        if (axes?.slice().sort().join() !== '1,2') fail('MEAN: only over height and width');
      }
      if (out.shape.reduce((a, b) => a * b, 1) !== c) fail(`${kind}: the output is not one value per channel`);
      node.kind = NODE.GLOBAL_AVERAGE_POOL;
      node.inputs = [use(op.inputs[0], 'activation'), NO_VALUE, NO_VALUE];
      node.range = activationRange(0, out, outQuant, fail);
      // XNNPACK wants [N, 1, 1, C] whatever rank the file gives the pooled tensor.
      node.outputShape = [1, 1, 1, c];
    }
    node.output = use(op.outputs[0], 'activation', node.outputShape ? { shape: node.outputShape } : {});
    nodes.push(node);
  }
  if (!indexOf.has(inputTensor)) fail('the graph input is not used');

  const outType = tensor(outputTensor).type === TensorType.UINT8 ? 'uint8' : 'int8';
  return { bytes: encode(tensors, nodes), inputTensor, inputZeroPointShift, outputTensor, outputType: outType, head, nodes: counts };
}

function quant(t, fail) {
  const q = t.quantization;
  if (!q || q.scale.length !== 1) fail(`tensor ${t.name}: expected per-tensor quantization`);
  return { scale: q.scale[0], zeroPoint: q.zeroPoint[0] ?? 0 };
}

/** TFLite's explicit padding [before, after] for SAME / VALID. */
function padding(mode, inSize, outSize, kernel, stride) {
  if (mode === PADDING_VALID) return [0, 0];
  const total = Math.max((outSize - 1) * stride + kernel - inSize, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * The fused activation as the real range XNNPACK takes: TFLite's quantized clamp
 * (CalculateActivationRangeQuantized) turned back into reals, which XNNPACK quantizes again to the
 * same integers.
 */
function activationRange(code, t, { scale, zeroPoint }, fail) {
  const range = ACTIVATIONS[code];
  if (!range) fail(`fused activation ${code} is not supported`);
  const [typeMin, typeMax] = t.type === TensorType.UINT8 ? [0, 255] : [-128, 127];
  const qmin = Math.max(typeMin, range[0] === -Infinity ? typeMin : zeroPoint + Math.round(range[0] / scale));
  const qmax = Math.min(typeMax, range[1] === Infinity ? typeMax : zeroPoint + Math.round(range[1] / scale));
  return [(qmin - zeroPoint) * scale, (qmax - zeroPoint) * scale];
}

function constInt32s(model, t) {
  const data = model.buffers[t.buffer]?.data;
  if (!data || t.type !== TensorType.INT32) return null;
  const view = new DataView(data.buffer, data.byteOffset, data.length);
  return Array.from({ length: data.length / 4 }, (_, i) => view.getInt32(4 * i, true));
}

function describeTensor(model, t, role, flags, { channelDim = 0, shape = t.shape }, fail) {
  const q = t.quantization;
  if (!q || !q.scale.length) fail(`tensor ${t.name}: not quantized`);
  const perChannel = q.scale.length > 1;
  const zeroPoints = q.zeroPoint.length ? q.zeroPoint : [0];
  let type;
  if (role === 'bias') {
    if (t.type !== TensorType.INT32) fail(`bias ${t.name}: expected int32`);
    if (zeroPoints.some((z) => z !== 0)) fail(`bias ${t.name}: non-zero zero point`);
    type = perChannel ? TYPE.QC32 : TYPE.QS32;
    channelDim = 0;
  } else if (t.type === TensorType.UINT8) {
    if (perChannel) fail(`tensor ${t.name}: per-channel uint8`);
    type = TYPE.QU8;
  } else if (t.type === TensorType.INT8) {
    if (perChannel && role !== 'filter') fail(`tensor ${t.name}: per-channel activation`);
    if (role === 'filter' && zeroPoints.some((z) => z !== 0)) fail(`filter ${t.name}: XNNPACK takes symmetric int8 weights only`);
    if (perChannel && q.quantizedDimension !== channelDim) fail(`filter ${t.name}: quantized along dimension ${q.quantizedDimension}, expected ${channelDim}`);
    type = perChannel ? TYPE.QC8 : TYPE.QS8;
  } else {
    fail(`tensor ${t.name}: type ${t.type} is not an 8-bit integer`);
  }
  const constant = role === 'filter' || role === 'bias';
  const data = constant ? model.buffers[t.buffer]?.data : null;
  if (constant && !data) fail(`tensor ${t.name}: constant without data`);
  return { type, shape, flags, channelDim: perChannel ? channelDim : 0, zeroPoint: perChannel ? 0 : zeroPoints[0], scales: Array.from(q.scale), data };
}

function encode(tensors, nodes) {
  const chunks = [];
  const u32s = (...values) => {
    const b = new Uint8Array(4 * values.length);
    const view = new DataView(b.buffer);
    values.forEach((v, i) => view.setUint32(4 * i, v >>> 0, true));
    chunks.push(b);
  };
  const f32s = (...values) => {
    const b = new Uint8Array(4 * values.length);
    const view = new DataView(b.buffer);
    values.forEach((v, i) => view.setFloat32(4 * i, v, true));
    chunks.push(b);
  };
  chunks.push(new TextEncoder().encode('MNXQ'));
  u32s(1, tensors.length, nodes.length);
  for (const t of tensors) {
    chunks.push(Uint8Array.of(t.type, t.shape.length, t.flags, t.channelDim));
    u32s(...t.shape, t.zeroPoint, t.scales.length);
    f32s(...t.scales);
    u32s(t.data ? t.data.length : 0);
    if (t.data) {
      chunks.push(t.data);
      chunks.push(new Uint8Array((4 - (t.data.length % 4)) % 4));
    }
  }
  for (const n of nodes) {
    u32s(n.kind, ...n.inputs, n.output, ...n.pads, ...n.kernel, ...n.stride);
    f32s(...n.range);
  }
  const out = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}
