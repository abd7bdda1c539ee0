// Types of bench/onnx-proto.mjs used by bench/test.
export declare function onnxOpCounts(modelBytes: Uint8Array): Record<string, number>;
export declare function nhwcToNchw<T extends Float32Array | Uint8Array | Int8Array>(data: T, h: number, w: number, c: number): T;
