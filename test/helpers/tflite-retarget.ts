// A copy of a .tflite file whose graph output is another tensor: the runtime that runs it then hands
// out that intermediate tensor, so a whole-graph runtime can be compared operator by operator.
import { FlatBuffer } from '../../src/tflite/flatbuffer.js';

/** `bytes` with the single output of subgraph 0 replaced by tensor `tensorIndex` (the input is not changed). */
export function withGraphOutput(bytes: Uint8Array, tensorIndex: number): Uint8Array {
  const copy = bytes.slice();
  const fb = new FlatBuffer(copy, '<retargeted model>', 'model');
  // Model: subgraphs 2; SubGraph: outputs 2 (a vector of int32 tensor indices).
  const subgraph = fb.root('Model').tables(2, 'subgraphs')[0];
  const outputs = subgraph?.vector(2, 4, 'outputs');
  if (!outputs || outputs.length !== 1) throw new Error('expected a model with one subgraph output');
  new DataView(copy.buffer, copy.byteOffset, copy.byteLength).setInt32(outputs.start, tensorIndex, true);
  return copy;
}
