// Exports one of our execution plans (src/engine/plan.ts) as an ONNX model with exactly the same
// network and weights, so that ONNX Runtime can be benchmarked against our native backend on equal
// terms. The protobuf is written by hand: a tiny writer for varints and length-delimited fields and
// the handful of onnx.proto messages we need (field numbers from onnx/onnx.proto).
//
// The ONNX graph takes `input` as NCHW float [1, 3, H, W] (ORT's native layout) and produces
// `output` [1, classes] (the softmax, or whatever the plan's last step is). Our layouts are NHWC
// with conv weights [O, kh, kw, I], depthwise [kh, kw, C], pointwise/fc [O, I]; ONNX Conv wants
// OIHW, so weights are transposed here. TF SAME padding becomes explicit `pads`.

const ACT_NONE = 0;
const ACT_RELU = 1;
const ACT_RELU6 = 2;

// ---- protobuf wire format ---------------------------------------------------------------------

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const textEncoder = new TextEncoder();

/** Appends protobuf fields to a growing list of byte chunks. */
class ProtoWriter {
  constructor() {
    this.chunks = [];
    this.length = 0;
  }

  push(bytes) {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  /** A varint (int32/int64/enum); negative values are 64-bit two's complement (10 bytes). */
  rawVarint(value) {
    if (!Number.isSafeInteger(value)) throw new Error(`varint out of range: ${value}`);
    const out = [];
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.push(Uint8Array.from(out));
  }

  tag(field, wire) {
    this.rawVarint(field * 8 + wire);
  }

  varint(field, value) {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(value);
  }

  bytes(field, bytes) {
    this.tag(field, WIRE_LEN);
    this.rawVarint(bytes.length);
    this.push(bytes);
  }

  string(field, text) {
    this.bytes(field, textEncoder.encode(text));
  }

  /** An embedded message, built by `build(writer)`. */
  message(field, build) {
    const inner = new ProtoWriter();
    build(inner);
    this.tag(field, WIRE_LEN);
    this.rawVarint(inner.length);
    for (const chunk of inner.chunks) this.push(chunk);
  }

  /** A packed repeated varint field. */
  packedVarints(field, values) {
    const inner = new ProtoWriter();
    for (const v of values) inner.rawVarint(v);
    this.tag(field, WIRE_LEN);
    this.rawVarint(inner.length);
    for (const chunk of inner.chunks) this.push(chunk);
  }

  finish() {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

// ---- onnx.proto messages ------------------------------------------------------------------------

const DT_FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTR_FLOAT = 1; // AttributeProto.AttributeType
const ATTR_INT = 2;
const ATTR_INTS = 7;

/** Little-endian IEEE bytes of a Float32Array (raw_data must be little-endian). */
function floatBytes(values) {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return bytes;
}

// TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9.
function writeTensor(w, { name, dims, data }) {
  w.packedVarints(1, dims);
  w.varint(2, DT_FLOAT);
  w.string(8, name);
  w.bytes(9, floatBytes(data));
}

// AttributeProto: name = 1, f = 2, i = 3, ints = 8, type = 20.
function writeAttribute(w, name, value) {
  w.string(1, name);
  if (Array.isArray(value)) {
    w.packedVarints(8, value);
    w.varint(20, ATTR_INTS);
  } else if (Number.isInteger(value)) {
    w.varint(3, value);
    w.varint(20, ATTR_INT);
  } else {
    // f is a fixed32 float (wire type 5).
    w.tag(2, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    w.push(b);
    w.varint(20, ATTR_FLOAT);
  }
}

// NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5.
function writeNode(w, { name, op, inputs, outputs, attrs = {} }) {
  for (const input of inputs) w.string(1, input);
  for (const output of outputs) w.string(2, output);
  w.string(3, name);
  w.string(4, op);
  for (const [key, value] of Object.entries(attrs)) w.message(5, (a) => writeAttribute(a, key, value));
}

// ValueInfoProto: name = 1, type = 2 → TypeProto.tensor_type = 1 → elem_type = 1, shape = 2 →
// TensorShapeProto.dim = 1 → Dimension.dim_value = 1.
function writeValueInfo(w, name, dims) {
  w.string(1, name);
  w.message(2, (type) => type.message(1, (tensor) => {
    tensor.varint(1, DT_FLOAT);
    tensor.message(2, (shape) => {
      for (const d of dims) shape.message(1, (dim) => dim.varint(1, d));
    });
  }));
}

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
  const w = new ProtoWriter();
  w.varint(1, 8); // ir_version
  w.string(2, 'mobilenet-bench'); // producer_name
  w.message(7, (g) => { // graph
    for (const n of nodes) g.message(1, (m) => writeNode(m, n));
    g.string(2, 'mobilenet');
    for (const t of initializers) g.message(5, (m) => writeTensor(m, t));
    g.message(11, (m) => writeValueInfo(m, 'input', [1, plan.inputC, plan.inputH, plan.inputW]));
    g.message(12, (m) => writeValueInfo(m, 'output', outputShape));
  });
  w.message(8, (o) => { // opset_import: default domain "" (omitted), version 13
    o.varint(2, 13);
  });
  return w.finish();
}

/** Op counts of the exported graph, e.g. { Conv: 52, Clip: 35, Add: 10, ... }. */
export function describeOnnx(plan) {
  const counts = {};
  for (const n of buildGraph(plan).nodes) counts[n.op] = (counts[n.op] ?? 0) + 1;
  return counts;
}

/** NHWC [H, W, C] → NCHW [1, C, H, W]. */
export function nhwcToNchw(data, h, w, c) {
  const out = new Float32Array(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let ch = 0; ch < c; ch++) out[(ch * h + y) * w + x] = data[(y * w + x) * c + ch];
    }
  }
  return out;
}

// ---- a minimal reader, to see what ORT made of the graph ---------------------------------------

/** Yields [field, wireType, value] of one protobuf message; LEN values are subarrays. */
function* fields(bytes) {
  let pos = 0;
  const varint = () => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = bytes[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
      shift += 7n;
    }
  };
  while (pos < bytes.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) yield [field, wire, varint()];
    else if (wire === 1) { pos += 8; yield [field, wire, null]; }
    else if (wire === 5) { pos += 4; yield [field, wire, null]; }
    else if (wire === 2) {
      const length = Number(varint());
      yield [field, wire, bytes.subarray(pos, pos + length)];
      pos += length;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
}

/** Op counts ("domain:op" for non-default domains) of the main graph of an ONNX model file. */
export function onnxOpCounts(modelBytes) {
  const decoder = new TextDecoder();
  const counts = {};
  for (const [field, , graph] of fields(modelBytes)) {
    if (field !== 7) continue; // ModelProto.graph
    for (const [gField, , node] of fields(graph)) {
      if (gField !== 1) continue; // GraphProto.node
      let op = '';
      let domain = '';
      for (const [nField, , value] of fields(node)) {
        if (nField === 4) op = decoder.decode(value); // NodeProto.op_type
        if (nField === 7) domain = decoder.decode(value); // NodeProto.domain
      }
      const key = domain ? `${domain}:${op}` : op;
      counts[key] = (counts[key] ?? 0) + 1;
    }
  }
  return counts;
}
