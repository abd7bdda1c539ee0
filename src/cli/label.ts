// `mobilenet label`: label whole photo collections from scripts, one record per input, on the library's
// one decode/infer pipeline (Classifier.classifyAll) as `classify` is. The pieces, one concern a file:
// label/inputs.ts (files, folders, stdin lists: a stream of paths) and label/glob.ts (patterns),
// label/shard.ts (--shard), label/resume.ts (--resume), label/records.ts (jsonl/csv/tsv, written and
// read back), label/output.ts (stdout or an appended file, one write per record), label/progress.ts
// (bar and summary), label/interrupt.ts (SIGINT/SIGTERM), label/priority.ts (decoding yields to
// inference).
//
// Memory stays bounded whatever the number of inputs: the listing is produced as it is consumed, the
// pipeline holds `--concurrency` images, each record is written as soon as it is due. (--resume keeps the
// paths already done in a Set: memory proportional to those, see resume.ts.)

import type { BackendChoice } from '../engine/index.js';
import { Option, type Command } from 'commander';
import { fstatSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import type { Classifier } from '../classifier.js';
import { DEFAULT_MAX_PIXELS } from '../image/limits.js';
import { MAX_PIXELS } from '../image/types.js';
import { DEFAULT_MODEL } from '../model/catalog.js';
import { modelOptions } from './model-options.js';
import { integerUpTo, positiveInteger, probability } from './options.js';
import { EXIT_INPUT_FAILED, EXIT_USAGE, fail } from './process.js';
import { ListReadError, listInputs } from './label/inputs.js';
import { handleInterrupts } from './label/interrupt.js';
import { OutputError, openFileSink, streamSink, type RecordSink } from './label/output.js';
import { lowerPriority, threadIds } from './label/priority.js';
import { LabelProgress } from './label/progress.js';
import { FORMATS, RecordFileError, recordFormat, type Format, type LabelRecord } from './label/records.js';
import { notDone, readResumeState, type ResumeState } from './label/resume.js';
import { inShard, parseShard, type Shard } from './label/shard.js';

interface LabelFlags {
  model: string;
  labels?: string;
  topK: number;
  threshold: number;
  crop: 'none' | 'center';
  backend: BackendChoice;
  threads: number;
  concurrency?: number;
  format?: Format;
  output?: string;
  resume?: boolean;
  unordered?: boolean;
  null?: boolean;
  allFiles?: boolean;
  shard?: Shard;
  maxPixels: number;
  quiet?: boolean;
}

/**
 * Default inference threads: half the cores. Per image, decoding (sharp, libuv's pool and libvips'
 * workers, plus the main thread's share) and inference cost about the same CPU for MobileNet v2 224 on
 * the 2-core VM (6.3 ms decode + 1.3 ms main thread, 6.6 ms inference, per-thread CPU times from
 * /proc), so an even split keeps both busy; one inference thread is also the most CPU-efficient (two
 * spend ~15 % more CPU per image on hand-offs), which leaves more to decoding. Measured with
 * `npm run bench:label -- --sweep` on the 2-core VM (500 JPEGs of 640–1920 px, whole processes, img/s,
 * median of 3 alternating rounds, quiet machine; threads / concurrency): 1 / 4: 113, 1 / 8: 121,
 * 1 / 12: 125, 1 / 16: 118, 2 / 8: 113, 2 / 12: 126. Threads 1 and 2 tie at concurrency 12; 1 uses less
 * CPU for it. Above 2 cores this is the rule, not a measurement.
 */
export function defaultThreads(cores: number = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / 2));
}

/**
 * Default images in flight: enough to keep every decode thread (libuv's pool: UV_THREADPOOL_SIZE, 4
 * by default) and every inference thread busy twice over, plus two for the slack of in-order output
 * (a slow image holds back those after it): 12 with the default pool and 1 inference thread. Fewer
 * (4, 8) left the cores idle at times, more (16) only cost memory (figures above).
 */
export function defaultConcurrency(threads: number = defaultThreads(), pool: number = libuvPoolSize()): number {
  return 2 * (pool + threads) + 2;
}

function libuvPoolSize(): number {
  const size = Number(process.env.UV_THREADPOOL_SIZE);
  return Number.isInteger(size) && size >= 1 ? Math.min(size, 1024) : 4;
}

const MAX_CONCURRENCY = 1024;

/** A usage or set-up problem found by this command: one line, exit 2. */
function usage(message: string): never {
  process.stderr.write(`mobilenet: ${message}\n`);
  process.exit(EXIT_USAGE);
}

function stdinIsFolder(): boolean {
  try {
    return fstatSync(0).isDirectory();
  } catch {
    return false;
  }
}

/** The format: --format, else the output file's extension (.csv, .tsv, .jsonl), else jsonl. */
function chooseFormat(flags: LabelFlags): Format {
  if (flags.format) return flags.format;
  const ext = flags.output ? extname(flags.output).slice(1).toLowerCase() : '';
  return (FORMATS as readonly string[]).includes(ext) ? (ext as Format) : 'jsonl';
}

/** An input's error as its record says it: the problem without the file name the record already has. */
function problemOf(error: Error): string {
  const problem = (error as Error & { problem?: unknown }).problem;
  return typeof problem === 'string' ? problem : error.message;
}

export function registerLabel(program: Command): void {
  program
    .command('label')
    .description('label files, folders (recursively), globs or a list on stdin (-): one record per input, to stdout or --output')
    .argument('<inputs...>', "image files, folders, glob patterns, or - for a list of paths on stdin")
    .option('-m, --model <name|file>', 'model name or alias (downloaded on first use), or a .tflite file', DEFAULT_MODEL)
    .option('--labels <file>', 'label file, one class a line (default: the labels inside the model)')
    .option('-k, --top-k <n>', 'classes per record', positiveInteger, 5)
    .option('--threshold <p>', 'leave out classes scoring below p', probability, 0)
    .addOption(new Option('--crop <mode>', "'center' keeps the central 87.5 % before resizing").choices(['none', 'center']).default('none'))
    .addOption(new Option('-f, --format <format>', 'jsonl, csv or tsv (default: from the --output extension, else jsonl)').choices(FORMATS))
    .option('-o, --output <file>', 'write the records to this file (appending whole records) instead of stdout')
    .option('--resume', 'with --output: skip the inputs the file already has records for (a torn last record is redone)')
    .option('--unordered', 'write records as images finish rather than in input order')
    .option('-0, --null', 'the list on stdin (-) is NUL-separated (find -print0), not one path a line')
    .option('--all-files', 'in folders, take every file, not only image extensions')
    .option('--shard <i/n|auto/n>', 'label only shard i of n of the inputs (by a hash of the path); auto: i from the job array variable', (v) => parseShard(v))
    .option('--max-pixels <n>', 'refuse images declaring more pixels than this (default 100 million)', integerUpTo(MAX_PIXELS), DEFAULT_MAX_PIXELS)
    .option('--threads <n>', 'CPU threads for inference', positiveInteger, defaultThreads())
    .option('--concurrency <n>', `images decoded or classified at once (default: 2 × (decode threads + --threads) + 2, ${defaultConcurrency()} here)`, integerUpTo(MAX_CONCURRENCY))
    .addOption(new Option('--backend <name>', "inference backend: 'auto' is native where the addon loads, else reference with a warning").choices(['auto', 'native', 'reference']).default('auto'))
    .option('-q, --quiet', 'no progress bar and no summary line on stderr')
    .action(async (inputs: string[], flags: LabelFlags) => {
      await label(inputs, flags);
    });
}

async function label(inputs: string[], flags: LabelFlags): Promise<void> {
  if (flags.resume && !flags.output) usage('--resume needs --output FILE (the records to resume from)');
  if (inputs.filter((i) => i === '-').length > 1) usage('- (the list on stdin) may be given only once');
  if (inputs.includes('-') && stdinIsFolder()) usage('- reads a list of paths on stdin, and stdin is a folder');
  const format = chooseFormat(flags);
  // A line on stderr; a progress bar on the terminal stops first (the bar would draw over it).
  const screen = { beforeLine: () => {} };
  const say = (line: string) => {
    if (flags.quiet) return;
    screen.beforeLine();
    process.stderr.write(`mobilenet: ${line}\n`);
  };
  const interrupt = handleInterrupts(say);

  let resume: ResumeState | undefined;
  if (flags.resume) {
    resume = await readResumeState(flags.output!, format, flags.topK).catch((error: unknown) => {
      if (error instanceof RecordFileError) usage(error.message);
      throw error;
    });
  }

  // The library (sharp, the addon) is loaded only when the command runs (--help stays fast).
  const { loadModel } = await import('../classifier.js');
  // The threads running before the model loads are libuv's pool (decoding) and V8's helpers; those it
  // starts are inference. The first yield to the second (label/priority.ts).
  const before = threadIds();
  const classifier = await loadModel(flags.model, modelOptions(flags)).catch(fail);
  lowerPriority(before);
  try {
    await run(classifier, inputs, flags, format, resume, interrupt.signal, say, () => interrupt.received, screen);
  } finally {
    classifier.dispose();
    interrupt.dispose();
  }
  if (interrupt.received) process.exit(interrupt.exitCode);
}

async function run(
  classifier: Classifier,
  inputs: string[],
  flags: LabelFlags,
  format: Format,
  resume: ResumeState | undefined,
  signal: AbortSignal,
  say: (line: string) => void,
  interrupted: () => NodeJS.Signals | undefined,
  screen: { beforeLine: () => void },
): Promise<void> {
  const records = recordFormat(format, flags.topK);
  let sink: RecordSink;
  try {
    sink = flags.output ? openFileSink(flags.output, resume?.completeBytes) : streamSink(process.stdout);
  } catch (error) {
    usage((error as Error).message);
  }
  if (resume && resume.tornBytes > 0) say(`${flags.output}: cut off a torn last record (${resume.tornBytes} bytes); that input is labelled again`);

  const showBar = !flags.quiet && Boolean(process.stderr.isTTY) && (flags.output !== undefined || !process.stdout.isTTY);
  const progress = new LabelProgress(showBar);
  screen.beforeLine = () => progress.stop();
  const folderErrors = new Map<string, string>();
  const listing = (countOnly: boolean) => {
    let paths: AsyncIterable<string> = listInputs(inputs, {
      allFiles: flags.allFiles,
      nul: flags.null,
      onFolderError: countOnly ? undefined : (path, error) => {
        folderErrors.set(path, `cannot list this folder (${(error as NodeJS.ErrnoException).code ?? error.message})`);
      },
    });
    if (flags.shard) paths = inShard(paths, flags.shard);
    if (resume) paths = notDone(paths, resume.done, countOnly ? () => undefined : () => progress.skip());
    return paths;
  };

  // The total for the bar: the same listing again, counted beside the work (not for a list on stdin).
  const counting = new AbortController();
  if (showBar && !inputs.includes('-')) {
    void (async () => {
      let total = 0;
      for await (const _ of listing(true)) {
        if (counting.signal.aborted) return;
        total++;
      }
      progress.setTotal(total);
    })().catch(() => undefined);
  }

  let failed = false;
  try {
    if (records.header && !resume?.hasHeader) await sink.write(records.header);
    for await (const result of classifier.classifyAll(listing(false), {
      topK: flags.topK,
      threshold: flags.threshold,
      crop: flags.crop,
      maxPixels: flags.maxPixels,
      concurrency: flags.concurrency ?? defaultConcurrency(flags.threads),
      ordered: !flags.unordered,
      signal,
    })) {
      const path = result.input as string;
      let record: LabelRecord;
      if ('error' in result) {
        failed = true;
        record = { path, error: folderErrors.get(path) ?? problemOf(result.error) };
        folderErrors.delete(path);
      } else {
        record = { path, predictions: result.predictions };
      }
      await sink.write(records.format(record));
      progress.add(!('error' in result));
    }
  } catch (error) {
    progress.stop();
    await sink.close().catch(() => undefined);
    if (error instanceof OutputError || error instanceof ListReadError) usage(error.message);
    // Inference itself failed (a broken backend, a bug): the records so far are whole; stop.
    fail(error);
  } finally {
    counting.abort();
  }
  progress.stop();
  try {
    await sink.close();
  } catch (error) {
    usage((error as Error).message);
  }
  say(progress.summary(interrupted()));
  if (failed) process.exitCode = EXIT_INPUT_FAILED;
}
