// The int8 backend on the C++ addon's integer kernels (native/ops/qs8): runs a QPlan bit-exactly as
// the TypeScript reference (ops.ts) does.
import { loadAddon } from '../native.js';
import type { Int8Backend } from './backend.js';
import type { QPlan } from './plan.js';

export interface NativeInt8Options {
  /** Threads splitting each step (default 1). */
  threads?: number;
  /** Force an instruction set of the int8 kernels ('avx512vnni', 'avx2', 'neon-dot', 'neon', 'scalar'). */
  isa?: string;
}

/**
 * Compiles `plan` in the addon (weights packed once, now). Throws when the addon cannot be loaded or
 * has no int8 kernels, on an invalid plan (the message names the step), on an unavailable isa.
 */
export function createNativeInt8Backend(plan: QPlan, options: NativeInt8Options = {}): Int8Backend {
  const result = loadAddon();
  if ('error' in result) throw result.error;
  const QuantModel = result.addon.QuantModel;
  if (!QuantModel) throw new Error('the native addon has no int8 kernels (built before them): run npm run build:native');
  const model = new QuantModel(plan, { threads: options.threads ?? 1, isa: options.isa });
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
