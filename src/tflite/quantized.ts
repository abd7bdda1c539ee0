// Reads how a fully 8-bit TFLite graph quantizes its activations (src/model/quantization.ts): one
// record per integer operator, in file order, with the scale and zero point of the tensors it reads
// and writes — what TFLite's kernels derive their multipliers from at Prepare.
//
// The layer chain itself has been checked by graph.ts; this only decides whether the chain can run in
// integer arithmetic exactly as TFLite runs it. Three outcomes:
// - a float model: nothing (undefined);
// - an 8-bit model we run in integers: its ModelQuantization;
// - an 8-bit model with something we have no integer kernel for (a QUANTIZE that rescales, a PAD, a
//   float operator in between): the reason, and the model runs dequantized in fp32;
// and malformed quantization (a zero, negative or non-finite scale, a zero point outside the type, a
// per-channel count that does not match the axis) is a ModelFormatError: such a file is broken.
import type { ModelQuantization, QuantizedOp, QuantType, TensorQuantization } from '../model/quantization.js';
import { ModelFormatError } from './errors.js';
import { BuiltinOperator as Op, TensorType, tensorTypeName, type Model, type Operator, type Tensor } from './schema.js';

export type QuantizationReading = { quantization: ModelQuantization } | { unsupported: string } | undefined;

const KINDS: Partial<Record<number, QuantizedOp['kind']>> = {
  [Op.CONV_2D]: 'conv',
  [Op.DEPTHWISE_CONV_2D]: 'depthwise',
  [Op.FULLY_CONNECTED]: 'fc',
  [Op.ADD]: 'add',
  [Op.AVERAGE_POOL_2D]: 'avgpool',
  [Op.MEAN]: 'mean',
  [Op.SOFTMAX]: 'softmax',
};

/** Thrown inside the walk for a valid graph we cannot run in integers; caught into { unsupported }. */
class Unsupported extends Error {}

function quantType(t: Tensor): QuantType | undefined {
  return t.type === TensorType.UINT8 ? 'uint8' : t.type === TensorType.INT8 ? 'int8' : undefined;
}

class QuantizationWalk {
  constructor(
    private readonly file: string,
    private readonly model: Model,
  ) {}

  private fail(t: Tensor, detail: string): never {
    throw new ModelFormatError(this.file, `tensor ${t.index} (${t.name}): ${detail}`);
  }

  /** Checks every scale and zero point of an 8-bit tensor (activation or weights). */
  private checkQuantization(t: Tensor, type: QuantType): void {
    const q = t.quantization;
    if (!q || q.scale.length === 0) this.fail(t, `${type} data without a quantization scale`);
    if (q.hasCustomDetails) throw new Unsupported(`tensor ${t.index} (${t.name}) uses custom quantization details`);
    const [lo, hi] = type === 'uint8' ? [0, 255] : [-128, 127];
    q.scale.forEach((s, i) => {
      if (!(Number.isFinite(s) && s > 0)) this.fail(t, `quantization scale ${i} is ${s}; scales must be positive and finite`);
    });
    if (q.zeroPoint.length !== 0 && q.zeroPoint.length !== q.scale.length) {
      this.fail(t, `${q.zeroPoint.length} zero points for ${q.scale.length} scales`);
    }
    q.zeroPoint.forEach((z, i) => {
      if (!Number.isInteger(z) || z < lo || z > hi) this.fail(t, `zero point ${i} is ${z}, outside the ${type} range ${lo}..${hi}`);
    });
    if (q.scale.length > 1) {
      const axis = q.quantizedDimension;
      if (!(axis >= 0 && axis < t.shape.length) || t.shape[axis] !== q.scale.length) {
        this.fail(t, `${q.scale.length} per-channel scales along axis ${axis} of shape [${t.shape.join(', ')}]`);
      }
    }
  }

  /** An activation tensor: 8-bit, per-tensor. */
  activation(t: Tensor): TensorQuantization {
    const type = quantType(t);
    if (!type) throw new Unsupported(`tensor ${t.index} (${t.name}) is ${tensorTypeName(t.type)}, not 8-bit`);
    this.checkQuantization(t, type);
    const q = t.quantization!;
    if (q.scale.length !== 1) throw new Unsupported(`activation tensor ${t.index} (${t.name}) is quantized per channel`);
    return { type, scale: q.scale[0]!, zeroPoint: q.zeroPoint[0] ?? 0 };
  }

  /** Weights: 8-bit with one zero point for all channels (TFLite's filter_offset); bias int32. */
  private weightsAndBias(op: Operator, name: string): void {
    const sg = this.model.subgraphs[0]!;
    const weights = sg.tensors[op.inputs[1]!];
    const bias = op.inputs[2] === undefined || op.inputs[2] < 0 ? undefined : sg.tensors[op.inputs[2]];
    const type = weights && quantType(weights);
    if (!weights || !type) throw new Unsupported(`operator ${op.index} (${name}) has non-8-bit weights`);
    this.checkQuantization(weights, type);
    const zps = weights.quantization!.zeroPoint;
    if (zps.some((z) => z !== zps[0])) throw new Unsupported(`operator ${op.index} (${name}) has per-channel weight zero points`);
    if (!bias || bias.type !== TensorType.INT32) throw new Unsupported(`operator ${op.index} (${name}) has no int32 bias`);
  }

  read(): ModelQuantization {
    const sg = this.model.subgraphs[0]!;
    const tensor = (index: number | undefined) => sg.tensors[index ?? -1]!;
    const input = this.activation(tensor(sg.inputs[0]));
    const ops: QuantizedOp[] = [];
    for (const op of sg.operators) {
      const code = this.model.operatorCodes[op.opcodeIndex]!.builtinCode;
      const name = this.model.operatorCodes[op.opcodeIndex]!.name;
      const inT = tensor(op.inputs[0]);
      const outT = tensor(op.outputs[0]);
      if (code === Op.QUANTIZE || code === Op.DEQUANTIZE || code === Op.RESHAPE || code === Op.SQUEEZE) {
        const from = this.activation(inT);
        const to = this.activation(outT);
        if (!sameStorage(from, to)) {
          throw new Unsupported(`operator ${op.index} (${name}) rescales its input (scale ${from.scale} → ${to.scale}, zero point ${from.zeroPoint} → ${to.zeroPoint})`);
        }
        continue;
      }
      const kind = KINDS[code];
      if (!kind) throw new Unsupported(`operator ${op.index} (${name}) has no integer kernel here`);
      if (kind === 'conv' || kind === 'depthwise' || kind === 'fc') this.weightsAndBias(op, name);
      const record: QuantizedOp = { kind, operator: op.index, input: this.activation(inT), output: this.activation(outT) };
      if (kind === 'add') record.input2 = this.activation(tensor(op.inputs[1]));
      if (kind === 'avgpool' && !sameStorage(record.input, record.output)) {
        throw new Unsupported(`operator ${op.index} (${name}) changes the quantization (TFLite requires equal input and output)`);
      }
      if (kind === 'softmax' && !(Math.fround(record.output.scale) === 1 / 256 && storageZeroPoint(record.output) === -128)) {
        throw new Unsupported(`operator ${op.index} (${name}) has output scale ${record.output.scale}, zero point ${record.output.zeroPoint}; TFLite requires 1/256 and the type's minimum`);
      }
      ops.push(record);
    }
    return { input, ops };
  }
}

/** The zero point in the storage domain of src/engine/int8 (uint8 values − 128). */
function storageZeroPoint(q: TensorQuantization): number {
  return q.type === 'uint8' ? q.zeroPoint - 128 : q.zeroPoint;
}

/** Two quantizations that map the same stored bytes to the same reals (uint8 ↔ int8 with zero points 128 apart). */
function sameStorage(a: TensorQuantization, b: TensorQuantization): boolean {
  return Math.fround(a.scale) === Math.fround(b.scale) && storageZeroPoint(a) === storageZeroPoint(b);
}

/** How the model's activations are quantized, if it is an 8-bit model (see the top of this file). */
export function readQuantization(model: Model, file: string): QuantizationReading {
  const sg = model.subgraphs[0];
  const inputTensor = sg?.tensors[sg.inputs[0] ?? -1];
  if (!inputTensor || quantType(inputTensor) === undefined) return undefined;
  try {
    return { quantization: new QuantizationWalk(file, model).read() };
  } catch (error) {
    if (error instanceof Unsupported) return { unsupported: error.message };
    throw error;
  }
}
