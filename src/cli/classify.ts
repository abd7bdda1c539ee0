import { SingleBar } from 'cli-progress';
import { Option, type Command } from 'commander';
import { availableParallelism } from 'node:os';
import { loadModel, type Classifier } from '../classifier.js';
import { DEFAULT_MODEL } from '../model/catalog.js';
import { formatHuman, formatJson, type ImageResult } from './report.js';
import { downloadProgress } from './download-progress.js';
import { positiveInteger, probability } from './options.js';
import { warnOnce, fail, EXIT_INPUT_FAILED } from './process.js';

interface ClassifyFlags {
  model: string;
  labels?: string;
  topK: number;
  threshold: number;
  json?: boolean;
  backend: 'native' | 'reference';
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
    .addOption(new Option('--backend <name>', 'inference backend').choices(['native', 'reference']).default('native'))
    .option('--threads <n>', 'CPU threads for inference', positiveInteger, availableParallelism())
    .addOption(new Option('--crop <mode>', "'center' keeps the central 87.5 % before resizing").choices(['none', 'center']).default('none'))
    .action(async (images: string[], flags: ClassifyFlags) => {
      const classifier = await loadModel(flags.model, {
        backend: flags.backend,
        threads: flags.threads,
        labelsFile: flags.labels,
        onFallback: warnOnce,
        onDownload: downloadProgress(),
      }).catch(fail);
      try {
        const results = await classifyAll(classifier, images, flags);
        if (flags.json) process.stdout.write(formatJson(results));
        if (results.some((result) => 'error' in result)) process.exitCode = EXIT_INPUT_FAILED;
      } finally {
        classifier.dispose();
      }
    });
}

/** Images decoded ahead of the one being classified: decoding (sharp, libuv pool) is the slow part. */
const DECODE_AHEAD = 4;

/**
 * Classifies images in order. Later images are decoded while the current one runs through the
 * network (both off the JS thread); a bad image is reported and the others go on.
 */
async function classifyAll(classifier: Classifier, images: string[], flags: ClassifyFlags): Promise<ImageResult[]> {
  const prepare = (file: string) => classifier.prepare(file, flags.crop).then(
    (tensor) => ({ tensor }),
    (error: Error) => ({ error: error.message }),
  );
  const bar = showProgress(flags, images.length) ? new SingleBar({ stream: process.stderr, hideCursor: true }) : undefined;
  bar?.start(images.length, 0);

  const pending = images.slice(0, DECODE_AHEAD).map(prepare);
  const results: ImageResult[] = [];
  for (let i = 0; i < images.length; i++) {
    const current = await pending[i];
    if (i + DECODE_AHEAD < images.length) pending.push(prepare(images[i + DECODE_AHEAD]));
    const file = images[i];
    const result: ImageResult = 'error' in current
      ? { file, error: current.error }
      : { file, predictions: classifier.topK(await classifier.predict(current.tensor), flags) };
    results.push(result);
    bar?.increment();
    report(result, flags);
  }
  bar?.stop();
  return results;
}

function report(result: ImageResult, flags: ClassifyFlags): void {
  if ('error' in result) process.stderr.write(`mobilenet: ${result.error}\n`);
  else if (!flags.json) process.stdout.write(formatHuman(result));
}

/** A bar only on an interactive stderr, and only when stdout is not the same screen showing results. */
function showProgress(flags: ClassifyFlags, count: number): boolean {
  return count > 1 && Boolean(process.stderr.isTTY) && (Boolean(flags.json) || !process.stdout.isTTY);
}
