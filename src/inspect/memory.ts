// Activation memory of two ways to run the same layers: layer by layer (every op writes its whole
// output as a tensor of its own, as an interpreter without fusion does) and the fused plan our engine
// runs (planModel: one step per v1 depthwise-separable pair or v2 bottleneck, two live tensors).
import type { Plan } from '../engine/plan.js';
import type { Layer } from '../model/spec.js';
import { elements, type LayerCost } from './layers.js';

export const FP32_BYTES = 4;
export const INT8_BYTES = 1;

/**
 * Most elements alive at once while a layer runs layer by layer: an op's inputs and output, plus the
 * block input a residual add still needs. A tensor is freed once its last reader has run. A bottleneck
 * is its ops in turn: [1×1 expand] → depthwise → 1×1 project [→ add, into a new tensor].
 */
export function layerByLayerElements(layer: Layer, cost: LayerCost): number {
  const input = elements(cost.input);
  const output = elements(cost.output);
  if (layer.type !== 'bottleneck') return input + output;
  const [inH, inW] = cost.input;
  const [outH, outW] = cost.output;
  const expanded = layer.expand ? inH * inW * layer.expandC : input;
  const filtered = outH * outW * layer.expandC;
  const projected = output;
  // The block input stays alive until the add when there is one; without expansion it is what the
  // depthwise reads, so it is counted there anyway.
  const held = layer.residual && layer.expand ? input : 0;
  const opLive = [
    layer.expand ? input + expanded : 0,
    held + expanded + filtered,
    (layer.residual ? input : 0) + filtered + projected,
    layer.residual ? input + projected + output : 0,
  ];
  return Math.max(...opLive);
}

/**
 * Elements the fused plan's arena holds while each layer runs: the input + output of the plan step
 * that executes it (a v1 depthwise + pointwise pair is one step: both layers show that step's pair).
 * Returns one value per layer and the index of the step each layer belongs to.
 */
export function fusedElements(layers: readonly Layer[], costs: readonly LayerCost[], plan: Plan): { live: number[]; step: number[] } {
  const live: number[] = [];
  const step: number[] = [];
  let index = 0;
  plan.steps.forEach((planStep, stepIndex) => {
    // The planner runs a depthwise layer followed by a pointwise one as a single bottleneck step.
    const covers = planStep.op === 'bottleneck' && layers[index]?.type === 'depthwise' ? 2 : 1;
    const last = index + covers - 1;
    if (last >= costs.length) throw new Error(`plan step ${stepIndex} (${planStep.op}) has no layer left to run`);
    const pair = elements(costs[index].input) + elements(costs[last].output);
    for (; index <= last; index++) {
      live.push(pair);
      step.push(stepIndex);
    }
  });
  if (index !== costs.length) throw new Error(`the plan's ${plan.steps.length} steps cover ${index} of ${costs.length} layers`);
  return { live, step };
}

/**
 * Bytes of the int8 arena: the int8 planner (src/engine/int8/planner.ts) lays a QPlan out on this same
 * fused schedule with one byte per element, so its arenaBytes is the fp32 plan's element count.
 */
export function int8ArenaBytes(plan: Plan): number {
  return plan.arenaSize * INT8_BYTES;
}
