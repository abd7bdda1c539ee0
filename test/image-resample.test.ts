// Enlarging: half-pixel bilinear (libvips' upsampling grid is shifted by half a pixel), checked against a
// reference written here from the definition and, where python3 has numpy, against numpy as well.
import { execFileSync } from 'node:child_process';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { centralCropBox, decodeResized, loadImageTensor, resizeForModel, type RgbImage } from '../src/image/index.js';
import { resampleLinear } from '../src/image/resample.js';
import { randomPixels } from './helpers/image-bmp.js';
import { withEventLoopTurns } from './helpers/event-loop.js';

/**
 * Weights of input index i for output index x along one axis of length n → m, from the definition:
 * - enlarging (or keeping the size): sample at p = (x + 0.5)·n/m − 0.5 clamped to [0, n−1], linear between
 *   floor(p) and the next pixel (the last pixel when there is none);
 * - shrinking: triangle 1 − |i + 0.5 − c| / s (s = n/m, c = (x + 0.5)·s, zero outside), normalised to sum 1.
 */
function referenceWeights(n: number, m: number): number[][] {
  const s = n / m;
  const rows: number[][] = [];
  for (let x = 0; x < m; x++) {
    const row = new Array<number>(n).fill(0);
    if (s <= 1) {
      const p = Math.min(Math.max((x + 0.5) * s - 0.5, 0), n - 1);
      const i0 = Math.floor(p);
      const i1 = Math.min(i0 + 1, n - 1);
      row[i0]! += 1 - (p - i0);
      row[i1]! += p - i0;
    } else {
      const c = (x + 0.5) * s;
      for (let i = 0; i < n; i++) row[i] = Math.max(0, 1 - Math.abs(i + 0.5 - c) / s);
      const total = row.reduce((a, b) => a + b, 0);
      for (let i = 0; i < n; i++) row[i]! /= total;
    }
    rows.push(row);
  }
  return rows;
}

/** The reference resize: out(x, y) = Σ_j Σ_i wy[y][j] · wx[x][i] · in(i, j), in float64, rounded once. */
function referenceResize(img: RgbImage, width: number, height: number): Uint8Array {
  const wx = referenceWeights(img.width, width);
  const wy = referenceWeights(img.height, height);
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (let j = 0; j < img.height; j++) {
          if (wy[y]![j] === 0) continue;
          for (let i = 0; i < img.width; i++) v += wy[y]![j]! * wx[x]![i]! * img.data[(j * img.width + i) * 3 + c]!;
        }
        out[(y * width + x) * 3 + c] = Math.round(v);
      }
    }
  }
  return out;
}

const NUMPY_SCRIPT = `
import sys, numpy as np
def weights(n, m):
    s = n / m
    x = np.arange(m)
    if s <= 1:
        p = np.clip((x + 0.5) * s - 0.5, 0, n - 1)
        i0 = np.floor(p).astype(int)
        i1 = np.minimum(i0 + 1, n - 1)
        w = np.zeros((m, n))
        np.add.at(w, (x, i0), 1 - (p - i0))
        np.add.at(w, (x, i1), p - i0)
        return w
    c = (x[:, None] + 0.5) * s
    w = np.maximum(0, 1 - np.abs(np.arange(n)[None, :] + 0.5 - c) / s)
    return w / w.sum(axis=1, keepdims=True)
inp = sys.stdin.buffer.read()
pos = 0
while pos < len(inp):
    w, h, ow, oh = np.frombuffer(inp, np.uint32, 4, pos).tolist()
    pos += 16
    a = np.frombuffer(inp, np.uint8, w * h * 3, pos).reshape(h, w, 3).astype(np.float64)
    pos += w * h * 3
    out = np.einsum('yj,xi,jic->yxc', weights(h, oh), weights(w, ow), a)
    sys.stdout.buffer.write(np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8).tobytes())
`;

const hasNumpy = (() => {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** numpy's resize of each image to its size, in one python3 run. */
function numpyResize(jobs: { img: RgbImage; size: number }[]): Uint8Array[] {
  const input = Buffer.concat(
    jobs.flatMap(({ img, size }) => [Buffer.from(new Uint32Array([img.width, img.height, size, size]).buffer), Buffer.from(img.data)]),
  );
  const out = execFileSync('python3', ['-c', NUMPY_SCRIPT], { input, maxBuffer: 1 << 26 });
  let at = 0;
  return jobs.map(({ size }) => {
    const part = new Uint8Array(out.buffer, out.byteOffset + at, size * size * 3);
    at += size * size * 3;
    return part;
  });
}

function maxAbsDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function crop(img: RgbImage, box: { left: number; top: number; width: number; height: number }): RgbImage {
  const data = new Uint8Array(box.width * box.height * 3);
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width * 3; x++) data[y * box.width * 3 + x] = img.data[((box.top + y) * img.width + box.left) * 3 + x]!;
  }
  return { width: box.width, height: box.height, data };
}

const png = (img: RgbImage, orientation?: number) => {
  const s = sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 3 } }).png();
  return (orientation ? s.withMetadata({ orientation }) : s).toBuffer();
};

// [width, height, size]: enlarging both axes, and mixed (one axis enlarged, the other shrunk).
const CASES: [number, number, number][] = [
  [1, 1, 5],
  [1, 7, 9],
  [7, 1, 9],
  [2, 2, 3],
  [5, 3, 7],
  [3, 5, 16],
  [13, 9, 31],
  [37, 23, 64],
  [61, 17, 41],
  [37, 23, 30],
  [101, 9, 24],
  [9, 101, 24],
  [45, 3, 11],
];

describe('resampleLinear against the definition', () => {
  it('a worked example: 3 → 6 pixels samples at (x + 0.5)/2 − 0.5, clamped', async () => {
    const img = { width: 3, height: 1, data: new Uint8Array([0, 0, 0, 100, 100, 100, 200, 200, 200]) };
    const out = await resampleLinear(img, 6, 1);
    expect([...out.data].filter((_, i) => i % 3 === 0)).toEqual([0, 25, 75, 125, 175, 200]);
    // resizeForModel too (6×6 from 3×1: the rows are all the same)
    const model = await resizeForModel(img, 6, 'none');
    for (let y = 0; y < 6; y++) expect([...model.data.subarray(y * 18, y * 18 + 18)].filter((_, i) => i % 3 === 0)).toEqual([0, 25, 75, 125, 175, 200]);
  });

  it('random images of odd sizes, enlarged and mixed: within ±1 of the reference (and of numpy)', async () => {
    const jobs = CASES.map(([w, h, size], k) => ({ img: { width: w, height: h, data: randomPixels(w, h, k + 1) }, size }));
    const numpy = hasNumpy ? numpyResize(jobs) : [];
    for (const [k, { img, size }] of jobs.entries()) {
      const want = referenceResize(img, size, size);
      const what = `${img.width}x${img.height} → ${size}`;
      expect(maxAbsDiff((await resampleLinear(img, size, size)).data, want), what).toBeLessThanOrEqual(1);
      if (hasNumpy) expect(maxAbsDiff(numpy[k]!, want), `numpy ${what}`).toBeLessThanOrEqual(1);
    }
  });

  it('non-square outputs; identity at the same size; a flat colour stays flat', async () => {
    const img = { width: 11, height: 7, data: randomPixels(11, 7, 77) };
    for (const [ow, oh] of [[20, 7], [11, 19], [5, 30], [30, 4]] as const) {
      expect(maxAbsDiff((await resampleLinear(img, ow, oh)).data, referenceResize(img, ow, oh)), `${ow}x${oh}`).toBeLessThanOrEqual(1);
    }
    expect([...(await resampleLinear(img, 11, 7)).data]).toEqual([...img.data]);
    const flat = { width: 9, height: 40, data: new Uint8Array(9 * 40 * 3).map((_, i) => [12, 200, 77][i % 3]!) };
    const out = await resampleLinear(flat, 23, 23);
    for (let i = 0; i < out.data.length; i += 3) expect([...out.data.subarray(i, i + 3)]).toEqual([12, 200, 77]);
  });

  it('a long mixed resize lets the event loop run', async () => {
    const img = { width: 24, height: 200_000, data: randomPixels(24, 200_000, 3) };
    const { result: out, turns } = await withEventLoopTurns(() => resampleLinear(img, 32, 32));
    expect(out.data.length).toBe(32 * 32 * 3);
    expect(turns).toBeGreaterThan(2);
  });
});

describe('enlarging through resizeForModel, decodeResized and loadImageTensor', () => {
  it('random images of odd sizes, both crops: within ±1 of the reference', async () => {
    let seed = 100;
    for (const [w, h, size] of CASES) {
      const img = { width: w, height: h, data: randomPixels(w, h, seed++) };
      const file = await png(img);
      for (const mode of ['none', 'center'] as const) {
        const box = mode === 'center' ? centralCropBox(w, h) : { left: 0, top: 0, width: w, height: h };
        if (size <= box.width && size <= box.height) continue;
        const want = referenceResize(crop(img, box), size, size);
        const what = `${w}x${h} → ${size} ${mode}`;
        expect(maxAbsDiff((await resizeForModel(img, size, mode)).data, want), `resizeForModel ${what}`).toBeLessThanOrEqual(1);
        const got = await decodeResized(file, size, mode, 'r.png');
        expect([got.width, got.height]).toEqual([w, h]);
        expect(maxAbsDiff(got.image.data, want), `decodeResized ${what}`).toBeLessThanOrEqual(1);
        const t = await loadImageTensor(file, { size, crop: mode, normalization: { mean: [0, 0, 0], std: [1, 1, 1] } });
        expect(maxAbsDiff(Uint8Array.from(t.tensor), want), `loadImageTensor ${what}`).toBeLessThanOrEqual(1);
      }
    }
  });

  it('EXIF orientation is applied before the resize (orientation 6, 3 and 5, both crops)', async () => {
    const stored = { width: 13, height: 7, data: randomPixels(13, 7, 55) };
    // What is displayed for each orientation, as a function of the stored pixels.
    const turned = (o: number): RgbImage => {
      const { width: W, height: H } = stored;
      const swap = o >= 5;
      const [w, h] = swap ? [H, W] : [W, H];
      const data = new Uint8Array(W * H * 3);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          // displayed (x, y) ← stored (sx, sy)
          const [sx, sy] = o === 6 ? [y, H - 1 - x] : o === 3 ? [W - 1 - x, H - 1 - y] : /* 5: transpose */ [y, x];
          data.set(stored.data.subarray((sy * W + sx) * 3, (sy * W + sx) * 3 + 3), (y * w + x) * 3);
        }
      }
      return { width: w, height: h, data };
    };
    for (const o of [6, 3, 5]) {
      const file = await png(stored, o);
      const shown = turned(o);
      for (const mode of ['none', 'center'] as const) {
        const box = mode === 'center' ? centralCropBox(shown.width, shown.height) : { left: 0, top: 0, width: shown.width, height: shown.height };
        const got = await decodeResized(file, 20, mode, 'o.png');
        expect([got.width, got.height]).toEqual([shown.width, shown.height]);
        expect(maxAbsDiff(got.image.data, referenceResize(crop(shown, box), 20, 20)), `orientation ${o} ${mode}`).toBeLessThanOrEqual(1);
      }
    }
  });
});
