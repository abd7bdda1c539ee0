// Exports a quantized TFLite MobileNet as an integer ONNX model for ONNX Runtime, with the file's own
// weights, scales and zero points: CONV_2D / DEPTHWISE_CONV_2D → QLinearConv (group = C for the
// depthwise ones; int32 bias as the file has it), ADD → com.microsoft QLinearAdd, AVERAGE_POOL_2D /
// MEAN over the whole map → com.microsoft QLinearGlobalAveragePool; a fused activation whose clamp
// is narrower than the 8-bit type becomes a Clip (on the real files every ReLU6 output scale is
// 6/255, so the type's own saturation is the clamp and no Clip is written).
//
// Activations are uint8, weights keep the file's type: uint8 (TF1) files as they are; an int8 (TF2)
// file's activations become uint8 q + 128 with zero point + 128, the same integer arithmetic (every
// operator sees the same q − zero point; clamps move by 128), weights stay int8 per-channel. That is
// ONNX Runtime's fast x86 path (u8 activations × s8 weights) and what its own quantizer writes; with
// int8 activations its QLinearConv measured 5× slower here.
//
// The graph is the integer body of bench/quantized-graph.mjs: it takes `input`, NCHW uint8 (a leading
// QUANTIZE and the +128 applied to the bytes beforehand, see qlinearInput) and gives `output`
// [1, classes], the logits flattened, uint8 (add `outputOffset` for the file's value); ONNX has no
// integer SOFTMAX with TFLite's rounding, so the head stays out.
import { DT, writeModel } from './onnx-proto.mjs';
import {
  activationClamp, globalPoolChannels, perTensorQuant, quantizedBody, quantizedInput, tflitePadding, typeRange,
} from './quantized-graph.mjs';
import { TensorType } from '../dist/tflite/schema.js';

export { QuantizedGraphError as QLinearExportError } from './quantized-graph.mjs';

const MS = 'com.microsoft';
const OPERANDS = { CONV_2D: 3, DEPTHWISE_CONV_2D: 3, ADD: 2, AVERAGE_POOL_2D: 1, MEAN: 2 };

/** [O, kh, kw, I] → [O, I, kh, kw]. */
function ohwiToOihw(w, o, kh, kw, i) {
  const out = new w.constructor(w.length);
  for (let oc = 0; oc < o; oc++) {
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        for (let ic = 0; ic < i; ic++) out[((oc * i + ic) * kh + y) * kw + x] = w[((oc * kh + y) * kw + x) * i + ic];
      }
    }
  }
  return out;
}

/** Depthwise [1, kh, kw, C] → [C, 1, kh, kw]. */
function depthwiseToC1hw(w, kh, kw, c) {
  const out = new w.constructor(w.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let ch = 0; ch < c; ch++) out[(ch * kh + y) * kw + x] = w[(y * kw + x) * c + ch];
    }
  }
  return out;
}

/** The photo's uint8 NHWC bytes as the ONNX graph's uint8 input. */
export function qlinearInput(exported, pixels) {
  return quantizedInput(exported, pixels);
}

/** How far an activation's uint8 value here lies above the file's: 128 for int8 tensors. */
const uint8Shift = (t) => (t.type === TensorType.INT8 ? 128 : 0);

/**
 * The ONNX model of a .tflite file's integer body, and what the caller needs to feed it and read it
 * (types: onnx-qlinear-export.d.mts).
 */
export function tfliteToQLinearOnnx(tfliteBytes, name) {
  const graph = quantizedBody(tfliteBytes, name);
  const { model, tensors, fail } = graph;
  const nodes = [];
  const initializers = [];
  const names = new Map(); // file tensor index → ONNX value name
  let counter = 0;
  const constant = (prefix, dims, data) => {
    const id = `${prefix}_${counter++}`;
    initializers.push({ name: id, dims, data });
    return id;
  };
  const node = (op, inputs, attrs, domain) => {
    const output = `${op.toLowerCase()}_${counter++}`;
    nodes.push({ name: `${output}_node`, op, inputs, outputs: [output], attrs, domain });
    return output;
  };
  const eightBit = (t) => t.type === TensorType.UINT8 || t.type === TensorType.INT8 || fail(`tensor ${t.name}: not an 8-bit integer`);
  /** [scale, zero point] initializers of a per-tensor quantized activation (as uint8), shared by its uses. */
  const qparamsCache = new Map();
  const qparams = (index) => {
    if (!qparamsCache.has(index)) {
      const t = tensors[index];
      const { scale, zeroPoint } = perTensorQuant(t, fail);
      eightBit(t);
      qparamsCache.set(index, [constant('scale', [], Float32Array.of(scale)), constant('zp', [], Uint8Array.of(zeroPoint + uint8Shift(t)))]);
    }
    return qparamsCache.get(index);
  };
  const value = (index) => names.get(index) ?? fail(`tensor ${tensors[index].name} is used before it is computed`);

  const inT = tensors[graph.inputTensor];
  const [, h, w, c] = inT.shape;
  names.set(graph.inputTensor, 'input');

  for (const { op, name: kind } of graph.body) {
    if (!(kind in OPERANDS)) fail(`operator ${kind} is not supported by the QLinear export`);
    if (op.inputs.length !== OPERANDS[kind] || op.outputs.length !== 1) fail(`${kind}: ${op.inputs.length} inputs and ${op.outputs.length} outputs`);
    const o = op.options;
    const outIndex = op.outputs[0];
    const out = tensors[outIndex];
    let y;
    let activation = 0;
    if (kind === 'CONV_2D' || kind === 'DEPTHWISE_CONV_2D') {
      if (o.dilationH !== 1 || o.dilationW !== 1) fail(`${kind}: dilation is not supported`);
      const [, inH, inW, inC] = tensors[op.inputs[0]].shape;
      const filter = tensors[op.inputs[1]];
      const [fo, kh, kw, fi] = filter.shape;
      const [, outH, outW, outC] = out.shape;
      const depthwise = kind === 'DEPTHWISE_CONV_2D';
      if (depthwise ? fi !== inC || outC !== inC : fi !== inC || fo !== outC) fail(`${kind}: filter ${filter.shape} does not fit`);
      const wq = filter.quantization;
      const perChannel = wq.scale.length > 1;
      if (perChannel && wq.quantizedDimension !== (depthwise ? 3 : 0)) fail(`${kind}: weights quantized along dimension ${wq.quantizedDimension}`);
      const raw = model.buffers[filter.buffer]?.data ?? fail(`${kind}: weights without data`);
      eightBit(filter);
      const Weights = filter.type === TensorType.UINT8 ? Uint8Array : Int8Array;
      const weights = new Weights(raw.buffer, raw.byteOffset, raw.length);
      const oihw = depthwise ? depthwiseToC1hw(weights, kh, kw, inC) : ohwiToOihw(weights, fo, kh, kw, fi);
      const wDims = depthwise ? [inC, 1, kh, kw] : [fo, fi, kh, kw];
      const zps = wq.zeroPoint.length ? wq.zeroPoint : [0];
      const wScale = perChannel ? constant('w_scale', [outC], Float32Array.from(wq.scale)) : constant('w_scale', [], Float32Array.of(wq.scale[0]));
      const wZp = perChannel ? constant('w_zp', [outC], Weights.from(zps)) : constant('w_zp', [], Weights.of(zps[0]));
      const biasT = tensors[op.inputs[2]];
      const biasRaw = model.buffers[biasT.buffer]?.data ?? fail(`${kind}: bias without data`);
      if (biasT.type !== TensorType.INT32 || biasRaw.length !== outC * 4) fail(`${kind}: expected an int32 bias of ${outC}`);
      const bias = new Int32Array(outC);
      const biasView = new DataView(biasRaw.buffer, biasRaw.byteOffset, biasRaw.length);
      for (let i = 0; i < outC; i++) bias[i] = biasView.getInt32(4 * i, true);
      const [top, bottom] = tflitePadding(o.padding, inH, outH, kh, o.strideH);
      const [left, right] = tflitePadding(o.padding, inW, outW, kw, o.strideW);
      y = node('QLinearConv', [
        value(op.inputs[0]), ...qparams(op.inputs[0]), constant('w', wDims, oihw), wScale, wZp, ...qparams(outIndex), constant('b', [outC], bias),
      ], { kernel_shape: [kh, kw], strides: [o.strideH, o.strideW], pads: [top, left, bottom, right], dilations: [1, 1], group: depthwise ? inC : 1 });
      activation = o.activation;
    } else if (kind === 'ADD') {
      y = node('QLinearAdd', [value(op.inputs[0]), ...qparams(op.inputs[0]), value(op.inputs[1]), ...qparams(op.inputs[1]), ...qparams(outIndex)], {}, MS);
      activation = o.activation;
    } else {
      globalPoolChannels(model, tensors, op, kind, fail);
      y = node('QLinearGlobalAveragePool', [value(op.inputs[0]), ...qparams(op.inputs[0]), ...qparams(outIndex)], { channels_last: 0 }, MS);
    }
    const [qmin, qmax] = activationClamp(activation, out, perTensorQuant(out, fail), fail);
    const [typeMin, typeMax] = typeRange(out);
    if (qmin !== typeMin || qmax !== typeMax) {
      const shift = uint8Shift(out);
      y = node('Clip', [y, constant('clip_min', [], Uint8Array.of(qmin + shift)), constant('clip_max', [], Uint8Array.of(qmax + shift))]);
    }
    names.set(outIndex, y);
  }

  const logits = tensors[graph.outputTensor];
  const classes = logits.shape.reduce((a, b) => a * b, 1);
  node('Flatten', [value(graph.outputTensor)], { axis: 1 });
  nodes[nodes.length - 1].outputs[0] = 'output';
  const onnx = writeModel({
    nodes,
    initializers,
    input: { name: 'input', dims: [1, c, h, w], elemType: DT.UINT8 },
    output: { name: 'output', dims: [1, classes], elemType: DT.UINT8 },
    opsets: { '': 13, [MS]: 1 },
  });
  const counts = {};
  for (const n of nodes) {
    const key = n.domain ? `${n.domain}:${n.op}` : n.op;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return {
    onnx,
    inputShape: [1, c, h, w],
    inputZeroPointShift: (graph.inputZeroPointShift + uint8Shift(inT)) % 256,
    outputTensor: graph.outputTensor,
    outputType: graph.outputType,
    outputOffset: logits.type === TensorType.INT8 ? -128 : 0,
    head: graph.head,
    nodes: counts,
  };
}
