// From what a user typed (a model name, an alias, or a path) to a .tflite file on disk: catalog
// models come from the models folder, verified, and are downloaded on first use.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { FileReadProblem, readRegularFile } from '../util/read-file.js';
import { cachedFile, modelsFolder } from './cache.js';
import { findModel, isModelPath, knownModelNames, type CatalogEntry } from './catalog.js';
import { downloadModel, ModelDownloadError, modelUrl, type DownloadOptions } from './download.js';

/** A model name that is neither known nor in the models folder, or a model that may not be downloaded. */
export class ModelNotFoundError extends Error {
  readonly code = 'MODEL_NOT_FOUND';
  constructor(readonly model: string, message: string) {
    super(message);
    this.name = 'ModelNotFoundError';
  }
}

export interface ResolveOptions extends DownloadOptions {
  /** Never download (default: $MOBILENET_OFFLINE is 1 or true). */
  offline?: boolean;
}

export function offlineByEnvironment(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.MOBILENET_OFFLINE === '1' || env.MOBILENET_OFFLINE === 'true';
}

/** What a user can do by hand when a model cannot be downloaded. */
function manualHint(entry: CatalogEntry, file: string, baseUrl: string | undefined): string {
  return `fetch ${modelUrl(entry, baseUrl)} and save it as ${file} (sha256 ${entry.sha256}), `
    + 'or use a .tflite file by its path (--model FILE)';
}

/** A resolved model: its file, and for a verified catalog model the bytes already read to check it. */
export interface ResolvedModel {
  file: string;
  bytes?: Uint8Array;
}

/** The .tflite file for a model name, alias or path; a catalog model missing from the cache is downloaded. */
export async function resolveModelFile(model: string, options: ResolveOptions = {}): Promise<string> {
  return (await resolveModel(model, options)).file;
}

/**
 * As resolveModelFile; a cached catalog model is read once, checked against its SHA-256, and its bytes
 * handed on, so that loading it does not read the file again.
 */
export async function resolveModel(model: string, options: ResolveOptions = {}): Promise<ResolvedModel> {
  if (isModelPath(model)) return { file: model };
  const entry = findModel(model);
  if (!entry) {
    // A model of the user's own, kept in the models folder under a name.
    const file = join(modelsFolder(), `${model}.tflite`);
    if (await stat(file).then((info) => info.isFile(), () => false)) return { file };
    throw new ModelNotFoundError(model,
      `model '${model}' not found: it is not a known model (${knownModelNames()}) and ${file} does not exist; `
      + 'pass the path of a .tflite file to use another model');
  }

  const file = cachedFile(entry);
  const cached = await readVerified(entry, file);
  if (cached.bytes) return { file, bytes: cached.bytes };
  const offline = options.offline ?? offlineByEnvironment();
  if (offline) {
    const why = cached.missing ? `it is not in the models folder (${file})` : `${file} is damaged (not the published bytes)`;
    throw new ModelNotFoundError(entry.name,
      `model '${entry.name}' is not available offline: ${why}; ${manualHint(entry, file, options.baseUrl)}`);
  }
  // A damaged file is replaced by the verified download (the rename overwrites it).
  return { file: await pullModel(entry, options) };
}

/** The bytes of a cached catalog model if they are the published ones; else whether the file is missing. */
async function readVerified(entry: CatalogEntry, file: string): Promise<{ bytes?: Uint8Array; missing: boolean }> {
  try {
    const bytes = await readRegularFile(file, entry.bytes);
    const ok = bytes.length === entry.bytes && createHash('sha256').update(bytes).digest('hex') === entry.sha256;
    return { bytes: ok ? bytes : undefined, missing: false };
  } catch (error) {
    return { missing: error instanceof FileReadProblem && error.errno === 'ENOENT' };
  }
}

/** Downloads a catalog model into the models folder; a failure says how to get the file by hand. */
export async function pullModel(entry: CatalogEntry, options: DownloadOptions = {}): Promise<string> {
  const file = cachedFile(entry);
  try {
    return await downloadModel(entry, file, options);
  } catch (error) {
    if (!(error instanceof ModelDownloadError)) throw error;
    throw new ModelDownloadError(error.model, error.url, error.file,
      `${error.problem}; ${manualHint(entry, file, options.baseUrl)}`, { cause: error.cause });
  }
}
