// Turns a quantized ModelSpec into a QPlan. The geometry (shapes, SAME padding, the fused v1 pairs,
// the two-ended arena) is the fp32 planner's: an element is a byte here, so its offsets and arena
// size, counted in elements, are the byte offsets. This adds what TFLite computes at Prepare for each
// operator (params.ts) from the activations' quantization (spec.quantization, one record per integer
// operator in file order) and the weights as the file stores them (LazyWeights keep the encoding).
import { LazyWeights, weightsOf, type EncodedWeights } from '../../model/spec.js';
import type { ModelSpec } from '../../model/spec.js';
import type { QuantizedOp, TensorQuantization } from '../../model/quantization.js';
import { ACT_NONE, type ActCode, type ConvWeights, type Plan, type Step } from '../plan.js';
import { PlanError, planModel } from '../planner.js';
import type { QDepthwise, QPointwise, QWeights } from './ops.js';
import {
  addParams, convOutputStage, fullyConnectedOutputStage, meanParams, softmaxParams, type OutputStage, type TensorQuant,
} from './params.js';
import type { EdgeQuant, QPlan, QStep } from './plan.js';

/** A quantized model that cannot run in integer arithmetic; the caller may run it in fp32. */
export class Int8UnsupportedError extends PlanError {
  constructor(message: string, file?: string) {
    super(message, file);
    this.name = 'Int8UnsupportedError';
  }
}

function storage(q: TensorQuantization): TensorQuant {
  return { scale: q.scale, zeroPoint: q.type === 'uint8' ? q.zeroPoint - 128 : q.zeroPoint };
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

/** Weights in the storage domain (uint8 − 128) with their single zero point, and their scales. */
function quantizedWeights(layer: object, where: string): QWeights & { scales: Float32Array } {
  const w = encoded(layer, 'weights', where);
  const b = encoded(layer, 'bias', where);
  if ((w.type !== 'u8' && w.type !== 'i8') || b.type !== 'i32') {
    throw new Int8UnsupportedError(`${where}: weights ${w.type} / bias ${b.type}, not 8-bit / int32`);
  }
  const zero = w.zeroPoint.length ? w.zeroPoint[0]! : 0;
  let weights: Int8Array;
  if (w.type === 'u8') {
    // q − 128 as an int8 is q with its top bit flipped: copied, then flipped four bytes at a time.
    const bytes = new Uint8Array((w.length + 3) & ~3);
    bytes.set(w.data.subarray(0, w.length));
    const words = new Uint32Array(bytes.buffer);
    for (let i = 0; i < words.length; i++) words[i] ^= 0x80808080;
    weights = new Int8Array(bytes.buffer, 0, w.length);
  } else {
    weights = new Int8Array(w.data.buffer, w.data.byteOffset, w.length);
  }
  const bias = new Int32Array(b.length);
  const view = new DataView(b.data.buffer, b.data.byteOffset, b.length * 4);
  for (let i = 0; i < b.length; i++) bias[i] = view.getInt32(4 * i, true);
  return { weights, weightZeroPoint: w.type === 'u8' ? zero - 128 : zero, bias, scales: w.scale };
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

/** The output stage TFLite's kernel for `op` computes: convolution rule or fully-connected rule. */
function outputStage(op: QuantizedOp, scales: Float32Array, channels: number, act: ActCode): OutputStage {
  return op.kind === 'fc'
    ? fullyConnectedOutputStage(storage(op.input), scales, storage(op.output), channels, act)
    : convOutputStage(op.input.type, storage(op.input), scales, storage(op.output), channels, act);
}

function pointwisePart(op: QuantizedOp, layer: ConvWeights, h: number, w: number, inC: number, outC: number, where: string): QPointwise {
  const { scales, ...q } = quantizedWeights(layer, where);
  return { ...q, h, w, inC, outC, inputZeroPoint: storage(op.input).zeroPoint, requant: outputStage(op, scales, outC, layer.act) };
}

type UnplacedQStep = QStep extends infer S ? (S extends QStep ? Omit<S, 'input' | 'output'> : never) : never;

/** The integer form of one fp32 plan step (without its arena offsets). */
function quantizeStep(step: Step, ops: OpCursor, where: string): { step: UnplacedQStep; last: QuantizedOp } {
  switch (step.op) {
    case 'conv2d': {
      const op = ops.next(['conv'], where);
      const { scales, ...q } = quantizedWeights(step, where);
      const { inH, inW, outH, outW, stride, padTop, padLeft, kernel, inC, outC } = step;
      return {
        step: {
          op: 'conv2d', inH, inW, outH, outW, stride, padTop, padLeft, kernel, inC, outC, ...q,
          inputZeroPoint: storage(op.input).zeroPoint, requant: outputStage(op, scales, outC, step.act),
        },
        last: op,
      };
    }
    case 'depthwise': {
      const op = ops.next(['depthwise'], where);
      return { step: { op: 'depthwise', ...depthwisePart(op, step, step, step.channels, where) }, last: op };
    }
    case 'pointwise': {
      const op = ops.next(['conv', 'fc'], where);
      return { step: { op: 'pointwise', ...pointwisePart(op, step, step.h, step.w, step.inC, step.outC, where) }, last: op };
    }
    case 'bottleneck': {
      const expandOp = step.expand && ops.next(['conv'], `${where} expand`);
      const dwOp = ops.next(['depthwise'], `${where} depthwise`);
      const projectOp = ops.next(['conv'], `${where} project`);
      const addOp = step.residual ? ops.next(['add'], `${where} residual`) : null;
      const expand = step.expand && pointwisePart(expandOp!, step.expand, step.inH, step.inW, step.inC, step.expandC, `${where} expand`);
      const depthwise = depthwisePart(dwOp, step, step.depthwise, step.expandC, `${where} depthwise`);
      const project = pointwisePart(projectOp, step.project, step.outH, step.outW, step.expandC, step.outC, `${where} project`);
      // ADD's operands in either order: TFLite's rescaling is symmetric in them.
      const blockInput = expandOp?.input ?? dwOp.input;
      const residual = addOp && addParams(storage(projectOp.output), storage(blockInput), storage(addOp.output), ACT_NONE);
      return { step: { op: 'bottleneck', expand, depthwise, project, residual }, last: addOp ?? projectOp };
    }
    case 'avgpool': {
      const op = ops.next(['avgpool', 'mean'], where);
      const { h, w, channels } = step;
      if (op.kind === 'mean') return { step: { op: 'mean', h, w, channels, params: meanParams(storage(op.input), storage(op.output)) }, last: op };
      return { step: { op: 'avgpool', h, w, channels, type: op.input.type, actMin: -128, actMax: 127 }, last: op };
    }
    case 'fc': {
      const op = ops.next(['fc', 'conv'], where);
      const { scales, ...q } = quantizedWeights(step, where);
      return {
        step: { op: 'fc', inC: step.inC, outC: step.outC, ...q, inputZeroPoint: storage(op.input).zeroPoint, requant: outputStage(op, scales, step.outC, ACT_NONE) },
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
  channels: number, where: string,
): QDepthwise {
  const { scales, ...q } = quantizedWeights(layer, where);
  const { inH, inW, outH, outW, stride, padTop, padLeft } = s;
  return {
    inH, inW, outH, outW, stride, padTop, padLeft, kernel: 3, channels, ...q,
    inputZeroPoint: storage(op.input).zeroPoint, requant: outputStage(op, scales, channels, layer.act),
  };
}

/**
 * The integer plan of a quantized model. Throws Int8UnsupportedError when the model is not fully
 * 8-bit (spec.int8Unsupported says why) or its operators do not line up with its layers.
 */
export function planQuantized(spec: ModelSpec, file?: string): QPlan {
  const quantization = spec.quantization;
  if (!quantization) throw new Int8UnsupportedError(spec.int8Unsupported ?? 'int8 needs a quantized model; this one has float weights (use fp32)', file);
  const plan: Plan = planModel(spec);
  const ops = new OpCursor(quantization.ops);
  const stepQuant: EdgeQuant[] = [];
  let steps: QStep[];
  try {
    steps = plan.steps.map((step, index) => {
      const q = quantizeStep(step, ops, `step ${index} (${step.op})`);
      stepQuant.push(edge(q.last.output));
      return { ...q.step, input: step.input, output: step.output } as QStep;
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
    inputH: plan.inputH, inputW: plan.inputW, inputC: plan.inputC, input: plan.input,
    inputQuant: edge(quantization.input),
    output: plan.output, outputSize: plan.outputSize, outputQuant: stepQuant[stepQuant.length - 1]!,
    arenaBytes: plan.arenaSize,
    steps,
    stepQuant,
  };
}
