// Runs a quantized TFLite MobileNet operator by operator with the integer reference ops of
// src/engine/int8 (a test harness only: the planner does not know about them yet). Reads the graph
// with the project's TFLite reader and maps each operator onto an op: CONV_2D (1×1 stride 1 →
// pointwise, else conv2d), DEPTHWISE_CONV_2D, ADD, AVERAGE_POOL_2D over the whole map, MEAN over H
// and W, RESHAPE, SOFTMAX, QUANTIZE (8-bit → 8-bit) and FULLY_CONNECTED. With rounding 'xnnpack'
// the operators TFLite's XNNPACK delegate takes (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD,
// MEAN) get XNNPACK's parameters, as the planner gives them (params.ts, xnnpack.ts).
import { readModel, TensorType, type Model, type Operator, type Tensor } from '../../src/tflite/schema.js';
import { ACT_NONE, ACT_RELU, ACT_RELU6, type ActCode } from '../../src/engine/plan.js';
import * as ops from '../../src/engine/int8/ops.js';
import {
  addParams, convOutputStage, fullyConnectedOutputStage, meanParams, requantizeParams, softmaxParams, xnnOutputStage, xnnResidualParams,
  type Rounding, type TensorQuant,
} from '../../src/engine/int8/params.js';
import { xnnMeanParams } from '../../src/engine/int8/xnnpack.js';
import { storageToUint8, toStorage, uint8ToStorage, type QuantType } from '../../src/engine/int8/quantize.js';

/** The synthetic uint8 image the golden outputs were made with (int8-golden.ts). */
export function int8Pattern(h: number, w: number, seed: number): Uint8Array {
  const out = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) out[(y * w + x) * 3 + c] = (x * 7 + y * 13 + c * 50 + ((x * y) >> 3) + seed * 37) & 255;
    }
  }
  return out;
}

/** FNV-1a, 32 bits, as 8 hex digits. */
export function fnv1a(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** A tensor in the storage domain (quantize.ts), with its type in the file and its quantization. */
export interface Int8Value {
  data: Int8Array;
  type: QuantType;
  quant: TensorQuant;
}
type Value = Int8Value;

/** A value's bytes in the file's own type: uint8, or int8 two's complement. */
function fileBytes(v: Value): Uint8Array {
  return v.type === 'uint8' ? storageToUint8(v.data) : new Uint8Array(v.data.slice().buffer);
}

export interface Int8RunResult {
  opNames: string[];
  /** FNV-1a of each operator's output in the file's type (uint8 bytes, or int8 two's complement). */
  hashes: string[];
  /** The graph output as uint8 (storage + 128) when its type is UINT8, else the int8 bytes. */
  output: Uint8Array;
}

function quantType(t: Tensor): QuantType {
  if (t.type === TensorType.UINT8) return 'uint8';
  if (t.type === TensorType.INT8) return 'int8';
  throw new Error(`tensor ${t.name}: not an 8-bit tensor`);
}

function tensorQuant(t: Tensor): TensorQuant {
  const q = t.quantization;
  if (!q || q.scale.length !== 1) throw new Error(`tensor ${t.name}: expected per-tensor quantization`);
  const zp = q.zeroPoint[0] ?? 0;
  return { scale: q.scale[0]!, zeroPoint: quantType(t) === 'uint8' ? zp - 128 : zp };
}

function activation(code: number): ActCode {
  if (code === 0) return ACT_NONE;
  if (code === 1) return ACT_RELU;
  if (code === 3) return ACT_RELU6;
  throw new Error(`fused activation ${code} not handled`);
}

/** TFLite's padding_values for SAME (0) / VALID (1): the rows before the input. */
function padBefore(padding: number, inSize: number, outSize: number, kernel: number, stride: number): number {
  if (padding === 1) return 0;
  return Math.floor(Math.max((outSize - 1) * stride + kernel - inSize, 0) / 2);
}

export class Int8Graph {
  readonly model: Model;

  constructor(bytes: Uint8Array, name: string, readonly rounding: Rounding = 'tflite') {
    this.model = readModel(bytes, name);
  }

  private constBytes(t: Tensor): Uint8Array {
    const data = this.model.buffers[t.buffer]?.data;
    if (!data) throw new Error(`tensor ${t.name} has no data`);
    return data;
  }

  private weights(t: Tensor): { weights: Int8Array; weightZeroPoint: number; scales: Float32Array } {
    const q = t.quantization!;
    const type = quantType(t);
    const zps = q.zeroPoint.length ? q.zeroPoint : [0];
    if (zps.some((z) => z !== zps[0])) throw new Error(`tensor ${t.name}: per-channel zero points`);
    const bytes = this.constBytes(t);
    const { data, zeroPoint } = toStorage(type === 'uint8' ? bytes : new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length), zps[0]!, type);
    return { weights: data.slice(), weightZeroPoint: zeroPoint, scales: q.scale };
  }

  private bias(t: Tensor): Int32Array {
    const bytes = this.constBytes(t);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const out = new Int32Array(bytes.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = view.getInt32(4 * i, true);
    return out;
  }

  /** Runs the graph on a uint8 (or int8) input. */
  run(input: Uint8Array | Int8Array): Int8RunResult {
    const sg = this.model.subgraphs[0]!;
    const values = new Map<number, Value>();
    const inTensor = sg.tensors[sg.inputs[0]!]!;
    const inType = quantType(inTensor);
    values.set(inTensor.index, {
      data: inType === 'uint8' ? uint8ToStorage(input as Uint8Array) : new Int8Array(input),
      type: inType,
      quant: tensorQuant(inTensor),
    });
    const opNames: string[] = [];
    const hashes: string[] = [];
    for (const op of sg.operators) {
      const name = this.model.operatorCodes[op.opcodeIndex]!.name;
      const out = sg.tensors[op.outputs[0]!]!;
      const v = this.runOp(name, op, values);
      values.set(out.index, v);
      opNames.push(name);
      hashes.push(fnv1a(fileBytes(v)));
    }
    return { opNames, hashes, output: fileBytes(values.get(sg.outputs[0]!)!) };
  }

  /** Tensor `index` of the graph holding `bytes` in the file's type (uint8, or int8 two's complement). */
  tensorValue(index: number, bytes: Uint8Array): Int8Value {
    const t = this.model.subgraphs[0]!.tensors[index]!;
    const type = quantType(t);
    return {
      data: type === 'uint8' ? uint8ToStorage(bytes) : new Int8Array(bytes.slice().buffer),
      type,
      quant: tensorQuant(t),
    };
  }

  /** Operator `index` alone, on the input tensors in `values`; its output in the file's type. */
  runOperator(index: number, values: ReadonlyMap<number, Int8Value>): Uint8Array {
    const op = this.model.subgraphs[0]!.operators[index]!;
    return fileBytes(this.runOp(this.model.operatorCodes[op.opcodeIndex]!.name, op, values));
  }

  private runOp(name: string, op: Operator, values: ReadonlyMap<number, Value>): Value {
    const sg = this.model.subgraphs[0]!;
    const t = (i: number) => sg.tensors[op.inputs[i]!]!;
    const get = (i: number) => {
      const v = values.get(op.inputs[i]!);
      if (!v) throw new Error(`${name}: input ${op.inputs[i]} not computed`);
      return v;
    };
    const outT = sg.tensors[op.outputs[0]!]!;
    const outQuant = tensorQuant(outT);
    const outType = quantType(outT);
    const size = outT.shape.reduce((a, b) => a * b, 1);
    const output = new Int8Array(size);
    const o = op.options;
    switch (name) {
      case 'CONV_2D':
      case 'DEPTHWISE_CONV_2D': {
        if (o.kind !== 'conv2d' && o.kind !== 'depthwise') throw new Error(`${name}: options`);
        if (o.dilationH !== 1 || o.dilationW !== 1) throw new Error(`${name}: dilation`);
        const x = get(0);
        const [, inH, inW, inC] = t(0).shape as [number, number, number, number];
        const [, outH, outW, outC] = outT.shape as [number, number, number, number];
        const f = this.weights(t(1));
        const bias = this.bias(t(2));
        const kernel = t(1).shape[1]!;
        const stride = o.strideH;
        if (o.strideW !== stride || t(1).shape[2] !== kernel) throw new Error(`${name}: non-square`);
        const requant = this.rounding === 'xnnpack'
          ? xnnOutputStage(x.type, x.quant, f.scales, outQuant, outC, activation(o.activation))
          : convOutputStage(x.type, x.quant, f.scales, outQuant, outC, activation(o.activation));
        const spatial = {
          inH, inW, outH, outW, stride,
          padTop: padBefore(o.padding, inH, outH, kernel, stride), padLeft: padBefore(o.padding, inW, outW, kernel, stride),
        };
        const q = { weights: f.weights, weightZeroPoint: f.weightZeroPoint, bias, inputZeroPoint: x.quant.zeroPoint, requant };
        if (name === 'DEPTHWISE_CONV_2D') {
          if (outC !== inC) throw new Error('depth multiplier');
          ops.depthwise({ ...spatial, ...q, kernel, channels: inC }, x.data, output);
        } else if (kernel === 1 && stride === 1) {
          ops.pointwise({ ...q, h: inH, w: inW, inC, outC }, x.data, output);
        } else {
          ops.conv2d({ ...spatial, ...q, kernel, inC, outC }, x.data, output);
        }
        break;
      }
      case 'FULLY_CONNECTED': {
        if (o.kind !== 'fullyConnected') throw new Error(`${name}: options`);
        const x = get(0);
        const f = this.weights(t(1));
        const [outC, inC] = t(1).shape as [number, number];
        const requant = this.rounding === 'xnnpack'
          ? xnnOutputStage(x.type, x.quant, f.scales, outQuant, outC, activation(o.activation))
          : fullyConnectedOutputStage(x.quant, f.scales, outQuant, outC, activation(o.activation));
        ops.fc({ weights: f.weights, weightZeroPoint: f.weightZeroPoint, bias: this.bias(t(2)), inputZeroPoint: x.quant.zeroPoint, inC, outC, requant }, x.data, output);
        break;
      }
      case 'ADD': {
        if (o.kind !== 'add') throw new Error(`${name}: options`);
        const a = get(0);
        const b = get(1);
        const act = activation(o.activation);
        const params = this.rounding === 'xnnpack' ? xnnResidualParams(outType, a.quant, b.quant, outQuant, act) : addParams(a.quant, b.quant, outQuant, act);
        ops.add(params, a.data, b.data, output);
        break;
      }
      case 'AVERAGE_POOL_2D': {
        if (o.kind !== 'pool2d') throw new Error(`${name}: options`);
        const [, h, w, channels] = t(0).shape as [number, number, number, number];
        if (o.filterH !== h || o.filterW !== w || size !== channels) throw new Error('only a global average pool is handled');
        if (o.activation !== 0) throw new Error('fused activation on the pool');
        ops.avgpool({ h, w, channels, type: outType, actMin: -128, actMax: 127 }, get(0).data, output);
        break;
      }
      case 'MEAN': {
        const [, h, w, channels] = t(0).shape as [number, number, number, number];
        if (size !== channels) throw new Error('only a mean over H and W is handled');
        const x = get(0);
        const params = this.rounding === 'xnnpack' ? xnnMeanParams(x.type, x.quant, outQuant, h * w) : meanParams(x.quant, outQuant);
        ops.mean({ h, w, channels, params }, x.data, output);
        break;
      }
      case 'RESHAPE':
        output.set(get(0).data);
        break;
      case 'SOFTMAX': {
        if (o.kind !== 'softmax') throw new Error(`${name}: options`);
        const x = get(0);
        ops.softmax(softmaxParams(x.quant.scale, o.beta), x.data, output);
        break;
      }
      case 'QUANTIZE': {
        const x = get(0);
        ops.requantizeOp(requantizeParams(x.quant, outQuant), x.data, output);
        break;
      }
      default:
        throw new Error(`operator ${name} not handled`);
    }
    return { data: output, type: outType, quant: outQuant };
  }
}
