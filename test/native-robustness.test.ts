// The addon under stress and misuse: runs queue on the model's own thread (libuv's pool stays free),
// the pool's workers hot during a run and parked after it, dispose() with runs queued, processes exit with idle models, invalid MOBILENET_ISA / isa values,
// plans asking for absurd sizes, and out-of-memory / thread-limit failures (in child processes under
// a lowered RLIMIT_AS) all end as JS errors, never as a crash or a hang.
import { execFileSync, spawnSync } from 'node:child_process';
import { pbkdf2 } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createNativeBackend, loadAddon } from '../src/engine/native.js';
import type { Plan } from '../src/engine/plan.js';
import { runPlan } from '../src/engine/reference/run.js';
import { randomArray, seededRandom } from '../src/model/random-model.js';
import { conv2dStep, fcPlan, multiStepPlan, pointwisePlan, pointwiseStep, singleStepPlan, softmaxPlan } from './helpers/random-plan.js';

const loaded = loadAddon();
if ('error' in loaded) throw loaded.error;
const { addon } = loaded;
const ISAS = addon.supportedIsas();
const isa = ISAS[0];

/** The file loadAddon() loaded, for child processes. */
const ADDON_FILE = Object.keys(createRequire(import.meta.url).cache).find((k) => k.endsWith('.node'))!;

const inputFor = (plan: Plan, seed = 1) =>
  randomArray(seededRandom(seed), plan.inputH * plan.inputW * plan.inputC);

const sameBytes = (a: Float32Array, b: Float32Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/**
 * 28x28x32 -> pointwise 1024 -> pointwise 1536 -> avgpool: 1.26 G multiply-adds a run (10-30 ms with
 * SIMD kernels), but only 100 KB of input to copy when queueing and 6 KB of output: the queue
 * fills in a moment, long before the first run ends.
 */
function slowPlan(): Plan {
  const a = pointwiseStep({ h: 28, w: 28, inC: 32, outC: 1024, act: 1, seed: 5 });
  const b = pointwiseStep({ h: 28, w: 28, inC: 1024, outC: 1536, act: 2, seed: 6, gain: 6 });
  const n0 = 28 * 28 * 32, n1 = 28 * 28 * 1024, n2 = 28 * 28 * 1536;
  return {
    inputH: 28, inputW: 28, inputC: 32, input: 0, output: 0, outputSize: 1536, arenaSize: n0 + n1 + n2,
    steps: [
      { ...a, input: 0, output: n0 },
      { ...b, input: n0, output: n0 + n1 },
      { op: 'avgpool', h: 28, w: 28, channels: 1536, input: n0 + n1, output: 0 },
    ],
  };
}

/**
 * Runs `script` (CommonJS) in a child Node with the addon at `addon` and the tiny-plan helper
 * `plan(arenaSize?)` in scope; returns its exit status, stdout and stderr. A hang is a failure.
 */
function child(script: string, args: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const prelude = `
    const addon = require(${JSON.stringify(ADDON_FILE)});
    const plan = (arena = 8) => ({ inputH: 1, inputW: 1, inputC: 4, input: 0, output: 4, outputSize: 4,
      arenaSize: arena, steps: [{ op: 'softmax', n: 4, input: 0, output: 4 }] });
    const big = () => { const n = 28 * 28 * 32, m = 28 * 28 * 2048;      // 1.6 G multiply-adds a run
      return { inputH: 28, inputW: 28, inputC: 32, input: 0, output: n, outputSize: m, arenaSize: n + m,
        steps: [{ op: 'pointwise', h: 28, w: 28, inC: 32, outC: 2048, act: 1, input: 0, output: n,
          weights: new Float32Array(2048 * 32).fill(0.01), bias: new Float32Array(2048) }] }; };
  `;
  const r = spawnSync(process.execPath, [...args, '-e', prelude + script], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, MOBILENET_ISA: '' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr + (r.error ? String(r.error) : '') };
}

describe('native addon: own executor, not the libuv pool', () => {
  it('16 queued inferences leave the libuv pool free (fs, crypto finish first)', async () => {
    const plan = slowPlan();
    const model = new addon.Model(plan, { isa, threads: 1 });
    try {
      const input = inputFor(plan);
      await model.run(input); // warm
      const start = performance.now();
      let done = 0;
      const runs = Array.from({ length: 16 }, () => model.run(input).then(() => { done++; }));
      // More pool tasks than libuv has threads (4): all of them must get a thread.
      const self = fileURLToPath(import.meta.url);
      const poolWork = Promise.all([
        ...Array.from({ length: 6 }, (_, i) => new Promise<void>((resolve, reject) => {
          pbkdf2('secret', `salt${i}`, 1, 32, 'sha256', (err) => (err ? reject(err) : resolve()));
        })),
        readFile(self), readFile(self),
      ]);
      await poolWork;
      const poolMs = performance.now() - start;
      const doneAtPool = done;
      await Promise.all(runs);
      const allMs = performance.now() - start;
      // With the inferences parked in libuv's threads (AsyncWorker waiting on a model mutex), the
      // pool work queued behind them and always waited for >= 13 to finish. Now it waits for none;
      // the margin is for a loaded machine that schedules the pool threads late.
      expect(doneAtPool, `${doneAtPool} inferences done when the pool work finished (${poolMs.toFixed(1)} of ${allMs.toFixed(1)} ms)`)
        .toBeLessThanOrEqual(8);
    } finally {
      model.dispose();
    }
  }, 60_000);

  it('runs in call order, each with its own answer, also run/profile mixed', async () => {
    const plan = pointwisePlan({ h: 9, w: 7, inC: 33, outC: 47, act: 2, seed: 3, gain: 6 });
    const model = new addon.Model(plan, { isa, threads: 2 });
    try {
      const order: number[] = [];
      const inputs = Array.from({ length: 12 }, (_, i) => inputFor(plan, i + 1));
      const work = inputs.map((input, i) => (i % 3 === 2
        ? model.profile(input).then((ms) => { order.push(i); expect(ms.length).toBe(1); return null; })
        : model.run(input).then((out) => { order.push(i); return out; })));
      const outs = await Promise.all(work);
      expect(order).toEqual(inputs.map((_, i) => i));
      outs.forEach((out, i) => {
        if (out === null) return;
        const want = runPlan(plan, inputs[i]);
        for (let j = 0; j < want.length; j++) expect(Math.abs(out[j] - want[j])).toBeLessThan(1e-4);
      });
    } finally {
      model.dispose();
    }
  });
});

// The pool keeps its workers spinning during a run and parks them after it (native/thread_pool.h):
// every mix of hot, still-spinning and parked workers must give the same bits, never lose a
// wake-up (a hang), and an idle model must not keep a core busy.
describe('native addon: thread pool waiting policy', () => {
  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  const idleCpuMs = async (ms: number) => {
    const before = process.cpuUsage();
    await sleep(ms);
    const used = process.cpuUsage(before);
    return (used.user + used.system) / 1000;
  };

  it('the same output whether the workers are hot, spinning or parked between runs (2, 3 and cores + 1 threads)', async () => {
    const plan = multiStepPlan(11);
    const big = pointwisePlan({ h: 28, w: 28, inC: 64, outC: 96, act: 2, seed: 9, gain: 4 });
    // Pauses between runs: none (queued), a macrotask (workers still spinning), longer than the
    // idle spin (parked), well past it.
    const pauses = [0, -1, 0.2, 1, 3, 0, -1, 6];
    for (const threads of [2, 3, availableParallelism() + 1]) {
      for (const p of [plan, big]) {
        const model = new addon.Model(p, { isa, threads });
        try {
          const input = inputFor(p, threads);
          const want = await model.run(input);
          const queued = [model.run(input), model.run(input), model.run(input)];
          for (const out of await Promise.all(queued)) expect(sameBytes(out, want)).toBe(true);
          for (let i = 0; i < 40; i++) {
            const pause = pauses[i % pauses.length];
            if (pause < 0) await new Promise<void>((resolve) => setImmediate(resolve));
            else if (pause > 0) await sleep(pause);
            expect(sameBytes(await model.run(input), want), `threads ${threads}, run ${i} after a pause of ${pause} ms`).toBe(true);
          }
        } finally {
          model.dispose();
        }
      }
    }
  }, 60_000);

  it('two models run at once, each on its own pool', async () => {
    const a = pointwisePlan({ h: 28, w: 28, inC: 64, outC: 96, act: 2, seed: 9, gain: 4 });
    const b = multiStepPlan(5);
    const ma = new addon.Model(a, { isa, threads: 2 });
    const mb = new addon.Model(b, { isa, threads: 2 });
    try {
      const ia = inputFor(a, 1), ib = inputFor(b, 2);
      const wa = await ma.run(ia), wb = await mb.run(ib);
      for (let i = 0; i < 20; i++) {
        const [oa, ob] = await Promise.all([ma.run(ia), mb.run(ib)]);
        expect(sameBytes(oa, wa) && sameBytes(ob, wb)).toBe(true);
      }
    } finally {
      ma.dispose();
      mb.dispose();
    }
  });

  it('an idle model keeps no core busy: its workers park ~0.1 ms after a run', async () => {
    const plan = pointwisePlan({ h: 28, w: 28, inC: 64, outC: 96, act: 2, seed: 9, gain: 4 });
    const model = new addon.Model(plan, { isa, threads: 2 });
    try {
      const input = inputFor(plan);
      for (let i = 0; i < 5; i++) await model.run(input);
      await sleep(10);
      // A worker spinning through the pause would show ~200 ms here; parked workers next to nothing
      // (the margin is for this process's own timers and garbage collection).
      const used = await idleCpuMs(200);
      expect(used, `${used.toFixed(1)} ms of CPU time in 200 ms idle`).toBeLessThan(40);
    } finally {
      model.dispose();
    }
  });
});

describe('native addon: dispose', () => {
  it('rejects the queued runs ("model disposed"), lets the running one finish, then refuses runs', async () => {
    const plan = slowPlan();
    const model = new addon.Model(plan, { isa, threads: 1 });
    const input = inputFor(plan);
    const want = await model.run(input);
    const runs = Array.from({ length: 16 }, () => model.run(input).then(
      (out) => ({ out }),
      (error: Error) => ({ error }),
    ));
    // Dispose as the first run's answer arrives: by then the executor is on the next one.
    await runs[0];
    model.dispose();
    model.dispose(); // twice is harmless
    const results = await Promise.all(runs);
    const finished = results.filter((r) => 'out' in r).length;
    expect(finished).toBeGreaterThanOrEqual(1);
    results.forEach((r, i) => {
      if (i < finished) expect('out' in r && sameBytes(r.out, want), `run ${i}`).toBe(true); // the first ones
      else expect('error' in r && r.error.message, `run ${i}`).toMatch(/^mobilenet native: model disposed/);
    });
    expect(16 - finished).toBeGreaterThanOrEqual(8);
    expect(() => model.run(input)).toThrow(/disposed/);
    expect(() => model.profile(input)).toThrow(/disposed/);
  }, 60_000);

  it('the process exits: after dispose with runs queued, with an idle model never disposed, with a collected model', () => {
    const r = child(`
      (async () => {
        const x = new Float32Array([1, 2, 3, 4]);
        const a = new addon.Model(big(), { threads: 2 });
        const queued = Array.from({ length: 8 }, () => a.run(new Float32Array(28 * 28 * 32)));
        a.dispose();                          // at most the first run is under way
        const settled = await Promise.allSettled(queued);
        const rejected = settled.filter((s) => s.status === 'rejected' && /model disposed/.test(s.reason.message)).length;
        const b = new addon.Model(plan(), { threads: 2 });
        await b.run(x);                       // b stays alive, idle, never disposed
        let c = new addon.Model(plan(), { threads: 2 });
        const pending = c.run(x);
        c = null;
        global.gc();                          // the wrapper goes; its queued run still settles
        const out = await pending;
        console.log(JSON.stringify({ rejected, sum: out.reduce((s, v) => s + v, 0) }));
      })();
    `, ['--expose-gc']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { rejected: number; sum: number };
    expect(out.rejected).toBeGreaterThanOrEqual(7);
    expect(out.sum).toBeCloseTo(1, 5);
  });

  it('the wrapper turns synchronous throws into rejections', async () => {
    const plan = softmaxPlan(5);
    const backend = createNativeBackend(plan, { isa });
    const bad = backend.run(new Float32Array(4));
    await expect(bad).rejects.toThrow(TypeError);
    await expect(backend.profile(new Float64Array(5) as unknown as Float32Array)).rejects.toThrow(TypeError);
    expect((await backend.run(inputFor(plan))).length).toBe(5);
    backend.dispose();
    await expect(backend.run(inputFor(plan))).rejects.toThrow(/disposed/);
  });
});

describe('native addon: instruction set selection', () => {
  const withIsaEnv = <T>(value: string, f: () => T): T => {
    const saved = process.env.MOBILENET_ISA;
    process.env.MOBILENET_ISA = value;
    try {
      return f();
    } finally {
      if (saved === undefined) delete process.env.MOBILENET_ISA;
      else process.env.MOBILENET_ISA = saved;
    }
  };
  const valid = ISAS.join(', ');
  // MOBILENET_ISA caps the fp32 and the int8 kernel tables: it takes the names of both.
  const int8Isas = addon.supportedIsas('int8');
  const validEnv = ['avx512vnni', 'avx512', 'avx2', 'neon-dot', 'neon', 'scalar']
    .filter((name) => ISAS.includes(name) || int8Isas.includes(name)).join(', ');

  it('an unknown MOBILENET_ISA is an error listing the valid values', () => {
    withIsaEnv('bogus', () => {
      const message = `MOBILENET_ISA='bogus' is not a known instruction set (valid on this CPU: ${validEnv})`;
      expect(() => addon.supportedIsas()).toThrow(message);
      expect(() => new addon.Model(softmaxPlan(3))).toThrow(message);
      expect(() => createNativeBackend(softmaxPlan(3), {})).toThrow(message);
    });
  });

  it('a MOBILENET_ISA this CPU cannot run is an error listing the valid values', () => {
    const unavailable = ['avx512', 'avx2', 'neon'].find((name) => !ISAS.includes(name));
    if (!unavailable) return; // a CPU with every ISA compiled in: nothing to test
    withIsaEnv(unavailable, () => {
      expect(() => addon.supportedIsas())
        .toThrow(`MOBILENET_ISA='${unavailable}' is not supported on this CPU (valid on this CPU: ${validEnv})`);
      expect(() => new addon.Model(softmaxPlan(3), { isa: 'scalar' })).toThrow(/not supported on this CPU/);
    });
  });

  it('an unknown, unavailable or capped-off isa option is an error listing the valid values', () => {
    expect(() => new addon.Model(softmaxPlan(3), { isa: 'bogus' })).toThrow(`unknown isa 'bogus' (valid: ${valid})`);
    const unavailable = ['avx512', 'avx2', 'neon'].find((name) => !ISAS.includes(name));
    if (unavailable) {
      expect(() => new addon.Model(softmaxPlan(3), { isa: unavailable }))
        .toThrow(`isa '${unavailable}' is not supported on this CPU (valid: ${valid})`);
    }
    if (ISAS.length > 1) {
      withIsaEnv('scalar', () => {
        expect(() => new addon.Model(softmaxPlan(3), { isa: ISAS[0] }))
          .toThrow(`isa '${ISAS[0]}' is disabled by MOBILENET_ISA=scalar (valid: scalar)`);
      });
    }
    withIsaEnv('', () => expect(addon.supportedIsas()).toEqual(ISAS)); // empty: no cap
  });
});

describe('native addon: plans asking for absurd sizes', () => {
  it('arenaSize over the 1 GiB activation limit', () => {
    const plan = softmaxPlan(3);
    plan.arenaSize = 2 ** 31 - 1;
    expect(() => new addon.Model(plan, { isa }))
      .toThrow(/arenaSize 2147483647 floats \(8\.00 GiB\) exceeds the 1 GiB limit on activation memory/);
  });

  it('tensor sizes whose product overflows', () => {
    const plan = conv2dPlanWith({ outH: 2 ** 31 - 1, outW: 2 ** 31 - 1 });
    expect(() => new addon.Model(plan, { isa })).toThrow(/step 0 \(conv2d\).*too large/);
  });

  it('arena + per-thread scratch over the limit, before any thread starts', () => {
    // 3 x 4096 x 64 input, 3x3 conv to 1 channel: 9 MiB of im2col scratch per thread.
    const s = conv2dStep({ h: 3, w: 4096, inC: 64, outC: 1, stride: 1, act: 0, seed: 1 });
    const plan = singleStepPlan(s, [3, 4096, 64], 3 * 4096 * 64, s.outH * s.outW);
    const one = new addon.Model(plan, { isa, threads: 1 });
    one.dispose();
    expect(() => new addon.Model(plan, { isa, threads: 1024 }))
      .toThrow(/activation memory \(arena 3\.0 MiB \+ scratch [\d.]+ GiB for 1024 thread\(s\) \+ zero row\) exceeds the 1 GiB limit/);
  });

  it('packed weights over the 1 GiB weight limit (before packing them)', () => {
    // scalar GEMM panels are 8 outputs wide: 1 output of 2^25 inputs packs to 8 * (2^25 + 1) floats.
    const plan = fcPlan({ inC: 1, outC: 1, seed: 1 });
    const step = plan.steps[0] as Extract<Plan['steps'][number], { op: 'fc' }>;
    step.inC = 2 ** 25;
    step.weights = new Float32Array(2 ** 25);
    plan.inputC = 2 ** 25;
    step.output = plan.output = 2 ** 25;
    plan.arenaSize = 2 ** 25 + 1;
    expect(() => new addon.Model(plan, { isa: 'scalar' }))
      .toThrow(/step 0 \(fc\): the packed weights need more than the 1 GiB limit on weights/);
  });
});

/** A conv2d plan with some fields overridden (no consistency). */
function conv2dPlanWith(fields: Record<string, number>): Plan {
  const s = conv2dStep({ h: 4, w: 4, inC: 3, outC: 2, stride: 1, act: 0, seed: 1 });
  return singleStepPlan({ ...s, ...fields }, [4, 4, 3], 48, 32);
}

// RLIMIT_AS lowered (soft limit only) in a child process to ~256 MiB above what it maps: large
// allocations and thread stacks then really fail inside the addon.
const hasPrlimit = process.platform === 'linux' && (() => {
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    // util-linux's prlimit is on every Debian/Ubuntu machine; under CI its absence is a failure, not a skip.
    if (process.env.CI) throw new Error('CI is set but prlimit (util-linux) is missing');
    return false;
  }
})();

describe.skipIf(!hasPrlimit)('native addon: out of memory and thread limits (child process, RLIMIT_AS)', () => {
  const lowerLimit = `
    const { execFileSync } = require('node:child_process');
    const vm = Number(/VmSize:\\s+(\\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
    execFileSync('prlimit', ['--pid', String(process.pid), '--as=' + (vm + 256 * 2 ** 20) + ':']);
    const attempt = (f) => { try { f(); return 'no error'; } catch (e) { return e.constructor.name + ': ' + e.message; } };
  `;

  it('std::bad_alloc becomes a JS error naming the allocation', () => {
    const r = child(`${lowerLimit}
      // 800 MB: under the 1 GiB cap, over what the process may map.
      console.log(attempt(() => new addon.Model(plan(200e6))));
      const m = new addon.Model(plan());        // the addon still works afterwards
      m.run(new Float32Array(4)).then((out) => { console.log(out.length); m.dispose(); });
    `);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('Error: mobilenet native: out of memory while allocating the activation arena (762.9 MiB)\n4\n');
  });

  it('a thread that cannot start: the pool unwinds (no hang, no crash) and it is a JS error', () => {
    const r = child(`${lowerLimit}
      console.log(attempt(() => new addon.Model(plan(), { threads: 512 })));
      const threads = () => Number(/Threads:\\s+(\\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]);
      const before = threads();
      console.log(attempt(() => new addon.Model(plan(), { threads: 512 })));
      console.log(threads() - before);             // the started workers were joined
      const m = new addon.Model(plan(), { threads: 2 });
      m.run(new Float32Array(4)).then((out) => { console.log(out.length); });   // exits without dispose
    `);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^Error: mobilenet native: cannot start 511 worker thread\(s\): Resource temporarily unavailable$/);
    expect(lines[1]).toBe(lines[0]);
    expect(lines.slice(2)).toEqual(['0', '4']);
  });
});
