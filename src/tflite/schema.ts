// Typed accessors for the part of TensorFlow Lite's schema.fbs (file identifier "TFL3") that a
// MobileNet needs. Field numbers are the declaration order in schema.fbs; a union takes two numbers
// (its type, then its value). Only the fields read here are listed.
import { FlatBuffer, type Table } from './flatbuffer.js';
import { ModelFormatError } from './errors.js';

export const TFLITE_IDENTIFIER = 'TFL3';

/** enum TensorType : byte */
export const TensorType = {
  FLOAT32: 0,
  FLOAT16: 1,
  INT32: 2,
  UINT8: 3,
  INT64: 4,
  STRING: 5,
  BOOL: 6,
  INT16: 7,
  COMPLEX64: 8,
  INT8: 9,
  FLOAT64: 10,
} as const;

const TENSOR_TYPE_NAMES = [
  'FLOAT32', 'FLOAT16', 'INT32', 'UINT8', 'INT64', 'STRING', 'BOOL', 'INT16', 'COMPLEX64', 'INT8',
  'FLOAT64', 'COMPLEX128', 'UINT64', 'RESOURCE', 'VARIANT', 'UINT32', 'UINT16', 'INT4',
];

export function tensorTypeName(type: number): string {
  return TENSOR_TYPE_NAMES[type] ?? `TYPE_${type}`;
}

/** Bytes per element of the tensor types whose data we read; undefined for the others. */
export function tensorTypeSize(type: number): number | undefined {
  switch (type) {
    case TensorType.UINT8:
    case TensorType.INT8:
      return 1;
    case TensorType.FLOAT16:
    case TensorType.INT16:
      return 2;
    case TensorType.FLOAT32:
    case TensorType.INT32:
      return 4;
    case TensorType.INT64:
      return 8;
    default:
      return undefined;
  }
}

/** enum BuiltinOperator : int32 — the codes this reader handles or names in its errors. */
export const BuiltinOperator = {
  ADD: 0,
  AVERAGE_POOL_2D: 1,
  CONV_2D: 3,
  DEPTHWISE_CONV_2D: 4,
  DEQUANTIZE: 6,
  FULLY_CONNECTED: 9,
  LOGISTIC: 14,
  MUL: 18,
  RELU: 19,
  RELU6: 21,
  RESHAPE: 22,
  SOFTMAX: 25,
  CUSTOM: 32,
  PAD: 34,
  MEAN: 40,
  SUB: 41,
  DIV: 42,
  SQUEEZE: 43,
  QUANTIZE: 114,
  HARD_SWISH: 117,
  PLACEHOLDER_FOR_GREATER_OP_CODES: 127,
} as const;

// Names of BuiltinOperator 0..161, for messages. Gaps never had a name.
const BUILTIN_NAMES = [
  'ADD', 'AVERAGE_POOL_2D', 'CONCATENATION', 'CONV_2D', 'DEPTHWISE_CONV_2D', 'DEPTH_TO_SPACE', 'DEQUANTIZE',
  'EMBEDDING_LOOKUP', 'FLOOR', 'FULLY_CONNECTED', 'HASHTABLE_LOOKUP', 'L2_NORMALIZATION', 'L2_POOL_2D',
  'LOCAL_RESPONSE_NORMALIZATION', 'LOGISTIC', 'LSH_PROJECTION', 'LSTM', 'MAX_POOL_2D', 'MUL', 'RELU',
  'RELU_N1_TO_1', 'RELU6', 'RESHAPE', 'RESIZE_BILINEAR', 'RNN', 'SOFTMAX', 'SPACE_TO_DEPTH', 'SVDF', 'TANH',
  'CONCAT_EMBEDDINGS', 'SKIP_GRAM', 'CALL', 'CUSTOM', 'EMBEDDING_LOOKUP_SPARSE', 'PAD',
  'UNIDIRECTIONAL_SEQUENCE_RNN', 'GATHER', 'BATCH_TO_SPACE_ND', 'SPACE_TO_BATCH_ND', 'TRANSPOSE', 'MEAN', 'SUB',
  'DIV', 'SQUEEZE', 'UNIDIRECTIONAL_SEQUENCE_LSTM', 'STRIDED_SLICE', 'BIDIRECTIONAL_SEQUENCE_RNN', 'EXP',
  'TOPK_V2', 'SPLIT', 'LOG_SOFTMAX', 'DELEGATE', 'BIDIRECTIONAL_SEQUENCE_LSTM', 'CAST', 'PRELU', 'MAXIMUM',
  'ARG_MAX', 'MINIMUM', 'LESS', 'NEG', 'PADV2', 'GREATER', 'GREATER_EQUAL', 'LESS_EQUAL', 'SELECT', 'SLICE',
  'SIN', 'TRANSPOSE_CONV', 'SPARSE_TO_DENSE', 'TILE', 'EXPAND_DIMS', 'EQUAL', 'NOT_EQUAL', 'LOG', 'SUM', 'SQRT',
  'RSQRT', 'SHAPE', 'POW', 'ARG_MIN', 'FAKE_QUANT', 'REDUCE_PROD', 'REDUCE_MAX', 'PACK', 'LOGICAL_OR',
  'ONE_HOT', 'LOGICAL_AND', 'LOGICAL_NOT', 'UNPACK', 'REDUCE_MIN', 'FLOOR_DIV', 'REDUCE_ANY', 'SQUARE',
  'ZEROS_LIKE', 'FILL', 'FLOOR_MOD', 'RANGE', 'RESIZE_NEAREST_NEIGHBOR', 'LEAKY_RELU', 'SQUARED_DIFFERENCE',
  'MIRROR_PAD', 'ABS', 'SPLIT_V', 'UNIQUE', 'CEIL', 'REVERSE_V2', 'ADD_N', 'GATHER_ND', 'COS', 'WHERE', 'RANK',
  'ELU', 'REVERSE_SEQUENCE', 'MATRIX_DIAG', 'QUANTIZE', 'MATRIX_SET_DIAG', 'ROUND', 'HARD_SWISH', 'IF', 'WHILE',
  'NON_MAX_SUPPRESSION_V4', 'NON_MAX_SUPPRESSION_V5', 'SCATTER_ND', 'SELECT_V2', 'DENSIFY', 'SEGMENT_SUM',
  'BATCH_MATMUL', 'PLACEHOLDER_FOR_GREATER_OP_CODES', 'CUMSUM', 'CALL_ONCE', 'BROADCAST_TO', 'RFFT2D',
  'CONV_3D', 'IMAG', 'REAL', 'COMPLEX_ABS', 'HASHTABLE', 'HASHTABLE_FIND', 'HASHTABLE_IMPORT',
  'HASHTABLE_SIZE', 'REDUCE_ALL', 'CONV_3D_TRANSPOSE', 'VAR_HANDLE', 'READ_VARIABLE', 'ASSIGN_VARIABLE',
  'BROADCAST_ARGS', 'RANDOM_STANDARD_NORMAL', 'BUCKETIZE', 'RANDOM_UNIFORM', 'MULTINOMIAL', 'GELU',
  'DYNAMIC_UPDATE_SLICE', 'RELU_0_TO_1', 'UNSORTED_SEGMENT_PROD', 'UNSORTED_SEGMENT_MAX',
  'UNSORTED_SEGMENT_SUM', 'ATAN2', 'UNSORTED_SEGMENT_MIN', 'SIGN', 'BITCAST', 'BITWISE_XOR', 'RIGHT_SHIFT',
];

export function builtinOperatorName(code: number): string {
  return BUILTIN_NAMES[code] ?? `BUILTIN_${code}`;
}

/** union BuiltinOptions: the type numbers (1-based declaration order) of the options we decode. */
export const BuiltinOptionsType = {
  NONE: 0,
  Conv2DOptions: 1,
  DepthwiseConv2DOptions: 2,
  Pool2DOptions: 5,
  FullyConnectedOptions: 8,
  SoftmaxOptions: 9,
  AddOptions: 11,
  ReshapeOptions: 17,
  MulOptions: 21,
  PadOptions: 22,
  ReducerOptions: 27,
  SubOptions: 28,
  DivOptions: 29,
  SqueezeOptions: 30,
  DequantizeOptions: 38,
  QuantizeOptions: 89,
} as const;

/** enum Padding : byte */
export const Padding = { SAME: 0, VALID: 1 } as const;

/** enum ActivationFunctionType : byte */
export const ActivationFunction = { NONE: 0, RELU: 1, RELU_N1_TO_1: 2, RELU6: 3, TANH: 4, SIGN_BIT: 5 } as const;

const ACTIVATION_NAMES = ['NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT'];

export function activationName(code: number): string {
  return ACTIVATION_NAMES[code] ?? `ACTIVATION_${code}`;
}

export interface Conv2DOptions {
  kind: 'conv2d';
  padding: number;
  strideW: number;
  strideH: number;
  activation: number;
  dilationW: number;
  dilationH: number;
}

export interface DepthwiseConv2DOptions {
  kind: 'depthwise';
  padding: number;
  strideW: number;
  strideH: number;
  depthMultiplier: number;
  activation: number;
  dilationW: number;
  dilationH: number;
}

export interface Pool2DOptions {
  kind: 'pool2d';
  padding: number;
  strideW: number;
  strideH: number;
  filterW: number;
  filterH: number;
  activation: number;
}

export interface FullyConnectedOptions {
  kind: 'fullyConnected';
  activation: number;
  /** 0 = DEFAULT, 1 = SHUFFLED4x16INT8. */
  weightsFormat: number;
  keepNumDims: boolean;
}

export interface SoftmaxOptions {
  kind: 'softmax';
  beta: number;
}

export interface AddOptions {
  kind: 'add';
  activation: number;
}

/** MulOptions, SubOptions, DivOptions: fused_activation_function 0 (like AddOptions). */
export interface ArithmeticOptions {
  kind: 'mul' | 'sub' | 'div';
  activation: number;
}

export interface ReshapeOptions {
  kind: 'reshape';
  newShape: number[] | null;
}

export interface ReducerOptions {
  kind: 'reducer';
  keepDims: boolean;
}

export interface SqueezeOptions {
  kind: 'squeeze';
  squeezeDims: number[] | null;
}

/** Options tables without fields (PadOptions, QuantizeOptions, DequantizeOptions). */
export interface EmptyOptions {
  kind: 'pad' | 'quantize' | 'dequantize';
}

/** No options table (type NONE). */
export interface NoOptions {
  kind: 'none';
}

/** An options table this reader does not decode. */
export interface OtherOptions {
  kind: 'other';
  type: number;
}

export type BuiltinOptions =
  | Conv2DOptions
  | DepthwiseConv2DOptions
  | Pool2DOptions
  | FullyConnectedOptions
  | SoftmaxOptions
  | AddOptions
  | ArithmeticOptions
  | ReshapeOptions
  | ReducerOptions
  | SqueezeOptions
  | EmptyOptions
  | NoOptions
  | OtherOptions;

// QuantizationParameters.min / max (the calibration range some converters keep) are not read: nothing
// here needs them.
export interface QuantizationParameters {
  scale: Float32Array;
  zeroPoint: number[];
  /** Axis of the per-channel scales (meaningful when scale.length > 1). */
  quantizedDimension: number;
  /** A QuantizationDetails union is present: scale/zero_point do not describe the data. */
  hasCustomDetails: boolean;
}

export interface Tensor {
  index: number;
  name: string;
  shape: number[];
  type: number;
  /** Index into Model.buffers; 0 = no data. */
  buffer: number;
  quantization: QuantizationParameters | null;
  isVariable: boolean;
  /** SparsityParameters present: the buffer holds a compressed tensor. */
  sparse: boolean;
}

export interface OperatorCode {
  /** max(deprecated_builtin_code, builtin_code), as TFLite resolves it. */
  builtinCode: number;
  customCode: string | null;
  version: number;
  /** Human-readable: the builtin's name, or CUSTOM(name). */
  name: string;
}

export interface Operator {
  index: number;
  opcodeIndex: number;
  /** Tensor indices; -1 marks an omitted optional input. */
  inputs: number[];
  outputs: number[];
  options: BuiltinOptions;
}

export interface SubGraph {
  name: string | null;
  tensors: Tensor[];
  inputs: number[];
  outputs: number[];
  operators: Operator[];
}

export interface Buffer {
  /** The constant data (a view into the file), or null for an empty buffer. */
  data: Uint8Array | null;
}

export interface MetadataEntry {
  name: string;
  buffer: number;
}

export interface Model {
  version: number;
  operatorCodes: OperatorCode[];
  subgraphs: SubGraph[];
  description: string | null;
  buffers: Buffer[];
  metadata: MetadataEntry[];
}

// --- decoding ---------------------------------------------------------------------------------

function readQuantization(t: Table): QuantizationParameters | null {
  // QuantizationParameters: min 0, max 1, scale 2, zero_point 3, details (union) 4/5, quantized_dimension 6.
  const scale = t.float32s(2, 'scale');
  const hasCustomDetails = t.u8(4) !== 0;
  if (!scale || scale.length === 0) {
    return hasCustomDetails
      ? { scale: new Float32Array(0), zeroPoint: [], quantizedDimension: 0, hasCustomDetails }
      : null;
  }
  return {
    scale,
    zeroPoint: t.int64s(3, 'zero_point') ?? [],
    quantizedDimension: t.i32(6, 0),
    hasCustomDetails,
  };
}

function readTensor(t: Table, index: number): Tensor {
  // Tensor: shape 0, type 1, buffer 2, name 3, quantization 4, is_variable 5, sparsity 6.
  const quantTable = t.table(4, 'quantization');
  return {
    index,
    name: t.string(3, 'name') ?? '',
    shape: t.int32s(0, 'shape') ?? [],
    type: t.i8(1, TensorType.FLOAT32),
    buffer: t.u32(2, 0),
    quantization: quantTable ? readQuantization(quantTable) : null,
    isVariable: t.bool(5, false),
    sparse: t.has(6),
  };
}

function readOptions(type: number, t: Table | undefined): BuiltinOptions {
  if (!t) return { kind: 'none' };
  switch (type) {
    case BuiltinOptionsType.Conv2DOptions:
      // padding 0, stride_w 1, stride_h 2, fused_activation_function 3, dilation_w 4, dilation_h 5.
      return {
        kind: 'conv2d',
        padding: t.i8(0, Padding.SAME),
        strideW: t.i32(1, 0),
        strideH: t.i32(2, 0),
        activation: t.i8(3, 0),
        dilationW: t.i32(4, 1),
        dilationH: t.i32(5, 1),
      };
    case BuiltinOptionsType.DepthwiseConv2DOptions:
      // padding 0, stride_w 1, stride_h 2, depth_multiplier 3, fused_activation_function 4, dilation 5/6.
      return {
        kind: 'depthwise',
        padding: t.i8(0, Padding.SAME),
        strideW: t.i32(1, 0),
        strideH: t.i32(2, 0),
        depthMultiplier: t.i32(3, 0),
        activation: t.i8(4, 0),
        dilationW: t.i32(5, 1),
        dilationH: t.i32(6, 1),
      };
    case BuiltinOptionsType.Pool2DOptions:
      // padding 0, stride_w 1, stride_h 2, filter_width 3, filter_height 4, fused_activation_function 5.
      return {
        kind: 'pool2d',
        padding: t.i8(0, Padding.SAME),
        strideW: t.i32(1, 0),
        strideH: t.i32(2, 0),
        filterW: t.i32(3, 0),
        filterH: t.i32(4, 0),
        activation: t.i8(5, 0),
      };
    case BuiltinOptionsType.FullyConnectedOptions:
      // fused_activation_function 0, weights_format 1, keep_num_dims 2.
      return { kind: 'fullyConnected', activation: t.i8(0, 0), weightsFormat: t.i8(1, 0), keepNumDims: t.bool(2) };
    case BuiltinOptionsType.SoftmaxOptions:
      return { kind: 'softmax', beta: t.f32(0, 0) };
    case BuiltinOptionsType.AddOptions:
      return { kind: 'add', activation: t.i8(0, 0) };
    case BuiltinOptionsType.MulOptions:
      return { kind: 'mul', activation: t.i8(0, 0) };
    case BuiltinOptionsType.SubOptions:
      return { kind: 'sub', activation: t.i8(0, 0) };
    case BuiltinOptionsType.DivOptions:
      return { kind: 'div', activation: t.i8(0, 0) };
    case BuiltinOptionsType.ReshapeOptions:
      return { kind: 'reshape', newShape: t.int32s(0, 'new_shape') };
    case BuiltinOptionsType.ReducerOptions:
      return { kind: 'reducer', keepDims: t.bool(0) };
    case BuiltinOptionsType.SqueezeOptions:
      return { kind: 'squeeze', squeezeDims: t.int32s(0, 'squeeze_dims') };
    case BuiltinOptionsType.PadOptions:
      return { kind: 'pad' };
    case BuiltinOptionsType.QuantizeOptions:
      return { kind: 'quantize' };
    case BuiltinOptionsType.DequantizeOptions:
      return { kind: 'dequantize' };
    default:
      return { kind: 'other', type };
  }
}

function readOperator(t: Table, index: number): Operator {
  // Operator: opcode_index 0, inputs 1, outputs 2, builtin_options (union) 3/4.
  const options = t.union(3, 'builtin_options');
  return {
    index,
    opcodeIndex: t.u32(0, 0),
    inputs: t.int32s(1, 'inputs') ?? [],
    outputs: t.int32s(2, 'outputs') ?? [],
    options: options ? readOptions(options.type, options.table) : { kind: 'none' },
  };
}

function readOperatorCode(t: Table): OperatorCode {
  // OperatorCode: deprecated_builtin_code 0 (byte), custom_code 1, version 2 (default 1), builtin_code 3 (int).
  // Old files only have the byte; new ones write both and put 127 (PLACEHOLDER_FOR_GREATER_OP_CODES) in
  // the byte for codes above 127. TFLite takes the larger of the two.
  const builtinCode = Math.max(t.i8(0, 0), t.i32(3, 0));
  const customCode = t.string(1, 'custom_code');
  return {
    builtinCode,
    customCode,
    version: t.i32(2, 1),
    name:
      builtinCode === BuiltinOperator.CUSTOM ? `CUSTOM(${customCode ?? '?'})` : builtinOperatorName(builtinCode),
  };
}

function readSubGraph(t: Table): SubGraph {
  // SubGraph: tensors 0, inputs 1, outputs 2, operators 3, name 4.
  return {
    tensors: t.tables(0, 'tensors').map(readTensor),
    inputs: t.int32s(1, 'inputs') ?? [],
    outputs: t.int32s(2, 'outputs') ?? [],
    operators: t.tables(3, 'operators').map(readOperator),
    name: t.string(4, 'name'),
  };
}

function readBuffer(fb: FlatBuffer, t: Table): Buffer {
  // Buffer: data 0, offset 1 (ulong), size 2 (ulong). Models over 2 GB keep the data outside the
  // flatbuffer: `offset` counts from the start of the file and is only meaningful when > 1.
  const offset = t.u64(1, 0);
  if (offset > 1) {
    const size = t.u64(2, 0);
    fb.check(offset, size, `${t.what} (data stored outside the flatbuffer)`);
    return { data: fb.bytes.subarray(offset, offset + size) };
  }
  const data = t.bytes(0, 'data');
  return { data: data && data.length > 0 ? data : null };
}

/** Decodes the model tables (not the weights) of a .tflite file. */
export function readModel(bytes: Uint8Array, file: string): Model {
  if (bytes.length === 0) throw new ModelFormatError(file, 'empty file');
  const fb = new FlatBuffer(bytes, file, 'model');
  const id = fb.identifier();
  if (id !== TFLITE_IDENTIFIER) {
    const shown = JSON.stringify(id);
    throw new ModelFormatError(file, `not a TFLite model (file identifier ${shown}, expected "${TFLITE_IDENTIFIER}")`);
  }
  const root = fb.root('Model');
  // Model: version 0, operator_codes 1, subgraphs 2, description 3, buffers 4, metadata_buffer 5, metadata 6.
  return {
    version: root.u32(0, 0),
    operatorCodes: root.tables(1, 'operator_codes').map(readOperatorCode),
    subgraphs: root.tables(2, 'subgraphs').map(readSubGraph),
    description: root.string(3, 'description'),
    buffers: root.tables(4, 'buffers').map((t) => readBuffer(fb, t)),
    metadata: root.tables(6, 'metadata').map((t) => ({ name: t.string(0, 'name') ?? '', buffer: t.u32(1, 0) })),
  };
}

/**
 * The shape of the model's (first subgraph's first) input tensor, read without decoding the rest of
 * the file: what a caller needs to prepare inputs while the model itself is still being read.
 */
export function readInputShape(bytes: Uint8Array, file: string): number[] | null {
  const fb = new FlatBuffer(bytes, file, 'model');
  if (fb.identifier() !== TFLITE_IDENTIFIER) return null;
  const subgraph = fb.root('Model').tables(2, 'subgraphs')[0];
  const input = subgraph?.int32s(1, 'inputs')?.[0];
  const tensor = input === undefined ? undefined : subgraph?.tables(0, 'tensors')[input];
  return tensor?.int32s(0, 'shape') ?? null;
}
