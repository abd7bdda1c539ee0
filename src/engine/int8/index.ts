// Integer (TFLite uint8 / int8) semantics: arithmetic, Prepare-time parameters, and the reference ops.
export * from './quantize.js';
export * from './params.js';
export * from './fixedpoint.js';
export * as int8ops from './ops.js';
