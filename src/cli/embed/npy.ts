// `mobilenet embed --format npy`: the embeddings as one NumPy .npy file, a 2-D float32 array (rows ×
// embedding size, little-endian, C order), so that Python loads it with `np.load(file)`.
//
// The header (format 1.0) holds the row count, which is known only at the end. Its dictionary is padded
// to a fixed 128 bytes whatever the count, so it can be rewritten in place:
// - to a file of our own (--output): each row is written at its offset, then the header is rewritten
//   with the new count. The file is a valid .npy of the rows so far at every moment: after Ctrl-C, a
//   kill or a crash, np.load reads the rows that were written (a torn last row lies beyond the count).
// - to stdout (a pipe, a socket, or a file the shell opened, perhaps at an offset or for appending,
//   where positioned writes are not ours to make): the rows go to a temporary file (unlinked at once,
//   so nothing is left behind even after a kill), and at the end the header with the count and the rows
//   are written to stdout in one sequential stream. Memory stays flat; the disk holds the rows once.

import { once } from 'node:events';
import { closeSync, constants, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutputError } from '../label/output.js';

/** Bytes of the header, magic to newline (a multiple of 64, as NumPy aligns it). */
export const NPY_HEADER_BYTES = 128;

/** The .npy header of a rows × columns float32 array, NPY_HEADER_BYTES long whatever the count. */
export function npyHeader(rows: number, columns: number): Buffer {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${columns}), }`;
  const preamble = 10; // magic (6), version (2), header length (2)
  const length = NPY_HEADER_BYTES - preamble;
  if (dict.length + 1 > length) throw new RangeError(`npy header too long for shape (${rows}, ${columns})`);
  const header = Buffer.alloc(NPY_HEADER_BYTES, 0x20);
  header.write('\x93NUMPY', 0, 'latin1');
  header[6] = 1;
  header[7] = 0;
  header.writeUInt16LE(length, 8);
  header.write(dict, preamble, 'latin1');
  header[NPY_HEADER_BYTES - 1] = 0x0a;
  return header;
}

/** Rows of one embedding size, written as they come; close() leaves a complete .npy. */
export interface NpyWriter {
  /** Appends one row (`columns` floats). */
  write(row: Float32Array): Promise<void>;
  /** Finishes the file (the final count in the header) and closes it; stdout is left open. */
  close(): Promise<void>;
}

function describe(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ?? e.message ?? String(error);
}

/** Little-endian float32 bytes of a row (a copy only on big-endian machines). */
function rowBytes(row: Float32Array): Uint8Array {
  const bytes = new Uint8Array(row.buffer, row.byteOffset, row.byteLength);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) return bytes;
  const out = Buffer.from(bytes);
  out.swap32();
  return out;
}

function writeAt(fd: number, bytes: Uint8Array, position: number): void {
  for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}

function checkRow(row: Float32Array, columns: number): void {
  if (row.length !== columns) throw new RangeError(`an npy row has ${row.length} values, the array has ${columns} columns`);
}

/** A .npy file of our own, valid at every moment (see the top of this file). */
export function openNpyFile(path: string, columns: number): NpyWriter {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o666);
    writeAt(fd, npyHeader(0, columns), 0);
  } catch (error) {
    throw new OutputError(`cannot open the output ${path}: ${describe(error)}`, { cause: error });
  }
  let rows = 0;
  let closed = false;
  return {
    async write(row) {
      checkRow(row, columns);
      try {
        writeAt(fd, rowBytes(row), NPY_HEADER_BYTES + rows * columns * 4);
        rows++;
        writeAt(fd, npyHeader(rows, columns), 0);
      } catch (error) {
        throw new OutputError(`cannot write the output ${path}: ${describe(error)}`, { cause: error });
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      closeSync(fd);
    },
  };
}

/** Waits for a stream's buffer to drain when write() says it is full. */
async function writeStream(stream: NodeJS.WritableStream, bytes: Uint8Array): Promise<void> {
  if (!stream.write(bytes)) await once(stream, 'drain');
}

/**
 * A .npy written to a stream at the end: rows spooled to an unlinked temporary file in `folder`
 * (default os.tmpdir(), i.e. $TMPDIR), then header and rows copied to the stream on close().
 */
export function npyToStream(stream: NodeJS.WritableStream, columns: number, folder: string = tmpdir()): NpyWriter {
  const spool = join(folder, `mobilenet-embed-${process.pid}-${Date.now()}.npy.part`);
  let fd: number;
  try {
    fd = openSync(spool, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (error) {
    throw new OutputError(`cannot create a temporary file in ${folder} for the npy rows: ${describe(error)}`, { cause: error });
  }
  // Unlinked now, the file lives until it is closed (POSIX); where that fails (Windows), at close.
  let unlinked = false;
  try {
    unlinkSync(spool);
    unlinked = true;
  } catch {
    // removed in close()
  }
  let rows = 0;
  let closed = false;
  const release = () => {
    closeSync(fd);
    if (!unlinked) unlinkSync(spool);
  };
  return {
    async write(row) {
      checkRow(row, columns);
      try {
        writeAt(fd, rowBytes(row), rows * columns * 4);
      } catch (error) {
        throw new OutputError(`cannot write the npy rows to the temporary file ${spool}: ${describe(error)}`, { cause: error });
      }
      rows++;
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await writeStream(stream, npyHeader(rows, columns));
        const total = rows * columns * 4;
        for (let position = 0; position < total;) {
          // A buffer per chunk: the stream may still hold the previous one.
          const chunk = Buffer.allocUnsafe(Math.min(2 ** 20, total - position));
          const n = readSync(fd, chunk, 0, chunk.length, position);
          if (n === 0) throw new OutputError(`the temporary file ${spool} ended early`);
          position += n;
          await writeStream(stream, chunk.subarray(0, n));
        }
      } finally {
        release();
      }
    },
  };
}
