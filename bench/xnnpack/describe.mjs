// Writes the binary description bench/xnnpack/mobilenet-xnnpack.c builds its XNNPACK subgraph from
// (the format is at the top of that file), from a quantized TFLite MobileNet. Every tensor keeps the
// file's own type, shape, scales, zero points and weights: uint8 files become XNNPACK qu8, int8 ones
// qs8 activations with per-channel (qc8) weights and biases.
//
// Operators: CONV_2D, DEPTHWISE_CONV_2D, ADD, and AVERAGE_POOL_2D / MEAN over the whole map (global
// average pooling): the integer body of bench/quantized-graph.mjs, from the input (after a leading
// QUANTIZE, applied to the input bytes) to the logits.
import { TensorType } from '../../dist/tflite/schema.js';
import {
  activationClamp, globalPoolChannels, perTensorQuant, QuantizedGraphError, quantizedBody, quantizedInput, tflitePadding,
} from '../quantized-graph.mjs';

export { QuantizedGraphError as XnnpackDescribeError, quantizedInput as xnnpackInput };

const TYPE = { QU8: 1, QS8: 2, QC8: 3, QS32: 4, QC32: 5 };
const NODE = { CONV: 1, DEPTHWISE: 2, ADD: 3, GLOBAL_AVERAGE_POOL: 4 };
const FLAG_INPUT = 1;
const FLAG_OUTPUT = 2;
const NO_VALUE = 0xffffffff;
const OPERANDS = { CONV_2D: 3, DEPTHWISE_CONV_2D: 3, ADD: 2, AVERAGE_POOL_2D: 1, MEAN: 2 };

/**
 * The description of a .tflite file's integer network for the XNNPACK peer (types: describe.d.mts).
 */
export function describeForXnnpack(tfliteBytes, name) {
  const graph = quantizedBody(tfliteBytes, name);
  const { model, tensors, inputTensor, outputTensor, fail } = graph;

  const described = []; // the description's tensors, in order
  const indexOf = new Map(); // file tensor index → description index
  const use = (fileIndex, role, extra = {}) => {
    if (indexOf.has(fileIndex)) return indexOf.get(fileIndex);
    const flags = fileIndex === inputTensor ? FLAG_INPUT : fileIndex === outputTensor ? FLAG_OUTPUT : 0;
    described.push(describeTensor(model, tensors[fileIndex], role, flags, extra, fail));
    indexOf.set(fileIndex, described.length - 1);
    return described.length - 1;
  };

  const nodes = [];
  for (const { op, name: kind } of graph.body) {
    if (!(kind in OPERANDS)) fail(`operator ${kind} is not supported by the XNNPACK peer`);
    if (op.inputs.length !== OPERANDS[kind] || op.outputs.length !== 1) fail(`${kind}: ${op.inputs.length} inputs and ${op.outputs.length} outputs`);
    const o = op.options;
    const out = tensors[op.outputs[0]];
    const outQuant = perTensorQuant(out, fail);
    const node = { inputs: [NO_VALUE, NO_VALUE, NO_VALUE], pads: [0, 0, 0, 0], kernel: [0, 0], stride: [0, 0] };
    let outShape = out.shape;
    let activation = 0;
    if (kind === 'CONV_2D' || kind === 'DEPTHWISE_CONV_2D') {
      if (o.dilationH !== 1 || o.dilationW !== 1) fail(`${kind}: dilation is not supported`);
      const [, inH, inW, inC] = tensors[op.inputs[0]].shape;
      const [, kh, kw, filterC] = tensors[op.inputs[1]].shape;
      if (kind === 'DEPTHWISE_CONV_2D' && filterC !== inC) fail('DEPTHWISE_CONV_2D: depth multiplier other than 1');
      const [, outH, outW] = out.shape;
      const [top, bottom] = tflitePadding(o.padding, inH, outH, kh, o.strideH);
      const [left, right] = tflitePadding(o.padding, inW, outW, kw, o.strideW);
      node.kind = kind === 'CONV_2D' ? NODE.CONV : NODE.DEPTHWISE;
      const channelDim = kind === 'CONV_2D' ? 0 : 3;
      node.inputs = [use(op.inputs[0], 'activation'), use(op.inputs[1], 'filter', { channelDim }), use(op.inputs[2], 'bias')];
      node.pads = [top, right, bottom, left];
      node.kernel = [kh, kw];
      node.stride = [o.strideH, o.strideW];
      activation = o.activation;
    } else if (kind === 'ADD') {
      node.kind = NODE.ADD;
      node.inputs = [use(op.inputs[0], 'activation'), use(op.inputs[1], 'activation'), NO_VALUE];
      activation = o.activation;
    } else {
      // XNNPACK wants [N, 1, 1, C] whatever rank the file gives the pooled tensor.
      outShape = [1, 1, 1, globalPoolChannels(model, tensors, op, kind, fail)];
      node.kind = NODE.GLOBAL_AVERAGE_POOL;
      node.inputs = [use(op.inputs[0], 'activation'), NO_VALUE, NO_VALUE];
    }
    // XNNPACK takes the clamp as reals and quantizes them again, to the same integers.
    const [qmin, qmax] = activationClamp(activation, out, outQuant, fail);
    node.range = [(qmin - outQuant.zeroPoint) * outQuant.scale, (qmax - outQuant.zeroPoint) * outQuant.scale];
    node.output = use(op.outputs[0], 'activation', { shape: outShape });
    nodes.push(node);
  }
  if (!indexOf.has(inputTensor)) fail('the graph input is not used');
  return {
    bytes: encode(described, nodes),
    inputTensor,
    inputZeroPointShift: graph.inputZeroPointShift,
    outputTensor,
    outputType: graph.outputType,
    head: graph.head,
    nodes: graph.counts,
  };
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
