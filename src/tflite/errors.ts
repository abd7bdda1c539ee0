// The one error type of the TFLite reader: whatever is wrong with a model file (missing, truncated,
// corrupt, not a MobileNet), the caller gets a ModelFormatError whose message starts with the file name.

export class ModelFormatError extends Error {
  readonly code = 'MODEL_FORMAT';
  /** The file (or name) the error is about, as given by the caller. */
  readonly file: string;
  /** The problem without the file name. */
  readonly problem: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'ModelFormatError';
    this.file = file;
    this.problem = problem;
  }
}
