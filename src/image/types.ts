/** A decoded image: 8-bit sRGB, 3 channels interleaved, rows top to bottom (H×W×3, row-major). */
export interface RgbImage {
  width: number;
  height: number;
  /** width * height * 3 bytes: R, G, B of the top-left pixel first. */
  data: Uint8Array;
}

/** Largest image (width × height) we decode or resize: 2^28 pixels, about 805 MB as RGB. */
export const MAX_PIXELS = 2 ** 28;
