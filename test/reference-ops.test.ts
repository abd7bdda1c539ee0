// The reference ops against answers worked out by hand: the reference is what verifies the native
// kernels, so it must itself be right.
import { describe, expect, it } from 'vitest';
import * as ops from '../src/engine/reference/ops.js';
import { ACT_NONE, ACT_RELU, ACT_RELU6, type BottleneckStep } from '../src/engine/plan.js';

const f32 = (values: number[]) => Float32Array.from(values);

describe('reference ops', () => {
  it('conv2d: 3×3 stride 2 with SAME padding at the bottom/right only', () => {
    // 4×4 single-channel input 1..16, all-ones kernel: output (0,0) sums rows 0-1, cols 0-1 (pad is after).
    const input = f32(Array.from({ length: 16 }, (_, i) => i + 1));
    const output = new Float32Array(4);
    ops.conv2d({
      inH: 4, inW: 4, outH: 2, outW: 2, stride: 2, padTop: 0, padLeft: 0, kernel: 3, inC: 1, outC: 1,
      act: ACT_NONE, weights: new Float32Array(9).fill(1), bias: f32([0.5]),
    }, input, output);
    // (0,0): rows 0-2 cols 0-2 = 1+2+3+5+6+7+9+10+11 = 54; (0,1): cols 2-3 (col 4 is padding) = 3+4+7+8+11+12 = 45
    // (1,0): rows 2-3 = 9+10+11+13+14+15 = 72; (1,1): 11+12+15+16 = 54.
    expect(Array.from(output)).toEqual([54.5, 45.5, 72.5, 54.5]);
  });

  it('conv2d mixes input channels per output channel', () => {
    const output = new Float32Array(2);
    ops.conv2d({
      inH: 1, inW: 1, outH: 1, outW: 1, stride: 1, padTop: 1, padLeft: 1, kernel: 3, inC: 2, outC: 2, act: ACT_NONE,
      // only the centre tap is inside the image: weights [oc, ky, kx, ic], centre = index 4.
      weights: f32(Array.from({ length: 36 }, (_, i) => (i === 4 * 2 ? 1 : i === 4 * 2 + 1 ? 10 : i === 18 + 8 ? -1 : 0))),
      bias: f32([0, 0]),
    }, f32([2, 3]), output);
    expect(Array.from(output)).toEqual([2 + 30, -2]);
  });

  it('depthwise keeps channels apart and applies ReLU6', () => {
    const input = f32([1, -1, 2, -2, 3, -3, 4, -4]); // 2×2 pixels × 2 channels
    const output = new Float32Array(8);
    const weights = new Float32Array(18).fill(1);
    ops.depthwise({
      inH: 2, inW: 2, outH: 2, outW: 2, stride: 1, padTop: 1, padLeft: 1, kernel: 3, channels: 2,
      act: ACT_RELU6, weights, bias: f32([0, 20]),
    }, input, output);
    // every output pixel sees the whole 2×2 image: channel 0 sum 10 → 6; channel 1: 20 - 10 = 10 → 6.
    expect(Array.from(output)).toEqual([6, 6, 6, 6, 6, 6, 6, 6]);
  });

  it('pointwise is a matrix product with bias and ReLU', () => {
    const output = new Float32Array(4);
    ops.pointwise({
      h: 1, w: 2, inC: 2, outC: 2, act: ACT_RELU, weights: f32([1, 2, -1, 0]), bias: f32([0, 1]),
    }, f32([3, 4, 5, 6]), output);
    expect(Array.from(output)).toEqual([11, 0, 17, 0]);
  });

  it('bottleneck equals its three convs plus the residual', () => {
    const step: BottleneckStep = {
      op: 'bottleneck', input: 0, output: 0, inH: 1, inW: 1, outH: 1, outW: 1, stride: 1, padTop: 1, padLeft: 1,
      inC: 1, expandC: 2, outC: 1, residual: true,
      expand: { weights: f32([1, -1]), bias: f32([0, 0]), act: ACT_RELU6 },
      depthwise: { weights: f32(Array.from({ length: 18 }, (_, i) => (i >= 8 && i < 10 ? 2 : 0))), bias: f32([0, 0]), act: ACT_RELU6 },
      project: { weights: f32([1, 1]), bias: f32([0.25]), act: ACT_NONE },
    };
    const output = new Float32Array(1);
    ops.bottleneck(step, f32([2]), output);
    // expand: [2, 0]; depthwise centre ×2: [4, 0]; project: 4 + 0.25; residual: + 2.
    expect(output[0]).toBe(6.25);
  });

  it('avgpool, fc and softmax', () => {
    const pooled = new Float32Array(2);
    ops.avgpool({ op: 'avgpool', input: 0, output: 0, h: 1, w: 3, channels: 2 }, f32([1, 10, 2, 20, 3, 30]), pooled);
    expect(Array.from(pooled)).toEqual([2, 20]);
    const logits = new Float32Array(2);
    ops.fc({ op: 'fc', input: 0, output: 0, inC: 2, outC: 2, weights: f32([1, 0, 0, -1]), bias: f32([1, 1]) }, pooled, logits);
    expect(Array.from(logits)).toEqual([3, -19]);
    const probs = new Float32Array(3);
    ops.softmax({ op: 'softmax', input: 0, output: 0, n: 3 }, f32([1000, 1000, 1000 - Math.log(2)]), probs);
    expect(probs[0]).toBeCloseTo(0.4, 5);
    expect(probs[2]).toBeCloseTo(0.2, 5);
  });
});
