import type { BackendChoice } from '../engine/index.js';
import { InvalidArgumentError, type Command } from 'commander';
import { availableParallelism } from 'node:os';
import type { ImageInput } from '../classifier.js';
import { formatHuman, jsonArrayWriter } from './report.js';
import { progressBar } from './bar.js';
import { addImageOptions, addModelOptions, modelOptions } from './model-options.js';
import { positiveInteger, probability } from './options.js';
import { fail, EXIT_INPUT_FAILED } from './process.js';

interface ClassifyFlags {
  model: string;
  labels?: string;
  topK: number;
  threshold: number;
  json?: boolean;
  backend: BackendChoice;
  threads: number;
  crop: 'none' | 'center';
  resize: 'default' | 'tflite';
  maxPixels: number;
}

export function registerClassify(program: Command): void {
  const command = program
    .command('classify')
    .description('classify images and print the top classes of each')
    .argument('<images...>', "image files (JPEG, PNG, WebP, AVIF, TIFF, GIF, BMP); '-' reads one image from stdin")
    .option('-k, --top-k <n>', 'how many classes to show per image', positiveInteger, 5)
    .option('--threshold <p>', 'hide classes scoring below p', probability, 0)
    .option('--json', 'print one JSON document instead of text')
    .option('--threads <n>', 'CPU threads for inference', positiveInteger, availableParallelism());
  addImageOptions(addModelOptions(command))
    .action(async (images: string[], flags: ClassifyFlags) => {
      // The library (sharp, the addon) is loaded only when a command runs: --help and --version stay fast.
      const { NoClassifierError } = await import('../classifier.js');
      const { loadModelDecodingFirst } = await import('./early-start.js');
      const { readImageStream } = await import('../image/read.js');
      if (images.filter((image) => image === '-').length > 1) fail(new InvalidArgumentError("'-' (stdin) may be given only once"));
      const imageOptions = { crop: flags.crop, maxPixels: flags.maxPixels, resize: flags.resize };
      const { classifier, early } = await loadModelDecodingFirst(flags.model, modelOptions(flags), images[0], imageOptions).catch(fail);
      if (!classifier.hasClassifier) fail(new NoClassifierError(classifier.source));
      const output = flags.json ? jsonArrayWriter(process.stdout) : undefined;
      const bar = showProgress(flags, images.length) ? progressBar({ stream: process.stderr, hideCursor: true }) : undefined;
      bar?.start(images.length, 0);
      let failed = false;
      try {
        // Decoding (sharp, on libuv's threads) of the next images overlaps inference of the current one.
        for await (const result of classifier.classifyAll(inputsOf(images, () => readImageStream(process.stdin, '-'), early), {
          topK: flags.topK, threshold: flags.threshold, ...imageOptions, concurrency: DECODE_AHEAD,
        })) {
          const file = images[result.index]!;
          if ('error' in result) {
            failed = true;
            process.stderr.write(`mobilenet: ${result.error.message}\n`);
            output?.add({ file, error: result.error.message });
          } else if (output) {
            output.add({ file, predictions: result.predictions });
          } else {
            process.stdout.write(formatHuman({ file, predictions: result.predictions }));
          }
          bar?.increment();
        }
      } catch (error) {
        // Inference itself failed: what was classified is still printed, then the run ends.
        bar?.stop();
        output?.end();
        fail(error);
      } finally {
        classifier.dispose();
      }
      bar?.stop();
      output?.end();
      if (failed) process.exitCode = EXIT_INPUT_FAILED;
    });
}

/** The images as the pipeline takes them; `-` is read from stdin when its turn comes; the first may be decoding already. */
function* inputsOf(images: string[], readStdin: () => Promise<Uint8Array>, early?: ImageInput): Generator<ImageInput> {
  for (const [index, image] of images.entries()) yield index === 0 && early ? early : image === '-' ? { name: '-', bytes: readStdin() } : image;
}

/** Images decoded ahead of the one being classified: decoding is the slow part. */
const DECODE_AHEAD = 4;

/** A bar only on an interactive stderr, and only when stdout is not the same screen showing results. */
function showProgress(flags: ClassifyFlags, count: number): boolean {
  return count > 1 && Boolean(process.stderr.isTTY) && (Boolean(flags.json) || !process.stdout.isTTY);
}
