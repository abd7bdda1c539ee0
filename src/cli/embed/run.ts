// The `embed` command at work (src/cli/embed.ts defines it): listing (label's), the library's embedAll
// pipeline, the output in either format, progress and signals; loaded only when the command runs.
//
// A failed input never shifts the rows: in jsonl it is an error record; in npy its row is all NaN (a
// row of its own, so row i stays input i), its path and problem go to stderr (and to --index), and the
// exit status is 1. NaN rather than zeros, because a zero vector is a valid embedding that would pass
// unnoticed through a similarity search, while NaN poisons every result it touches.
import { extname } from 'node:path';
import type { Classifier } from '../../classifier.js';
import type { BackendChoice } from '../../engine/index.js';
import type { EMBED_FORMATS } from '../embed.js';
import { defaultConcurrency } from '../label/defaults.js';
import { checkStdinInput, driveBatch, startSession, withModel, type Session } from '../label/drive.js';
import { folderProblem, inputProblem, listInputs } from '../label/inputs.js';
import { openFileSink, streamSink, type RecordSink } from '../label/output.js';
import { LabelProgress } from '../label/progress.js';
import { usage } from '../process.js';
import { embeddingRecord } from './jsonl.js';
import { npyToStream, openNpyFile } from './npy.js';

type Format = (typeof EMBED_FORMATS)[number];

export interface EmbedFlags {
  model: string;
  backend: BackendChoice;
  threads: number;
  concurrency?: number;
  format?: Format;
  output?: string;
  index?: string;
  normalize?: boolean;
  null?: boolean;
  allFiles?: boolean;
  crop: 'none' | 'center';
  resize: 'default' | 'tflite';
  maxPixels: number;
  quiet?: boolean;
}

/** Where each input's outcome goes, in input order. */
interface EmbeddingSink {
  write(row: number, path: string, outcome: Float32Array | { error: string }): Promise<void> | void;
  close(): Promise<void>;
}

/** The format: --format, else the output file's extension (.npy, .jsonl), else jsonl. */
function chooseFormat(flags: EmbedFlags): Format {
  if (flags.format) return flags.format;
  return flags.output && extname(flags.output).toLowerCase() === '.npy' ? 'npy' : 'jsonl';
}

function jsonlSink(records: RecordSink): EmbeddingSink {
  return {
    write: (_row, path, outcome) => records.write(embeddingRecord(path, outcome)),
    close: () => records.close(),
  };
}

/**
 * Rows of the .npy (a NaN row for a failed input, told to `complain`) and, with --index, the path of
 * each row.
 */
function npySink(flags: EmbedFlags, columns: number, complain: (line: string) => void): EmbeddingSink {
  const rows = flags.output ? openNpyFile(flags.output, columns) : npyToStream(process.stdout, columns);
  const failedRow = new Float32Array(columns).fill(NaN);
  let index: RecordSink | undefined;
  try {
    index = flags.index ? openFileSink(flags.index) : undefined;
  } catch (error) {
    void rows.close();
    throw error;
  }
  return {
    async write(row, path, outcome) {
      await rows.write(outcome instanceof Float32Array ? outcome : failedRow);
      if (!(outcome instanceof Float32Array)) complain(`${path}: ${outcome.error} (row ${row} is NaN)`);
      await index?.write(`${JSON.stringify(outcome instanceof Float32Array ? { row, path } : { row, path, error: outcome.error })}\n`);
    },
    async close() {
      await rows.close();
      await index?.close();
    },
  };
}

export async function embed(inputs: string[], flags: EmbedFlags): Promise<void> {
  checkStdinInput(inputs);
  const format = chooseFormat(flags);
  if (flags.index && format !== 'npy') usage('--index goes with --format npy (a jsonl record carries its path)');
  if (format === 'npy' && !flags.output && process.stdout.isTTY) usage('--format npy is binary: give --output FILE, or redirect stdout');

  const session = startSession(flags.quiet);
  // Decoding yields to inference, as in `label` (label/priority.ts).
  await withModel(flags, session, (classifier) =>
    run(classifier, inputs, flags, format, session));
}

async function run(
  classifier: Classifier,
  inputs: string[],
  flags: EmbedFlags,
  format: Format,
  session: Session,
): Promise<void> {
  const { say, screen, interrupt } = session;
  const signal = interrupt.signal;
  const interrupted = () => interrupt.received;
  // A failed npy row is said on stderr even with --quiet: nothing else in the output says it.
  const complain = (line: string) => {
    screen.beforeLine();
    process.stderr.write(`mobilenet: ${line}\n`);
  };
  let sink: EmbeddingSink;
  try {
    sink = format === 'npy'
      ? npySink(flags, classifier.embeddingSize, complain)
      : jsonlSink(flags.output ? openFileSink(flags.output) : streamSink(process.stdout));
  } catch (error) {
    usage((error as Error).message);
  }

  const showBar = !flags.quiet && Boolean(process.stderr.isTTY) && (flags.output !== undefined || !process.stdout.isTTY);
  const progress = new LabelProgress(showBar, process.stderr, { command: 'embed', done: 'embedded' });
  screen.beforeLine = () => progress.stop();
  const folderErrors = new Map<string, string>();
  const listing = (countOnly: boolean) => listInputs(inputs, {
    allFiles: flags.allFiles,
    nul: flags.null,
    onFolderError: countOnly ? undefined : (path, error) => folderErrors.set(path, folderProblem(error)),
  });
  const stopCounting = showBar && !inputs.includes('-') ? progress.countTotal(listing(true)) : () => {};

  const results = classifier.embedAll(listing(false), {
    crop: flags.crop,
    resize: flags.resize,
    maxPixels: flags.maxPixels,
    normalize: Boolean(flags.normalize),
    concurrency: flags.concurrency ?? defaultConcurrency(flags.threads),
    signal,
  });
  await driveBatch(results, {
    progress, stopCounting, say, interrupted,
    close: () => sink.close(),
    write: async (result) => {
      const path = result.input as string;
      if ('error' in result) {
        await sink.write(result.index, path, { error: folderErrors.get(path) ?? inputProblem(result.error) });
        folderErrors.delete(path);
        return false;
      }
      await sink.write(result.index, path, result.embedding);
      return true;
    },
  });
}
