export { Classifier, loadModel, ModelNotFoundError } from './classifier.js';
export type { ClassifyOptions, LoadModelOptions, Prediction } from './classifier.js';
export { createEngine, planModel } from './engine/index.js';
export type { Backend, BackendName, Plan } from './engine/index.js';
export { createRandomModel } from './model/random-model.js';
export { architectureShapes } from './model/architecture.js';
export { CATALOG, DEFAULT_MODEL, modelsFolder } from './model/catalog.js';
export type { Arch, ModelSpec, Layer } from './model/spec.js';
