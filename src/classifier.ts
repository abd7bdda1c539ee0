// The library's core: a loaded model that classifies images.
import { createEngine, type Backend, type BackendChoice, type Plan, type Precision } from './engine/index.js';
import { isQuantizedBackend } from './engine/int8/engine.js';
import { PlanError } from './engine/planner.js';
import { decodeResized, DEFAULT_MAX_PIXELS, loadImageTensor, MAX_PIXELS, type ResizeMode } from './image/index.js';
import { DEFAULT_MODEL } from './model/catalog.js';
import type { DownloadReporter } from './model/download.js';
import { resolveModel } from './model/resolve.js';
import { labelOf, readLabels } from './model/labels.js';
import type { ModelSpec } from './model/spec.js';
import { loadTfliteFile, parseTflite } from './tflite/index.js';
import { boundedMap } from './util/bounded-map.js';
import { checkChoice, checkInteger, checkNumber, checkOptions, describe } from './validate.js';

export interface Prediction {
  /** Class index in the model's output (0 is "background" for the ImageNet models). */
  index: number;
  label: string;
  score: number;
}

export interface LoadModelOptions {
  /** 'auto' (default): the C++ addon, or the TypeScript backend with a warning where it cannot load. */
  backend?: BackendChoice;
  /** CPU threads for inference (default 1). */
  threads?: number;
  /**
   * 'int8': integer arithmetic as TFLite runs a quantized model (its answers, faster); 'fp32': the
   * weights dequantized to floats. Default: int8 for a quantized model, fp32 for a float one.
   */
  precision?: Precision;
  isa?: string;
  /** A label file that replaces the labels inside the model. */
  labelsFile?: string;
  /** Told when 'auto' falls back to the TypeScript backend (default: process.emitWarning). */
  onFallback?: (reason: string) => void;
  /** Told of what the reader found wrong but usable in a model file, e.g. labels that do not fit (default: process.emitWarning). */
  onWarning?: (message: string) => void;
  /** Never download a catalog model missing from the models folder (default: $MOBILENET_OFFLINE). */
  offline?: boolean;
  /** Told how a download of a catalog model goes (start, bytes received, retries, done). */
  onDownload?: DownloadReporter;
}

/** The bytes of an encoded image with the name its errors carry (e.g. `-` for stdin), or a promise of them. */
export interface NamedImage {
  name: string;
  bytes: Uint8Array | Promise<Uint8Array>;
}

/** An image: a file path, the bytes of an encoded image, or such bytes with a name. */
export type ImageInput = string | Uint8Array | NamedImage;

/** What classifyAll yields for each input: its predictions, or why that input could not be classified. */
export type ClassifyResult =
  | { input: ImageInput; index: number; predictions: Prediction[] }
  | { input: ImageInput; index: number; error: Error };

export interface ClassifyAllOptions extends ClassifyOptions {
  /** Images decoded or classified at once (default 4): decoding runs on libuv's threads meanwhile. */
  concurrency?: number;
  /** Yield in input order (default true), or as each image finishes. */
  ordered?: boolean;
  /** Once aborted, no further input is taken; images already started are still yielded. */
  signal?: AbortSignal;
}

export interface ClassifyOptions {
  topK?: number;
  /** Only predictions scoring at least this. */
  threshold?: number;
  /** 'center' takes the central 87.5 % first, as in ImageNet evaluation. */
  crop?: 'none' | 'center';
  /** Images declaring more pixels are refused before decoding (default 100 million, at most 2^28). */
  maxPixels?: number;
  /**
   * 'default': our resizer (antialiased when shrinking, decoded already reduced: fast); 'tflite':
   * TFLite's RESIZE_BILINEAR on the full-size image, for pixel-exact comparisons with TFLite.
   */
  resize?: ResizeMode;
}

/** The model was disposed: it runs nothing any more. */
export class ModelDisposedError extends Error {
  readonly code = 'MODEL_DISPOSED';
  constructor() {
    super('the model was disposed');
    this.name = 'ModelDisposedError';
  }
}

const DEFAULT_CONCURRENCY = 4;
const MAX_CONCURRENCY = 1024;

/** Most threads a model may ask for (more than any machine this runs on has cores). */
const MAX_THREADS = 256;
const CROPS = ['none', 'center'] as const;
const RESIZES = ['default', 'tflite'] as const;

function checkClassifyOptions(options: ClassifyOptions | undefined): Required<ClassifyOptions> {
  const { topK = 5, threshold = 0, crop = 'none', maxPixels = DEFAULT_MAX_PIXELS, resize = 'default' } = checkOptions('options', options);
  return {
    resize: checkChoice('resize', resize, RESIZES),
    topK: checkInteger('topK', topK, 1, Number.MAX_SAFE_INTEGER),
    threshold: checkNumber('threshold', threshold, 0, 1),
    crop: checkChoice('crop', crop, CROPS),
    maxPixels: checkInteger('maxPixels', maxPixels, 1, MAX_PIXELS),
  };
}

function isNamedImage(image: unknown): image is NamedImage {
  return typeof image === 'object' && image !== null && typeof (image as NamedImage).name === 'string'
    && ((image as NamedImage).bytes instanceof Uint8Array || (image as NamedImage).bytes instanceof Promise);
}

function checkImage(image: unknown): asserts image is ImageInput {
  if (!(typeof image === 'string' && image !== '') && !(image instanceof Uint8Array) && !isNamedImage(image)) {
    throw new TypeError('image must be a file path, the bytes of an encoded image (Buffer or Uint8Array) '
      + `or { name, bytes }, got ${describe(image)}`);
  }
}

/** Indices of the k largest values, largest first (ties: lower index first): one pass, no full sort. */
function bestIndices(values: Float32Array, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (best.length === k) {
      if (!(value > values[best[k - 1]!]!)) continue;
      best.pop();
    }
    let at = best.length;
    while (at > 0 && value > values[best[at - 1]!]!) at--;
    best.splice(at, 0, i);
  }
  return best;
}

/**
 * A loaded model. Every method that does work returns a promise and reports bad arguments and
 * failures by rejecting it; calls may overlap (the backend queues inferences).
 */
export class Classifier {
  #disposed = false;

  constructor(
    readonly spec: ModelSpec,
    readonly plan: Plan,
    readonly backend: Backend,
    readonly labels: readonly string[] | undefined,
  ) {}

  /** Class probabilities for an already normalised NHWC input tensor (resolution² × 3 floats). */
  async predict(input: Float32Array): Promise<Float32Array> {
    if (this.#disposed) throw new ModelDisposedError();
    const expected = this.spec.resolution ** 2 * 3;
    if (!(input instanceof Float32Array) || input.length !== expected) {
      throw new TypeError(`input must be a Float32Array of ${expected} values (${this.spec.resolution}×${this.spec.resolution}×3), got ${
        input instanceof Float32Array ? `${input.length} values` : describe(input)}`);
    }
    return this.backend.run(input);
  }

  /** 'int8' or 'fp32': how the network computes (see LoadModelOptions.precision). */
  get precision(): Precision {
    return isQuantizedBackend(this.backend) ? 'int8' : 'fp32';
  }

  /** Decodes, resizes and normalises an image (a path or encoded bytes), then classifies it. */
  async classify(image: string | Uint8Array, options?: ClassifyOptions): Promise<Prediction[]> {
    const checked = checkClassifyOptions(options);
    return this.topK(await this.#infer(await this.#input(image, checked)), checked);
  }

  /**
   * The network's input for an image: the normalised float tensor, or for an int8 model the
   * quantized tensor made from the resized pixels directly (no float image in between).
   */
  async #input(image: ImageInput, options: Pick<ClassifyOptions, 'crop' | 'maxPixels' | 'resize'>): Promise<Float32Array | Int8Array> {
    const backend = this.backend;
    if (!isQuantizedBackend(backend)) return this.prepare(image, options);
    if (this.#disposed) throw new ModelDisposedError();
    checkImage(image);
    const { crop, maxPixels, resize } = checkClassifyOptions(options);
    const { image: pixels } = await decodeResized(isNamedImage(image) ? await image.bytes : image, this.spec.resolution, crop, {
      name: isNamedImage(image) ? image.name : undefined,
      maxPixels,
    }, resize);
    return backend.quantizePixels(pixels.data);
  }

  async #infer(input: Float32Array | Int8Array): Promise<Float32Array> {
    const backend = this.backend;
    if (input instanceof Float32Array || !isQuantizedBackend(backend)) return this.predict(input as Float32Array);
    if (this.#disposed) throw new ModelDisposedError();
    return backend.runQuantized(input);
  }

  /** The input tensor for an image (a path or encoded bytes): decoded, resized, normalised. */
  async prepare(image: ImageInput, options?: Pick<ClassifyOptions, 'crop' | 'maxPixels' | 'resize'>): Promise<Float32Array> {
    if (this.#disposed) throw new ModelDisposedError();
    checkImage(image);
    const { crop, maxPixels, resize } = checkClassifyOptions(options);
    const { tensor } = await loadImageTensor(isNamedImage(image) ? await image.bytes : image, {
      name: isNamedImage(image) ? image.name : undefined,
      size: this.spec.resolution,
      crop,
      maxPixels,
      normalization: this.spec.normalization,
      resize,
    });
    return tensor;
  }

  /** The best classes of a probability vector, best first (ties: lower index first). */
  topK(probabilities: Float32Array, options?: ClassifyOptions): Prediction[] {
    const { topK, threshold } = checkClassifyOptions(options);
    return bestIndices(probabilities, Math.min(topK, probabilities.length))
      .filter((index) => probabilities[index]! >= threshold)
      .map((index) => ({ index, label: labelOf(this.labels, index), score: probabilities[index]! }));
  }

  /**
   * Classifies a stream of images (an array, a generator, any async iterable), a few at a time, and
   * yields one result per input: bad images are results with an error, and the run goes on. Inputs are
   * read only as fast as results are taken, so memory stays bounded whatever the stream's length.
   * A failure of inference itself (not of an input) ends the iteration with that error.
   */
  async *classifyAll(inputs: Iterable<ImageInput> | AsyncIterable<ImageInput>, options?: ClassifyAllOptions): AsyncGenerator<ClassifyResult> {
    const { concurrency = DEFAULT_CONCURRENCY, ordered = true, signal, ...rest } = checkOptions('options', options);
    checkInteger('concurrency', concurrency, 1, MAX_CONCURRENCY);
    const checked = checkClassifyOptions(rest);
    if (inputs === null || typeof inputs !== 'object' || !(Symbol.iterator in inputs || Symbol.asyncIterator in inputs)) {
      throw new TypeError(`inputs must be an iterable or async iterable of images, got ${describe(inputs)}`);
    }
    const work = async (input: ImageInput, index: number): Promise<ClassifyResult> => {
      let tensor: Float32Array | Int8Array;
      try {
        tensor = await this.#input(input, checked);
      } catch (error) {
        if (error instanceof ModelDisposedError) throw error;
        return { input, index, error: error instanceof Error ? error : new Error(String(error)) };
      }
      return { input, index, predictions: this.topK(await this.#infer(tensor), checked) };
    };
    yield* boundedMap(inputs, work, { concurrency, ordered, signal });
  }

  /** Frees the backend; later calls reject with ModelDisposedError. Calling it again does nothing. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.backend.dispose();
  }
}

/** Loads a model (a catalog name, a .tflite path, or a spec) and starts its backend. */
export async function loadModel(model: string | ModelSpec = DEFAULT_MODEL, loadOptions?: LoadModelOptions): Promise<Classifier> {
  const options = checkOptions('options', loadOptions);
  if (options.backend !== undefined) checkChoice('backend', options.backend, ['auto', 'native', 'reference'] as const);
  if (options.threads !== undefined) checkInteger('threads', options.threads, 1, MAX_THREADS);
  if (options.precision !== undefined) checkChoice('precision', options.precision, ['int8', 'fp32'] as const);
  if (typeof model !== 'string' && (model === null || typeof model !== 'object')) {
    throw new TypeError(`model must be a model name, a .tflite path or a model spec, got ${describe(model)}`);
  }
  const resolved = typeof model === 'string' ? await resolveModel(model, { offline: options.offline, reporter: options.onDownload }) : undefined;
  const file = resolved?.file;
  const parseOptions = { onWarning: options.onWarning ?? ((message: string) => process.emitWarning(message, { code: 'MOBILENET_MODEL' })) };
  const spec = resolved
    ? resolved.bytes ? parseTflite(resolved.bytes, resolved.file, parseOptions) : await loadTfliteFile(resolved.file, parseOptions)
    : model as ModelSpec;
  const labels = options.labelsFile ? await readLabels(options.labelsFile, spec.numClasses) : spec.labels;
  if (options.precision === undefined && spec.int8Unsupported) {
    parseOptions.onWarning(`${file ?? 'the model'}: runs in fp32, not int8: ${spec.int8Unsupported}`);
  }
  let engine: ReturnType<typeof createEngine>;
  try {
    engine = createEngine(spec, { ...options, file });
  } catch (error) {
    throw error instanceof PlanError && file && !error.file ? new PlanError(error.message, file) : error;
  }
  const { plan, backend } = engine;
  return new Classifier(spec, plan, backend, labels);
}
