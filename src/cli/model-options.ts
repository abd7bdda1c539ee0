// How every command that classifies images loads its model and reads its images: the same options,
// warnings and download progress.
import { Option, type Command } from 'commander';
import type { LoadModelOptions } from '../classifier.js';
import type { BackendChoice, Precision, Rounding } from '../engine/index.js';
import { DEFAULT_MAX_PIXELS } from '../image/limits.js';
import { MAX_PIXELS } from '../image/types.js';
import { DEFAULT_MODEL } from '../model/catalog.js';
import { downloadProgress } from './download-progress.js';
import { integerUpTo } from './options.js';
import { warnOnce } from './process.js';

export interface ModelFlags {
  backend: BackendChoice;
  threads: number;
  labels?: string;
  precision?: Precision;
  rounding?: Rounding;
}

export function modelOptions(flags: ModelFlags): LoadModelOptions {
  return {
    backend: flags.backend,
    threads: flags.threads,
    precision: flags.precision,
    rounding: flags.rounding,
    labelsFile: flags.labels,
    onFallback: warnOnce,
    onWarning: warnOnce,
    onDownload: downloadProgress(),
  };
}

/** --precision: how a quantized model computes (a float model is always fp32). */
export function precisionOption(extra: string[] = []): Option {
  return new Option('--precision <p>', 'int8: integer arithmetic as TFLite runs a quantized model (default for one); fp32: its weights dequantized to floats')
    .choices(['int8', 'fp32', ...extra]);
}

/** --rounding: whose integer rounding an int8 run reproduces. */
export function roundingOption(): Option {
  return new Option('--rounding <r>', "int8: 'tflite' (default): TFLite's reference kernels' bytes; 'xnnpack': XNNPACK's, as TFLite's default CPU delegate and LiteRT.js compute")
    .choices(['tflite', 'xnnpack']);
}

/** --model, --labels (unless `labels` is false: a command that does not classify), --backend, --precision and --rounding. */
export function addModelOptions(command: Command, { labels = true }: { labels?: boolean } = {}): Command {
  command.option('-m, --model <name|file>', 'model name or alias (downloaded on first use), or a .tflite file', DEFAULT_MODEL);
  if (labels) command.option('--labels <file>', 'label file, one class a line (default: the labels inside the model)');
  return command
    .addOption(precisionOption())
    .addOption(roundingOption())
    .addOption(new Option('--backend <name>', "inference backend: 'auto' is native where the addon loads, else reference with a warning")
      .choices(['auto', 'native', 'reference']).default('auto'));
}

/** --crop, --resize and --max-pixels. */
export function addImageOptions(command: Command): Command {
  return command
    .addOption(new Option('--crop <mode>', "'center' keeps the central 87.5 % before resizing").choices(['none', 'center']).default('none'))
    .addOption(new Option('--resize <mode>', "'tflite': TFLite's RESIZE_BILINEAR on the full-size image (pixel-exact with TFLite, slower)")
      .choices(['default', 'tflite']).default('default'))
    .option('--max-pixels <n>', 'refuse images declaring more pixels than this (default 100 million)', integerUpTo(MAX_PIXELS), DEFAULT_MAX_PIXELS);
}
