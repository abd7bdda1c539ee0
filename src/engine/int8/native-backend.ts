// The int8 backend on the C++ addon's integer kernels (native/ops/qs8): runs a QPlan bit-exactly as
// the TypeScript reference (ops.ts) does, in either requantization scheme (plan.rounding).
import { loadAddon, nativeBackendOf, planForAddon } from '../native.js';
import type { Int8Backend } from './backend.js';
import { encodedQWeights } from './lazy-weights.js';
import type { QPlan } from './plan.js';

export interface NativeInt8Options {
  /** Threads splitting each step (default 1). */
  threads?: number;
  /** Force an instruction set of the int8 kernels ('avx512vnni', 'avx2', 'neon-dot', 'neon', 'scalar'). */
  isa?: string;
}

/**
 * Compiles `plan` in the addon (weights packed once, now; lazy ones go as the file's bytes and stay
 * unread on the JS side, plain arrays as they are). Throws when the addon cannot be loaded or
 * has no int8 kernels, on an invalid plan (the message names the step) and on an unavailable isa.
 */
export function createNativeInt8Backend(plan: QPlan, options: NativeInt8Options = {}): Int8Backend {
  const result = loadAddon();
  if ('error' in result) throw result.error;
  const QuantModel = result.addon.QuantModel;
  if (!QuantModel) throw new Error('the native addon has no int8 kernels (built before them): run npm run build:native');
  // Weights still lazy go as the file's bytes (QEncodedTensor), converted by the addon while packing.
  return nativeBackendOf(new QuantModel(planForAddon(plan, encodedQWeights), { threads: options.threads ?? 1, isa: options.isa }));
}
