import type { BackendChoice, Precision, Rounding } from '../engine/index.js';
import { Option, type Command } from 'commander';
import { availableParallelism } from 'node:os';
import type { Classifier } from '../classifier.js';
import { stepMacs } from '../engine/cost.js';
import type { Step } from '../engine/plan.js';
import { createRandomModel, seededRandom } from '../model/random-model.js';
import type { Arch } from '../model/spec.js';
import { downloadProgress } from './download-progress.js';
import { precisionOption, roundingOption } from './model-options.js';
import { MAX_ALPHA, MAX_RESOLUTION } from '../model/limits.js';
import { integerUpTo, numberUpTo, positiveInteger } from './options.js';
import { fail, warnOnce } from './process.js';
import { percentile } from './stats.js';

interface BenchFlags {
  arch: Arch;
  alpha: number;
  resolution: number;
  model?: string;
  threads: number;
  runs: number;
  warmup: number;
  batch: number;
  backend: BackendChoice;
  json?: boolean;
  profile?: boolean;
  precision?: Precision | 'both';
  rounding?: Rounding;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('measure inference speed and memory (random weights unless --model is given)')
    .addOption(new Option('--arch <v1|v2>', 'architecture').choices(['v1', 'v2']).default('v2'))
    .option('--alpha <a>', `width multiplier (at most ${MAX_ALPHA})`, numberUpTo(MAX_ALPHA), 1)
    .option('--resolution <px>', `input height and width (at most ${MAX_RESOLUTION})`, integerUpTo(MAX_RESOLUTION), 224)
    .option('-m, --model <name|file>', 'benchmark a real model (name or alias, downloaded on first use, or a .tflite file) instead of random weights')
    .option('--threads <n>', 'CPU threads for inference', positiveInteger, availableParallelism())
    .option('--runs <n>', 'timed runs', positiveInteger, 100)
    .option('--warmup <n>', 'untimed runs first', positiveInteger, 10)
    .option('--batch <n>', 'images per timed run (run back to back)', positiveInteger, 1)
    .addOption(new Option('--backend <name>', "inference backend: 'auto' is native where the addon loads, else reference with a warning").choices(['auto', 'native', 'reference']).default('auto'))
    .addOption(precisionOption(['both']))
    .addOption(roundingOption())
    .option('--json', 'print the results as JSON')
    .option('--profile', 'add a per-layer table: op, shape, time, MACs, GFLOP/s')
    .action(async (flags: BenchFlags) => {
      // The library is loaded only when the command runs (--help stays fast).
      const { loadModel } = await import('../classifier.js');
      const { resolveModelFile } = await import('../model/resolve.js');
      // A model downloaded on first use is fetched before the load is timed.
      const file = flags.model ? await resolveModelFile(flags.model, { reporter: downloadProgress() }).catch(fail) : undefined;
      const load = async (precision: Precision | undefined) => {
        const loadStart = performance.now();
        const spec = file ? undefined : createRandomModel({ arch: flags.arch, alpha: flags.alpha, resolution: flags.resolution });
        const model = await loadModel(spec ?? file, {
          backend: flags.backend, threads: flags.threads, precision, rounding: precision === 'fp32' ? undefined : flags.rounding,
          onFallback: warnOnce, onWarning: warnOnce,
        }).catch(fail);
        return { model, loadMs: performance.now() - loadStart };
      };
      // Without --precision a model runs as it would in classify; 'both' measures a quantized model
      // in int8 and in fp32, alternating run by run so that machine noise hits both alike.
      const first = await load(flags.precision === 'both' ? 'int8' : flags.precision);
      const loaded = [first];
      try {
        if (flags.precision === 'both') loaded.push(await load('fp32'));
        const reports = await measure(loaded, flags);
        if (flags.json) {
          const json = reports.length === 1 ? reports[0] : { reports, int8OverFp32: reports[0]!.medianMs / reports[1]!.medianMs };
          process.stdout.write(JSON.stringify(json, null, 2) + '\n');
        } else {
          process.stdout.write(reports.map(formatReport).join('\n'));
          if (reports.length === 2) process.stdout.write(`\nint8 / fp32 median latency: ${(reports[0]!.medianMs / reports[1]!.medianMs).toFixed(2)}×\n`);
        }
      } finally {
        for (const { model } of loaded) model.dispose();
      }
    });
}

interface LayerProfile {
  step: number;
  op: string;
  shape: string;
  ms: number;
  macs: number;
  gflops: number;
}

interface BenchReport {
  model: string;
  precision: Precision;
  /** int8 only (see --rounding). */
  rounding?: Rounding;
  backend: string;
  isa: string;
  threads: number;
  batch: number;
  runs: number;
  loadMs: number;
  firstMs: number;
  medianMs: number;
  p90Ms: number;
  p99Ms: number;
  imagesPerSecond: number;
  gflops: number;
  macs: number;
  activationMiB: number;
  peakRssMiB: number;
  layers?: LayerProfile[];
}

async function measure(loaded: { model: Classifier; loadMs: number }[], flags: BenchFlags): Promise<BenchReport[]> {
  const { plan } = loaded[0]!.model;
  const random = seededRandom(7);
  const input = Float32Array.from({ length: plan.inputH * plan.inputW * plan.inputC }, () => random() * 2 - 1);
  // Each engine gets its input ready-made, outside the timed region: the float tensor, or for int8
  // the quantized one (as classify makes it from the pixels).
  const { isQuantizedBackend } = await import('../engine/int8/engine.js');
  const { quantize } = await import('../engine/int8/ops.js');
  const runs = loaded.map(({ model }) => {
    const backend = model.backend;
    if (!isQuantizedBackend(backend)) return () => model.predict(input);
    const quantized = new Int8Array(input.length);
    quantize(input, quantized, backend.qplan.inputQuant.scale, backend.qplan.inputQuant.zeroPoint);
    return () => backend.runQuantized(quantized);
  });
  const runBatch = async (run: () => Promise<unknown>) => {
    for (let i = 0; i < flags.batch; i++) await run();
  };
  const firstMs = [];
  for (const run of runs) {
    const start = performance.now();
    await run();
    firstMs.push(performance.now() - start);
  }
  for (let i = 0; i < flags.warmup; i++) for (const run of runs) await runBatch(run);
  const times: number[][] = loaded.map(() => []);
  for (let i = 0; i < flags.runs; i++) {
    for (const [index, run] of runs.entries()) {
      const start = performance.now();
      await runBatch(run);
      times[index]!.push(performance.now() - start);
    }
  }
  const reports: BenchReport[] = [];
  for (const [index, { model, loadMs }] of loaded.entries()) {
    const { spec, backend } = model;
    const macs = plan.steps.reduce((sum, step) => sum + stepMacs(step), 0);
    const medianMs = percentile(times[index]!, 50);
    reports.push({
      model: flags.model ?? `mobilenet_${spec.arch}_${spec.alpha}_${spec.resolution} (random weights)`,
      precision: model.precision,
      ...(model.rounding ? { rounding: model.rounding } : {}),
      backend: backend.name,
      isa: backend.isa,
      threads: backend.threads,
      batch: flags.batch,
      runs: flags.runs,
      loadMs,
      firstMs: firstMs[index]!,
      medianMs,
      p90Ms: percentile(times[index]!, 90),
      p99Ms: percentile(times[index]!, 99),
      imagesPerSecond: (flags.batch * 1000) / medianMs,
      gflops: (2 * macs * flags.batch) / (medianMs * 1e6),
      macs,
      activationMiB: backend.activationBytes / 2 ** 20,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      layers: flags.profile ? await profileLayers(model, input, flags.runs) : undefined,
    });
  }
  return reports;
}

/** Median time of each step over several profiled runs. */
async function profileLayers(model: Classifier, input: Float32Array, runs: number): Promise<LayerProfile[]> {
  const samples: Float64Array[] = [];
  for (let i = 0; i < Math.min(runs, 50); i++) samples.push(await model.backend.profile(input));
  return model.plan.steps.map((step, index) => {
    const ms = percentile(samples.map((s) => s[index]), 50);
    const macs = stepMacs(step);
    return { step: index, op: step.op, shape: describeStep(step), ms, macs, gflops: (2 * macs) / (ms * 1e6) };
  });
}

function describeStep(step: Step): string {
  switch (step.op) {
    case 'conv2d':
      return `${step.inH}×${step.inW}×${step.inC} → ${step.outH}×${step.outW}×${step.outC} /${step.stride}`;
    case 'depthwise':
      return `${step.inH}×${step.inW}×${step.channels} /${step.stride}`;
    case 'pointwise':
      return `${step.h}×${step.w}×${step.inC} → ${step.outC}`;
    case 'bottleneck':
      return `${step.inH}×${step.inW}×${step.inC} → ${step.expandC} → ${step.outH}×${step.outW}×${step.outC} /${step.stride}${step.residual ? ' +' : ''}`;
    case 'avgpool':
      return `${step.h}×${step.w}×${step.channels}`;
    case 'fc':
      return `${step.inC} → ${step.outC}`;
    case 'softmax':
      return `${step.n}`;
  }
}

function formatReport(r: BenchReport): string {
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  const lines = [
    `model            ${r.model}`,
    `backend          ${r.backend} (${r.isa}), ${r.precision}${r.rounding ? ` (${r.rounding} rounding)` : ''}, ${r.threads} thread${r.threads === 1 ? '' : 's'}, batch ${r.batch}`,
    `load             ${ms(r.loadMs)}`,
    `first inference  ${ms(r.firstMs)}`,
    `latency          median ${ms(r.medianMs)}, p90 ${ms(r.p90Ms)}, p99 ${ms(r.p99Ms)} (${r.runs} runs)`,
    `throughput       ${r.imagesPerSecond.toFixed(1)} images/s`,
    `compute          ${(r.macs / 1e6).toFixed(1)} M multiply-adds, ${r.precision === 'int8' ? `${(r.gflops / 2).toFixed(1)} G int8 MAC/s` : `${r.gflops.toFixed(1)} GFLOP/s`}`,
    `memory           activations ${r.activationMiB.toFixed(2)} MiB, peak RSS ${r.peakRssMiB.toFixed(1)} MiB`,
  ];
  if (r.layers) {
    // fp32 speed in GFLOP/s (2 per multiply-add), int8 in G multiply-adds/s (one VNNI lane op each).
    const int8 = r.precision === 'int8';
    lines.push('', ` step  op          shape                                       ms   M MACs  ${int8 ? ' GMAC/s' : 'GFLOP/s'}`);
    for (const l of r.layers) {
      const speed = int8 ? l.gflops / 2 : l.gflops;
      lines.push(
        `${String(l.step).padStart(5)}  ${l.op.padEnd(10)}  ${l.shape.padEnd(40)} ${l.ms.toFixed(3).padStart(7)} ${(l.macs / 1e6).toFixed(2).padStart(8)} ${(l.macs ? speed.toFixed(1) : '-').padStart(8)}`,
      );
    }
  }
  return lines.join('\n') + '\n';
}
