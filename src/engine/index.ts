import type { ModelSpec } from '../model/spec.js';
import type { Backend, BackendChoice, BackendOptions } from './backend.js';
import { createNativeBackend, loadAddon } from './native.js';
import type { Plan } from './plan.js';
import { PlanError, planModel } from './planner.js';
import { createReferenceBackend } from './reference/backend.js';
import { asBackend } from './int8/engine.js';
import { planQuantized } from './int8/planner.js';
import type { Rounding } from './int8/params.js';
import { createNativeInt8Backend } from './int8/native-backend.js';
import { createReferenceInt8Backend } from './int8/reference-backend.js';

export type { Backend, BackendChoice, BackendName } from './backend.js';
export type { Plan } from './plan.js';
export { planModel } from './planner.js';

export type Precision = 'fp32' | 'int8';
export type { Rounding } from './int8/params.js';

export interface EngineOptions extends BackendOptions {
  backend?: BackendChoice;
  /**
   * 'int8' runs a quantized model in integer arithmetic as TFLite does (its Backend quantizes float
   * inputs and dequantizes outputs; see int8/engine.ts); 'fp32' runs the dequantized weights in
   * floats. Default: 'int8' for a model whose chain is fully 8-bit, else 'fp32'.
   */
  precision?: Precision;
  /** The model file, for messages. */
  file?: string;
  /**
   * int8 only: whose requantization to reproduce, TFLite's reference kernels ('tflite', the default)
   * or XNNPACK's ('xnnpack': LiteRT.js's CPU path, see int8/xnnpack.ts). The native kernels compute
   * both.
   */
  int8Rounding?: Rounding;
  /**
   * Told why the native backend could not be used when 'auto' falls back to the reference one;
   * without it, the reason goes to process.emitWarning (once per process).
   */
  onFallback?: (reason: string) => void;
}

/** 'native' was asked for and the addon cannot be loaded. */
export class NativeUnavailableError extends Error {
  readonly code = 'NATIVE_UNAVAILABLE';
  constructor(reason: string) {
    super(`the native backend is not available: ${reason}`);
    this.name = 'NativeUnavailableError';
  }
}

let fallbackWarned = false;

/**
 * Plans the model and starts a backend for it. 'auto' (the default) is the native backend where the
 * addon loads (not built at install time, unusual platform: the reference backend takes over, ~100×
 * slower, and says so); 'native' insists on the addon, 'reference' never uses it.
 */
export function createEngine(spec: ModelSpec, options: EngineOptions = {}): { plan: Plan; backend: Backend; precision: Precision } {
  const precision = options.precision ?? (spec.quantization ? 'int8' : 'fp32');
  if (precision === 'fp32' && options.int8Rounding === 'xnnpack') {
    throw new PlanError(`rounding 'xnnpack' is a rule of int8 arithmetic, and the model runs in fp32 (${
      options.precision === 'fp32' ? 'precision fp32' : 'a float model'})`, options.file);
  }
  const plan = planModel(spec);
  if (precision === 'int8') {
    const qplan = planQuantized(spec, options.file, plan, { rounding: options.int8Rounding });
    const int8 = nativeOrReference(options, () => createNativeInt8Backend(qplan, options), () => createReferenceInt8Backend(qplan));
    return { plan, backend: asBackend(qplan, int8, spec.normalization), precision };
  }
  const backend = nativeOrReference(options, () => createNativeBackend(plan, options), () => createReferenceBackend(plan));
  return { plan, backend, precision };
}

/** The backend `options.backend` asks for: the addon's, or the TypeScript one ('auto' falls back with a warning). */
function nativeOrReference<B>(options: EngineOptions, native: () => B, reference: () => B): B {
  const choice = options.backend ?? 'auto';
  if (choice === 'reference') return reference();
  const addon = loadAddon();
  if ('error' in addon) {
    const reason = `the native addon could not be loaded (${addon.error.message.split('\n')[0]})`;
    if (choice === 'native') throw new NativeUnavailableError(reason);
    const message = `${reason}; using the much slower TypeScript backend`;
    if (options.onFallback) {
      options.onFallback(message);
    } else if (!fallbackWarned) {
      fallbackWarned = true;
      process.emitWarning(message, { code: 'MOBILENET_NATIVE_UNAVAILABLE' });
    }
    return reference();
  }
  return native();
}
