/**
 * A problem with one input image: unreadable file, unknown format, corrupt or truncated data.
 * The message always starts with the file name (or the name given for a buffer), e.g.
 * `owl.jpg: not a supported image (unrecognised format)`.
 */
export class ImageError extends Error {
  /** The file name (or given name) the problem is about. */
  readonly file: string;
  /** The problem without the file name, e.g. `file is empty`. */
  readonly problem: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.name = 'ImageError';
    this.file = file;
    this.problem = problem;
  }
}
