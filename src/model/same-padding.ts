/** TensorFlow's SAME padding along one axis: output size and the zero rows before the input. */
export function samePadding(inSize: number, kernel: number, stride: number): { out: number; padBefore: number } {
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + kernel - inSize, 0);
  // The odd one out goes after (bottom/right): stride 2 on an even size pads only at the end.
  return { out, padBefore: Math.floor(total / 2) };
}
