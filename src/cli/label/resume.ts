// `--resume`: what an earlier run (stopped by a signal, a kill or a power cut) already wrote to the
// output file, so that this run labels only the rest. The file is read as a stream of records (the
// same module that writes them parses them); the paths it names go into a Set, the only thing kept,
// so memory grows with the number of inputs already done (about 100 bytes each: 1 million done ≈
// 100 MiB), not with the file. A torn last record (a write cut short) is found here and cut off when
// the file is opened again, so that it is labelled again: nothing is lost and nothing is twice.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { RecordFileError, scanRecords, type Format } from './records.js';

export interface ResumeState {
  /** Paths that have a complete record. */
  done: Set<string>;
  /** Where the complete records (and the header) end: the file is cut back to this. */
  completeBytes: number;
  /** Bytes of a torn last record (0: none). */
  tornBytes: number;
  /** Whether the file already starts with the CSV/TSV header. */
  hasHeader: boolean;
  /** Whether the file existed (a missing file is a fresh start). */
  existed: boolean;
}

export async function readResumeState(file: string, format: Format, topK: number): Promise<ResumeState> {
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new RecordFileError(`${file}: cannot read it to resume (${error.code ?? error.message})`);
  });
  const done = new Set<string>();
  if (!info) return { done, completeBytes: 0, tornBytes: 0, hasHeader: false, existed: false };
  if (!info.isFile()) throw new RecordFileError(`${file}: --resume needs a regular file to read back, and this is not one`);
  const stream = createReadStream(file, { highWaterMark: 2 ** 20 });
  try {
    const scan = await scanRecords(stream, format, topK, file, (path) => done.add(path));
    return { done, ...scan, existed: true };
  } catch (error) {
    if (error instanceof RecordFileError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new RecordFileError(`${file}: cannot read it to resume (${code ?? (error as Error).message})`);
  } finally {
    stream.destroy();
  }
}

/** The inputs without a record yet; `onSkip` counts the others. */
export async function* notDone(inputs: AsyncIterable<string>, done: ReadonlySet<string>, onSkip: () => void): AsyncGenerator<string> {
  for await (const path of inputs) {
    if (done.has(path)) onSkip();
    else yield path;
  }
}
