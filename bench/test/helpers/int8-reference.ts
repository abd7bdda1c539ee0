// The integer reference's value of one tensor of a quantized .tflite, for checking the integer peers
// (XNNPACK, ONNX Runtime QLinear) on the logits tensor their graphs end at.
import { decodeResized } from '../../../src/image/decode.js';
import { Int8Graph, type Int8Value } from '../../../test/helpers/int8-mobilenet.js';
import { imagePath } from '../../../test/helpers/shared.js';

export const PHOTOS = ['grace_hopper.bmp', 'kite_and_cold.jpg', 'owl.jpg', 'parrot.jpg'];

/** Tensor `wanted` computed operator by operator from the uint8 input, as integers of its type. */
export function referenceTensor(graph: Int8Graph, input: Uint8Array, wanted: number, type: 'uint8' | 'int8'): number[] {
  const sg = graph.model.subgraphs[0]!;
  const values = new Map<number, Int8Value>([[sg.inputs[0]!, graph.tensorValue(sg.inputs[0]!, input)]]);
  for (const [index, op] of sg.operators.entries()) {
    const out = graph.runOperator(index, values);
    if (op.outputs[0] === wanted) return type === 'int8' ? Array.from(new Int8Array(out.buffer, out.byteOffset, out.length)) : Array.from(out);
    values.set(op.outputs[0]!, graph.tensorValue(op.outputs[0]!, out));
  }
  throw new Error(`tensor ${wanted} is not computed`);
}

/** max |a[i] − b[i]|; Infinity when the lengths differ. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

/** A shared photo resized by the project's decoder to size × size, uint8 NHWC. */
export async function photoPixels(photo: string, size: number): Promise<Uint8Array> {
  return (await decodeResized(imagePath(photo), size, 'none')).image.data;
}
