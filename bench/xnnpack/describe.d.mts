// Types of bench/xnnpack/describe.mjs, for bench/test.
export declare class XnnpackDescribeError extends Error {}

export interface XnnpackDescription {
  /** The binary description mobilenet-xnnpack.c reads. */
  bytes: Uint8Array;
  /** Index (in the file's subgraph 0) of the tensor the XNNPACK graph takes as input. */
  inputTensor: number;
  /** Added to each uint8 input byte (mod 256) to make that tensor (a folded leading QUANTIZE). */
  inputZeroPointShift: number;
  /** Index of the tensor the XNNPACK graph ends at (the logits). */
  outputTensor: number;
  outputType: 'uint8' | 'int8';
  /** The operators after outputTensor that the XNNPACK graph leaves out. */
  head: string[];
  /** How many of each TFLite operator became XNNPACK nodes. */
  nodes: Record<string, number>;
}

export declare function describeForXnnpack(tfliteBytes: Uint8Array, name: string): XnnpackDescription;
/** The photo's uint8 NHWC bytes as the graph's input tensor (the folded QUANTIZE's shift applied). */
export declare function xnnpackInput(description: { inputZeroPointShift: number }, pixels: Uint8Array): Uint8Array;
