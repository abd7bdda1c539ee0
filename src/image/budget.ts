// A bound on the memory of images being decoded at once, counted in pixels.
//
// Callers decode several images ahead (the CLI decodes 4 ahead of inference, a batch command more): a
// count of images does not bound memory when one image can be 100 million pixels. Every decode in this
// module first takes its pixels (width × height at the size it will really be decoded) from one shared
// budget and gives them back when done; a decode that does not fit waits. One image larger than the whole
// budget still runs, alone. Waiters are served in order, so a large image is not starved by small ones.

/** The default budget: 2^27 pixels (≈ 134 million, about 400 MB as RGB) decoding at once. */
export const DECODE_BUDGET_PIXELS = 2 ** 27;

export interface PixelBudgetStats {
  capacity: number;
  /** Pixels held now by running decodes. */
  inFlightPixels: number;
  /** Decodes running now. */
  inFlightCount: number;
  /** Decodes waiting for pixels. */
  waiting: number;
  /** The largest inFlightPixels / inFlightCount seen since creation or resetPeak(). */
  peakPixels: number;
  peakCount: number;
}

interface Waiter {
  pixels: number;
  grant: () => void;
}

/** An async semaphore counting pixels: acquire(n) waits until n pixels fit (or nothing else runs). */
export class PixelBudget {
  #capacity: number;
  #inFlightPixels = 0;
  #inFlightCount = 0;
  #peakPixels = 0;
  #peakCount = 0;
  readonly #queue: Waiter[] = [];

  constructor(capacity: number = DECODE_BUDGET_PIXELS) {
    this.#capacity = PixelBudget.#checkCapacity(capacity);
  }

  static #checkCapacity(capacity: number): number {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`pixel budget capacity must be a positive integer, got ${capacity}`);
    }
    return capacity;
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** Change the capacity; decodes already running keep their pixels, waiters that now fit start. */
  set capacity(capacity: number) {
    this.#capacity = PixelBudget.#checkCapacity(capacity);
    this.#grant();
  }

  /**
   * Wait until `pixels` fit in the budget (or nothing else holds any), take them, and resolve to the
   * function that gives them back (calling it again does nothing).
   */
  acquire(pixels: number): Promise<() => void> {
    const n = Number.isFinite(pixels) && pixels > 0 ? Math.ceil(pixels) : 1;
    return new Promise((resolve) => {
      this.#queue.push({
        pixels: n,
        grant: () => {
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            this.#inFlightPixels -= n;
            this.#inFlightCount--;
            this.#grant();
          });
        },
      });
      this.#grant();
    });
  }

  /** `fn` run while holding `pixels` of the budget. */
  async run<T>(pixels: number, fn: () => T | Promise<T>): Promise<T> {
    const release = await this.acquire(pixels);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  stats(): PixelBudgetStats {
    return {
      capacity: this.#capacity,
      inFlightPixels: this.#inFlightPixels,
      inFlightCount: this.#inFlightCount,
      waiting: this.#queue.length,
      peakPixels: this.#peakPixels,
      peakCount: this.#peakCount,
    };
  }

  /** Start the peak gauges again from what is in flight now. */
  resetPeak(): void {
    this.#peakPixels = this.#inFlightPixels;
    this.#peakCount = this.#inFlightCount;
  }

  #grant(): void {
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!;
      if (this.#inFlightCount > 0 && this.#inFlightPixels + head.pixels > this.#capacity) return;
      this.#queue.shift();
      this.#inFlightPixels += head.pixels;
      this.#inFlightCount++;
      this.#peakPixels = Math.max(this.#peakPixels, this.#inFlightPixels);
      this.#peakCount = Math.max(this.#peakCount, this.#inFlightCount);
      head.grant();
    }
  }
}

/** The budget every decode in src/image shares (decodeImage, decodeResized, loadImageTensor). */
export const decodeBudget = new PixelBudget(DECODE_BUDGET_PIXELS);
