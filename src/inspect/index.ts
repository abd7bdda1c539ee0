// `mobilenet inspect` as a library: the cost of a MobileNet layer by layer (shapes, parameters,
// multiply-adds, activation memory), what depthwise separation saves over standard convolutions,
// and the peak activation memory of a layer-by-layer schedule beside the fused plan our engine runs.
// Pure: it reads the spec and the plan (weights are counted, never decoded) and starts nothing.
import type { Plan } from '../engine/plan.js';
import { planModel } from '../engine/planner.js';
import type { Arch, ModelSpec } from '../model/spec.js';
import { layerCosts, type LayerCost } from './layers.js';
import { FP32_BYTES, fusedElements, int8ArenaBytes, INT8_BYTES, layerByLayerElements } from './memory.js';
import { separableBlocks, type Cost, type SeparableBlock } from './separable.js';

export type { TensorShape, LayerCost } from './layers.js';
export type { Cost, SeparableBlock } from './separable.js';

/** A started backend's activation memory (Backend: name, isa, threads, activationBytes). */
export interface EngineMemory {
  backend: string;
  isa: string;
  threads: number;
  /** The arena plus the kernels' own scratch. */
  activationBytes: number;
}

export interface InspectedLayer extends LayerCost {
  /** fp32 bytes alive while the layer runs, in each schedule (see Inspection.counting.activations). */
  activationBytes: { layerByLayer: number; fusedPlan: number };
  /** The engine's plan step that runs this layer. */
  planStep: number;
}

export interface Inspection {
  model: { source: string; arch: Arch; alpha: number; resolution: number; classes: number };
  /** What each figure counts, in words. */
  counting: { parameters: string; multiplyAdds: string; activations: string };
  layers: InspectedLayer[];
  totals: Cost;
  separable: {
    blocks: SeparableBlock[];
    /** The same network with every depthwise-separable pair replaced by its standard convolution. */
    standardNetwork: Cost;
    /** standardNetwork ÷ totals. */
    factor: Cost;
  };
  memory: {
    layerByLayer: { fp32: number; int8: number; peakLayer: number };
    /** int8: the QPlan's arena (the same fused schedule, 1 byte an element). */
    fusedPlan: { fp32: number; int8: number; peakStep: number };
    engine: EngineMemory | null;
  };
}

export interface InspectOptions {
  /** What the model is, for the report: a file path, a model name, or 'architecture'. */
  source: string;
  /** The plan the engine runs (default: planModel(spec)). */
  plan?: Plan;
  /** The started engine's memory, if one was started. */
  engine?: EngineMemory;
}

const sum = (values: number[]): number => values.reduce((total, value) => total + value, 0);

function counting(classes: number): Inspection['counting'] {
  return {
    parameters: `weights + biases of every convolution and of the ${classes}-way classifier, BatchNorm folded into them `
      + '(as the model files store them)',
    multiplyAdds: 'convolutions (standard, depthwise, pointwise) and the classifier; pooling, residual adds, biases, '
      + 'activations and softmax count none',
    activations: 'bytes of the tensors alive at once. Layer by layer: every op (a bottleneck is expand, depthwise, '
      + 'project, add) writes its output as a tensor of its own, freed after its last reader, a residual input kept '
      + 'until its add. Fused plan: the arena of the plan our engine runs, input + output of each step. fp32 4 bytes, '
      + 'int8 1 byte an element. Engine: the running backend\'s arena plus its kernels\' scratch (fp32)',
  };
}

export function inspectModel(spec: ModelSpec, options: InspectOptions): Inspection {
  const plan = options.plan ?? planModel(spec);
  const costs = layerCosts(spec);
  const layerByLayer = costs.map((cost, i) => layerByLayerElements(spec.layers[i], cost));
  const fused = fusedElements(spec.layers, costs, plan);
  const layers = costs.map((cost, i) => ({
    ...cost,
    activationBytes: { layerByLayer: layerByLayer[i] * FP32_BYTES, fusedPlan: fused.live[i] * FP32_BYTES },
    planStep: fused.step[i],
  }));

  const totals = { parameters: sum(costs.map((c) => c.parameters)), multiplyAdds: sum(costs.map((c) => c.multiplyAdds)) };
  const blocks = separableBlocks(spec.layers, costs);
  const standardNetwork = {
    parameters: totals.parameters + sum(blocks.map((b) => b.standard.parameters - b.separable.parameters)),
    multiplyAdds: totals.multiplyAdds + sum(blocks.map((b) => b.standard.multiplyAdds - b.separable.multiplyAdds)),
  };

  const layerPeak = Math.max(...layerByLayer);
  const planPeak = fused.live.indexOf(plan.arenaSize);
  if (planPeak < 0) throw new Error(`no step of the plan holds its arena of ${plan.arenaSize} elements`);
  return {
    model: { source: options.source, arch: spec.arch, alpha: spec.alpha, resolution: spec.resolution, classes: spec.numClasses },
    counting: counting(spec.numClasses),
    layers,
    totals,
    separable: {
      blocks,
      standardNetwork,
      factor: {
        parameters: standardNetwork.parameters / totals.parameters,
        multiplyAdds: standardNetwork.multiplyAdds / totals.multiplyAdds,
      },
    },
    memory: {
      layerByLayer: { fp32: layerPeak * FP32_BYTES, int8: layerPeak * INT8_BYTES, peakLayer: layerByLayer.indexOf(layerPeak) },
      fusedPlan: {
        fp32: plan.arenaSize * FP32_BYTES,
        int8: int8ArenaBytes(plan),
        peakStep: fused.step[planPeak],
      },
      engine: options.engine ?? null,
    },
  };
}
