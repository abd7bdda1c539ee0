// The library's core: a loaded model that classifies images.
import { createEngine, type Backend, type BackendName, type Plan } from './engine/index.js';
import { loadImageTensor } from './image/index.js';
import { DEFAULT_MODEL } from './model/catalog.js';
import type { DownloadReporter } from './model/download.js';
import { resolveModelFile } from './model/resolve.js';
import { labelOf, readLabels } from './model/labels.js';
import type { ModelSpec } from './model/spec.js';
import { loadTfliteFile } from './tflite/index.js';

export interface Prediction {
  /** Class index in the model's output (0 is "background" for the ImageNet models). */
  index: number;
  label: string;
  score: number;
}

export interface LoadModelOptions {
  backend?: BackendName;
  threads?: number;
  isa?: string;
  /** A label file that replaces the labels inside the model. */
  labelsFile?: string;
  /** Told once when the native backend is unavailable and the TypeScript one is used instead. */
  onFallback?: (reason: string) => void;
  /** Never download a catalog model missing from the models folder (default: $MOBILENET_OFFLINE). */
  offline?: boolean;
  /** Told how a download of a catalog model goes (start, bytes received, retries, done). */
  onDownload?: DownloadReporter;
}

export interface ClassifyOptions {
  topK?: number;
  /** Only predictions scoring at least this. */
  threshold?: number;
  /** 'center' takes the central 87.5 % first, as in ImageNet evaluation. */
  crop?: 'none' | 'center';
}

export class Classifier {
  constructor(
    readonly spec: ModelSpec,
    readonly plan: Plan,
    readonly backend: Backend,
    readonly labels: readonly string[] | undefined,
  ) {}

  /** Class probabilities for an already normalised NHWC input tensor. */
  predict(input: Float32Array): Promise<Float32Array> {
    return this.backend.run(input);
  }

  /** Decodes, resizes and normalises an image (a path or encoded bytes), then classifies it. */
  async classify(image: string | Buffer, options: ClassifyOptions = {}): Promise<Prediction[]> {
    const tensor = await this.prepare(image, options.crop);
    return this.topK(await this.predict(tensor), options);
  }

  /** The input tensor for an image (a path or encoded bytes): decoded, resized, normalised. */
  async prepare(image: string | Buffer, crop: ClassifyOptions['crop'] = 'none'): Promise<Float32Array> {
    const { tensor } = await loadImageTensor(image, {
      size: this.spec.resolution,
      crop,
      normalization: this.spec.normalization,
    });
    return tensor;
  }

  topK(probabilities: Float32Array, { topK = 5, threshold = 0 }: ClassifyOptions = {}): Prediction[] {
    const order = Array.from(probabilities.keys()).sort((a, b) => probabilities[b] - probabilities[a]);
    return order
      .slice(0, topK)
      .filter((index) => probabilities[index] >= threshold)
      .map((index) => ({ index, label: labelOf(this.labels, index), score: probabilities[index] }));
  }

  dispose(): void {
    this.backend.dispose();
  }
}

/** Loads a model (a catalog name, a .tflite path, or a spec) and starts its backend. */
export async function loadModel(model: string | ModelSpec = DEFAULT_MODEL, options: LoadModelOptions = {}): Promise<Classifier> {
  const spec = typeof model === 'string'
    ? await loadTfliteFile(await resolveModelFile(model, { offline: options.offline, reporter: options.onDownload }))
    : model;
  const labels = options.labelsFile ? await readLabels(options.labelsFile, spec.numClasses) : spec.labels;
  const { plan, backend } = createEngine(spec, options);
  return new Classifier(spec, plan, backend, labels);
}
