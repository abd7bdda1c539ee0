// The pretrained models the tool knows by name: what each is, where it is published, its size and
// checksum, so that a model is downloaded from a pinned public URL and verified before it is used.
import type { Arch } from './spec.js';

export type Precision = 'uint8' | 'int8' | 'float32';

export interface CatalogEntry {
  name: string;
  /** Short names accepted wherever a model name is. */
  aliases: readonly string[];
  file: string;
  arch: Arch;
  alpha: number;
  resolution: number;
  /** Storage type of the weights and activations in the file. */
  precision: Precision;
  quantization: string;
  /** Exact size of the file in bytes (a download larger than this is cut off). */
  bytes: number;
  sha256: string;
  licence: string;
  /** Where the file is published; the download URL is `<base>/<file>`. */
  source: string;
}

/** google-coral/test_data, pinned to one commit: the files never change under a name. */
export const DEFAULT_MODELS_URL =
  'https://raw.githubusercontent.com/google-coral/test_data/104342d2d3480b3e66203073dac24f4e2dbb4c41';

const TF1_QAT = 'TF1 quantization-aware training, uint8 asymmetric per-tensor';
const TF2_PTQ = 'TF2 post-training, int8 with per-channel weights';

function coral(entry: Omit<CatalogEntry, 'file' | 'licence' | 'source'>): CatalogEntry {
  return { ...entry, file: `${entry.name}.tflite`, licence: 'Apache-2.0', source: 'google-coral/test_data' };
}

export const CATALOG: readonly CatalogEntry[] = [
  coral({
    name: 'mobilenet_v2_1.0_224_quant', aliases: ['v2'], arch: 'v2', alpha: 1, resolution: 224,
    precision: 'uint8', quantization: TF1_QAT, bytes: 3_610_798,
    sha256: '7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776',
  }),
  coral({
    name: 'tf2_mobilenet_v2_1.0_224_ptq', aliases: ['v2-tf2'], arch: 'v2', alpha: 1, resolution: 224,
    precision: 'int8', quantization: TF2_PTQ, bytes: 4_070_174,
    sha256: '5d3137241276e79c86d14a74fe43581398ae0e815191d3dba45495b810840e8c',
  }),
  coral({
    name: 'mobilenet_v1_0.75_192_quant', aliases: ['v1-0.75'], arch: 'v1', alpha: 0.75, resolution: 192,
    precision: 'uint8', quantization: TF1_QAT, bytes: 2_652_542,
    sha256: '41daeb22fdcf947e0e5ec32373aa9df7c31f3ef45dbd0ef7b5940fbce3c20f6a',
  }),
  coral({
    name: 'mobilenet_v1_0.5_160_quant', aliases: ['v1-0.5'], arch: 'v1', alpha: 0.5, resolution: 160,
    precision: 'uint8', quantization: TF1_QAT, bytes: 1_392_846,
    sha256: '3cc6d2ca460abd2e0f699a6d0d2550c6b61c6e3b0e27a3616e384ea74cb86f43',
  }),
  coral({
    name: 'mobilenet_v1_0.25_128_quant', aliases: ['v1-0.25'], arch: 'v1', alpha: 0.25, resolution: 128,
    precision: 'uint8', quantization: TF1_QAT, bytes: 525_598,
    sha256: 'cb273c23ee76374b05b9583177e28aa19744858a7679c56a250e83d0333da785',
  }),
];

export const DEFAULT_MODEL = 'mobilenet_v2_1.0_224_quant';

/** The catalog entry a name or alias stands for, if any. */
export function findModel(nameOrAlias: string): CatalogEntry | undefined {
  return CATALOG.find((entry) => entry.name === nameOrAlias || entry.aliases.includes(nameOrAlias));
}

/** "name (alias), …" of every known model, for messages. */
export function knownModelNames(): string {
  return CATALOG.map((entry) => `${entry.name} (${entry.aliases.join(', ')})`).join(', ');
}

/** A model argument is a path when it names a .tflite file or contains a path separator. */
export function isModelPath(model: string): boolean {
  return model.endsWith('.tflite') || model.includes('/') || model.includes('\\');
}
