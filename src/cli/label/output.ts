// Where `mobilenet label` writes its records: stdout, or a file opened for appending. Every record is
// one complete string given to one write (a loop only if the kernel takes part of it), so a signal or a
// kill between records never leaves half a record; only a power cut can (resume.ts cuts it off).

import { once } from 'node:events';
import { closeSync, constants, fsyncSync, ftruncateSync, openSync, writeSync } from 'node:fs';

/** The output cannot be written (a full disk, a folder given as --output): exit 2. */
export class OutputError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OutputError';
  }
}

export interface RecordSink {
  /** Writes one record (or the header) whole; resolves once it is written or buffered within limits. */
  write(text: string): void | Promise<void>;
  /** Flushes and closes (stdout is left open). */
  close(): Promise<void>;
}

function describe(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ?? e.message ?? String(error);
}

/**
 * The output file, opened for appending: emptied first for a fresh run, or cut back to `keepBytes`
 * (the complete records found by --resume) so that a torn last record goes.
 */
export function openFileSink(path: string, keepBytes?: number): RecordSink {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | (keepBytes === undefined ? constants.O_TRUNC : 0), 0o666);
    if (keepBytes !== undefined) ftruncateSync(fd, keepBytes);
  } catch (error) {
    throw new OutputError(`cannot open the output ${path}: ${describe(error)}`, { cause: error });
  }
  let closed = false;
  return {
    write(text) {
      const bytes = Buffer.from(text, 'utf8');
      try {
        for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written);
      } catch (error) {
        throw new OutputError(`cannot write the output ${path}: ${describe(error)}`, { cause: error });
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        fsyncSync(fd);
      } catch {
        // Not every file can be synced (a FIFO, /dev/null); what was written is written.
      }
      closeSync(fd);
    },
  };
}

/** stdout: back-pressure from a slow reader is waited for (errors: handleStdoutErrors in process.ts). */
export function streamSink(stream: NodeJS.WritableStream = process.stdout): RecordSink {
  return {
    async write(text) {
      if (!stream.write(text)) await once(stream, 'drain');
    },
    async close() {
      const writable = stream as NodeJS.WritableStream & { writableLength?: number };
      if ((writable.writableLength ?? 0) > 0) await once(stream, 'drain');
    },
  };
}
