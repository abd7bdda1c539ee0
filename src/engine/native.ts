// The binding to the C++ addon (native/). Loading may fail where it could not be built at install
// time; callers then fall back to the reference backend.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Backend, BackendOptions } from './backend.js';
import type { Plan } from './plan.js';

interface NativeModel {
  readonly isa: string;
  readonly threads: number;
  readonly arenaBytes: number;
  readonly scratchBytes: number;
  run(input: Float32Array): Promise<Float32Array>;
  profile(input: Float32Array): Promise<Float64Array>;
  dispose(): void;
}

interface NativeAddon {
  supportedIsas(): string[];
  Model: new (plan: Plan, options?: { threads?: number; isa?: string }) => NativeModel;
}

// From src/engine/ (tests) and dist/engine/ (the package) alike, the addon is two folders up;
// MOBILENET_ADDON points at another build of it.
const ADDON_PATH = process.env.MOBILENET_ADDON
  || fileURLToPath(new URL('../../build/Release/mobilenet_native.node', import.meta.url));

let loaded: { addon: NativeAddon } | { error: Error } | undefined;

/** The addon, or the reason it cannot be used. Loaded once. */
export function loadAddon(): { addon: NativeAddon } | { error: Error } {
  if (!loaded) {
    try {
      loaded = { addon: createRequire(import.meta.url)(ADDON_PATH) as NativeAddon };
    } catch (error) {
      loaded = { error: error instanceof Error ? error : new Error(String(error)) };
    }
  }
  return loaded;
}

export function createNativeBackend(plan: Plan, options: BackendOptions): Backend {
  const result = loadAddon();
  if ('error' in result) throw result.error;
  const model = new result.addon.Model(plan, { threads: options.threads ?? 1, isa: options.isa });
  return {
    name: 'native',
    isa: model.isa,
    threads: model.threads,
    activationBytes: model.arenaBytes + model.scratchBytes,
    run: (input) => model.run(input),
    profile: (input) => model.profile(input),
    dispose: () => model.dispose(),
  };
}
