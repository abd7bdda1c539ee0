// The library's core: a loaded model that classifies images.
import { access } from 'node:fs/promises';
import { createEngine, type Backend, type BackendName, type Plan } from './engine/index.js';
import { loadImageTensor } from './image/index.js';
import { CATALOG, DEFAULT_MODEL, isModelPath, modelFile } from './model/catalog.js';
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
}

export interface ClassifyOptions {
  topK?: number;
  /** Only predictions scoring at least this. */
  threshold?: number;
  /** 'center' takes the central 87.5 % first, as in ImageNet evaluation. */
  crop?: 'none' | 'center';
}

export class ModelNotFoundError extends Error {}

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

async function readModelSpec(model: string): Promise<ModelSpec> {
  const file = modelFile(model);
  if (!isModelPath(model)) {
    const exists = await access(file).then(() => true, () => false);
    if (!exists) {
      const known = CATALOG.some((entry) => entry.name === model)
        ? ''
        : ` (known models: ${CATALOG.map((entry) => entry.name).join(', ')})`;
      throw new ModelNotFoundError(
        `model '${model}' not found: looked for ${file}${known}; put the .tflite file there, set MOBILENET_HOME to the folder that has it, or pass a path to a .tflite file`,
      );
    }
  }
  return loadTfliteFile(file);
}

/** Loads a model (a catalog name, a .tflite path, or a spec) and starts its backend. */
export async function loadModel(model: string | ModelSpec = DEFAULT_MODEL, options: LoadModelOptions = {}): Promise<Classifier> {
  const spec = typeof model === 'string' ? await readModelSpec(model) : model;
  const labels = options.labelsFile ? await readLabels(options.labelsFile, spec.numClasses) : spec.labels;
  const { plan, backend } = createEngine(spec, options);
  return new Classifier(spec, plan, backend, labels);
}
