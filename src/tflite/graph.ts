// Walks the operators of a TFLite subgraph, in execution order, from the input tensor and turns them
// into a chain of primitive layers (convolutions, depthwise convolutions, residual adds, the global
// pool, the classifier, softmax) with their weights (checked, but left in the file's encoding until
// someone reads them as floats: see LazyWeights). It checks that every operator continues the
// chain, that every spatial shape follows TensorFlow's SAME rule, and refuses anything else.
//
// Passed through without a layer: QUANTIZE / DEQUANTIZE (type changes; on constants they dequantize
// weights), RESHAPE / SQUEEZE that only add or drop size-1 dimensions, a PAD whose pads equal
// TensorFlow SAME's for the VALID convolution that follows it, and standalone RELU / RELU6 right after
// a convolution or FULLY_CONNECTED without a fused activation (folded into it).
//
// Elementwise MUL / DIV / ADD / SUB of the input by constants, before the first layer, is the model's
// own input scaling (Keras' Rescaling layer or preprocess_input inside the model): it is returned as
// an affine map x·scale + offset for the input normalization to absorb, not as a layer.
import type { Activation, Conv2dLayer, DepthwiseLayer, LazyWeights, WeightValues } from '../model/spec.js';
import { elementCount, isConstant, lazyTensor, readIntegerConstant, type TensorSource } from './dequantize.js';
import { ModelFormatError } from './errors.js';
import {
  ActivationFunction,
  activationName,
  BuiltinOperator as Op,
  Padding,
  TensorType,
  type BuiltinOptions,
  type Model,
  type Operator,
  type SubGraph,
  type Tensor,
} from './schema.js';

export interface Origin {
  /** Index of the operator in the subgraph. */
  op: number;
  /** Its name (CONV_2D, …). */
  opName: string;
}

interface Spatial {
  inH: number;
  inW: number;
  outH: number;
  outW: number;
}

/** Where a layer sits in the graph: its operator and canonical input / output tensors (see GraphWalk.canon). */
interface Placed {
  origin: Origin;
  input: number;
  output: number;
}

/** Weights and bias of a layer: still encoded as in the file (decoded on first use, see LazyWeights). */
interface PrimWeights {
  weights: WeightValues;
  bias: WeightValues;
}

export interface ConvPrim extends Spatial, Placed, PrimWeights, Omit<Conv2dLayer, 'type' | 'weights' | 'bias'> {
  kind: 'conv';
}

export interface DepthwisePrim extends Spatial, Placed, PrimWeights, Omit<DepthwiseLayer, 'type' | 'weights' | 'bias'> {
  kind: 'depthwise';
}

export interface AddPrim {
  kind: 'add';
  origin: Origin;
  /** The operand that is not the previous layer's output (canonical tensor). */
  other: number;
  output: number;
}

export interface PoolPrim {
  kind: 'pool';
  origin: Origin;
  output: number;
}

export interface FullyConnectedPrim {
  kind: 'fc';
  origin: Origin;
  inC: number;
  outC: number;
  act: Activation;
  /** [outC, inC] */
  weights: WeightValues;
  bias: WeightValues;
  output: number;
}

export interface SoftmaxPrim {
  kind: 'softmax';
  origin: Origin;
  output: number;
}

export type Prim = ConvPrim | DepthwisePrim | AddPrim | PoolPrim | FullyConnectedPrim | SoftmaxPrim;

/** Elementwise arithmetic the graph applies to its input before the first layer: x·scale[c] + offset[c]. */
export interface InputAffine {
  scale: [number, number, number];
  offset: [number, number, number];
  /** The operators it was read from. */
  origins: Origin[];
}

export interface GraphChain {
  /** The input tensor. */
  input: Tensor;
  /** Input height = width. */
  resolution: number;
  prims: Prim[];
  /** The graph's own input scaling, if it has any. */
  inputAffine: InputAffine | null;
}

/** The activation flowing along the chain: a canonical tensor of shape [1, h, w, c]. */
interface Flow {
  tensor: number;
  h: number;
  w: number;
  c: number;
}

interface PendingPad {
  origin: Origin;
  /** The PAD's output tensor, which the next operator must consume. */
  output: number;
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** TensorFlow SAME padding of one spatial dimension. */
export function samePadding(size: number, kernel: number, stride: number): { out: number; before: number; after: number } {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  const before = Math.floor(total / 2);
  return { out, before, after: total - before };
}

/**
 * The activation a quantized output range implies. TF1 quantization-aware graphs can clamp a layer to
 * [0, 6] through the output's quantization alone (the RELU6 folded into the range, the fused
 * activation left NONE): a uint8/int8 tensor whose zero point is the lowest code and whose top code
 * is 6 computes exactly RELU6. Null when the range implies nothing.
 */
export function rangeImpliedActivation(tensor: Tensor): Activation | null {
  const q = tensor.quantization;
  if (!q || q.scale.length !== 1) return null;
  let qmin: number;
  let qmax: number;
  if (tensor.type === TensorType.UINT8) [qmin, qmax] = [0, 255];
  else if (tensor.type === TensorType.INT8) [qmin, qmax] = [-128, 127];
  else return null;
  const zero = q.zeroPoint[0] ?? 0;
  const top = q.scale[0]! * (qmax - zero);
  return zero === qmin && Math.abs(top - 6) <= 0.06 ? 'relu6' : null;
}

class GraphWalk implements TensorSource {
  readonly buffers: Model['buffers'];
  private readonly alias = new Map<number, number>();
  /** Outputs of QUANTIZE/DEQUANTIZE on constants → the constant tensor they convert. */
  private readonly constants = new Map<number, number>();
  private flow!: Flow;
  private pad: PendingPad | null = null;
  private inputAffine: InputAffine | null = null;
  readonly prims: Prim[] = [];
  /** Budget of dequantized values: twice the file size (see constant()). */
  private valuesLeft: number;

  constructor(
    readonly file: string,
    private readonly model: Model,
    private readonly sg: SubGraph,
    fileSize: number,
  ) {
    this.buffers = model.buffers;
    this.valuesLeft = 2 * fileSize + (1 << 16);
  }

  opName(op: Operator): string {
    const code = this.model.operatorCodes[op.opcodeIndex];
    if (!code) this.failAt(op, `opcode index ${op.opcodeIndex} of ${this.model.operatorCodes.length}`, '?');
    return code.name;
  }

  failAt(op: Operator, detail: string, name = this.opName(op)): never {
    throw new ModelFormatError(this.file, `operator ${op.index} (${name}): ${detail}`);
  }

  tensor(op: Operator, index: number | undefined, role: string): Tensor {
    if (index === undefined || index < 0) this.failAt(op, `missing ${role}`);
    const t = this.sg.tensors[index];
    if (!t) this.failAt(op, `${role} is tensor ${index} of ${this.sg.tensors.length}`);
    return t;
  }

  canon(index: number): number {
    return this.alias.get(index) ?? index;
  }

  /** A constant input (possibly behind a DEQUANTIZE): checked, to be decoded to floats on first use. */
  constant(op: Operator, index: number | undefined, role: string): { tensor: Tensor; values: LazyWeights } {
    let t = this.tensor(op, index, role);
    const source = this.constants.get(t.index);
    if (source !== undefined) t = this.sg.tensors[source]!;
    if (!isConstant(this, t)) this.failAt(op, `${role} (tensor ${t.index}) is not a constant`);
    // Every weight value takes at least a byte of the file unless buffers are shared; a file that
    // makes us dequantize far more values than it has bytes is refused instead of ground through.
    this.valuesLeft -= elementCount(this, t);
    if (this.valuesLeft < 0) this.failAt(op, `${role}: the constants share buffers far more than a model does`);
    return { tensor: t, values: lazyTensor(this, t) };
  }

  private integers(op: Operator, index: number | undefined, role: string): { tensor: Tensor; values: number[] } {
    const t = this.tensor(op, index, role);
    if (!isConstant(this, t)) this.failAt(op, `${role} (tensor ${t.index}) is not a constant`);
    return { tensor: t, values: readIntegerConstant(this, t) };
  }

  /** Requires `index` to be the current activation and returns it. */
  private consume(op: Operator, index: number | undefined): Flow {
    const t = this.tensor(op, index, 'input');
    if (this.canon(t.index) !== this.flow.tensor) {
      this.failAt(op, `does not take the previous layer's output (tensor ${this.flow.tensor}) but tensor ${t.index}`);
    }
    return this.flow;
  }

  private expectShape(op: Operator, t: Tensor, expected: number[]): void {
    if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
      this.failAt(op, `output tensor ${t.index} has shape [${t.shape.join(', ')}], expected [${expected.join(', ')}]`);
    }
  }

  private activation(op: Operator, code: number, output: Tensor): Activation {
    switch (code) {
      case ActivationFunction.NONE:
        // See rangeImpliedActivation. (None of the published models in ../shared relies on this: their
        // RELU6 layers all carry RELU6 in their options.)
        return rangeImpliedActivation(output) ?? 'none';
      case ActivationFunction.RELU:
        return 'relu';
      case ActivationFunction.RELU6:
        return 'relu6';
      default:
        return this.failAt(op, `fused activation ${activationName(code)} is not part of MobileNet`);
    }
  }

  private options<K extends BuiltinOptions['kind']>(op: Operator, kind: K): Extract<BuiltinOptions, { kind: K }> | null {
    if (op.options.kind === 'none') return null;
    if (op.options.kind !== kind) {
      const found = op.options.kind === 'other' ? `type ${op.options.type}` : op.options.kind;
      this.failAt(op, `has options of ${found}, expected ${kind}`);
    }
    return op.options as Extract<BuiltinOptions, { kind: K }>;
  }

  private origin(op: Operator): Origin {
    return { op: op.index, opName: this.opName(op) };
  }

  run(): GraphChain {
    const { sg } = this;
    if (sg.inputs.length !== 1) throw new ModelFormatError(this.file, `the model has ${sg.inputs.length} inputs, MobileNet has 1`);
    if (sg.outputs.length !== 1) throw new ModelFormatError(this.file, `the model has ${sg.outputs.length} outputs, MobileNet has 1`);
    const input = sg.tensors[sg.inputs[0]!];
    if (!input) throw new ModelFormatError(this.file, `the model input is tensor ${sg.inputs[0]} of ${sg.tensors.length}`);
    const [n, h, w, c] = input.shape;
    if (input.shape.length !== 4 || n !== 1 || c !== 3 || !h || !w || h <= 0) {
      throw new ModelFormatError(this.file, `input tensor has shape [${input.shape.join(', ')}], expected [1, H, W, 3]`);
    }
    if (h !== w) throw new ModelFormatError(this.file, `input is ${h}×${w}; only square inputs are supported`);
    const inputTypes: number[] = [TensorType.FLOAT32, TensorType.UINT8, TensorType.INT8];
    if (!inputTypes.includes(input.type)) {
      throw new ModelFormatError(this.file, `input tensor has unsupported type ${input.type}`);
    }
    this.flow = { tensor: input.index, h, w, c: 3 };

    for (const op of sg.operators) {
      const name = this.opName(op);
      const code = this.model.operatorCodes[op.opcodeIndex]!.builtinCode;
      if (this.pad && code !== Op.CONV_2D && code !== Op.DEPTHWISE_CONV_2D) {
        this.failAt(op, `follows PAD (operator ${this.pad.origin.op}); only a VALID convolution may`);
      }
      switch (code) {
        case Op.QUANTIZE:
        case Op.DEQUANTIZE:
          this.passThrough(op, true);
          break;
        case Op.RESHAPE:
        case Op.SQUEEZE:
          this.passThrough(op, false);
          break;
        case Op.PAD:
          this.padOp(op);
          break;
        case Op.CONV_2D:
          this.conv(op);
          break;
        case Op.DEPTHWISE_CONV_2D:
          this.depthwise(op);
          break;
        case Op.RELU:
        case Op.RELU6:
          this.standaloneActivation(op, code === Op.RELU6 ? 'relu6' : 'relu');
          break;
        case Op.ADD:
          // Before any layer an ADD can only be input scaling; afterwards it closes a residual block.
          if (this.prims.length === 0) this.inputArithmetic(op, code);
          else this.add(op);
          break;
        case Op.MUL:
        case Op.SUB:
        case Op.DIV:
          this.inputArithmetic(op, code);
          break;
        case Op.AVERAGE_POOL_2D:
          this.averagePool(op);
          break;
        case Op.MEAN:
          this.mean(op);
          break;
        case Op.FULLY_CONNECTED:
          this.fullyConnected(op);
          break;
        case Op.SOFTMAX:
          this.softmax(op);
          break;
        default:
          throw new ModelFormatError(this.file, `operator ${op.index} (${name}) is not part of MobileNet v1/v2`);
      }
    }
    if (this.pad) {
      throw new ModelFormatError(this.file, `operator ${this.pad.origin.op} (PAD) is not followed by a convolution`);
    }
    const output = sg.outputs[0]!;
    if (this.canon(output) !== this.flow.tensor) {
      throw new ModelFormatError(
        this.file,
        `the model output (tensor ${output}) is not the end of the layer chain (tensor ${this.flow.tensor})`,
      );
    }
    return { input, resolution: h, prims: this.prims, inputAffine: this.inputAffine };
  }

  /** QUANTIZE/DEQUANTIZE (`typeChange`), RESHAPE/SQUEEZE: no layer, the output aliases the input. */
  private passThrough(op: Operator, typeChange: boolean): void {
    const inTensor = this.tensor(op, op.inputs[0], 'input');
    const out = this.tensor(op, op.outputs[0], 'output');
    if (typeChange && isConstant(this, inTensor)) {
      // A weight stored in another type (float16, int8) and converted at load time.
      this.constants.set(out.index, this.constants.get(inTensor.index) ?? inTensor.index);
      return;
    }
    const flow = this.consume(op, inTensor.index);
    // Only size-1 dimensions may come or go: the data keeps its NHWC meaning.
    const squeeze = (s: number[]) => s.filter((d) => d !== 1);
    const before = squeeze([flow.h, flow.w, flow.c]);
    const after = squeeze(out.shape);
    if (before.length !== after.length || before.some((d, i) => d !== after[i])) {
      const size = flow.h * flow.w * flow.c;
      if (flow.h * flow.w > 1 && after.length === 1 && after[0] === size) {
        this.failAt(
          op,
          `flattens the ${flow.h}×${flow.w}×${flow.c} feature map into ${size} values (a Flatten layer); ` +
            'only models that average it globally (GlobalAveragePooling2D) before the classifier are supported',
        );
      }
      this.failAt(op, `turns [1, ${flow.h}, ${flow.w}, ${flow.c}] into [${out.shape.join(', ')}]`);
    }
    this.alias.set(out.index, flow.tensor);
  }

  private padOp(op: Operator): void {
    const flow = this.consume(op, op.inputs[0]);
    const { values: p } = this.integers(op, op.inputs[1], 'paddings');
    if (p.length !== 8 || p[0] !== 0 || p[1] !== 0 || p[6] !== 0 || p[7] !== 0) {
      this.failAt(op, `paddings [${p.join(', ')}] do not pad only height and width of an NHWC tensor`);
    }
    const [top, bottom, left, right] = [p[2]!, p[3]!, p[4]!, p[5]!];
    const out = this.tensor(op, op.outputs[0], 'output');
    this.expectShape(op, out, [1, flow.h + top + bottom, flow.w + left + right, flow.c]);
    this.pad = { origin: this.origin(op), output: out.index, top, bottom, left, right };
  }

  /** Input, stride and SAME-equivalent padding shared by CONV_2D and DEPTHWISE_CONV_2D. */
  private spatial(
    op: Operator,
    opts: { padding: number; strideW: number; strideH: number; dilationW: number; dilationH: number } | null,
    kernel: number,
  ): { flow: Flow; stride: number; outH: number; outW: number } {
    if (!opts) this.failAt(op, 'has no options');
    const padded = this.pad;
    this.pad = null;
    let flow: Flow;
    const inputIndex = op.inputs[0];
    if (padded && inputIndex === padded.output) {
      flow = this.flow;
    } else if (padded) {
      return this.failAt(op, `does not take the output of the PAD before it (operator ${padded.origin.op})`);
    } else {
      flow = this.consume(op, inputIndex);
    }
    if (opts.strideW !== opts.strideH || opts.strideW < 1) {
      this.failAt(op, `strides ${opts.strideH}×${opts.strideW}; MobileNet uses equal strides ≥ 1`);
    }
    if (opts.dilationW !== 1 || opts.dilationH !== 1) {
      this.failAt(op, `dilation ${opts.dilationH}×${opts.dilationW} is not part of MobileNet`);
    }
    const stride = opts.strideW;
    const sameH = samePadding(flow.h, kernel, stride);
    const sameW = samePadding(flow.w, kernel, stride);
    if (padded) {
      // Explicit PAD + VALID convolution (Keras' ZeroPadding2D) is accepted when it pads exactly like SAME.
      if (opts.padding !== Padding.VALID) this.failAt(op, 'follows a PAD but does not use VALID padding');
      const ok =
        padded.top === sameH.before && padded.bottom === sameH.after &&
        padded.left === sameW.before && padded.right === sameW.after;
      if (!ok) {
        this.failAt(
          op,
          `the PAD before it (operator ${padded.origin.op}) pads top/bottom/left/right ` +
            `${padded.top}/${padded.bottom}/${padded.left}/${padded.right}; TensorFlow SAME padding would be ` +
            `${sameH.before}/${sameH.after}/${sameW.before}/${sameW.after}`,
        );
      }
    } else if (opts.padding === Padding.VALID) {
      // VALID equals SAME for a 1×1 kernel (no padding either way), not for larger kernels.
      if (kernel !== 1) this.failAt(op, `VALID padding on a ${kernel}×${kernel} kernel; MobileNet pads SAME`);
    } else if (opts.padding !== Padding.SAME) {
      this.failAt(op, `unknown padding ${opts.padding}`);
    }
    return { flow, stride, outH: sameH.out, outW: sameW.out };
  }

  private bias(op: Operator, index: number | undefined, channels: number): WeightValues {
    if (index === undefined || index < 0) return new Float32Array(channels);
    const { tensor, values } = this.constant(op, index, 'bias');
    if (tensor.shape.length !== 1 || tensor.shape[0] !== channels) {
      this.failAt(op, `bias has shape [${tensor.shape.join(', ')}], expected [${channels}]`);
    }
    return values;
  }

  private conv(op: Operator): void {
    const opts = this.options(op, 'conv2d');
    const { tensor: wt, values: weights } = this.constant(op, op.inputs[1], 'filter');
    const [outC, kh, kw, inC] = wt.shape;
    if (wt.shape.length !== 4 || kh !== kw || !outC || !kh || !inC) {
      this.failAt(op, `filter shape [${wt.shape.join(', ')}] is not [out, k, k, in]`);
    }
    const { flow, stride, outH, outW } = this.spatial(op, opts, kh);
    if (inC !== flow.c) this.failAt(op, `filter expects ${inC} input channels, the input has ${flow.c}`);
    this.prims.push({ kind: 'conv', inC, outC, ...this.convOutput(op, opts!.activation, flow, kh, stride, outH, outW, outC, weights) });
  }

  /**
   * What a convolution shares with a depthwise one once its filter is checked: the output tensor and
   * its shape, the activation, the bias and the placement in the graph. Moves the flow to the output.
   */
  private convOutput(
    op: Operator, activation: number, flow: Flow, kernel: number, stride: number,
    outH: number, outW: number, outC: number, weights: WeightValues,
  ) {
    const out = this.tensor(op, op.outputs[0], 'output');
    this.expectShape(op, out, [1, outH, outW, outC]);
    const fields = {
      origin: this.origin(op),
      kernel,
      stride,
      act: this.activation(op, activation, out),
      weights,
      bias: this.bias(op, op.inputs[2], outC),
      input: flow.tensor,
      output: out.index,
      inH: flow.h,
      inW: flow.w,
      outH,
      outW,
    };
    this.flow = { tensor: out.index, h: outH, w: outW, c: outC };
    return fields;
  }

  private depthwise(op: Operator): void {
    const opts = this.options(op, 'depthwise');
    const { tensor: wt, values: weights } = this.constant(op, op.inputs[1], 'filter');
    const [one, kh, kw, channels] = wt.shape;
    if (wt.shape.length !== 4 || one !== 1 || kh !== kw || !kh || !channels) {
      this.failAt(op, `filter shape [${wt.shape.join(', ')}] is not [1, k, k, C]`);
    }
    const { flow, stride, outH, outW } = this.spatial(op, opts, kh);
    // depth_multiplier is redundant (newer TFLite ignores it): the filter's channels must equal the input's.
    if (channels !== flow.c) this.failAt(op, `filter has ${channels} channels, the input ${flow.c} (depth multiplier ≠ 1)`);
    this.prims.push({ kind: 'depthwise', channels, ...this.convOutput(op, opts!.activation, flow, kh, stride, outH, outW, channels, weights) });
  }

  private standaloneActivation(op: Operator, act: Activation): void {
    const flow = this.consume(op, op.inputs[0]);
    const last = this.prims[this.prims.length - 1];
    const activatable = last?.kind === 'conv' || last?.kind === 'depthwise' || last?.kind === 'fc';
    if (!last || !activatable || last.output !== flow.tensor || last.act !== 'none') {
      this.failAt(op, 'only follows a convolution or FULLY_CONNECTED without fused activation in MobileNet');
    }
    const out = this.tensor(op, op.outputs[0], 'output');
    // After FULLY_CONNECTED the tensor has FULLY_CONNECTED's output shape ([1, C] usually).
    this.expectShape(op, out, last.kind === 'fc' ? this.tensor(op, last.output, 'input').shape : [1, flow.h, flow.w, flow.c]);
    last.act = act;
    this.alias.set(out.index, flow.tensor);
  }

  private add(op: Operator): void {
    const opts = this.options(op, 'add');
    if (op.inputs.length !== 2) this.failAt(op, `has ${op.inputs.length} inputs`);
    const a = this.canon(this.tensor(op, op.inputs[0], 'input').index);
    const b = this.canon(this.tensor(op, op.inputs[1], 'input').index);
    const flow = this.flow;
    if (a !== flow.tensor && b !== flow.tensor) {
      this.failAt(op, `does not take the previous layer's output (tensor ${flow.tensor})`);
    }
    if (opts && opts.activation !== ActivationFunction.NONE) {
      this.failAt(op, `fused activation ${activationName(opts.activation)}; MobileNet v2's residual add is linear`);
    }
    const out = this.tensor(op, op.outputs[0], 'output');
    this.expectShape(op, out, [1, flow.h, flow.w, flow.c]);
    this.prims.push({ kind: 'add', origin: this.origin(op), other: a === flow.tensor ? b : a, output: out.index });
    this.flow = { ...flow, tensor: out.index };
  }

  /**
   * MUL / DIV / ADD / SUB of the input by a constant (one value, or one per channel) before the first
   * layer: folded into the input affine map. Only maps x·a + b with a > 0 are accepted, so the input
   * normalization stays (pixel − mean) / std with std > 0.
   */
  private inputArithmetic(op: Operator, code: number): void {
    const kinds = { [Op.ADD]: 'add', [Op.MUL]: 'mul', [Op.SUB]: 'sub', [Op.DIV]: 'div' } as const;
    const kind = kinds[code as keyof typeof kinds];
    const opts = this.options(op, kind);
    const name = this.opName(op);
    if (this.prims.length > 0) {
      this.failAt(op, `elementwise ${name} is only supported on the input, before the first convolution (input scaling)`);
    }
    if (op.inputs.length !== 2) this.failAt(op, `has ${op.inputs.length} inputs`);
    const flow = this.flow;
    const [a, b] = op.inputs.map((i) => this.canon(this.tensor(op, i, 'input').index));
    if (a !== flow.tensor && b !== flow.tensor) {
      this.failAt(op, `does not take the previous layer's output (tensor ${flow.tensor})`);
    }
    const inputFirst = a === flow.tensor;
    const { tensor: ct, values: lazy } = this.constant(op, op.inputs[inputFirst ? 1 : 0], 'operand');
    const values = lazy.floats();
    const perChannel = values.length === 3 && ct.shape[ct.shape.length - 1] === 3;
    if (values.length !== 1 && !perChannel) {
      this.failAt(op, `the constant operand has shape [${ct.shape.join(', ')}]; input scaling uses one value or one per channel`);
    }
    if (opts && opts.activation !== ActivationFunction.NONE) {
      this.failAt(op, `fused activation ${activationName(opts.activation)} on the input scaling`);
    }
    if (!inputFirst && (code === Op.SUB || code === Op.DIV)) {
      this.failAt(op, `computes constant ${code === Op.SUB ? '−' : '/'} input; only input·a + b with a > 0 is supported`);
    }
    const v = [0, 1, 2].map((c) => values[perChannel ? c : 0]!);
    if ((code === Op.MUL || code === Op.DIV) && !v.every((x) => Number.isFinite(x) && x > 0)) {
      this.failAt(op, `scales the input by [${v.join(', ')}]; only positive factors are supported`);
    }
    const out = this.tensor(op, op.outputs[0], 'output');
    this.expectShape(op, out, [1, flow.h, flow.w, flow.c]);
    const affine = this.inputAffine ?? { scale: [1, 1, 1], offset: [0, 0, 0], origins: [] };
    for (let c = 0; c < 3; c++) {
      const x = v[c]!;
      if (code === Op.MUL) [affine.scale[c], affine.offset[c]] = [affine.scale[c]! * x, affine.offset[c]! * x];
      else if (code === Op.DIV) [affine.scale[c], affine.offset[c]] = [affine.scale[c]! / x, affine.offset[c]! / x];
      else if (code === Op.ADD) affine.offset[c] = affine.offset[c]! + x;
      else affine.offset[c] = affine.offset[c]! - x;
    }
    affine.origins.push(this.origin(op));
    this.inputAffine = affine;
    this.flow = { ...flow, tensor: out.index };
  }

  private averagePool(op: Operator): void {
    const opts = this.options(op, 'pool2d');
    const flow = this.consume(op, op.inputs[0]);
    if (!opts) this.failAt(op, 'has no options');
    if (opts.filterH !== flow.h || opts.filterW !== flow.w) {
      this.failAt(op, `pools ${opts.filterH}×${opts.filterW} windows of a ${flow.h}×${flow.w} map; MobileNet pools globally`);
    }
    if (opts.activation !== ActivationFunction.NONE) this.failAt(op, `fused activation ${activationName(opts.activation)}`);
    const out = this.tensor(op, op.outputs[0], 'output');
    // A full-size window gives one output with VALID padding (with SAME, only when the stride covers the map).
    this.expectShape(op, out, [1, 1, 1, flow.c]);
    this.prims.push({ kind: 'pool', origin: this.origin(op), output: out.index });
    this.flow = { tensor: out.index, h: 1, w: 1, c: flow.c };
  }

  private mean(op: Operator): void {
    const opts = this.options(op, 'reducer');
    const flow = this.consume(op, op.inputs[0]);
    const { values: axes } = this.integers(op, op.inputs[1], 'axes');
    const normalized = [...new Set(axes.map((a) => (a < 0 ? a + 4 : a)))].sort();
    if (normalized.length !== 2 || normalized[0] !== 1 || normalized[1] !== 2) {
      this.failAt(op, `averages over axes [${axes.join(', ')}]; MobileNet averages over height and width [1, 2]`);
    }
    const out = this.tensor(op, op.outputs[0], 'output');
    this.expectShape(op, out, opts?.keepDims ? [1, 1, 1, flow.c] : [1, flow.c]);
    this.prims.push({ kind: 'pool', origin: this.origin(op), output: out.index });
    this.flow = { tensor: out.index, h: 1, w: 1, c: flow.c };
  }

  private fullyConnected(op: Operator): void {
    const opts = this.options(op, 'fullyConnected');
    const flow = this.consume(op, op.inputs[0]);
    if (opts && opts.weightsFormat !== 0) this.failAt(op, `shuffled weights format ${opts.weightsFormat} is not supported`);
    if (flow.h !== 1 || flow.w !== 1) this.failAt(op, `applied to a ${flow.h}×${flow.w} map; the classifier follows the global pool`);
    const { tensor: wt, values: weights } = this.constant(op, op.inputs[1], 'weights');
    const [outC, inC] = wt.shape;
    if (wt.shape.length !== 2 || !outC || !inC) this.failAt(op, `weights shape [${wt.shape.join(', ')}] is not [out, in]`);
    if (inC !== flow.c) this.failAt(op, `weights expect ${inC} inputs, the input has ${flow.c}`);
    const out = this.tensor(op, op.outputs[0], 'output');
    const outCount = out.shape.reduce((p, d) => p * d, 1);
    if (outCount !== outC || out.shape[0] !== 1) {
      this.failAt(op, `output tensor ${out.index} has shape [${out.shape.join(', ')}], expected ${outC} values`);
    }
    this.prims.push({
      kind: 'fc',
      origin: this.origin(op),
      inC,
      outC,
      act: this.activation(op, opts?.activation ?? ActivationFunction.NONE, out),
      weights,
      bias: this.bias(op, op.inputs[2], outC),
      output: out.index,
    });
    this.flow = { tensor: out.index, h: 1, w: 1, c: outC };
  }

  private softmax(op: Operator): void {
    const opts = this.options(op, 'softmax');
    const flow = this.consume(op, op.inputs[0]);
    const beta = opts?.beta ?? 0;
    if (beta !== 1) this.failAt(op, `beta ${beta}; only beta 1 is supported`);
    if (flow.h !== 1 || flow.w !== 1) this.failAt(op, `applied to a ${flow.h}×${flow.w} map`);
    const out = this.tensor(op, op.outputs[0], 'output');
    const outCount = out.shape.reduce((p, d) => p * d, 1);
    if (outCount !== flow.c) this.failAt(op, `output tensor ${out.index} has ${outCount} values, expected ${flow.c}`);
    this.prims.push({ kind: 'softmax', origin: this.origin(op), output: out.index });
    this.flow = { tensor: out.index, h: 1, w: 1, c: flow.c };
  }
}

/** Walks subgraph 0 of `model` into a chain of primitive layers. */
export function walkGraph(model: Model, file: string, fileSize: number): GraphChain {
  const sg = model.subgraphs[0];
  if (!sg) throw new ModelFormatError(file, 'the model has no subgraph');
  return new GraphWalk(file, model, sg, fileSize).run();
}
