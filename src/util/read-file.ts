// Reading a whole input file safely: only regular files (a FIFO would block for ever, /dev/zero would
// never end), and only up to a size limit checked before anything is allocated.
import { constants, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';

/** Why a file could not be read, in words that follow its name ("x.jpg: is a named pipe …"). */
export class FileReadProblem extends Error {
  constructor(readonly problem: string, readonly errno?: string, readonly tooLarge = false) {
    super(problem);
    this.name = 'FileReadProblem';
  }
}

// O_NONBLOCK: opening a FIFO read-only would otherwise wait for a writer, for ever. It changes nothing
// for regular files. (Not defined on Windows, where there are no FIFOs to open.)
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** What a non-regular file is; `noun` is what was expected ("an image file"). */
function notRegular(info: Stats, noun: string): string {
  if (info.isDirectory()) return `is a directory, not ${noun}`;
  if (info.isFIFO()) return 'is a named pipe (FIFO), not a regular file';
  if (info.isCharacterDevice()) return 'is a device (character device), not a regular file';
  if (info.isBlockDevice()) return 'is a device (block device), not a regular file';
  if (info.isSocket()) return 'is a socket, not a regular file';
  return 'is not a regular file';
}

async function openProblem(path: string, error: unknown, noun: string): Promise<FileReadProblem> {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return new FileReadProblem('no such file', code);
    case 'EISDIR':
      return new FileReadProblem(`is a directory, not ${noun}`, code);
    case 'EACCES':
    case 'EPERM':
      return new FileReadProblem('permission denied', code);
    case 'ELOOP':
      return new FileReadProblem('too many levels of symbolic links', code);
    case 'ENXIO':
    case 'EOPNOTSUPP': {
      // Opening a Unix socket fails with ENXIO (EOPNOTSUPP on some systems): say what it is.
      const info = await stat(path).catch(() => undefined);
      return new FileReadProblem(info && !info.isFile() ? notRegular(info, noun) : `cannot open file (${code})`, code);
    }
    default:
      return new FileReadProblem(`cannot read file (${code ?? String(error)})`, code);
  }
}

/**
 * The bytes of a regular file of at most `maxBytes`, read through one file descriptor: opened
 * without blocking, checked with fstat (no race with a rename), then exactly the size fstat gave is
 * read (less if the file shrinks meanwhile, never more if it grows).
 */
export async function readRegularFile(path: string, maxBytes: number, noun = 'a file'): Promise<Uint8Array> {
  let handle: FileHandle;
  try {
    handle = await open(path, OPEN_FLAGS);
  } catch (error) {
    throw await openProblem(path, error, noun);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new FileReadProblem(notRegular(info, noun));
    if (info.size > maxBytes) throw new FileReadProblem(`file too large (${info.size} bytes, the limit is ${maxBytes} bytes)`, undefined, true);
    const bytes = Buffer.allocUnsafe(info.size);
    let filled = 0;
    while (filled < bytes.length) {
      const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return bytes.subarray(0, filled);
  } catch (error) {
    if (error instanceof FileReadProblem) throw error;
    throw await openProblem(path, error, noun);
  } finally {
    await handle.close().catch(() => undefined);
  }
}
