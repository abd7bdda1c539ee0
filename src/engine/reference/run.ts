import type { Plan, Step } from '../plan.js';
import * as ops from './ops.js';

/** Floats a step reads and writes, to cut arena views of the right length. */
export function stepSizes(step: Step): { inSize: number; outSize: number } {
  switch (step.op) {
    case 'conv2d':
      return { inSize: step.inH * step.inW * step.inC, outSize: step.outH * step.outW * step.outC };
    case 'depthwise':
      return { inSize: step.inH * step.inW * step.channels, outSize: step.outH * step.outW * step.channels };
    case 'pointwise':
      return { inSize: step.h * step.w * step.inC, outSize: step.h * step.w * step.outC };
    case 'bottleneck':
      return { inSize: step.inH * step.inW * step.inC, outSize: step.outH * step.outW * step.outC };
    case 'avgpool':
      return { inSize: step.h * step.w * step.channels, outSize: step.channels };
    case 'fc':
      return { inSize: step.inC, outSize: step.outC };
    case 'softmax':
      return { inSize: step.n, outSize: step.n };
  }
}

export function runStep(step: Step, arena: Float32Array): void {
  const { inSize, outSize } = stepSizes(step);
  const input = arena.subarray(step.input, step.input + inSize);
  const output = arena.subarray(step.output, step.output + outSize);
  switch (step.op) {
    case 'conv2d': return ops.conv2d(step, input, output);
    case 'depthwise': return ops.depthwise(step, input, output);
    case 'pointwise': return ops.pointwise(step, input, output);
    case 'bottleneck': return ops.bottleneck(step, input, output);
    case 'avgpool': return ops.avgpool(step, input, output);
    case 'fc': return ops.fc(step, input, output);
    case 'softmax': return ops.softmax(step, input, output);
  }
}

/**
 * Runs the plan on one input tensor and returns a copy of its output; with `steps`, runs only the
 * first `steps` steps and returns a copy of the last one's output.
 */
export function runPlan(plan: Plan, input: Float32Array, steps = plan.steps.length): Float32Array {
  const expected = plan.inputH * plan.inputW * plan.inputC;
  if (input.length !== expected) throw new TypeError(`input has ${input.length} values, the model takes ${expected}`);
  if (!Number.isInteger(steps) || steps < 1 || steps > plan.steps.length) {
    throw new RangeError(`steps must be an integer from 1 to ${plan.steps.length}, got ${steps}`);
  }
  const arena = new Float32Array(plan.arenaSize);
  arena.set(input, plan.input);
  for (let i = 0; i < steps; i++) runStep(plan.steps[i]!, arena);
  if (steps === plan.steps.length) return arena.slice(plan.output, plan.output + plan.outputSize);
  const last = plan.steps[steps - 1]!;
  return arena.slice(last.output, last.output + stepSizes(last).outSize);
}
