// `mobilenet inspect`: totals against the published figures, the shared models' tensors, hand-computed
// memory of both schedules, the JSON document, and the command as scripts run it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stepMacs, stepParams } from '../src/engine/cost.js';
import { planModel } from '../src/engine/planner.js';
import { inspectModel, type Inspection } from '../src/inspect/index.js';
import { createRandomModel } from '../src/model/random-model.js';
import { encodedWeights, type Arch, type Layer } from '../src/model/spec.js';
import { parseTflite } from '../src/tflite/index.js';
import { readModel } from '../src/tflite/schema.js';
import { runMobilenet } from './helpers/child.js';
import { planQuantized } from '../src/engine/int8/planner.js';
import { MODELS_DIR, modelPath, requireShared, SHARED_MODELS } from './helpers/shared.js';

const haveShared = requireShared();

const inspectTables = (arch: Arch, alpha: number, resolution: number, numClasses = 1000): Inspection =>
  inspectModel(createRandomModel({ arch, alpha, resolution, numClasses }), { source: 'architecture' });

/** |measured / published − 1|. */
const deviation = (measured: number, published: number) => Math.abs(measured / published - 1);

describe('totals against the published figures (224 × 224 unless said, 1000 classes as the papers count)', () => {
  // Howard et al. 2017 (MobileNets): table 4 (v1 and its standard-convolution twin), table 6 (width
  // multipliers), table 7 (resolutions); Sandler et al. 2018 (MobileNetV2), table 4.
  const figures = [
    { arch: 'v1', alpha: 1, resolution: 224, macs: 569e6, params: 4.2e6, source: 'v1 paper, table 4' },
    { arch: 'v1', alpha: 0.75, resolution: 224, macs: 325e6, params: 2.6e6, source: 'v1 paper, table 6' },
    { arch: 'v1', alpha: 0.5, resolution: 224, macs: 149e6, source: 'v1 paper, table 6' },
    { arch: 'v1', alpha: 0.25, resolution: 224, macs: 41e6, source: 'v1 paper, table 6' },
    { arch: 'v1', alpha: 1, resolution: 192, macs: 418e6, params: 4.2e6, source: 'v1 paper, table 7' },
    { arch: 'v1', alpha: 1, resolution: 160, macs: 290e6, params: 4.2e6, source: 'v1 paper, table 7' },
    { arch: 'v1', alpha: 1, resolution: 128, macs: 186e6, params: 4.2e6, source: 'v1 paper, table 7' },
    { arch: 'v1', alpha: 0.5, resolution: 160, macs: 76e6, params: 1.32e6, source: 'v1 paper, table 7' },
    { arch: 'v2', alpha: 1, resolution: 224, macs: 300e6, source: 'v2 paper, table 4' },
  ] as const;
  for (const f of figures) {
    const params = 'params' in f ? `, ${f.params / 1e6} M parameters` : '';
    it(`${f.arch} α ${f.alpha} at ${f.resolution}: ${f.macs / 1e6} M multiply-adds${params} within 1 % (${f.source})`, () => {
      const { totals } = inspectTables(f.arch, f.alpha, f.resolution);
      expect(deviation(totals.multiplyAdds, f.macs)).toBeLessThan(0.01);
      if ('params' in f) expect(deviation(totals.parameters, f.params)).toBeLessThan(0.01);
    });
  }

  it('v1 with standard convolutions: 4866 M multiply-adds and 29.3 M parameters within 1 % (v1 paper, table 4)', () => {
    const { separable } = inspectTables('v1', 1, 224);
    expect(deviation(separable.standardNetwork.multiplyAdds, 4866e6)).toBeLessThan(0.01);
    expect(deviation(separable.standardNetwork.parameters, 29.3e6)).toBeLessThan(0.01);
  });

  // Three parameter figures are printed with too few digits for 1 %: the v1 paper gives 1.3 M for
  // α 0.5 in table 6 and 1.32 M for the same network in table 7; 0.5 M for α 0.25; the v2 paper 3.4 M.
  // No way of counting reaches all three (weights alone: 1.320 M, 0.464 M, 3.470 M). We count weights
  // + biases exactly and hold them to the same networks' finer published figures: table 7's 1.32 M
  // and TF-slim's checkpoint tables (0.47 M for v1 α 0.25, 3.47 M for v2).
  const coarse = [
    { arch: 'v1', alpha: 0.5, exact: 1_326_120, printed: 1.3e6, off: 0.020, finer: 1.32e6 },
    { arch: 'v1', alpha: 0.25, exact: 467_336, printed: 0.5e6, off: 0.065, finer: 0.47e6 },
    { arch: 'v2', alpha: 1, exact: 3_487_816, printed: 3.4e6, off: 0.026, finer: 3.47e6 },
  ] as const;
  for (const c of coarse) {
    it(`${c.arch} α ${c.alpha}: ${c.exact} parameters, ${(c.off * 100).toFixed(1)} % from the printed ${c.printed / 1e6} M, within 1 % of ${c.finer / 1e6} M`, () => {
      const { totals } = inspectTables(c.arch, c.alpha, 224);
      expect(totals.parameters).toBe(c.exact);
      expect(deviation(totals.parameters, c.printed)).toBeCloseTo(c.off, 3);
      expect(deviation(totals.parameters, c.finer)).toBeLessThan(0.01);
    });
  }
});

describe('α and resolution variants', () => {
  // TF-slim's MobileNet v2 checkpoint table (million multiply-adds, million parameters; 1001 classes).
  const slim = [
    [1.4, 224, 582, 6.06], [1.3, 224, 509, 5.34], [0.75, 224, 209, 2.61], [0.5, 224, 97, 1.95], [0.35, 224, 59, 1.66],
    [1, 192, 221, 3.47], [1, 160, 154, 3.47], [1, 128, 99, 3.47], [1, 96, 56, 3.47],
  ] as const;
  for (const [alpha, resolution, macs, params] of slim) {
    it(`v2 α ${alpha} at ${resolution}: ${macs} M multiply-adds, ${params} M parameters within 1 % (TF-slim)`, () => {
      const { totals } = inspectTables('v2', alpha, resolution, 1001);
      expect(deviation(totals.multiplyAdds, macs * 1e6)).toBeLessThan(0.01);
      expect(deviation(totals.parameters, params * 1e6)).toBeLessThan(0.01);
    });
  }

  it('parameters do not depend on the resolution; multiply-adds grow with the pixels', () => {
    const sizes = [128, 160, 192, 224].map((resolution) => inspectTables('v1', 1, resolution).totals);
    expect(new Set(sizes.map((t) => t.parameters))).toEqual(new Set([4_221_032]));
    for (let i = 1; i < sizes.length; i++) expect(sizes[i].multiplyAdds).toBeGreaterThan(sizes[i - 1].multiplyAdds);
  });

  it('counts as the engine does: totals equal the plan\'s cost (src/engine/cost.ts) at odd sizes and widths', () => {
    for (const [arch, alpha, resolution] of [['v1', 0.75, 97], ['v2', 0.35, 131], ['v2', 1.4, 224]] as const) {
      const spec = createRandomModel({ arch, alpha, resolution });
      const plan = planModel(spec);
      const { totals, layers } = inspectModel(spec, { source: 'architecture', plan });
      expect(totals.multiplyAdds).toBe(plan.steps.reduce((sum, step) => sum + stepMacs(step), 0));
      expect(totals.parameters).toBe(plan.steps.reduce((sum, step) => sum + stepParams(step), 0));
      // SAME padding rounds up: 97 → 49 → 25 …; each layer reads what the previous one wrote.
      expect(layers[0].output.slice(0, 2)).toEqual([Math.ceil(resolution / 2), Math.ceil(resolution / 2)]);
      for (let i = 1; i < layers.length; i++) expect(layers[i].input).toEqual(layers[i - 1].output);
      expect(layers.at(-1)!.output).toEqual([1, 1, plan.outputSize]);
    }
  });
});

describe('layers and depthwise-separable blocks', () => {
  it('v1: one row per layer with shapes, stride, parameters and multiply-adds', () => {
    const { layers } = inspectTables('v1', 1, 224);
    expect(layers.map((l) => l.type)).toEqual(['conv2d', ...Array(13).fill(['depthwise', 'pointwise']).flat(), 'avgpool', 'fc', 'softmax']);
    expect(layers[0]).toMatchObject({ kernel: 3, input: [224, 224, 3], output: [112, 112, 32], stride: 2, parameters: 3 * 3 * 3 * 32 + 32, multiplyAdds: 112 * 112 * 27 * 32 });
    expect(layers[3]).toMatchObject({ type: 'depthwise', input: [112, 112, 64], output: [56, 56, 64], stride: 2, parameters: 64 * 10, multiplyAdds: 56 * 56 * 64 * 9 });
    expect(layers[28]).toMatchObject({ type: 'fc', input: [1, 1, 1024], output: [1, 1, 1000], stride: null, parameters: 1_025_000, multiplyAdds: 1_024_000 });
    expect(layers[27]).toMatchObject({ type: 'avgpool', parameters: 0, multiplyAdds: 0 });
  });

  it('v2: bottlenecks with their expansion factor and residual', () => {
    const { layers } = inspectTables('v2', 1, 224);
    expect(layers[1]).toMatchObject({ type: 'bottleneck', expansion: 1, residual: false, input: [112, 112, 32], output: [112, 112, 16] });
    // 16 → 96 (expand at 112²), depthwise stride 2, 96 → 24 at 56².
    expect(layers[2]).toMatchObject({
      expansion: 6, residual: false, stride: 2, output: [56, 56, 24],
      parameters: (16 * 96 + 96) + (9 * 96 + 96) + (96 * 24 + 24),
      multiplyAdds: 112 * 112 * 16 * 96 + 56 * 56 * 96 * 9 + 56 * 56 * 96 * 24,
    });
    expect(layers.filter((l) => l.residual).length).toBe(10);
  });

  it('v1: each depthwise + pointwise pair against the standard 3×3 convolution with its channels and stride', () => {
    const { separable } = inspectTables('v1', 1, 224);
    expect(separable.blocks.length).toBe(13);
    expect(separable.blocks[1]).toMatchObject({
      layers: [3, 4], input: [112, 112, 64], output: [56, 56, 128], stride: 2, kernel: 3,
      separable: { multiplyAdds: 56 * 56 * 64 * 9 + 56 * 56 * 64 * 128, parameters: 64 * 10 + 128 * 65 },
      standard: { multiplyAdds: 56 * 56 * 9 * 64 * 128, parameters: 9 * 64 * 128 + 128 },
    });
    // The v1 paper's estimate of the saving: 1 / (1/N + 1/9), 8 to 9 times for these widths.
    for (const block of separable.blocks) {
      const n = block.output[2];
      expect(block.factor.multiplyAdds).toBeCloseTo(1 / (1 / n + 1 / 9), 6);
    }
  });

  it('v2: the depthwise + projection of each bottleneck, the expansion left out of both', () => {
    const { separable, layers } = inspectTables('v2', 1, 224);
    expect(separable.blocks.length).toBe(17);
    expect(separable.blocks[1]).toMatchObject({
      layers: [2], input: [112, 112, 96], output: [56, 56, 24], stride: 2,
      separable: { multiplyAdds: 56 * 56 * 96 * (9 + 24), parameters: 96 * 10 + 96 * 24 + 24 },
      standard: { multiplyAdds: 56 * 56 * 9 * 96 * 24, parameters: 9 * 96 * 24 + 24 },
    });
    const expand = 112 * 112 * 16 * 96;
    expect(layers[2].multiplyAdds - separable.blocks[1].separable.multiplyAdds).toBe(expand);
  });
});

describe('activation memory', () => {
  const MiB = 2 ** 20;

  it('v2 224: layer by layer peaks at the first expanded block; the fused plan never stores an expanded tensor', () => {
    const { memory, layers } = inspectTables('v2', 1, 224);
    // Layer 2's depthwise reads 112×112×96 and writes 56×56×96.
    expect(memory.layerByLayer).toEqual({ fp32: (112 * 112 * 96 + 56 * 56 * 96) * 4, int8: 112 * 112 * 96 + 56 * 56 * 96, peakLayer: 2 });
    // Block 1 reads 112×112×32 and writes 112×112×16: planModel's arena.
    expect(memory.fusedPlan).toEqual({ fp32: 112 * 112 * 48 * 4, int8: 112 * 112 * 48, peakStep: 1 });
    // A residual block keeps its input through the depthwise: 56²·24 + 56²·144 expanded + 56²·144 filtered.
    expect(layers[3].activationBytes.layerByLayer).toBe(56 * 56 * (24 + 144 + 144) * 4);
    expect(layers[3].activationBytes.fusedPlan).toBe(56 * 56 * (24 + 24) * 4);
    expect(memory.layerByLayer.fp32 / MiB).toBeCloseTo(5.74, 2);
    expect(memory.fusedPlan.fp32 / MiB).toBeCloseTo(2.30, 2);
  });

  it('v1 224: both schedules peak at the stem output + the first pointwise output', () => {
    const { memory, layers } = inspectTables('v1', 1, 224);
    expect(memory.layerByLayer).toMatchObject({ fp32: 112 * 112 * 96 * 4, peakLayer: 2 });
    expect(memory.fusedPlan).toMatchObject({ fp32: 112 * 112 * 96 * 4, peakStep: 1 });
    // The depthwise row of a fused pair shows the step's input + output, not the depthwise's own.
    expect(layers[1].activationBytes).toEqual({ layerByLayer: 112 * 112 * 64 * 4, fusedPlan: 112 * 112 * 96 * 4 });
    expect([layers[1].planStep, layers[2].planStep, layers[3].planStep]).toEqual([1, 1, 2]);
  });

  it('the peaks are the largest rows; the fused plan\'s is the planner\'s arena', () => {
    for (const arch of ['v1', 'v2'] as const) {
      const spec = createRandomModel({ arch, alpha: 0.5, resolution: 161 });
      const plan = planModel(spec);
      const { memory, layers } = inspectModel(spec, { source: 'architecture', plan });
      expect(memory.fusedPlan.fp32).toBe(plan.arenaSize * 4);
      expect(Math.max(...layers.map((l) => l.activationBytes.fusedPlan))).toBe(memory.fusedPlan.fp32);
      expect(Math.max(...layers.map((l) => l.activationBytes.layerByLayer))).toBe(memory.layerByLayer.fp32);
      expect(layers.at(-1)!.planStep).toBe(plan.steps.length - 1);
    }
  });

  it('reports the engine it is given, or none', () => {
    const engine = { backend: 'native', isa: 'avx2', threads: 2, activationBytes: 123 };
    const spec = createRandomModel({ arch: 'v2', alpha: 0.35, resolution: 96 });
    expect(inspectModel(spec, { source: 'x', engine }).memory.engine).toEqual(engine);
    expect(inspectModel(spec, { source: 'x' }).memory.engine).toBeNull();
  });
});

/** Elements of the weight and bias tensors of every convolution and fully connected operator, read from the file. */
function tensorElements(bytes: Uint8Array, name: string): number {
  const model = readModel(bytes, name);
  const graph = model.subgraphs[0];
  const counted = new Set<number>();
  for (const op of graph.operators) {
    if (!['CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED'].includes(model.operatorCodes[op.opcodeIndex].name)) continue;
    for (const tensor of op.inputs.slice(1, 3)) if (tensor >= 0) counted.add(tensor);
  }
  return [...counted].reduce((sum, t) => sum + graph.tensors[t].shape.reduce((a, b) => a * b, 1), 0);
}

const partsOf = (layer: Layer): object[] => {
  if (layer.type === 'bottleneck') return [layer.expand, layer.depthwise, layer.project].filter((p) => p !== null);
  return 'weights' in layer ? [layer] : [];
};

describe.skipIf(!haveShared)('the shared models', () => {
  for (const name of SHARED_MODELS) {
    it(`${name}: parameters are the elements of its weight and bias tensors, and the tables' count for its arch, α and size`, () => {
      const bytes = readFileSync(modelPath(name));
      const spec = parseTflite(bytes, name);
      const inspection = inspectModel(spec, { source: name });
      expect(inspection.model).toMatchObject({ classes: 1001 });
      expect(inspection.totals.parameters).toBe(tensorElements(bytes, name));
      const tables = inspectTables(spec.arch, spec.alpha, spec.resolution, spec.numClasses);
      expect(inspection.totals).toEqual(tables.totals);
      expect(inspection.memory).toEqual(tables.memory);
      // Counted from the tensors' lengths: not one weight was decoded.
      for (const part of spec.layers.flatMap(partsOf)) expect(encodedWeights(part, 'weights')).toBeDefined();
      // The int8 column is the arena of the model's real integer plan.
      expect(inspection.memory.fusedPlan.int8).toBe(planQuantized(spec).arenaBytes);
    });
  }
});

describe.skipIf(!haveShared)('mobilenet inspect (child process)', () => {
  it('--json: the whole inspection, with what each figure counts', async () => {
    const result = await runMobilenet(['inspect', '--arch', 'v1', '--threads', '1', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as Inspection;
    expect(Object.keys(json)).toEqual(['model', 'counting', 'layers', 'totals', 'separable', 'memory']);
    expect(json.model).toEqual({ source: 'architecture', arch: 'v1', alpha: 1, resolution: 224, classes: 1000 });
    expect(json.counting.parameters).toMatch(/weights \+ biases .* 1000-way classifier, BatchNorm folded/);
    expect(json.counting.multiplyAdds).toMatch(/pooling, residual adds, biases, activations and softmax count none/);
    expect(json.totals).toEqual({ parameters: 4_221_032, multiplyAdds: 568_740_352 });
    expect(json.layers.length).toBe(30);
    expect(Object.keys(json.layers[0]).sort()).toEqual(
      ['activationBytes', 'expansion', 'index', 'input', 'kernel', 'multiplyAdds', 'output', 'parameters', 'planStep', 'residual', 'stride', 'type']);
    expect(json.separable.standardNetwork).toEqual({ parameters: 29_288_104, multiplyAdds: 4_867_293_184 });
    expect(Object.keys(json.memory)).toEqual(['layerByLayer', 'fusedPlan', 'engine']);
    // The engine started for it: one thread, at least the arena.
    expect(json.memory.engine).toMatchObject({ threads: 1 });
    expect(json.memory.engine!.activationBytes).toBeGreaterThanOrEqual(json.memory.fusedPlan.fp32);
  }, 30_000);

  it('--model FILE: the file\'s network, 1001 classes, its tensors counted', async () => {
    const file = modelPath('mobilenet_v1_0.25_128_quant');
    const result = await runMobilenet(['inspect', '--model', file, '--json', '--threads', '1']);
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as Inspection;
    expect(json.model).toEqual({ source: file, arch: 'v1', alpha: 0.25, resolution: 128, classes: 1001 });
    expect(json.totals.parameters).toBe(tensorElements(readFileSync(file), file));
  }, 30_000);

  it('prints aligned tables for people', async () => {
    const result = await runMobilenet(['inspect', '--arch', 'v2', '--threads', '1']);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe('MobileNet v2, α 1, 224×224 input, 1000 classes (architecture)');
    const header = lines.findIndex((l) => /^ +# +layer +input → output +stride +t +parameters +M mult-adds/.test(l));
    expect(header).toBeGreaterThan(0);
    // Right-aligned numbers: every row of the layer table ends at the same column.
    const rows = lines.slice(header, header + 1 + 22 + 1);
    expect(new Set(rows.slice(0, -1).map((l) => l.length)).size).toBe(1);
    expect(rows.at(-1)).toMatch(/^ +total +3,487,816 +300\.77$/);
    expect(rows[3]).toMatch(/^ +2 {2}bottleneck +112×112×16 → 56×56×24 +2 +6 +4,920 +29\.20 +5,880\.0 +1,078\.0$/);
    expect(result.stdout).toMatch(/network with standard convolutions: 1,224\.97 M mult-adds \(4\.1×\), 11,122,056 parameters \(3\.2×\)/);
    expect(result.stdout).toMatch(/layer by layer \(peak at layer 2\) +5\.74 MiB +1\.44 MiB/);
    expect(result.stdout).toMatch(/fused plan: our engine's arena \(peak at step 1\) +2\.30 MiB +0\.57 MiB/);
    expect(result.stdout).toMatch(/engine: (native|reference) \(\w+\), 1 thread, arena \+ kernel scratch +\d+\.\d\d MiB/);
    expect(result.stdout).toMatch(/^Parameters: weights \+ biases/m);
  }, 30_000);

  it('refuses bad input with a usage error naming it (exit 2)', async () => {
    const conflict = await runMobilenet(['inspect', '--arch', 'v1', '--model', 'v2']);
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toMatch(/option '--arch <v1\|v2>' cannot be used with option '-m, --model/);
    const tooMany = await runMobilenet(['inspect', '--arch', 'v1', '--classes', '100000']);
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toMatch(/^mobilenet: MobileNet v1 α=1 with 100000 classes has \d+ weights, more than the limit of 67108864\n$/);
    const missing = await runMobilenet(['inspect', '--model', '/nonexistent/model.tflite']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^mobilenet: \/nonexistent\/model\.tflite: /);
    const notAModel = await runMobilenet(['inspect', '--model', join(MODELS_DIR, 'imagenet_labels.txt')]);
    expect(notAModel.code).toBe(2);
    expect(notAModel.stderr).toMatch(/imagenet_labels\.txt/);
    const badSize = await runMobilenet(['inspect', '--resolution', '0']);
    expect(badSize.code).toBe(2);
    expect(badSize.stderr).toMatch(/--resolution/);
  }, 60_000);
});
