// Where the real models and photos are: ../shared beside the project (MOBILENET_SHARED overrides).
// Tests that need them fail under CI when the folder is missing, and are skipped elsewhere.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const SHARED_DIR = process.env.MOBILENET_SHARED ?? resolve(REPO_ROOT, '../shared');
export const MODELS_DIR = join(SHARED_DIR, 'models');
export const IMAGES_DIR = join(SHARED_DIR, 'images');

export const hasShared = existsSync(MODELS_DIR) && existsSync(IMAGES_DIR);

/** Throws (so the test fails) under CI when the shared folder is missing; true when tests may run. */
export function requireShared(): boolean {
  if (!hasShared && process.env.CI) throw new Error(`CI is set but the shared test data is missing: ${SHARED_DIR}`);
  return hasShared;
}

export const SHARED_MODELS = [
  'mobilenet_v1_0.25_128_quant',
  'mobilenet_v1_0.5_160_quant',
  'mobilenet_v1_0.75_192_quant',
  'mobilenet_v2_1.0_224_quant',
  'tf2_mobilenet_v2_1.0_224_ptq',
] as const;

export const modelPath = (name: string) => join(MODELS_DIR, `${name}.tflite`);
export const imagePath = (name: string) => join(IMAGES_DIR, name);
