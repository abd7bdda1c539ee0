// TFLite's RESIZE_BILINEAR on uint8 pixels (reference kernel, half_pixel_centers = true,
// align_corners = false: what tf.image.resize and TFLite's image pipelines use), so that a pipeline
// can be compared with TFLite's pixel for pixel: no antialiasing (each output pixel interpolates the
// 2×2 source pixels around its centre, however much smaller the output is), arithmetic in float32,
// then + 0.5 and truncation to uint8. Source: LiteRT tflite/kernels/internal/reference/resize_bilinear.h
// (ComputeInterpolationValues, ResizeBilinear<uint8_t>); Math.fround after every operation gives
// float32's results.
import type { RgbImage } from './types.js';

const f = Math.fround;

interface Axis {
  /** Lower and upper source index, and the two float32 weights, per output index. */
  lo: Int32Array;
  hi: Int32Array;
  wLo: Float32Array;
  wHi: Float32Array;
}

function axis(inSize: number, outSize: number): Axis {
  const scale = f(inSize / outSize);
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const wLo = new Float32Array(outSize);
  const wHi = new Float32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const scaled = f(f(f(o + 0.5) * scale) - 0.5);
    lo[o] = Math.max(Math.floor(scaled), 0);
    hi[o] = Math.min(Math.ceil(scaled), inSize - 1);
    const frac = f(scaled - lo[o]!); // (input_y − y0): may be negative at the first pixel, as in TFLite
    wHi[o] = frac;
    wLo[o] = f(1 - frac);
  }
  return { lo, hi, wLo, wHi };
}

/** Resizes RGB pixels to width × height with TFLite's RESIZE_BILINEAR (see above). */
export function resizeBilinearTflite(img: RgbImage, width: number, height: number): RgbImage {
  const ys = axis(img.height, height);
  const xs = axis(img.width, width);
  const src = img.data;
  const out = new Uint8Array(width * height * 3);
  const row = img.width * 3;
  for (let y = 0; y < height; y++) {
    const r0 = ys.lo[y]! * row;
    const r1 = ys.hi[y]! * row;
    const wy0 = ys.wLo[y]!;
    const wy1 = ys.wHi[y]!;
    for (let x = 0; x < width; x++) {
      const c0 = xs.lo[x]! * 3;
      const c1 = xs.hi[x]! * 3;
      const wx0 = xs.wLo[x]!;
      const wx1 = xs.wHi[x]!;
      const at = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) {
        // in[y0,x0]·(1−dy)·(1−dx) + in[y1,x0]·dy·(1−dx) + in[y0,x1]·(1−dy)·dx + in[y1,x1]·dy·dx + 0.5, in this order.
        let v = f(f(src[r0 + c0 + c]! * wy0) * wx0);
        v = f(v + f(f(src[r1 + c0 + c]! * wy1) * wx0));
        v = f(v + f(f(src[r0 + c1 + c]! * wy0) * wx1));
        v = f(v + f(f(src[r1 + c1 + c]! * wy1) * wx1));
        out[at + c] = Math.trunc(f(v + 0.5));
      }
    }
  }
  return { width, height, data: out };
}
