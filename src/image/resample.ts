// Resizing in TypeScript, for when the resize enlarges along at least one axis.
//
// libvips' upsampling (sharp's resize with kernel 'linear' when enlarging, libvips 8.17) samples a grid shifted
// up-left by half an output pixel: 3 → 6 pixels [0, 90, 180] gives [0, 0, 45, 90, 135, 180] where half-pixel
// centres give [0, 22.5, 67.5, 112.5, 157.5, 180]. That moves the image and changed top-1 predictions on small
// images. Images that are enlarged are small, so we do it ourselves:
//
// - an enlarged axis (or one that keeps its size): bilinear interpolation with half-pixel centres, clamped at
//   the edges: out(x) = in at (x + 0.5)·in/out − 0.5. This is OpenCV's INTER_LINEAR, TensorFlow's
//   resize_bilinear with half_pixel_centers, and PIL's BILINEAR when enlarging.
// - a shrunk axis (an image enlarged along the other one): PIL's BILINEAR, the triangle filter stretched to
//   the source footprint (support ±in/out source pixels around (x + 0.5)·in/out, weights normalised), which
//   averages like libvips' 'linear' reduction does for images shrunk along both axes.
//
// Separable, in float, rounded once at the end. Long passes let the event loop run now and then.

import type { RgbImage } from './types.js';

/** For each output index: the first input index and the weights of consecutive inputs from there. */
interface AxisWeights {
  start: Int32Array;
  count: Int32Array;
  /** out × taps, row-major; entries past count are 0. */
  weights: Float32Array;
  taps: number;
}

function axisWeights(inSize: number, outSize: number): AxisWeights {
  const scale = inSize / outSize;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  if (scale <= 1) {
    const taps = 2;
    const weights = new Float32Array(outSize * taps);
    for (let x = 0; x < outSize; x++) {
      if (inSize === 1) {
        count[x] = 1;
        weights[x * taps] = 1;
        continue;
      }
      const p = Math.min(Math.max((x + 0.5) * scale - 0.5, 0), inSize - 1);
      const i0 = Math.min(Math.floor(p), inSize - 2);
      const f = p - i0;
      start[x] = i0;
      count[x] = 2;
      weights[x * taps] = 1 - f;
      weights[x * taps + 1] = f;
    }
    return { start, count, weights, taps };
  }
  // Shrinking: triangle of half-width `scale` centred on c = (x + 0.5)·scale (input pixel j is centred at j + 0.5).
  const taps = Math.ceil(2 * scale) + 2;
  const weights = new Float32Array(outSize * taps);
  const w = new Float64Array(taps);
  for (let x = 0; x < outSize; x++) {
    const c = (x + 0.5) * scale;
    const lo = Math.max(Math.ceil(c - scale - 0.5), 0);
    const hi = Math.min(Math.floor(c + scale - 0.5), inSize - 1);
    let total = 0;
    let n = 0;
    for (let j = lo; j <= hi && n < taps; j++, n++) {
      w[n] = Math.max(0, 1 - Math.abs(j + 0.5 - c) / scale);
      total += w[n]!;
    }
    start[x] = lo;
    count[x] = n;
    for (let k = 0; k < n; k++) weights[x * taps + k] = w[k]! / total;
  }
  return { start, count, weights, taps };
}

/** Multiply-adds between two chances for the event loop to run (about 10 ms of work). */
const OPS_PER_SLICE = 1 << 23;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Horizontal pass: rows × inWidth × 3 → rows × outWidth × 3. */
async function horizontal(src: ArrayLike<number>, rows: number, inWidth: number, a: AxisWeights): Promise<Float32Array> {
  const outWidth = a.start.length;
  const out = new Float32Array(rows * outWidth * 3);
  let ops = 0;
  for (let y = 0; y < rows; y++) {
    const rowIn = y * inWidth * 3;
    let o = y * outWidth * 3;
    for (let x = 0; x < outWidth; x++, o += 3) {
      let r = 0;
      let g = 0;
      let b = 0;
      const n = a.count[x]!;
      const wi = x * a.taps;
      let s = rowIn + a.start[x]! * 3;
      for (let k = 0; k < n; k++, s += 3) {
        const wk = a.weights[wi + k]!;
        r += wk * src[s]!;
        g += wk * src[s + 1]!;
        b += wk * src[s + 2]!;
      }
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = b;
    }
    ops += outWidth * a.taps;
    if (ops > OPS_PER_SLICE) {
      ops = 0;
      await nextTurn();
    }
  }
  return out;
}

/** Vertical pass: inHeight × width × 3 → outHeight × width × 3. */
async function vertical(src: ArrayLike<number>, width: number, a: AxisWeights): Promise<Float32Array> {
  const outHeight = a.start.length;
  const rowLen = width * 3;
  const out = new Float32Array(outHeight * rowLen);
  let ops = 0;
  for (let y = 0; y < outHeight; y++) {
    const o = y * rowLen;
    const n = a.count[y]!;
    for (let k = 0; k < n; k++) {
      const wk = a.weights[y * a.taps + k]!;
      const s = (a.start[y]! + k) * rowLen;
      for (let i = 0; i < rowLen; i++) out[o + i] += wk * src[s + i]!;
    }
    ops += rowLen * n;
    if (ops > OPS_PER_SLICE) {
      ops = 0;
      await nextTurn();
    }
  }
  return out;
}

/**
 * Resize an RGB image to width × height (aspect not kept): half-pixel bilinear along axes that are enlarged
 * or keep their size, PIL's antialiased triangle filter along axes that are shrunk (see the top of this file).
 * Meant for images enlarged along at least one axis; any sizes work.
 */
export async function resampleLinear(img: RgbImage, width: number, height: number): Promise<RgbImage> {
  const ax = axisWeights(img.width, width);
  const ay = axisWeights(img.height, height);
  // Either order gives the same result (up to float rounding); do the cheaper one.
  const costHorizontalFirst = img.height * width * ax.taps + width * height * ay.taps;
  const costVerticalFirst = img.width * height * ay.taps + width * height * ax.taps;
  const horizontalFirst = costHorizontalFirst <= costVerticalFirst;
  const result = horizontalFirst
    ? await vertical(await horizontal(img.data, img.height, img.width, ax), width, ay)
    : await horizontal(await vertical(img.data, img.width, ay), height, img.width, ax);
  const data = new Uint8Array(result.length);
  for (let i = 0; i < result.length; i++) data[i] = Math.min(255, Math.max(0, Math.round(result[i]!)));
  return { width, height, data };
}
