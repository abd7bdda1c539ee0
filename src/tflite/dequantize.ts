// Constant tensors → numbers. Quantized data (uint8/int8/int16 weights, int32/int64 biases) means
// float32 values real = scale[c] · (q − zero_point[c]), per tensor or per channel along
// quantized_dimension; float32/float16 data means its values. Weights are first only checked and
// described (encodedTensor: a view into the file plus the quantization parameters, nothing copied);
// they are decoded to floats by decodeWeights when someone needs them (the reference backend, a
// test: see LazyWeights in src/model/spec.ts), or by the native addon while it repacks them, with
// bit-identical results. Reads are little-endian and need no alignment of the tensor data.
import { LazyWeights, type EncodedWeights, type WeightEncoding } from '../model/spec.js';
import { ModelFormatError } from './errors.js';
import { TensorType, tensorTypeName, tensorTypeSize, type Buffer, type Tensor } from './schema.js';

/** What the readers need to find a tensor's data and to name the file in errors. */
export interface TensorSource {
  file: string;
  buffers: readonly Buffer[];
}

/** Largest tensor we accept (elements): far beyond any MobileNet, small enough to allocate. */
const MAX_ELEMENTS = 1 << 28;

function fail(src: TensorSource, tensor: Tensor, detail: string): never {
  throw new ModelFormatError(src.file, `tensor ${tensor.index} (${tensor.name}): ${detail}`);
}

/** Number of elements of a static shape; a ModelFormatError for negative or absurd dimensions. */
export function elementCount(src: TensorSource, tensor: Tensor): number {
  let count = 1;
  for (const dim of tensor.shape) {
    if (!Number.isInteger(dim) || dim < 0) fail(src, tensor, `invalid shape [${tensor.shape.join(', ')}]`);
    count *= dim;
    if (count > MAX_ELEMENTS) fail(src, tensor, `shape [${tensor.shape.join(', ')}] is too large`);
  }
  return count;
}

/** True when the tensor has constant data. */
export function isConstant(src: TensorSource, tensor: Tensor): boolean {
  return tensor.buffer !== 0 && src.buffers[tensor.buffer]?.data != null;
}

/** The raw bytes of a constant tensor, checked to hold exactly shape × element size bytes. */
export function tensorBytes(src: TensorSource, tensor: Tensor): Uint8Array {
  if (tensor.sparse) fail(src, tensor, 'sparse tensors are not supported');
  const size = tensorTypeSize(tensor.type);
  if (size === undefined) fail(src, tensor, `unsupported data type ${tensorTypeName(tensor.type)}`);
  const buffer = src.buffers[tensor.buffer];
  if (tensor.buffer === 0 || !buffer) fail(src, tensor, `has no data (buffer ${tensor.buffer} of ${src.buffers.length})`);
  const data = buffer.data;
  if (!data) fail(src, tensor, `has no data (buffer ${tensor.buffer} is empty)`);
  const expected = elementCount(src, tensor) * size;
  if (data.length !== expected) {
    fail(src, tensor, `holds ${data.length} bytes, its shape [${tensor.shape.join(', ')}] needs ${expected}`);
  }
  return data;
}

function viewOf(data: Uint8Array): DataView {
  return new DataView(data.buffer, data.byteOffset, data.byteLength);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** IEEE 754 half → float. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Raw integer values of a quantized tensor's data. */
function readIntegers(data: Uint8Array, type: number, count: number): Float64Array | Uint8Array | Int8Array {
  switch (type) {
    case TensorType.UINT8:
      return data;
    case TensorType.INT8:
      return new Int8Array(data.buffer, data.byteOffset, count);
    default: {
      const view = viewOf(data);
      const out = new Float64Array(count);
      if (type === TensorType.INT16) for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, true);
      else if (type === TensorType.INT32) for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, true);
      else for (let i = 0; i < count; i++) out[i] = Number(view.getBigInt64(8 * i, true));
      return out;
    }
  }
}

const ENCODINGS: Partial<Record<number, WeightEncoding>> = {
  [TensorType.FLOAT32]: 'f32',
  [TensorType.FLOAT16]: 'f16',
  [TensorType.UINT8]: 'u8',
  [TensorType.INT8]: 'i8',
  [TensorType.INT16]: 'i16',
  [TensorType.INT32]: 'i32',
  [TensorType.INT64]: 'i64',
};

const NO_SCALE = new Float32Array(0);
const NO_ZERO = new Float64Array(0);

/**
 * A constant tensor as the file stores it, checked to decode to float32 values (the data fits the
 * shape; quantized data has valid per-tensor or per-channel parameters): nothing is decoded or
 * copied, `data` is a view into the file.
 */
export function encodedTensor(src: TensorSource, tensor: Tensor): EncodedWeights {
  const data = tensorBytes(src, tensor);
  const count = elementCount(src, tensor);
  const type = ENCODINGS[tensor.type];
  if (type === 'f32' || type === 'f16') {
    return { type, data, length: count, scale: NO_SCALE, zeroPoint: NO_ZERO, inner: 1 };
  }
  if (type === undefined) fail(src, tensor, `cannot dequantize ${tensorTypeName(tensor.type)} data`);
  const q = tensor.quantization;
  if (!q || q.scale.length === 0) fail(src, tensor, `${tensorTypeName(tensor.type)} data without quantization scale`);
  if (q.hasCustomDetails) fail(src, tensor, 'custom quantization is not supported');
  const { scale, zeroPoint } = q;
  const channels = scale.length;
  if (zeroPoint.length !== 0 && zeroPoint.length !== channels) {
    fail(src, tensor, `${channels} scales but ${zeroPoint.length} zero points`);
  }
  for (const s of scale) if (!(Number.isFinite(s) && s > 0)) fail(src, tensor, `invalid quantization scale ${s}`);
  const zeros = new Float64Array(channels);
  for (let c = 0; c < zeroPoint.length; c++) zeros[c] = zeroPoint[c]!;
  if (channels === 1) return { type, data, length: count, scale, zeroPoint: zeros, inner: Math.max(count, 1) };
  // Per channel along quantized_dimension: the flat index is ((o · channels) + c) · inner + j, where
  // inner is the product of the dimensions after the axis.
  const axis = q.quantizedDimension;
  if (!Number.isInteger(axis) || axis < 0 || axis >= tensor.shape.length) {
    fail(src, tensor, `quantized_dimension ${axis} outside its shape [${tensor.shape.join(', ')}]`);
  }
  if (tensor.shape[axis] !== channels) {
    fail(src, tensor, `${channels} scales for dimension ${axis} of size ${tensor.shape[axis]}`);
  }
  let inner = 1;
  for (let d = axis + 1; d < tensor.shape.length; d++) inner *= tensor.shape[d]!;
  return { type, data, length: count, scale, zeroPoint: zeros, inner: Math.max(inner, 1) };
}

/** Quantized values q[from, to) → out: scale · (q − zero). One loop per source type (monomorphic). */
function decodeU8(q: Uint8Array, out: Float32Array, from: number, to: number, s: number, z: number): void {
  for (let i = from; i < to; i++) out[i] = s * (q[i]! - z);
}
function decodeI8(q: Int8Array, out: Float32Array, from: number, to: number, s: number, z: number): void {
  for (let i = from; i < to; i++) out[i] = s * (q[i]! - z);
}
function decodeF64(q: Float64Array, out: Float32Array, from: number, to: number, s: number, z: number): void {
  for (let i = from; i < to; i++) out[i] = s * (q[i]! - z);
}

/** The floats of an encoded tensor: the values its file means (float32 copied, float16 converted, integers dequantized). */
export function decodeWeights(e: EncodedWeights): Float32Array {
  const count = e.length;
  const out = new Float32Array(count);
  const data = e.data;
  if (e.type === 'f32') {
    if (LITTLE_ENDIAN) {
      new Uint8Array(out.buffer).set(data.subarray(0, 4 * count));
    } else {
      const view = viewOf(data);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
    }
    return out;
  }
  if (e.type === 'f16') {
    for (let i = 0; i < count; i++) out[i] = halfToFloat(data[2 * i]! | (data[2 * i + 1]! << 8));
    return out;
  }
  const type = { u8: TensorType.UINT8, i8: TensorType.INT8, i16: TensorType.INT16, i32: TensorType.INT32, i64: TensorType.INT64 }[e.type];
  const values = readIntegers(data, type, count);
  const channels = e.scale.length;
  const inner = e.inner;
  for (let from = 0; from < count;) {
    const run = Math.floor(from / inner);
    const c = channels === 1 ? 0 : run % channels;
    const to = Math.min(count, (run + 1) * inner);
    const s = e.scale[c]!;
    const z = e.zeroPoint[c]!;
    if (values instanceof Uint8Array) decodeU8(values, out, from, to, s, z);
    else if (values instanceof Int8Array) decodeI8(values, out, from, to, s, z);
    else decodeF64(values, out, from, to, s, z);
    from = to;
  }
  return out;
}

const INTEGER_RANGES: Partial<Record<WeightEncoding, [number, number]>> = {
  u8: [0, 255],
  i8: [-128, 127],
  i16: [-32768, 32767],
  i32: [-(2 ** 31), 2 ** 31 - 1],
  i64: [-(2 ** 63), 2 ** 63],
};

/**
 * Index of the first element of `e` that decodes to a non-finite float, or -1 — without decoding
 * the tensor in the usual case: quantized data is finite whenever every channel's scale times the
 * farthest code from its zero point is (only then are the codes themselves looked at); float data
 * is scanned for the all-ones exponent in its bytes.
 */
export function firstNonFinite(e: EncodedWeights): number {
  const { data, length } = e;
  if (e.type === 'f32') {
    for (let i = 0; i < length; i++) {
      if ((data[4 * i + 3]! & 0x7f) === 0x7f && (data[4 * i + 2]! & 0x80) !== 0) return i;
    }
    return -1;
  }
  if (e.type === 'f16') {
    for (let i = 0; i < length; i++) if ((data[2 * i + 1]! & 0x7c) === 0x7c) return i;
    return -1;
  }
  const [qmin, qmax] = INTEGER_RANGES[e.type]!;
  let bounded = true;
  for (let c = 0; c < e.scale.length && bounded; c++) {
    const z = e.zeroPoint[c]!;
    bounded = Number.isFinite(Math.fround(e.scale[c]! * Math.max(Math.abs(qmin - z), Math.abs(qmax - z))));
  }
  if (bounded) return -1;
  const values = decodeWeights(e);
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return i;
  return -1;
}

/** A constant tensor as float32 values (dequantized when quantized). */
export function dequantize(src: TensorSource, tensor: Tensor): Float32Array {
  return decodeWeights(encodedTensor(src, tensor));
}

/** A constant tensor as floats decoded on first use (checked now, see encodedTensor). */
export function lazyTensor(src: TensorSource, tensor: Tensor): LazyWeights {
  return new LazyWeights(encodedTensor(src, tensor), decodeWeights);
}

/** A constant INT32 or INT64 tensor (axes, paddings, shapes) as integers. */
export function readIntegerConstant(src: TensorSource, tensor: Tensor): number[] {
  if (tensor.type !== TensorType.INT32 && tensor.type !== TensorType.INT64) {
    fail(src, tensor, `expected INT32 or INT64 data, found ${tensorTypeName(tensor.type)}`);
  }
  const data = tensorBytes(src, tensor);
  const count = elementCount(src, tensor);
  const values = readIntegers(data, tensor.type, count);
  const out = Array.from(values);
  for (const v of out) if (!Number.isSafeInteger(v)) fail(src, tensor, `value ${v} is out of range`);
  return out;
}
