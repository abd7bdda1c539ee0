// The 'xnnpack' rounding of a random plan (test/helpers/random-qplan.ts): the same steps, weights and
// zero points with XNNPACK's parameters (src/engine/int8/xnnpack.ts), for the native kernels'
// second requantization scheme.
//
// Conv-like output stages get float32 scales equal to their fixed-point multipliers (clamped to
// XNNPACK's [2^-32, 256)), a fifth of the channels a power of two instead (2^-1 .. 2^-12: the
// products land on halves, which round to even); residual ADDs XNNPACK's 21-bit multipliers from
// random scales; MEANs XNNPACK's float formula for a uint8 or int8 file. Zero points stay, so a
// chain stays consistent.
import type { QStep, QPlan } from '../../src/engine/int8/plan.js';
import type { QPointwise, QDepthwise } from '../../src/engine/int8/ops.js';
import type { AddParams, MeanParams, OutputStage } from '../../src/engine/int8/params.js';
import { xnnAddParams, xnnMeanParams } from '../../src/engine/int8/xnnpack.js';
import { seededRandom } from '../../src/model/random-model.js';

type Rng = () => number;

function xnnStage(rng: Rng, stage: OutputStage): OutputStage {
  const n = stage.multiplier.length;
  const scale = new Float32Array(n);
  for (let c = 0; c < n; c++) {
    const fixed = stage.multiplier[c]! * 2 ** (stage.shift[c]! - 31);
    const s = rng() < 0.2 ? 2 ** -(1 + Math.floor(rng() * 12)) : Math.min(Math.max(fixed, 2 ** -32), 255.5);
    scale[c] = s;
  }
  return { ...stage, scale };
}

const withStage = <T extends { requant: OutputStage }>(rng: Rng, p: T): T => ({ ...p, requant: xnnStage(rng, p.requant) });

function xnnResidual(rng: Rng, p: AddParams) {
  const scale = () => 0.005 * 2 ** (rng() * 6);
  return xnnAddParams(
    { scale: scale(), zeroPoint: -p.input1Offset }, { scale: scale(), zeroPoint: -p.input2Offset },
    { scale: scale(), zeroPoint: p.outputOffset }, p.actMin, p.actMax,
  );
}

function xnnMean(rng: Rng, p: MeanParams, n: number) {
  const inScale = 0.02 * 2 ** (rng() * 4 - 2);
  const outScale = rng() < 0.3 ? inScale * 2 ** Math.floor(rng() * 9 - 4) : inScale * (0.5 + rng());
  const type = rng() < 0.5 ? 'uint8' : 'int8';
  return xnnMeanParams(type, { scale: inScale, zeroPoint: p.inputZeroPoint }, { scale: outScale, zeroPoint: p.outputZeroPoint }, n);
}

function xnnStep(rng: Rng, step: QStep): QStep {
  switch (step.op) {
    case 'conv2d':
    case 'depthwise':
    case 'pointwise':
    case 'fc':
      return withStage(rng, step);
    case 'bottleneck':
      return {
        ...step,
        expand: step.expand ? withStage<QPointwise>(rng, step.expand) : null,
        depthwise: withStage<QDepthwise>(rng, step.depthwise),
        project: withStage<QPointwise>(rng, step.project),
        residual: step.residual && !('scheme' in step.residual) ? xnnResidual(rng, step.residual) : step.residual,
      };
    case 'mean':
      return 'scheme' in step.params ? step : { ...step, params: xnnMean(rng, step.params, step.h * step.w) };
    case 'avgpool':
    case 'softmax':
      return step;
  }
}

/** `plan` in the 'xnnpack' rounding (see above), seeded. */
export function xnnpackPlan(plan: QPlan, seed: number): QPlan {
  const rng = seededRandom(seed);
  return { ...plan, rounding: 'xnnpack', steps: plan.steps.map((step) => xnnStep(rng, step)) };
}
