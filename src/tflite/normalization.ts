// How RGB pixels in 0..255 become the model's input: (pixel - mean[c]) / std[c].
//
// Priority: the metadata's NormalizationOptions (what the network was trained with; for quantized
// models this describes the float network whose weights we run), else the input tensor's quantization
// (what the quantized graph itself does with the bytes it is fed), else MobileNet's usual 127.5/127.5.
import type { Normalization } from '../model/spec.js';
import { ModelError } from './errors.js';
import type { TfliteMetadata } from './metadata.js';
import { TensorType, type Tensor } from './schema.js';

export const DEFAULT_NORMALIZATION: Normalization = { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] };

function perChannel(values: number[], what: string, file: string): [number, number, number] {
  if (values.length === 1) return [values[0]!, values[0]!, values[0]!];
  if (values.length === 3) return [values[0]!, values[1]!, values[2]!];
  throw new ModelError(file, `metadata normalization has ${values.length} ${what} values for 3 channels`);
}

export function inputNormalization(input: Tensor, metadata: TfliteMetadata | null, file: string): Normalization {
  const fromMetadata = metadata?.inputNormalization;
  if (fromMetadata) {
    const mean = perChannel(fromMetadata.mean, 'mean', file);
    const std = perChannel(fromMetadata.std, 'std', file);
    if (!mean.every(Number.isFinite) || !std.every((s) => Number.isFinite(s) && s > 0)) {
      throw new ModelError(file, `metadata normalization mean [${mean}] / std [${std}] is not usable`);
    }
    return { mean, std };
  }
  const q = input.quantization;
  if (q && q.scale.length === 1 && Number.isFinite(q.scale[0]) && q.scale[0]! > 0) {
    const scale = q.scale[0]!;
    const zero = q.zeroPoint[0] ?? 0;
    // The graph reads input code q as scale · (q − zero).
    if (input.type === TensorType.UINT8) {
      // The pixel byte is the code: value = (p − zero) / (1/scale).
      return { mean: [zero, zero, zero], std: [1 / scale, 1 / scale, 1 / scale] };
    }
    if (input.type === TensorType.INT8) {
      // Pixels are fed shifted into the int8 range, q = p − 128: value = (p − (zero + 128)) / (1/scale).
      const mean = zero + 128;
      return { mean: [mean, mean, mean], std: [1 / scale, 1 / scale, 1 / scale] };
    }
  }
  return { mean: [...DEFAULT_NORMALIZATION.mean], std: [...DEFAULT_NORMALIZATION.std] };
}
