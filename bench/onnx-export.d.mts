// Types of bench/onnx-export.mjs, for bench/test/onnx-export.test.ts.
import type { Plan } from '../src/engine/plan.js';

export declare function planToOnnx(plan: Plan): Uint8Array;
export declare function describeOnnx(plan: Plan): Record<string, number>;
export declare function onnxOpCounts(modelBytes: Uint8Array): Record<string, number>;
export declare function nhwcToNchw(data: Float32Array, h: number, w: number, c: number): Float32Array;
