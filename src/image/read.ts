// Reading an image's bytes: from a regular file only (never blocking on a FIFO, never reading a device
// without end), or from a stream such as stdin, both within MAX_FILE_BYTES.

import { FileReadProblem, readRegularFile } from '../util/read-file.js';
import { ImageDecodeError, InputTooLargeError } from './errors.js';
import { MAX_FILE_BYTES } from './limits.js';

/**
 * The bytes of a regular image file of at most MAX_FILE_BYTES (a FIFO, device, socket or directory is
 * refused without waiting or reading; see readRegularFile).
 * @throws ImageDecodeError naming `label`.
 */
export async function readImageFile(path: string, label: string): Promise<Uint8Array> {
  try {
    return await readRegularFile(path, MAX_FILE_BYTES, 'an image file');
  } catch (error) {
    if (!(error instanceof FileReadProblem)) throw new ImageDecodeError(label, String(error), { cause: error });
    throw new (error.tooLarge ? InputTooLargeError : ImageDecodeError)(label, error.problem, { cause: error });
  }
}

/**
 * All the bytes of a binary stream (e.g. `process.stdin` for `classify -`), at most MAX_FILE_BYTES:
 * reading stops (and the stream is destroyed) as soon as the input passes the limit.
 * @param name for error messages.
 * @throws ImageDecodeError `<name>: input too large (…)`, `<name>: input is empty` or `<name>: cannot read input (…)`;
 *   TypeError if the stream gives strings (an encoding was set on it).
 */
export async function readImageStream(stream: AsyncIterable<unknown>, name = '<stdin>'): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      if (!(chunk instanceof Uint8Array)) {
        throw new TypeError(`readImageStream needs a binary stream (got a ${typeof chunk} chunk: is an encoding set?)`);
      }
      total += chunk.length;
      if (total > MAX_FILE_BYTES) {
        // Leaving the loop destroys the stream.
        throw new InputTooLargeError(name, `input too large (more than the limit of ${MAX_FILE_BYTES} bytes)`);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof ImageDecodeError || err instanceof TypeError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const detail = code ?? (err instanceof Error ? err.message : String(err));
    throw new ImageDecodeError(name, code === 'EISDIR' ? 'is a directory, not an image file' : `cannot read input (${detail})`, { cause: err });
  }
  if (total === 0) throw new ImageDecodeError(name, 'input is empty');
  const out = Buffer.concat(chunks, total);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
