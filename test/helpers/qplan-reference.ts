// Runs a QPlan with the TypeScript integer reference (src/engine/int8/ops.ts), step by step on a
// byte arena: what the native int8 kernels must reproduce bit for bit.
import type { QPlan } from '../../src/engine/int8/plan.js';
import * as ops from '../../src/engine/int8/ops.js';
import { stepSizes } from './random-qplan.js';

export function runQPlanReference(plan: QPlan, input: Int8Array): Int8Array {
  const arena = new Int8Array(plan.arenaBytes);
  arena.set(input, plan.input);
  for (const step of plan.steps) {
    const { inSize, outSize } = stepSizes(step);
    const src = arena.subarray(step.input, step.input + inSize);
    const dst = arena.subarray(step.output, step.output + outSize);
    switch (step.op) {
      case 'conv2d':
        ops.conv2d(step, src, dst);
        break;
      case 'depthwise':
        ops.depthwise(step, src, dst);
        break;
      case 'pointwise':
        ops.pointwise(step, src, dst);
        break;
      case 'bottleneck':
        ops.bottleneck(step, src, dst);
        break;
      case 'avgpool':
        ops.avgpool(step, src, dst);
        break;
      case 'mean':
        ops.mean(step, src, dst);
        break;
      case 'fc':
        ops.fc(step, src, dst);
        break;
      case 'softmax':
        ops.softmax(step.params, src, dst, step.n);
        break;
    }
  }
  return arena.slice(plan.output, plan.output + plan.outputSize);
}
