// How RGB pixels in 0..255 become the model's input: (pixel - mean[c]) / std[c].
//
// What the input tensor expects: the metadata's NormalizationOptions (what the network was trained
// with; for quantized models this describes the float network whose weights we run), else the input
// tensor's quantization (what the quantized graph itself does with the bytes it is fed), else MobileNet's
// usual 127.5/127.5, the [-1, 1] range that Keras' mobilenet / mobilenet_v2 preprocess_input, the TF-slim
// checkpoints and Teachable Machine feed float models. A graph that scales its input itself (Keras'
// Rescaling or preprocess_input inside the model, see graph.ts) is fed raw pixels instead, unless the
// metadata says otherwise; its scaling is then folded into mean and std, since the engine starts at the
// first convolution.
import type { Normalization } from '../model/spec.js';
import { ModelFormatError } from './errors.js';
import type { InputAffine } from './graph.js';
import type { TfliteMetadata } from './metadata.js';
import { TensorType, type Tensor } from './schema.js';

export const DEFAULT_NORMALIZATION: Normalization = { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] };

/** Pixel values as they are, for graphs that scale their input themselves. */
export const RAW_PIXELS: Normalization = { mean: [0, 0, 0], std: [1, 1, 1] };

function perChannel(values: number[], what: string, file: string): [number, number, number] {
  if (values.length === 1) return [values[0]!, values[0]!, values[0]!];
  if (values.length === 3) return [values[0]!, values[1]!, values[2]!];
  throw new ModelFormatError(file, `metadata normalization has ${values.length} ${what} values for 3 channels`);
}

/**
 * The normalization that feeds the first layer: `base` gives the input tensor x = (p − m) / s, the graph
 * computes y = x·a + b, so y = (p − (m − b·s/a)) / (s/a).
 */
export function withInputAffine(base: Normalization, affine: InputAffine, file: string): Normalization {
  const mean = base.mean.map((m, c) => m - (affine.offset[c]! * base.std[c]!) / affine.scale[c]!) as Normalization['mean'];
  const std = base.std.map((s, c) => s / affine.scale[c]!) as Normalization['std'];
  if (!mean.every(Number.isFinite) || !std.every((s) => Number.isFinite(s) && s > 0)) {
    const ops = affine.origins.map((o) => `operator ${o.op} (${o.opName})`).join(', ');
    throw new ModelFormatError(file, `the input scaling of ${ops} gives an unusable normalization mean [${mean}] / std [${std}]`);
  }
  return { mean, std };
}

export function inputNormalization(
  input: Tensor,
  metadata: TfliteMetadata | null,
  file: string,
  affine: InputAffine | null = null,
): Normalization {
  const base = inputTensorNormalization(input, metadata, file, affine ? RAW_PIXELS : DEFAULT_NORMALIZATION);
  return affine ? withInputAffine(base, affine, file) : base;
}

/** What the input tensor itself expects; `fallback` when neither metadata nor quantization tell. */
function inputTensorNormalization(input: Tensor, metadata: TfliteMetadata | null, file: string, fallback: Normalization): Normalization {
  const fromMetadata = metadata?.inputNormalization;
  if (fromMetadata) {
    const mean = perChannel(fromMetadata.mean, 'mean', file);
    const std = perChannel(fromMetadata.std, 'std', file);
    if (!mean.every(Number.isFinite) || !std.every((s) => Number.isFinite(s) && s > 0)) {
      throw new ModelFormatError(file, `metadata normalization mean [${mean}] / std [${std}] is not usable`);
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
  return { mean: [...fallback.mean], std: [...fallback.std] };
}
