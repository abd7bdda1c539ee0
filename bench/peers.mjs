// Peer benchmark: our native backend against ONNX Runtime (CPU EP) on exactly the same network and
// weights (bench/onnx-export.mjs turns our plan into an ONNX model): the fp32 section, below. The
// integer section (bench/peers-int8.mjs) times the quantized files on XNNPACK, ONNX Runtime's
// QLinear ops, our int8 engine and our fp32 one, with ratios to XNNPACK.
//
//   npm run bench:peers -- [--precision fp32|int8|all] [--int8] [--runs 200] [--warmup 20] [--arch v1|v2] [--threads 1,2] [--ort-spin on|off] [--settle on|off] [--block N] [--json]
//
// --precision (default all) picks the sections; --int8 is --precision int8.
//
// Models: MobileNet v2 1.0 224 with the real weights of ../shared/models/mobilenet_v2_1.0_224_quant
// (dequantized to fp32 by our reader; random weights if ../shared is missing) and MobileNet v1 1.0
// 224 with random weights (seed 1). ORT gets its native NCHW input, we get NHWC; both tensors are
// prepared outside the timed region. Before timing, the softmax outputs of both engines must agree
// within 1e-3 on every real photo (v2) or on 3 random inputs (v1). The engines then alternate so
// that machine noise hits both, and we report median, p90 and p99 of each, and p90 / median.
//
// Why blocks (--block, default 10) rather than strictly run by run (--block 1): on this 2-core VM,
// at 2 threads, a run that follows the other engine's run is disturbed by it. In a block each
// engine first gets one untimed run, then BLOCK timed ones; the block order flips every round.
//
// Why settle (--settle, default on): ORT's intra-op workers keep spin-waiting after session.run
// returns, its default. Measured here with 2 threads: its worker burns a whole core for ~40 ms
// after every run (process CPU time while the JS thread sleeps 50-1000 ms after a run: 41-44 ms;
// 0.3 ms with intra_op.allow_spinning = 0). A block of ours (10 runs of ~3.5 ms) started right
// after ORT's block therefore ran against that spinner: one of our two cores was taken, ~27 % of
// our runs took single-core time (~2× the median) and our p90 / median read 1.9. So before each
// block the script waits until the process is idle (its CPU time over a 5 ms window below 20 % of
// one core, at most 1 s): the previous engine's threads have gone to sleep, whichever engine it was
// (our pool spins at most ~0.1 ms after a run). Both engines keep their default threading: ORT's
// spinning helps ORT between the ops of one run, which is what its users get, so it stays on
// (--ort-spin off sets intra_op.allow_spinning = 0, through the session config entries that
// onnxruntime-node passes on from `extra`, for comparison).
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createEngine, createRandomModel } from '../dist/index.js';
import { loadImageTensor } from '../dist/image/index.js';
import { seededRandom } from '../dist/model/random-model.js';
import { loadTfliteFile } from '../dist/tflite/index.js';
import { describeOnnx, nhwcToNchw, onnxOpCounts, planToOnnx } from './onnx-export.mjs';
import { cpuModel } from './machine.mjs';
import { int8Section, int8Table, INT8_MODELS } from './peers-int8.mjs';
import { otherLoadMeter, percentile, settle, settleStats } from './timing.mjs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const REPO = resolve(fileURLToPath(new URL('..', import.meta.url)));
const SHARED = process.env.MOBILENET_SHARED ?? resolve(REPO, '../shared');
const V2_MODEL = join(SHARED, 'models', 'mobilenet_v2_1.0_224_quant.tflite');
const IMAGES_DIR = join(SHARED, 'images');
const TOLERANCE = 1e-3;

const { values: args } = parseArgs({
  options: {
    precision: { type: 'string', default: 'all' },
    int8: { type: 'boolean', default: false },
    runs: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '20' },
    arch: { type: 'string' },
    threads: { type: 'string', default: '1,2' },
    json: { type: 'boolean', default: false },
    // ORT's intra-op workers spin-wait after each run by default ('on', what users get); with
    // run-by-run alternation on a small machine that spinning can steal cores from the next run.
    'ort-spin': { type: 'string', default: 'on' },
    // Wait before each block until the other engine's threads are idle (see the top of the file).
    settle: { type: 'string', default: 'on' },
    // Alternate in blocks of this many timed runs per engine, each block after one untimed run
    // (see BLOCK below); 1 = strictly run by run.
    block: { type: 'string', default: '10' },
  },
});
const RUNS = Number(args.runs);
const WARMUP = Number(args.warmup);
const THREADS = args.threads.split(',').map(Number);
const BLOCK = Number(args.block);
if (!(RUNS > 0) || !(WARMUP >= 0) || !(BLOCK >= 1) || THREADS.some((t) => !(t >= 1))) {
  console.error('usage: node bench/peers.mjs [--precision fp32|int8|all] [--int8] [--runs N] [--warmup N] [--arch v1|v2] [--threads 1,2] [--ort-spin on|off] [--settle on|off] [--block N] [--json]');
  process.exit(2);
}
for (const flag of ['ort-spin', 'settle']) {
  if (args[flag] !== 'on' && args[flag] !== 'off') {
    console.error(`--${flag} must be on or off, got ${args[flag]}`);
    process.exit(2);
  }
}
const SETTLE = args.settle === 'on';
const PRECISION = args.int8 ? 'int8' : args.precision;
if (!['fp32', 'int8', 'all'].includes(PRECISION) || (args.int8 && args.precision !== 'all' && args.precision !== 'int8')) {
  console.error(`--precision must be fp32, int8 or all (--int8 is --precision int8), got ${args.precision}`);
  process.exit(2);
}
if (args.arch && args.arch !== 'v1' && args.arch !== 'v2') {
  console.error(`--arch must be v1 or v2, got ${args.arch}`);
  process.exit(2);
}
const log = (...parts) => console.error(...parts); // progress on stderr keeps --json output clean

function randomInputs(count, size, seed) {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => ({
    name: `random #${i + 1}`,
    nhwc: Float32Array.from({ length: size }, () => random() * 2 - 1),
  }));
}

/** The models to compare, with their correctness inputs (NHWC) and a note on where weights came from. */
async function models() {
  const list = [];
  if (!args.arch || args.arch === 'v2') {
    if (existsSync(V2_MODEL) && existsSync(IMAGES_DIR)) {
      const spec = await loadTfliteFile(V2_MODEL);
      const photos = readdirSync(IMAGES_DIR).filter((f) => /\.(bmp|jpe?g|png)$/i.test(f)).sort();
      const inputs = [];
      for (const photo of photos) {
        const { tensor } = await loadImageTensor(join(IMAGES_DIR, photo), { size: spec.resolution, normalization: spec.normalization });
        inputs.push({ name: photo, nhwc: tensor });
      }
      list.push({ name: 'v2 1.0 224', weights: 'real (mobilenet_v2_1.0_224_quant, dequantized)', spec, inputs });
    } else {
      log(`note: ${SHARED} is missing; MobileNet v2 uses random weights (seed 1) and random inputs`);
      const spec = createRandomModel({ arch: 'v2', alpha: 1, resolution: 224, seed: 1 });
      list.push({ name: 'v2 1.0 224', weights: 'random (seed 1; shared model missing)', spec, inputs: randomInputs(3, 224 * 224 * 3, 7) });
    }
  }
  if (!args.arch || args.arch === 'v1') {
    const spec = createRandomModel({ arch: 'v1', alpha: 1, resolution: 224, seed: 1 });
    list.push({ name: 'v1 1.0 224', weights: 'random (seed 1)', spec, inputs: randomInputs(3, 224 * 224 * 3, 7) });
  }
  return list;
}

function ortOptions(threads) {
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    ...(args['ort-spin'] === 'off' ? { extra: { session: { 'intra_op.allow_spinning': '0' } } } : {}),
  };
}

/** What ORT's optimizer made of the graph: saves the optimized model and counts its ops. */
async function optimizedOps(onnx) {
  const dir = mkdtempSync(join(tmpdir(), 'mobilenet-peers-'));
  try {
    const path = join(dir, 'optimized.onnx');
    const session = await ort.InferenceSession.create(onnx, { ...ortOptions(1), optimizedModelFilePath: path, logSeverityLevel: 3 });
    await session.release();
    return onnxOpCounts(readFileSync(path));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ms = (ns) => Number(ns) / 1e6;

function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

const argmax = (a) => a.reduce((best, v, i) => (v > a[best] ? i : best), 0);

/** The fp32 section: rows of ours against ORT on the same plan. */
async function fp32Section() {
  const rows = [];
  const notes = [];
  let isa = 'unknown';
  for (const model of await models()) {
    log(`== ${model.name}: weights ${model.weights}`);
    const probe = createEngine(model.spec, { backend: 'native', threads: 1, precision: 'fp32' });
    if (probe.backend.name !== 'native') throw new Error('the native addon is not available (run npm run build:native)');
    const plan = probe.plan;
    probe.backend.dispose();
    const onnx = planToOnnx(plan);
    const shape = [1, plan.inputC, plan.inputH, plan.inputW];
    const exported = describeOnnx(plan);
    const optimized = await optimizedOps(onnx);
    log(`   exported graph (${(onnx.length / 1e6).toFixed(1)} MB): ${JSON.stringify(exported)}`);
    log(`   after ORT optimization: ${JSON.stringify(optimized)}`);
    notes.push({ model: model.name, weights: model.weights, exported, optimized });
    const inputs = model.inputs.map((input) => ({
      ...input,
      ortTensor: new ort.Tensor('float32', nhwcToNchw(input.nhwc, plan.inputH, plan.inputW, plan.inputC), shape),
    }));

    for (const threads of THREADS) {
      const { backend } = createEngine(model.spec, { backend: 'native', threads, precision: 'fp32' });
      isa = backend.isa;
      const session = await ort.InferenceSession.create(onnx, ortOptions(threads));
      try {
        // Correctness first: the two engines must compute the same network.
        for (const input of inputs) {
          const ours = await backend.run(input.nhwc);
          const theirs = (await session.run({ input: input.ortTensor })).output.data;
          const diff = maxAbsDiff(ours, theirs);
          const top = `top-1 ours ${argmax(ours)} / ORT ${argmax(theirs)}`;
          log(`   [${threads} thr] ${input.name}: max |p_ours - p_ort| = ${diff.toExponential(2)}, ${top}`);
          if (!(diff <= TOLERANCE)) {
            throw new Error(`${model.name}, ${threads} thread(s), ${input.name}: the outputs differ by ${diff} `
              + `(> ${TOLERANCE}); the ONNX export does not match our network, refusing to benchmark`);
          }
        }

        const ourInput = inputs[0].nhwc;
        const feeds = { input: inputs[0].ortTensor };
        const runOurs = async () => {
          const t0 = process.hrtime.bigint();
          await backend.run(ourInput);
          return process.hrtime.bigint() - t0;
        };
        const runOrt = async () => {
          const t0 = process.hrtime.bigint();
          await session.run(feeds);
          return process.hrtime.bigint() - t0;
        };
        for (let i = 0; i < WARMUP; i++) {
          await runOurs();
          await runOrt();
        }
        const oursNs = [];
        const ortNs = [];
        const engines = [{ run: runOurs, times: oursNs }, { run: runOrt, times: ortNs }];
        const otherLoad = otherLoadMeter();
        for (let round = 0; oursNs.length < RUNS; round++) {
          const order = round % 2 === 0 ? engines : [...engines].reverse();
          for (const { run, times } of order) {
            if (SETTLE) await settle(); // the other engine's threads have stopped spinning
            if (BLOCK > 1) await run(); // untimed: lets the engine's pool take over the cores again
            for (let i = 0; i < BLOCK && times.length < RUNS; i++) times.push(await run());
          }
        }
        const load = otherLoad();
        const ours = oursNs.map(ms).sort((a, b) => a - b);
        const theirs = ortNs.map(ms).sort((a, b) => a - b);
        const row = {
          model: model.name,
          threads,
          oursMedianMs: percentile(ours, 0.5),
          oursP90Ms: percentile(ours, 0.9),
          oursP99Ms: percentile(ours, 0.99),
          ortMedianMs: percentile(theirs, 0.5),
          ortP90Ms: percentile(theirs, 0.9),
          ortP99Ms: percentile(theirs, 0.99),
          ratio: percentile(ours, 0.5) / percentile(theirs, 0.5),
          runs: RUNS,
          otherCores: load?.otherCores ?? null,
          stealCores: load?.stealCores ?? null,
        };
        row.oursTail = row.oursP90Ms / row.oursMedianMs;
        row.ortTail = row.ortP90Ms / row.ortMedianMs;
        log(`   [${threads} thr] ours ${row.oursMedianMs.toFixed(2)} ms (p90 ${row.oursP90Ms.toFixed(2)}, p99 ${row.oursP99Ms.toFixed(2)}), `
          + `ORT ${row.ortMedianMs.toFixed(2)} ms (p90 ${row.ortP90Ms.toFixed(2)}, p99 ${row.ortP99Ms.toFixed(2)}) of ${RUNS} runs`);
        rows.push(row);
      } finally {
        backend.dispose();
        await session.release();
      }
    }
  }

  return { rows, notes, isa };
}

async function main() {
  const loadBefore = loadavg()[0];
  const fp32 = PRECISION === 'int8' ? { rows: [], notes: [], isa: 'unknown' } : await fp32Section();
  let int8 = { rows: [], notes: [] };
  if (PRECISION !== 'fp32') {
    if (existsSync(join(SHARED, 'models')) && existsSync(IMAGES_DIR)) {
      const models = args.arch ? INT8_MODELS[args.arch] : [...INT8_MODELS.v2, ...INT8_MODELS.v1];
      int8 = await int8Section({
        models, shared: SHARED, threads: THREADS, runs: RUNS, warmup: WARMUP, block: BLOCK, settle: SETTLE, ortOptions, log,
      });
    } else {
      int8.notes.push(`integer section skipped: ${SHARED} (the quantized models and photos) is missing`);
    }
  }
  const { rows, notes } = fp32;
  const isa = fp32.isa !== 'unknown' ? fp32.isa : int8.isa ?? 'unknown';
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
  const env = {
    cpu: cpuModel(),
    isa,
    node: process.version,
    onnxruntime: ort.env.versions?.common ?? 'unknown',
    mobilenet: pkg.version,
    runs: RUNS,
    warmup: WARMUP,
    ortSpin: args['ort-spin'],
    block: BLOCK,
    settle: SETTLE
      ? { blocks: settleStats.blocks, meanMs: settleStats.waitedMs / Math.max(1, settleStats.blocks), maxMs: settleStats.maxMs, timeouts: settleStats.timeouts }
      : 'off',
    // Other processes compete for the cores; the 1-minute load average tells how much.
    loadAverage: { before: loadBefore, after: loadavg()[0] },
  };
  if (args.json) {
    console.log(JSON.stringify({ env, rows, graphs: notes, int8: int8.rows, int8Notes: int8.notes }, null, 2));
    return;
  }
  const f = (x) => x.toFixed(2);
  console.log(`CPU: ${env.cpu}; our ISA: ${env.isa}; Node ${env.node}; onnxruntime-node ${env.onnxruntime}; mobilenet ${env.mobilenet}`);
  const protocol = BLOCK === 1
    ? 'alternating run by run'
    : `alternating in blocks of ${BLOCK} (each after 1 untimed run)`;
  const settled = SETTLE
    ? `each block after every engine's threads went idle (mean wait ${env.settle.meanMs.toFixed(1)} ms, max ${env.settle.maxMs.toFixed(1)} ms`
      + `${env.settle.timeouts ? `, ${env.settle.timeouts} timeouts` : ''})`
    : 'blocks back to back (--settle off)';
  console.log(`${RUNS} timed runs per engine, ${protocol}, ${settled}, after ${WARMUP} warm-up runs each; latencies in ms; `
    + `ORT spin-wait ${env.ortSpin}; 1-min load average ${env.loadAverage.before.toFixed(2)} before, ${env.loadAverage.after.toFixed(2)} after.`);
  for (const n of notes) console.log(`${n.model}: weights ${n.weights}`);
  const other = (r) => (r.otherCores === null ? 'n/a' : `${r.otherCores.toFixed(2)}${r.stealCores >= 0.005 ? ` + steal ${r.stealCores.toFixed(2)}` : ''}`);
  if (rows.length) {
    console.log('');
    console.log('| model | threads | ours median | ours p90 | ours p99 | ours p90/median | ORT median | ORT p90 | ORT p99 | ORT p90/median | ours/ORT (median) | other load |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      console.log(`| ${r.model} | ${r.threads} | ${f(r.oursMedianMs)} | ${f(r.oursP90Ms)} | ${f(r.oursP99Ms)} | ${f(r.oursTail)} `
        + `| ${f(r.ortMedianMs)} | ${f(r.ortP90Ms)} | ${f(r.ortP99Ms)} | ${f(r.ortTail)} | ${r.ratio.toFixed(2)} | ${other(r)} |`);
    }
  }
  if (PRECISION !== 'fp32') {
    console.log('');
    console.log('Integer section: the shared quantized files, real weights; XNNPACK and ORT QLinear end at the logits, ours run the whole graph.');
    for (const note of int8.notes) console.log(note);
    if (int8.rows.length) {
      console.log('');
      console.log(int8Table(int8.rows));
    }
  }
  console.log('');
  console.log('other load: cores used by other processes (and hypervisor steal) while the row was measured; '
    + 'tails that come with it are the machine\'s.');
}

main().catch((error) => {
  console.error(`bench:peers failed: ${error.message}`);
  process.exit(1);
});
