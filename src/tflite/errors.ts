// The one error type of the TFLite reader: whatever is wrong with a model file (missing, truncated,
// corrupt, not a MobileNet), the caller gets a ModelError whose message starts with the file name.

export class ModelError extends Error {
  /** The file (or name) the error is about, as given by the caller. */
  readonly file: string;

  constructor(file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'ModelError';
    this.file = file;
  }
}
