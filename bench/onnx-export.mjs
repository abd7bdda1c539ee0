// Exports one of our execution plans (src/engine/plan.ts) as an ONNX model with exactly the same
// network and weights, so that ONNX Runtime can be benchmarked against our native backend on equal
// terms. The protobuf is written by hand (bench/onnx-proto.mjs).
//
// The ONNX graph takes `input` as NCHW float [1, 3, H, W] (ORT's native layout) and produces
// `output` [1, classes] (the softmax, or whatever the plan's last step is). Our layouts are NHWC
// with conv weights [O, kh, kw, I], depthwise [kh, kw, C], pointwise/fc [O, I]; ONNX Conv wants
// OIHW, so weights are transposed here. TF SAME padding becomes explicit `pads`.

import { nhwcToNchw, onnxOpCounts, writeModel } from './onnx-proto.mjs';

export { nhwcToNchw, onnxOpCounts };

const ACT_NONE = 0;
const ACT_RELU = 1;
const ACT_RELU6 = 2;

// ---- plan → graph ------------------------------------------------------------------------------

/** [O, kh, kw, I] → [O, I, kh, kw]. */
function ohwiToOihw(weights, o, k, i) {
  const out = new Float32Array(weights.length);
  for (let oc = 0; oc < o; oc++) {
    for (let y = 0; y < k; y++) {
      for (let x = 0; x < k; x++) {
        for (let ic = 0; ic < i; ic++) out[((oc * i + ic) * k + y) * k + x] = weights[((oc * k + y) * k + x) * i + ic];
      }
    }
  }
  return out;
}

/** Depthwise [kh, kw, C] → [C, 1, kh, kw]. */
function hwcToC1hw(weights, k, c) {
  const out = new Float32Array(weights.length);
  for (let y = 0; y < k; y++) {
    for (let x = 0; x < k; x++) {
      for (let ch = 0; ch < c; ch++) out[(ch * k + y) * k + x] = weights[(y * k + x) * c + ch];
    }
  }
  return out;
}

/** ONNX pads [top, left, bottom, right] reproducing our SAME geometry exactly. */
function padsOf(s, kernel) {
  const bottom = (s.outH - 1) * s.stride + kernel - s.inH - s.padTop;
  const right = (s.outW - 1) * s.stride + kernel - s.inW - s.padLeft;
  const pads = [s.padTop, s.padLeft, Math.max(0, bottom), Math.max(0, right)];
  // With non-negative pads ONNX gives floor((in + pads - k) / stride) + 1; check that it is ours.
  const onnxH = Math.floor((s.inH + pads[0] + pads[2] - kernel) / s.stride) + 1;
  const onnxW = Math.floor((s.inW + pads[1] + pads[3] - kernel) / s.stride) + 1;
  if (onnxH !== s.outH || onnxW !== s.outW) {
    throw new Error(`padding ${pads} gives ${onnxH}×${onnxW}, the plan says ${s.outH}×${s.outW}`);
  }
  return pads;
}

/**
 * Builds the ONNX graph of a plan. Returns the nodes, initializers and output shape; used by
 * planToOnnx and handy for inspection (`describe`).
 */
function buildGraph(plan) {
  const nodes = [];
  const initializers = [];
  let counter = 0;
  const fresh = (prefix) => `${prefix}_${counter++}`;
  const constant = (prefix, dims, data) => {
    const name = fresh(prefix);
    initializers.push({ name, dims, data });
    return name;
  };
  const node = (op, inputs, attrs, prefix = op.toLowerCase()) => {
    const output = fresh(prefix);
    nodes.push({ name: `${output}_node`, op, inputs, outputs: [output], attrs });
    return output;
  };

  // Clip's bounds are inputs since opset 11; share one pair of scalars.
  let clipBounds = null;
  const activate = (x, act) => {
    if (act === ACT_NONE) return x;
    if (act === ACT_RELU) return node('Relu', [x]);
    if (act === ACT_RELU6) {
      clipBounds ??= [constant('clip_min', [], Float32Array.of(0)), constant('clip_max', [], Float32Array.of(6))];
      return node('Clip', [x, ...clipBounds]);
    }
    throw new Error(`unknown activation code ${act}`);
  };

  /** Conv with OIHW weights, bias, optional activation. */
  const conv = (x, { weightsOihw, dims, bias, kernel, stride, pads, group, act }) => {
    const w = constant('w', dims, weightsOihw);
    const b = constant('b', [bias.length], bias);
    const y = node('Conv', [x, w, b], {
      kernel_shape: [kernel, kernel], strides: [stride, stride], pads, dilations: [1, 1], group,
    }, 'conv');
    return activate(y, act);
  };
  const pointwise = (x, weights, bias, inC, outC, act) => conv(x, {
    weightsOihw: weights, dims: [outC, inC, 1, 1], bias, kernel: 1, stride: 1, pads: [0, 0, 0, 0], group: 1, act,
  });
  const depthwise = (x, s, weights, bias, channels, act) => conv(x, {
    weightsOihw: hwcToC1hw(weights, 3, channels), dims: [channels, 1, 3, 3], bias, kernel: 3,
    stride: s.stride, pads: padsOf(s, 3), group: channels, act,
  });

  let x = 'input';
  let shape = [1, plan.inputC, plan.inputH, plan.inputW];
  let flat = false;
  for (const step of plan.steps) {
    switch (step.op) {
      case 'conv2d':
        x = conv(x, {
          weightsOihw: ohwiToOihw(step.weights, step.outC, step.kernel, step.inC),
          dims: [step.outC, step.inC, step.kernel, step.kernel], bias: step.bias, kernel: step.kernel,
          stride: step.stride, pads: padsOf(step, step.kernel), group: 1, act: step.act,
        });
        shape = [1, step.outC, step.outH, step.outW];
        break;
      case 'depthwise':
        x = depthwise(x, step, step.weights, step.bias, step.channels, step.act);
        shape = [1, step.channels, step.outH, step.outW];
        break;
      case 'pointwise':
        x = pointwise(x, step.weights, step.bias, step.inC, step.outC, step.act);
        shape = [1, step.outC, step.h, step.w];
        break;
      case 'bottleneck': {
        const input = x;
        let y = x;
        if (step.expand) y = pointwise(y, step.expand.weights, step.expand.bias, step.inC, step.expandC, step.expand.act);
        y = depthwise(y, step, step.depthwise.weights, step.depthwise.bias, step.expandC, step.depthwise.act);
        y = pointwise(y, step.project.weights, step.project.bias, step.expandC, step.outC, step.project.act);
        if (step.residual) y = node('Add', [y, input]);
        x = y;
        shape = [1, step.outC, step.outH, step.outW];
        break;
      }
      case 'avgpool':
        x = node('GlobalAveragePool', [x], {}, 'pool');
        shape = [1, step.channels, 1, 1];
        break;
      case 'fc': {
        if (!flat) {
          // Our fc reads the NHWC tensor flattened; after the pool it is [1, C, 1, 1] either way.
          if (shape[2] !== 1 || shape[3] !== 1) throw new Error('fc on a spatial tensor is not supported by the exporter');
          x = node('Flatten', [x], { axis: 1 }, 'flat');
          flat = true;
        }
        const w = constant('fc_w', [step.outC, step.inC], step.weights);
        const b = constant('fc_b', [step.outC], step.bias);
        x = node('Gemm', [x, w, b], { transB: 1 }, 'fc');
        shape = [1, step.outC];
        break;
      }
      case 'softmax':
        if (!flat) {
          x = node('Flatten', [x], { axis: 1 }, 'flat');
          flat = true;
        }
        x = node('Softmax', [x], { axis: -1 }, 'softmax');
        shape = [1, step.n];
        break;
      default:
        throw new Error(`the exporter does not know step ${step.op}`);
    }
  }
  // Rename the last value to `output`.
  const last = nodes[nodes.length - 1];
  if (last.outputs[0] !== x) throw new Error('internal: the last node does not produce the graph output');
  last.outputs[0] = 'output';
  return { nodes, initializers, outputShape: shape };
}

/** The ONNX ModelProto (opset 13, IR version 8) of a plan, as bytes. */
export function planToOnnx(plan) {
  const { nodes, initializers, outputShape } = buildGraph(plan);
  return writeModel({
    nodes,
    initializers,
    input: { name: 'input', dims: [1, plan.inputC, plan.inputH, plan.inputW] },
    output: { name: 'output', dims: outputShape },
    opsets: { '': 13 },
  });
}

/** Op counts of the exported graph, e.g. { Conv: 52, Clip: 35, Add: 10, ... }. */
export function describeOnnx(plan) {
  const counts = {};
  for (const n of buildGraph(plan).nodes) counts[n.op] = (counts[n.op] ?? 0) + 1;
  return counts;
}
