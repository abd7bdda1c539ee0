// How every command that runs a model loads it: the same options, warnings and download progress.
import type { LoadModelOptions } from '../classifier.js';
import type { BackendChoice } from '../engine/index.js';
import { downloadProgress } from './download-progress.js';
import { warnOnce } from './process.js';

export interface ModelFlags {
  backend: BackendChoice;
  threads: number;
  labels?: string;
}

export function modelOptions(flags: ModelFlags): LoadModelOptions {
  return {
    backend: flags.backend,
    threads: flags.threads,
    labelsFile: flags.labels,
    onFallback: warnOnce,
    onWarning: warnOnce,
    onDownload: downloadProgress(),
  };
}
