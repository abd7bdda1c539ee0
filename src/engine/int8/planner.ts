// Turns a quantized ModelSpec into a QPlan. The geometry (shapes, SAME padding, the fused v1 pairs,
// the two-ended arena) is the fp32 planner's: an element is a byte here, so its offsets and arena
// size, counted in elements, are the byte offsets. This adds what TFLite computes at Prepare for each
// operator (params.ts) from the activations' quantization (spec.quantization, one record per integer
// operator in file order) and the weights as the file stores them: lazy (lazy-weights.ts), so that
// the native backend can hand the addon the file's bytes.
import { LazyWeights, weightsOf, type EncodedWeights } from '../../model/spec.js';
import type { ModelSpec } from '../../model/spec.js';
import type { QuantizedOp, TensorQuantization } from '../../model/quantization.js';
import { ACT_NONE, type ActCode, type ConvWeights, type Plan, type Step } from '../plan.js';
import { PlanError, planModel } from '../planner.js';
import { storageZeroPoint } from './quantize.js';
import type { QDepthwise, QPointwise, QWeights } from './ops.js';
import {
  addParams, convOutputStage, fullyConnectedOutputStage, meanParams, softmaxParams, xnnOutputStage, xnnResidualParams,
  type OutputStage, type Rounding, type TensorQuant,
} from './params.js';
import { xnnMeanParams } from './xnnpack.js';
import { defineQWeights, encodedTensor } from './lazy-weights.js';
import type { EdgeQuant, QEncodedTensor, QPlan, QStep } from './plan.js';

/** A quantized model that cannot run in integer arithmetic; the caller may run it in fp32. */
export class Int8UnsupportedError extends PlanError {
  constructor(message: string, file?: string) {
    super(message, file);
    this.name = 'Int8UnsupportedError';
  }
}

function storage(q: TensorQuantization): TensorQuant {
  return { scale: q.scale, zeroPoint: storageZeroPoint(q.zeroPoint, q.type) };
}

function edge(q: TensorQuantization): EdgeQuant {
  return { type: q.type, ...storage(q) };
}

/** The file's encoding of a layer's weights or bias (which the fp32 path may have decoded since). */
function encoded(layer: object, key: 'weights' | 'bias', where: string): EncodedWeights {
  const values = weightsOf(layer, key);
  if (!(values instanceof LazyWeights)) throw new Int8UnsupportedError(`${where}: ${key} are not the model file's`);
  return values.encoded;
}

/** A layer's quantized weights as the file stores them, with their single zero point and their scales. */
interface FileQWeights {
  weights: QEncodedTensor;
  bias: QEncodedTensor;
  /** In the storage domain (a uint8 zero point − 128). */
  weightZeroPoint: number;
  scales: Float32Array;
}

function fileQWeights(layer: object, where: string): FileQWeights {
  const w = encoded(layer, 'weights', where);
  const b = encoded(layer, 'bias', where);
  if ((w.type !== 'u8' && w.type !== 'i8') || b.type !== 'i32') {
    throw new Int8UnsupportedError(`${where}: weights ${w.type} / bias ${b.type}, not 8-bit / int32`);
  }
  const zero = w.zeroPoint.length ? w.zeroPoint[0]! : 0;
  return {
    weights: encodedTensor(w), bias: encodedTensor(b), weightZeroPoint: w.type === 'u8' ? zero - 128 : zero, scales: w.scale,
  };
}

/** `part` with the layer's weights (lazy: still the file's bytes) and weight zero point. */
function withWeights<T extends object>(part: T, q: FileQWeights): T & QWeights {
  return defineQWeights(Object.assign(part, { weightZeroPoint: q.weightZeroPoint }), q.weights, q.bias);
}

/** Reads the integer operators in order, checking each is the kind the next layer part expects. */
class OpCursor {
  private at = 0;
  constructor(private readonly ops: readonly QuantizedOp[]) {}

  next(kinds: readonly QuantizedOp['kind'][], where: string): QuantizedOp {
    const op = this.ops[this.at++];
    if (!op || !kinds.includes(op.kind)) {
      throw new Int8UnsupportedError(`${where}: expected a ${kinds.join(' or ')} operator, found ${op ? `${op.kind} (operator ${op.operator})` : 'none'}`);
    }
    return op;
  }

  end(): void {
    if (this.at !== this.ops.length) throw new Int8UnsupportedError(`operator ${this.ops[this.at]!.operator} is not part of the layer chain`);
  }
}

/**
 * The output stage of `op`: XNNPACK's (one rule for all), or TFLite's kernel's (convolution rule or
 * fully-connected rule).
 */
function outputStage(op: QuantizedOp, scales: Float32Array, channels: number, act: ActCode, rounding: Rounding): OutputStage {
  if (rounding === 'xnnpack') return xnnOutputStage(op.output.type, storage(op.input), scales, storage(op.output), channels, act);
  return op.kind === 'fc'
    ? fullyConnectedOutputStage(storage(op.input), scales, storage(op.output), channels, act)
    : convOutputStage(op.input.type, storage(op.input), scales, storage(op.output), channels, act);
}

function pointwisePart(
  op: QuantizedOp, layer: ConvWeights, h: number, w: number, inC: number, outC: number, where: string, rounding: Rounding,
): QPointwise {
  const q = fileQWeights(layer, where);
  return withWeights({
    h, w, inC, outC, inputZeroPoint: storage(op.input).zeroPoint, requant: outputStage(op, q.scales, outC, layer.act, rounding),
  }, q);
}

type UnplacedQStep = QStep extends infer S ? (S extends QStep ? Omit<S, 'input' | 'output'> : never) : never;

/** The integer form of one fp32 plan step (without its arena offsets). */
function quantizeStep(step: Step, ops: OpCursor, where: string, rounding: Rounding): { step: UnplacedQStep; last: QuantizedOp } {
  switch (step.op) {
    case 'conv2d': {
      const op = ops.next(['conv'], where);
      const q = fileQWeights(step, where);
      const { inH, inW, outH, outW, stride, padTop, padLeft, kernel, inC, outC } = step;
      return {
        step: withWeights({
          op: 'conv2d' as const, inH, inW, outH, outW, stride, padTop, padLeft, kernel, inC, outC,
          inputZeroPoint: storage(op.input).zeroPoint, requant: outputStage(op, q.scales, outC, step.act, rounding),
        }, q),
        last: op,
      };
    }
    case 'depthwise': {
      const op = ops.next(['depthwise'], where);
      return { step: Object.assign(depthwisePart(op, step, step, step.channels, where, rounding), { op: 'depthwise' as const }), last: op };
    }
    case 'pointwise': {
      const op = ops.next(['conv', 'fc'], where);
      const part = pointwisePart(op, step, step.h, step.w, step.inC, step.outC, where, rounding);
      return { step: Object.assign(part, { op: 'pointwise' as const }), last: op };
    }
    case 'bottleneck': {
      const expandOp = step.expand && ops.next(['conv'], `${where} expand`);
      const dwOp = ops.next(['depthwise'], `${where} depthwise`);
      const projectOp = ops.next(['conv'], `${where} project`);
      const addOp = step.residual ? ops.next(['add'], `${where} residual`) : null;
      const expand = step.expand
        && pointwisePart(expandOp!, step.expand, step.inH, step.inW, step.inC, step.expandC, `${where} expand`, rounding);
      const depthwise = depthwisePart(dwOp, step, step.depthwise, step.expandC, `${where} depthwise`, rounding);
      const project = pointwisePart(projectOp, step.project, step.outH, step.outW, step.expandC, step.outC, `${where} project`, rounding);
      // ADD's operands in either order: TFLite's and XNNPACK's rescaling are both symmetric in them.
      const blockInput = expandOp?.input ?? dwOp.input;
      const [a, b, out] = [storage(projectOp.output), storage(blockInput), addOp && storage(addOp.output)];
      const residual = addOp && out && (rounding === 'xnnpack'
        ? xnnResidualParams(addOp.output.type, a, b, out, ACT_NONE)
        : addParams(a, b, out, ACT_NONE));
      return { step: { op: 'bottleneck', expand, depthwise, project, residual }, last: addOp ?? projectOp };
    }
    case 'avgpool': {
      const op = ops.next(['avgpool', 'mean'], where);
      const { h, w, channels } = step;
      if (op.kind === 'mean') {
        const params = rounding === 'xnnpack'
          ? xnnMeanParams(op.input.type, storage(op.input), storage(op.output), h * w)
          : meanParams(storage(op.input), storage(op.output));
        return { step: { op: 'mean', h, w, channels, params }, last: op };
      }
      return { step: { op: 'avgpool', h, w, channels, type: op.input.type, actMin: -128, actMax: 127 }, last: op };
    }
    case 'fc': {
      const op = ops.next(['fc', 'conv'], where);
      const q = fileQWeights(step, where);
      return {
        step: withWeights({
          op: 'fc' as const, inC: step.inC, outC: step.outC, inputZeroPoint: storage(op.input).zeroPoint,
          requant: outputStage(op, q.scales, step.outC, ACT_NONE, rounding),
        }, q),
        last: op,
      };
    }
    case 'softmax': {
      const op = ops.next(['softmax'], where);
      return { step: { op: 'softmax', n: step.n, params: softmaxParams(op.input.scale) }, last: op };
    }
  }
}

function depthwisePart(
  op: QuantizedOp, s: Omit<QDepthwise, keyof QWeights | 'kernel' | 'channels' | 'inputZeroPoint' | 'requant'>, layer: ConvWeights,
  channels: number, where: string, rounding: Rounding,
): QDepthwise {
  const q = fileQWeights(layer, where);
  const { inH, inW, outH, outW, stride, padTop, padLeft } = s;
  return withWeights({
    inH, inW, outH, outW, stride, padTop, padLeft, kernel: 3, channels,
    inputZeroPoint: storage(op.input).zeroPoint, requant: outputStage(op, q.scales, channels, layer.act, rounding),
  }, q);
}

export interface QPlanOptions {
  /** Whose requantization the plan reproduces (QPlan.rounding); default 'tflite'. */
  rounding?: Rounding;
}

/**
 * The integer plan of a quantized model (`plan`: its fp32 plan, when the caller has made it already).
 * Throws Int8UnsupportedError when the model is not fully 8-bit (spec.int8Unsupported says why) or
 * its operators do not line up with its layers.
 */
export function planQuantized(spec: ModelSpec, file?: string, plan?: Plan, options: QPlanOptions = {}): QPlan {
  const rounding = options.rounding ?? 'tflite';
  if (rounding !== 'tflite' && rounding !== 'xnnpack') throw new RangeError(`unknown int8 rounding ${String(rounding)}`);
  const quantization = spec.quantization;
  if (!quantization) throw new Int8UnsupportedError(spec.int8Unsupported ?? 'int8 needs a quantized model; this one has float weights (use fp32)', file);
  plan ??= planModel(spec);
  const ops = new OpCursor(quantization.ops);
  const stepQuant: EdgeQuant[] = [];
  let steps: QStep[];
  try {
    steps = plan.steps.map((step, index) => {
      const q = quantizeStep(step, ops, `step ${index} (${step.op})`, rounding);
      stepQuant.push(edge(q.last.output));
      // Placed in place: a copy ({ ...q.step }) would read, and so convert, the lazy weights.
      return Object.assign(q.step, { input: step.input, output: step.output }) as QStep;
    });
    ops.end();
  } catch (error) {
    if (error instanceof Int8UnsupportedError && file) throw new Int8UnsupportedError(error.message, file);
    throw error;
  }
  const first = quantization.ops[0]!;
  if (Math.fround(first.input.scale) !== Math.fround(quantization.input.scale)) {
    throw new Int8UnsupportedError('the first layer does not read the input tensor as fed', file);
  }
  return {
    dtype: 'int8',
    rounding,
    inputH: plan.inputH, inputW: plan.inputW, inputC: plan.inputC, input: plan.input,
    inputQuant: edge(quantization.input),
    output: plan.output, outputSize: plan.outputSize, outputQuant: stepQuant[stepQuant.length - 1]!,
    arenaBytes: plan.arenaSize,
    steps,
    stepQuant,
  };
}
