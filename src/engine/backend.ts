export type BackendName = 'native' | 'reference';
/** What a caller asks for: 'auto' is native where the addon loads, else the reference with a warning. */
export type BackendChoice = BackendName | 'auto';

/** Runs one plan; every backend takes the same plan and gives the same answers. */
export interface Backend {
  readonly name: BackendName;
  /** The instruction set the kernels use ('avx512', 'avx2', 'neon', 'scalar'; 'js' for the reference). */
  readonly isa: string;
  readonly threads: number;
  /** Bytes of activation memory: the arena plus the kernels' own scratch. */
  readonly activationBytes: number;
  /**
   * Runs the plan on one input tensor and resolves to its output; with `steps`, runs only the first
   * `steps` steps (1 to plan.steps.length) and resolves to the last one's output (an embedding is
   * the global pool's output, before the classifier).
   */
  run(input: Float32Array, steps?: number): Promise<Float32Array>;
  /** Runs once and returns the milliseconds each plan step took. */
  profile(input: Float32Array): Promise<Float64Array>;
  dispose(): void;
}

export interface BackendOptions {
  threads?: number;
  /** Force an instruction set of the native backend (tests, benchmarks). */
  isa?: string;
}
