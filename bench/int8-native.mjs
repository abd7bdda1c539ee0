// Speed of the native int8 kernels on a random QPlan shaped like MobileNet v2 (or v1): per ISA,
// 1 and 2 threads run in alternating blocks in this one process (absolute times drift with the
// machine's load; compare the ratios), with the median and best run, GMAC/s, activation bytes
// and the best time of each step over the rounds.
//   npm run build && node bench/int8-native.mjs [--arch v2|v1] [--size 224] [--alpha 1]
//     [--rounds 30] [--runs 10] [--isa avx512vnni,avx2] [--threads 1,2] [--steps]
// The weights and multipliers are random, uint8-style (a weight zero point with the weights within
// ±100 of it, as in the TF1 files; one multiplier per tensor): the speed does not depend on the
// values, except that a depthwise block whose w − w_zp leaves the int8 range costs more on VNNI.
import { parseArgs } from 'node:util';
import { createNativeInt8Backend } from '../dist/engine/int8/native-backend.js';
import { loadAddon } from '../dist/engine/native.js';
import { cpuModel } from './machine.mjs';

const { values: opts } = parseArgs({
  options: {
    arch: { type: 'string', default: 'v2' },
    size: { type: 'string', default: '224' },
    alpha: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '30' },
    runs: { type: 'string', default: '10' },
    isa: { type: 'string' },
    threads: { type: 'string', default: '1,2' },
    steps: { type: 'boolean', default: false },
  },
});

let seed = 1;
const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
const bytes = (n) => Int8Array.from({ length: n }, () => Math.floor(random() * 256) - 128);
const near = (n, zero) => Int8Array.from({ length: n }, () => zero + Math.floor(random() * 201) - 100);
const same = (size, stride) => {
  const out = Math.ceil(size / stride);
  return { out, pad: Math.floor(Math.max((out - 1) * stride + 3 - size, 0) / 2) };
};

/** Weights, bias and output stage of a conv-like op: n outputs of k inputs. */
function conv(n, k, relu = true) {
  const shift = -8 - Math.round(Math.log2(Math.sqrt(k)));
  return {
    weights: near(n * k, 7), weightZeroPoint: 7, bias: Int32Array.from({ length: n }, () => Math.floor(random() * 20000) - 10000),
    inputZeroPoint: -3,
    requant: {
      multiplier: new Int32Array(n).fill(1518500250), shift: new Int32Array(n).fill(shift), zeroPoint: relu ? -128 : 2,
      actMin: -128, actMax: relu ? 0 : 127,
    },
  };
}

function depthwise(h, w, channels, stride) {
  const y = same(h, stride), x = same(w, stride);
  return { inH: h, inW: w, outH: y.out, outW: x.out, stride, padTop: y.pad, padLeft: x.pad, kernel: 3, channels, ...conv(channels, 9) };
}

const add = {
  leftShift: 20, input1Offset: -2, input1Multiplier: 1073741824, input1Shift: -1, input2Offset: 3, input2Multiplier: 2147483647,
  input2Shift: -1, outputOffset: 1, outputMultiplier: 1431655765, outputShift: -19, actMin: -128, actMax: 127,
};

/** The steps of MobileNet v1 / v2 at this size and width, with their MACs. */
function network(arch, size, alpha) {
  const ch = (c) => Math.max(8, Math.round((c * alpha) / 8) * 8);
  const steps = [];
  let h = same(size, 2).out, c = ch(32);
  steps.push({ op: 'conv2d', inH: size, inW: size, outH: h, outW: h, stride: 2, padTop: same(size, 2).pad, padLeft: same(size, 2).pad, kernel: 3, inC: 3, outC: c, ...conv(c, 27) });
  const block = (expandC, outC, stride) => {
    const d = depthwise(h, h, expandC, stride);
    const expand = expandC === c ? null : { h, w: h, inC: c, outC: expandC, ...conv(expandC, c) };
    const project = { h: d.outH, w: d.outW, inC: expandC, outC, ...conv(outC, expandC, arch === 'v1') };
    steps.push({ op: 'bottleneck', expand, depthwise: d, project, residual: stride === 1 && outC === c && arch === 'v2' ? add : null });
    h = d.outH;
    c = outC;
  };
  if (arch === 'v1') {
    for (const [outC, stride] of [[64, 1], [128, 2], [128, 1], [256, 2], [256, 1], [512, 2], [512, 1], [512, 1], [512, 1], [512, 1], [512, 1], [1024, 2], [1024, 1]]) {
      block(c, ch(outC), stride);
    }
    steps.push({ op: 'avgpool', h, w: h, channels: c, type: 'uint8', actMin: -128, actMax: 127 });
  } else {
    for (const [t, outC, n, s] of [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]) {
      for (let i = 0; i < n; i++) block(c * t, ch(outC), i === 0 ? s : 1);
    }
    const last = Math.max(1280, ch(1280));
    steps.push({ op: 'pointwise', h, w: h, inC: c, outC: last, ...conv(last, c) });
    c = last;
    steps.push({ op: 'mean', h, w: h, channels: c, params: { multiplier: 1073741824, shift: 0, inputZeroPoint: -128, outputZeroPoint: -128 } });
  }
  steps.push({ op: 'fc', inC: c, outC: 1001, ...conv(1001, c, false) });
  steps.push({ op: 'softmax', n: 1001, params: { inputMultiplier: 1717986918, inputLeftShift: 26, diffMin: -248 } });
  return steps;
}

function sizes(s) {
  switch (s.op) {
    case 'conv2d': return [s.inH * s.inW * s.inC, s.outH * s.outW * s.outC, s.outH * s.outW * s.outC * 27];
    case 'bottleneck': {
      const d = s.depthwise;
      const inC = s.expand ? s.expand.inC : d.channels;
      const macs = (s.expand ? d.inH * d.inW * inC * d.channels : 0) + d.outH * d.outW * 9 * d.channels + d.outH * d.outW * d.channels * s.project.outC;
      return [d.inH * d.inW * inC, d.outH * d.outW * s.project.outC, macs];
    }
    case 'pointwise': return [s.h * s.w * s.inC, s.h * s.w * s.outC, s.h * s.w * s.inC * s.outC];
    case 'avgpool': case 'mean': return [s.h * s.w * s.channels, s.channels, 0];
    case 'fc': return [s.inC, s.outC, s.inC * s.outC];
    default: return [s.n, s.n, 0];
  }
}

/** Steps placed at the two ends of the arena, as the planner does: each output opposite its input. */
function plan(steps) {
  const arena = Math.max(...steps.map((s) => sizes(s)[0] + sizes(s)[1]));
  let at = 0;
  const placed = steps.map((s) => {
    const output = at === 0 ? arena - sizes(s)[1] : 0;
    const step = { ...s, input: at, output };
    at = output;
    return step;
  });
  const q = { type: 'uint8', scale: 1 / 128, zeroPoint: 0 };
  const first = placed[0];
  return {
    dtype: 'int8', inputH: first.inH, inputW: first.inW, inputC: 3, input: 0, inputQuant: q,
    output: placed.at(-1).output, outputSize: 1001, outputQuant: q, arenaBytes: arena, steps: placed,
  };
}

const loaded = loadAddon();
if ('error' in loaded) throw loaded.error;
const steps = network(opts.arch, Number(opts.size), Number(opts.alpha));
const qplan = plan(steps);
const macs = steps.map((s) => sizes(s)[2]);
const totalMacs = macs.reduce((a, b) => a + b, 0);
const isas = opts.isa ? opts.isa.split(',') : loaded.addon.supportedIsas('int8').filter((isa) => isa !== 'scalar');
const threads = opts.threads.split(',').map(Number);
const input = bytes(qplan.inputH * qplan.inputW * 3);
const runs = isas.flatMap((isa) => threads.map((t) => ({
  isa, threads: t, backend: createNativeInt8Backend(qplan, { isa, threads: t }), times: [], best: new Float64Array(steps.length).fill(Infinity),
})));

console.log(`${cpuModel()}; MobileNet ${opts.arch} ${opts.alpha} ${opts.size}, random int8 QPlan: ${(totalMacs / 1e6).toFixed(1)} M MACs, arena ${qplan.arenaBytes} B`);
for (const r of runs) for (let i = 0; i < 10; i++) await r.backend.run(input);
for (let round = 0; round < Number(opts.rounds); round++) {
  for (const r of runs) {
    for (let i = 0; i < Number(opts.runs); i++) {
      const t = performance.now();
      await r.backend.run(input);
      r.times.push(performance.now() - t);
    }
    const p = await r.backend.profile(input);
    p.forEach((ms, i) => { r.best[i] = Math.min(r.best[i], ms); });
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
for (const r of runs) {
  const m = median(r.times);
  console.log(`${r.isa.padEnd(10)} ${r.threads} thread(s): median ${m.toFixed(3)} ms (${(totalMacs / m / 1e6).toFixed(0)} GMAC/s), ` +
    `best ${Math.min(...r.times).toFixed(3)} ms, sum of best steps ${r.best.reduce((a, b) => a + b, 0).toFixed(3)} ms, ` +
    `activation ${r.backend.activationBytes} B`);
}
if (opts.steps) {
  for (const r of runs) {
    console.log(`\n${r.isa}, ${r.threads} thread(s): best time of each step (ms, GMAC/s)`);
    steps.forEach((s, i) => {
      const what = s.op === 'bottleneck'
        ? `${s.depthwise.inH}x${s.depthwise.inW}x${s.expand ? s.expand.inC : s.depthwise.channels}>${s.depthwise.channels}>${s.project.outC} s${s.depthwise.stride}${s.residual ? ' +add' : ''}`
        : s.op;
      console.log(`${String(i).padStart(3)} ${what.padEnd(28)} ${r.best[i].toFixed(4)} ${macs[i] ? (macs[i] / r.best[i] / 1e6).toFixed(0) : ''}`);
    });
  }
}
for (const r of runs) r.backend.dispose();
