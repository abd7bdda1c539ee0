// The library's core: a loaded model that classifies and embeds images.
import { createEngine, type Backend, type BackendChoice, type Plan, type Precision, type Rounding } from './engine/index.js';
import { isQuantizedBackend } from './engine/int8/engine.js';
import { PlanError } from './engine/planner.js';
import { DEFAULT_MAX_PIXELS, isRawImage, loadImagePixels, MAX_PIXELS, normalize, type RawImage, type ResizeMode } from './image/index.js';
import { EarlyDecode } from './image/early.js';
import { DEFAULT_MODEL } from './model/catalog.js';
import type { DownloadReporter } from './model/download.js';
import { resolveModel, type ResolvedModel } from './model/resolve.js';
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
  /**
   * int8 only: whose integer rounding to reproduce. 'tflite' (default): TFLite's reference kernels
   * (fixed-point multipliers), byte for byte; 'xnnpack': XNNPACK's (float scales rounded to nearest
   * even), which TFLite's default CPU delegate and LiteRT.js compute, byte for byte.
   */
  rounding?: Rounding;
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

/**
 * An image: a file path, the bytes of an encoded image, such bytes with a name, or raw pixels
 * `{ data, width, height, channels }` (8-bit, interleaved, 1 to 4 channels: sharp's `.raw()` output).
 * (An EarlyDecode is the CLI's own: a file whose decode it started while the model loaded.)
 */
export type ImageInput = string | Uint8Array | NamedImage | RawImage | EarlyDecode;

/** What classifyAll yields for each input: its predictions, or why that input could not be classified. */
export type ClassifyResult =
  | { input: ImageInput; index: number; predictions: Prediction[] }
  | { input: ImageInput; index: number; error: Error };

/** What embedAll yields for each input: its embedding, or why that input could not be embedded. */
export type EmbedResult =
  | { input: ImageInput; index: number; embedding: Float32Array }
  | { input: ImageInput; index: number; error: Error };

/** How classifyAll and embedAll run through their inputs. */
export interface BatchOptions {
  /** Images decoded or run at once (default 4): decoding runs on libuv's threads meanwhile. */
  concurrency?: number;
  /** Yield in input order (default true), or as each image finishes. */
  ordered?: boolean;
  /** Once aborted, no further input is taken; images already started are still yielded. */
  signal?: AbortSignal;
}

export interface ClassifyAllOptions extends ClassifyOptions, BatchOptions {}

export interface EmbedOptions {
  /** 'center' takes the central 87.5 % first, as in ImageNet evaluation. */
  crop?: 'none' | 'center';
  /** Images declaring more pixels are refused before decoding (default 100 million, at most 2^28). */
  maxPixels?: number;
  /** Scale the embedding to length 1 (L2), for cosine similarity as a dot product (default false). */
  normalize?: boolean;
  /** As ClassifyOptions.resize. */
  resize?: ResizeMode;
}

export interface EmbedAllOptions extends EmbedOptions, BatchOptions {}

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

/** The model has no classifier (a feature-vector model): it embeds images but cannot classify them. */
export class NoClassifierError extends Error {
  readonly code = 'MODEL_HAS_NO_CLASSIFIER';
  /** The model file or name, when known. */
  constructor(readonly file?: string) {
    super(`${file ? `${file}: ` : ''}the model has no classifier (a feature-vector model): it can embed images, not classify them`);
    this.name = 'NoClassifierError';
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

function checkEmbedOptions(options: EmbedOptions | undefined): Required<EmbedOptions> {
  const { crop = 'none', maxPixels = DEFAULT_MAX_PIXELS, normalize = false, resize = 'default' } = checkOptions('options', options);
  if (typeof normalize !== 'boolean') throw new TypeError(`normalize must be true or false, got ${describe(normalize)}`);
  return {
    crop: checkChoice('crop', crop, CROPS), maxPixels: checkInteger('maxPixels', maxPixels, 1, MAX_PIXELS), normalize,
    resize: checkChoice('resize', resize, RESIZES),
  };
}

function checkBatchOptions(options: BatchOptions): Required<Omit<BatchOptions, 'signal'>> & Pick<BatchOptions, 'signal'> {
  const { concurrency = DEFAULT_CONCURRENCY, ordered = true, signal } = options;
  return { concurrency: checkInteger('concurrency', concurrency, 1, MAX_CONCURRENCY), ordered, signal };
}

function checkInputs(inputs: unknown): asserts inputs is Iterable<ImageInput> | AsyncIterable<ImageInput> {
  if (inputs === null || typeof inputs !== 'object' || !(Symbol.iterator in inputs || Symbol.asyncIterator in inputs)) {
    throw new TypeError(`inputs must be an iterable or async iterable of images, got ${describe(inputs)}`);
  }
}

/** The vector scaled to length 1, in place (an all-zero vector stays zero). */
function normalizeL2(vector: Float32Array): Float32Array {
  let sum = 0;
  for (const value of vector) sum += value * value;
  const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
  for (let i = 0; i < vector.length; i++) vector[i]! *= scale;
  return vector;
}

function isNamedImage(image: unknown): image is NamedImage {
  return typeof image === 'object' && image !== null && typeof (image as NamedImage).name === 'string'
    && ((image as NamedImage).bytes instanceof Uint8Array || (image as NamedImage).bytes instanceof Promise);
}

function checkImage(image: unknown): asserts image is ImageInput {
  if (!(typeof image === 'string' && image !== '') && !(image instanceof Uint8Array) && !isNamedImage(image) && !isRawImage(image)
    && !(image instanceof EarlyDecode)) {
    throw new TypeError('image must be a file path, the bytes of an encoded image (Buffer or Uint8Array), '
      + `{ name, bytes } or raw pixels { data, width, height, channels }, got ${describe(image)}`);
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
  /** Plan steps up to and including the global pool: an embedding is that step's output. */
  readonly #embeddingSteps: number;

  constructor(
    readonly spec: ModelSpec,
    readonly plan: Plan,
    readonly backend: Backend,
    readonly labels: readonly string[] | undefined,
    /** The model file or name, for error messages. */
    readonly source?: string,
  ) {
    this.#embeddingSteps = plan.steps.findIndex((step) => step.op === 'avgpool') + 1;
  }

  /** Whether the model classifies: false for a feature-vector model, which only embeds. */
  get hasClassifier(): boolean {
    return this.spec.numClasses > 0;
  }

  /** Length of an embedding: the channels of the global pool (1024 for v1 α = 1, 1280 for v2); 0 without a pool. */
  get embeddingSize(): number {
    const pool = this.plan.steps[this.#embeddingSteps - 1];
    return pool?.op === 'avgpool' ? pool.channels : 0;
  }

  #requireClassifier(): void {
    if (!this.hasClassifier) throw new NoClassifierError(this.source);
  }

  /**
   * Class probabilities for an already normalised NHWC input tensor (resolution² × 3 floats). An int8
   * model quantizes it by its input quantization first (classify feeds it the pixel bytes instead).
   */
  async predict(input: Float32Array): Promise<Float32Array> {
    if (this.#disposed) throw new ModelDisposedError();
    this.#requireClassifier();
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

  /** In int8, whose rounding the network reproduces (see LoadModelOptions.rounding); undefined in fp32. */
  get rounding(): Rounding | undefined {
    return isQuantizedBackend(this.backend) ? this.backend.qplan.rounding : undefined;
  }

  /** Decodes, resizes and normalises an image (a path, encoded bytes or raw pixels), then classifies it. */
  async classify(image: ImageInput, options?: ClassifyOptions): Promise<Prediction[]> {
    const checked = checkClassifyOptions(options);
    this.#requireClassifier();
    return this.topK(await this.#infer(await this.#input(image, checked)), checked);
  }

  /**
   * The network's input for an image: the normalised float tensor, or for an int8 model the
   * quantized tensor made from the resized pixels directly (no float image in between).
   */
  async #input(image: ImageInput, options: Pick<ClassifyOptions, 'crop' | 'maxPixels' | 'resize'>): Promise<Float32Array | Int8Array> {
    const backend = this.backend;
    if (!isQuantizedBackend(backend)) return this.prepare(image, options);
    return backend.quantizePixels(await this.#pixels(image, options), true); // the resized pixels are this call's own
  }

  /** The image decoded (or taken raw), cropped and resized to the model's input: RGB bytes. */
  async #pixels(image: ImageInput, options: Pick<ClassifyOptions, 'crop' | 'maxPixels' | 'resize'> | undefined): Promise<Uint8Array> {
    if (this.#disposed) throw new ModelDisposedError();
    checkImage(image);
    const { crop, maxPixels, resize } = checkClassifyOptions(options);
    if (image instanceof EarlyDecode) {
      const wanted = { size: this.spec.resolution, crop, maxPixels, resize };
      if (image.fits(wanted)) return (await image.pixels).image.data;
      image = image.path; // started for another input size: decoded again, as any path
    }
    const { image: pixels } = await loadImagePixels(isNamedImage(image) ? await image.bytes : image, {
      name: isNamedImage(image) ? image.name : undefined,
      size: this.spec.resolution,
      crop,
      maxPixels,
      resize,
    });
    return pixels.data;
  }

  /** Runs the network on an input from #input, up to `steps` plan steps (default: all). */
  async #infer(input: Float32Array | Int8Array, steps?: number): Promise<Float32Array> {
    if (this.#disposed) throw new ModelDisposedError();
    const backend = this.backend;
    if (input instanceof Int8Array && isQuantizedBackend(backend)) return backend.runQuantized(input, steps);
    return steps === undefined ? this.predict(input as Float32Array) : backend.run(input as Float32Array, steps);
  }

  /**
   * The image's embedding: the output of the global average pool, the features the classifier
   * reads (1024 values for v1 α = 1, 1280 for v2; `embeddingSize`). Models without classifier embed too.
   */
  async embed(image: ImageInput, options?: EmbedOptions): Promise<Float32Array> {
    const checked = checkEmbedOptions(options);
    return this.#embedTensor(await this.#input(image, checked), checked.normalize);
  }

  async #embedTensor(tensor: Float32Array | Int8Array, normalize: boolean): Promise<Float32Array> {
    if (this.#disposed) throw new ModelDisposedError();
    if (this.#embeddingSteps === 0) throw new PlanError('the model has no global pool to take an embedding from', this.source);
    const embedding = await this.#infer(tensor, this.#embeddingSteps);
    return normalize ? normalizeL2(embedding) : embedding;
  }

  /** The input tensor for an image (a path, encoded bytes or raw pixels): decoded, resized, normalised. */
  async prepare(image: ImageInput, options?: Pick<ClassifyOptions, 'crop' | 'maxPixels' | 'resize'>): Promise<Float32Array> {
    const data = await this.#pixels(image, options);
    const size = this.spec.resolution;
    return normalize({ width: size, height: size, data }, this.spec.normalization);
  }

  /** The best classes of a probability vector, best first (ties: lower index first), none scoring 0. */
  topK(probabilities: Float32Array, options?: ClassifyOptions): Prediction[] {
    const { topK, threshold } = checkClassifyOptions(options);
    this.#requireClassifier();
    return bestIndices(probabilities, Math.min(topK, probabilities.length))
      // A class at exactly 0 is no prediction (int8 probabilities come in steps of 1/256).
      .filter((index) => probabilities[index]! >= threshold && probabilities[index]! > 0)
      .map((index) => ({ index, label: labelOf(this.labels, index), score: probabilities[index]! }));
  }

  /**
   * Classifies a stream of images (an array, a generator, any async iterable), a few at a time, and
   * yields one result per input: bad images are results with an error, and the run goes on. Inputs are
   * read only as fast as results are taken, so memory stays bounded whatever the stream's length.
   * A failure of inference itself (not of an input) ends the iteration with that error.
   */
  async *classifyAll(inputs: Iterable<ImageInput> | AsyncIterable<ImageInput>, options?: ClassifyAllOptions): AsyncGenerator<ClassifyResult> {
    const { concurrency, ordered, signal, ...rest } = checkOptions('options', options);
    const batch = checkBatchOptions({ concurrency, ordered, signal });
    const checked = checkClassifyOptions(rest);
    this.#requireClassifier();
    yield* this.#pipeline(inputs, batch, checked, async (tensor) => ({ predictions: this.topK(await this.#infer(tensor), checked) }));
  }

  /**
   * Embeds a stream of images as classifyAll classifies them (same pipeline, bounds and order), yielding
   * one result per input: its embedding, or the error of a bad image.
   */
  async *embedAll(inputs: Iterable<ImageInput> | AsyncIterable<ImageInput>, options?: EmbedAllOptions): AsyncGenerator<EmbedResult> {
    const { concurrency, ordered, signal, ...rest } = checkOptions('options', options);
    const batch = checkBatchOptions({ concurrency, ordered, signal });
    const checked = checkEmbedOptions(rest);
    yield* this.#pipeline(inputs, batch, checked, async (tensor) => ({ embedding: await this.#embedTensor(tensor, checked.normalize) }));
  }

  /**
   * The batch pipeline under classifyAll and embedAll: at most `concurrency` inputs decoded or run at
   * once, each input prepared (a bad one becomes a result with its error), then `infer`red.
   */
  async *#pipeline<R extends object>(
    inputs: Iterable<ImageInput> | AsyncIterable<ImageInput>,
    batch: ReturnType<typeof checkBatchOptions>,
    image: Pick<ClassifyOptions, 'crop' | 'maxPixels' | 'resize'>,
    infer: (tensor: Float32Array | Int8Array) => Promise<R>,
  ): AsyncGenerator<({ input: ImageInput; index: number } & R) | { input: ImageInput; index: number; error: Error }> {
    checkInputs(inputs);
    const work = async (input: ImageInput, index: number) => {
      let tensor: Float32Array | Int8Array;
      try {
        tensor = await this.#input(input, image);
      } catch (error) {
        if (error instanceof ModelDisposedError) throw error;
        return { input, index, error: error instanceof Error ? error : new Error(String(error)) };
      }
      return { input, index, ...(await infer(tensor)) };
    };
    yield* boundedMap(inputs, work, batch);
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
  const options = checkLoadOptions(loadOptions);
  if (typeof model !== 'string' && (model === null || typeof model !== 'object')) {
    throw new TypeError(`model must be a model name, a .tflite path or a model spec, got ${describe(model)}`);
  }
  if (typeof model !== 'string') return startModel(model, undefined, options);
  return loadResolvedModel(await resolveModel(model, { offline: options.offline, reporter: options.onDownload }), options);
}

/**
 * loadModel for a model file already found, with its bytes when the caller has read them (the CLI
 * reads a file's header before loading it: the file is then parsed from those bytes, not read again).
 */
export async function loadResolvedModel(resolved: ResolvedModel, loadOptions?: LoadModelOptions): Promise<Classifier> {
  const options = checkLoadOptions(loadOptions);
  const parseOptions = { onWarning: warningSink(options) };
  const spec = resolved.bytes ? parseTflite(resolved.bytes, resolved.file, parseOptions) : await loadTfliteFile(resolved.file, parseOptions);
  return startModel(spec, resolved.file, options);
}

function checkLoadOptions(loadOptions: LoadModelOptions | undefined): LoadModelOptions {
  const options = checkOptions('options', loadOptions);
  if (options.backend !== undefined) checkChoice('backend', options.backend, ['auto', 'native', 'reference'] as const);
  if (options.threads !== undefined) checkInteger('threads', options.threads, 1, MAX_THREADS);
  if (options.precision !== undefined) checkChoice('precision', options.precision, ['int8', 'fp32'] as const);
  if (options.rounding !== undefined) checkChoice('rounding', options.rounding, ['tflite', 'xnnpack'] as const);
  return options;
}

function warningSink(options: LoadModelOptions): (message: string) => void {
  return options.onWarning ?? ((message: string) => process.emitWarning(message, { code: 'MOBILENET_MODEL' }));
}

/** Labels, the int8 warning and the engine for a spec read from `file` (or given). */
async function startModel(spec: ModelSpec, file: string | undefined, options: LoadModelOptions): Promise<Classifier> {
  if (options.labelsFile && spec.numClasses === 0) throw new NoClassifierError(file);
  const labels = options.labelsFile ? await readLabels(options.labelsFile, spec.numClasses) : spec.labels;
  if (options.precision === undefined && spec.int8Unsupported) {
    warningSink(options)(`${file ?? 'the model'}: runs in fp32, not int8: ${spec.int8Unsupported}`);
  }
  let engine: ReturnType<typeof createEngine>;
  try {
    engine = createEngine(spec, { ...options, int8Rounding: options.rounding, file });
  } catch (error) {
    throw error instanceof PlanError && file && !error.file ? new PlanError(error.message, file) : error;
  }
  const { plan, backend } = engine;
  return new Classifier(spec, plan, backend, labels, file);
}
