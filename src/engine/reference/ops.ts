// Pure-TypeScript reference of every op: straightforward loops, accumulating in float64.
// Same names and semantics as the native kernels, which the tests compare against these.
// Tensors are NHWC views into the arena.
import type {
  ActCode, AvgPoolStep, BottleneckStep, Conv2dStep, DepthwiseStep, FullyConnectedStep, PointwiseStep, SoftmaxStep,
} from '../plan.js';
import { ACT_RELU, ACT_RELU6 } from '../plan.js';

export function activate(value: number, act: ActCode): number {
  if (act === ACT_RELU) return Math.max(value, 0);
  if (act === ACT_RELU6) return Math.min(Math.max(value, 0), 6);
  return value;
}

type Conv2dShape = Omit<Conv2dStep, 'op' | 'input' | 'output'>;
type DepthwiseShape = Omit<DepthwiseStep, 'op' | 'input' | 'output'>;
type PointwiseShape = Omit<PointwiseStep, 'op' | 'input' | 'output'>;

export function conv2d(s: Conv2dShape, input: Float32Array, output: Float32Array): void {
  const { kernel: k, inC, outC } = s;
  for (let oy = 0; oy < s.outH; oy++) {
    for (let ox = 0; ox < s.outW; ox++) {
      for (let oc = 0; oc < outC; oc++) {
        let sum = s.bias[oc];
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * s.stride + ky - s.padTop;
          if (iy < 0 || iy >= s.inH) continue;
          for (let kx = 0; kx < k; kx++) {
            const ix = ox * s.stride + kx - s.padLeft;
            if (ix < 0 || ix >= s.inW) continue;
            const inBase = (iy * s.inW + ix) * inC;
            const wBase = ((oc * k + ky) * k + kx) * inC;
            for (let ic = 0; ic < inC; ic++) sum += input[inBase + ic] * s.weights[wBase + ic];
          }
        }
        output[(oy * s.outW + ox) * outC + oc] = activate(sum, s.act);
      }
    }
  }
}

export function depthwise(s: DepthwiseShape, input: Float32Array, output: Float32Array): void {
  const { kernel: k, channels: C } = s;
  for (let oy = 0; oy < s.outH; oy++) {
    for (let ox = 0; ox < s.outW; ox++) {
      for (let c = 0; c < C; c++) {
        let sum = s.bias[c];
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * s.stride + ky - s.padTop;
          if (iy < 0 || iy >= s.inH) continue;
          for (let kx = 0; kx < k; kx++) {
            const ix = ox * s.stride + kx - s.padLeft;
            if (ix < 0 || ix >= s.inW) continue;
            sum += input[(iy * s.inW + ix) * C + c] * s.weights[(ky * k + kx) * C + c];
          }
        }
        output[(oy * s.outW + ox) * C + c] = activate(sum, s.act);
      }
    }
  }
}

export function pointwise(s: PointwiseShape, input: Float32Array, output: Float32Array): void {
  const { inC, outC } = s;
  for (let p = 0; p < s.h * s.w; p++) {
    for (let oc = 0; oc < outC; oc++) {
      let sum = s.bias[oc];
      for (let ic = 0; ic < inC; ic++) sum += input[p * inC + ic] * s.weights[oc * inC + ic];
      output[p * outC + oc] = activate(sum, s.act);
    }
  }
}

/** Expand → depthwise → project [+ input], materialising the expanded tensors (this is the reference). */
export function bottleneck(s: BottleneckStep, input: Float32Array, output: Float32Array): void {
  const { inH, inW, outH, outW, inC, expandC, outC } = s;
  let expanded = input;
  if (s.expand) {
    expanded = new Float32Array(inH * inW * expandC);
    pointwise({ h: inH, w: inW, inC, outC: expandC, ...s.expand }, input, expanded);
  }
  const filtered = new Float32Array(outH * outW * expandC);
  depthwise({ ...s, kernel: 3, channels: expandC, ...s.depthwise }, expanded, filtered);
  pointwise({ h: outH, w: outW, inC: expandC, outC, ...s.project }, filtered, output);
  if (s.residual) {
    for (let i = 0; i < outH * outW * outC; i++) output[i] += input[i];
  }
}

export function avgpool(s: AvgPoolStep, input: Float32Array, output: Float32Array): void {
  const pixels = s.h * s.w;
  for (let c = 0; c < s.channels; c++) {
    let sum = 0;
    for (let p = 0; p < pixels; p++) sum += input[p * s.channels + c];
    output[c] = sum / pixels;
  }
}

export function fc(s: FullyConnectedStep, input: Float32Array, output: Float32Array): void {
  pointwise({ h: 1, w: 1, inC: s.inC, outC: s.outC, act: 0, weights: s.weights, bias: s.bias }, input, output);
}

export function softmax(s: SoftmaxStep, input: Float32Array, output: Float32Array): void {
  let max = -Infinity;
  for (let i = 0; i < s.n; i++) max = Math.max(max, input[i]);
  let sum = 0;
  for (let i = 0; i < s.n; i++) sum += Math.exp(input[i] - max);
  for (let i = 0; i < s.n; i++) output[i] = Math.exp(input[i] - max) / sum;
}
