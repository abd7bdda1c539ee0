// `mobilenet inspect`: a MobileNet's cost layer by layer, from the architecture tables (--arch, with
// random weights) or a model (--model), with the activation memory of the engine started for it.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { availableParallelism } from 'node:os';
import { MAX_ALPHA, MAX_PARAMETERS, MAX_RESOLUTION } from '../model/limits.js';
import type { Arch, ModelSpec } from '../model/spec.js';
import { downloadProgress } from './download-progress.js';
import { integerUpTo, numberUpTo } from './options.js';
import { fail, warnOnce } from './process.js';

/** Most threads the engine may be started with (loadModel's limit too). */
const MAX_THREADS = 256;

interface InspectFlags {
  arch: Arch;
  alpha: number;
  resolution: number;
  classes: number;
  model?: string;
  threads: number;
  json?: boolean;
}

export function registerInspect(program: Command): void {
  const tableOption = (flags: string, description: string) => new Option(flags, description).conflicts('model');
  program
    .command('inspect')
    .description('per-layer shapes, parameters, multiply-adds and activation memory; what depthwise separation saves')
    .addOption(tableOption('--arch <v1|v2>', 'architecture').choices(['v1', 'v2']).default('v2'))
    .addOption(tableOption('--alpha <a>', `width multiplier (at most ${MAX_ALPHA})`).argParser(numberUpTo(MAX_ALPHA)).default(1))
    .addOption(tableOption('--resolution <px>', `input height and width (at most ${MAX_RESOLUTION})`)
      .argParser(integerUpTo(MAX_RESOLUTION)).default(224))
    .addOption(tableOption('--classes <n>', 'classes of the classifier (the papers count 1000)')
      .argParser(integerUpTo(MAX_PARAMETERS)).default(1000))
    .option('-m, --model <name|file>', 'inspect a model (name or alias, downloaded on first use, or a .tflite file) instead of the tables')
    .option('--threads <n>', 'CPU threads of the engine whose activation memory is reported', integerUpTo(MAX_THREADS), Math.min(availableParallelism(), MAX_THREADS))
    .option('--json', 'print the inspection as JSON')
    .action(async (flags: InspectFlags) => {
      // The library is loaded only when the command runs (--help stays fast).
      const { createEngine } = await import('../engine/index.js');
      const { PlanError } = await import('../engine/planner.js');
      const { inspectModel } = await import('../inspect/index.js');
      const { formatInspection } = await import('./inspect/text.js');
      const { spec, source } = flags.model ? await readModel(flags.model).catch(fail) : await tableModel(flags);
      let engine: ReturnType<typeof createEngine>;
      try {
        engine = createEngine(spec, { threads: flags.threads, precision: 'fp32', onFallback: warnOnce });
      } catch (error) {
        fail(error instanceof PlanError && flags.model ? new PlanError(error.message, source) : error);
      }
      const { plan, backend } = engine;
      const inspection = inspectModel(spec, {
        source,
        plan,
        engine: { backend: backend.name, isa: backend.isa, threads: backend.threads, activationBytes: backend.activationBytes },
      });
      backend.dispose();
      process.stdout.write(flags.json ? `${JSON.stringify(inspection, null, 2)}\n` : formatInspection(inspection));
    });
}

/** The architecture tables' network, with random weights: the engine needs some to start. */
async function tableModel(flags: InspectFlags): Promise<{ spec: ModelSpec; source: string }> {
  const { createRandomModel } = await import('../model/random-model.js');
  try {
    const spec = createRandomModel({ arch: flags.arch, alpha: flags.alpha, resolution: flags.resolution, numClasses: flags.classes });
    return { spec, source: 'architecture' };
  } catch (error) {
    // More weights than the limits allow: a usage error, not a bug.
    fail(error instanceof RangeError ? new InvalidArgumentError(error.message) : error);
  }
}

/** A model by name, alias or path: resolved (downloaded on first use) and read. */
async function readModel(model: string): Promise<{ spec: ModelSpec; source: string }> {
  const { resolveModel } = await import('../model/resolve.js');
  const { loadTfliteFile, parseTflite } = await import('../tflite/index.js');
  const resolved = await resolveModel(model, { reporter: downloadProgress() });
  const options = { onWarning: warnOnce };
  const spec = resolved.bytes ? parseTflite(resolved.bytes, resolved.file, options) : await loadTfliteFile(resolved.file, options);
  return { spec, source: resolved.file };
}
