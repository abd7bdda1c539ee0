// The native int8 kernels in both requantization schemes on one real model: TFLite's fixed point
// ('tflite', the default) and XNNPACK's float32 scales ('xnnpack', LiteRT.js's arithmetic), chosen by
// createEngine's int8Rounding option. Per-step times (the QPlan's steps, as bench --profile's layer
// table) and whole runs, the two engines alternating run by run in this one process (absolute times
// drift with the machine's load; compare the ratios).
//   npm run build && node bench/int8-rounding.mjs [--model ../shared/models/mobilenet_v2_1.0_224_quant.tflite]
//     [--threads 1] [--runs 50] [--isa avx2]
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { createEngine } from '../dist/engine/index.js';
import { parseTflite } from '../dist/tflite/index.js';
import { cpuModel } from './machine.mjs';

const { values: opts } = parseArgs({
  options: {
    model: { type: 'string', default: new URL('../../shared/models/mobilenet_v2_1.0_224_quant.tflite', import.meta.url).pathname },
    threads: { type: 'string', default: '1' },
    runs: { type: 'string', default: '50' },
    isa: { type: 'string' },
  },
});
const runs = Number(opts.runs);
const bytes = new Uint8Array(readFileSync(opts.model));
const SCHEMES = ['tflite', 'xnnpack'];
const engines = SCHEMES.map((int8Rounding) =>
  createEngine(parseTflite(bytes, opts.model), {
    precision: 'int8', backend: 'native', threads: Number(opts.threads), isa: opts.isa, int8Rounding,
  }).backend);

let seed = 7;
const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
const { qplan } = engines[0];
const input = Float32Array.from({ length: qplan.inputH * qplan.inputW * qplan.inputC }, () => random() * 2 - 1);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const shape = (s) => {
  switch (s.op) {
    case 'conv2d': return `${s.inH}×${s.inW}×${s.inC} → ${s.outC} /${s.stride}`;
    case 'bottleneck': return `${s.depthwise.inH}×${s.depthwise.inW}×${s.expand?.inC ?? s.depthwise.channels} → ${s.depthwise.channels} → ${s.project.outC} /${s.depthwise.stride}${s.residual ? ' +' : ''}`;
    case 'pointwise': return `${s.h}×${s.w}×${s.inC} → ${s.outC}`;
    case 'fc': return `${s.inC} → ${s.outC}`;
    case 'mean': case 'avgpool': return `${s.h}×${s.w}×${s.channels}`;
    default: return `${s.n ?? ''}`;
  }
};

try {
  for (let i = 0; i < 10; i++) for (const e of engines) await e.run(input);
  const whole = engines.map(() => []);
  const steps = engines.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [k, e] of engines.entries()) {
      const start = performance.now();
      await e.run(input);
      whole[k].push(performance.now() - start);
      steps[k].push(await e.profile(input));
    }
  }
  console.log(`${basename(opts.model)}, ${cpuModel()}, isa ${engines[0].isa}, ${opts.threads} thread(s), ${runs} alternating runs`);
  console.log(`step  op          shape                               ${SCHEMES.map((s) => s.padStart(10)).join('')}   ratio`);
  const sums = SCHEMES.map(() => 0);
  for (const [index, step] of qplan.steps.entries()) {
    const ms = steps.map((samples) => median(samples.map((t) => t[index])));
    ms.forEach((m, k) => (sums[k] += m));
    console.log(`${String(index).padStart(4)}  ${step.op.padEnd(10)}  ${shape(step).padEnd(34)}  ${ms.map((m) => m.toFixed(3).padStart(10)).join('')}   ${(ms[1] / ms[0]).toFixed(2)}`);
  }
  console.log(`step medians summed (ms)                                  ${sums.map((m) => m.toFixed(3).padStart(10)).join('')}   ${(sums[1] / sums[0]).toFixed(2)}`);
  const med = whole.map(median);
  console.log(`whole run, median (ms)                                    ${med.map((m) => m.toFixed(3).padStart(10)).join('')}   ${(med[1] / med[0]).toFixed(2)}`);
} finally {
  for (const e of engines) e.dispose();
}
