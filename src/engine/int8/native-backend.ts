// The int8 backend on the C++ addon's integer kernels (native/ops/qs8): runs a QPlan bit-exactly as
// the TypeScript reference (ops.ts) does.
import { loadAddon } from '../native.js';
import type { Int8Backend } from './backend.js';
import { encodedQWeights } from './lazy-weights.js';
import type { QPlan } from './plan.js';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * A copy of a step (and of its plain-object parts) in which weights and biases still lazy are the
 * file's bytes (QEncodedTensor), which the addon converts while packing: no JS-side copy of them.
 * Scalars are copied; arrays and typed arrays are shared.
 */
function forAddon(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(o)) {
    const encoded = key === 'weights' || key === 'bias' ? encodedQWeights(o, key) : undefined;
    const value = encoded ?? o[key];
    out[key] = encoded === undefined && isPlainObject(value) ? forAddon(value) : value;
  }
  return out;
}

export interface NativeInt8Options {
  /** Threads splitting each step (default 1). */
  threads?: number;
  /** Force an instruction set of the int8 kernels ('avx512vnni', 'avx2', 'neon-dot', 'neon', 'scalar'). */
  isa?: string;
}

/**
 * Compiles `plan` in the addon (weights packed once, now; lazy ones go as the file's bytes and stay
 * unread on the JS side, plain arrays as they are). Throws when the addon cannot be loaded or
 * has no int8 kernels, on an invalid plan (the message names the step), on an unavailable isa.
 */
export function createNativeInt8Backend(plan: QPlan, options: NativeInt8Options = {}): Int8Backend {
  const result = loadAddon();
  if ('error' in result) throw result.error;
  const QuantModel = result.addon.QuantModel;
  if (!QuantModel) throw new Error('the native addon has no int8 kernels (built before them): run npm run build:native');
  const addonPlan = { ...plan, steps: plan.steps.map((step) => forAddon(step as unknown as Record<string, unknown>)) };
  const model = new QuantModel(addonPlan as unknown as QPlan, { threads: options.threads ?? 1, isa: options.isa });
  return {
    name: 'native',
    isa: model.isa,
    threads: model.threads,
    activationBytes: model.arenaBytes + model.scratchBytes,
    // async: a synchronous throw (bad input, disposed model) becomes a rejection.
    run: async (input, steps) => model.run(input, steps),
    profile: async (input) => model.profile(input),
    dispose: () => model.dispose(),
  };
}
