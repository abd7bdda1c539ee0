import type { BackendChoice } from '../engine/index.js';
import { SingleBar } from 'cli-progress';
import { Option, type Command } from 'commander';
import { availableParallelism } from 'node:os';
import { loadModel, type Classifier } from '../classifier.js';
import { DEFAULT_MODEL } from '../model/catalog.js';
import { formatHuman, jsonArrayWriter, type ImageResult } from './report.js';
import { downloadProgress } from './download-progress.js';
import { positiveInteger, probability } from './options.js';
import { warnOnce, fail, EXIT_INPUT_FAILED } from './process.js';

interface ClassifyFlags {
  model: string;
  labels?: string;
  topK: number;
  threshold: number;
  json?: boolean;
  backend: BackendChoice;
  threads: number;
  crop: 'none' | 'center';
}

export function registerClassify(program: Command): void {
  program
    .command('classify')
    .description('classify images and print the top classes of each')
    .argument('<images...>', 'image files (JPEG, PNG, WebP, AVIF, TIFF, GIF, BMP)')
    .option('-m, --model <name|file>', 'model name or alias (downloaded on first use), or a .tflite file', DEFAULT_MODEL)
    .option('--labels <file>', 'label file, one class a line (default: the labels inside the model)')
    .option('-k, --top-k <n>', 'how many classes to show per image', positiveInteger, 5)
    .option('--threshold <p>', 'hide classes scoring below p', probability, 0)
    .option('--json', 'print one JSON document instead of text')
    .addOption(new Option('--backend <name>', "inference backend: 'auto' is native where the addon loads, else reference with a warning").choices(['auto', 'native', 'reference']).default('auto'))
    .option('--threads <n>', 'CPU threads for inference', positiveInteger, availableParallelism())
    .addOption(new Option('--crop <mode>', "'center' keeps the central 87.5 % before resizing").choices(['none', 'center']).default('none'))
    .action(async (images: string[], flags: ClassifyFlags) => {
      const classifier = await loadModel(flags.model, {
        backend: flags.backend,
        threads: flags.threads,
        labelsFile: flags.labels,
        onFallback: warnOnce,
        onWarning: warnOnce,
        onDownload: downloadProgress(),
      }).catch(fail);
      const output = flags.json ? jsonArrayWriter(process.stdout) : undefined;
      let failed = false;
      try {
        await classifyAll(classifier, images, flags, (result) => {
          if ('error' in result) {
            failed = true;
            process.stderr.write(`mobilenet: ${result.error}\n`);
          }
          if (output) output.add(result);
          else if (!('error' in result)) process.stdout.write(formatHuman(result));
        });
      } catch (error) {
        // Inference itself failed: what was classified is still printed, then the run ends.
        output?.end();
        fail(error);
      } finally {
        classifier.dispose();
      }
      output?.end();
      if (failed) process.exitCode = EXIT_INPUT_FAILED;
    });
}

/** Images decoded ahead of the one being classified: decoding (sharp, libuv pool) is the slow part. */
const DECODE_AHEAD = 4;

type Prepared = { tensor: Float32Array } | { error: string };

/**
 * Classifies images in order and hands each result on as soon as it is known. Later images are
 * decoded while the current one runs through the network (both off the JS thread); a bad image is
 * reported and the others go on. Only the images in the decode-ahead window are held in memory.
 */
async function classifyAll(
  classifier: Classifier,
  images: string[],
  flags: ClassifyFlags,
  onResult: (result: ImageResult) => void,
): Promise<void> {
  const prepare = (file: string): Promise<Prepared> => classifier.prepare(file, flags.crop).then(
    (tensor) => ({ tensor }),
    (error: Error) => ({ error: error.message }),
  );
  const bar = showProgress(flags, images.length) ? new SingleBar({ stream: process.stderr, hideCursor: true }) : undefined;
  bar?.start(images.length, 0);
  const window: Promise<Prepared>[] = images.slice(0, DECODE_AHEAD).map(prepare);
  try {
    for (let i = 0; i < images.length; i++) {
      const current = await window.shift()!;
      if (i + DECODE_AHEAD < images.length) window.push(prepare(images[i + DECODE_AHEAD]));
      const file = images[i];
      onResult('error' in current
        ? { file, error: current.error }
        : { file, predictions: classifier.topK(await classifier.predict(current.tensor), flags) });
      bar?.increment();
    }
  } finally {
    bar?.stop();
  }
}

/** A bar only on an interactive stderr, and only when stdout is not the same screen showing results. */
function showProgress(flags: ClassifyFlags, count: number): boolean {
  return count > 1 && Boolean(process.stderr.isTTY) && (Boolean(flags.json) || !process.stdout.isTTY);
}
