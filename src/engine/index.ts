import type { ModelSpec } from '../model/spec.js';
import type { Backend, BackendChoice, BackendOptions } from './backend.js';
import { createNativeBackend, loadAddon } from './native.js';
import type { Plan } from './plan.js';
import { planModel } from './planner.js';
import { createReferenceBackend } from './reference/backend.js';

export type { Backend, BackendChoice, BackendName } from './backend.js';
export type { Plan } from './plan.js';
export { planModel } from './planner.js';

export interface EngineOptions extends BackendOptions {
  backend?: BackendChoice;
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
export function createEngine(spec: ModelSpec, options: EngineOptions = {}): { plan: Plan; backend: Backend } {
  const plan = planModel(spec);
  const choice = options.backend ?? 'auto';
  if (choice === 'reference') return { plan, backend: createReferenceBackend(plan) };
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
    return { plan, backend: createReferenceBackend(plan) };
  }
  return { plan, backend: createNativeBackend(plan, options) };
}
