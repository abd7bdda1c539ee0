// The TypeScript int8 backend: runs a QPlan step by step with the reference ops (ops.ts). It is the
// oracle the native int8 kernels are tested against, and the fallback where the addon cannot load.
import type { Int8Backend } from './backend.js';
import * as ops from './ops.js';
import { qStepOutputSize, type QPlan, type QStep } from './plan.js';

function runStep(step: QStep, arena: Int8Array): void {
  const input = arena.subarray(step.input);
  const output = arena.subarray(step.output);
  switch (step.op) {
    case 'conv2d': return ops.conv2d(step, input, output);
    case 'depthwise': return ops.depthwise(step, input, output);
    case 'pointwise': return ops.pointwise(step, input, output);
    case 'bottleneck': return ops.bottleneck(step, input, output);
    case 'avgpool': return ops.avgpool(step, input, output);
    case 'mean': return ops.mean(step, input, output);
    case 'fc': return ops.fc(step, input, output);
    case 'softmax': return ops.softmax(step.params, input, output, step.n);
  }
}

/**
 * Runs the plan (its first `steps` steps) on `input` (storage domain) and returns a copy of the
 * output tensor of the last step run.
 */
export function runQPlan(plan: QPlan, input: Int8Array, onStep?: (index: number) => void, steps = plan.steps.length): Int8Array {
  const size = plan.inputH * plan.inputW * plan.inputC;
  if (!(input instanceof Int8Array) || input.length !== size) {
    throw new TypeError(`input must be an Int8Array of ${size} values (${plan.inputH}×${plan.inputW}×${plan.inputC})`);
  }
  if (!Number.isInteger(steps) || steps < 1 || steps > plan.steps.length) {
    throw new RangeError(`steps must be an integer from 1 to ${plan.steps.length}, got ${steps}`);
  }
  const arena = new Int8Array(plan.arenaBytes);
  arena.set(input, plan.input);
  for (let index = 0; index < steps; index++) {
    runStep(plan.steps[index]!, arena);
    onStep?.(index);
  }
  const last = plan.steps[steps - 1]!;
  return arena.slice(last.output, last.output + qStepOutputSize(last));
}

export function createReferenceInt8Backend(plan: QPlan): Int8Backend {
  let disposed = false;
  const alive = () => {
    if (disposed) throw new Error('the model was disposed');
  };
  return {
    name: 'reference',
    isa: 'js',
    threads: 1,
    activationBytes: plan.arenaBytes,
    run: async (input, steps) => {
      alive();
      return runQPlan(plan, input, undefined, steps);
    },
    profile: async (input) => {
      alive();
      const times = new Float64Array(plan.steps.length);
      let start = performance.now();
      runQPlan(plan, input, (index) => {
        const now = performance.now();
        times[index] = now - start;
        start = now;
      });
      return times;
    },
    dispose: () => {
      disposed = true;
    },
  };
}
