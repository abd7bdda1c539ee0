import { weightsOf } from '../model/spec.js';
import type { Step } from './plan.js';

/** Values of the weights and bias of `o`, without decoding weights still encoded (see LazyWeights). */
const paramsOf = (o: object) => weightsOf(o, 'weights').length + weightsOf(o, 'bias').length;

/** Multiply-adds of one step (convolutions and the classifier; pooling and softmax count as none). */
export function stepMacs(step: Step): number {
  switch (step.op) {
    case 'conv2d':
      return step.outH * step.outW * step.outC * step.kernel * step.kernel * step.inC;
    case 'depthwise':
      return step.outH * step.outW * step.channels * step.kernel * step.kernel;
    case 'pointwise':
      return step.h * step.w * step.inC * step.outC;
    case 'bottleneck': {
      const expand = step.expand ? step.inH * step.inW * step.inC * step.expandC : 0;
      return expand + step.outH * step.outW * step.expandC * (9 + step.outC);
    }
    case 'fc':
      return step.inC * step.outC;
    case 'avgpool':
    case 'softmax':
      return 0;
  }
}

/** Learned values of one step: weights and biases. */
export function stepParams(step: Step): number {
  switch (step.op) {
    case 'conv2d':
    case 'depthwise':
    case 'pointwise':
    case 'fc':
      return paramsOf(step);
    case 'bottleneck':
      return [step.expand, step.depthwise, step.project].reduce((sum, part) => sum + (part ? paramsOf(part) : 0), 0);
    case 'avgpool':
    case 'softmax':
      return 0;
  }
}
