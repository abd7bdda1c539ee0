export { Classifier, loadModel, ModelDisposedError, NoClassifierError } from './classifier.js';
export type {
  BatchOptions, ClassifyAllOptions, ClassifyOptions, ClassifyResult, EmbedAllOptions, EmbedOptions, EmbedResult, ImageInput,
  LoadModelOptions, NamedImage, Prediction,
} from './classifier.js';
export type { RawImage } from './image/index.js';
export { createEngine, NativeUnavailableError, planModel } from './engine/index.js';
export { PlanError } from './engine/planner.js';
export { ImageDecodeError, InputTooLargeError } from './image/errors.js';
export { LabelsError } from './model/labels.js';
export { ModelFormatError } from './tflite/errors.js';
export type { Backend, BackendChoice, BackendName, Plan, Rounding } from './engine/index.js';
export { createRandomModel } from './model/random-model.js';
export { architectureShapes } from './model/architecture.js';
export { inspectModel } from './inspect/index.js';
export type { EngineMemory, InspectedLayer, Inspection, InspectOptions } from './inspect/index.js';
export { CATALOG, DEFAULT_MODEL, findModel } from './model/catalog.js';
export type { CatalogEntry, Precision } from './model/catalog.js';
export { modelsFolder } from './model/cache.js';
export { ModelDownloadError } from './model/download.js';
export type { DownloadReporter } from './model/download.js';
export { ModelNotFoundError } from './model/resolve.js';
export type { Arch, ModelSpec, Layer } from './model/spec.js';
