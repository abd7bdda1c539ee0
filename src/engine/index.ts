import type { ModelSpec } from '../model/spec.js';
import type { Backend, BackendName, BackendOptions } from './backend.js';
import { createNativeBackend, loadAddon } from './native.js';
import type { Plan } from './plan.js';
import { planModel } from './planner.js';
import { createReferenceBackend } from './reference/backend.js';

export type { Backend, BackendName } from './backend.js';
export type { Plan } from './plan.js';
export { planModel } from './planner.js';

export interface EngineOptions extends BackendOptions {
  backend?: BackendName;
  /** Told once why the native backend could not be used, when it falls back to the reference. */
  onFallback?: (reason: string) => void;
}

/**
 * Plans the model and starts a backend for it. The native backend is the default; where the addon
 * cannot be loaded (not built at install time, unusual platform) the reference backend takes over.
 */
export function createEngine(spec: ModelSpec, options: EngineOptions = {}): { plan: Plan; backend: Backend } {
  const plan = planModel(spec);
  if (options.backend === 'reference') return { plan, backend: createReferenceBackend(plan) };
  const addon = loadAddon();
  if ('error' in addon) {
    options.onFallback?.(`the native addon could not be loaded (${addon.error.message.split('\n')[0]}); using the slower TypeScript backend`);
    return { plan, backend: createReferenceBackend(plan) };
  }
  return { plan, backend: createNativeBackend(plan, options) };
}
