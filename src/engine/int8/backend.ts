import type { BackendName } from '../backend.js';

/**
 * Runs one QPlan (plan.ts) on tensors in the storage domain: the reference (ops.ts in TypeScript) and
 * the native int8 kernels take the same plan and must give identical bytes.
 */
export interface Int8Backend {
  readonly name: BackendName;
  /** The instruction set the int8 kernels use ('avx512vnni', 'avx2', 'neon-dot', 'neon', 'scalar'; 'js'). */
  readonly isa: string;
  readonly threads: number;
  /** Bytes of activation memory: the arena plus the kernels' own scratch. */
  readonly activationBytes: number;
  /**
   * input: plan.inputH·inputW·inputC bytes; resolves to plan.outputSize bytes, or with `steps` to the
   * output of the first `steps` steps only (qStepOutputSize bytes; RangeError outside 1 to the count).
   */
  run(input: Int8Array, steps?: number): Promise<Int8Array>;
  /** Runs once and returns the milliseconds each plan step took. */
  profile(input: Int8Array): Promise<Float64Array>;
  dispose(): void;
}
