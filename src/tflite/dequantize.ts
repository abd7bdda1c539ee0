// Constant tensors → numbers. Quantized data (uint8/int8/int16 weights, int32/int64 biases) becomes
// float32 with real = scale[c] · (q − zero_point[c]), per tensor or per channel along
// quantized_dimension; float32/float16 data is converted directly. Reads are little-endian and copy
// through a DataView, so tensor data need not be aligned in the file.
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

/** A constant tensor as float32 values (dequantized when quantized). */
export function dequantize(src: TensorSource, tensor: Tensor): Float32Array {
  const data = tensorBytes(src, tensor);
  const count = elementCount(src, tensor);
  const out = new Float32Array(count);
  if (tensor.type === TensorType.FLOAT32) {
    const view = viewOf(data);
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }
  if (tensor.type === TensorType.FLOAT16) {
    const view = viewOf(data);
    for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
    return out;
  }
  const integerTypes: number[] = [TensorType.UINT8, TensorType.INT8, TensorType.INT16, TensorType.INT32, TensorType.INT64];
  if (!integerTypes.includes(tensor.type)) fail(src, tensor, `cannot dequantize ${tensorTypeName(tensor.type)} data`);
  const q = tensor.quantization;
  if (!q || q.scale.length === 0) fail(src, tensor, `${tensorTypeName(tensor.type)} data without quantization scale`);
  if (q.hasCustomDetails) fail(src, tensor, 'custom quantization is not supported');
  const { scale, zeroPoint } = q;
  const channels = scale.length;
  if (zeroPoint.length !== 0 && zeroPoint.length !== channels) {
    fail(src, tensor, `${channels} scales but ${zeroPoint.length} zero points`);
  }
  for (const s of scale) if (!(Number.isFinite(s) && s > 0)) fail(src, tensor, `invalid quantization scale ${s}`);
  const values = readIntegers(data, tensor.type, count);
  if (channels === 1) {
    const s = scale[0]!;
    const z = zeroPoint[0] ?? 0;
    for (let i = 0; i < count; i++) out[i] = s * (values[i]! - z);
    return out;
  }
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
  const outer = count / (inner * channels);
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const s = scale[c]!;
      const z = zeroPoint[c] ?? 0;
      for (let j = 0; j < inner; j++, i++) out[i] = s * (values[i]! - z);
    }
  }
  return out;
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
