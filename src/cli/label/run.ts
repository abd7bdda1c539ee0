// The `label` command at work (src/cli/label.ts defines it): listing, sharding, resuming, the pipeline,
// records, progress and signals; loaded only when the command runs.
import type { BackendChoice } from '../../engine/index.js';
import { extname } from 'node:path';
import type { Classifier } from '../../classifier.js';
import { usage } from '../process.js';
import { checkStdinInput, driveBatch, startSession, withModel, type Session } from './drive.js';
import { folderProblem, inputProblem, listInputs } from './inputs.js';
import { defaultConcurrency } from './defaults.js';
import { openFileSink, streamSink, type RecordSink } from './output.js';
import { LabelProgress } from './progress.js';
import { FORMATS, RecordFileError, recordFormat, type Format, type LabelRecord } from './records.js';
import { notDone, readResumeState, type ResumeState } from './resume.js';
import { inShard, type Shard } from './shard.js';

export interface LabelFlags {
  model: string;
  labels?: string;
  topK: number;
  threshold: number;
  crop: 'none' | 'center';
  resize: 'default' | 'tflite';
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

/** The format: --format, else the output file's extension (.csv, .tsv, .jsonl), else jsonl. */
function chooseFormat(flags: LabelFlags): Format {
  if (flags.format) return flags.format;
  const ext = flags.output ? extname(flags.output).slice(1).toLowerCase() : '';
  return (FORMATS as readonly string[]).includes(ext) ? (ext as Format) : 'jsonl';
}

export async function label(inputs: string[], flags: LabelFlags): Promise<void> {
  if (flags.resume && !flags.output) usage('--resume needs --output FILE (the records to resume from)');
  checkStdinInput(inputs);
  const format = chooseFormat(flags);
  const session = startSession(flags.quiet);

  let resume: ResumeState | undefined;
  if (flags.resume) {
    resume = await readResumeState(flags.output!, format, flags.topK).catch((error: unknown) => {
      if (error instanceof RecordFileError) usage(error.message);
      throw error;
    });
  }

  await withModel(
    flags, session,
    (classifier) => run(classifier, inputs, flags, format, resume, session),
    { classifies: true },
  );
}

async function run(
  classifier: Classifier,
  inputs: string[],
  flags: LabelFlags,
  format: Format,
  resume: ResumeState | undefined,
  session: Session,
): Promise<void> {
  const { say, screen, interrupt } = session;
  const signal = interrupt.signal;
  const interrupted = () => interrupt.received;
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
        folderErrors.set(path, folderProblem(error));
      },
    });
    if (flags.shard) paths = inShard(paths, flags.shard);
    if (resume) paths = notDone(paths, resume.done, countOnly ? () => undefined : () => progress.skip());
    return paths;
  };

  // The total for the bar: the same listing again, counted beside the work (not for a list on stdin).
  const stopCounting = showBar && !inputs.includes('-') ? progress.countTotal(listing(true)) : () => {};

  if (records.header && !resume?.hasHeader) {
    try {
      await sink.write(records.header);
    } catch (error) {
      usage((error as Error).message);
    }
  }
  const results = classifier.classifyAll(listing(false), {
      topK: flags.topK,
      threshold: flags.threshold,
      crop: flags.crop,
      resize: flags.resize,
      maxPixels: flags.maxPixels,
      concurrency: flags.concurrency ?? defaultConcurrency(flags.threads),
      ordered: !flags.unordered,
      signal,
  });
  await driveBatch(results, {
    progress, stopCounting, say, interrupted,
    close: () => sink.close(),
    write: async (result) => {
      const path = result.input as string;
      let record: LabelRecord;
      if ('error' in result) {
        record = { path, error: folderErrors.get(path) ?? inputProblem(result.error) };
        folderErrors.delete(path);
      } else {
        record = { path, predictions: result.predictions };
      }
      await sink.write(records.format(record));
      return !('error' in result);
    },
  });
}
