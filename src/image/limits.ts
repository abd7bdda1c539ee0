// Input limits: how many bytes an image file may have, and how many pixels an image may declare.

import { MAX_PIXELS } from './types.js';

/**
 * Largest image file (or stdin input) we read: 256 MiB. Checked from the file's size before anything
 * is read, so a huge file costs nothing; a file that grows while it is read is read only up to the
 * size it had when opened.
 */
export const MAX_FILE_BYTES = 256 * 2 ** 20;

/**
 * Default largest image (width × height, as declared in its header) we decode: 100 million pixels, e.g.
 * 12 000 × 8 000 (300 MB as RGB). Far above what a 224×224 classifier needs, far below sharp's default.
 * The `maxPixels` option changes it, up to `MAX_PIXELS` (2^28).
 */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/** The `maxPixels` option, checked: undefined → DEFAULT_MAX_PIXELS; otherwise an integer in [1, MAX_PIXELS]. */
export function resolveMaxPixels(maxPixels: number | undefined): number {
  if (maxPixels === undefined) return DEFAULT_MAX_PIXELS;
  if (!Number.isInteger(maxPixels) || maxPixels < 1 || maxPixels > MAX_PIXELS) {
    throw new RangeError(`maxPixels must be an integer from 1 to ${MAX_PIXELS}, got ${maxPixels}`);
  }
  return maxPixels;
}

/** The problem text for an image over the pixel limit (the hint only when the limit can still be raised). */
export function pixelLimitProblem(width: number, height: number, maxPixels: number): string {
  const hint = maxPixels < MAX_PIXELS ? '; --max-pixels raises it' : '';
  return `image too large (${width}×${height} = ${width * height} pixels, the limit is ${maxPixels}${hint})`;
}

/** The problem text when only the limit is known (sharp refused without us knowing the size). */
export function pixelLimitProblemUnknownSize(maxPixels: number): string {
  const hint = maxPixels < MAX_PIXELS ? '; --max-pixels raises it' : '';
  return `image too large (more than ${maxPixels} pixels${hint})`;
}
