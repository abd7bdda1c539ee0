// A one-shot command's cold start: the first image decodes while the model loads (see image/early.ts).
import { loadModel, loadResolvedModel, type Classifier, type LoadModelOptions } from '../classifier.js';
import { EarlyDecode, type EarlyDecodeOptions } from '../image/early.js';
import { resolveModel, type ResolvedModel } from '../model/resolve.js';
import { MAX_MODEL_BYTES, readInputSize } from '../tflite/index.js';
import { readRegularFile } from '../util/read-file.js';

/**
 * loadModel, with the decode of the first image (a path) already running: the model file is found
 * without downloading and read once, its header gives the input size, the decode starts, then the
 * model is parsed from the same bytes. Whatever is unusual (stdin, a model
 * still to download, an unreadable header) skips the early start, and loadModel and the pipeline
 * report the real problems as they always do.
 */
export async function loadModelDecodingFirst(
  model: string,
  options: LoadModelOptions,
  firstImage: string | undefined,
  image: Omit<EarlyDecodeOptions, 'size'>,
): Promise<{ classifier: Classifier; early?: EarlyDecode }> {
  const started = firstImage === undefined || firstImage === '-' ? undefined : await startDecode(model, firstImage, image);
  if (!started) return { classifier: await loadModel(model, options) };
  return { classifier: await loadResolvedModel(started.model, options), early: started.early };
}

async function startDecode(model: string, path: string, image: Omit<EarlyDecodeOptions, 'size'>): Promise<{ model: ResolvedModel; early: EarlyDecode } | undefined> {
  let file: string;
  let bytes: Uint8Array;
  try {
    const resolved = await resolveModel(model, { offline: true });
    file = resolved.file;
    bytes = resolved.bytes ?? await readRegularFile(file, MAX_MODEL_BYTES);
  } catch {
    return undefined;
  }
  const size = readInputSize(bytes, file);
  if (size === undefined) return undefined;
  const early = new EarlyDecode(path, { size, ...image });
  await early.running;
  return { model: { file, bytes }, early };
}
