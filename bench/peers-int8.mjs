// The integer section of `npm run bench:peers` (alone: `-- --precision int8`): the shared quantized
// MobileNets with their real weights on four engines, alternating in blocks as in the fp32 section,
// with ratios to XNNPACK:
//
// - XNNPACK qs8 / qu8: bench/xnnpack (the file's network built with XNNPACK's subgraph API, run in a
//   child process on a pthreadpool; its times are measured inside that process, around
//   xnn_invoke_runtime, so they carry no JS or pipe overhead). Skipped, with the reason, when
//   bench/setup.mjs could not build it (no libxnnpack-dev).
// - ONNX Runtime QLinear: bench/onnx-qlinear-export.mjs (QLinearConv, QLinearAdd,
//   QLinearGlobalAveragePool; uint8 activations, the file's weights), uint8 NCHW input prepared
//   outside the timed region.
// - ours-int8: our integer engine (createEngine with precision 'int8', the native backend), in its
//   default rounding (TFLite's reference kernels' fixed point).
// - ours-int8-xnn: the same in XNNPACK's rounding (--rounding xnnpack: LiteRT.js's bytes).
// - ours-fp32: our native fp32 engine on the same file (weights dequantized), for scale.
//
// The peers end at the logits (neither has TFLite's integer SOFTMAX; a 1001-element softmax costs a
// few microseconds); our engines run the whole graph. Before timing, on every shared photo: XNNPACK's
// and ORT's logits must agree within MAX_PEER_LSB and give the same top-1, and ours-int8 must give
// that top-1 too (bench/test checks each against the integer reference, LSB by LSB).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '../dist/index.js';
import { decodeResized, normalize } from '../dist/image/index.js';
import { loadTfliteFile } from '../dist/tflite/index.js';
import { nhwcToNchw, onnxOpCounts } from './onnx-proto.mjs';
import { qlinearInput, tfliteToQLinearOnnx } from './onnx-qlinear-export.mjs';
import { latencyStats, otherLoadMeter, settle } from './timing.mjs';
import { describeForXnnpack, xnnpackInput } from './xnnpack/describe.mjs';
import { XnnpackPeer, xnnpackBuilt } from './xnnpack/peer.mjs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

/** The quantized files of each architecture. */
export const INT8_MODELS = {
  v2: ['mobilenet_v2_1.0_224_quant', 'tf2_mobilenet_v2_1.0_224_ptq'],
  v1: ['mobilenet_v1_0.75_192_quant'],
};
/**
 * XNNPACK against ORT on the logits: measured 0 LSB apart on the uint8 files (both round a float
 * product to nearest), up to 5 on the TF2 file; each is within 8 of the integer reference (bench/test).
 */
const MAX_PEER_LSB = 8;

const argmax = (a) => {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
};
const maxAbsDiff = (a, b) => a.reduce((max, v, i) => Math.max(max, Math.abs(v - b[i])), 0);
const msOf = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

/** A JS-side engine as a block runner: one untimed run, then `count` timed ones (ms). */
function jsEngine(name, runOnce) {
  return {
    name,
    pids: [],
    async block(count) {
      await runOnce();
      const times = [];
      for (let i = 0; i < count; i++) {
        const t0 = process.hrtime.bigint();
        await runOnce();
        times.push(msOf(t0));
      }
      return times;
    },
  };
}

/** The engines on one model at one thread count, checked on every photo, ready to time on the first. */
async function startEngines(model, threads, ortOptions, log) {
  const closers = [];
  const engines = [];
  const logits = {}; // engine name → per-photo output, for the agreement check
  try {
    if (model.xnnpack) {
      const peer = await XnnpackPeer.start(model.xnnpack.bytes, threads);
      closers.push(() => peer.close());
      logits.XNNPACK = [];
      for (const photo of model.photos) {
        await peer.setInput(xnnpackInput(model.xnnpack, photo.pixels));
        await peer.run(1);
        logits.XNNPACK.push(await peer.output());
      }
      await peer.setInput(xnnpackInput(model.xnnpack, model.photos[0].pixels));
      engines.push({ name: 'XNNPACK', pids: [peer.pid], block: async (count) => (await peer.run(count + 1)).slice(1).map((ns) => ns / 1e6) });
    }

    const session = await ort.InferenceSession.create(model.qlinear.onnx, ortOptions(threads));
    closers.push(() => session.release());
    const [, c, h, w] = model.qlinear.inputShape;
    const ortFeeds = model.photos.map((photo) => ({
      input: new ort.Tensor('uint8', nhwcToNchw(qlinearInput(model.qlinear, photo.pixels), h, w, c), model.qlinear.inputShape),
    }));
    logits.ORT = [];
    for (const feeds of ortFeeds) logits.ORT.push(Array.from((await session.run(feeds)).output.data, (v) => v + model.qlinear.outputOffset));
    engines.push(jsEngine('ORT QLinear', () => session.run(ortFeeds[0])));

    // Ours in int8: the pixels quantized through the model's input table (for these uint8-input files,
    // the bytes themselves), the whole graph run; the probabilities rank as the logits do.
    const { backend: int8 } = createEngine(model.spec, { backend: 'native', threads, precision: 'int8' });
    closers.push(() => int8.dispose());
    const inputs = model.photos.map((photo) => int8.quantizePixels(photo.pixels));
    logits['ours-int8'] = [];
    for (const input of inputs) logits['ours-int8'].push(Array.from(await int8.runQuantized(input)));
    engines.push(jsEngine('ours-int8', () => int8.runQuantized(inputs[0])));

    const { backend: int8Xnn } = createEngine(model.spec, { backend: 'native', threads, precision: 'int8', int8Rounding: 'xnnpack' });
    closers.push(() => int8Xnn.dispose());
    logits['ours-int8-xnn'] = [];
    for (const input of inputs) logits['ours-int8-xnn'].push(Array.from(await int8Xnn.runQuantized(input)));
    engines.push(jsEngine('ours-int8-xnn', () => int8Xnn.runQuantized(inputs[0])));

    const { backend: fp32 } = createEngine(model.spec, { backend: 'native', threads, precision: 'fp32' });
    closers.push(() => fp32.dispose());
    if (fp32.name !== 'native') throw new Error('the native addon is not available (run npm run build:native)');
    engines.push(jsEngine('ours-fp32', () => fp32.run(model.photos[0].float)));

    for (const [i, photo] of model.photos.entries()) {
      const tops = Object.fromEntries(Object.entries(logits).map(([name, outs]) => [name, argmax(outs[i])]));
      const peerLsb = logits.XNNPACK ? maxAbsDiff(logits.XNNPACK[i], logits.ORT[i]) : null;
      log(`   [${threads} thr] ${photo.name}: top-1 ${JSON.stringify(tops)}${peerLsb === null ? '' : `, XNNPACK vs ORT logits max |Δ| ${peerLsb} LSB`}`);
      if (new Set(Object.values(tops)).size !== 1 || peerLsb > MAX_PEER_LSB) {
        throw new Error(`${model.name}, ${threads} thread(s), ${photo.name}: the integer engines disagree (top-1 ${JSON.stringify(tops)}, `
          + `XNNPACK vs ORT ${peerLsb} LSB); refusing to benchmark`);
      }
    }
    return { engines, isa: fp32.isa, close: async () => { for (const close of closers.reverse()) await close(); } };
  } catch (error) {
    for (const close of closers.reverse()) await close();
    throw error;
  }
}

/**
 * Runs the integer section. Options: models (file names), shared (folder), threads, runs, warmup,
 * block, settle (boolean), ortOptions(threads), log. Returns { rows, notes, isa } (isa: our fp32
 * engine's).
 */
export async function int8Section({ models, shared, threads: threadCounts, runs, warmup, block, settle: settleOn, ortOptions, log }) {
  const notes = [];
  if (!xnnpackBuilt()) notes.push('XNNPACK: skipped (not built: bench/setup.mjs builds it when libxnnpack-dev and libpthreadpool-dev are installed)');
  const photoNames = readdirSync(join(shared, 'images')).filter((f) => /\.(bmp|jpe?g|png)$/i.test(f)).sort();
  const rows = [];
  let isa = 'unknown';
  for (const name of models) {
    const path = join(shared, 'models', `${name}.tflite`);
    const bytes = new Uint8Array(readFileSync(path));
    const spec = await loadTfliteFile(path);
    const photos = [];
    for (const photo of photoNames) {
      const { image } = await decodeResized(join(shared, 'images', photo), spec.resolution, 'none');
      photos.push({ name: photo, pixels: image.data, float: normalize(image, spec.normalization) });
    }
    const model = { name, bytes, spec, photos, qlinear: tfliteToQLinearOnnx(bytes, name), xnnpack: xnnpackBuilt() ? describeForXnnpack(bytes, name) : null };
    const optimized = await ortOptimizedOps(model.qlinear.onnx, ortOptions);
    log(`== ${name} (integer): ORT graph ${JSON.stringify(model.qlinear.nodes)}, after ORT optimization ${JSON.stringify(optimized)}`
      + `${model.xnnpack ? `; XNNPACK nodes ${JSON.stringify(model.xnnpack.nodes)}` : ''}; peers end before ${model.qlinear.head.join(', ')}`);

    for (const threads of threadCounts) {
      const { engines, isa: fp32Isa, close } = await startEngines(model, threads, ortOptions, log);
      isa = fp32Isa;
      try {
        for (let i = 0; i < warmup; i++) for (const engine of engines) await engine.block(1);
        const times = new Map(engines.map((e) => [e.name, []]));
        const pids = engines.flatMap((e) => e.pids);
        const otherLoad = otherLoadMeter(pids);
        for (let round = 0; times.get(engines[0].name).length < runs; round++) {
          // Each round starts with the next engine, so that each follows each.
          const order = engines.map((_, i) => engines[(i + round) % engines.length]);
          for (const engine of order) {
            if (settleOn) await settle(pids);
            const list = times.get(engine.name);
            list.push(...await engine.block(Math.min(block, runs - list.length)));
          }
        }
        const load = otherLoad();
        const stats = Object.fromEntries([...times].map(([engine, list]) => [engine, latencyStats(list)]));
        const base = stats.XNNPACK?.medianMs;
        const row = {
          model: name,
          threads,
          runs,
          engines: stats,
          ratioToXnnpack: base ? Object.fromEntries(Object.entries(stats).map(([engine, s]) => [engine, s.medianMs / base])) : null,
          otherCores: load?.otherCores ?? null,
          stealCores: load?.stealCores ?? null,
        };
        log(`   [${threads} thr] ${Object.entries(stats).map(([engine, s]) => `${engine} ${s.medianMs.toFixed(2)} ms`).join(', ')}`);
        rows.push(row);
      } finally {
        await close();
      }
    }
  }
  return { rows, notes, isa };
}

/** What ORT's optimizer made of the integer graph (op counts). */
async function ortOptimizedOps(onnx, ortOptions) {
  const dir = mkdtempSync(join(tmpdir(), 'mobilenet-peers-int8-'));
  try {
    const path = join(dir, 'optimized.onnx');
    const session = await ort.InferenceSession.create(onnx, { ...ortOptions(1), optimizedModelFilePath: path, logSeverityLevel: 3 });
    await session.release();
    return onnxOpCounts(readFileSync(path));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ENGINE_ORDER = ['XNNPACK', 'ORT QLinear', 'ours-int8', 'ours-int8-xnn', 'ours-fp32'];

/** The section's Markdown table. */
export function int8Table(rows) {
  const f = (x) => (x === undefined ? 'n/a' : x.toFixed(2));
  const lines = [
    '| model | threads | XNNPACK median / p90 / p99 | ORT QLinear median / p90 / p99 | ours-int8 median / p90 / p99 | ours-int8-xnn median / p90 / p99 | ours-fp32 median / p90 / p99 | ORT / XNNPACK | ours-int8 / XNNPACK | ours-int8-xnn / XNNPACK | ours-fp32 / XNNPACK | other load |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const cells = ENGINE_ORDER.map((engine) => {
      const s = r.engines[engine];
      return s ? `${f(s.medianMs)} / ${f(s.p90Ms)} / ${f(s.p99Ms)}` : 'n/a';
    });
    const ratios = ['ORT QLinear', 'ours-int8', 'ours-int8-xnn', 'ours-fp32'].map((engine) => f(r.ratioToXnnpack?.[engine]));
    const other = r.otherCores === null ? 'n/a' : `${r.otherCores.toFixed(2)}${r.stealCores >= 0.005 ? ` + steal ${r.stealCores.toFixed(2)}` : ''}`;
    lines.push(`| ${r.model} | ${r.threads} | ${cells.join(' | ')} | ${ratios.join(' | ')} | ${other} |`);
  }
  return lines.join('\n');
}
