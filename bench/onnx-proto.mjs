// The few onnx.proto messages the benchmark's exporters write (field numbers from onnx/onnx.proto),
// on a tiny protobuf writer (varints and length-delimited fields), and a minimal reader to count the
// ops of a model file.

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const textEncoder = new TextEncoder();

/** Appends protobuf fields to a growing list of byte chunks. */
export class ProtoWriter {
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

/** TensorProto.DataType values. */
export const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 };
const ATTR_FLOAT = 1; // AttributeProto.AttributeType
const ATTR_INT = 2;
const ATTR_INTS = 7;

/** Little-endian raw_data of a typed array (Float32Array, Int32Array, BigInt64Array, 8-bit arrays). */
function rawData(values) {
  if (values instanceof Uint8Array || values instanceof Int8Array) return new Uint8Array(values.buffer, values.byteOffset, values.length);
  const size = values.BYTES_PER_ELEMENT;
  const bytes = new Uint8Array(values.length * size);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) {
    if (values instanceof Float32Array) view.setFloat32(i * 4, values[i], true);
    else if (values instanceof Int32Array) view.setInt32(i * 4, values[i], true);
    else if (values instanceof BigInt64Array) view.setBigInt64(i * 8, values[i], true);
    else throw new Error(`no raw_data for ${values.constructor.name}`);
  }
  return bytes;
}

const TYPE_OF = new Map([[Float32Array, DT.FLOAT], [Uint8Array, DT.UINT8], [Int8Array, DT.INT8], [Int32Array, DT.INT32], [BigInt64Array, DT.INT64]]);

// TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9. The type follows the typed array.
export function writeTensor(w, { name, dims, data }) {
  const type = TYPE_OF.get(data.constructor);
  if (!type) throw new Error(`initializer ${name}: unsupported array ${data.constructor.name}`);
  w.packedVarints(1, dims);
  w.varint(2, type);
  w.string(8, name);
  w.bytes(9, rawData(data));
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

// NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5, domain = 7.
export function writeNode(w, { name, op, inputs, outputs, attrs = {}, domain }) {
  for (const input of inputs) w.string(1, input);
  for (const output of outputs) w.string(2, output);
  w.string(3, name);
  w.string(4, op);
  for (const [key, value] of Object.entries(attrs)) w.message(5, (a) => writeAttribute(a, key, value));
  if (domain) w.string(7, domain);
}

// ValueInfoProto: name = 1, type = 2 → TypeProto.tensor_type = 1 → elem_type = 1, shape = 2 →
// TensorShapeProto.dim = 1 → Dimension.dim_value = 1.
export function writeValueInfo(w, name, dims, elemType = DT.FLOAT) {
  w.string(1, name);
  w.message(2, (type) => type.message(1, (tensor) => {
    tensor.varint(1, elemType);
    tensor.message(2, (shape) => {
      for (const d of dims) shape.message(1, (dim) => dim.varint(1, d));
    });
  }));
}

/**
 * A ModelProto (IR version 8) as bytes: one graph with one input and one output.
 * opsets: { '': 13, 'com.microsoft': 1, ... }.
 */
export function writeModel({ nodes, initializers, input, output, opsets }) {
  const w = new ProtoWriter();
  w.varint(1, 8); // ir_version
  w.string(2, 'mobilenet-bench'); // producer_name
  w.message(7, (g) => { // graph
    for (const n of nodes) g.message(1, (m) => writeNode(m, n));
    g.string(2, 'mobilenet');
    for (const t of initializers) g.message(5, (m) => writeTensor(m, t));
    g.message(11, (m) => writeValueInfo(m, input.name, input.dims, input.elemType));
    g.message(12, (m) => writeValueInfo(m, output.name, output.dims, output.elemType));
  });
  for (const [domain, version] of Object.entries(opsets)) {
    w.message(8, (o) => { // OperatorSetIdProto: domain = 1 (omitted for the default), version = 2
      if (domain) o.string(1, domain);
      o.varint(2, version);
    });
  }
  return w.finish();
}

// ---- a minimal reader, to see what ORT made of a graph ------------------------------------------

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

/** NHWC [H, W, C] → NCHW [1, C, H, W], in the same typed-array type. */
export function nhwcToNchw(data, h, w, c) {
  const out = new data.constructor(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let ch = 0; ch < c; ch++) out[(ch * h + y) * w + x] = data[(y * w + x) * c + ch];
    }
  }
  return out;
}
