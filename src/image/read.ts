// Reading an image's bytes: from a regular file only (never blocking on a FIFO, never reading a device
// without end), or from a stream such as stdin, both within MAX_FILE_BYTES.

import { constants, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { ImageError } from './errors.js';
import { MAX_FILE_BYTES } from './limits.js';

// O_NONBLOCK: opening a FIFO read-only would otherwise wait for a writer, for ever. It changes nothing for
// regular files. (Not defined on Windows, where there are no FIFOs to open.)
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** What a non-regular file is, as the problem text of an ImageError. */
function notRegular(s: Stats): string {
  if (s.isDirectory()) return 'is a directory, not an image file';
  if (s.isFIFO()) return 'is a named pipe (FIFO), not a regular file';
  if (s.isCharacterDevice()) return 'is a device (character device), not a regular file';
  if (s.isBlockDevice()) return 'is a device (block device), not a regular file';
  if (s.isSocket()) return 'is a socket, not a regular file';
  return 'is not a regular file';
}

function tooLarge(size: number): string {
  return `file too large (${size} bytes, the limit is ${MAX_FILE_BYTES} bytes)`;
}

async function openError(path: string, label: string, err: unknown): Promise<ImageError> {
  const code = (err as NodeJS.ErrnoException).code;
  let problem: string;
  switch (code) {
    case 'ENOENT':
      problem = 'no such file';
      break;
    case 'EISDIR':
      problem = 'is a directory, not an image file';
      break;
    case 'EACCES':
    case 'EPERM':
      problem = 'permission denied';
      break;
    case 'ENXIO':
    case 'EOPNOTSUPP': {
      // Opening a Unix socket fails with ENXIO (EOPNOTSUPP on some systems): say what it is.
      const s = await stat(path).catch(() => undefined);
      problem = s && !s.isFile() ? notRegular(s) : `cannot open file (${code})`;
      break;
    }
    default:
      problem = `cannot read file (${code ?? String(err)})`;
  }
  return new ImageError(label, problem, { cause: err });
}

/**
 * The bytes of a regular file, read through one file descriptor: opened without blocking, checked with
 * fstat (a FIFO, device, socket or directory is refused, as is a file over MAX_FILE_BYTES), then exactly
 * the size fstat gave is read (less if the file shrinks meanwhile, never more if it grows).
 * @throws ImageError naming `label`.
 */
export async function readImageFile(path: string, label: string): Promise<Uint8Array> {
  let fh: FileHandle;
  try {
    fh = await open(path, OPEN_FLAGS);
  } catch (err) {
    throw await openError(path, label, err);
  }
  try {
    const s = await fh.stat();
    if (!s.isFile()) throw new ImageError(label, notRegular(s));
    if (s.size > MAX_FILE_BYTES) throw new ImageError(label, tooLarge(s.size));
    const buf = Buffer.allocUnsafe(s.size);
    let filled = 0;
    while (filled < buf.length) {
      const { bytesRead } = await fh.read(buf, filled, buf.length - filled, filled);
      if (bytesRead === 0) break; // the file shrank: keep what there is
      filled += bytesRead;
    }
    return buf.subarray(0, filled);
  } catch (err) {
    if (err instanceof ImageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ImageError(label, code === 'EISDIR' ? 'is a directory, not an image file' : `cannot read file (${code ?? String(err)})`, {
      cause: err,
    });
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * All the bytes of a binary stream (e.g. `process.stdin` for `classify -`), at most MAX_FILE_BYTES:
 * reading stops (and the stream is destroyed) as soon as the input passes the limit.
 * @param name for error messages.
 * @throws ImageError `<name>: input too large (…)`, `<name>: input is empty` or `<name>: cannot read input (…)`;
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
        throw new ImageError(name, `input too large (more than the limit of ${MAX_FILE_BYTES} bytes)`);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof ImageError || err instanceof TypeError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const detail = code ?? (err instanceof Error ? err.message : String(err));
    throw new ImageError(name, code === 'EISDIR' ? 'is a directory, not an image file' : `cannot read input (${detail})`, { cause: err });
  }
  if (total === 0) throw new ImageError(name, 'input is empty');
  const out = Buffer.concat(chunks, total);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
