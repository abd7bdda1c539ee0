// An image whose decode starts before the model that takes it is loaded. A one-photo run waits for the
// model (parsed and packed on the main thread) and for the photo (decoded by sharp on libuv's threads);
// started one after the other those waits add up, started together they overlap. The decode needs the
// model's input size, which the CLI reads from the model file's header (readInputSize) first.
import type { ResizedImage } from './decode.js';
import { loadImagePixels, type LoadImageTensorOptions } from './index.js';

export type EarlyDecodeOptions = Required<Pick<LoadImageTensorOptions, 'size' | 'crop' | 'maxPixels' | 'resize'>>;

export class EarlyDecode {
  /** The decode, started at construction; its failure (a bad image) is the failure of this input. */
  readonly pixels: Promise<ResizedImage>;
  /**
   * Settles once the decode runs off the main thread (or is over): awaited before work that holds the
   * main thread, which would otherwise delay the steps before it (reading the file and its header).
   */
  readonly running: Promise<void>;

  constructor(readonly path: string, readonly options: EarlyDecodeOptions) {
    let handedOver!: () => void;
    this.running = new Promise((resolve) => { handedOver = resolve; });
    this.pixels = loadImagePixels(path, { ...options, onDecoding: handedOver });
    // Awaited when the pipeline reaches this input; until then a rejection is not unhandled.
    this.pixels.then(handedOver, handedOver);
  }

  /** Whether the pixels are what the pipeline would make for a model taking `options`. */
  fits(options: EarlyDecodeOptions): boolean {
    const mine = this.options;
    return mine.size === options.size && mine.crop === options.crop && mine.maxPixels === options.maxPixels && mine.resize === options.resize;
  }
}
