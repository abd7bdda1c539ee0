// Test helper: synthetic MobileNet v1/v2 .tflite files with seeded random float weights, built from
// the architecture tables, in the variants the published files do not cover (FULLY_CONNECTED
// classifier, MEAN pooling, explicit PAD, standalone RELU6, float16 weights behind DEQUANTIZE, …) and
// in the forms Keras, TF Model Maker and Teachable Machine export for people's own classes (any class
// count, MEAN without keep_dims, hidden dense layers, a classifier without bias, input scaling inside
// the graph), and without classifier (numClasses 0: feature-vector models, Keras include_top=False,
// with or without the pool). specOfSynthetic rebuilds the ModelSpec from the weights written, without the reader.
import { architectureShapes } from '../../src/model/architecture.js';
import type { Activation, Arch, Layer, ModelSpec, Normalization, PointwiseLayer } from '../../src/model/spec.js';
import {
  fb,
  makeZip,
  concat,
  writeMetadata,
  writeTflite,
  type FbTable,
  type ModelDef,
  type OperatorDef,
  type TensorDef,
} from './tflite-writer.js';
import { seededRandom } from '../../src/model/random-model.js';
import { BuiltinOperator, TensorType } from '../../src/tflite/schema.js';

/** The operator codes, as the reader knows them. */
export const OP = BuiltinOperator;

export const TYPE = TensorType;

export interface SyntheticOptions {
  arch: Arch;
  alpha: number;
  resolution?: number;
  /** 0: no classifier, the graph ends with the pool (or, with pool 'none', at the last convolution). */
  numClasses?: number;
  seed?: number;
  /** Weight storage: float32 constants, or float16 constants each behind a DEQUANTIZE op. */
  weights?: 'float32' | 'float16';
  classifier?: 'fc' | 'conv';
  /**
   * 'flatten': a RESHAPE of the whole feature map to [1, H·W·C] instead of a pool (Keras Flatten);
   * 'none': no pool operator (with numClasses 0: Keras include_top=False, pooling=None).
   */
  pool?: 'avg' | 'mean' | 'flatten' | 'none';
  /** MEAN's keep_dims (default true); false gives [1, C] as Keras' GlobalAveragePooling2D does. */
  keepDims?: boolean;
  /** Dense layers between the pool and the classifier (Teachable Machine: one of 100 units, relu). */
  hidden?: { units: number; act: Activation }[];
  /** false: the classifier has no bias input (tensor index −1), like Teachable Machine's last Dense. */
  classifierBias?: boolean;
  /**
   * Elementwise operators on the input before the stem (Keras Rescaling: MUL then ADD), each with a
   * constant of one value (shape []) or three (shape [3]); constantFirst puts the constant first.
   */
  inputOps?: { op: 'mul' | 'div' | 'add' | 'sub'; values: number[]; constantFirst?: boolean }[];
  /** PAD + VALID before each strided k×k convolution; 'wrong' pads 1/1 instead of SAME's 0/1. */
  explicitPad?: boolean | 'wrong';
  /** RELU6 as separate operators instead of fused activations. */
  standaloneRelu6?: boolean;
  softmax?: boolean;
  /** Input tensor type and quantization (the graph then starts with a QUANTIZE to float). */
  input?: { type: number; scale: number; zeroPoint: number };
  /** Metadata: normalization and/or a label file packed in an appended zip. */
  metadata?: { mean?: number[]; std?: number[]; labels?: string[]; zipMethod?: 0 | 8 };
  /** Insert an elementwise operator with this opcode after the given layer index (of the table). */
  insertOp?: { afterLayer: number; opcode: number };
  /** Last-minute changes to the model definition. */
  mutate?: (def: ModelDef) => void;
}

export interface Synthetic {
  bytes: Uint8Array;
  def: ModelDef;
  /** Weights and biases of every conv / depthwise / fc operator, in operator order. */
  params: { weights: Float32Array; bias: Float32Array }[];
}

/**
 * The ModelSpec that a synthetic model's weights make, built from the tables and the written weights
 * (not by reading the file): what the reader must produce, for a reference run to compare with.
 */
export function specOfSynthetic(
  opts: SyntheticOptions,
  params: Synthetic['params'],
  normalization: Normalization = { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] },
): ModelSpec {
  const numClasses = opts.numClasses ?? 10;
  let next = 0;
  const take = () => {
    const p = params[next++];
    if (!p) throw new Error(`specOfSynthetic: only ${params.length} weight sets`);
    return p;
  };
  const pointwise = (inC: number, outC: number, act: Activation): PointwiseLayer => ({ type: 'pointwise', inC, outC, act, ...take() });
  const layers: Layer[] = [];
  for (const shape of architectureShapes(opts.arch, opts.alpha, numClasses)) {
    switch (shape.type) {
      case 'conv2d':
      case 'depthwise':
      case 'pointwise':
        layers.push({ ...shape, ...take() } as Layer);
        break;
      case 'bottleneck': {
        const { inC, expandC, outC, stride, residual } = shape;
        const expand = expandC !== inC ? pointwise(inC, expandC, 'relu6') : null;
        const depthwise = { type: 'depthwise' as const, kernel: 3, stride, channels: expandC, act: 'relu6' as const, ...take() };
        layers.push({ type: 'bottleneck', inC, expandC, outC, stride, residual, expand, depthwise, project: pointwise(expandC, outC, 'none') });
        break;
      }
      case 'avgpool':
        layers.push({ type: 'avgpool' });
        break;
      case 'fc': {
        let inC = shape.inC;
        for (const h of opts.hidden ?? []) {
          layers.push(pointwise(inC, h.units, h.act));
          inC = h.units;
        }
        layers.push({ type: 'fc', inC, outC: shape.outC, ...take() });
        break;
      }
      case 'softmax':
        layers.push({ type: 'softmax' });
        break;
    }
  }
  if (next !== params.length) throw new Error(`specOfSynthetic: ${params.length - next} weight sets left over`);
  return { arch: opts.arch, alpha: opts.alpha, resolution: opts.resolution ?? 64, numClasses, layers, normalization };
}


function floatToHalf(value: number): number {
  const f = new Float32Array([value]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) return sign; // flush tiny values to zero
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | Math.round(mant / 8192);
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function buildSyntheticMobilenet(opts: SyntheticOptions): Synthetic {
  const resolution = opts.resolution ?? 64;
  const numClasses = opts.numClasses ?? 10;
  const random = seededRandom(opts.seed ?? 1);
  const gauss = () => (random() + random() + random() - 1.5) * 2;

  let dequantizeCount = 0;
  const tensors: TensorDef[] = [];
  const buffers: (Uint8Array | null)[] = [null];
  const operators: OperatorDef[] = [];
  const params: Synthetic['params'] = [];

  const addTensor = (t: TensorDef, data?: Uint8Array): number => {
    if (data) {
      buffers.push(data);
      t.buffer = buffers.length - 1;
    }
    tensors.push(t);
    return tensors.length - 1;
  };
  const int32Const = (values: number[], shape: number[]): number => {
    const data = new Uint8Array(4 * values.length);
    const view = new DataView(data.buffer);
    values.forEach((v, i) => view.setInt32(4 * i, v, true));
    return addTensor({ shape, type: TYPE.INT32, name: 'const' }, data);
  };
  /** A float weight constant (float32, or float16 behind DEQUANTIZE); returns the tensor to feed. */
  const weightConst = (values: Float32Array, shape: number[], name: string): number => {
    if (opts.weights === 'float16') {
      const data = new Uint8Array(2 * values.length);
      const view = new DataView(data.buffer);
      values.forEach((v, i) => {
        const h = floatToHalf(v);
        view.setUint16(2 * i, h, true);
        values[i] = halfToFloat(h); // what the reader will see
      });
      const half = addTensor({ shape, type: TYPE.FLOAT16, name: `${name}_fp16` }, data);
      const out = addTensor({ shape, type: TYPE.FLOAT32, name });
      // DEQUANTIZE ops of constants come first, as converters emit them.
      operators.splice(dequantizeCount++, 0, { opcode: OP.DEQUANTIZE, inputs: [half], outputs: [out] });
      return out;
    }
    const data = new Uint8Array(values.buffer.slice(0));
    return addTensor({ shape, type: TYPE.FLOAT32, name }, data);
  };
  // Input.
  let flow: number;
  let h = resolution;
  let c = 3;
  if (opts.input) {
    const raw = addTensor({
      shape: [1, resolution, resolution, 3],
      type: opts.input.type,
      name: 'input',
      quantization: { scale: [opts.input.scale], zeroPoint: [opts.input.zeroPoint] },
    });
    flow = addTensor({ shape: [1, resolution, resolution, 3], type: TYPE.FLOAT32, name: 'input_f32' });
    operators.push({ opcode: OP.DEQUANTIZE, inputs: [raw], outputs: [flow] });
  } else {
    flow = addTensor({ shape: [1, resolution, resolution, 3], type: TYPE.FLOAT32, name: 'input' });
  }
  const inputTensor = opts.input ? 0 : flow;
  const ARITHMETIC = {
    add: { opcode: OP.ADD, options: 11 },
    mul: { opcode: OP.MUL, options: 21 },
    sub: { opcode: OP.SUB, options: 28 },
    div: { opcode: OP.DIV, options: 29 },
  } as const;
  for (const { op, values, constantFirst } of opts.inputOps ?? []) {
    const data = new Uint8Array(Float32Array.from(values).buffer);
    const constant = addTensor({ shape: values.length === 1 ? [] : [values.length], type: TYPE.FLOAT32, name: `${op}_const` }, data);
    const out = addTensor({ shape: [1, resolution, resolution, 3], type: TYPE.FLOAT32, name: op });
    const { opcode, options } = ARITHMETIC[op];
    const inputs = constantFirst ? [constant, flow] : [flow, constant];
    operators.push({ opcode, inputs, outputs: [out], options: { type: options, table: [fb.i8(0)] } });
    flow = out;
  }

  const activation = (out: number, act: string, shape: number[]): number => {
    if (act === 'relu6' && opts.standaloneRelu6) {
      const relu = addTensor({ shape, type: TYPE.FLOAT32, name: 'relu6' });
      operators.push({ opcode: OP.RELU6, inputs: [out], outputs: [relu] });
      return relu;
    }
    return out;
  };
  const fused = (act: string) => (act === 'relu6' && !opts.standaloneRelu6 ? 3 : act === 'relu' ? 1 : 0);

  const conv = (kind: 'conv' | 'depthwise', k: number, stride: number, inC: number, outC: number, act: string) => {
    const count = kind === 'conv' ? outC * k * k * inC : k * k * outC;
    const fanIn = kind === 'conv' ? k * k * inC : k * k;
    const weights = new Float32Array(count).map(() => gauss() * Math.sqrt(2 / fanIn));
    const bias = new Float32Array(outC).map(() => gauss() * 0.1);
    const shape = kind === 'conv' ? [outC, k, k, inC] : [1, k, k, outC];
    const w = weightConst(weights, shape, `${kind}_w`);
    const b = weightConst(bias, [outC], `${kind}_b`);
    params.push({ weights, bias });
    let input = flow;
    let padding = 0; // SAME
    const outH = Math.ceil(h / stride);
    if (opts.explicitPad && k > 1 && stride > 1) {
      const total = Math.max((outH - 1) * stride + k - h, 0);
      let before = Math.floor(total / 2);
      let after = total - before;
      if (opts.explicitPad === 'wrong') [before, after] = [1, 1];
      const pads = int32Const([0, 0, before, after, before, after, 0, 0], [4, 2]);
      input = addTensor({ shape: [1, h + before + after, h + before + after, inC], type: TYPE.FLOAT32, name: 'pad' });
      operators.push({ opcode: OP.PAD, inputs: [flow, pads], outputs: [input], options: { type: 22, table: [] } });
      padding = 1; // VALID
    }
    const outShape = [1, outH, outH, outC];
    const out = addTensor({ shape: outShape, type: TYPE.FLOAT32, name: kind });
    const table: FbTable =
      kind === 'conv'
        ? [fb.i8(padding), fb.i32(stride), fb.i32(stride), fb.i8(fused(act))]
        : [fb.i8(padding), fb.i32(stride), fb.i32(stride), fb.i32(1), fb.i8(fused(act))];
    operators.push({
      opcode: kind === 'conv' ? OP.CONV_2D : OP.DEPTHWISE_CONV_2D,
      inputs: [input, w, b],
      outputs: [out],
      options: { type: kind === 'conv' ? 1 : 2, table },
    });
    h = outH;
    c = outC;
    flow = activation(out, act, outShape);
  };

  const shapes = architectureShapes(opts.arch, opts.alpha, numClasses);
  shapes.forEach((shape, layerIndex) => {
    switch (shape.type) {
      case 'conv2d':
        conv('conv', shape.kernel, shape.stride, shape.inC, shape.outC, shape.act);
        break;
      case 'depthwise':
        conv('depthwise', shape.kernel, shape.stride, shape.channels, shape.channels, shape.act);
        break;
      case 'pointwise':
        conv('conv', 1, 1, shape.inC, shape.outC, shape.act);
        break;
      case 'bottleneck': {
        const blockInput = flow;
        if (shape.expandC !== shape.inC) conv('conv', 1, 1, shape.inC, shape.expandC, 'relu6');
        conv('depthwise', 3, shape.stride, shape.expandC, shape.expandC, 'relu6');
        conv('conv', 1, 1, shape.expandC, shape.outC, 'none');
        if (shape.residual) {
          const out = addTensor({ shape: [1, h, h, c], type: TYPE.FLOAT32, name: 'add' });
          operators.push({ opcode: OP.ADD, inputs: [flow, blockInput], outputs: [out], options: { type: 11, table: [fb.i8(0)] } });
          flow = out;
        }
        break;
      }
      case 'avgpool': {
        if (opts.pool === 'none') break;
        if (opts.pool === 'flatten') {
          const out = addTensor({ shape: [1, h * h * c], type: TYPE.FLOAT32, name: 'flatten' });
          operators.push({ opcode: OP.RESHAPE, inputs: [flow, int32Const([1, h * h * c], [2])], outputs: [out] });
          flow = out;
          c = h * h * c;
          h = 1;
          break;
        }
        const keepDims = opts.pool !== 'mean' || opts.keepDims !== false;
        const out = addTensor({ shape: keepDims ? [1, 1, 1, c] : [1, c], type: TYPE.FLOAT32, name: 'pool' });
        if (opts.pool === 'mean') {
          const axes = int32Const([1, 2], [2]);
          operators.push({ opcode: OP.MEAN, inputs: [flow, axes], outputs: [out], options: { type: 27, table: [fb.bool(keepDims)] } });
        } else {
          const table = [fb.i8(1), fb.i32(1), fb.i32(1), fb.i32(h), fb.i32(h), fb.i8(0)];
          operators.push({ opcode: OP.AVERAGE_POOL_2D, inputs: [flow], outputs: [out], options: { type: 5, table } });
        }
        flow = out;
        h = 1;
        break;
      }
      case 'fc': {
        const dense = (inC: number, outC: number, act: Activation, withBias: boolean, name: string) => {
          const weights = new Float32Array(outC * inC).map(() => gauss() * (act === 'none' ? 0.05 : Math.sqrt(2 / inC)));
          const bias = new Float32Array(outC).map(() => (withBias ? gauss() * 0.1 : 0));
          const w = weightConst(weights, [outC, inC], `${name}_w`);
          const b = withBias ? weightConst(bias, [outC], `${name}_b`) : -1;
          params.push({ weights, bias });
          const out = addTensor({ shape: [1, outC], type: TYPE.FLOAT32, name });
          const table = [fb.i8(fused(act))];
          operators.push({ opcode: OP.FULLY_CONNECTED, inputs: [flow, w, b], outputs: [out], options: { type: 8, table } });
          flow = activation(out, act, [1, outC]);
          c = outC;
        };
        for (const [i, layer] of (opts.hidden ?? []).entries()) dense(c, layer.units, layer.act, true, `dense_${i}`);
        if (opts.classifier === 'conv') {
          if (tensors[flow]!.shape.length !== 4) {
            // Keras MobileNet v1 (TF ≤ 2.5): GlobalAveragePooling2D → Reshape((1, 1, C)) → Conv2D.
            const out = addTensor({ shape: [1, 1, 1, c], type: TYPE.FLOAT32, name: 'reshape_1' });
            operators.push({ opcode: OP.RESHAPE, inputs: [flow, int32Const([1, 1, 1, c], [4])], outputs: [out] });
            flow = out;
          }
          conv('conv', 1, 1, c, shape.outC, 'none');
          const out = addTensor({ shape: [1, shape.outC], type: TYPE.FLOAT32, name: 'logits' });
          const newShape = int32Const([1, shape.outC], [2]);
          operators.push({ opcode: OP.RESHAPE, inputs: [flow, newShape], outputs: [out] });
          flow = out;
        } else {
          dense(c, shape.outC, 'none', opts.classifierBias !== false, 'logits');
        }
        c = shape.outC;
        break;
      }
      case 'softmax':
        if (opts.softmax !== false) {
          const out = addTensor({ shape: [1, c], type: TYPE.FLOAT32, name: 'probabilities' });
          operators.push({ opcode: OP.SOFTMAX, inputs: [flow], outputs: [out], options: { type: 9, table: [fb.f32(1)] } });
          flow = out;
        }
        break;
    }
    if (opts.insertOp && opts.insertOp.afterLayer === layerIndex) {
      const out = addTensor({ shape: [...tensors[flow]!.shape], type: TYPE.FLOAT32, name: 'inserted' });
      operators.push({ opcode: opts.insertOp.opcode, inputs: [flow], outputs: [out] });
      flow = out;
    }
  });

  const def: ModelDef = {
    opcodes: [...new Set(operators.map((o) => o.opcode))],
    tensors,
    inputs: [inputTensor],
    outputs: [flow],
    operators,
    buffers,
  };
  const md = opts.metadata;
  if (md) {
    buffers.push(writeMetadata({ mean: md.mean, std: md.std, labelFile: md.labels ? 'labels.txt' : undefined }));
    def.metadata = [{ name: 'TFLITE_METADATA', buffer: buffers.length - 1 }];
  }
  opts.mutate?.(def);
  def.opcodes = [...new Set([...def.opcodes, ...def.operators.map((o) => o.opcode)])];
  let bytes = writeTflite(def);
  if (md?.labels) {
    const text = new TextEncoder().encode(md.labels.join('\n') + '\n');
    bytes = concat([bytes, makeZip([{ name: 'labels.txt', data: text }], md.zipMethod ?? 0)]);
  }
  return { bytes, def, params };
}
