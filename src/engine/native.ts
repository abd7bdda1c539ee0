// The binding to the C++ addon (native/). Loading may fail where it could not be built at install
// time; callers then fall back to the reference backend.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodedWeights } from '../model/spec.js';
import type { Backend, BackendOptions } from './backend.js';
import type { QPlan } from './int8/plan.js';
import type { Plan } from './plan.js';

/**
 * A compiled plan in the addon (fp32: Float32Array tensors; int8: Int8Array ones, storage domain).
 * Runs execute one at a time, in call order, on the model's own thread (not libuv's pool).
 * run/profile throw synchronously on a bad argument (TypeError) or after dispose(); inference errors
 * reject. dispose() rejects the runs still queued ("model disposed"), lets the running one finish,
 * then frees the model. An idle model does not keep the process alive.
 */
interface NativeModel<T> {
  readonly isa: string;
  readonly threads: number;
  readonly arenaBytes: number;
  readonly scratchBytes: number;
  /** steps: run only the first `steps` steps (RangeError outside 1 to the step count); default all. */
  run(input: T, steps?: number): Promise<T>;
  profile(input: T): Promise<Float64Array>;
  dispose(): void;
}

interface NativeAddon {
  /**
   * ISAs of the float32 (default) or int8 kernels usable here, best first, capped by MOBILENET_ISA;
   * throws if MOBILENET_ISA is invalid.
   */
  supportedIsas(dtype?: 'float32' | 'int8'): string[];
  /**
   * Throws on an invalid plan (naming the step), sizes over the limits (1 GiB of activations, 1 GiB
   * of packed weights), an unknown or unavailable isa (listing the valid ones), out of memory, or
   * threads that cannot be started. Every `weights` / `bias` of the plan may be a Float32Array or
   * an EncodedWeights (a model file's bytes, decoded while packing); both are read in place.
   */
  Model: new (plan: Plan | AddonPlan, options?: { threads?: number; isa?: string }) => NativeModel<Float32Array>;
  /**
   * Throws like Model; also on values the integer kernels do not take (zero points outside
   * [-128, 127], multipliers outside [0, 2^31), shifts outside [-31, 31]). Every `weights` / `bias`
   * may be an Int8Array / Int32Array or a QEncodedTensor (a model file's bytes, converted while
   * packing); both are read in place. Absent from addons built before the int8 kernels.
   */
  QuantModel?: new (plan: QPlan | AddonPlan, options?: { threads?: number; isa?: string }) => NativeModel<Int8Array>;
}

/** A plan as the addon takes it: weights and biases still encoded stay encoded. */
export type AddonPlan = { steps: object[] } & Record<string, unknown>;

/** The file encoding of a step's `weights` or `bias` while they are still unread (lazy), else undefined. */
export type EncodedOf = (o: object, key: 'weights' | 'bias') => object | undefined;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * A copy of a step (and of its expand / depthwise / project parts) in which every weights or bias
 * still unread is its file encoding, so that the addon converts the file's bytes straight into its
 * packed layout and no copy of the weights is ever made on the JS side. Scalars are copied; arrays
 * and typed arrays are shared.
 */
function forAddon(o: Record<string, unknown>, encodedOf: EncodedOf): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(o)) {
    const encoded = key === 'weights' || key === 'bias' ? encodedOf(o, key) : undefined;
    const value = encoded ?? o[key];
    out[key] = encoded === undefined && isPlainObject(value) ? forAddon(value, encodedOf) : value;
  }
  return out;
}

/** A plan of either dtype as the addon takes it (see forAddon). */
export function planForAddon(plan: Plan | QPlan, encodedOf: EncodedOf): AddonPlan {
  return { ...plan, steps: plan.steps.map((step) => forAddon(step as unknown as Record<string, unknown>, encodedOf)) };
}

/** A compiled model of either dtype as a backend. */
export function nativeBackendOf<T>(model: NativeModel<T>) {
  return {
    name: 'native' as const,
    isa: model.isa,
    threads: model.threads,
    activationBytes: model.arenaBytes + model.scratchBytes,
    // async: a synchronous throw (bad input, disposed model) becomes a rejection like any other
    // failure of an inference.
    run: async (input: T, steps?: number) => model.run(input, steps),
    profile: async (input: T) => model.profile(input),
    dispose: () => model.dispose(),
  };
}

// Where the addon may be, in order: MOBILENET_ADDON (another build of it; then nothing else is tried),
// the build from source (build/Release, made by the install script or `npm run build:native`), the
// prebuilt addon shipped in the npm tarball for this platform (prebuilds/<platform>-<arch>). From
// src/engine/ (tests), dist/engine/ (the library) and dist/cli-bundle/ (the CLI) alike, both folders
// are two levels up.
// (Paths are joined to import.meta.dirname: no URL is parsed on the way to a model load. Node 18,
// which has no import.meta.dirname, only ever runs this in build:prebuilds' arm64 load check.)
function* addonCandidates(): Generator<string> {
  if (process.env.MOBILENET_ADDON) {
    yield process.env.MOBILENET_ADDON;
    return;
  }
  const root = join(moduleFolder(), '..', '..');
  yield join(root, 'build', 'Release', 'mobilenet_native.node');
  yield join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'mobilenet_native.node');
}

function moduleFolder(): string {
  return import.meta.dirname ?? dirname(fileURLToPath(import.meta.url));
}

let loaded: { addon: NativeAddon } | { error: Error } | undefined;

/** The addon, or the reason it cannot be used (every place tried, on the message's first line). Loaded once. */
export function loadAddon(): { addon: NativeAddon } | { error: Error } {
  if (!loaded) {
    const require = createRequire(join(moduleFolder(), 'native.js'));
    const tried: string[] = [];
    for (const path of addonCandidates()) {
      if (!existsSync(path)) {
        tried.push(`${path}: not found`);
        continue;
      }
      try {
        loaded = { addon: require(path) as NativeAddon };
        break;
      } catch (error) {
        tried.push(`${path}: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`);
      }
    }
    loaded ??= { error: new Error(`no usable addon: tried ${tried.join('; ')}`) };
  }
  return loaded;
}

export function createNativeBackend(plan: Plan, options: BackendOptions): Backend {
  const result = loadAddon();
  if ('error' in result) throw result.error;
  return nativeBackendOf(new result.addon.Model(planForAddon(plan, encodedWeights), { threads: options.threads ?? 1, isa: options.isa }));
}
