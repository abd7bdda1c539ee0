/**
 * A problem with one input image: unreadable file, unknown format, corrupt or truncated data.
 * The message always starts with the file name (or the name given for a buffer), e.g.
 * `owl.jpg: not a supported image (unrecognised format)`.
 */
export class ImageDecodeError extends Error {
  /** 'IMAGE_DECODE', or 'INPUT_TOO_LARGE' for an InputTooLargeError. */
  readonly code: string = 'IMAGE_DECODE';
  /** The file name (or given name) the problem is about. */
  readonly file: string;
  /** The problem without the file name, e.g. `file is empty`. */
  readonly problem: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.name = 'ImageDecodeError';
    this.file = file;
    this.problem = problem;
  }
}

/** An image over a limit: more pixels than `maxPixels`, or more bytes than a file or stream may have. */
export class InputTooLargeError extends ImageDecodeError {
  override readonly code = 'INPUT_TOO_LARGE';

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(file, problem, options);
    this.name = 'InputTooLargeError';
  }
}
