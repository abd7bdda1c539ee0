// Types of bench/onnx-qlinear-export.mjs, for bench/test.
export declare class QLinearExportError extends Error {}

export interface QLinearExport {
  onnx: Uint8Array;
  /** NCHW; the input is uint8. */
  inputShape: number[];
  /** Added to each uint8 input byte (mod 256) to make the input tensor (a folded QUANTIZE, int8 as uint8). */
  inputZeroPointShift: number;
  /** Index (in the file's subgraph 0) of the logits tensor `output` holds, flattened, as uint8. */
  outputTensor: number;
  /** The logits' type in the file. */
  outputType: 'uint8' | 'int8';
  /** Added to each uint8 output value to give the file's value (−128 for an int8 tensor). */
  outputOffset: number;
  /** The operators after the logits that the ONNX graph leaves out. */
  head: string[];
  /** ONNX nodes written, "domain:op" outside the default domain. */
  nodes: Record<string, number>;
}

export declare function tfliteToQLinearOnnx(tfliteBytes: Uint8Array, name: string): QLinearExport;
/** The photo's uint8 NHWC bytes as the graph's input tensor (the folded QUANTIZE's shift applied). */
export declare function qlinearInput(exported: { inputZeroPointShift: number }, pixels: Uint8Array): Uint8Array;
