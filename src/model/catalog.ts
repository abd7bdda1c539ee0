// The pretrained models the tool knows by name: where each is published and its checksum, so a
// models folder can be filled (and verified) from public, pinned URLs.
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface CatalogEntry {
  name: string;
  file: string;
  url: string;
  sha256: string;
}

const CORAL_TEST_DATA = 'https://raw.githubusercontent.com/google-coral/test_data/104342d2d3480b3e66203073dac24f4e2dbb4c41';

const entry = (name: string, sha256: string): CatalogEntry => ({
  name, file: `${name}.tflite`, url: `${CORAL_TEST_DATA}/${name}.tflite`, sha256,
});

export const CATALOG: readonly CatalogEntry[] = [
  entry('mobilenet_v2_1.0_224_quant', '7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776'),
  entry('tf2_mobilenet_v2_1.0_224_ptq', '5d3137241276e79c86d14a74fe43581398ae0e815191d3dba45495b810840e8c'),
  entry('mobilenet_v1_0.75_192_quant', '41daeb22fdcf947e0e5ec32373aa9df7c31f3ef45dbd0ef7b5940fbce3c20f6a'),
  entry('mobilenet_v1_0.5_160_quant', '3cc6d2ca460abd2e0f699a6d0d2550c6b61c6e3b0e27a3616e384ea74cb86f43'),
  entry('mobilenet_v1_0.25_128_quant', 'cb273c23ee76374b05b9583177e28aa19744858a7679c56a250e83d0333da785'),
];

export const DEFAULT_MODEL = 'mobilenet_v2_1.0_224_quant';

/** Where named models live: $MOBILENET_HOME, else the user's cache folder. */
export function modelsFolder(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MOBILENET_HOME) return env.MOBILENET_HOME;
  const cache = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'mobilenet');
}

/** A model argument is a path when it names a .tflite file or contains a path separator. */
export function isModelPath(model: string): boolean {
  return model.endsWith('.tflite') || model.includes('/') || model.includes('\\');
}

/** The file a model name or path stands for. */
export function modelFile(model: string, env: NodeJS.ProcessEnv = process.env): string {
  return isModelPath(model) ? model : join(modelsFolder(env), `${model}.tflite`);
}
