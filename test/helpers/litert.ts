// LiteRT.js (@litertjs/core: Google's TFLite runtime compiled to WebAssembly) in Node, as a test
// oracle for whole quantized models. The package is made for browsers: its loader runs the
// Emscripten script with `importScripts` (in a worker) or a <script> tag and then reads
// `self.ModuleFactory`. Here `importScripts` evaluates the script as Node would a CommonJS file
// (`require`, `__dirname`, `__filename` in scope, so Emscripten takes its Node path and reads the
// .wasm beside it from disk) and hands its ModuleFactory over. `self.Module` is the Emscripten module
// argument the loader passes on: it collects the runtime's log lines instead of printing them.
// Only the CPU ('wasm') path is used; the runtime is loaded once per process.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { runInThisContext } from 'node:vm';

type LiteRt = typeof import('@litertjs/core');

const require = createRequire(import.meta.url);
const WASM_DIR = join(dirname(require.resolve('@litertjs/core/package.json')), 'wasm');

export interface LiteRtRuntime {
  readonly litert: LiteRt;
  /** The Emscripten script that was loaded (which of the package's builds: compat, relaxed SIMD, …). */
  readonly script: string;
  /** What the runtime logged (its INFO / WARNING lines), in order. */
  readonly log: string[];
}

let loading: Promise<LiteRtRuntime> | undefined;

/** Loads the LiteRT.js runtime once; later calls share it. */
export function loadLiteRtRuntime(): Promise<LiteRtRuntime> {
  loading ??= load();
  return loading;
}

async function load(): Promise<LiteRtRuntime> {
  const log: string[] = [];
  let script = '';
  const scope = globalThis as Record<string, unknown>;
  const saved = { self: scope.self, importScripts: scope.importScripts, Module: scope.Module };
  scope.self = globalThis;
  scope.importScripts = (url: string) => {
    script = url;
    const code = readFileSync(url, 'utf8');
    const wrapped = runInThisContext(`(function (require, __dirname, __filename) {${code}\nreturn ModuleFactory;\n})`, { filename: url });
    scope.ModuleFactory = wrapped(createRequire(url), dirname(url), url);
  };
  scope.Module = { print: (line: string) => log.push(line), printErr: (line: string) => log.push(line) };
  // Without a navigator the runtime warns that it has no WebGPU device; that is expected here.
  const consoleWarn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).includes('WebGPU')) consoleWarn(...args);
  };
  try {
    const litert: LiteRt = await import('@litertjs/core');
    await litert.loadLiteRt(`${WASM_DIR}/`);
    return { litert, script, log };
  } finally {
    console.warn = consoleWarn;
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete scope[key];
      else scope[key] = value;
    }
  }
}

export interface LiteRtModel {
  readonly inputShape: number[];
  readonly inputType: string;
  readonly outputType: string;
  /** Runs the model on one input tensor (NHWC bytes) and returns the raw output tensor bytes. */
  run(input: Uint8Array): Promise<Uint8Array>;
  delete(): void;
}

/** Compiles a .tflite file for LiteRT.js's CPU path (single-threaded build). */
export async function loadLiteRtModel(bytes: Uint8Array): Promise<LiteRtModel> {
  const { litert } = await loadLiteRtRuntime();
  const compiled = await litert.loadAndCompile(bytes, { accelerator: 'wasm' });
  const [input] = compiled.getInputDetails();
  const [output] = compiled.getOutputDetails();
  if (!input || !output) throw new Error('LiteRT.js: the model has no input or no output');
  const inputShape = Array.from(input.shape);
  return {
    inputShape,
    inputType: input.dtype,
    outputType: output.dtype,
    async run(data) {
      const tensor = new litert.Tensor(new Uint8Array(data), inputShape); // a copy: its own ArrayBuffer, as the typings want
      try {
        const [result, ...rest] = await compiled.run(tensor);
        for (const extra of rest) extra.delete();
        if (!result) throw new Error('LiteRT.js: no output tensor');
        try {
          const typed = result.toTypedArray();
          return new Uint8Array(typed.buffer.slice(typed.byteOffset, typed.byteOffset + typed.byteLength));
        } finally {
          result.delete();
        }
      } finally {
        tensor.delete();
      }
    },
    delete: () => compiled.delete(),
  };
}
