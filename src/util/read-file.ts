// Reading a whole input file safely: only regular files (a FIFO would block for ever, /dev/zero would
// never end), and only up to a size limit checked before anything is allocated.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/** Why a file could not be read, in words that follow its name ("x.jpg: is a named pipe …"). */
export class FileReadProblem extends Error {
  constructor(readonly problem: string, readonly errno?: string) {
    super(problem);
    this.name = 'FileReadProblem';
  }
}

const MIB = 2 ** 20;

function sizeText(bytes: number): string {
  return bytes >= MIB ? `${(bytes / MIB).toFixed(1)} MiB` : `${bytes} bytes`;
}

function errnoProblem(error: unknown): FileReadProblem {
  const code = (error as NodeJS.ErrnoException).code;
  const problem = code === 'ENOENT' ? 'no such file'
    : code === 'EISDIR' ? 'is a directory, not a file'
      : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
        : code === 'ELOOP' ? 'too many levels of symbolic links'
          : `cannot read the file (${code ?? (error as Error).message})`;
  return new FileReadProblem(problem, code);
}

/**
 * The bytes of a regular file of at most `maxBytes`. Opened non-blocking so that opening a FIFO
 * returns at once, then checked with fstat on the open descriptor (no race with a rename); a file that
 * grows while it is read is read only up to the size it had.
 */
export async function readRegularFile(path: string, maxBytes: number): Promise<Uint8Array> {
  const handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0)).catch((error: unknown) => {
    throw errnoProblem(error);
  });
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      const what = info.isDirectory() ? 'a directory'
        : info.isFIFO() ? 'a named pipe (FIFO)'
          : info.isSocket() ? 'a socket'
            : info.isCharacterDevice() || info.isBlockDevice() ? 'a device' : 'not a regular file';
      throw new FileReadProblem(`is ${what}, not a regular file`);
    }
    if (info.size > maxBytes) throw new FileReadProblem(`file too large (${sizeText(info.size)}; the limit is ${sizeText(maxBytes)})`);
    const bytes = Buffer.allocUnsafe(info.size);
    let filled = 0;
    while (filled < bytes.length) {
      const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return bytes.subarray(0, filled);
  } catch (error) {
    throw error instanceof FileReadProblem ? error : errnoProblem(error);
  } finally {
    await handle.close().catch(() => undefined);
  }
}
